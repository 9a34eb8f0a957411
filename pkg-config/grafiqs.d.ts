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
  /** URL of a `.grafiqs` model file, or its bytes. */
  model: string | URL | ArrayBuffer | Uint8Array;
  /** "auto" (default): WebGPU when an adapter is granted, else CPU. */
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

export declare function createScorer(options: CreateScorerOptions): Promise<Scorer>;
export declare function initialize(options?: { wasm?: CreateScorerOptions['wasm'] }): Promise<unknown>;
export declare function loadModel(
  url: string | URL,
  options?: { onProgress?: (p: Progress) => void; cache?: boolean | string; signal?: AbortSignal },
): Promise<Uint8Array>;
export declare function webGpuAvailable(): boolean;
export declare function toRgba(image: ImageInput): { data: Uint8Array; width: number; height: number };
