// grafiqs — face image quality (GraFIQs) on the user's device: WebGPU first, CPU fallback.
// Thin, idiomatic wrapper over the wasm-bindgen module; every computation runs in Rust.

import init, { WasmAssessor, WasmScorer, initWebGpu } from './grafiqs_wasm.js';

let wasmReady = null;
let gpuReady = null;

// The module is built with WebAssembly SIMD (128-bit), which every current browser has
// (Chrome/Edge 91+, Firefox 89+, Safari 16.4+). A 30-byte module using one SIMD instruction
// tells whether this engine has it, so older ones get a clear error instead of a compile failure.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this engine runs WebAssembly with SIMD, which the package needs. */
export function wasmSimdAvailable() {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Loads the WebAssembly module (once). Called by createScorer; call it yourself to start the
 * download early. `options.wasm` overrides where the .wasm comes from (URL, Response,
 * BufferSource or WebAssembly.Module); by default it is found next to this file.
 */
export function initialize(options = {}) {
  if (!wasmReady) {
    if (!wasmSimdAvailable()) {
      return Promise.reject(
        new Error('grafiqs: this browser lacks WebAssembly SIMD (Chrome/Edge 91+, Firefox 89+ and Safari 16.4+ have it)'),
      );
    }
    const source = options.wasm ?? new URL('./grafiqs_wasm_bg.wasm', import.meta.url);
    wasmReady = init({ module_or_path: source }).catch((e) => {
      wasmReady = null;
      throw new Error(`grafiqs: could not load the WebAssembly module: ${e?.message ?? e}`);
    });
  }
  return wasmReady;
}

/**
 * URL of the recognition model this package ships: the Apache-2.0 MobileFaceNet (ReLU6) of
 * foamliu/MobileFaceNet, converted to f16 and calibrated (see LICENSE/NOTICE.foamliu-mobilefacenet).
 * `createScorer()` without a `model` and `createAssessor()` load it.
 */
export function defaultModelUrl() {
  return new URL('./foamliu-mobilefacenet.grafiqs', import.meta.url);
}

/** Whether this environment exposes WebGPU at all (an adapter may still be refused). */
export function webGpuAvailable() {
  return typeof navigator !== 'undefined' && !!navigator.gpu;
}

function toBytes(model) {
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (ArrayBuffer.isView(model)) return new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
  return null;
}

async function readWithProgress(response, onProgress) {
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body || !onProgress) {
    const buf = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ phase: 'model', loaded: buf.length, total: total || buf.length });
    return buf;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ phase: 'model', loaded, total });
  }
  const out = new Uint8Array(loaded);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Fetches a model file from `url` with progress, optionally through the Cache API
 * (`cache: true` uses the cache named "grafiqs-models"; a string names another cache).
 */
export async function loadModel(url, { onProgress, cache = false, signal } = {}) {
  const href = new URL(String(url), globalThis.location?.href).href;
  const cacheName = cache === true ? 'grafiqs-models' : cache || null;
  const store = cacheName && typeof caches !== 'undefined' ? await caches.open(cacheName) : null;
  let response = store ? await store.match(href) : undefined;
  const fromCache = !!response;
  if (!response) {
    response = await fetch(href, { signal });
    if (!response.ok) throw new Error(`grafiqs: could not fetch the model ${href}: HTTP ${response.status}`);
    if (store) await store.put(href, response.clone());
  }
  const bytes = await readWithProgress(response, onProgress);
  onProgress?.({ phase: 'model', loaded: bytes.length, total: bytes.length, fromCache });
  return bytes;
}

function isJpegOrPng(b) {
  return (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) || (b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47);
}

function sizeOf(img) {
  const w = img.naturalWidth || img.videoWidth || img.displayWidth || img.codedWidth || img.width;
  const h = img.naturalHeight || img.videoHeight || img.displayHeight || img.codedHeight || img.height;
  return [w | 0, h | 0];
}

function canvas(w, h) {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(w, h);
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return c;
}

/**
 * RGBA pixels of any image-like input: ImageData, `{ data, width, height }` (RGBA bytes),
 * ImageBitmap, HTMLImageElement, HTMLVideoElement (current frame), HTMLCanvasElement,
 * OffscreenCanvas, VideoFrame.
 */
export function toRgba(image) {
  if (!image) throw new TypeError('grafiqs: no image given');
  if (image.data && typeof image.width === 'number' && typeof image.height === 'number') {
    const data = toBytes(image.data);
    if (!data) throw new TypeError('grafiqs: image.data must be a Uint8Array or Uint8ClampedArray of RGBA bytes');
    if (data.length !== image.width * image.height * 4) {
      throw new RangeError(
        `grafiqs: a ${image.width}x${image.height} RGBA image needs ${image.width * image.height * 4} bytes, got ${data.length}`,
      );
    }
    return { data, width: image.width, height: image.height };
  }
  const [w, h] = sizeOf(image);
  if (!w || !h) throw new RangeError('grafiqs: the image has no pixels yet (not loaded, or a video without a frame)');
  const c = canvas(w, h);
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, w, h);
  const d = ctx.getImageData(0, 0, w, h);
  return { data: new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.byteLength), width: w, height: h };
}

/** What Scorer and Assessor share: a wasm object on one backend, and its lifetime. */
class Backed {
  #inner;
  #webgpuFallback;
  #what;

  constructor(inner, webgpuFallback, what) {
    this.#inner = inner;
    this.#webgpuFallback = webgpuFallback;
    this.#what = what;
  }

  /** The wasm object; throws once disposed. */
  _live() {
    if (!this.#inner) throw new Error(`grafiqs: the ${this.#what} was disposed`);
    return this.#inner;
  }

  /** "webgpu" or "cpu" (the backend results come from), "disposed" after dispose(). */
  get backend() {
    return this.#inner ? this.#inner.backend : 'disposed';
  }

  /** Why WebGPU was not used when `backend: "auto"` fell back to the CPU, else undefined. */
  get fallbackReason() {
    return this.#webgpuFallback;
  }

  /** Frees the model(s) and their GPU memory. Further calls reject. */
  dispose() {
    if (this.#inner) {
      this.#inner.dispose();
      this.#inner.free();
      this.#inner = null;
    }
  }
}

/** A model loaded on one backend. Create it with {@link createScorer}. */
export class Scorer extends Backed {
  constructor(inner, webgpuFallback) {
    super(inner, webgpuFallback, 'scorer');
  }

  /** Model metadata (architecture, parameters, BatchNorm layers, calibration, provenance). */
  get info() {
    return this._live().info();
  }

  /**
   * Scores one face. `image`: an aligned face of any size (resized to 112×112 like the CLI) as
   * ImageData / ImageBitmap / canvas / video / `{ data, width, height }`, or an encoded image
   * file (Blob, File, ArrayBuffer, Uint8Array) which is decoded exactly like the native CLI.
   */
  async score(image, options = {}) {
    const inner = this._live();
    const embedding = !!options.embedding;
    if (typeof Blob !== 'undefined' && image instanceof Blob) {
      image = new Uint8Array(await image.arrayBuffer());
    }
    const encoded = toBytes(image);
    if (encoded) {
      // JPEG and PNG are decoded in Rust exactly like the native CLI; other formats (WebP, AVIF,
      // GIF, …) by the browser.
      if (isJpegOrPng(encoded) || typeof createImageBitmap === 'undefined') {
        return (await inner.scoreEncoded(encoded, embedding))[0];
      }
      let bitmap;
      try {
        bitmap = await createImageBitmap(new Blob([encoded]));
      } catch {
        throw new Error('grafiqs: invalid image: the browser cannot decode these bytes');
      }
      image = bitmap;
    }
    const { data, width, height } = toRgba(image);
    return (await inner.scoreRgba(data, new Uint32Array([width, height]), embedding))[0];
  }

  /** Scores several faces in one pass (same results as one by one; faster on the GPU). */
  async scoreBatch(images, options = {}) {
    const inner = this._live();
    if (!Array.isArray(images) || images.length === 0) throw new TypeError('grafiqs: scoreBatch needs a non-empty array of images');
    const parts = images.map(toRgba);
    const total = parts.reduce((n, p) => n + p.data.length, 0);
    const data = new Uint8Array(total);
    const sizes = new Uint32Array(parts.length * 2);
    let off = 0;
    parts.forEach((p, i) => {
      data.set(p.data, off);
      off += p.data.length;
      sizes[2 * i] = p.width;
      sizes[2 * i + 1] = p.height;
    });
    return inner.scoreRgba(data, sizes, !!options.embedding);
  }

  /** Device memory held by the backend's pool (`{ inUse, reserved }` bytes) or null. */
  memoryUsage() {
    return this._live().memoryUsage();
  }

}

/**
 * Loads a model and prepares scoring.
 * @param {object} options
 * @param {string|URL|ArrayBuffer|Uint8Array} [options.model]  URL of a .grafiqs file, or its bytes (default: the shipped model, {@link defaultModelUrl})
 * @param {"auto"|"webgpu"|"cpu"} [options.backend="auto"]  auto: WebGPU when a hardware adapter is granted, else CPU
 * @param {(p: {phase: string, loaded: number, total: number}) => void} [options.onProgress]
 * @param {boolean|string} [options.cache=false]  keep the downloaded model in the Cache API
 * @param {AbortSignal} [options.signal]
 * @param {*} [options.wasm]  where to load the .wasm from (default: next to this module)
 */
export async function createScorer(options = {}) {
  const { model, backend = 'auto', onProgress, cache = false, signal, wasm } = options;
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new TypeError(`grafiqs: backend must be "auto", "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  }
  if (model === null) throw new TypeError('grafiqs: createScorer needs a model (leave `model` out for the shipped one)');
  onProgress?.({ phase: 'wasm', loaded: 0, total: 1 });
  await initialize({ wasm });
  onProgress?.({ phase: 'wasm', loaded: 1, total: 1 });
  const source = model ?? defaultModelUrl();
  const bytes = toBytes(source) ?? (await loadModel(source, { onProgress, cache, signal }));
  const [chosen, reason] = await chooseBackend(backend);
  const inner = new WasmScorer(bytes, chosen);
  return new Scorer(inner, reason);
}

/**
 * A software WebGPU adapter (SwiftShader, or one the browser flags as a fallback adapter) runs
 * compute shaders on the CPU, far slower than the WebAssembly CPU path; `auto` skips it.
 */
async function softwareAdapter() {
  try {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const info = a.info ?? {};
    const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`;
    return a.isFallbackAdapter || info.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(text)
      ? `only a software WebGPU adapter is available (${text.trim()}); the CPU path is faster`
      : null;
  } catch {
    return null;
  }
}

async function chooseBackend(backend) {
  if (backend === 'cpu') return ['cpu', undefined];
  if (backend === 'auto' && webGpuAvailable()) {
    const soft = await softwareAdapter();
    if (soft) return ['cpu', soft];
  }
  try {
    gpuReady ??= initWebGpu();
    await gpuReady;
    return ['webgpu', undefined];
  } catch (e) {
    const reason = e?.message ?? String(e);
    if (backend === 'webgpu') throw new Error(`grafiqs: WebGPU is unavailable: ${reason}`);
    return ['cpu', reason];
  }
}

function crop(rgba) {
  const data = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return typeof ImageData !== 'undefined' ? new ImageData(data, 112, 112) : { data, width: 112, height: 112 };
}

/**
 * Face detection (MTCNN), alignment, guidance measures and advice for camera frames or photos,
 * plus GraFIQs quality once a recognition model is loaded. Create with {@link createAssessor}.
 */
export class Assessor extends Backed {
  constructor(inner, webgpuFallback) {
    super(inner, webgpuFallback, 'assessor');
  }

  /** Whether a recognition model is loaded (quality is reported only then). */
  get hasModel() {
    return this._live().hasModel;
  }

  /** Name of the recognition model used for quality (e.g. "foamliu-mobilefacenet"), or null. */
  get modelName() {
    return this._live().modelName ?? null;
  }

  /** Loads a recognition model (URL or bytes) for GraFIQs quality; `null` removes it. */
  async setModel(model, options = {}) {
    const inner = this._live();
    if (model === null || model === undefined) return inner.setModel(undefined);
    const bytes = toBytes(model) ?? (await loadModel(model, options));
    inner.setModel(bytes);
  }

  /**
   * Assesses one frame: an HTMLVideoElement (its current frame), ImageBitmap, ImageData, canvas,
   * `<img>` or `{ data, width, height }`. Resolves to `{ width, height, ready, advice, faces,
   * backend }`; each face has `box`, `confidence`, `landmarks`, `measures`, `advice` (`{ code,
   * message }`, most important first), `quality`/`scores` with a model, and `aligned` (ImageData
   * of the 112×112 crop) unless `{ crops: false }`.
   */
  async assessFrame(source, options = {}) {
    const inner = this._live();
    const { data, width, height } = toRgba(source);
    const crops = options.crops ?? true;
    const a = await inner.assessRgba(data, width, height, options.score ?? true, crops);
    if (crops) for (const f of a.faces) if (f.aligned) f.aligned = crop(f.aligned);
    return a;
  }

}

/**
 * Creates an assessor. `detector`: URL or bytes of the MTCNN weights (default: `mtcnn.grafiqs`
 * shipped next to this module); `model`: recognition model for quality (default: the shipped
 * model; `null`: guidance only, no quality); other options as {@link createScorer}.
 */
export async function createAssessor(options = {}) {
  const { model, detector, backend = 'auto', onProgress, cache = false, signal, wasm } = options;
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new TypeError(`grafiqs: backend must be "auto", "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  }
  await initialize({ wasm });
  const detBytes =
    toBytes(detector) ?? (await loadModel(detector ?? new URL('./mtcnn.grafiqs', import.meta.url), { onProgress, cache, signal }));
  const [chosen, reason] = await chooseBackend(backend);
  const a = new Assessor(new WasmAssessor(detBytes, chosen), reason);
  if (model !== null) await a.setModel(model ?? defaultModelUrl(), { onProgress, cache, signal });
  return a;
}

let defaultAssessor = null;

/** Assesses a frame with a shared detector-only assessor (created on first use). */
export async function assessFrame(source, options = {}) {
  defaultAssessor ??= createAssessor(options).catch((e) => {
    defaultAssessor = null;
    throw e;
  });
  return (await defaultAssessor).assessFrame(source, options);
}

function meanScore(face) {
  const m = Object.values(face.measures).filter((v) => v && typeof v.score === 'number');
  return m.reduce((s, v) => s + v.score, 0) / m.length;
}

/**
 * Watches a video at a target rate, reports guidance for every assessed frame, and keeps the
 * best frame of the recent window: the frame whose main face passes every check with the
 * highest GraFIQs quality (without a model: the highest mean measure score).
 *
 *   const session = new CaptureSession(assessor, video, { fps: 4, windowMs: 3000, onUpdate });
 *   session.start();
 *   const best = await session.captureBest();   // resolves once a ready frame was seen
 */
export class CaptureSession {
  #assessor;
  #video;
  #opts;
  #timer = null;
  #running = false;
  #history = [];
  #waiters = [];
  stats = { frames: 0, lastMs: 0, fps: 0 };

  constructor(assessor, video, options = {}) {
    this.#assessor = assessor;
    this.#video = video;
    this.#opts = { fps: 4, windowMs: 3000, onUpdate: null, onError: null, ...options };
  }

  get running() {
    return this.#running;
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    const period = 1000 / this.#opts.fps;
    let last = performance.now();
    const tick = async () => {
      if (!this.#running) return;
      const t0 = performance.now();
      try {
        if (this.#video.readyState >= 2 && this.#video.videoWidth > 0) {
          const frame = toRgba(this.#video);
          const a = await this.#assessor.assessFrame(frame);
          const t1 = performance.now();
          this.stats = { frames: this.stats.frames + 1, lastMs: t1 - t0, fps: 1000 / Math.max(1, t1 - last) };
          last = t1;
          this.#record(a, frame, t1);
          this.#opts.onUpdate?.(a, this.stats);
        }
      } catch (e) {
        this.#opts.onError?.(e);
      }
      if (this.#running) this.#timer = setTimeout(tick, Math.max(0, period - (performance.now() - t0)));
    };
    tick();
  }

  stop() {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  #record(a, frame, time) {
    const face = a.faces[0];
    if (a.ready && face) {
      const rank = face.quality ?? meanScore(face);
      this.#history.push({ time, rank, assessment: a, frame: frameToImage(frame) });
    }
    const since = time - this.#opts.windowMs;
    this.#history = this.#history.filter((h) => h.time >= since);
    if (this.#history.length && this.#waiters.length) {
      const best = this.bestFrame();
      this.#waiters.splice(0).forEach((w) => w(best));
    }
  }

  /** The best ready frame of the last `windowMs`: `{ time, assessment, image, aligned }` or null. */
  bestFrame() {
    if (!this.#history.length) return null;
    const b = this.#history.reduce((x, y) => (y.rank > x.rank ? y : x));
    return { time: b.time, quality: b.assessment.faces[0].quality, assessment: b.assessment, image: b.frame, aligned: b.assessment.faces[0].aligned };
  }

  /** Resolves with the best frame once at least one ready frame was seen; then keeps the
   *  window's best after `settleMs` (default: the window length). */
  async captureBest({ settleMs = this.#opts.windowMs } = {}) {
    if (!this.#history.length) await new Promise((r) => this.#waiters.push(r));
    await new Promise((r) => setTimeout(r, settleMs));
    return this.bestFrame();
  }
}

function frameToImage(frame) {
  const data = new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
  return typeof ImageData !== 'undefined' ? new ImageData(data, frame.width, frame.height) : { ...frame, data };
}
