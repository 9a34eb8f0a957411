// Hostile conditions in real Chromium: poisoned model responses and caches, integrity, cache
// versions, promises that must settle (capture sessions, dispose in flight, the worker), per-call
// options of the shared assessFrame(), a trapped wasm module that must be re-created, and input
// limits that keep memory bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

let prep;
let server;
let browser;
let poison; // a served folder whose files the tests rewrite between loads
let tinyBytes;
let tinyF16Bytes;

before(async () => {
  prep = await h.prepare();
  h.grafiqs('convert', '--weights', path.join(h.fixtures, 'tiny_iresnet.pth'), '--backbone', 'iresnet', '--out', path.join(prep.gen, 'tiny-f16.grafiqs'), '--f16');
  tinyBytes = await readFile(path.join(prep.gen, 'tiny.grafiqs'));
  tinyF16Bytes = await readFile(path.join(prep.gen, 'tiny-f16.grafiqs'));
  poison = await mkdtemp(path.join(tmpdir(), 'grafiqs-poison-'));
  const mounts = { '/pkg/': h.pkgDir, '/fixtures/': h.fixtures, '/gen/': prep.gen, '/poison/': poison, '/': path.join(h.here, 'pages') };
  if (h.haveAssets()) mounts['/assets/'] = h.assets;
  server = await h.serve(mounts);
  browser = await h.launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function page() {
  const p = await browser.newPage();
  const errors = [];
  const warnings = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
  });
  await p.goto(`${server.url}/`);
  await p.waitForFunction(() => window.grafiqs);
  // settle(promise, ms): 'resolved:<json>' | 'rejected:<code>:<message>' | 'HUNG'
  await p.evaluate(() => {
    window.settle = (promise, ms = 10000) =>
      Promise.race([
        Promise.resolve(promise).then(
          (v) => `resolved:${JSON.stringify(v === undefined ? null : v)?.slice(0, 200)}`,
          (e) => `rejected:${e?.code ?? ''}:${e?.message ?? e}`,
        ),
        new Promise((r) => setTimeout(() => r('HUNG'), ms)),
      ]);
  });
  return { p, errors, warnings };
}

const poisonFile = (name, bytes) => writeFile(path.join(poison, name), bytes);
const sha256 = (b) => createHash('sha256').update(b).digest();

test('model loading: HTML, JSON and truncated responses are named and never cached; a poisoned cache heals', async () => {
  const html = '<!doctype html>\n<html><head><title>My App</title></head><body><div id="root"></div></body></html>\n';
  await poisonFile('spa.grafiqs', html);
  await poisonFile('error.grafiqs', '{"error":"not found"}');
  await poisonFile('truncated.grafiqs', tinyBytes.subarray(0, tinyBytes.length >> 1));
  await poisonFile('model.grafiqs', tinyBytes);
  const { p, errors } = await page();
  const res = await p.evaluate(async () => {
    const name = 'grafiqs-poison-test';
    await caches.delete(name);
    const load = (url, extra = {}) => {
      const events = [];
      return grafiqs
        .createScorer({ model: url, backend: 'cpu', cache: name, onProgress: (e) => e.phase === 'model' && events.push(e), ...extra })
        .then(async (s) => {
          const r = await s.score(await rgbaOf('/fixtures/tiny_img0.png'));
          s.dispose();
          return { fromCache: events.at(-1).fromCache, block1: r.scores.block1 };
        });
    };
    const entries = async () => {
      const c = await caches.open(name);
      const out = [];
      for (const k of await c.keys()) {
        const b = new Uint8Array(await (await c.match(k)).arrayBuffer());
        out.push({ url: k.url, head: new TextDecoder().decode(b.subarray(0, 7)), size: b.length });
      }
      return out;
    };
    const out = {};
    out.html = await settle(load('/poison/spa.grafiqs'));
    out.json = await settle(load('/poison/error.grafiqs'));
    out.truncated = await settle(load('/poison/truncated.grafiqs'));
    out.afterBad = await entries();
    out.first = await load('/poison/model.grafiqs');
    out.second = await load('/poison/model.grafiqs');
    out.cachedGood = await entries();
    // Poison the cache itself (an HTML page under the model's key), then a corrupt copy.
    const c = await caches.open(name);
    const [key] = await c.keys();
    await c.put(key, new Response('<!doctype html><html></html>', { headers: { 'content-type': 'text/html' } }));
    out.afterHtmlPoison = await load('/poison/model.grafiqs');
    out.healed = await entries();
    const good = new Uint8Array(await (await c.match(key)).arrayBuffer());
    good[good.length >> 1] ^= 0x40;
    await c.put(key, new Response(good));
    out.afterCorrupt = await load('/poison/model.grafiqs');
    out.final = await entries();
    await caches.delete(name);
    return out;
  });
  console.log(`HTML response: ${res.html}`);
  assert.match(res.html, /^rejected:model_not_grafiqs:.*got an HTML page, not a \.grafiqs model/);
  assert.match(res.html, /spa\.grafiqs/);
  assert.match(res.json, /^rejected:model_not_grafiqs:.*got JSON/);
  assert.match(res.truncated, /^rejected:model_(truncated|corrupt):.*truncated/);
  assert.deepEqual(res.afterBad, [], 'nothing was cached from the bad responses');
  assert.equal(res.first.fromCache, false);
  assert.equal(res.second.fromCache, true);
  assert.equal(res.cachedGood.length, 1);
  assert.equal(res.cachedGood[0].head, 'GRAFIQS');
  assert.equal(res.cachedGood[0].size, tinyBytes.length);
  for (const k of ['afterHtmlPoison', 'afterCorrupt']) {
    assert.equal(res[k].fromCache, false, `${k}: the bad cached copy was not used`);
    assert.equal(res[k].block1, res.first.block1, k);
  }
  for (const k of ['healed', 'final']) {
    assert.equal(res[k].length, 1, k);
    assert.equal(res[k][0].head, 'GRAFIQS', `${k}: the cache holds the model again`);
    assert.equal(res[k][0].size, tinyBytes.length, k);
  }
  assert.deepEqual(errors, []);
  await p.close();
});

test('model loading: integrity (SHA-256) is checked before use and before caching', async () => {
  await poisonFile('model.grafiqs', tinyBytes);
  const sri = `sha256-${sha256(tinyBytes).toString('base64')}`;
  const hex = sha256(tinyBytes).toString('hex');
  const wrong = `sha256-${sha256(tinyF16Bytes).toString('base64')}`;
  const { p } = await page();
  const res = await p.evaluate(
    async ({ sri, hex, wrong }) => {
      const name = 'grafiqs-integrity-test';
      await caches.delete(name);
      const count = async () => (await (await caches.open(name)).keys()).length;
      const make = (o) => grafiqs.createScorer({ model: '/poison/model.grafiqs', backend: 'cpu', cache: name, ...o }).then((s) => (s.dispose(), 'ok'));
      const out = {};
      out.wrong = await settle(make({ integrity: wrong }));
      out.wrongCached = await count();
      out.malformed = await settle(make({ integrity: 'md5-abc' }));
      out.sri = await settle(make({ integrity: sri }));
      out.hex = await settle(make({ integrity: hex }));
      out.cached = await count();
      const bytes = await bytesOf('/poison/model.grafiqs');
      out.bytesWrong = await settle(grafiqs.createScorer({ model: bytes, backend: 'cpu', integrity: wrong }));
      out.bytesRight = await settle(grafiqs.createScorer({ model: bytes, backend: 'cpu', integrity: sri }).then((s) => (s.dispose(), 'ok')));
      out.loadModelWrong = await settle(grafiqs.loadModel('/poison/model.grafiqs', { integrity: wrong }));
      await caches.delete(name);
      return out;
    },
    { sri, hex, wrong },
  );
  assert.match(res.wrong, /^rejected:integrity_mismatch:.*does not match its integrity/);
  assert.equal(res.wrongCached, 0, 'a model failing its integrity is not cached');
  assert.match(res.malformed, /^rejected:integrity_invalid:/);
  assert.equal(res.sri, 'resolved:"ok"');
  assert.equal(res.hex, 'resolved:"ok"');
  assert.equal(res.cached, 1, 'the same hash in both spellings: one entry');
  assert.match(res.bytesWrong, /^rejected:integrity_mismatch:/);
  assert.equal(res.bytesRight, 'resolved:"ok"');
  assert.match(res.loadModelWrong, /^rejected:integrity_mismatch:/);
  await p.close();
});

test('model loading: a new version at the same URL replaces the cached one', async () => {
  await poisonFile('versioned.grafiqs', tinyBytes);
  const { p } = await page();
  const run = (version) =>
    p.evaluate(async (version) => {
      const events = [];
      const s = await grafiqs.createScorer({ model: '/poison/versioned.grafiqs', backend: 'cpu', cache: 'grafiqs-version-test', version, onProgress: (e) => e.phase === 'model' && events.push(e) });
      const r = await s.score(await rgbaOf('/fixtures/tiny_img1.png'));
      s.dispose();
      const c = await caches.open('grafiqs-version-test');
      const keys = (await c.keys()).map((k) => k.url);
      const sizes = [];
      for (const k of await c.keys()) sizes.push((await (await c.match(k)).arrayBuffer()).byteLength);
      return { fromCache: events.at(-1).fromCache, block1: r.scores.block1, keys, sizes };
    }, version);
  await p.evaluate(() => caches.delete('grafiqs-version-test'));
  const v1 = await run('1');
  await poisonFile('versioned.grafiqs', tinyF16Bytes); // the server now has another model
  const v1again = await run('1');
  const v2 = await run('2');
  const v2again = await run('2');
  assert.equal(v1.fromCache, false);
  assert.equal(v1again.fromCache, true, 'same version: the cached copy');
  assert.equal(v1again.block1, v1.block1);
  assert.equal(v2.fromCache, false, 'new version: fetched again');
  assert.notEqual(v2.block1, v1.block1, 'and it is the new model');
  assert.equal(v2again.fromCache, true);
  assert.equal(v2again.block1, v2.block1);
  assert.equal(v2.keys.length, 1, `the old version was replaced: ${v2.keys}`);
  assert.deepEqual(v2.sizes, [tinyF16Bytes.length]);
  assert.match(v2.keys[0], /versioned\.grafiqs\?grafiqs-cache=f1\.v2$/);
  await p.evaluate(() => caches.delete('grafiqs-version-test'));
  await p.close();
});

test('capture sessions: captureBest() settles on stop(), dispose(), a timeout and a disposed assessor', async () => {
  const { p, errors } = await page();
  const res = await p.evaluate(async () => {
    const assessor = await grafiqs.createAssessor({ backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' });
    const blank = document.createElement('video'); // never gets a frame
    const out = {};
    let s = new grafiqs.CaptureSession(assessor, blank, { fps: 10 });
    out.notRunning = await settle(s.captureBest(), 1000);
    s.start();
    let t0 = performance.now();
    let pending = s.captureBest();
    setTimeout(() => s.stop(), 200);
    out.stop = await settle(pending);
    out.stopMs = performance.now() - t0;
    s = new grafiqs.CaptureSession(assessor, blank, { fps: 10 });
    s.start();
    t0 = performance.now();
    out.timeout = await settle(s.captureBest({ timeoutMs: 300 }));
    out.timeoutMs = performance.now() - t0;
    out.stillRunning = s.running;
    pending = s.captureBest();
    setTimeout(() => s.dispose(), 100);
    out.dispose = await settle(pending);
    out.restart = await settle((async () => s.start())());
    // A live video without a face: frames are assessed but none is ready; then the assessor goes.
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    const paint = setInterval(() => {
      ctx.fillStyle = `hsl(${(performance.now() / 10) % 360} 50% 50%)`;
      ctx.fillRect(0, 0, 320, 240);
    }, 30);
    const video = document.createElement('video');
    video.muted = true;
    video.srcObject = canvas.captureStream(30);
    await video.play();
    const seen = [];
    s = new grafiqs.CaptureSession(assessor, video, { fps: 10, onError: (e) => seen.push(e.code) });
    let frames = 0;
    s.start();
    await new Promise((r) => {
      const check = setInterval(() => {
        frames = s.stats.frames;
        if (frames >= 2) (clearInterval(check), r());
      }, 50);
    });
    pending = s.captureBest();
    assessor.dispose();
    out.assessorDisposed = await settle(pending);
    out.errorCodes = seen;
    out.runningAfter = s.running;
    out.frames = frames;
    clearInterval(paint);
    return out;
  });
  assert.equal(res.notRunning, 'resolved:null', 'not running: resolves at once');
  assert.equal(res.stop, 'resolved:null');
  assert.ok(res.stopMs < 2000, `stop() settles promptly (${res.stopMs} ms)`);
  assert.equal(res.timeout, 'resolved:null');
  assert.ok(res.timeoutMs >= 290 && res.timeoutMs < 3000, `timeoutMs honoured (${res.timeoutMs} ms)`);
  assert.equal(res.stillRunning, true, 'a timeout ends the wait, not the session');
  assert.equal(res.dispose, 'resolved:null');
  assert.match(res.restart, /^rejected:disposed:/);
  assert.ok(res.frames >= 2, 'the live video was assessed');
  assert.equal(res.assessorDisposed, 'resolved:null');
  assert.ok(res.errorCodes.includes('disposed'), `onError saw the disposed assessor: ${res.errorCodes}`);
  assert.equal(res.runningAfter, false);
  assert.deepEqual(errors, []);
  await p.close();
});

test('every public async method rejects after dispose(), and calls in flight settle', async () => {
  const { p, errors } = await page();
  const res = await p.evaluate(async () => {
    const img = await rgbaOf('/fixtures/tiny_img0.png');
    const png = await bytesOf('/fixtures/tiny_img0.png');
    const out = {};
    for (const backend of ['cpu', 'webgpu']) {
      const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend });
      const inflight = s.score(img);
      const inflightBatch = s.scoreBatch([img, img]);
      s.dispose();
      out[`${backend}.inflight`] = await settle(inflight);
      out[`${backend}.inflightBatch`] = await settle(inflightBatch);
      out[`${backend}.score`] = await settle(s.score(img));
      out[`${backend}.scoreEncoded`] = await settle(s.score(png));
      out[`${backend}.scoreBatch`] = await settle(s.scoreBatch([img]));
      out[`${backend}.info`] = await settle((async () => s.info)());
      out[`${backend}.memoryUsage`] = await settle((async () => s.memoryUsage())());
      out[`${backend}.backend`] = s.backend;
    }
    const a = await grafiqs.createAssessor({ backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' });
    const frame = { data: new Uint8Array(160 * 120 * 4).fill(128), width: 160, height: 120 };
    const inflightA = a.assessFrame(frame);
    a.dispose();
    out['assessor.inflight'] = await settle(inflightA);
    out['assessor.assessFrame'] = await settle(a.assessFrame(frame));
    out['assessor.setModel'] = await settle(a.setModel('/gen/tiny.grafiqs'));
    out['assessor.setModelNull'] = await settle(a.setModel(null));
    const w = await grafiqs.createWorkerScorer({ model: '/gen/tiny.grafiqs', backend: 'cpu' });
    const inflightW = w.score(img);
    const disposing = w.dispose();
    out['worker.inflight'] = await settle(inflightW);
    out['worker.dispose'] = await settle(disposing);
    out['worker.score'] = await settle(w.score(img));
    out['worker.scoreBatch'] = await settle(w.scoreBatch([img]));
    out['worker.memoryUsage'] = await settle(w.memoryUsage());
    return out;
  });
  for (const [k, v] of Object.entries(res)) {
    if (k.endsWith('.backend')) assert.equal(v, 'disposed', k);
    else if (k === 'worker.dispose') assert.equal(v, 'resolved:null', k);
    else if (k.endsWith('.inflight') || k.endsWith('.inflightBatch')) assert.match(v, /^rejected:disposed:/, `${k}: ${v}`);
    else assert.match(v, /^rejected:disposed:.*disposed/, `${k}: ${v}`);
  }
  assert.deepEqual(errors, []);
  await p.close();
});

test('assessFrame() honours each call\'s options', async (t) => {
  const { p, errors } = await page();
  const res = await p.evaluate(async (assets) => {
    const noise = { data: new Uint8Array(80 * 60 * 4).map((_, i) => (i * 2654435761) >>> 24), width: 80, height: 60 };
    const out = {};
    out.cpu = (await grafiqs.assessFrame(noise, { backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' })).backend;
    out.webgpu = (await grafiqs.assessFrame(noise, { backend: 'webgpu', detector: '/pkg/mtcnn.grafiqs' })).backend;
    out.cpuAgain = (await grafiqs.assessFrame(noise, { backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' })).backend;
    if (assets) {
      const bmp = await createImageBitmap(await (await fetch('/assets/faces/lfw-colour/Alberto_Fujimori_0002.jpg')).blob());
      const o = { backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' };
      const withCrops = await grafiqs.assessFrame(bmp, o);
      const without = await grafiqs.assessFrame(bmp, { ...o, crops: false });
      const withModel = await grafiqs.assessFrame(bmp, { ...o, model: '/gen/tiny.grafiqs' });
      const noScore = await grafiqs.assessFrame(bmp, { ...o, model: '/gen/tiny.grafiqs', score: false });
      const noModel = await grafiqs.assessFrame(bmp, { ...o, model: null });
      out.faces = withCrops.faces.length;
      out.crops = [!!withCrops.faces[0]?.aligned, !!without.faces[0]?.aligned];
      out.quality = [typeof withModel.faces[0]?.quality, typeof noScore.faces[0]?.quality, typeof withCrops.faces[0]?.quality, typeof noModel.faces[0]?.quality];
    }
    return out;
  }, h.haveAssets());
  assert.deepEqual([res.cpu, res.webgpu, res.cpuAgain], ['cpu', 'webgpu', 'cpu'], 'the backend of each call is used');
  if (res.faces !== undefined) {
    assert.ok(res.faces >= 1);
    assert.deepEqual(res.crops, [true, false], 'crops per call');
    // Without a model option the shipped model gives quality; `model: null` is guidance only.
    assert.deepEqual(res.quality, ['number', 'undefined', 'number', 'undefined'], 'model and score per call');
  } else t.diagnostic('shared assets not found: crops/score per call not checked');
  assert.deepEqual(errors, []);
  await p.close();
});

/** In the page: grows the wasm memory to the engine's limit so that the next allocation fails. */
const EXHAUST = async () => {
  const { memory } = await grafiqs.initialize();
  let grown = 0;
  for (let chunk = 16384; chunk >= 1; chunk >>= 1) {
    for (;;) {
      try {
        memory.grow(chunk);
        grown += chunk;
      } catch {
        break;
      }
    }
  }
  return memory.buffer.byteLength;
};

test('a trapped module is reported once, re-created, and scorers and assessors keep working', async () => {
  const { p, errors, warnings } = await page();
  const res = await p.evaluate(async (exhaust) => {
    const exhaustMemory = eval(`(${exhaust})`);
    const img = await rgbaOf('/fixtures/tiny_img2.png');
    const cpu = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'cpu' });
    const gpu = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'webgpu' });
    const assessor = await grafiqs.createAssessor({ backend: 'cpu', detector: '/pkg/mtcnn.grafiqs', model: '/gen/tiny.grafiqs' });
    const frame = { data: new Uint8Array(160 * 120 * 4).fill(90), width: 160, height: 120 };
    const before = { cpu: await cpu.score(img), gpu: await gpu.score(img), assess: await assessor.assessFrame(frame, { crops: false }) };
    const out = { status0: grafiqs.moduleStatus() };
    out.memoryFull = await exhaustMemory();
    // Two calls in flight when the module runs out of memory: both must reject, not hang. (The
    // allocator's free blocks may still hold a single face; eight need fresh memory.)
    const a = cpu.scoreBatch(new Array(8).fill(img));
    const b = cpu.score(img);
    out.trapA = await settle(a);
    out.trapB = await settle(b);
    out.status1 = grafiqs.moduleStatus();
    // The next calls re-create the module and the wasm objects from the kept model bytes.
    const after = { cpu: await cpu.score(img), gpu: await gpu.score(img), assess: await assessor.assessFrame(frame, { crops: false }) };
    out.status2 = grafiqs.moduleStatus();
    out.memoryAfter = (await grafiqs.initialize()).memory.buffer.byteLength;
    out.same = {
      cpu: JSON.stringify(after.cpu.scores) === JSON.stringify(before.cpu.scores),
      gpu: Math.abs(after.gpu.scores.block1 - before.gpu.scores.block1) <= 1e-3 * before.gpu.scores.block1,
      assess: JSON.stringify(after.assess.advice) === JSON.stringify(before.assess.advice),
    };
    out.backends = [cpu.backend, gpu.backend, after.gpu.backend, assessor.backend, assessor.hasModel];
    // A second trap, this time during assessment: recovered again.
    await exhaustMemory();
    const big = { data: new Uint8Array(2000 * 1500 * 4).fill(120), width: 2000, height: 1500 };
    out.trapC = await settle(assessor.assessFrame(big));
    out.recoveredAgain = (await assessor.assessFrame(frame, { crops: false })).width;
    out.status3 = grafiqs.moduleStatus();
    // New objects work on the new instance too.
    const fresh = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'cpu' });
    out.fresh = JSON.stringify((await fresh.score(img)).scores) === JSON.stringify(before.cpu.scores);
    return out;
  }, EXHAUST.toString());
  console.log(`trap: ${res.trapA}; memory ${res.memoryFull} → ${res.memoryAfter} bytes after recovery`);
  assert.deepEqual(res.status0, { instance: 0, traps: 0, trapped: false, lastTrap: null });
  assert.ok(res.memoryFull >= 2 ** 31, `memory was exhausted (${res.memoryFull} bytes)`);
  assert.match(res.trapA, /^rejected:module_trapped:.*trapped.*re-created on the next call/);
  assert.match(res.trapB, /^rejected:module_trapped:/);
  assert.equal(res.status1.traps, 1);
  assert.equal(res.status2.instance, 1);
  assert.equal(res.status2.trapped, false);
  assert.ok(res.memoryAfter < res.memoryFull / 4, 'the new instance has its own, small memory');
  assert.deepEqual(res.same, { cpu: true, gpu: true, assess: true }, 'same results after recovery');
  assert.deepEqual(res.backends, ['cpu', 'webgpu', 'webgpu', 'cpu', true]);
  assert.match(res.trapC, /^rejected:module_trapped:/);
  assert.equal(res.recoveredAgain, 160);
  assert.equal(res.status3.traps, 2);
  assert.equal(res.status3.instance, 2);
  assert.equal(res.fresh, true);
  const reports = warnings.filter((w) => /WebAssembly module trapped/.test(w));
  assert.equal(reports.length, 2, `reported once per trap: ${reports}`);
  assert.deepEqual(errors, [], 'no uncaught errors');
  await p.close();
});

test('memory stays bounded: oversized frames, images, batches and image headers are refused before wasm', async () => {
  const { p, errors } = await page();
  const res = await p.evaluate(async () => {
    const s = await grafiqs.createScorer({ model: '/gen/tiny.grafiqs', backend: 'cpu' });
    const a = await grafiqs.createAssessor({ backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' });
    const img = await rgbaOf('/fixtures/tiny_img0.png');
    const out = { limits: s.limits };
    // A JPEG whose SOF0 header claims 65535x65535 (about 4 GiB of planes): refused by its header.
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0xff, 0xff, 0xff, 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xff, 0xd9]);
    out.jpeg = await settle(s.score(jpeg));
    const png = new Uint8Array(33);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 1, 0, 0, 0, 1, 0, 0, 8, 6, 0, 0, 0]);
    out.png = await settle(s.score(png));
    out.frame = await settle(a.assessFrame({ data: new Uint8Array(0), width: 20000, height: 20000 }));
    out.frameArea = await settle(a.assessFrame({ data: new Uint8Array(0), width: 10000, height: 9000 }));
    out.batch = await settle(s.scoreBatch(new Array(s.limits.maxBatch + 1).fill(img)));
    out.bigFaces = await settle(s.scoreBatch(new Array(4).fill({ data: new Uint8Array(0), width: 4000, height: 4000 })));
    out.memory = (await grafiqs.initialize()).memory.buffer.byteLength;
    out.status = grafiqs.moduleStatus();
    out.stillWorks = (await s.score(img)).backend;
    return out;
  });
  console.log(`limits: ${JSON.stringify(res.limits)}`);
  assert.match(res.jpeg, /^rejected:image_too_large:.*65535x65535/);
  assert.match(res.png, /^rejected:image_too_large:.*65536x65536/);
  assert.match(res.frame, /^rejected:image_too_large:/);
  assert.match(res.frameArea, /^rejected:image_too_large:/);
  assert.match(res.batch, new RegExp(`^rejected:batch_too_large:.*limit of ${res.limits.maxBatch}`));
  assert.match(res.bigFaces, /^rejected:batch_too_large:.*pixels/);
  assert.equal(res.status.traps, 0, 'nothing trapped');
  assert.ok(res.memory < 2 ** 30, `wasm memory stayed small (${res.memory} bytes)`);
  assert.equal(res.stillWorks, 'cpu');
  assert.deepEqual(errors, []);
  await p.close();
});
