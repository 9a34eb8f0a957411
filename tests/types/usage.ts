// The whole public API of the npm package as an application uses it, type-checked by
// tests/browser/types.test.mjs (`tsc --noEmit`, strict, against the package's own `exports`).
// Never run. Each `@ts-expect-error` marks a misuse the declarations must reject.
import {
  LIMITS,
  MODEL_FORMAT_VERSION,
  Assessor,
  CaptureSession,
  Scorer,
  assessFrame,
  checkModelBytes,
  createAssessor,
  createScorer,
  defaultModelUrl,
  initialize,
  loadModel,
  moduleStatus,
  toRgba,
  wasmSimdAvailable,
  webGpuAvailable,
} from 'grafiqs';
import type {
  Advice,
  AdviceCode,
  Assessment,
  BestFrame,
  FaceAssessment,
  GrafiqsError,
  GrafiqsErrorCode,
  ImageInput,
  Limits,
  Measure,
  ModelInfo,
  Progress,
  RawScores,
  ScoreResult,
} from 'grafiqs';
import { createWorkerScorer } from 'grafiqs/worker';
import type { CreateWorkerScorerOptions, WorkerScorer } from 'grafiqs/worker';

declare const video: HTMLVideoElement;
declare const img: HTMLImageElement;
declare const canvas: HTMLCanvasElement;
declare const file: File;

const KINDS: (keyof RawScores)[] = ['image', 'block1', 'block2', 'block3', 'block4'];

function isGrafiqsError(e: unknown): e is GrafiqsError {
  return e instanceof Error && 'code' in e;
}

export async function scoring(): Promise<number> {
  if (!wasmSimdAvailable()) return -1;
  const gpu: boolean = webGpuAvailable();
  const exports = await initialize({ wasm: new URL('/grafiqs_wasm_bg.wasm', location.href) });
  const pages: number = exports.memory.buffer.byteLength / 65536;
  const progress: Progress[] = [];
  const ac = new AbortController();
  const scorer: Scorer = await createScorer({
    backend: gpu ? 'auto' : 'cpu',
    cache: true,
    integrity: 'sha256-…',
    version: 2,
    signal: ac.signal,
    onProgress: (p) => progress.push(p),
  });
  const backend: 'webgpu' | 'cpu' | 'disposed' = scorer.backend;
  const why: string | undefined = scorer.fallbackReason;
  const info: ModelInfo = scorer.info;
  const [w, h]: [number, number] = info.inputSize;
  const calibratedOn: keyof RawScores = info.calibration.score;
  const firstKnot: number = info.calibration.knots[0][0];
  // @ts-expect-error the calibration names one of the five raw scores, nothing else
  const wrongKind: typeof info.calibration.score = 'block5';
  const licence: string | undefined = info.provenance.licence;
  const limits: Limits = scorer.limits;

  const r: ScoreResult = await scorer.score(img, { embedding: true });
  const q: number = r.quality;
  const raw: number = r.scores[calibratedOn];
  const emb: Float32Array | undefined = r.embedding;
  const model: string = r.model;
  const rb: 'webgpu' | 'cpu' = r.backend;
  await scorer.score(file); // an encoded image
  await scorer.score(new Uint8Array(await file.arrayBuffer()));
  await scorer.score({ data: new Uint8ClampedArray(112 * 112 * 4), width: 112, height: 112 });
  await scorer.score(await createImageBitmap(file));
  await scorer.score(video);
  const many: ScoreResult[] = await scorer.scoreBatch([canvas, img, new ImageData(112, 112)]);
  // @ts-expect-error scoreBatch takes pixels, not encoded files
  await scorer.scoreBatch([file]);
  // @ts-expect-error backend is 'auto', 'webgpu' or 'cpu'
  await createScorer({ backend: 'gpu' });
  // @ts-expect-error leave `model` out for the shipped one; null is refused
  await createScorer({ model: null });
  const mem = scorer.memoryUsage();
  const inUse: number = mem ? mem.inUse + mem.reserved : 0;
  scorer.dispose();
  try {
    await scorer.score(img);
  } catch (e) {
    if (isGrafiqsError(e) && e.code === 'disposed') console.log(e.message);
  }
  // @ts-expect-error quality is a number
  const s: string = r.quality;
  return w + h + q + raw + (emb?.length ?? 0) + model.length + rb.length + backend.length + (why?.length ?? 0) +
    many.length + limits.maxBatch + inUse + firstKnot + (licence?.length ?? 0) + pages + s.length + wrongKind.length +
    KINDS.length;
}

export async function models(url: string): Promise<void> {
  const bytes: Uint8Array = await loadModel(url, { cache: 'my-models', integrity: 'ab'.repeat(32), version: 'v1' });
  const c = checkModelBytes(bytes, { source: url });
  console.log(c.version === MODEL_FORMAT_VERSION, c.headerLength, c.bytes);
  const shipped: URL = defaultModelUrl();
  const s = await createScorer({ model: bytes, wasm: await fetch('/x.wasm') });
  const other = await createScorer({ model: shipped });
  s.dispose();
  other.dispose();
  const status = moduleStatus();
  const traps: number = status.traps + status.instance;
  const last: string | null = status.lastTrap;
  console.log(traps, last, status.trapped);
  const limits: Readonly<Limits> = LIMITS;
  // @ts-expect-error LIMITS is read-only
  LIMITS.maxSide = 1;
  const px = toRgba(canvas);
  const data: Uint8Array = px.data;
  console.log(limits.maxPixels, data.length, px.width * px.height);
}

export function errors(e: unknown): string {
  const codes: GrafiqsErrorCode[] = [
    'model_not_grafiqs', 'model_version', 'model_truncated', 'model_corrupt', 'model_http', 'model_fetch',
    'integrity_mismatch', 'integrity_invalid', 'integrity_unavailable', 'disposed', 'module_trapped',
    'invalid_image', 'image_too_large', 'batch_too_large', 'worker_failed', 'wasm_simd_unavailable',
  ];
  // @ts-expect-error not a code the package raises
  const unknownCode: GrafiqsErrorCode = 'oops';
  if (isGrafiqsError(e)) {
    switch (e.code) {
      case 'model_http':
      case 'model_fetch':
        return 'network';
      case 'image_too_large':
      case 'batch_too_large':
        return 'too large';
      case undefined:
        return e.message; // from the Rust side
      default:
        return codes.includes(e.code) ? e.code : unknownCode;
    }
  }
  return String(e);
}

function describe(face: FaceAssessment): string {
  const [x0, y0, x1, y1] = face.box;
  const eyes: [number, number] = face.landmarks[0];
  const m: Measure = face.measures.faceSize;
  const quality: Measure | undefined = face.measures.quality;
  const codes: AdviceCode[] = face.advice.map((a: Advice) => a.code);
  const crop: ImageData | undefined = face.aligned;
  const block1: number | undefined = face.scores?.block1;
  return `${x1 - x0}x${y1 - y0} ${eyes} ${m.value}/${m.score}/${m.pass} ${quality?.score} ${codes} ${crop?.width} ${block1} ${face.confidence}`;
}

export async function guidance(): Promise<void> {
  const assessor: Assessor = await createAssessor({ backend: 'auto', onProgress: (p) => console.log(p.phase, p.loaded, p.total) });
  const guideOnly = await createAssessor({ model: null, detector: '/mtcnn.grafiqs' });
  const a: Assessment = await assessor.assessFrame(video);
  const ready: boolean = a.ready;
  const first: Advice | undefined = a.advice[0];
  const model: string | undefined = a.model;
  if (a.faces[0]) console.log(describe(a.faces[0]));
  await assessor.assessFrame(await createImageBitmap(video), { score: false, crops: false });
  await assessor.setModel('/models/r100.grafiqs', { integrity: 'sha256-…' });
  await assessor.setModel(null);
  const name: string | null = assessor.modelName;
  const has: boolean = guideOnly.hasModel;
  const shared: Assessment = await assessFrame(canvas, { backend: 'cpu', model: null, crops: false });
  // @ts-expect-error frames are pixels: an encoded file must be decoded first
  await assessor.assessFrame(file);
  console.log(ready, first?.message, model, name, has, shared.width, a.backend, a.fallbackReason);

  const session = new CaptureSession(assessor, video, {
    fps: 5,
    windowMs: 2000,
    onUpdate: (frame: Assessment, stats) => console.log(frame.advice.map((x) => x.code), stats.fps, stats.lastMs),
    onError: (e: Error) => console.warn(e.message),
  });
  session.start();
  const best: BestFrame | null = await session.captureBest({ settleMs: 500, timeoutMs: 20000 });
  if (best) {
    const image: ImageData = best.image;
    const q: number | undefined = best.quality;
    console.log(image.width, q, best.aligned?.height, best.assessment.ready, best.time);
  }
  console.log(session.running, session.stats.frames, session.bestFrame());
  session.stop();
  session.dispose();
  guideOnly.dispose();
  assessor.dispose();
}

export async function inAWorker(input: ImageInput): Promise<number> {
  const plain: WorkerScorer = await createWorkerScorer(); // the shipped model, in a new worker
  const options: CreateWorkerScorerOptions = {
    model: '/models/mobilefacenet.grafiqs',
    backend: 'cpu',
    worker: new Worker('/worker.js', { type: 'module' }),
    onProgress: (p) => console.log(p.loaded),
  };
  const w = await createWorkerScorer(options);
  const r: ScoreResult = await w.score(input);
  const batch: ScoreResult[] = await w.scoreBatch([input, input], { embedding: true });
  const mem = await w.memoryUsage();
  const info: ModelInfo = w.info;
  // @ts-expect-error an AbortSignal cannot be posted to the worker
  await createWorkerScorer({ signal: new AbortController().signal });
  await w.dispose();
  await plain.dispose();
  return r.quality + batch.length + (mem?.inUse ?? 0) + info.parameters + (w.backend === 'cpu' ? 1 : 0);
}
