// createWorkerCaptureSession: live capture guidance with every pixel and every WebAssembly call
// off the page's main thread. Two module workers, each with its own WebAssembly instance:
//
//   page ──VideoFrame/ImageBitmap (transferred)──▶ guidance worker ──aligned crop──▶ scoring worker
//   page ◀──── guidance for every frame ─────────── guidance worker ◀──── quality ────┘
//
// The page only snapshots the video (new VideoFrame(video), or createImageBitmap with a resize)
// and transfers the snapshot. The guidance worker downscales it to the working size, assesses it
// (detection, alignment, measures; no quality) and sends the 112×112 crop of a ready, steady
// frame to the scoring worker over a MessageChannel; while the scorer is busy only the newest
// candidate waits, older ones are dropped. Scoring therefore never delays guidance, and the two
// workers use two cores without SharedArrayBuffer or cross-origin isolation.
import { createWorkerScorer } from './worker-client.js';
import { mainFace, meanScore, qualityOf, waitForBest, withQuality } from './capture-fields.js';

function fail(code, message, cause, Ctor = Error) {
  const e = new Ctor(message);
  e.code = code;
  if (cause !== undefined) e.cause = cause;
  return e;
}

function remoteError(err) {
  const e = new Error(err?.message ?? String(err));
  e.name = err?.name ?? 'Error';
  if (err?.code) e.code = err.code;
  return e;
}

const href = (v) => (v instanceof URL ? v.href : typeof v === 'string' ? new URL(v, globalThis.location?.href).href : v);

const RATE_WINDOW_MS = 2000;
const MEAN_OF = 20;

/** Events per second over the last RATE_WINDOW_MS (shorter right after the start). */
function rateOf(times, now, since) {
  while (times.length && times[0] <= now - RATE_WINDOW_MS) times.shift();
  const span = Math.min(RATE_WINDOW_MS, now - since);
  return span > 0 ? (1000 * times.length) / span : 0;
}

class Means {
  #v = {};
  add(key, value) {
    if (!Number.isFinite(value)) return;
    const a = (this.#v[key] ??= []);
    a.push(value);
    if (a.length > MEAN_OF) a.shift();
  }
  get() {
    const out = {};
    for (const [k, a] of Object.entries(this.#v)) out[k] = a.reduce((s, x) => s + x, 0) / a.length;
    return out;
  }
}

const toImageData = (p) => (p && typeof ImageData !== 'undefined' ? new ImageData(p.data, p.width, p.height) : p);

const isVideo = (v) => typeof HTMLVideoElement !== 'undefined' && v instanceof HTMLVideoElement;

function sourceSize(v) {
  const w = v.videoWidth || v.naturalWidth || v.displayWidth || v.width;
  const h = v.videoHeight || v.naturalHeight || v.displayHeight || v.height;
  return [w | 0, h | 0];
}

/**
 * A live capture session whose frames are assessed and scored in workers. Create it with
 * {@link createWorkerCaptureSession}.
 */
class WorkerCaptureSession {
  #video;
  #opts;
  #worker;
  #scorer;
  #created;
  #running = false;
  #disposed = false;
  #dead = null;
  #timer = null;
  #inFlight = null;
  #nextId = 0;
  #lastSend = -Infinity;
  #presented = 0;
  #grabbedAt = -1;
  #waitingFrame = false;
  #history = [];
  #waiters = new Set();
  #candidates = new Map();
  #guidanceTimes = [];
  #qualityTimes = [];
  #means = new Means();
  #startedAt = 0;
  #counts = { frames: 0, qualities: 0, candidates: 0, dropped: 0 };
  #memory = { guidance: null, scorer: null };
  stats;

  constructor(video, opts, worker, scorer, created) {
    this.#video = video;
    this.#opts = opts;
    this.#worker = worker;
    this.#scorer = scorer;
    this.#created = created;
    this.#memory.guidance = created.memory;
    this.stats = this.#statsNow(performance.now());
    worker.onmessage = ({ data }) => this.#onMessage(data);
    worker.onerror = (ev) => {
      ev.preventDefault?.();
      this.#die(fail('worker_failed', `grafiqs capture worker failed: ${ev.message ?? 'unknown error'}`));
    };
    worker.onmessageerror = () => this.#die(fail('worker_failed', 'grafiqs capture worker failed: a message could not be deserialised'));
  }

  /** Backend of the guidance worker ("webgpu" or "cpu"). */
  get backend() {
    return this.#disposed ? 'disposed' : this.#created.backend;
  }

  get fallbackReason() {
    return this.#created.fallbackReason;
  }

  /** Name of the recognition model that scores candidates, or null (guidance only). */
  get modelName() {
    return this.#scorer?.info?.name ?? null;
  }

  get running() {
    return this.#running;
  }

  /** Starts (or resumes) watching; `video` replaces the source given at creation. */
  start(video) {
    if (this.#disposed) throw fail('disposed', 'grafiqs: the capture session was disposed');
    if (this.#dead) throw this.#dead;
    if (video) this.#video = video;
    if (!this.#video) throw fail('invalid_option', 'grafiqs: the capture session has no video to watch', undefined, TypeError);
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = performance.now();
    this.#guidanceTimes = [];
    this.#qualityTimes = [];
    this.#watchFrames(this.#video);
    this.#pump();
  }

  /** Stops grabbing frames; a pending captureBest() resolves with the best frame so far, or null. */
  stop() {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#waitingFrame = false;
    if (!this.#dead && !this.#disposed) this.#worker.postMessage({ op: 'reset' });
    for (const w of [...this.#waiters]) w.finish();
  }

  /** Stops, forgets the frames and ends both workers; start() then throws `disposed`. */
  async dispose() {
    if (this.#disposed) return;
    this.stop();
    this.#disposed = true;
    this.#history = [];
    this.#candidates.clear();
    const worker = this.#worker;
    const bye = this.#dead
      ? Promise.resolve()
      : new Promise((resolve) => {
          this.#onDisposed = resolve;
          worker.postMessage({ op: 'dispose', id: 'dispose' });
        });
    await Promise.race([bye, new Promise((r) => setTimeout(r, 2000))]);
    worker.terminate();
    await this.#scorer?.dispose();
  }

  #onDisposed = null;

  /** The best ready frame of the last `windowMs`: `{ frameId, time, quality, assessment, image, aligned }` or null. */
  bestFrame() {
    if (!this.#history.length) return null;
    const b = this.#history.reduce((x, y) => (y.rank > x.rank ? y : x));
    return { frameId: b.id, time: b.time, quality: qualityOf(b.assessment), assessment: b.assessment, image: b.image, aligned: mainFace(b.assessment)?.aligned };
  }

  /**
   * Resolves with the best frame once one scored candidate (without a model: one ready, steady
   * frame) was seen and `settleMs` (default: the window) passed. Always settles: on stop(),
   * dispose(), a failed worker, or after `timeoutMs`, with the best frame so far or null; at
   * once when the session is not running.
   */
  captureBest({ settleMs = this.#opts.windowMs, timeoutMs } = {}) {
    if (!this.#running) return Promise.resolve(this.bestFrame());
    return waitForBest(this.#waiters, { settleMs, timeoutMs, seen: this.#history.length > 0, best: () => this.bestFrame() });
  }

  // --- Frames out ---------------------------------------------------------------------------

  /** Counts the video's presented frames, so that a frame is sent once, not re-assessed. */
  #watchFrames(video) {
    if (!isVideo(video) || typeof video.requestVideoFrameCallback !== 'function') return;
    const onFrame = () => {
      if (!this.#running || this.#video !== video) return;
      this.#presented++;
      video.requestVideoFrameCallback(onFrame);
      if (this.#waitingFrame) {
        clearTimeout(this.#timer);
        this.#timer = null;
        this.#waitingFrame = false;
      }
      this.#pump();
    };
    video.requestVideoFrameCallback(onFrame);
  }

  #pump() {
    if (!this.#running || this.#inFlight || this.#timer) return;
    const wait = Math.max(0, this.#lastSend + 1000 / this.#opts.fps - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#grab().catch((e) => this.#frameFailed(e));
    }, wait);
  }

  async #grab() {
    if (!this.#running || this.#inFlight) return;
    const v = this.#video;
    if (isVideo(v)) {
      if (v.readyState < 2 || !v.videoWidth) {
        this.#timer = setTimeout(() => ((this.#timer = null), this.#pump()), 50);
        return;
      }
      // Nothing new on screen: the next presented frame calls #pump (a 500 ms fallback covers
      // a video that is not rendered).
      if (typeof v.requestVideoFrameCallback === 'function' && this.#presented === this.#grabbedAt && performance.now() - this.#lastSend < 500) {
        this.#waitingFrame = true;
        this.#timer = setTimeout(() => ((this.#timer = null), (this.#waitingFrame = false), this.#pump()), 500);
        return;
      }
    }
    const t0 = performance.now();
    this.#lastSend = t0; // a failing source is retried at the frame rate, not in a tight loop
    const [w, h] = sourceSize(v);
    if (!w || !h) throw fail('invalid_image', 'grafiqs: the capture source has no pixels');
    this.#inFlight = { id: this.#nextId++ };
    this.#grabbedAt = this.#presented;
    let frame;
    try {
      frame = await this.#snapshot(v, w, h, t0);
    } catch (e) {
      this.#inFlight = null;
      throw fail('invalid_image', `grafiqs: could not take a frame from the capture source: ${e?.message ?? e}`, e);
    }
    const grabMs = performance.now() - t0;
    if (!this.#running || this.#dead) {
      frame.close();
      this.#inFlight = null;
      return;
    }
    Object.assign(this.#inFlight, { time: t0, grabMs });
    this.#worker.postMessage({ op: 'frame', id: this.#inFlight.id, frame, source: { width: w, height: h }, time: t0, sentAt: performance.timeOrigin + performance.now() }, [frame]);
  }

  /** A transferable snapshot of the source: a VideoFrame, or an ImageBitmap at the working size. */
  async #snapshot(v, w, h, t0) {
    const mode = this.#opts.grab === 'auto' ? (typeof VideoFrame === 'function' ? 'videoframe' : 'bitmap') : this.#opts.grab;
    if (mode === 'videoframe') return new VideoFrame(v, { timestamp: Math.round(t0 * 1000) });
    const s = Math.min(1, this.#opts.maxSide / Math.max(w, h));
    return createImageBitmap(v, { resizeWidth: Math.max(1, Math.round(w * s)), resizeHeight: Math.max(1, Math.round(h * s)), resizeQuality: 'medium' });
  }

  #frameFailed(e) {
    this.#opts.onError?.(e);
    this.#pump();
  }

  // --- Results in ---------------------------------------------------------------------------

  #onMessage(m) {
    if (this.#disposed && m.op !== 'disposed') return;
    switch (m.op) {
      case 'guidance':
        return this.#onGuidance(m);
      case 'quality':
        return this.#onQuality(m);
      case 'qualityError':
        return this.#opts.onError?.(remoteError(m.error));
      case 'error': {
        const e = remoteError(m.error);
        if (this.#inFlight?.id === m.id) this.#inFlight = null;
        this.#opts.onError?.(e);
        if (e.code === 'disposed') this.stop();
        return this.#pump();
      }
      case 'disposed':
        return this.#onDisposed?.();
      default:
    }
  }

  #onGuidance(m) {
    const now = performance.now();
    const sent = this.#inFlight?.id === m.id ? this.#inFlight : null;
    this.#inFlight = null;
    const a = m.assessment;
    for (const f of a.faces) if (f.aligned) f.aligned = toImageData(f.aligned);
    this.#counts.frames++;
    this.#counts.dropped = m.dropped;
    this.#memory.guidance = m.memory;
    this.#guidanceTimes.push(now);
    if (sent) {
      this.#means.add('grab', sent.grabMs);
      this.#means.add('guidance', now - sent.time);
    }
    this.#means.add('transfer', m.timing.transferMs);
    this.#means.add('downscale', m.timing.downscaleMs);
    this.#means.add('assess', m.timing.assessMs);
    if (m.candidate) {
      this.#counts.candidates++;
      if (this.#scorer) {
        this.#candidates.set(m.id, { time: m.time, assessment: a });
        for (const k of this.#candidates.keys()) {
          if (this.#candidates.size <= 8) break;
          this.#candidates.delete(k);
        }
      } else {
        this.#record({ id: m.id, time: m.time, rank: meanScore(mainFace(a)), assessment: a, image: toImageData(m.image) });
      }
    }
    this.stats = this.#statsNow(now, sent ? now - sent.time : this.stats.lastMs);
    const frame = { id: m.id, time: m.time, candidate: m.candidate, motion: m.motion, source: m.source, width: a.width, height: a.height };
    if (this.#running) this.#opts.onUpdate?.(a, this.stats, frame);
    this.#pump();
  }

  #onQuality(m) {
    const now = performance.now();
    this.#counts.qualities++;
    this.#counts.dropped = m.dropped;
    this.#memory.scorer = m.scorerMemory;
    this.#qualityTimes.push(now);
    this.#means.add('score', m.scoreMs);
    this.#means.add('quality', now - m.time);
    const c = this.#candidates.get(m.id);
    this.#candidates.delete(m.id);
    if (c) {
      withQuality(c.assessment, m.result);
      this.#record({ id: m.id, time: c.time, rank: m.result.quality, assessment: c.assessment, image: toImageData(m.image) });
    }
    this.stats = this.#statsNow(now, this.stats.lastMs);
    if (this.#running) {
      this.#opts.onQuality?.({ frameId: m.id, time: m.time, quality: m.result.quality, scores: m.result.scores, model: m.result.model, latencyMs: now - m.time }, this.stats);
    }
  }

  #record(entry) {
    if (this.#disposed) return;
    this.#history.push(entry);
    const since = performance.now() - this.#opts.windowMs;
    this.#history = this.#history.filter((h) => h.time >= since);
    if (this.#history.length) for (const w of this.#waiters) w.ready();
  }

  #statsNow(now, lastMs = 0) {
    const guidancePerSec = rateOf(this.#guidanceTimes, now, this.#startedAt);
    return {
      ...this.#counts,
      guidancePerSec,
      qualityPerSec: rateOf(this.#qualityTimes, now, this.#startedAt),
      fps: guidancePerSec,
      lastMs,
      ms: this.#means.get(),
      memory: { ...this.#memory },
    };
  }

  #die(e) {
    if (this.#dead) return;
    this.#dead = e;
    this.#inFlight = null;
    this.#opts.onError?.(e);
    this.stop();
  }
}

/**
 * Starts the guidance worker (detector) and, unless `model: null`, the scoring worker (the
 * shipped recognition model by default), loads both, and resolves to a session watching `video`
 * (an HTMLVideoElement, or any source `new VideoFrame()` takes; it may be given later to
 * `start()`). See README "Capture guidance".
 */
export async function createWorkerCaptureSession(video, options = {}) {
  const {
    model,
    detector,
    backend = 'auto',
    wasm,
    cache = false,
    integrity,
    version,
    onProgress,
    fps = 30,
    windowMs = 3000,
    maxSide = 640,
    steadyMotion = 0.05,
    grab = 'auto',
    onUpdate = null,
    onQuality = null,
    onError = null,
    minFaceSize,
    redetectEvery,
    trackMode,
  } = options;
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw fail('invalid_option', `grafiqs: backend must be "auto", "webgpu" or "cpu", not ${JSON.stringify(backend)}`, undefined, TypeError);
  }
  if (!['auto', 'videoframe', 'bitmap'].includes(grab)) {
    throw fail('invalid_option', `grafiqs: grab must be "auto", "videoframe" or "bitmap", not ${JSON.stringify(grab)}`, undefined, TypeError);
  }
  if (!(maxSide >= 16) || !(fps > 0) || !(windowMs >= 0) || !(steadyMotion >= 0)) {
    throw fail('invalid_option', 'grafiqs: maxSide must be at least 16, fps positive, windowMs and steadyMotion not negative', undefined, RangeError);
  }
  if (typeof Worker === 'undefined') throw fail('worker_failed', 'grafiqs: this environment has no Web Workers');
  const worker = new Worker(new URL('./capture-worker.js', import.meta.url), { type: 'module' });
  let scorer = null;
  try {
    const scoring =
      model === null
        ? Promise.resolve(null)
        : createWorkerScorer({ model, backend, wasm: href(wasm), cache, integrity, version, onProgress });
    const channel = model === null ? null : new MessageChannel();
    scoring.catch(() => {});
    const guidance = new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.id !== 'create') return;
        if (data.op === 'progress') onProgress?.(data.progress);
        else if (data.op === 'created') resolve(data);
        else if (data.op === 'error') reject(remoteError(data.error));
      };
      worker.onerror = (ev) => {
        ev.preventDefault?.();
        reject(fail('worker_failed', `grafiqs capture worker failed: ${ev.message ?? 'unknown error'}`));
      };
    });
    // Both workers load at the same time; the scorer's port reaches the guidance worker last.
    worker.postMessage({ op: 'create', id: 'create', args: { backend, cache, detector: href(detector), wasm: href(wasm), maxSide, steadyMotion, minFaceSize, redetectEvery, trackMode } });
    const [created, s] = await Promise.allSettled([guidance, scoring]);
    scorer = s.value ?? null;
    if (created.status === 'rejected') throw created.reason;
    if (s.status === 'rejected') throw s.reason;
    if (scorer) {
      await scorer.connect(channel.port2);
      worker.postMessage({ op: 'scorer', port: channel.port1 }, [channel.port1]);
    }
    return new WorkerCaptureSession(video, { fps, windowMs, maxSide, grab, onUpdate, onQuality, onError }, worker, scorer, created.value);
  } catch (e) {
    worker.terminate();
    await scorer?.dispose();
    throw e;
  }
}
