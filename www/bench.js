// Browser benchmark: timings per backend and batch size, first load, memory growth; with
// ?tfjs=1 the same GraFIQs computation in TensorFlow.js (tfjs-grafiqs.js) on the same faces.
import { createAssessor, createScorer, initialize, toRgba } from './pkg/grafiqs.js';
import { createTfjsScorer, initBackend } from './tfjs-grafiqs.js';

const q = new URLSearchParams(location.search);
const log = (s) => {
  document.getElementById('log').textContent += `${s}\n`;
  console.log(s);
};
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const SCORE_KEYS = ['image', 'block1', 'block2', 'block3', 'block4'];

async function face(url) {
  const bmp = await createImageBitmap(await (await fetch(url)).blob());
  return toRgba(bmp);
}

function syntheticFace(seed) {
  const d = new Uint8Array(112 * 112 * 4);
  for (let i = 0; i < 112 * 112; i++) {
    const x = i % 112, y = (i / 112) | 0;
    const v = 128 + 60 * Math.sin((x + seed) / 9) * Math.cos((y - seed) / 11);
    d.set([v, v * 0.8, v * 0.7, 255], i * 4);
  }
  return { data: d, width: 112, height: 112 };
}

export async function run() {
  const model = q.get('model') ?? 'models/mobilefacenet.grafiqs';
  const soakModel = q.get('soakModel') ?? model;
  const reps = Number(q.get('reps') ?? 5);
  const soak = Number(q.get('soak') ?? 1000);
  const backends = (q.get('backends') ?? 'webgpu,cpu').split(',');
  const faceUrls = q.get('faces')?.split(',').filter(Boolean) ?? [];
  const result = { userAgent: navigator.userAgent, model, backends: {} };
  // Raw scores per backend and face index, for the TF.js comparison.
  const scored = {};

  let t = performance.now();
  await initialize();
  result.wasmInitMs = performance.now() - t;
  const faces = faceUrls.length ? await Promise.all(faceUrls.map(face)) : [0, 1, 2, 3, 4, 5, 6, 7].map(syntheticFace);
  while (faces.length < 8) faces.push(faces[faces.length % faceUrls.length || 0]);
  if (navigator.gpu) {
    const a = await navigator.gpu.requestAdapter();
    result.adapter = a ? { vendor: a.info.vendor, architecture: a.info.architecture, description: a.info.description } : null;
  }

  for (const backend of backends) {
    const r = {};
    t = performance.now();
    let s;
    try {
      s = await createScorer({ model, backend });
    } catch (e) {
      result.backends[backend] = { error: e.message };
      log(`${backend}: ${e.message}`);
      continue;
    }
    r.loadMs = performance.now() - t;
    const mine = (scored[backend] = []);
    t = performance.now();
    mine[0] = (await s.score(faces[0])).scores;
    r.firstScoreMs = performance.now() - t;
    for (const batch of [1, 8]) {
      const times = [];
      for (let i = 0; i < reps; i++) {
        t = performance.now();
        if (batch === 1) {
          const one = await s.score(faces[i % faces.length]);
          times.push(performance.now() - t);
          mine[i % faces.length] ??= one.scores;
        } else {
          const all = await s.scoreBatch(faces.slice(0, 8));
          times.push((performance.now() - t) / batch);
          all.forEach((x, j) => (mine[j] ??= x.scores));
        }
      }
      r[`batch${batch}MsPerFace`] = median(times);
      if (batch === 1) r.batch1MeanMsPerFace = mean(times);
      log(`${backend} batch ${batch}: ${median(times).toFixed(1)} ms/face (median of ${reps})`);
    }
    s.dispose();

    // Full frame pipeline: detect + align + guidance + GraFIQs on a 640×480 frame.
    const frameUrl = q.get('frame');
    if (frameUrl) {
      const img = await createImageBitmap(await (await fetch(frameUrl)).blob());
      const c = new OffscreenCanvas(640, 480);
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#808080';
      ctx.fillRect(0, 0, 640, 480);
      ctx.drawImage(img, (640 - img.width) / 2, (480 - img.height) / 2);
      const frame = ctx.getImageData(0, 0, 640, 480);
      const a = await createAssessor({ backend, model });
      const first = await a.assessFrame(frame);
      const times = [];
      for (let i = 0; i < reps; i++) {
        t = performance.now();
        await a.assessFrame(frame);
        times.push(performance.now() - t);
      }
      r.frameMs = median(times);
      r.frameFaces = first.faces.length;
      log(`${backend} frame pipeline 640x480: ${r.frameMs.toFixed(0)} ms (${(1000 / r.frameMs).toFixed(1)} frames/s), ${first.faces.length} face(s)`);
      // Guidance only (no GraFIQs), full detection on every frame vs tracked (a full detection
      // every 10th frame, as a video would run it), by the default window and by refinement.
      const refiner = await createAssessor({ backend, model: null, trackMode: 'refine' });
      for (const [key, track, by, label] of [
        ['guidanceFullMs', false, a, 'full detection'],
        ['guidanceTrackedMs', true, a, 'tracked (window)'],
        ['guidanceRefinedMs', true, refiner, 'tracked (refine)'],
      ]) {
        const times = [];
        by.resetTrack();
        for (let i = 0; i < Math.max(reps, 20); i++) {
          t = performance.now();
          await by.assessFrame(frame, { score: false, crops: false, track });
          times.push(performance.now() - t);
        }
        r[key] = times.reduce((x, y) => x + y, 0) / times.length;
        log(`${backend} guidance 640x480 ${label}: ${r[key].toFixed(1)} ms/frame (mean of ${times.length})`);
      }
      refiner.dispose();
      a.dispose();
    }

    const soakN = Number(q.get(`soak_${backend}`) ?? soak);
    if (soakN > 0) {
      const m = await createScorer({ model: soakModel, backend });
      await m.score(faces[0]);
      const heap0 = performance.memory?.usedJSHeapSize;
      const gpu0 = m.memoryUsage();
      const heaps = [];
      t = performance.now();
      for (let i = 0; i < soakN; i++) {
        await m.score(faces[i % faces.length]);
        if (i % 100 === 99) heaps.push(performance.memory?.usedJSHeapSize ?? null);
      }
      r.soak = {
        scores: soakN,
        model: soakModel,
        msPerScore: (performance.now() - t) / soakN,
        jsHeapStart: heap0 ?? null,
        jsHeapEvery100: heaps,
        devicePoolStart: gpu0,
        devicePoolEnd: m.memoryUsage(),
      };
      log(`${backend} soak: ${JSON.stringify(r.soak)}`);
      m.dispose();
    }
    result.backends[backend] = r;
    log(`${backend}: load ${r.loadMs.toFixed(0)} ms, first score ${r.firstScoreMs.toFixed(0)} ms`);
  }
  if (q.get('tfjs') === '1') {
    try {
      await benchTfjs(result, { model, faces, reps, scored });
    } catch (e) {
      result.tfjsError = e.message;
      log(`TF.js: ${e.message}`);
    }
  }
  window.benchResult = result;
  return result;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(el);
  });
}

/**
 * The same GraFIQs computation in TensorFlow.js (www/tfjs-grafiqs.js) on the same model and
 * faces: backend initialisation, model build, first score (warm-up), then the mean ms/face at
 * batch 1 over `reps` scores, as the package's batch-1 loop; and the largest relative
 * difference between TF.js's and the package's raw scores (its CPU path when it ran) for the
 * faces both scored. TF.js's UMD builds are loaded from `tfjsBase` (default /tfjs/: one folder
 * per package, its `dist`); the WebAssembly backend by default (`tfjsBackend=cpu`: TF.js's
 * plain-JS backend), SIMD, one thread.
 */
async function benchTfjs(result, { model, faces, reps, scored }) {
  const base = q.get('tfjsBase') ?? '/tfjs/';
  const backend = q.get('tfjsBackend') ?? 'wasm';
  let t = performance.now();
  await loadScript(`${base}tfjs-core/tf-core.es2017.min.js`);
  await loadScript(backend === 'wasm' ? `${base}tfjs-backend-wasm/tf-backend-wasm.es2017.min.js` : `${base}tfjs-backend-cpu/tf-backend-cpu.es2017.min.js`);
  const tf = window.tf;
  const info = await initBackend(tf, { backend, wasmPaths: `${base}tfjs-backend-wasm/`, threads: 1 });
  Object.assign(result, { tfjsVersion: tf.version_core, tfjsBackend: info.backend, tfjsSimd: info.simd, tfjsThreads: info.threads });
  result.tfjsInitMs = performance.now() - t;
  t = performance.now();
  const s = createTfjsScorer(tf, new Uint8Array(await (await fetch(model)).arrayBuffer()));
  result.tfjsLoadMs = performance.now() - t;
  const mine = [];
  t = performance.now();
  mine[0] = await s.score(faces[0]);
  result.tfjsFirstScoreMs = performance.now() - t;
  const tensors = tf.memory().numTensors;
  const times = [];
  for (let i = 0; i < reps; i++) {
    const one = await s.score(faces[i % faces.length]);
    times.push(one.ms);
    mine[i % faces.length] ??= one;
  }
  result.tfjsMs = mean(times);
  result.tfjsMedianMs = median(times);
  result.tfjsReps = reps;
  result.tfjsTensorsLeaked = tf.memory().numTensors - tensors;
  // Agreement with the package on every face it scored (the CPU path's scores when it ran).
  const against = scored.cpu ? 'cpu' : Object.keys(scored)[0];
  const ref = scored[against] ?? [];
  let worst = 0;
  let compared = 0;
  for (let i = 0; i < faces.length; i++) {
    if (!ref[i]) continue;
    mine[i] ??= await s.score(faces[i]);
    for (const k of SCORE_KEYS) worst = Math.max(worst, Math.abs(mine[i][k] - ref[i][k]) / Math.abs(ref[i][k]));
    compared++;
  }
  result.tfjsMaxRelDiff = compared ? worst : null;
  result.tfjsComparedWith = compared ? against : null;
  result.tfjsFacesCompared = compared;
  s.dispose();
  log(`TF.js ${tf.version_core} (${info.backend}${info.simd ? ' SIMD' : ''}, ${info.threads} thread${info.threads === 1 ? '' : 's'}): first score ${result.tfjsFirstScoreMs.toFixed(0)} ms, ${result.tfjsMs.toFixed(1)} ms/face (mean of ${reps}), max rel. diff vs grafiqs ${against ?? 'n/a'} ${compared ? worst.toExponential(2) : 'n/a'} (${compared} faces)`);
}

document.getElementById('run').onclick = () => run();
if (q.has('auto')) run().catch((e) => { window.benchResult = { error: e.message }; log(e.message); });
