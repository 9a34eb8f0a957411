import type { CreateScorerOptions, ImageInput, EncodedImage, ModelInfo, ScoreOptions, ScoreResult } from './grafiqs.js';

export interface WorkerScorer {
  /** The backend the worker's scorer was created on. */
  readonly backend: 'webgpu' | 'cpu';
  readonly fallbackReason: string | undefined;
  readonly info: ModelInfo;
  score(image: ImageInput | EncodedImage, options?: ScoreOptions): Promise<ScoreResult>;
  scoreBatch(images: ImageInput[], options?: ScoreOptions): Promise<ScoreResult[]>;
  memoryUsage(): Promise<{ inUse: number; reserved: number } | null>;
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
