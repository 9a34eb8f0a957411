// The demo site end to end in Chromium with a fake camera: a Y4M video (made from a shared face
// photo) with a clean, a darkened and a blurred segment. The live camera runs in the worker
// capture session (guidance and quality in two workers). The page must find the face, give the
// advice that matches each segment, auto-capture a frame from the clean segment with a quality
// from the scoring worker, request nothing but its own files, and make no network request during
// the camera session. A screenshot is saved as a test artifact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(h.root, 'target');
const artifacts = process.env.GRAFIQS_ARTIFACTS ?? path.join(targetDir, 'grafiqs-artifacts');
const SEGMENT_S = 6;
let prep;
let site;
let server;

before(async () => {
  prep = await h.prepare();
  site = await mkdtemp(path.join(tmpdir(), 'grafiqs-site-'));
  await cp(path.join(h.root, 'www'), site, { recursive: true });
  await cp(h.pkgDir, path.join(site, 'pkg'), { recursive: true });
  await mkdir(artifacts, { recursive: true });
  server = await h.serve({ '/models/': prep.gen, '/': site });
});

after(async () => {
  await server?.close();
});

/** RGB of the marker square of the captured full frame (top-left, see examples/fake_camera.rs). */
const markerOf = (page) =>
  page.evaluate(() => {
    const c = document.getElementById('captured-frame');
    const d = c.getContext('2d').getImageData(20, 20, 1, 1).data;
    return [d[0], d[1], d[2]];
  });

test('live camera: guidance per segment, auto-capture from the clean segment, no network', async (t) => {
  if (!h.haveAssets()) return t.skip('shared assets not found (the fake camera is made from a shared face photo)');
  const y4m = h.fakeCameraVideo(path.join(site, 'camera.y4m'), SEGMENT_S);
  const browser = await h.launch({ webgpu: false, args: h.fakeCameraArgs(y4m) });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['camera'], { origin: server.url });
    // Every request of the page and its workers, from the first one.
    const all = [];
    context.on('request', (r) => all.push(r.url()));
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // No model chosen: the demo scores quality with the model the package ships.
    await page.goto(`${server.url}/?backend=cpu`);
    await page.waitForFunction(() => window.demo?.assessor, null, { timeout: 120000 });
    await page.waitForFunction(() => /Model: foamliu-mobilefacenet/.test(document.getElementById('model-status').textContent), null, { timeout: 120000 });
    assert.equal(await page.evaluate(() => window.demo.live), 'worker', 'the live camera runs in the worker session');
    assert.equal(await page.evaluate(() => window.demo.session.modelName), 'foamliu-mobilefacenet', 'the scoring worker has the shipped model');

    // From here on the page must not touch the network.
    const requests = [];
    context.on('request', (r) => requests.push(r.url()));
    await page.click('#start');
    await page.waitForFunction(() => window.demo.last, null, { timeout: 60000 });

    // Watch a full loop of the three segments (plus margin), sampling the guidance.
    const seen = { clean: 0, dark: 0, blur: 0, face: 0, samples: 0 };
    const advice = new Set();
    const t0 = Date.now();
    let sessionRequests = null;
    let lastFrames = -1;
    while (Date.now() - t0 < (3 * SEGMENT_S + 8) * 1000) {
      const s = await page.evaluate(() => ({
        frames: window.demo.session.stats.frames,
        ready: window.demo.last.ready,
        faces: window.demo.last.faces.length,
        advice: window.demo.last.advice.map((a) => a.code),
        texts: [...document.querySelectorAll('#advice li')].map((li) => li.textContent),
      }));
      if (s.frames !== lastFrames) {
        lastFrames = s.frames;
        seen.samples++;
        if (s.faces > 0) seen.face++;
        if (s.ready) seen.clean++;
        if (s.advice.includes('more_light')) seen.dark++;
        if (s.advice.includes('hold_still')) seen.blur++;
        s.texts.forEach((x) => advice.add(x));
      }
      if (sessionRequests === null && Date.now() - t0 >= 10000) sessionRequests = requests.length;
      await new Promise((r) => setTimeout(r, 200));
    }
    const stats = await page.evaluate(() => window.demo.session.stats);
    const rates = await page.evaluate(() => document.getElementById('rates').textContent);
    console.log(`frames assessed ${stats.frames}, qualities ${stats.qualities}, candidates ${stats.candidates}, dropped ${stats.dropped}; last ${stats.lastMs.toFixed(0)} ms/frame; samples ${JSON.stringify(seen)}; advice shown: ${[...advice].join(' | ')}`);
    console.log(`rates shown: ${rates}; ms ${JSON.stringify(stats.ms)}`);
    const shot = path.join(artifacts, 'demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);

    assert.ok(seen.face > 0, 'the face is found');
    assert.ok(seen.dark > 0, 'the dark segment asks for more light');
    assert.ok([...advice].some((x) => /More light/.test(x)), '"More light" is shown');
    assert.ok(seen.blur > 0, 'the blurred segment asks to hold still');
    assert.ok(seen.clean > 0, 'the clean segment is ready to capture');
    const captures = await page.evaluate(() => window.demo.captures);
    assert.ok(captures.length > 0, 'a frame was captured automatically');
    assert.equal(captures[0].how, 'Automatic');
    const [r, g, b] = await markerOf(page);
    assert.ok(r > 150 && g < 100 && b < 100, `the capture comes from the clean (red-marked) segment: marker ${[r, g, b]}`);
    assert.ok(captures[0].quality > 0, 'the capture carries a GraFIQs quality from the shipped model');
    assert.ok(stats.qualities > 0 && stats.qualities <= stats.candidates, `quality only for candidates (${stats.qualities} of ${stats.candidates})`);
    assert.match(rates, /guidance \d+\.\d\/s · quality \d+\.\d\/s/, 'the rates are shown next to the video');
    const foreign = all.filter((u) => !u.startsWith(server.url));
    assert.deepEqual(foreign, [], 'the page and its workers request only the site\'s own files');
    assert.equal(sessionRequests, 0, `no network request during the first 10 s of the camera session: ${requests.slice(0, 5)}`);
    assert.deepEqual(requests, [], 'no network request during the whole camera session');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('photo upload and bad frames', async () => {
  const browser = await h.launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/?backend=cpu`);
    await page.waitForFunction(() => window.demo?.assessor, null, { timeout: 120000 });
    const res = await page.evaluate(async () => {
      const { assessFrame } = await import('./pkg/grafiqs.js');
      const a = window.demo.assessor;
      const msg = async (f) => {
        try {
          const r = await f();
          return { ok: true, faces: r.faces.length, advice: r.advice.map((x) => x.code), width: r.width };
        } catch (e) {
          return { ok: false, error: e.message };
        }
      };
      const blank = (w, h, v) => ({ data: new Uint8Array(w * h * 4).fill(v), width: w, height: h });
      return {
        empty: await msg(() => a.assessFrame({ data: new Uint8Array(0), width: 0, height: 0 })),
        onePixel: await msg(() => a.assessFrame(blank(1, 1, 128))),
        noFace: await msg(() => a.assessFrame(blank(640, 480, 90))),
        huge: await msg(() => a.assessFrame(blank(4000, 3000, 200))),
        shared: await msg(() => assessFrame(blank(320, 240, 30), { backend: 'cpu' })),
      };
    });
    console.log(JSON.stringify(res));
    assert.equal(res.empty.ok, false);
    assert.match(res.empty.error, /pixels|at least/);
    assert.equal(res.onePixel.ok, false);
    assert.match(res.onePixel.error, /at least 16x16/);
    assert.deepEqual([res.noFace.ok, res.noFace.faces, res.noFace.advice], [true, 0, ['no_face']]);
    assert.deepEqual([res.huge.ok, res.huge.faces, res.huge.width], [true, 0, 4000]);
    assert.deepEqual([res.shared.ok, res.shared.advice], [true, ['no_face']]);
    if (h.haveAssets()) {
      await page.setInputFiles('#photo-file', path.join(h.assets, 'faces/lfw-colour/Alberto_Fujimori_0001.jpg'));
      await page.waitForFunction(() => window.demo.captures.length > 0, null, { timeout: 60000 });
      const photo = await page.evaluate(() => ({ faces: window.demo.last.faces.length, how: window.demo.captures[0].how }));
      assert.deepEqual(photo, { faces: 1, how: 'Photo' });
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
