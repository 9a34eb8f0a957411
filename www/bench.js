// Browser benchmark: timings per backend and batch size, first load, memory growth.
import { createAssessor, createScorer, initialize, toRgba } from './pkg/grafiqs.js';

const q = new URLSearchParams(location.search);
const log = (s) => {
  document.getElementById('log').textContent += `${s}\n`;
  console.log(s);
};
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

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
    t = performance.now();
    await s.score(faces[0]);
    r.firstScoreMs = performance.now() - t;
    for (const batch of [1, 8]) {
      const times = [];
      for (let i = 0; i < reps; i++) {
        t = performance.now();
        if (batch === 1) await s.score(faces[i % faces.length]);
        else await s.scoreBatch(faces.slice(0, 8));
        times.push((performance.now() - t) / batch);
      }
      r[`batch${batch}MsPerFace`] = median(times);
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
      // every 10th frame, as a video would run it).
      for (const [key, track] of [['guidanceFullMs', false], ['guidanceTrackedMs', true]]) {
        const times = [];
        a.resetTrack();
        for (let i = 0; i < Math.max(reps, 20); i++) {
          t = performance.now();
          await a.assessFrame(frame, { score: false, crops: false, track });
          times.push(performance.now() - t);
        }
        r[key] = times.reduce((x, y) => x + y, 0) / times.length;
        log(`${backend} guidance 640x480 ${track ? 'tracked' : 'full detection'}: ${r[key].toFixed(1)} ms/frame (mean of ${times.length})`);
      }
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
  window.benchResult = result;
  return result;
}

document.getElementById('run').onclick = () => run();
if (q.has('auto')) run().catch((e) => { window.benchResult = { error: e.message }; log(e.message); });
