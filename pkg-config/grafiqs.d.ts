// Type declarations for the grafiqs npm package (hand-written and checked against grafiqs.js).

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
  /** 0–100, higher = better: the model's calibrated map of its `block1` score. */
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

/** Encoded image files (JPEG, PNG, BMP, WebP), decoded exactly like the native CLI. */
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
  stages: [string, string, string, string];
  provenance: { source: string; sha256: string; converted_by: string; licence?: string };
  calibration: { score: string; knots: [number, number][]; method: string };
  calibrated: boolean;
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
  /** Where to load the .wasm from (default: next to the module). */
  wasm?: string | URL | Response | BufferSource | WebAssembly.Module;
}

export declare class Scorer {
  private constructor();
  readonly backend: 'webgpu' | 'cpu' | 'disposed';
  /** Why `backend: "auto"` did not use WebGPU, if it did not. */
  readonly fallbackReason: string | undefined;
  readonly info: ModelInfo;
  score(image: ImageInput | EncodedImage, options?: ScoreOptions): Promise<ScoreResult>;
  scoreBatch(images: ImageInput[], options?: ScoreOptions): Promise<ScoreResult[]>;
  memoryUsage(): { inUse: number; reserved: number } | null;
  dispose(): void;
}

export declare function createScorer(options?: CreateScorerOptions): Promise<Scorer>;
/** URL of the model the package ships, next to the module. */
export declare function defaultModelUrl(): URL;
export declare function initialize(options?: { wasm?: CreateScorerOptions['wasm'] }): Promise<unknown>;
export declare function loadModel(
  url: string | URL,
  options?: { onProgress?: (p: Progress) => void; cache?: boolean | string; signal?: AbortSignal },
): Promise<Uint8Array>;
export declare function webGpuAvailable(): boolean;
/** Whether this engine runs WebAssembly SIMD, which the package's module needs. */
export declare function wasmSimdAvailable(): boolean;
export declare function toRgba(image: ImageInput): { data: Uint8Array; width: number; height: number };

/** One guidance measure: raw value, 0–100 score (higher = better) and verdict. */
export interface Measure {
  value: number;
  score: number;
  pass: boolean;
}

export interface Measures {
  /** Inter-eye distance in px (pass: ≥ 40 and ≤ 45 % of the frame width). */
  face_size: Measure;
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
}

export interface CreateAssessorOptions extends Omit<CreateScorerOptions, 'model'> {
  /** Recognition model (URL or bytes) for GraFIQs quality; default: the shipped model; `null`: guidance only. */
  model?: CreateScorerOptions['model'] | null;
  /** MTCNN weights (URL or bytes); default: `mtcnn.grafiqs` next to the module. */
  detector?: string | URL | ArrayBuffer | Uint8Array;
}

export declare class Assessor {
  private constructor();
  readonly backend: 'webgpu' | 'cpu' | 'disposed';
  readonly fallbackReason: string | undefined;
  readonly hasModel: boolean;
  /** Name of the recognition model used for quality, or null without one. */
  readonly modelName: string | null;
  setModel(model: CreateScorerOptions['model'] | null, options?: { onProgress?: (p: Progress) => void; cache?: boolean | string; signal?: AbortSignal }): Promise<void>;
  assessFrame(source: ImageInput, options?: { score?: boolean; crops?: boolean }): Promise<Assessment>;
  dispose(): void;
}

export declare function createAssessor(options?: CreateAssessorOptions): Promise<Assessor>;
/** Assesses a frame with a shared detector-only assessor created on first use. */
export declare function assessFrame(source: ImageInput, options?: CreateAssessorOptions & { score?: boolean; crops?: boolean }): Promise<Assessment>;

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
  onUpdate?: (a: Assessment, stats: { frames: number; lastMs: number; fps: number }) => void;
  onError?: (e: Error) => void;
}

export declare class CaptureSession {
  constructor(assessor: Assessor, video: HTMLVideoElement, options?: CaptureSessionOptions);
  readonly running: boolean;
  readonly stats: { frames: number; lastMs: number; fps: number };
  start(): void;
  stop(): void;
  /** Best ready frame of the window (highest quality passing all checks), or null. */
  bestFrame(): BestFrame | null;
  /** Waits for a ready frame, lets the window settle, resolves with the best. */
  captureBest(options?: { settleMs?: number }): Promise<BestFrame | null>;
}
