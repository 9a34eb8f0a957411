import type { CreateScorerOptions, ImageInput, EncodedImage, ModelInfo, ScoreOptions, ScoreResult } from './grafiqs.js';

export interface WorkerScorer {
  readonly backend: 'webgpu' | 'cpu';
  readonly fallbackReason: string | undefined;
  readonly info: ModelInfo;
  score(image: ImageInput | EncodedImage, options?: ScoreOptions): Promise<ScoreResult>;
  scoreBatch(images: ImageInput[], options?: ScoreOptions): Promise<ScoreResult[]>;
  memoryUsage(): Promise<{ inUse: number; reserved: number } | null>;
  /** Frees the model and stops the worker. */
  dispose(): Promise<void>;
}

/** createScorer in a module Web Worker: scoring never blocks the main thread. */
export declare function createWorkerScorer(
  options: CreateScorerOptions & { worker?: Worker },
): Promise<WorkerScorer>;
