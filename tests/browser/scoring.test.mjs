// The npm package in real Chromium: WebGPU (SwiftShader adapter) and the CPU fallback give the
// native results; fallback, lost devices, bad input and dispose behave as documented.
//
// Tolerance: the browser and native runs are both f32; rel ≤ 1e-3 on each score (the same bound
// as native vs the float64 PyTorch reference), max-abs ≤ 1e-4 on embeddings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import * as h from './harness.mjs';

let prep;
let server;
let gpuBrowser;
const TOL = 1e-3;

before(async () => {
  prep = await h.prepare();
  const mounts = { '/pkg/': h.pkgDir, '/fixtures/': h.fixtures, '/gen/': prep.gen, '/': path.join(h.here, 'pages') };
  if (prep.mobilefacenet) mounts['/assets/'] = h.assets;
  server = await h.serve(mounts);
  gpuBrowser = await h.launch({ webgpu: true });
});

after(async () => {
  await gpuBrowser?.close();
  await server?.close();
});

async function page(browser = gpuBrowser, init) {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  if (init) await p.addInitScript(init);
  await p.goto(`${server.url}/`);
  await p.waitForFunction(() => window.grafiqs);
  return { p, errors };
}

function compare(label, got, want, { embedding = true } = {}) {
  let worst = 0;
  for (const k of h.KINDS) {
    const r = h.rel(got.scores[k], want.scores[k]);
    worst = Math.max(worst, r);
    assert.ok(r <= TOL, `${label} ${k}: ${got.scores[k]} vs native ${want.scores[k]} (rel ${r.toExponential(2)})`);
  }
  if (embedding && want.embedding) {
    const e = Math.max(...got.embedding.map((v, i) => Math.abs(v - want.embedding[i])));
    assert.ok(e <= 1e-4, `${label} embedding max-abs ${e}`);
  }
  return worst;
}

// The CPU path runs in both of the package's builds: the default one here (Chromium has relaxed
// SIMD: fused multiply-add in the kernels) and the plain-SIMD one other engines load.
const RUNS = [
  ['webgpu', 'relaxed-simd'],
  ['cpu', 'relaxed-simd'],
  ['cpu', 'simd'],
];

/** Loads `build` of the module into the page (before anything else loads the default). */
async function load(p, build) {
  const got = await p.evaluate(async (build) => {
    if (build === 'simd') await grafiqs.initialize({ wasm: '/pkg/grafiqs_wasm_bg.wasm' });
    return { build: await grafiqs.wasmBuild(), relaxed: grafiqs.relaxedSimdAvailable() };
  }, build);
  assert.ok(got.relaxed, 'Chromium has relaxed SIMD');
  assert.equal(got.build, build);
}

/** Scores the four tiny fixture PNGs singly and as a batch on `backend`, in the page. */
async function scoreTiny(p, backend) {
  return p.evaluate(async (backend) => {
    const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend });
    const imgs = await Promise.all([0, 1, 2, 3].map((i) => rgbaOf(`/fixtures/tiny_img${i}.png`)));
    const single = [];
    for (const img of imgs) {
      const r = await s.score(img, { embedding: true });
      single.push({ ...r, embedding: Array.from(r.embedding) });
    }
    const batch = await s.scoreBatch(imgs);
    const backendUsed = s.backend;
    s.dispose();
    return { backendUsed, single, batch };
  }, backend);
}

for (const [backend, build] of RUNS) {
  test(`tiny iResNet on ${backend} (${build} build) matches native and the PyTorch reference`, async () => {
    const { p, errors } = await page();
    await load(p, build);
    if (backend === 'webgpu') {
      const adapter = await p.evaluate(async () => {
        const a = await navigator.gpu?.requestAdapter();
        return a ? { vendor: a.info.vendor, architecture: a.info.architecture, description: a.info.description } : null;
      });
      assert.ok(adapter, 'a WebGPU adapter must be granted');
      console.log(`WebGPU adapter: ${JSON.stringify(adapter)}`);
    }
    const res = await scoreTiny(p, backend);
    assert.equal(res.backendUsed, backend);
    const reference = JSON.parse(await readFile(path.join(h.fixtures, 'tiny_expected.json'), 'utf8'));
    let worst = 0;
    res.single.forEach((r, i) => {
      assert.equal(r.backend, backend);
      worst = Math.max(worst, compare(`[${backend}] tiny_img${i}`, r, prep.tiny.results[i]));
      const ref = reference.cases.find((c) => c.file === `tiny_img${i}.png` && !c.bgr);
      compare(`[${backend}] tiny_img${i} vs reference`, r, ref, { embedding: false });
      compare(`[${backend}] batch ${i}`, res.batch[i], r, { embedding: false });
      assert.ok(r.quality >= 0 && r.quality <= 100 && r.calibrated === false);
    });
    console.log(`tiny [${backend}, ${build}] worst rel vs native: ${worst.toExponential(2)}`);
    assert.deepEqual(errors, []);
    await p.close();
  });
}

for (const [backend, build] of RUNS) {
  test(`real MobileFaceNet on ${backend} (${build} build) matches native on the aligned faces`, async (t) => {
    if (!prep.mobilefacenet) return t.skip('shared assets not found');
    const { p } = await page();
    await load(p, build);
    const files = prep.mobilefacenet.results.map((r) => path.basename(r.path));
    const res = await p.evaluate(
      async ({ backend, files }) => {
        const s = await grafiqs.createScorer({ model: '/gen/mobilefacenet.grafiqs', backend });
        const out = [];
        for (const f of files) out.push(await s.score(await bytesOf(`/assets/faces/aligned-112/${f}`)));
        // The same faces through the pixel path, decoded by the browser, as one batch.
        const imgs = [];
        for (const f of files) {
          const bmp = await createImageBitmap(await (await fetch(`/assets/faces/aligned-112/${f}`)).blob());
          imgs.push(grafiqs.toRgba(bmp));
        }
        const viaCanvas = await s.scoreBatch(imgs);
        s.dispose();
        return { out, viaCanvas };
      },
      { backend, files },
    );
    let worst = 0;
    let canvasWorst = 0;
    res.out.forEach((r, i) => {
      assert.equal(r.backend, backend);
      worst = Math.max(worst, compare(`[${backend}] ${files[i]}`, r, prep.mobilefacenet.results[i], { embedding: false }));
      for (const k of h.KINDS) canvasWorst = Math.max(canvasWorst, h.rel(res.viaCanvas[i].scores[k], r.scores[k]));
    });
    console.log(
      `mobilefacenet [${backend}, ${build}] worst rel vs native: ${worst.toExponential(2)}; ` +
        `browser-decoded JPEG pixels vs exact decoder: worst rel ${canvasWorst.toExponential(2)}`,
    );
    await p.close();
  });
}

test('with WebGPU disabled, backend "auto" falls back to the CPU and says why', async () => {
  const browser = await h.launch({ webgpu: false });
  try {
    for (const removeApi of [false, true]) {
      // removeApi: a browser without the WebGPU API at all (navigator.gpu undefined).
      const { p } = await page(browser, removeApi ? () => delete Navigator.prototype.gpu : undefined);
      const res = await p.evaluate(async () => {
        const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'auto' });
        const r = await s.score(await rgbaOf('/fixtures/tiny_img0.png'));
        let forced;
        try {
          await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'webgpu' });
        } catch (e) {
          forced = e.message;
        }
        return { api: 'gpu' in navigator, backend: s.backend, reason: s.fallbackReason, result: r, forced };
      });
      console.log(`WebGPU disabled (API ${res.api ? 'present' : 'absent'}): fallback reason: ${res.reason}`);
      assert.equal(res.api, !removeApi);
      assert.equal(res.backend, 'cpu');
      assert.equal(res.result.backend, 'cpu');
      assert.match(res.reason, removeApi ? /navigator\.gpu is missing/ : /WebGPU/);
      assert.match(res.forced, /WebGPU is unavailable/);
      compare('fallback tiny_img0', res.result, prep.tiny.results[0], { embedding: false });
      await p.close();
    }
  } finally {
    await browser.close();
  }
});

test('an adapter that is refused also falls back to the CPU', async () => {
  const { p } = await page(gpuBrowser, () => {
    navigator.gpu.requestAdapter = async () => null;
  });
  const res = await p.evaluate(async () => {
    const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'auto' });
    const r = await s.score(await rgbaOf('/fixtures/tiny_img1.png'));
    return { backend: s.backend, reason: s.fallbackReason, result: r };
  });
  assert.equal(res.backend, 'cpu');
  assert.ok(res.reason, 'a reason is given');
  compare('refused adapter tiny_img1', res.result, prep.tiny.results[1], { embedding: false });
  await p.close();
});

test('a lost GPU device moves scoring to the CPU', async () => {
  const { p, errors } = await page(gpuBrowser, () => {
    const orig = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (...a) {
      const d = await orig.apply(this, a);
      (window.__devices ??= []).push(d);
      return d;
    };
  });
  const res = await p.evaluate(async () => {
    const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'webgpu' });
    const img = await rgbaOf('/fixtures/tiny_img2.png');
    const before = await s.score(img);
    window.__devices.forEach((d) => d.destroy());
    const after = await s.score(img);
    const again = await s.score(img);
    return { before, after, again, backend: s.backend, devices: window.__devices.length };
  });
  assert.ok(res.devices >= 1);
  assert.equal(res.before.backend, 'webgpu');
  assert.equal(res.after.backend, 'cpu');
  assert.match(res.after.fallbackReason, /WebGPU failed/);
  assert.equal(res.again.backend, 'cpu');
  compare('after device loss', res.after, prep.tiny.results[2], { embedding: false });
  assert.deepEqual(errors, []);
  await p.close();
});

test('bad input rejects with clear errors and the page stays usable', async () => {
  const { p, errors } = await page();
  const res = await p.evaluate(async () => {
    const msg = async (f) => {
      try {
        await f();
        return 'resolved';
      } catch (e) {
        return `${e.constructor.name}: ${e.message}`;
      }
    };
    const good = await bytesOf('/gen/tiny.grafiqs');
    const out = {};
    out.garbage = await msg(() => grafiqs.createScorer({ model: new Uint8Array(1000).fill(7), backend: 'cpu' }));
    out.truncated = await msg(() => grafiqs.createScorer({ model: good.slice(0, good.length >> 1), backend: 'cpu' }));
    out.missing = await msg(() => grafiqs.createScorer({ model: '/gen/nope.grafiqs', backend: 'cpu' }));
    out.backend = await msg(() => grafiqs.createScorer({ model: good, backend: 'tpu' }));
    const out2 = {};
    for (const backend of ['cpu', 'webgpu']) {
      const s = await grafiqs.createScorer({ model: good, backend });
      const r = {};
      r.wrongSize = await msg(() => s.score({ data: new Uint8Array(100), width: 112, height: 112 }));
      r.tiny = await msg(() => s.score({ data: new Uint8Array(8 * 8 * 4), width: 8, height: 8 }));
      r.notImage = await msg(() => s.score(new Uint8Array([1, 2, 3])));
      r.emptyBatch = await msg(() => s.scoreBatch([]));
      r.valid = (await s.score(await rgbaOf('/fixtures/tiny_img0.png'))).backend;
      s.dispose();
      r.disposed = await msg(() => s.score(new Uint8Array(10)));
      r.disposedBackend = s.backend;
      out2[backend] = r;
    }
    // The module still works after all of that.
    const s = await grafiqs.createScorer({ model: good, backend: 'auto' });
    out.after = (await s.score(await rgbaOf('/fixtures/tiny_img3.png'))).scores.block1;
    return { out, out2 };
  });
  assert.match(res.out.garbage, /^Error: .*not a grafiqs model file/);
  assert.match(res.out.truncated, /truncated|checksum/);
  assert.match(res.out.missing, /HTTP 404/);
  assert.match(res.out.backend, /^TypeError: .*backend must be/);
  for (const [backend, r] of Object.entries(res.out2)) {
    assert.match(r.wrongSize, /^RangeError: .*needs 50176 bytes, got 100/, backend);
    assert.match(r.tiny, /at least 16x16/, backend);
    assert.match(r.notImage, /invalid image/, backend);
    assert.match(r.emptyBatch, /non-empty array/, backend);
    assert.equal(r.valid, backend);
    assert.match(r.disposed, /disposed/, backend);
    assert.equal(r.disposedBackend, 'disposed');
  }
  assert.ok(h.rel(res.out.after, prep.tiny.results[3].scores.block1) <= TOL);
  assert.deepEqual(errors, [], 'no uncaught errors or traps');
  await p.close();
});

test('the worker helper scores off the main thread with the same numbers', async () => {
  const { p } = await page();
  const res = await p.evaluate(async () => {
    const progress = [];
    const s = await grafiqs.createWorkerScorer({ model: '/gen/tiny.grafiqs', backend: 'cpu', onProgress: (e) => progress.push(e.phase) });
    const blob = await (await fetch('/fixtures/tiny_img0.png')).blob();
    const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const r = await s.score(bmp);
    const batch = await s.scoreBatch([await rgbaOf('/fixtures/tiny_img1.png'), await rgbaOf('/fixtures/tiny_img2.png')]);
    const encoded = await s.score(blob);
    await s.dispose();
    let after;
    try {
      await s.score(blob);
    } catch (e) {
      after = e.message;
    }
    return { backend: s.backend, r, batch, encoded, after, progress };
  });
  assert.equal(res.backend, 'cpu');
  compare('worker tiny_img0', res.r, prep.tiny.results[0], { embedding: false });
  compare('worker encoded tiny_img0', res.encoded, prep.tiny.results[0], { embedding: false });
  compare('worker batch 1', res.batch[0], prep.tiny.results[1], { embedding: false });
  compare('worker batch 2', res.batch[1], prep.tiny.results[2], { embedding: false });
  assert.match(res.after, /disposed/);
  assert.ok(res.progress.includes('model'));
  await p.close();
});

for (const backend of ['webgpu', 'cpu']) {
  test(`frame assessment on ${backend} matches native \`grafiqs assess\``, async (t) => {
    if (!prep.mobilefacenet) return t.skip('shared assets not found');
    const photo = path.join(h.assets, 'faces/lfw-colour/Alberto_Fujimori_0002.jpg');
    const native = JSON.parse(
      h.grafiqs('assess', '--json', '--model', path.join(prep.gen, 'mobilefacenet.grafiqs'), photo),
    )[0];
    const { p } = await page();
    const a = await p.evaluate(async (backend) => {
      const assessor = await grafiqs.createAssessor({ backend, detector: '/pkg/mtcnn.grafiqs', model: '/gen/mobilefacenet.grafiqs' });
      const bmp = await createImageBitmap(await (await fetch('/assets/faces/lfw-colour/Alberto_Fujimori_0002.jpg')).blob());
      const r = await assessor.assessFrame(bmp, { crops: false });
      assessor.dispose();
      return r;
    }, backend);
    assert.equal(a.backend, backend);
    assert.equal(a.faces.length, native.faces.length);
    const [f, n] = [a.faces[0], native.faces[0]];
    const px = Math.max(...f.box.map((v, i) => Math.abs(v - n.box[i])), ...f.landmarks.flatMap((p, i) => p.map((v, j) => Math.abs(v - n.landmarks[i][j]))));
    assert.ok(px <= 0.01, `box/landmarks within 0.01 px of native: ${px}`);
    assert.ok(h.rel(f.quality, n.quality) <= 1e-3, `quality ${f.quality} vs ${n.quality}`);
    for (const k of ['brightness', 'contrast', 'sharpness', 'yaw', 'roll']) {
      assert.ok(Math.abs(f.measures[k].value - n.measures[k].value) <= 1e-3 * Math.max(1, Math.abs(n.measures[k].value)), `${k}`);
    }
    // One result model: the CLI's JSON and assessFrame() have the same shape and advice.
    assert.deepEqual(a.advice, native.advice);
    assert.equal(a.ready, native.ready);
    assert.deepEqual(Object.keys(a).filter((k) => k !== 'backend').sort(), Object.keys(native).filter((k) => k !== 'path').sort());
    assert.deepEqual(Object.keys(f).sort(), Object.keys(n).sort());
    assert.deepEqual(Object.keys(f.measures).sort(), Object.keys(n.measures).sort());
    console.log(`assess [${backend}]: box/landmark max diff ${px.toExponential(2)} px, quality ${f.quality.toFixed(3)} (native ${n.quality.toFixed(3)})`);
    await p.close();
  });
}

test('models load from a URL with progress and come from the Cache API the second time', async () => {
  const { p } = await page();
  const res = await p.evaluate(async () => {
    await caches.delete('grafiqs-test');
    const load = async () => {
      const events = [];
      const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'cpu', cache: 'grafiqs-test', onProgress: (e) => events.push(e) });
      const r = await s.score(await rgbaOf('/fixtures/tiny_img0.png'));
      s.dispose();
      return { events: events.filter((e) => e.phase === 'model'), block1: r.scores.block1 };
    };
    const first = await load();
    const second = await load();
    return { first, second, cached: (await (await caches.open('grafiqs-test')).keys()).length };
  });
  const last = (x) => x.events[x.events.length - 1];
  assert.equal(last(res.first).fromCache, false);
  assert.equal(last(res.second).fromCache, true);
  assert.ok(last(res.first).loaded > 0 && last(res.first).loaded === last(res.first).total);
  assert.equal(res.cached, 1);
  assert.equal(res.first.block1, res.second.block1);
  await p.close();
});

test('backend "auto" skips a software WebGPU adapter (SwiftShader); "webgpu" still uses it', async () => {
  const { p } = await page();
  const res = await p.evaluate(async () => {
    const auto = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'auto' });
    const forced = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'webgpu' });
    const out = { auto: auto.backend, reason: auto.fallbackReason, forced: forced.backend };
    auto.dispose();
    forced.dispose();
    return out;
  });
  assert.equal(res.auto, 'cpu');
  assert.match(res.reason, /software WebGPU adapter.*swiftshader/i);
  assert.equal(res.forced, 'webgpu');
  await p.close();
});
