// The worker capture path (createWorkerCaptureSession) in real Chromium:
// - structure: during a fake-camera session of the demo, the main thread reads no pixels and
//   calls no WebAssembly export (the same instrumentation counts both in the main-thread
//   session, which is the control); long tasks and rates are reported, not asserted;
// - a candidate's quality from the scoring worker (its aligned crop, as bytes) matches
//   assessFrame's quality of the same frame, and each quality names a candidate frame;
// - a 12-megapixel frame is downscaled before it enters WebAssembly (memory growth bounded;
//   the control without downscaling grows past the bound);
// - captureBest() always settles; errors carry codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

const MIB = 2 ** 20;
let server;
let site;
let browser;

before(async () => {
  site = await mkdtemp(path.join(tmpdir(), 'grafiqs-capture-'));
  await cp(path.join(h.root, 'www'), site, { recursive: true });
  await cp(h.pkgDir, path.join(site, 'pkg'), { recursive: true });
  const mounts = { '/pkg/': h.pkgDir, '/tests/': path.join(h.here, 'pages'), '/': site };
  if (h.haveAssets()) mounts['/assets/'] = h.assets;
  server = await h.serve(mounts);
  browser = await h.launch({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function testPage() {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${server.url}/tests/`);
  await p.waitForFunction(() => window.grafiqs);
  await p.evaluate(() => {
    window.settle = (promise, ms = 10000) =>
      Promise.race([
        Promise.resolve(promise).then(
          (v) => `resolved:${v === null ? 'null' : typeof v}`,
          (e) => `rejected:${e?.code ?? ''}:${e?.message ?? e}`,
        ),
        new Promise((r) => setTimeout(() => r('HUNG'), ms)),
      ]);
    /** A canvas of `w`×`h` with the shared face photo drawn as a `side`-px square at (x, y). */
    window.faceCanvas = async (w, h, x, y, side) => {
      const blob = await (await fetch('/assets/faces/lfw-colour/Alberto_Fujimori_0001.jpg')).blob();
      const bmp = await createImageBitmap(blob);
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#7f7f7f';
      ctx.fillRect(0, 0, w, h);
      ctx.drawImage(bmp, x, y, side, side);
      return c;
    };
  });
  return { p, errors };
}

test('worker mode: no pixel read and no WebAssembly call on the main thread (main-thread mode as control)', async (t) => {
  if (!h.haveAssets()) return t.skip('shared assets not found (the fake camera is made from a shared face photo)');
  const y4m = h.fakeCameraVideo(path.join(site, 'camera.y4m'), 6);
  const cam = await h.launch({ webgpu: false, args: h.fakeCameraArgs(y4m) });
  const runs = {};
  try {
    for (const live of ['worker', 'main']) {
      const context = await cam.newContext({ viewport: { width: 1280, height: 900 } });
      await context.grantPermissions(['camera'], { origin: server.url });
      await context.addInitScript(h.instrumentMainThread);
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${server.url}/?backend=cpu${live === 'main' ? '&live=main' : ''}`);
      await page.waitForFunction(() => window.demo?.assessor && !document.getElementById('start').disabled, null, { timeout: 120000 });
      const loading = await page.evaluate(() => ({ ...window.__mainThread, longTasks: window.__mainThread.longTasks.length }));
      const r = await h.liveDemoSession(page, 10000);
      runs[live] = { loading, ...r, errors };
      console.log(
        `${live} mode, ${r.seconds.toFixed(1)} s: ${r.stats.frames} guidance updates (${r.meanGuidancePerSec.toFixed(1)}/s)` +
          (r.stats.ms ? `, ${r.stats.qualities} qualities (${r.meanQualityPerSec.toFixed(1)}/s), ${r.stats.candidates} candidates, ${r.stats.dropped} dropped; ms ${JSON.stringify(Object.fromEntries(Object.entries(r.stats.ms).map(([k, v]) => [k, +v.toFixed(2)])))}` : '') +
          `; main thread: ${JSON.stringify(r.counts)}; long tasks ${r.longTasks.count}, longest ${r.longTasks.longestMs.toFixed(0)} ms, total ${r.longTasks.totalMs.toFixed(0)} ms`,
      );
      await context.close();
    }
  } finally {
    await cam.close();
  }
  const { worker, main } = runs;
  // The instrumentation sees this thread's WebAssembly (the photo assessor loads here) …
  assert.ok(worker.loading.wasmInstances >= 1 && worker.loading.wasmCalls > 0, `the main thread's wasm instance is instrumented: ${JSON.stringify(worker.loading)}`);
  // … and the main-thread session's pixel reads and wasm calls.
  assert.ok(main.stats.frames > 0, 'control: the main-thread session assessed frames');
  assert.ok(main.counts.getImageData + main.counts.offscreen >= main.stats.frames, `control: main-thread mode reads pixels here: ${JSON.stringify(main.counts)}`);
  assert.ok(main.counts.wasmCalls > 0, 'control: main-thread mode calls WebAssembly here');
  // The worker session: frames assessed and scored, none of it on this thread.
  assert.ok(worker.stats.frames >= 10, `frames were assessed in the worker: ${worker.stats.frames}`);
  assert.ok(worker.stats.qualities > 0, 'candidates were scored in the scoring worker');
  assert.deepEqual(worker.counts, { getImageData: 0, offscreen: 0, wasmCalls: 0 }, 'worker mode: no pixel read, no wasm call on the main thread');
  for (const k of ['grab', 'transfer', 'downscale', 'assess', 'score']) assert.ok(Number.isFinite(worker.stats.ms[k]), `stage ${k} is timed`);
  assert.deepEqual(worker.errors, []);
  assert.deepEqual(main.errors, []);
});

test('a candidate scored from its aligned crop has the quality assessFrame gives the same frame', async (t) => {
  if (!h.haveAssets()) return t.skip('shared assets not found');
  const { p, errors } = await testPage();
  const r = await p.evaluate(async () => {
    const canvas = await faceCanvas(640, 480, 120, 40, 400);
    const updates = [];
    const qualities = [];
    // Full detection on every frame (no tracking), so the frame can be assessed again alike.
    const s = await grafiqs.createWorkerCaptureSession(canvas, {
      backend: 'cpu',
      redetectEvery: 1,
      onUpdate: (a, stats, f) => updates.push({ id: f.id, candidate: f.candidate, ready: a.ready, width: a.width }),
      onQuality: (q) => qualities.push(q),
    });
    s.start();
    const best = await s.captureBest({ settleMs: 1500, timeoutMs: 90000 });
    s.stop();
    const stats = s.stats;
    await s.dispose();
    const assessor = await grafiqs.createAssessor({ backend: 'cpu' });
    const a = await assessor.assessFrame(best.image);
    const scorer = await grafiqs.createScorer({ backend: 'cpu' });
    const direct = await scorer.score(best.aligned);
    const f = a.faces[0];
    const w = best.assessment.faces[0];
    return {
      frameId: best.frameId,
      worker: { quality: best.quality, scores: w.scores, landmarks: w.landmarks },
      assess: { quality: f.quality, scores: f.scores, landmarks: f.landmarks, ready: a.ready },
      direct: direct.quality,
      updates,
      qualities: qualities.map((q) => ({ frameId: q.frameId, quality: q.quality, time: q.time })),
      stats: { frames: stats.frames, qualities: stats.qualities, candidates: stats.candidates, dropped: stats.dropped },
    };
  });
  console.log(
    `quality: worker ${r.worker.quality}, assessFrame ${r.assess.quality}, scorer on the crop ${r.direct} (Δ ${Math.abs(r.worker.quality - r.assess.quality).toExponential(2)}); ` +
      `block1 ${r.worker.scores.block1} vs ${r.assess.scores.block1}; ${JSON.stringify(r.stats)}`,
  );
  assert.ok(r.assess.ready, 'the frame passes every check');
  assert.deepEqual(r.worker.landmarks, r.assess.landmarks, 'the same frame: identical landmarks');
  // assessFrame scores the aligned crop as floats; the crop crosses to the scorer as RGBA bytes
  // (rounded), which moves the quality by a fraction of a point (0.36 of 100 on this face).
  assert.ok(Math.abs(r.worker.quality - r.assess.quality) <= 1, `quality ${r.worker.quality} vs assessFrame ${r.assess.quality}`);
  for (const k of h.KINDS) assert.ok(h.rel(r.worker.scores[k], r.assess.scores[k]) <= 0.03, `${k}: ${r.worker.scores[k]} vs ${r.assess.scores[k]}`);
  assert.equal(r.direct, r.worker.quality, 'the scoring worker and a main-thread Scorer agree on the crop');
  // Every quality names a candidate frame, in frame order.
  const candidates = new Set(r.updates.filter((u) => u.candidate).map((u) => u.id));
  assert.ok(r.qualities.length > 0);
  for (const q of r.qualities) assert.ok(candidates.has(q.frameId), `quality for frame ${q.frameId}, a candidate`);
  assert.deepEqual(r.qualities.map((q) => q.frameId), [...r.qualities.map((q) => q.frameId)].sort((a, b) => a - b));
  // Stale candidates are dropped: besides scored and dropped ones, at most two wait (one being
  // scored, the newest next), however far guidance runs ahead of scoring.
  const pending = r.stats.candidates - r.stats.qualities - r.stats.dropped;
  assert.ok(pending >= 0 && pending <= 2, `candidates ${r.stats.candidates} = scored ${r.stats.qualities} + dropped ${r.stats.dropped} + ${pending} pending`);
  assert.ok(r.updates.every((u) => u.width === 640), 'a 640×480 frame is assessed at its size');
  assert.ok(r.updates.filter((u) => u.ready && !u.candidate).length >= 1, 'the first ready frame waits for a steady second one');
  assert.deepEqual(errors, []);
  await p.close();
});

test('a 12-megapixel frame is downscaled in the worker before it enters WebAssembly', async (t) => {
  if (!h.haveAssets()) return t.skip('shared assets not found');
  const { p, errors } = await testPage();
  const run = (maxSide, grab = 'auto') =>
    p.evaluate(async ([maxSide, grab]) => {
      const canvas = await faceCanvas(4000, 3000, 750, 250, 2500);
      const updates = [];
      const s = await grafiqs.createWorkerCaptureSession(canvas, {
        backend: 'cpu',
        model: null,
        maxSide,
        grab,
        onUpdate: (a, stats, f) => updates.push({ width: a.width, height: a.height, faces: a.faces.length, source: f.source, memory: stats.memory.guidance }),
      });
      const base = s.stats.memory.guidance;
      s.start();
      await new Promise((resolve) => {
        const check = setInterval(() => updates.length >= (maxSide ? 1 : 3) && (clearInterval(check), resolve()), 50);
      });
      s.stop();
      await s.dispose();
      return { base, updates };
    }, [maxSide, grab]);
  const small = await run(undefined);
  const growth = Math.max(...small.updates.map((u) => u.memory)) - small.base;
  console.log(`12 MP frames at the default working size: ${JSON.stringify(small.updates[0])}; wasm memory ${(small.base / MIB).toFixed(1)} → +${(growth / MIB).toFixed(1)} MiB`);
  assert.deepEqual(small.updates[0].source, { width: 4000, height: 3000 });
  assert.deepEqual([small.updates[0].width, small.updates[0].height], [640, 480]);
  assert.ok(small.updates.every((u) => u.faces === 1), 'the face is found at the working size');
  assert.ok(growth <= 64 * MIB, `wasm memory grew by ${(growth / MIB).toFixed(1)} MiB`);
  // Grabbed as an ImageBitmap resized by the browser: the worker gets 640×480 to begin with.
  const bitmap = await run(undefined, 'bitmap');
  const bitmapGrowth = Math.max(...bitmap.updates.map((u) => u.memory)) - bitmap.base;
  console.log(`grab: 'bitmap': ${JSON.stringify(bitmap.updates[0])}, wasm memory +${(bitmapGrowth / MIB).toFixed(1)} MiB`);
  assert.deepEqual([bitmap.updates[0].source, bitmap.updates[0].width, bitmap.updates[0].faces], [{ width: 4000, height: 3000 }, 640, 1]);
  assert.ok(bitmapGrowth <= 64 * MIB);
  // Control: the same frame at full size grows memory far beyond the bound.
  const full = await run(4000);
  const fullGrowth = Math.max(...full.updates.map((u) => u.memory)) - full.base;
  console.log(`the same frame with maxSide 4000: ${full.updates[0].width}×${full.updates[0].height}, wasm memory +${(fullGrowth / MIB).toFixed(1)} MiB`);
  assert.equal(full.updates[0].width, 4000);
  assert.ok(fullGrowth > 64 * MIB, 'control: without the downscale the bound is exceeded');
  assert.deepEqual(errors, []);
  await p.close();
});

test('worker sessions: captureBest() always settles; errors carry codes', async () => {
  const { p, errors } = await testPage();
  const res = await p.evaluate(async () => {
    const out = {};
    const code = async (f) => {
      try {
        await f();
        return 'ok';
      } catch (e) {
        return `${e.name}:${e.code}`;
      }
    };
    out.badBackend = await code(() => grafiqs.createWorkerCaptureSession(null, { backend: 'tpu' }));
    out.badGrab = await code(() => grafiqs.createWorkerCaptureSession(null, { grab: 'pixels' }));
    out.badSide = await code(() => grafiqs.createWorkerCaptureSession(null, { maxSide: 4 }));
    out.badModel = await code(() => grafiqs.createWorkerCaptureSession(null, { model: '/pkg/missing.grafiqs', backend: 'cpu' }));
    const blank = document.createElement('canvas');
    blank.width = 320;
    blank.height = 240;
    blank.getContext('2d').fillRect(0, 0, 320, 240);
    const seen = [];
    let s = await grafiqs.createWorkerCaptureSession(null, { backend: 'cpu', model: null, onError: (e) => seen.push(e.code) });
    out.noVideo = await code(() => s.start());
    out.notRunning = await settle(s.captureBest(), 1000);
    s.start(blank);
    let t0 = performance.now();
    let pending = s.captureBest();
    setTimeout(() => s.stop(), 300);
    out.stop = await settle(pending);
    out.stopMs = performance.now() - t0;
    s.start();
    t0 = performance.now();
    out.timeout = await settle(s.captureBest({ timeoutMs: 300 }));
    out.timeoutMs = performance.now() - t0;
    out.stillRunning = s.running;
    out.frames = s.stats.frames;
    pending = s.captureBest();
    const disposing = s.dispose();
    out.dispose = await settle(pending);
    await disposing;
    out.restart = await code(() => s.start());
    out.backendAfter = s.backend;
    // A source that cannot be snapshot: each failure is reported with a code; the session goes on.
    const empty = document.createElement('canvas');
    empty.width = 0;
    s = await grafiqs.createWorkerCaptureSession(empty, { backend: 'cpu', model: null, onError: (e) => seen.push(e.code) });
    s.start();
    await new Promise((r) => setTimeout(r, 300));
    out.runningAfterBadSource = s.running;
    await s.dispose();
    out.errorCodes = [...new Set(seen)];
    return out;
  });
  console.log(JSON.stringify(res));
  assert.equal(res.badBackend, 'TypeError:invalid_option');
  assert.equal(res.badGrab, 'TypeError:invalid_option');
  assert.equal(res.badSide, 'RangeError:invalid_option');
  assert.equal(res.badModel, 'Error:model_http');
  assert.equal(res.noVideo, 'TypeError:invalid_option');
  assert.equal(res.notRunning, 'resolved:null', 'not running: resolves at once');
  assert.equal(res.stop, 'resolved:null');
  assert.ok(res.stopMs < 2000, `stop() settles promptly (${res.stopMs} ms)`);
  assert.equal(res.timeout, 'resolved:null');
  assert.ok(res.timeoutMs >= 290 && res.timeoutMs < 3000, `timeoutMs honoured (${res.timeoutMs} ms)`);
  assert.equal(res.stillRunning, true, 'a timeout ends the wait, not the session');
  assert.ok(res.frames >= 1, 'the blank canvas was assessed');
  assert.equal(res.dispose, 'resolved:null');
  assert.equal(res.restart, 'Error:disposed');
  assert.equal(res.backendAfter, 'disposed');
  assert.equal(res.runningAfterBadSource, true);
  assert.deepEqual(res.errorCodes, ['invalid_image']);
  assert.deepEqual(errors, []);
  await p.close();
});
