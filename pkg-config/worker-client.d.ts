import type { Assessment, BestFrame, CreateAssessorOptions, CreateScorerOptions, ImageInput, EncodedImage, ModelInfo, RawScores, ScoreOptions, ScoreResult } from './grafiqs.js';

export interface WorkerScorer {
  /** The backend the worker's scorer was created on. */
  readonly backend: 'webgpu' | 'cpu';
  readonly fallbackReason: string | undefined;
  readonly info: ModelInfo;
  score(image: ImageInput | EncodedImage, options?: ScoreOptions): Promise<ScoreResult>;
  scoreBatch(images: ImageInput[], options?: ScoreOptions): Promise<ScoreResult[]>;
  memoryUsage(): Promise<{ inUse: number; reserved: number } | null>;
  /**
   * Hands `port` (one end of a MessageChannel) to the worker: `{ id, image, options }` posted on
   * the other end is scored there and answered on it with `{ id, result, ms, memory }` or
   * `{ id, error: { message, name, code } }`, so another worker can score without the page's thread.
   */
  connect(port: MessagePort): Promise<true>;
  /** Frees the model and stops the worker. */
  dispose(): Promise<void>;
}

/**
 * The options of createScorer that can be posted to the worker: no `signal`, and `wasm` neither
 * a URL object nor a Response (browsers cannot post those). A `wasm` string is fetched by the
 * worker, so a relative one resolves against the package's `worker.js`: pass an absolute URL.
 */
export interface CreateWorkerScorerOptions extends Omit<CreateScorerOptions, 'signal' | 'wasm'> {
  wasm?: string | BufferSource | WebAssembly.Module;
  /** A module worker running the package's `worker.js` (default: one is started). */
  worker?: Worker;
}

/** createScorer in a module Web Worker: scoring never blocks the main thread. */
export declare function createWorkerScorer(options?: CreateWorkerScorerOptions): Promise<WorkerScorer>;

/** Per-stage mean times (ms, over the last 20 events). */
export interface CaptureStageMs {
  /** `new VideoFrame(video)` / `createImageBitmap(video, { resize… })` on the page's thread. */
  grab: number;
  /** postMessage of the snapshot to its arrival in the guidance worker. */
  transfer: number;
  /** Drawing the snapshot on the worker's canvas at the working size and reading its pixels. */
  downscale: number;
  /** Detection, alignment and measures (`assessFrame`, no quality) in the guidance worker. */
  assess: number;
  /** GraFIQs quality of one aligned crop in the scoring worker. */
  score: number;
  /** Frame grab to its guidance on the page's thread. */
  guidance: number;
  /** Frame grab to its quality on the page's thread. */
  quality: number;
}

export interface WorkerCaptureStats {
  /** Guidance updates (assessed frames). */
  frames: number;
  /** Quality updates (scored candidates). */
  qualities: number;
  /** Frames that were ready and steady. */
  candidates: number;
  /** Candidates not scored because a newer one replaced them while the scorer was busy. */
  dropped: number;
  /** Rates over the last 2 s. */
  guidancePerSec: number;
  qualityPerSec: number;
  /** Same as guidancePerSec (CaptureSession's name). */
  fps: number;
  /** Grab-to-guidance time of the last frame, ms. */
  lastMs: number;
  ms: Partial<CaptureStageMs>;
  /** Bytes of each worker's WebAssembly memory (null before its first report). */
  memory: { guidance: number | null; scorer: number | null };
}

/** What onUpdate learns about the frame besides its assessment. */
export interface CaptureFrameInfo {
  /** Frame id (increasing); quality updates and best frames name it. */
  id: number;
  /** When the frame was grabbed (`performance.now()` of the page). */
  time: number;
  /** Ready and steady: its crop was queued for scoring. */
  candidate: boolean;
  /** Largest landmark motion since the previous frame, in inter-eye distances (null: no face in one of them). */
  motion: number | null;
  /** Size of the source (the video's frame); the assessment (and its coordinates) is at the working size. */
  source: { width: number; height: number };
  width: number;
  height: number;
}

export interface CaptureQuality {
  /** The frame the quality belongs to. */
  frameId: number;
  time: number;
  quality: number;
  scores: RawScores;
  model: string;
  /** Frame grab to this update, ms. */
  latencyMs: number;
}

export interface WorkerBestFrame extends BestFrame {
  frameId: number;
}

export interface WorkerCaptureSessionOptions extends Omit<CreateAssessorOptions, 'signal'> {
  /** Most frames per second sent to the guidance worker (default 30); a video's frame is sent once. */
  fps?: number;
  /** Best-frame window in ms (default 3000). */
  windowMs?: number;
  /** Working size: the longer side of the assessed frame (default 640; frames are never upscaled). */
  maxSide?: number;
  /** Largest landmark motion (in inter-eye distances) of a steady frame (default 0.05). */
  steadyMotion?: number;
  /** How frames leave the page: a VideoFrame (default where available) or a resized ImageBitmap. */
  grab?: 'auto' | 'videoframe' | 'bitmap';
  onUpdate?: ((a: Assessment, stats: WorkerCaptureStats, frame: CaptureFrameInfo) => void) | null;
  onQuality?: ((q: CaptureQuality, stats: WorkerCaptureStats) => void) | null;
  onError?: ((e: Error) => void) | null;
}

/** A live capture session with guidance and scoring in two workers. */
export interface WorkerCaptureSession {
  readonly running: boolean;
  readonly stats: WorkerCaptureStats;
  /** Backend of the guidance worker, "disposed" after dispose(). */
  readonly backend: 'webgpu' | 'cpu' | 'disposed';
  readonly fallbackReason: string | undefined;
  /** Recognition model of the scoring worker, or null (`model: null`: guidance only). */
  readonly modelName: string | null;
  /** Starts or resumes; `video` replaces the source. Throws `disposed`, `invalid_option` (no source) or a failed worker's error. */
  start(video?: CanvasImageSource): void;
  /** Stops grabbing; a pending captureBest() resolves. */
  stop(): void;
  /** Stops, forgets the frames and ends both workers. */
  dispose(): Promise<void>;
  /** Best scored candidate of the window (without a model: best ready, steady frame by measures), or null. */
  bestFrame(): WorkerBestFrame | null;
  /** As CaptureSession.captureBest: always settles (stop, dispose, a failed worker, `timeoutMs`). */
  captureBest(options?: { settleMs?: number; timeoutMs?: number }): Promise<WorkerBestFrame | null>;
}

/**
 * Live capture guidance off the page's main thread: the page snapshots `video` (VideoFrame or
 * ImageBitmap, transferred); a guidance worker downscales and assesses every frame; a scoring
 * worker (own WebAssembly instance, the shipped model unless `model` says otherwise, `null`:
 * none) scores the aligned crop of ready, steady frames, the newest first. Resolves once both
 * have loaded their models.
 */
export declare function createWorkerCaptureSession(
  video: CanvasImageSource | null | undefined,
  options?: WorkerCaptureSessionOptions,
): Promise<WorkerCaptureSession>;
