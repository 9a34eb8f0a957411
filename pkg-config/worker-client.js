// createWorkerScorer: the same API as createScorer, with the model and all computation in a
// module Web Worker. Images are transferred (ImageBitmap / pixel buffers), never copied twice.

function transferable(image) {
  if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) return [image, [image]];
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) {
    const copy = { data: new Uint8Array(image.data), width: image.width, height: image.height };
    return [copy, [copy.data.buffer]];
  }
  if (image && image.data && typeof image.width === 'number') return [image, []];
  if (typeof Blob !== 'undefined' && image instanceof Blob) return [image, []];
  if (image instanceof ArrayBuffer || ArrayBuffer.isView(image)) return [image, []];
  return null;
}

async function prepare(image) {
  const t = transferable(image);
  if (t) return t;
  // Elements (img, video, canvas) cannot cross threads: snapshot them as an ImageBitmap.
  const bitmap = await createImageBitmap(image);
  return [bitmap, [bitmap]];
}

/**
 * Starts a worker and loads the model there. Options as createScorer (`model` may be a URL or
 * bytes; `onProgress` is called on this thread). Resolves to
 * `{ backend, fallbackReason, info, score(image, opts), scoreBatch(images, opts), memoryUsage(), dispose() }`.
 */
export async function createWorkerScorer(options = {}) {
  const { onProgress, worker: given, ...args } = options;
  const worker = given ?? new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  let next = 0;
  const pending = new Map();
  let dead = null;
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    if (!p) return;
    if (data.progress) return p.onProgress?.(data.progress);
    pending.delete(data.id);
    if (data.error) {
      const e = new Error(data.error.message);
      e.name = data.error.name;
      if (data.error.code) e.code = data.error.code;
      p.reject(e);
    } else p.resolve(data.result);
  };
  // Every pending call settles: the worker failing, or dispose(), rejects them all.
  const end = (error) => {
    dead ??= error;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.onerror = (ev) => {
    ev.preventDefault?.();
    const e = new Error(`grafiqs worker failed: ${ev.message ?? 'unknown error'}`);
    e.code = 'worker_failed';
    end(e);
  };
  worker.onmessageerror = () => {
    const e = new Error('grafiqs worker failed: a message could not be deserialised');
    e.code = 'worker_failed';
    end(e);
  };
  const call = (op, a, transfer = [], progress) =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      const id = next++;
      pending.set(id, { resolve, reject, onProgress: progress });
      worker.postMessage({ id, op, args: a }, transfer);
    });
  const model = args.model instanceof URL ? args.model.href : args.model;
  const disposedError = () => {
    const e = new Error('grafiqs: the scorer was disposed');
    e.code = 'disposed';
    return e;
  };
  // No model: the worker loads the shipped one from next to the package's module.
  const created = await call('create', { ...args, model: typeof model === 'string' ? new URL(model, location.href).href : model }, [], onProgress);
  let disposed = false;
  const live = () => {
    if (disposed) throw disposedError();
  };
  return {
    backend: created.backend,
    fallbackReason: created.fallbackReason,
    info: created.info,
    async score(image, opts) {
      live();
      const [img, transfer] = await prepare(image);
      return call('score', { image: img, options: opts }, transfer);
    },
    async scoreBatch(images, opts) {
      live();
      const prepared = await Promise.all(images.map(prepare));
      return call('scoreBatch', { images: prepared.map((p) => p[0]), options: opts }, prepared.flatMap((p) => p[1]));
    },
    async memoryUsage() {
      live();
      return call('memoryUsage', {});
    },
    /**
     * Hands `port` (one end of a MessageChannel) to the worker: `{ id, image, options }` posted
     * on the other end is scored there and answered on it with `{ id, result, ms, memory }` or
     * `{ id, error: { message, name, code } }`, so another worker can score without this thread.
     */
    async connect(port) {
      live();
      return call('connect', { port }, [port]);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      // Calls still in flight reject now rather than wait on a worker that is going away.
      const inFlight = [...pending.values()];
      pending.clear();
      for (const p of inFlight) p.reject(disposedError());
      try {
        if (!dead) await Promise.race([call('dispose', {}), new Promise((r) => setTimeout(r, 5000))]);
      } catch {
        // the worker failed; it is stopped below either way
      } finally {
        if (!given) worker.terminate();
        end(disposedError());
      }
    },
  };
}
export { createWorkerCaptureSession } from './capture-client.js';
