// The guidance worker of createWorkerCaptureSession (capture-client.js): receives camera frames
// (VideoFrame or ImageBitmap, transferred), downscales each to the working size on one reused
// OffscreenCanvas, runs detection + alignment + measures in its own WebAssembly instance, and
// hands the aligned crop of steady, ready frames to the scoring worker over a MessagePort,
// scoring only the latest candidate while the scorer is busy.
import { createAssessor, initialize } from './grafiqs.js';
import { candidateMotion, isReady, mainFace, plainCrop } from './capture-fields.js';

let assessor = null;
let config = null;
let scorer = null; // MessagePort to the scoring worker, or null (guidance only)
let canvas = null;
let ctx = null;
let previous = null; // main face of the previous frame
// Scoring: one candidate in flight, at most one waiting (the newest; an older one is dropped).
let scoring = null;
let waiting = null;
let dropped = 0;

function errorOf(e) {
  return { message: e?.message ?? String(e), name: e?.name ?? 'Error', code: e?.code };
}

const wasmMemory = async () => (await initialize()).memory.buffer.byteLength;

/** Working size: the longer side at most `maxSide` (never upscaled). */
function workingSize(w, h) {
  const s = Math.min(1, config.maxSide / Math.max(w, h));
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
}

/** RGBA pixels of `frame` at the working size, through the one OffscreenCanvas. */
function pixels(frame) {
  const fw = frame.displayWidth ?? frame.width;
  const fh = frame.displayHeight ?? frame.height;
  if (!fw || !fh) throw Object.assign(new Error('grafiqs: the frame has no pixels'), { code: 'invalid_image' });
  const [w, h] = workingSize(fw, fh);
  if (!canvas) {
    canvas = new OffscreenCanvas(w, h);
    ctx = canvas.getContext('2d', { willReadFrequently: true, alpha: false });
  } else if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w; // same canvas, resized only when the camera's size changes
    canvas.height = h;
  }
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'medium';
  ctx.drawImage(frame, 0, 0, w, h);
  const d = ctx.getImageData(0, 0, w, h);
  return { data: d.data, width: w, height: h, sourceWidth: fw, sourceHeight: fh };
}

function sendToScorer(c) {
  scoring = c;
  const crop = c.aligned;
  scorer.postMessage({ id: c.id, image: { data: crop.data, width: crop.width, height: crop.height } }, [crop.data.buffer]);
}

function candidate(c) {
  if (!scoring) sendToScorer(c);
  else {
    if (waiting) dropped++;
    waiting = c;
  }
}

async function onScored({ data }) {
  const c = scoring;
  scoring = null;
  if (c && c.id === data.id) {
    if (data.error) self.postMessage({ op: 'qualityError', id: c.id, error: data.error });
    else {
      self.postMessage(
        { op: 'quality', id: c.id, time: c.time, result: data.result, scoreMs: data.ms, scorerMemory: data.memory, image: c.image, dropped },
        [c.image.data.buffer],
      );
    }
  }
  if (waiting) {
    const next = waiting;
    waiting = null;
    sendToScorer(next);
  }
}

async function assess(msg) {
  const received = performance.timeOrigin + performance.now();
  const { frame, id, time, sentAt } = msg;
  let px;
  const t0 = performance.now();
  try {
    px = pixels(frame);
  } finally {
    frame.close?.();
  }
  const t1 = performance.now();
  const image = { data: px.data, width: px.width, height: px.height };
  const a = await assessor.assessFrame(image, { score: false, crops: true, track: true });
  const t2 = performance.now();
  const face = mainFace(a);
  const motion = candidateMotion(face, previous);
  previous = face;
  const isCandidate = isReady(a) && !!face?.aligned && motion !== null && motion <= config.steadyMotion;
  // Crops cross as plain { data, width, height } with their buffers transferred.
  const transfer = [];
  let mainCrop = null;
  for (const f of a.faces) {
    if (f.aligned) {
      f.aligned = plainCrop(f.aligned);
      transfer.push(f.aligned.data.buffer);
      if (f === face) mainCrop = f.aligned;
    }
  }
  // A candidate's frame goes to the page with its quality, or (guidance only) with its guidance.
  let frameImage;
  if (isCandidate && scorer) {
    const crop = { data: new Uint8ClampedArray(mainCrop.data), width: mainCrop.width, height: mainCrop.height };
    candidate({ id, time, aligned: crop, image });
  } else if (isCandidate) {
    frameImage = image;
    transfer.push(image.data.buffer);
  }
  const memory = await wasmMemory();
  self.postMessage(
    {
      image: frameImage,
      op: 'guidance',
      id,
      time,
      assessment: a,
      candidate: isCandidate,
      motion,
      source: msg.source ?? { width: px.sourceWidth, height: px.sourceHeight },
      timing: { transferMs: Math.max(0, received - sentAt), downscaleMs: t1 - t0, assessMs: t2 - t1 },
      memory,
      dropped,
    },
    transfer,
  );
}

self.onmessage = async ({ data: msg }) => {
  const { op, id } = msg;
  try {
    switch (op) {
      case 'create': {
        const { maxSide, steadyMotion, ...args } = msg.args;
        config = { maxSide, steadyMotion };
        assessor?.dispose();
        assessor = await createAssessor({ ...args, model: null, onProgress: (p) => self.postMessage({ op: 'progress', id, progress: p }) });
        self.postMessage({ op: 'created', id, backend: assessor.backend, fallbackReason: assessor.fallbackReason, memory: await wasmMemory() });
        break;
      }
      case 'frame':
        if (!assessor) {
          msg.frame?.close?.();
          throw Object.assign(new Error('grafiqs: the capture worker was disposed'), { code: 'disposed' });
        }
        await assess(msg);
        break;
      case 'scorer':
        scorer = msg.port;
        scorer.onmessage = onScored;
        break;
      case 'reset':
        previous = null;
        waiting = null;
        break;
      case 'dispose':
        assessor?.dispose();
        assessor = null;
        scorer?.close();
        scorer = null;
        self.postMessage({ op: 'disposed', id });
        break;
      default:
        throw new Error(`grafiqs capture worker: unknown operation ${op}`);
    }
  } catch (e) {
    msg.frame?.close?.();
    self.postMessage({ op: 'error', id, error: errorOf(e) });
  }
};
