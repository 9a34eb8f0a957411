// Tracked assessment in real Chromium on the CPU (wasm) path: the fake-camera sequence of the
// native tracking test (written with examples/track_sequence) through
// `assessFrame(…, { track: true })` takes the same path on every frame as native tracking, with
// the same landmarks (both f32: ≤ 0.05 px). With the default `trackMode: "window"` the tracked
// faces are the full detection's own (≤ 0.01 px on every frame); with `"refine"` they stay as
// close to full detection as natively (15 % of the eye distance on every frame, 3 px on
// average: full detection itself moves its landmarks by 1–3 px between neighbouring frames, see
// tests/tracking.rs). The tracking options are checked and resetTrack() forces a full
// detection. Prints ms per frame tracked vs full.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as h from './harness.mjs';

const example = process.env.GRAFIQS_TRACK_SEQUENCE ?? path.join(path.dirname(h.bin), 'examples/track_sequence');
let server;
let browser;
let native;

before(async () => {
  if (!h.haveAssets()) return;
  const seq = await mkdtemp(path.join(tmpdir(), 'grafiqs-track-'));
  execFileSync(example, [path.join(h.assets, 'faces/lfw-colour/Alberto_Fujimori_0001.jpg'), seq], { stdio: ['ignore', 'ignore', 'inherit'] });
  native = JSON.parse(await readFile(path.join(seq, 'native.json'), 'utf8'));
  server = await h.serve({ '/pkg/': h.pkgDir, '/seq/': seq, '/': path.join(h.here, 'pages') });
  browser = await h.launch({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const dist = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);
const worstOf = (a, b) => Math.max(...a.map((p, i) => dist(p, b[i])));
const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];

/** The test page with the package loaded, its uncaught errors, and the sequence's frame URLs. */
async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.grafiqs);
  return { page, errors, files: native.frames.map((f) => `/seq/${f.file}`) };
}

test('assessFrame({ track: true }) in wasm follows native tracking and equals full detection', { skip: !h.haveAssets() && 'no assets' }, async () => {
  const { page, errors, files } = await openPage();
  const r = await page.evaluate(async (files) => {
    const a = await grafiqs.createAssessor({ backend: 'cpu', model: null });
    const frames = await Promise.all(files.map((f) => rgbaOf(f)));
    const opts = { score: false, crops: false };
    await a.assessFrame(frames[0], opts); // warm-up
    const out = [];
    for (const frame of frames) {
      let t = performance.now();
      const tracked = await a.assessFrame(frame, { ...opts, track: true });
      const trackedMs = performance.now() - t;
      t = performance.now();
      const full = await a.assessFrame(frame, opts);
      const fullMs = performance.now() - t;
      out.push({ tracked, trackedMs, full, fullMs });
    }
    const stats = a.trackStats;
    // resetTrack(): the next tracked frame runs the full detection, the one after is tracked.
    a.resetTrack();
    const afterReset = [];
    for (const i of [3, 4]) afterReset.push((await a.assessFrame(frames[i], { ...opts, track: true })).tracked);
    a.dispose();
    // redetectEvery: 1 detects every frame; bad options are rejected.
    const every = await grafiqs.createAssessor({ backend: 'cpu', model: null, redetectEvery: 1, minFaceSize: 40 });
    const everyFrame = [];
    for (const i of [0, 1, 2]) everyFrame.push((await every.assessFrame(frames[i], { ...opts, track: true })).tracked);
    every.dispose();
    const rejected = [];
    for (const bad of [{ redetectEvery: 0 }, { redetectEvery: 2.5 }, { minFaceSize: 5 }, { minFaceSize: NaN }, { trackMode: 'fast' }, { trackMode: true }]) {
      try {
        await grafiqs.createAssessor({ backend: 'cpu', model: null, ...bad });
        rejected.push(null);
      } catch (e) {
        rejected.push(e.name);
      }
    }
    return { out, stats, afterReset, everyFrame, rejected };
  }, files);

  let worstNative = 0;
  let worstFull = 0;
  const vsFull = [];
  r.out.forEach((f, i) => {
    const want = native.frames[i];
    assert.equal(f.tracked.tracked, want.path === 'tracked', `frame ${i}: tracked ${f.tracked.tracked}, native ${want.path}`);
    assert.equal(f.full.tracked, false);
    assert.equal(f.tracked.faces.length, want.faces.length, `frame ${i}: faces`);
    assert.equal(f.full.faces.length, want.full.length, `frame ${i}: full-detection faces`);
    if (want.faces.length) {
      const eNative = worstOf(f.tracked.faces[0].landmarks, want.faces[0].landmarks);
      const eFull = worstOf(f.tracked.faces[0].landmarks, f.full.faces[0].landmarks);
      worstNative = Math.max(worstNative, eNative);
      worstFull = Math.max(worstFull, eFull);
      vsFull.push(eFull);
      assert.ok(eNative <= 0.05, `frame ${i}: tracked landmarks ${eNative.toFixed(4)} px from native`);
      assert.ok(eFull <= 0.01, `frame ${i}: tracked landmarks ${eFull.toFixed(4)} px from full detection`);
    }
  });
  const nTracked = native.frames.filter((f) => f.path === 'tracked').length;
  assert.deepEqual(r.stats, { detected: native.frames.length - nTracked, tracked: nTracked });
  assert.deepEqual(r.afterReset, [false, true]);
  assert.deepEqual(r.everyFrame, [false, false, false]);
  assert.deepEqual(r.rejected, ['RangeError', 'RangeError', 'RangeError', 'RangeError', 'TypeError', 'TypeError']);
  const withFace = r.out.filter((f) => f.full.faces.length);
  const tracked = withFace.filter((f) => f.tracked.tracked).map((f) => f.trackedMs);
  const full = withFace.map((f) => f.fullMs);
  console.log(
    `wasm CPU, 640x480, guidance without GraFIQs: tracked (window) ${median(tracked).toFixed(1)} ms/frame, full detection ${median(full).toFixed(1)} ms/frame (medians); ` +
      `landmarks vs native ≤ ${worstNative.toFixed(4)} px, vs full detection ≤ ${worstFull.toFixed(4)} px`,
  );
  assert.deepEqual(errors, []);
});

test('trackMode "refine": R-Net and O-Net alone follow native refinement and stay near full detection', { skip: !h.haveAssets() && 'no assets' }, async () => {
  const { page, errors, files } = await openPage();
  const r = await page.evaluate(async (files) => {
    const a = await grafiqs.createAssessor({ backend: 'cpu', model: null, trackMode: 'refine' });
    const frames = await Promise.all(files.map((f) => rgbaOf(f)));
    const opts = { score: false, crops: false };
    const out = [];
    for (const frame of frames) {
      const t = performance.now();
      const tracked = await a.assessFrame(frame, { ...opts, track: true });
      out.push({ tracked, trackedMs: performance.now() - t });
    }
    const stats = a.trackStats;
    a.dispose();
    return { out, stats };
  }, files);
  let worstNative = 0;
  const vsFull = [];
  r.out.forEach((f, i) => {
    const want = native.frames[i].refined;
    const full = native.frames[i].full;
    assert.equal(f.tracked.tracked, want.path === 'tracked', `frame ${i}: path`);
    assert.equal(f.tracked.faces.length, want.faces.length, `frame ${i}: faces`);
    if (want.faces.length) {
      const eNative = worstOf(f.tracked.faces[0].landmarks, want.faces[0].landmarks);
      const eFull = worstOf(f.tracked.faces[0].landmarks, full[0].landmarks);
      worstNative = Math.max(worstNative, eNative);
      vsFull.push(eFull);
      const [l, r] = full[0].landmarks;
      assert.ok(eNative <= 0.05, `frame ${i}: refined landmarks ${eNative.toFixed(4)} px from native`);
      assert.ok(eFull <= 0.15 * dist(l, r), `frame ${i}: refined landmarks ${eFull.toFixed(2)} px from full detection`);
    }
  });
  const mean = vsFull.reduce((a, b) => a + b, 0) / vsFull.length;
  assert.ok(mean <= 3);
  const nTracked = native.frames.filter((f) => f.refined.path === 'tracked').length;
  assert.deepEqual(r.stats, { detected: native.frames.length - nTracked, tracked: nTracked });
  const tracked = r.out.filter((f) => f.tracked.tracked).map((f) => f.trackedMs);
  console.log(
    `wasm CPU, 640x480, refine tracking: ${median(tracked).toFixed(1)} ms/frame (median); ` +
      `landmarks vs native ≤ ${worstNative.toFixed(4)} px, vs full detection mean ${mean.toFixed(2)} px, worst ${Math.max(...vsFull).toFixed(2)} px`,
  );
  assert.deepEqual(errors, []);
});

test('CaptureSession on the main thread tracks the faces of its video (track: false detects every frame)', { skip: !h.haveAssets() && 'no assets' }, async () => {
  const { page, errors, files } = await openPage();
  const r = await page.evaluate(async (files) => {
    const frames = await Promise.all(files.map((f) => rgbaOf(f)));
    // The sequence plays on a canvas, looped, as a 15 frames/s video.
    const canvas = document.createElement('canvas');
    canvas.width = frames[0].width;
    canvas.height = frames[0].height;
    const ctx = canvas.getContext('2d');
    let k = 0;
    const paint = () => ctx.putImageData(new ImageData(new Uint8ClampedArray(frames[k++ % frames.length].data), canvas.width, canvas.height), 0, 0);
    paint();
    const timer = setInterval(paint, 66);
    const video = document.createElement('video');
    video.muted = true;
    video.srcObject = canvas.captureStream(15);
    await video.play();
    const run = async (track) => {
      const a = await grafiqs.createAssessor({ backend: 'cpu', model: null });
      const s = new grafiqs.CaptureSession(a, video, { fps: 15, ...(track === undefined ? {} : { track }) });
      s.start();
      await new Promise((done) => {
        const check = setInterval(() => s.stats.frames >= 8 && (clearInterval(check), done()), 20);
      });
      s.stop();
      const stats = a.trackStats;
      a.dispose();
      return { stats, frames: s.stats.frames };
    };
    const byDefault = await run(undefined);
    const off = await run(false);
    clearInterval(timer);
    return { byDefault, off };
  }, files);
  const d = r.byDefault.stats;
  assert.ok(d.tracked > 0 && d.detected > 0, `default session: ${JSON.stringify(d)}`);
  assert.ok(d.tracked + d.detected >= 8, `every session frame went through tracking: ${JSON.stringify(d)}`);
  assert.deepEqual(r.off.stats, { detected: 0, tracked: 0 }, 'track: false never uses the tracker');
  assert.deepEqual(errors, []);
});
