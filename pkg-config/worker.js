// Runs a grafiqs Scorer inside a module Web Worker (started by createWorkerScorer in
// worker-client.js), so scoring never blocks the page's main thread.
import { createScorer } from './grafiqs.js';

let scorer = null;

function reply(id, result, error, transfer = []) {
  if (error) {
    self.postMessage({ id, error: { message: error?.message ?? String(error), name: error?.name ?? 'Error', code: error?.code } });
  } else {
    self.postMessage({ id, result }, transfer);
  }
}

self.onmessage = async ({ data: msg }) => {
  const { id, op, args } = msg;
  try {
    switch (op) {
      case 'create': {
        scorer?.dispose();
        scorer = await createScorer({
          ...args,
          onProgress: (p) => self.postMessage({ id, progress: p }),
        });
        reply(id, { backend: scorer.backend, fallbackReason: scorer.fallbackReason, info: scorer.info });
        break;
      }
      case 'score': {
        if (!scorer) throw Object.assign(new Error('grafiqs: the scorer was disposed'), { code: 'disposed' });
        const r = await scorer.score(args.image, args.options);
        args.image?.close?.();
        reply(id, r);
        break;
      }
      case 'scoreBatch': {
        if (!scorer) throw Object.assign(new Error('grafiqs: the scorer was disposed'), { code: 'disposed' });
        const r = await scorer.scoreBatch(args.images, args.options);
        args.images.forEach((i) => i?.close?.());
        reply(id, r);
        break;
      }
      case 'memoryUsage':
        reply(id, scorer ? scorer.memoryUsage() : null);
        break;
      case 'dispose':
        scorer?.dispose();
        scorer = null;
        reply(id, true);
        break;
      default:
        throw new Error(`grafiqs worker: unknown operation ${op}`);
    }
  } catch (e) {
    reply(id, null, e);
  }
};
