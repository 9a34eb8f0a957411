// Type declarations for the grafiqs npm package. Hand-written, and checked by `tsc --noEmit` in
// the browser test suite (tests/browser/types.test.mjs): against tests/types/usage.ts (a
// program using the whole API), the values the API returns in Chromium, and the READMEs' code.

/** The five raw GraFIQs scores: sums of absolute gradients. Larger = worse. */
export interface RawScores {
  /** Gradient magnitude w.r.t. the normalised input image. */
  image: number;
  /** … w.r.t. the output of stage 1 (the best single indicator on MobileFaceNet). */
  block1: number;
  block2: number;
  block3: number;
  block4: number;
}

export interface ScoreResult {
  scores: RawScores;
  /**
   * 0–100, higher = better: the model's calibration applied to the raw score it names
   * (`info.calibration.score`; `block1` for the shipped model, the default map and every
   * calibration `grafiqs calibrate` writes).
   */
  quality: number;
  /** false when the model carries no calibration of its own (the default map was used). */
  calibrated: boolean;
  /** The GraFIQs loss (mean BatchNorm statistics mismatch). */
  loss: number;
  /** Name of the model that produced this result (e.g. "foamliu-mobilefacenet"). */
  model: string;
  /** The backend that produced this result. */
  backend: 'webgpu' | 'cpu';
  /** Set when a WebGPU failure (e.g. a lost device) moved scoring to the CPU. */
  fallbackReason?: string;
  /** The face-recognition embedding (raw, not L2-normalised), with `{ embedding: true }`. */
  embedding?: Float32Array;
}

export interface ScoreOptions {
  /** Also return the face embedding from the same forward pass. */
  embedding?: boolean;
}

/** RGBA pixels, e.g. ImageData or `{ data: Uint8Array, width, height }`. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** Pixel sources accepted by `score` / `scoreBatch`. */
export type ImageInput =
  | RgbaImage
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLVideoElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | VideoFrame;

/**
 * An encoded image file. JPEG and PNG are decoded by the package's own decoder, exactly like the
 * native CLI (baseline JPEG bit-exact with libjpeg-turbo); any other format the browser decodes
 * (WebP, AVIF, GIF, BMP, …) goes through `createImageBitmap`, so its pixels are the browser's.
 * Where `createImageBitmap` is missing, only JPEG and PNG are accepted.
 */
export type EncodedImage = Blob | ArrayBuffer | Uint8Array;

export interface Progress {
  phase: 'wasm' | 'model';
  loaded: number;
  /** 0 when the server sends no Content-Length. */
  total: number;
  fromCache?: boolean;
}

export interface ModelInfo {
  /** Short name, reported with every result (the architecture for files without one). */
  name: string;
  architecture: string;
  parameters: number;
  batchnormLayers: number;
  embeddingSize: number;
  inputSize: [number, number];
  /** The network sees `(pixel − mean[c]) · scale[c]` for RGB pixels in 0…255. */
  preprocess: { mean: [number, number, number]; scale: [number, number, number] };
  stages: [string, string, string, string];
  provenance: { source: string; sha256: string; convertedBy: string; licence?: string };
  /** The score → quality map in use (the default map when `calibrated` is false). */
  calibration: {
    /** The raw score `quality` is computed from. */
    score: keyof RawScores;
    /** `[raw score, quality]` knots: raw increasing, quality decreasing. */
    knots: [number, number][];
    method: string;
  };
  /** Whether `calibration` was fitted for this model (false: the default map). */
  calibrated: boolean;
}

/**
 * Stable `code` of the errors the package raises itself (the message says more). Errors coming
 * from the Rust side (a model whose tensors do not fit its architecture, an image that cannot be
 * decoded) carry no code.
 */
export type GrafiqsErrorCode =
  /** The bytes (fetched, cached or given) are not a `.grafiqs` container: HTML, JSON, a checkpoint… */
  | 'model_not_grafiqs'
  /** A `.grafiqs` container of a format version this build does not read. */
  | 'model_version'
  /** The container is shorter than its header says. */
  | 'model_truncated'
  /** The container's CRC-32 does not match (truncated or corrupt). */
  | 'model_corrupt'
  /** The model URL answered with an HTTP error status. */
  | 'model_http'
  /** The model URL could not be fetched at all (network, CORS). */
  | 'model_fetch'
  /** The model's SHA-256 differs from `integrity`. */
  | 'integrity_mismatch'
  /** `integrity` is neither "sha256-<base64>" nor 64 hex digits. */
  | 'integrity_invalid'
  /** `integrity` was given but `crypto.subtle` is missing (not a secure context). */
  | 'integrity_unavailable'
  /** The scorer, assessor, capture session or worker scorer was disposed (also for calls in flight). */
  | 'disposed'
  /** The WebAssembly instance trapped during this call; the next call re-creates it. */
  | 'module_trapped'
  /** Not an image, width/height not non-negative integers, or a detached pixel buffer. */
  | 'invalid_image'
  /** An image or frame over {@link LIMITS} (side or pixel count), also as declared by a JPEG/PNG header. */
  | 'image_too_large'
  /** More images (or pixels) in one scoreBatch call than the model's `limits` allow. */
  | 'batch_too_large'
  /** The module worker of createWorkerScorer failed. */
  | 'worker_failed'
  /** The engine has no WebAssembly SIMD, which the module needs ({@link wasmSimdAvailable}). */
  | 'wasm_simd_unavailable';

/** An Error raised by the package, with its stable code. */
export interface GrafiqsError extends Error {
  code?: GrafiqsErrorCode;
}

/** Input bounds that keep wasm memory bounded (wasm32 ends at 4 GiB). */
export interface Limits {
  /** Smallest side accepted (16 px). */
  minSide: number;
  /** Largest side accepted (16384 px). */
  maxSide: number;
  /** Pixels of one image or frame. */
  maxPixels: number;
  /** Pixels of all images of one scoreBatch call. */
  maxBatchPixels: number;
  /** Images per scoreBatch call (per model: see Scorer.limits). */
  maxBatch: number;
}

export declare const LIMITS: Readonly<Limits>;
/** The `.grafiqs` container format version this build reads. */
export declare const MODEL_FORMAT_VERSION: number;

export interface ModelLoadOptions {
  onProgress?: (p: Progress) => void;
  /** Keep the downloaded model in the Cache API (true: cache "grafiqs-models"). */
  cache?: boolean | string;
  signal?: AbortSignal;
  /**
   * SHA-256 of the model file, "sha256-<base64>" (as in Subresource Integrity) or 64 hex digits;
   * checked before the model is used or cached.
   */
  integrity?: string;
  /**
   * Tags the cached copy: a model cached under another version (or another integrity hash) at
   * the same URL is replaced on the next load.
   */
  version?: string | number;
}

export interface CreateScorerOptions {
  /**
   * URL of a `.grafiqs` model file, or its bytes. Default: the model the package ships
   * (foamliu-mobilefacenet, Apache-2.0; {@link defaultModelUrl}).
   */
  model?: string | URL | ArrayBuffer | Uint8Array;
  /**
   * "auto" (default): WebGPU when a hardware adapter is granted, else the CPU (software
   * adapters such as SwiftShader are skipped: they are slower than the CPU path).
   * "webgpu" forces WebGPU (any adapter), "cpu" the WebAssembly CPU path.
   */
  backend?: 'auto' | 'webgpu' | 'cpu';
  onProgress?: (p: Progress) => void;
  /** Keep the downloaded model in the Cache API (true: cache "grafiqs-models"). */
  cache?: boolean | string;
  signal?: AbortSignal;
  /** SHA-256 of the model (see ModelLoadOptions.integrity). */
  integrity?: string;
  /** Cache version tag of the model (see ModelLoadOptions.version). */
  version?: string | number;
  /** Where to load the .wasm from (default: next to the module). */
  wasm?: string | URL | Response | BufferSource | WebAssembly.Module;
}

export declare class Scorer {
  private constructor();
  readonly backend: 'webgpu' | 'cpu' | 'disposed';
  /** Why `backend: "auto"` did not use WebGPU, if it did not. */
  readonly fallbackReason: string | undefined;
  readonly info: ModelInfo;
  /** Input limits for this model; `maxBatch` is derived from the model's size. */
  readonly limits: Limits;
  score(image: ImageInput | EncodedImage, options?: ScoreOptions): Promise<ScoreResult>;
  scoreBatch(images: ImageInput[], options?: ScoreOptions): Promise<ScoreResult[]>;
  memoryUsage(): { inUse: number; reserved: number } | null;
  dispose(): void;
}

export declare function createScorer(options?: CreateScorerOptions): Promise<Scorer>;
/** URL of the model the package ships, next to the module. */
export declare function defaultModelUrl(): URL;
/** Loads the module; resolves to the exports of the current WebAssembly instance. */
export declare function initialize(options?: { wasm?: CreateScorerOptions['wasm'] }): Promise<WebAssembly.Exports & { memory: WebAssembly.Memory }>;
/** Fetches (or takes from the Cache API) a model; only valid `.grafiqs` bytes are returned or cached. */
export declare function loadModel(url: string | URL, options?: ModelLoadOptions): Promise<Uint8Array>;
/**
 * Checks magic, format version, header length and CRC-32 of `.grafiqs` bytes; throws a
 * GrafiqsError (`model_not_grafiqs`, `model_version`, `model_truncated`, `model_corrupt`).
 */
export declare function checkModelBytes(
  bytes: Uint8Array,
  options?: { source?: string; contentType?: string },
): { version: number; headerLength: number; bytes: number };
/** Traps seen so far and the current instance generation (0 = the first instance). */
export declare function moduleStatus(): { instance: number; traps: number; trapped: boolean; lastTrap: string | null };
export declare function webGpuAvailable(): boolean;
/** Whether this engine runs WebAssembly SIMD, which the package's module needs. */
export declare function wasmSimdAvailable(): boolean;
/** Whether this engine runs WebAssembly relaxed SIMD; `initialize` then loads the faster build. */
export declare function relaxedSimdAvailable(): boolean;
/** Which build of the module runs (loading it if needed), as the module itself reports it. */
export declare function wasmBuild(): Promise<'relaxed-simd' | 'simd'>;
export declare function toRgba(image: ImageInput): { data: Uint8Array; width: number; height: number };

/** One guidance measure: raw value, 0–100 score (higher = better) and verdict. */
export interface Measure {
  value: number;
  score: number;
  pass: boolean;
}

export interface Measures {
  /** Inter-eye distance in px (pass: ≥ 40 and ≤ 45 % of the frame width). */
  faceSize: Measure;
  /** Face box margins inside the frame, 0–1. */
  position: Measure;
  /** Degrees. */
  yaw: Measure;
  pitch: Measure;
  roll: Measure;
  /** Mean face luma 0–255. */
  brightness: Measure;
  /** Share of clipped face pixels. */
  exposure: Measure;
  /** Luma standard deviation. */
  contrast: Measure;
  /** Left/right lighting balance 0–1. */
  uniformity: Measure;
  /** Variance of the Laplacian on the aligned crop. */
  sharpness: Measure;
  /** Number of significant faces. */
  faces: Measure;
  /** GraFIQs quality, with a recognition model. */
  quality?: Measure;
}

/** Stable advice codes, most important first. */
export type AdviceCode =
  | 'no_face' | 'multiple_faces' | 'face_cut_off' | 'move_to_center' | 'move_closer' | 'move_back'
  | 'more_light' | 'less_light' | 'face_the_light' | 'face_camera' | 'head_straight' | 'hold_still'
  | 'low_quality';

export interface Advice {
  code: AdviceCode;
  /** Default English text; localise by `code`. */
  message: string;
}

export interface FaceAssessment {
  box: [number, number, number, number];
  confidence: number;
  /** Left eye, right eye, nose, left and right mouth corner (frame pixels). */
  landmarks: [number, number][];
  measures: Measures;
  advice: Advice[];
  quality?: number;
  scores?: RawScores;
  /** The 112×112 aligned crop. */
  aligned?: ImageData;
}

export interface Assessment {
  width: number;
  height: number;
  /** The main face passes every check. */
  ready: boolean;
  /** Advice for the frame (the main face's, or `no_face`). */
  advice: Advice[];
  /** Main (largest) face first. */
  faces: FaceAssessment[];
  /** The recognition model behind `quality`, when one is loaded and scoring was on. */
  model?: string;
  backend: 'webgpu' | 'cpu';
  fallbackReason?: string;
  /** True when the faces were refined from the previous frame (`track: true`), false when detected. */
  tracked: boolean;
}

export interface AssessFrameOptions {
  /** GraFIQs quality (with a model); default true. */
  score?: boolean;
  /** The 112×112 aligned crops; default true. */
  crops?: boolean;
  /**
   * Follow the faces of the previous tracked frame (frames of one video, in order): search
   * only around them (as the assessor's `trackMode` says) instead of the whole frame, except
   * every `redetectEvery` frames and when a face is lost. Default false (full detection).
   */
  track?: boolean;
}

export interface TrackStats {
  /** Tracked-mode frames that ran the full detection. */
  detected: number;
  /** Tracked-mode frames searched only around the previous frame's faces. */
  tracked: number;
}

/** Default `minFaceSize` (px) of tracked assessment. */
export declare const GUIDANCE_MIN_FACE: number;

export interface CreateAssessorOptions extends Omit<CreateScorerOptions, 'model'> {
  /** Recognition model (URL or bytes) for GraFIQs quality; default: the shipped model; `null`: guidance only. */
  model?: CreateScorerOptions['model'] | null;
  /** MTCNN weights (URL or bytes); default: `mtcnn.grafiqs` next to the module. */
  detector?: string | URL | ArrayBuffer | Uint8Array;
  /** Smallest face (px, ≥ 12) searched by the full detections of tracked frames; default {@link GUIDANCE_MIN_FACE} (40). */
  minFaceSize?: number;
  /** Most frames between full detections when tracking (integer ≥ 1; 1: every frame); default 10. */
  redetectEvery?: number;
  /**
   * How frames between full detections search around the previous faces. `"window"`
   * (default): the whole detection on a window 3× each previous face box, so their faces are
   * the full detection's own (what assessing the frame as a still image gives). `"refine"`:
   * R-Net and O-Net alone on a box predicted from each previous face, several times cheaper
   * and steadier from frame to frame, with landmarks about 2 px from full detection's.
   */
  trackMode?: 'window' | 'refine';
}

export declare class Assessor {
  private constructor();
  readonly backend: 'webgpu' | 'cpu' | 'disposed';
  readonly fallbackReason: string | undefined;
  readonly hasModel: boolean;
  /** Name of the recognition model used for quality, or null without one. */
  readonly modelName: string | null;
  setModel(model: CreateScorerOptions['model'] | null, options?: ModelLoadOptions): Promise<void>;
  /** `score: false` skips GraFIQs quality, `crops: false` the aligned crops, `track: true` tracks; for this call only. */
  assessFrame(source: ImageInput, options?: AssessFrameOptions): Promise<Assessment>;
  /** Forgets the faces followed by tracked frames; the next one runs the full detection. */
  resetTrack(): void;
  /** Tracked frames so far by path. */
  readonly trackStats: TrackStats;
  dispose(): void;
}

export declare function createAssessor(options?: CreateAssessorOptions): Promise<Assessor>;
/**
 * Assesses a frame with a shared assessor, created on first use for each configuration
 * (`backend`, `detector`, `model`, `wasm`, `integrity`, `minFaceSize`, `redetectEvery`,
 * `trackMode`);
 * `score`, `crops` and `track` apply per call.
 */
export declare function assessFrame(source: ImageInput, options?: CreateAssessorOptions & AssessFrameOptions): Promise<Assessment>;

export interface BestFrame {
  time: number;
  quality: number | undefined;
  assessment: Assessment;
  /** The whole frame. */
  image: ImageData;
  /** The main face's aligned crop. */
  aligned: ImageData | undefined;
}

export interface CaptureSessionOptions {
  /** Assessments per second (default 4). */
  fps?: number;
  /** Best-frame window in ms (default 3000). */
  windowMs?: number;
  /** Follow the faces from frame to frame (`assessFrame(..., { track: true })`; default true). */
  track?: boolean;
  onUpdate?: (a: Assessment, stats: { frames: number; lastMs: number; fps: number }) => void;
  onError?: (e: Error) => void;
}

export declare class CaptureSession {
  constructor(assessor: Assessor, video: HTMLVideoElement, options?: CaptureSessionOptions);
  readonly running: boolean;
  readonly stats: { frames: number; lastMs: number; fps: number };
  /** Throws a `disposed` error after dispose(). */
  start(): void;
  /** Stops assessing; a pending captureBest() resolves (best frame so far, or null). */
  stop(): void;
  /** Stops and forgets the frames; a pending captureBest() resolves. */
  dispose(): void;
  /** Best ready frame of the window (highest quality passing all checks), or null. */
  bestFrame(): BestFrame | null;
  /**
   * Waits for a ready frame, lets the window settle (`settleMs`, default the window), resolves
   * with the best. Always settles: with the best frame so far or null on stop(), dispose(), a
   * disposed assessor or after `timeoutMs`; at once when the session is not running.
   */
  captureBest(options?: { settleMs?: number; timeoutMs?: number }): Promise<BestFrame | null>;
}
