// The fields of assessment and score results that the capture sessions read, in one place
// (grafiqs.js's CaptureSession, capture-worker.js and capture-client.js use only these), and the
// best-frame wait both sessions share.

/** The main (largest) face of an assessment, or undefined. */
export const mainFace = (a) => a.faces[0];

/** Whether the main face passes every check. */
export const isReady = (a) => !!a.ready;

const landmarksOf = (face) => face.landmarks;

/**
 * How far the main face moved since the previous frame: the largest landmark displacement in
 * units of the inter-eye distance (0 = still), or null without a face in both frames.
 */
export function candidateMotion(face, previous) {
  if (!face || !previous) return null;
  const a = landmarksOf(face);
  const b = landmarksOf(previous);
  if (!a?.length || a.length !== b?.length) return null;
  const ied = Math.hypot(a[1][0] - a[0][0], a[1][1] - a[0][1]);
  if (!(ied > 0)) return null;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.hypot(a[i][0] - b[i][0], a[i][1] - b[i][1]));
  return m / ied;
}

/** An aligned crop (ImageData or RGBA bytes) as a plain `{ data, width, height }` that can be transferred. */
export function plainCrop(c) {
  if (c.data) return { data: c.data, width: c.width, height: c.height };
  return { data: new Uint8ClampedArray(c.buffer, c.byteOffset, c.byteLength), width: 112, height: 112 };
}

/** The mean 0–100 score of a face's measures (the rank of a frame without quality). */
export function meanScore(face) {
  const m = Object.values(face.measures).filter((v) => v && typeof v.score === 'number');
  return m.reduce((s, v) => s + v.score, 0) / m.length;
}

/** Copies a score result onto the main face of the assessment of its frame. */
export function withQuality(a, result) {
  const face = mainFace(a);
  face.quality = result.quality;
  face.scores = result.scores;
  a.model = result.model;
  return a;
}

/** The quality of an assessment's main face, or undefined. */
export const qualityOf = (a) => mainFace(a)?.quality;

/**
 * The promise of a session's `captureBest()`: a waiter in `waiters` that the session calls
 * `ready()` on when a frame worth keeping arrives and `finish()` on when it stops. Resolves
 * with `best()` `settleMs` after the first such frame (at once counted if `seen`), on
 * `finish()`, or after `timeoutMs`.
 */
export function waitForBest(waiters, { settleMs, timeoutMs, seen, best }) {
  return new Promise((resolve) => {
    const w = {
      settle: null,
      timeout: null,
      finish: () => {
        clearTimeout(w.settle);
        clearTimeout(w.timeout);
        if (waiters.delete(w)) resolve(best());
      },
      ready: () => {
        w.settle ??= setTimeout(w.finish, settleMs);
      },
    };
    waiters.add(w);
    if (timeoutMs !== undefined && timeoutMs !== null) w.timeout = setTimeout(w.finish, timeoutMs);
    if (seen) w.ready();
  });
}
