// Runs a grafiqs Scorer inside a module Web Worker (started by createWorkerScorer in
// worker-client.js), so scoring never blocks the page's main thread.
import { createScorer, initialize } from './grafiqs.js';

let scorer = null;

function errorOf(error) {
  return { message: error?.message ?? String(error), name: error?.name ?? 'Error', code: error?.code };
}

/**
 * Serves scoring on a MessagePort (handed over with the `connect` operation), so that another
 * worker can score without the page's thread in between: `{ id, image, options }` in,
 * `{ id, result, ms, memory }` or `{ id, error }` out (`ms`: time spent scoring, `memory`: bytes of
 * this worker's WebAssembly memory).
 */
function serve(port) {
  port.onmessage = async ({ data: { id, image, options } }) => {
    try {
      if (!scorer) throw Object.assign(new Error('grafiqs: the scorer was disposed'), { code: 'disposed' });
      const t0 = performance.now();
      const result = await scorer.score(image, options);
      const ms = performance.now() - t0;
      port.postMessage({ id, result, ms, memory: (await initialize()).memory.buffer.byteLength });
    } catch (e) {
      port.postMessage({ id, error: errorOf(e) });
    } finally {
      image?.close?.();
    }
  };
}

function reply(id, result, error, transfer = []) {
  if (error) {
    self.postMessage({ id, error: errorOf(error) });
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
      case 'connect':
        serve(args.port);
        reply(id, true);
        break;
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
