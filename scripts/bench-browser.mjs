#!/usr/bin/env node
// Browser benchmark in headless Chromium (WebGPU on SwiftShader, and the CPU fallback):
// serves www/bench.html with the built package, converted models and the shared faces, prints
// the results as JSON and a Markdown table. Run after `make pkg` (see `make bench-browser`).
// In the same page and run, the same GraFIQs computation in TensorFlow.js (www/tfjs-grafiqs.js,
// WebAssembly backend with SIMD, one thread; the packages are the browser tests'
// devDependencies, served from tests/browser/node_modules); TFJS=0 skips it.
import { cp, mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import * as h from '../tests/browser/harness.mjs';

const www = path.join(h.root, 'www');
await mkdir(path.join(www, 'pkg'), { recursive: true });
await cp(h.pkgDir, path.join(www, 'pkg'), { recursive: true });
const prep = await h.prepare();
const mounts = { '/models/': prep.gen, '/': www };
let faces = '';
let frame = '';
if (prep.mobilefacenet) {
  mounts['/faces/'] = path.join(h.assets, 'faces/aligned-112');
  faces = prep.mobilefacenet.results.map((r) => `/faces/${path.basename(r.path)}`).join(',');
  mounts['/lfw/'] = path.join(h.assets, 'faces/lfw-colour');
  frame = '/lfw/Alberto_Fujimori_0001.jpg';
  h.grafiqs('convert', '--weights', path.join(h.assets, 'models/insightface-mobilefacenet-y1/model-0000.params'), '--backbone', 'mobilefacenet', '--out', path.join(prep.gen, 'mobilefacenet-f16.grafiqs'), '--f16');
}
// BENCH_MODEL=shipped (default): the model the package ships; insightface: the research
// MobileFaceNet converted from the shared assets (when present).
const model =
  process.env.BENCH_MODEL === 'insightface' && prep.mobilefacenet ? '/models/mobilefacenet-f16.grafiqs' : '/pkg/foamliu-mobilefacenet.grafiqs';
// TF.js: each package's dist folder (UMD builds, and the backend's .wasm binaries).
const tfjsPackages = ['tfjs-core', 'tfjs-backend-wasm', 'tfjs-backend-cpu'];
let tfjs = process.env.TFJS !== '0';
for (const name of tfjsPackages) {
  const dist = path.join(h.here, 'node_modules/@tensorflow', name, 'dist');
  if (existsSync(dist)) mounts[`/tfjs/${name}/`] = dist;
  else if (tfjs) {
    console.log(`TF.js comparison skipped: ${dist} is missing (npm ci in tests/browser)`);
    tfjs = false;
  }
}
const server = await h.serve(mounts);
const browser = await h.launch({ webgpu: true, args: ['--enable-precise-memory-info'] });
const reps = process.env.REPS ?? 5;
const soak = process.env.SOAK ?? 1000;
// SwiftShader (the software WebGPU adapter of headless Chromium) is slow: fewer soak scores.
const soakGpu = process.env.SOAK_WEBGPU ?? 200;
try {
  // LIVE=only: just the live-camera measurement below.
  if (process.env.LIVE !== 'only') await benchPage();
  await browser.close();
  // The demo's live camera on Chromium's fake camera (a Y4M made from a shared face photo), 10 s
  // in each mode: guidance and quality in workers, and everything on the main thread; rates
  // (means over the 10 s, which run through the clean segment and into the dark one),
  // per-stage times and the long tasks of the main thread. LIVE=0 skips it.
  if (process.env.LIVE !== '0' && h.haveAssets()) await benchLive();
} finally {
  await browser.close();
  await server.close();
}

async function benchPage() {
  const page = await browser.newPage();
  page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
  await page.goto(`${server.url}/bench.html?auto&model=${model}&soakModel=/models/tiny.grafiqs&faces=${faces}&reps=${reps}&soak=${soak}&soak_webgpu=${soakGpu}&frame=${frame}&backends=${process.env.BACKENDS ?? 'webgpu,cpu'}&tfjs=${tfjs ? 1 : 0}`);
  await page.waitForFunction(() => window.benchResult, null, { timeout: 0, polling: 1000 });
  const r = await page.evaluate(() => window.benchResult);
  const wasm = await readFile(path.join(h.pkgDir, 'grafiqs_wasm_bg.wasm'));
  r.wasmBytes = wasm.length;
  r.wasmGzipBytes = gzipSync(wasm, { level: 9 }).length;
  if (existsSync(path.join(prep.gen, 'mobilefacenet-f16.grafiqs'))) r.modelF16Bytes = (await stat(path.join(prep.gen, 'mobilefacenet-f16.grafiqs'))).size;
  console.log(JSON.stringify(r, null, 2));
  console.log(`\nadapter: ${JSON.stringify(r.adapter)}; wasm ${r.wasmBytes} B (${r.wasmGzipBytes} B gzip); model f16 ${r.modelF16Bytes ?? 'n/a'} B; wasm init ${r.wasmInitMs.toFixed(0)} ms`);
  console.log('| backend | model load ms | first score ms | batch 1 ms/face | batch 8 ms/face | 640×480 frame ms | guidance full ms | guidance tracked (window) ms | guidance tracked (refine) ms | soak ms/score | JS heap start → end (MB) | device pool start → end (MB) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const mb = (v) => (v == null ? 'n/a' : (v / 1e6).toFixed(1));
  for (const [b, x] of Object.entries(r.backends)) {
    if (x.error) {
      console.log(`| ${b} | ${x.error} |`);
      continue;
    }
    const s = x.soak ?? {};
    const heapEnd = s.jsHeapEvery100?.at(-1);
    console.log(`| ${b} | ${x.loadMs.toFixed(0)} | ${x.firstScoreMs.toFixed(0)} | ${x.batch1MsPerFace.toFixed(1)} | ${x.batch8MsPerFace.toFixed(1)} | ${x.frameMs?.toFixed(0) ?? 'n/a'} | ${x.guidanceFullMs?.toFixed(1) ?? 'n/a'} | ${x.guidanceTrackedMs?.toFixed(1) ?? 'n/a'} | ${x.guidanceRefinedMs?.toFixed(1) ?? 'n/a'} | ${s.msPerScore?.toFixed(1) ?? 'n/a'} | ${mb(s.jsHeapStart)} → ${mb(heapEnd)} | ${mb(s.devicePoolStart?.reserved)} → ${mb(s.devicePoolEnd?.reserved)} |`);
  }
  if (tfjs) printTfjs(r);
}

/** grafiqs (CPU path) against TF.js on the same faces, batch 1, same page and run. */
function printTfjs(r) {
  if (r.tfjsError || r.tfjsMs == null) {
    console.log(`\nTF.js comparison failed: ${r.tfjsError ?? 'no result'}`);
    return;
  }
  const flavour = r.tfjsBackend === 'wasm' ? `wasm${r.tfjsSimd ? ' SIMD' : ' without SIMD'}, ${r.tfjsThreads} thread${r.tfjsThreads === 1 ? '' : 's'}` : r.tfjsBackend;
  const cpu = r.backends.cpu;
  const f = (v, d = 1) => (v == null ? 'n/a' : v.toFixed(d));
  console.log(`\ngrafiqs CPU vs TF.js ${r.tfjsVersion} (${flavour}), batch 1, same faces (${r.tfjsReps} scores each):`);
  console.log('| implementation | first score ms | mean ms/face | median ms/face | max rel. score diff vs grafiqs CPU |');
  console.log('|---|---|---|---|---|');
  if (cpu && !cpu.error) console.log(`| grafiqs CPU (wasm) | ${f(cpu.firstScoreMs, 0)} | ${f(cpu.batch1MeanMsPerFace)} | ${f(cpu.batch1MsPerFace)} | — |`);
  const diff = r.tfjsMaxRelDiff == null ? 'n/a' : `${r.tfjsMaxRelDiff.toExponential(2)} (${r.tfjsFacesCompared} faces, vs ${r.tfjsComparedWith})`;
  console.log(`| TF.js (${flavour}) | ${f(r.tfjsFirstScoreMs, 0)} | ${f(r.tfjsMs)} | ${f(r.tfjsMedianMs)} | ${diff} |`);
  if (cpu?.batch1MeanMsPerFace) console.log(`grafiqs CPU / TF.js, mean ms/face: ${(cpu.batch1MeanMsPerFace / r.tfjsMs).toFixed(2)}×`);
}

async function benchLive() {
  // A 30 frames/s camera (CAMERA_FPS), so that the guidance rate is the pipeline's, not the camera's.
  const fps = Number(process.env.CAMERA_FPS ?? 30);
  const y4m = h.fakeCameraVideo(path.join(await mkdtemp(path.join(tmpdir(), 'grafiqs-bench-')), 'camera.y4m'), 6, fps);
  const cam = await h.launch({ webgpu: false, args: h.fakeCameraArgs(y4m) });
  try {
    console.log(`\n| live camera (CPU, 640×480 at ${fps} frames/s, 10 s) | guidance/s | quality/s | grab ms | transfer ms | downscale ms | assess ms | score ms | long tasks | longest ms | long-task ms total |`);
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    // Workers with the default tracking (a window around the previous face) and with
    // `trackMode: "refine"` (the demo's `?track=refine`); the main thread as the control.
    for (const live of ['worker', 'worker-refine', 'main']) {
      const context = await cam.newContext();
      await context.grantPermissions(['camera'], { origin: server.url });
      await context.addInitScript(h.instrumentMainThread);
      const page = await context.newPage();
      const query = { worker: '', 'worker-refine': '&track=refine', main: '&live=main' }[live];
      await page.goto(`${server.url}/?backend=cpu${query}`);
      await page.waitForFunction(() => window.demo?.assessor && !document.getElementById('start').disabled, null, { timeout: 120000 });
      const r = await h.liveDemoSession(page, 10000);
      const m = r.stats.ms ?? {};
      const f = (v) => (v == null ? 'n/a' : v.toFixed(1));
      const label = { worker: 'workers', 'worker-refine': 'workers, `trackMode: "refine"`', main: 'main thread' }[live];
      console.log(`| ${label} | ${r.meanGuidancePerSec.toFixed(1)} | ${r.meanQualityPerSec?.toFixed(1) ?? 'every frame'} | ${f(m.grab)} | ${f(m.transfer)} | ${f(m.downscale)} | ${f(m.assess)} | ${f(m.score)} | ${r.longTasks.count} | ${r.longTasks.longestMs.toFixed(0)} | ${r.longTasks.totalMs.toFixed(0)} |`);
      await context.close();
    }
  } finally {
    await cam.close();
  }
}
