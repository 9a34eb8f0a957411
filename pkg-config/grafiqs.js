// grafiqs — face image quality (GraFIQs) on the user's device: WebGPU first, CPU fallback.
// Thin, idiomatic wrapper over the wasm-bindgen module; every computation runs in Rust.

import init, { WasmAssessor, WasmScorer, initWebGpu, wasmFeatures, __wbg_reset_state as resetWasm } from './grafiqs_wasm.js';
import { meanScore, waitForBest } from './capture-fields.js';

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

// The package holds two builds of the same module: one whose kernels also use relaxed SIMD
// (fused multiply-add: Chrome/Edge 114+; about 0.85x the CPU scoring time there), and one with
// plain SIMD for every other engine. A module using one relaxed-SIMD instruction
// (f32x4.relaxed_madd) tells which this engine runs.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11,
]);

/** Whether this engine runs WebAssembly relaxed SIMD (then the faster build is loaded). */
export function relaxedSimdAvailable() {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Which build of the module runs (loading it if needed), as the module itself reports it:
 * `'relaxed-simd'` or `'simd'`.
 */
export async function wasmBuild() {
  await initialize();
  return wasmFeatures().includes('relaxed-simd') ? 'relaxed-simd' : 'simd';
}

/**
 * Loads the WebAssembly module (once). Called by createScorer; call it yourself to start the
 * download early. `options.wasm` overrides where the .wasm comes from (URL, Response,
 * BufferSource or WebAssembly.Module; either of the package's two builds); by default it is found
 * next to this file, the relaxed-SIMD build where the engine has relaxed SIMD ({@link wasmBuild}).
 * Resolves to the module's exports (of the current instance, after a recovery from a trap).
 */
export function initialize(options = {}) {
  if (!wasmReady) {
    if (!wasmSimdAvailable()) {
      return Promise.reject(
        fail('wasm_simd_unavailable', 'grafiqs: this browser lacks WebAssembly SIMD (Chrome/Edge 91+, Firefox 89+ and Safari 16.4+ have it)'),
      );
    }
    // Both URLs spelled out as `new URL('…', import.meta.url)`: bundlers emit both files.
    const source =
      options.wasm ??
      (relaxedSimdAvailable() ? new URL('./grafiqs_wasm_relaxed_bg.wasm', import.meta.url) : new URL('./grafiqs_wasm_bg.wasm', import.meta.url));
    wasmReady = init({ module_or_path: source }).catch((e) => {
      wasmReady = null;
      throw new Error(`grafiqs: could not load the WebAssembly module: ${e?.message ?? e}`);
    });
    watchTraps();
  }
  return wasmReady.then(async () => {
    await reviveModule();
    return init();
  });
}

// --- A trapped module -------------------------------------------------------------------------
// A trap (out of memory, a Rust panic under panic = "abort", a stack overflow) leaves the
// WebAssembly instance in an undefined state. The package notices it (a RuntimeError from any
// call, or one escaping a wasm task while a call is in flight), rejects every call in flight with
// `module_trapped`, warns once, and re-creates the instance before the next call
// (wasm-bindgen's `__wbg_reset_state`: objects of the old instance become inert). Scorers and
// assessors rebuild their wasm objects from the model bytes they keep.

const life = { instance: 0, traps: 0, trapped: null, lastTrap: null, reviving: null, watching: false };
const inflight = new Set();

function isTrap(e) {
  return (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) ||
    (e instanceof RangeError && /call stack/i.test(e.message) && /wasm/.test(e.stack ?? ''));
}

function noteTrap(e) {
  if (!life.trapped) {
    life.traps++;
    life.lastTrap = String(e?.message ?? e);
    life.trapped = fail('module_trapped', `grafiqs: the WebAssembly module trapped (${life.lastTrap}); it is re-created on the next call`);
    life.trapped.cause = e;
    console.warn(life.trapped.message);
    const calls = [...inflight];
    inflight.clear();
    for (const c of calls) c.reject(life.trapped);
  }
  return life.trapped;
}

/** Traps inside wasm tasks (promise jobs run by wasm-bindgen-futures) surface only globally. */
function watchTraps() {
  if (life.watching || typeof globalThis.addEventListener !== 'function') return;
  life.watching = true;
  const seen = (err, ev) => {
    if (inflight.size && isTrap(err)) {
      noteTrap(err);
      ev.preventDefault();
    }
  };
  globalThis.addEventListener('error', (ev) => seen(ev.error, ev));
  globalThis.addEventListener('unhandledrejection', (ev) => seen(ev.reason, ev));
}

/**
 * Re-creates a trapped instance from the compiled module. wasm-bindgen's `__wbg_reset_state`
 * instantiates synchronously, which Chromium refuses on the main thread for modules over 8 MB;
 * so the reset runs twice under a stand-in `WebAssembly.Instance`: the first run hands over the
 * module and its imports (and stops), they are instantiated asynchronously, and the second run
 * installs that instance. Both runs are synchronous: no other code sees the stand-in.
 */
function reviveModule() {
  if (!life.trapped) return Promise.resolve();
  life.reviving ??= (async () => {
    const Sync = WebAssembly.Instance;
    const handover = {};
    let parts = null;
    try {
      WebAssembly.Instance = function (module, imports) {
        parts = { module, imports };
        throw handover;
      };
      try {
        resetWasm();
      } catch (e) {
        if (e !== handover) throw e;
      }
    } finally {
      WebAssembly.Instance = Sync;
    }
    if (!parts) throw new Error('the module could not be re-instantiated');
    const instance = await WebAssembly.instantiate(parts.module, parts.imports);
    try {
      WebAssembly.Instance = function () {
        return instance;
      };
      resetWasm();
    } finally {
      WebAssembly.Instance = Sync;
    }
    life.instance++;
    life.trapped = null;
    gpuReady = null;
  })()
    .catch((e) => {
      throw fail('module_trapped', `grafiqs: the WebAssembly module trapped and could not be re-created (${e?.message ?? e}); reload the page`);
    })
    .finally(() => {
      life.reviving = null;
    });
  return life.reviving;
}

/** Traps so far, the instance generation (0 = first) and the last trap's message. */
export function moduleStatus() {
  return { instance: life.instance, traps: life.traps, trapped: !!life.trapped, lastTrap: life.lastTrap };
}

/** Runs a synchronous wasm call; a trap becomes `module_trapped`. */
function wasmSync(f) {
  try {
    return f();
  } catch (e) {
    throw isTrap(e) ? noteTrap(e) : e;
  }
}

/**
 * Runs an asynchronous wasm call for `owner`; the returned promise always settles: with the
 * result, the call's error, `module_trapped` when the instance traps, or `disposed` when
 * `owner` is disposed first.
 */
function wasmAsync(owner, f) {
  let call;
  const p = new Promise((resolve, reject) => {
    call = { owner, reject };
    inflight.add(call);
    let r;
    try {
      r = f();
    } catch (e) {
      return reject(isTrap(e) ? noteTrap(e) : e);
    }
    Promise.resolve(r).then(resolve, (e) => reject(isTrap(e) ? noteTrap(e) : e));
  });
  return p.finally(() => inflight.delete(call));
}

function rejectCallsOf(owner, error) {
  for (const c of [...inflight]) {
    if (c.owner === owner) {
      inflight.delete(c);
      c.reject(error);
    }
  }
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

// --- Model bytes you can trust --------------------------------------------------------------
// A `.grafiqs` file (src/model/container.rs): magic "GRAFIQS\0", u32 format version, u32 flags, u64
// header length H, H bytes of JSON, the data section, and a CRC-32 (IEEE) of every preceding
// byte. The same checks the Rust reader makes come first here, so an HTML fallback page, a JSON
// error or a truncated download is named as such and never enters the cache.

const MAGIC = [0x47, 0x52, 0x41, 0x46, 0x49, 0x51, 0x53, 0x00];
/** Container format version this build reads (src/model/container.rs `VERSION`). */
export const MODEL_FORMAT_VERSION = 1;

/** An Error with a stable `code` (see README "Errors"). */
function fail(code, message, Ctor = Error) {
  const e = new Ctor(message);
  e.code = code;
  return e;
}

let crcTable = null;
function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** What a response that is not a model looks like, for the error message. */
function describeBytes(bytes, contentType = '') {
  if (bytes.length === 0) return 'an empty response';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 512)).replace(/^\uFEFF/, '').trimStart();
  if (/^<(!doctype\s+html|html|head|body|meta|script|title|!--)/i.test(head) || /html/i.test(contentType)) return 'an HTML page';
  if (/^[[{]/.test(head) || /json/i.test(contentType)) return 'JSON';
  if (/^<\?xml|^<svg/i.test(head)) return 'XML';
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return 'a ZIP archive (a PyTorch checkpoint? convert it with `grafiqs convert`)';
  if (bytes.length >= 8 && bytes[0] === 0x12 && bytes[1] === 0x01 && bytes.subarray(2, 8).every((b) => b === 0)) {
    return 'MXNet .params (convert it with `grafiqs convert`)';
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip data (is the server compressing without a Content-Encoding header?)';
  const printable = bytes.subarray(0, 256).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128);
  return printable ? 'text' : 'unknown binary data';
}

function snippet(bytes) {
  const t = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 40)).replace(/\s+/g, ' ').trim();
  return t ? `, starting ${JSON.stringify(t)}` : '';
}

/**
 * Checks that `bytes` are a complete `.grafiqs` container (magic, format version, header
 * length, CRC-32) without parsing the tensors. Throws an Error with `code`
 * (`model_not_grafiqs`, `model_version`, `model_truncated`, `model_corrupt`) naming what the
 * bytes are instead. `source` names where they came from in the message.
 */
export function checkModelBytes(bytes, { source = 'the model', contentType = '' } = {}) {
  if (bytes.length < 28 || !MAGIC.every((b, i) => bytes[i] === b)) {
    const what = describeBytes(bytes, contentType);
    throw fail(
      'model_not_grafiqs',
      `grafiqs: got ${what}, not a .grafiqs model (not a grafiqs model file: ${source}, ${bytes.length} bytes${contentType ? `, ${contentType}` : ''}${snippet(bytes)})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== MODEL_FORMAT_VERSION) {
    throw fail('model_version', `grafiqs: ${source} has model format version ${version}; this build reads ${MODEL_FORMAT_VERSION}`);
  }
  const headerLength = view.getBigUint64(16, true);
  if (headerLength + 24n > BigInt(bytes.length - 4)) {
    throw fail('model_truncated', `grafiqs: ${source} is truncated: a header of ${headerLength} bytes does not fit in ${bytes.length} bytes`);
  }
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    throw fail(
      'model_corrupt',
      `grafiqs: ${source} is truncated or corrupt: checksum mismatch (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')})`,
    );
  }
  return { version, headerLength: Number(headerLength), bytes: bytes.length };
}

/** `integrity`: "sha256-<base64>" (Subresource Integrity form) or 64 hex digits → hex. */
function expectedSha256(integrity) {
  const s = String(integrity).trim();
  if (/^[0-9a-f]{64}$/i.test(s)) return s.toLowerCase();
  const m = /^sha256-([A-Za-z0-9+/]{43}=?)$/.exec(s);
  if (m) {
    const bin = atob(m[1].length === 43 ? `${m[1]}=` : m[1]);
    return Array.from(bin, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  }
  throw fail('integrity_invalid', `grafiqs: integrity must be "sha256-<base64>" or 64 hex digits, not ${JSON.stringify(s)}`, TypeError);
}

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw fail('integrity_unavailable', 'grafiqs: checking `integrity` needs crypto.subtle, which browsers only offer in secure contexts (https or localhost)');
  }
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws `integrity_mismatch` unless `bytes` hash to `integrity` (no-op without one). */
async function checkIntegrity(bytes, integrity, source) {
  if (integrity === undefined || integrity === null || integrity === '') return;
  const want = expectedSha256(integrity);
  const got = await sha256Hex(bytes);
  if (got !== want) {
    throw fail('integrity_mismatch', `grafiqs: ${source} does not match its integrity: SHA-256 ${got}, expected ${want}`);
  }
}

/**
 * Validates model bytes given directly (not fetched): integrity, then the container checks.
 * Returns a private copy, so later changes to the caller's buffer do not reach the model.
 */
async function trustedBytes(given, { integrity } = {}) {
  if (given.buffer?.detached) throw fail('model_not_grafiqs', 'grafiqs: the given model bytes are detached (their buffer was transferred)', TypeError);
  const bytes = given.slice();
  await checkIntegrity(bytes, integrity, 'the given model');
  checkModelBytes(bytes, { source: 'the given model' });
  return bytes;
}

/** A model argument that is neither bytes nor a URL is a caller's mistake, not a fetch. */
function checkModelArg(model, what) {
  if (typeof model !== 'string' && !(model instanceof URL)) {
    throw new TypeError(`grafiqs: ${what} must be a URL (string or URL) or bytes (Uint8Array, ArrayBuffer), not ${Object.prototype.toString.call(model)}`);
  }
}

const CACHE_PARAM = 'grafiqs-cache';

/** The Cache-API key of a model: its URL tagged with the format version and `version`/`integrity`. */
function cacheKey(href, { version, integrity }) {
  const u = new URL(href);
  u.searchParams.append(CACHE_PARAM, `f${MODEL_FORMAT_VERSION}${version != null ? `.v${version}` : ''}${integrity ? `.${expectedSha256(integrity)}` : ''}`);
  return u.href;
}

/** The model URL a cache key was made from (the key without our tag). */
function keyUrl(key) {
  const u = new URL(key);
  const rest = [...u.searchParams].filter(([k]) => k !== CACHE_PARAM);
  u.search = new URLSearchParams(rest).toString();
  return u.href;
}

/**
 * Fetches a model file from `url` with progress, optionally through the Cache API
 * (`cache: true` uses the cache named "grafiqs-models"; a string names another cache).
 * Only bytes that pass {@link checkModelBytes} (and `integrity`, when given: SHA-256 as
 * "sha256-<base64>" or hex) are used or cached. The cache key holds the URL, the model format
 * version and `version`/`integrity`, so a new `version` (or hash) replaces the old entry of the
 * same URL; a cached entry that fails the checks is deleted and fetched again.
 */
export async function loadModel(url, { onProgress, cache = false, signal, integrity, version } = {}) {
  const href = new URL(String(url), globalThis.location?.href).href;
  if (integrity) expectedSha256(integrity);
  const cacheName = cache === true ? 'grafiqs-models' : cache || null;
  const store = cacheName && typeof caches !== 'undefined' ? await caches.open(cacheName) : null;
  const key = store ? cacheKey(href, { version, integrity }) : null;
  if (store) {
    const hit = await store.match(key);
    if (hit) {
      const bytes = await readWithProgress(hit, onProgress);
      try {
        checkModelBytes(bytes, { source: `the cached copy of ${href}` });
        await checkIntegrity(bytes, integrity, `the cached copy of ${href}`);
        onProgress?.({ phase: 'model', loaded: bytes.length, total: bytes.length, fromCache: true });
        return bytes;
      } catch (e) {
        if (e.code === 'integrity_unavailable') throw e;
        await store.delete(key); // poisoned or corrupt: fetch it again
      }
    }
  }
  let response;
  try {
    response = await fetch(href, { signal });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw fail('model_fetch', `grafiqs: could not fetch the model ${href}: ${e?.message ?? e}`);
  }
  if (!response.ok) throw fail('model_http', `grafiqs: could not fetch the model ${href}: HTTP ${response.status}`);
  const contentType = response.headers.get('content-type') ?? '';
  const bytes = await readWithProgress(response, onProgress);
  checkModelBytes(bytes, { source: href, contentType });
  await checkIntegrity(bytes, integrity, href);
  if (store) {
    // Replace every older entry of the same URL (other format versions, versions or hashes).
    for (const old of await store.keys()) {
      if (old.url !== key && new URL(old.url).searchParams.has(CACHE_PARAM) && keyUrl(old.url) === href) await store.delete(old);
    }
    await store.put(key, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
  }
  onProgress?.({ phase: 'model', loaded: bytes.length, total: bytes.length, fromCache: false });
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
    checkSize(image.width, image.height);
    if (image.data.buffer?.detached || image.data.detached) {
      throw fail('invalid_image', 'grafiqs: image.data is detached (its buffer was transferred, e.g. to a worker)', TypeError);
    }
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
  checkSize(w, h);
  const c = canvas(w, h);
  const ctx = c.getContext('2d', { willReadFrequently: true });
  try {
    ctx.drawImage(image, 0, 0, w, h);
  } catch (e) {
    throw fail('invalid_image', `grafiqs: not an image (expected ImageData, { data, width, height }, ImageBitmap, an image, video or canvas element, VideoFrame): ${e?.message ?? e}`, TypeError);
  }
  const d = ctx.getImageData(0, 0, w, h);
  return { data: new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.byteLength), width: w, height: h };
}

// --- Bounded memory -----------------------------------------------------------------------------
// wasm32 linear memory ends at 4 GiB and an allocation beyond it traps the module, so inputs are
// bounded before they are copied in. Pixels cost 16 bytes each inside (RGBA copy + f32 RGB);
// a scored face costs the network's activations and their gradients (measured, see LIMITS).

/**
 * Input limits. `maxSide`/`minSide`: per image side (the Rust decoder's bounds);
 * `maxPixels`: one image or frame (16 B/px inside wasm: 640 MB at the limit); `maxBatchPixels`:
 * all images of one scoreBatch call together; `maxBatch`: see {@link Scorer#limits}.
 */
export const LIMITS = Object.freeze({ minSide: 16, maxSide: 16384, maxPixels: 40_000_000, maxBatchPixels: 40_000_000, maxBatch: 64 });

// What a scored face costs inside wasm memory, measured in Chromium on the CPU path (memory
// growth per face at batches of 8…64): 5.4 MiB for the 25,864-parameter test iResNet, 29.1 MiB
// for MobileFaceNet (1.02 M parameters, whose batch of 64 takes 1.9 GB). The power law through
// both (∝ parameters^0.458) gives 162 MiB for iResNet-50, above the 73 MB per face measured
// natively, so it errs on the safe side for larger networks. A model itself holds about 4.8
// f32 copies of its parameters (model, device weights, CPU fallback) plus 3 MiB.
const MIB = 2 ** 20;
const SCORING_BUDGET = 2048 * MIB;

/** Per-model limits: the batch that fits SCORING_BUDGET with the model resident. */
function limitsFor(parameters) {
  const p = Math.max(1, Number(parameters) || 1);
  const perFace = 29.1 * MIB * Math.pow(p / 1.02272e6, 0.458);
  const resident = 3 * MIB + 4.8 * 4 * p;
  const maxBatch = Math.max(1, Math.min(LIMITS.maxBatch, Math.floor((SCORING_BUDGET - resident) / perFace)));
  return { ...LIMITS, maxBatch };
}

function checkSize(width, height) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw fail('invalid_image', `grafiqs: image width and height must be non-negative integers, got ${width}x${height}`, RangeError);
  }
  if (width > LIMITS.maxSide || height > LIMITS.maxSide || width * height > LIMITS.maxPixels) {
    throw fail(
      'image_too_large',
      `grafiqs: a ${width}x${height} image is over the limit (${LIMITS.maxSide} px per side, ${LIMITS.maxPixels / 1e6} megapixels): downscale it first`,
      RangeError,
    );
  }
}

/** Width and height an encoded JPEG or PNG declares (before anything decodes it), or null. */
function encodedSize(b) {
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return [v.getUint32(16), v.getUint32(20)];
  }
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1];
      if (m === 0xff) {
        i++;
        continue;
      }
      if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
        i += 2;
        continue;
      }
      const len = (b[i + 2] << 8) | b[i + 3];
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        return [(b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]];
      }
      if (m === 0xda || len < 2) return null;
      i += 2 + len;
    }
  }
  return null;
}

/**
 * What Scorer and Assessor share: a wasm object on one backend and its lifetime. The object is
 * rebuilt (`_build`) after the module was re-created following a trap.
 */
class Backed {
  #inner;
  #instance;
  #backend;
  #webgpuFallback;
  #what;
  #disposed = false;

  constructor(inner, webgpuFallback, what) {
    this.#inner = inner;
    this.#instance = life.instance;
    this.#backend = inner.backend;
    this.#webgpuFallback = webgpuFallback;
    this.#what = what;
  }

  /** Throws `disposed` once disposed. */
  _live() {
    if (this.#disposed) throw fail('disposed', `grafiqs: the ${this.#what} was disposed`);
  }

  /** The wasm object when it belongs to the live instance, else null. */
  _current() {
    return !this.#disposed && !life.trapped && this.#instance === life.instance ? this.#inner : null;
  }

  /**
   * Runs `f(inner)` (a wasm call returning a promise or a value) once the module is live and the
   * wasm object belongs to it. Always settles (see wasmAsync).
   */
  _call(f) {
    this._live();
    return wasmAsync(this, async () => {
      await reviveModule();
      if (this.#instance !== life.instance) await this.#rebuild();
      const inner = this.#inner;
      const r = await f(inner);
      this._live();
      if (this.#inner === inner && this._current()) this.#backend = inner.backend;
      return r;
    });
  }

  async #rebuild() {
    let backend = this.#backend;
    if (backend === 'webgpu') {
      try {
        gpuReady ??= initWebGpu();
        await gpuReady;
      } catch (e) {
        gpuReady = null;
        backend = 'cpu';
        this.#webgpuFallback = `WebGPU unavailable after the module was re-created: ${e?.message ?? e}`;
      }
    }
    this._live();
    this.#inner = wasmSync(() => this._build(backend));
    this.#instance = life.instance;
    this.#backend = this.#inner.backend;
  }

  /** "webgpu" or "cpu" (the backend results come from), "disposed" after dispose(). */
  get backend() {
    if (this.#disposed) return 'disposed';
    const inner = this._current();
    if (inner) {
      try {
        this.#backend = inner.backend;
      } catch {
        // a trapped instance answers nothing; the last known backend stands
      }
    }
    return this.#backend;
  }

  /** Why WebGPU was not used when `backend: "auto"` fell back to the CPU, else undefined. */
  get fallbackReason() {
    return this.#webgpuFallback;
  }

  /** Frees the model(s) and their GPU memory. Calls in flight and later calls reject (`disposed`). */
  dispose() {
    if (this.#disposed) return;
    const inner = this._current();
    this.#disposed = true;
    this.#inner = null;
    rejectCallsOf(this, fail('disposed', `grafiqs: the ${this.#what} was disposed`));
    if (inner) {
      try {
        inner.dispose();
        inner.free();
      } catch (e) {
        if (isTrap(e)) noteTrap(e);
      }
    }
  }
}

/**
 * A model loaded on one backend. Create it with {@link createScorer}. Limits: `limits.maxBatch`
 * faces per scoreBatch call, derived from the model size so that a batch stays within wasm32
 * memory; beyond it (or LIMITS' pixel bounds) calls reject with `batch_too_large` /
 * `image_too_large`.
 */
export class Scorer extends Backed {
  #bytes;
  #info;
  #limits;

  constructor(inner, webgpuFallback, bytes) {
    super(inner, webgpuFallback, 'scorer');
    this.#bytes = bytes;
    this.#info = wasmSync(() => inner.info());
    this.#limits = limitsFor(this.#info.parameters);
  }

  _build(backend) {
    return new WasmScorer(this.#bytes, backend);
  }

  /** Model metadata (architecture, parameters, BatchNorm layers, calibration, provenance). */
  get info() {
    this._live();
    return structuredClone(this.#info);
  }

  /** `{ maxBatch, maxPixels, maxBatchPixels, maxSide, minSide }` for this model. */
  get limits() {
    return { ...this.#limits };
  }

  /**
   * Scores one face. `image`: an aligned face of any size (resized to 112×112 like the CLI) as
   * ImageData / ImageBitmap / canvas / video / `{ data, width, height }`, or an encoded image
   * file (Blob, File, ArrayBuffer, Uint8Array): JPEG and PNG decoded exactly like the native
   * CLI, other formats by the browser (`createImageBitmap`).
   */
  async score(image, options = {}) {
    this._live();
    const embedding = !!options.embedding;
    if (typeof Blob !== 'undefined' && image instanceof Blob) {
      image = new Uint8Array(await image.arrayBuffer());
    }
    const encoded = toBytes(image);
    if (encoded) {
      // JPEG and PNG are decoded in Rust exactly like the native CLI; other formats (WebP, AVIF,
      // GIF, …) by the browser.
      if (isJpegOrPng(encoded) || typeof createImageBitmap === 'undefined') {
        const size = encodedSize(encoded);
        if (size) checkSize(size[0], size[1]);
        return (await this._call((inner) => inner.scoreEncoded(encoded, embedding)))[0];
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
    return (await this._call((inner) => inner.scoreRgba(data, new Uint32Array([width, height]), embedding)))[0];
  }

  /** Scores several faces in one pass (same results as one by one; faster on the GPU). */
  async scoreBatch(images, options = {}) {
    this._live();
    if (!Array.isArray(images) || images.length === 0) throw new TypeError('grafiqs: scoreBatch needs a non-empty array of images');
    if (images.length > this.#limits.maxBatch) {
      throw fail(
        'batch_too_large',
        `grafiqs: a batch of ${images.length} images is over this model's limit of ${this.#limits.maxBatch} (split it into several calls)`,
        RangeError,
      );
    }
    const pixels = images.reduce((n, img) => {
      const [w, h] = img && typeof img.width === 'number' && typeof img.height === 'number' ? [img.width, img.height] : img ? sizeOf(img) : [0, 0];
      return n + (Number.isFinite(w * h) ? Math.max(0, w * h) : Infinity);
    }, 0);
    if (pixels > this.#limits.maxBatchPixels) {
      throw fail('batch_too_large', `grafiqs: a batch of ${pixels} pixels is over the limit of ${this.#limits.maxBatchPixels} (send smaller crops or fewer images)`, RangeError);
    }
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
    return this._call((inner) => inner.scoreRgba(data, sizes, !!options.embedding));
  }

  /** Device memory held by the backend's pool (`{ inUse, reserved }` bytes) or null. */
  memoryUsage() {
    this._live();
    const inner = this._current();
    return inner ? wasmSync(() => inner.memoryUsage()) : null;
  }

}

/**
 * Loads a model and prepares scoring.
 * @param {object} options
 * @param {string|URL|ArrayBuffer|Uint8Array} [options.model]  URL of a .grafiqs file, or its bytes (default: the shipped model, {@link defaultModelUrl})
 * @param {"auto"|"webgpu"|"cpu"} [options.backend="auto"]  auto: WebGPU when a hardware adapter is granted, else CPU
 * @param {(p: {phase: string, loaded: number, total: number}) => void} [options.onProgress]
 * @param {boolean|string} [options.cache=false]  keep the downloaded model in the Cache API
 * @param {string} [options.integrity]  SHA-256 of the model ("sha256-<base64>" or hex), checked before use and caching
 * @param {string} [options.version]  tags the cached copy: a new version replaces the old one of the same URL
 * @param {AbortSignal} [options.signal]
 * @param {*} [options.wasm]  where to load the .wasm from (default: next to this module)
 */
export async function createScorer(options = {}) {
  const { model, backend = 'auto', onProgress, cache = false, signal, wasm, integrity, version } = options;
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new TypeError(`grafiqs: backend must be "auto", "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  }
  if (model === null) throw new TypeError('grafiqs: createScorer needs a model (leave `model` out for the shipped one)');
  onProgress?.({ phase: 'wasm', loaded: 0, total: 1 });
  await initialize({ wasm });
  onProgress?.({ phase: 'wasm', loaded: 1, total: 1 });
  const source = model ?? defaultModelUrl();
  const given = toBytes(source);
  if (!given) checkModelArg(source, 'model');
  const bytes = given ? await trustedBytes(given, { integrity }) : await loadModel(source, { onProgress, cache, signal, integrity, version });
  const [chosen, reason] = await chooseBackend(backend);
  const inner = wasmSync(() => new WasmScorer(bytes, chosen));
  return new Scorer(inner, reason, bytes);
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
  #detector;
  #model = null;
  #modelName = null;
  #tracking;

  constructor(inner, webgpuFallback, detector, tracking = null) {
    super(inner, webgpuFallback, 'assessor');
    this.#detector = detector;
    this.#tracking = tracking;
    if (tracking) wasmSync(() => inner.setTracking(tracking.minFaceSize, tracking.redetectEvery, tracking.mode === 'refine'));
  }

  _build(backend) {
    const a = new WasmAssessor(this.#detector, backend);
    if (this.#model) a.setModel(this.#model);
    if (this.#tracking) a.setTracking(this.#tracking.minFaceSize, this.#tracking.redetectEvery, this.#tracking.mode === 'refine');
    return a;
  }

  /** Whether a recognition model is loaded (quality is reported only then). */
  get hasModel() {
    this._live();
    return !!this.#model;
  }

  /** Name of the recognition model used for quality (e.g. "foamliu-mobilefacenet"), or null. */
  get modelName() {
    this._live();
    return this.#modelName;
  }

  /**
   * Loads a recognition model (URL or bytes) for GraFIQs quality; `null` removes it. Options as
   * {@link loadModel} (`integrity`, `version`, `cache`, `onProgress`, `signal`).
   */
  async setModel(model, options = {}) {
    this._live();
    let bytes = null;
    if (model !== null && model !== undefined) {
      const given = toBytes(model);
      if (!given) checkModelArg(model, 'model');
      bytes = given ? await trustedBytes(given, options) : await loadModel(model, options);
    }
    const name = await this._call((inner) => {
      inner.setModel(bytes ?? undefined);
      return inner.modelName ?? null;
    });
    this.#model = bytes;
    this.#modelName = name;
  }

  /**
   * Assesses one frame: an HTMLVideoElement (its current frame), ImageBitmap, ImageData, canvas,
   * `<img>` or `{ data, width, height }`. Resolves to `{ width, height, ready, advice, faces,
   * backend }`; each face has `box`, `confidence`, `landmarks`, `measures`, `advice` (`{ code,
   * message }`, most important first), `quality`/`scores` with a model, and `aligned` (ImageData
   * of the 112×112 crop) unless `{ crops: false }`. `{ score: false }` skips GraFIQs quality.
   * Both options apply to this call only.
   *
   * `{ track: true }` (for the frames of one video, in order): the frame is searched only around
   * the faces of the previous tracked frame (the assessor's `trackMode`, {@link createAssessor}:
   * by default the whole detection on a window around them, which finds what full detection
   * finds), except on every `redetectEvery`-th frame and when a face is lost, which run the full
   * detection. The result's `tracked` is true for a tracked frame. Call
   * {@link Assessor#resetTrack} when the video changes.
   */
  async assessFrame(source, options = {}) {
    this._live();
    const { data, width, height } = toRgba(source);
    const crops = options.crops ?? true;
    const score = options.score ?? true;
    const track = !!options.track;
    const a = await this._call((inner) =>
      track ? inner.assessRgbaTracked(data, width, height, score, crops) : inner.assessRgba(data, width, height, score, crops),
    );
    if (crops) for (const f of a.faces) if (f.aligned) f.aligned = crop(f.aligned);
    return a;
  }

  /** Forgets the faces followed by `assessFrame(..., { track: true })`: the next such frame runs the full detection. */
  resetTrack() {
    this._live();
    const inner = this._current();
    if (inner) wasmSync(() => inner.resetTrack());
  }

  /** Frames assessed with `{ track: true }` by path: `{ detected, tracked }` (full detection vs searched only around the previous faces). */
  get trackStats() {
    this._live();
    const inner = this._current();
    return inner ? wasmSync(() => inner.trackStats()) : { detected: 0, tracked: 0 };
  }

}

/** Default `minFaceSize` of tracked assessment: faces whose eyes are 20 px apart (half the 40 px that pass) have boxes of at least 40 px. */
export const GUIDANCE_MIN_FACE = 40;

/**
 * Creates an assessor. `detector`: URL or bytes of the MTCNN weights (default: `mtcnn.grafiqs`
 * shipped next to this module); `model`: recognition model for quality (default: the shipped
 * model; `null`: guidance only, no quality); other options as {@link createScorer}.
 * Tracked frames (`assessFrame(..., { track: true })`): `minFaceSize` (px, ≥ 12, default
 * {@link GUIDANCE_MIN_FACE}) is the smallest face their full detections search for,
 * `redetectEvery` (integer ≥ 1, default 10) the most frames between full detections, and
 * `trackMode` how frames in between search around the previous faces: `"window"` (default)
 * runs the whole detection on a window around them, so their faces are the full detection's
 * own; `"refine"` runs only R-Net and O-Net on a predicted box, several times cheaper and
 * steadier, with landmarks about 2 px from full detection's.
 */
export async function createAssessor(options = {}) {
  const { model, detector, backend = 'auto', onProgress, cache = false, signal, wasm, integrity, version, minFaceSize, redetectEvery, trackMode } = options;
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new TypeError(`grafiqs: backend must be "auto", "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  }
  if (minFaceSize !== undefined && !(typeof minFaceSize === 'number' && Number.isFinite(minFaceSize) && minFaceSize >= 12)) {
    throw new RangeError(`grafiqs: minFaceSize must be a number of pixels ≥ 12, not ${String(minFaceSize)}`);
  }
  if (redetectEvery !== undefined && !(Number.isInteger(redetectEvery) && redetectEvery >= 1 && redetectEvery <= 0xffffffff)) {
    throw new RangeError(`grafiqs: redetectEvery must be an integer ≥ 1, not ${String(redetectEvery)}`);
  }
  if (trackMode !== undefined && trackMode !== 'window' && trackMode !== 'refine') {
    throw new TypeError(`grafiqs: trackMode must be "window" or "refine", not ${JSON.stringify(trackMode)}`);
  }
  const tracking =
    minFaceSize === undefined && redetectEvery === undefined && trackMode === undefined
      ? null
      : { minFaceSize: minFaceSize ?? GUIDANCE_MIN_FACE, redetectEvery: redetectEvery ?? 10, mode: trackMode ?? 'window' };
  await initialize({ wasm });
  const given = toBytes(detector);
  if (!given && detector !== undefined && detector !== null) checkModelArg(detector, 'detector');
  const detBytes = given
    ? await trustedBytes(given)
    : await loadModel(detector ?? new URL('./mtcnn.grafiqs', import.meta.url), { onProgress, cache, signal });
  const [chosen, reason] = await chooseBackend(backend);
  const a = new Assessor(wasmSync(() => new WasmAssessor(detBytes, chosen)), reason, detBytes, tracking);
  if (model !== null) await a.setModel(model ?? defaultModelUrl(), { onProgress, cache, signal, integrity, version });
  return a;
}

// The shared assessors of assessFrame(), one per configuration (backend, detector, model, wasm).
const sharedAssessors = new Map();
const MAX_SHARED = 4;
const ids = new WeakMap();
let nextId = 0;
const idOf = (v) => {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || v instanceof URL) return String(v);
  if (typeof v !== 'object') return String(v);
  if (!ids.has(v)) ids.set(v, `#${nextId++}`);
  return ids.get(v);
};

/**
 * Assesses a frame with a shared assessor (the shipped model unless `model` names another, or
 * `null` for guidance only), created on first use for
 * each configuration (`backend`, `detector`, `model`, `wasm`, `minFaceSize`, `redetectEvery`,
 * `trackMode`);
 * `score`, `crops` and `track` apply to each call (`track` follows one video per configuration).
 * At most 4 configurations are kept (the least recently used idle one is disposed).
 */
export async function assessFrame(source, options = {}) {
  const { score, crops, track, onProgress, signal, ...config } = options;
  const model = config.model === undefined ? 'shipped' : idOf(config.model); // null: guidance only
  const key = JSON.stringify([
    config.backend ?? 'auto',
    idOf(config.detector),
    model,
    idOf(config.wasm),
    config.integrity ?? null,
    config.minFaceSize ?? null,
    config.redetectEvery ?? null,
    config.trackMode ?? null,
  ]);
  let entry = sharedAssessors.get(key);
  if (!entry) {
    entry = { busy: 0, assessor: createAssessor({ ...config, onProgress, signal }) };
    entry.assessor.catch(() => sharedAssessors.get(key) === entry && sharedAssessors.delete(key));
    sharedAssessors.set(key, entry);
    for (const [k, e] of sharedAssessors) {
      if (sharedAssessors.size <= MAX_SHARED) break;
      if (e !== entry && e.busy === 0) {
        sharedAssessors.delete(k);
        e.assessor.then((a) => a.dispose(), () => {});
      }
    }
  } else {
    sharedAssessors.delete(key);
    sharedAssessors.set(key, entry); // most recently used last
  }
  entry.busy++;
  try {
    return await (await entry.assessor).assessFrame(source, { score, crops, track });
  } finally {
    entry.busy--;
  }
}


/**
 * Watches a video at a target rate, reports guidance for every assessed frame, and keeps the
 * best frame of the recent window: the frame whose main face passes every check with the
 * highest GraFIQs quality (without a model: the highest mean measure score). Frames are
 * assessed with `{ track: true }` (faces followed from frame to frame, the full detection only
 * every `redetectEvery` frames of the assessor and when a face is lost) unless `track: false`;
 * `start()` forgets the previous track.
 *
 *   const session = new CaptureSession(assessor, video, { fps: 4, windowMs: 3000, onUpdate });
 *   session.start();
 *   const best = await session.captureBest({ timeoutMs: 20000 });   // null if none in time
 */
export class CaptureSession {
  #assessor;
  #video;
  #opts;
  #timer = null;
  #running = false;
  #disposed = false;
  #history = [];
  #waiters = new Set();
  stats = { frames: 0, lastMs: 0, fps: 0 };

  constructor(assessor, video, options = {}) {
    this.#assessor = assessor;
    this.#video = video;
    this.#opts = { fps: 4, windowMs: 3000, track: true, onUpdate: null, onError: null, ...options };
  }

  get running() {
    return this.#running;
  }

  start() {
    if (this.#disposed) throw fail('disposed', 'grafiqs: the capture session was disposed');
    if (this.#running) return;
    this.#running = true;
    const track = !!this.#opts.track;
    if (track) {
      try {
        this.#assessor.resetTrack();
      } catch {
        // A disposed assessor: the first frame reports it through onError and ends the session.
      }
    }
    const period = 1000 / this.#opts.fps;
    let last = performance.now();
    const tick = async () => {
      if (!this.#running) return;
      const t0 = performance.now();
      try {
        if (this.#video.readyState >= 2 && this.#video.videoWidth > 0) {
          const frame = toRgba(this.#video);
          const a = await this.#assessor.assessFrame(frame, { track });
          if (!this.#running) return;
          const t1 = performance.now();
          this.stats = { frames: this.stats.frames + 1, lastMs: t1 - t0, fps: 1000 / Math.max(1, t1 - last) };
          last = t1;
          this.#record(a, frame, t1);
          this.#opts.onUpdate?.(a, this.stats);
        }
      } catch (e) {
        this.#opts.onError?.(e);
        // A disposed assessor never assesses again: the session ends (captureBest settles).
        if (e?.code === 'disposed') this.stop();
      }
      if (this.#running) this.#timer = setTimeout(tick, Math.max(0, period - (performance.now() - t0)));
    };
    tick();
  }

  /** Stops assessing; a pending captureBest() resolves with the best frame so far, or null. */
  stop() {
    this.#running = false;
    clearTimeout(this.#timer);
    for (const w of [...this.#waiters]) w.finish();
  }

  /** Stops the session and forgets its frames; start() then throws `disposed`. */
  dispose() {
    this.#disposed = true;
    this.#history = [];
    this.stop();
  }

  #record(a, frame, time) {
    const face = a.faces[0];
    if (a.ready && face) {
      const rank = face.quality ?? meanScore(face);
      this.#history.push({ time, rank, assessment: a, frame: frameToImage(frame) });
    }
    const since = time - this.#opts.windowMs;
    this.#history = this.#history.filter((h) => h.time >= since);
    if (this.#history.length) for (const w of this.#waiters) w.ready();
  }

  /** The best ready frame of the last `windowMs`: `{ time, assessment, image, aligned }` or null. */
  bestFrame() {
    if (!this.#history.length) return null;
    const b = this.#history.reduce((x, y) => (y.rank > x.rank ? y : x));
    return { time: b.time, quality: b.assessment.faces[0].quality, assessment: b.assessment, image: b.frame, aligned: b.assessment.faces[0].aligned };
  }

  /**
   * Resolves with the best frame once at least one ready frame was seen and `settleMs` (default:
   * the window length) passed. Always settles: on stop(), dispose(), a disposed assessor, or
   * after `timeoutMs`, with the best frame so far or null; at once when the session is not
   * running.
   */
  captureBest({ settleMs = this.#opts.windowMs, timeoutMs } = {}) {
    if (!this.#running) return Promise.resolve(this.bestFrame());
    return waitForBest(this.#waiters, { settleMs, timeoutMs, seen: this.#history.length > 0, best: () => this.bestFrame() });
  }
}

function frameToImage(frame) {
  const data = new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
  return typeof ImageData !== 'undefined' ? new ImageData(data, frame.width, frame.height) : { ...frame, data };
}
