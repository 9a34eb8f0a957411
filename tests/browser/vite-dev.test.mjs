// The Vite dev server, without any configuration, on an app that installed the packed tarball:
// Vite pre-bundles the package into node_modules/.vite/deps, and the files the package finds
// with `new URL('./…', import.meta.url)` (the .wasm, the detector, the shipped model and the
// worker) must still load from the installed package. The page scores with the shipped model
// on the main thread and in the worker and assesses a photo; the numbers must match the native
// CLI and no request may fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

const MAIN_JS = `import { createScorer, createAssessor } from 'grafiqs';
import { createWorkerScorer } from 'grafiqs/worker';
window.run = async (faceUrl, photoUrl) => {
  const face = await (await fetch(faceUrl)).blob();
  const scorer = await createScorer({ backend: 'cpu' });
  const main = await scorer.score(face);
  scorer.dispose();
  const w = await createWorkerScorer({ backend: 'cpu' });
  const worker = await w.score(face);
  await w.dispose();
  const assessor = await createAssessor({ backend: 'cpu' });
  const a = await assessor.assessFrame(await createImageBitmap(await (await fetch(photoUrl)).blob()), { crops: false });
  const modelName = assessor.modelName;
  assessor.dispose();
  return { main, worker, assessment: a, modelName };
};
document.body.dataset.state = 'ready';
`;

let dir;
let shipped;
let server;

before(async () => {
  const tarball = await h.packTarball();
  dir = await mkdtemp(path.join(tmpdir(), 'grafiqs-vite-dev-'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script type="module" src="/main.js"></script></body></html>');
  await writeFile(path.join(dir, 'main.js'), MAIN_JS);
  h.installTarball(dir, tarball);
  const json = path.join(dir, 'shipped.json');
  h.grafiqs('score', '--model', 'default', '--bgr2rgb', '--quiet', '--output-dir', dir, '--json', json, path.join(h.fixtures, 'tiny_img0.png'));
  shipped = JSON.parse(await readFile(json, 'utf8')).results[0];
});

after(async () => {
  await server?.close();
});

test('Vite dev server, no configuration: the pre-bundled package finds its .wasm, models and worker', async () => {
  // The images are served by Vite from the app's public/ folder (same origin).
  const photo = h.haveAssets() ? path.join(h.assets, 'faces/lfw-colour/Albert_Costa_0001.jpg') : path.join(h.fixtures, 'tiny_img0.png');
  await mkdir(path.join(dir, 'public'));
  await copyFile(path.join(h.fixtures, 'tiny_img0.png'), path.join(dir, 'public/face.png'));
  await copyFile(photo, path.join(dir, 'public/photo.jpg'));
  const { createServer } = await h.viteApi();
  server = await createServer({ root: dir, configFile: false, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, strictPort: true } });
  await server.listen();
  const url = server.resolvedUrls.local[0];
  let browser;
  try {
    browser = await h.launch({ webgpu: false });
    const page = await browser.newPage();
    const errors = [];
    const failed = [];
    const fetched = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} ${m.location().url}`));
    page.on('requestfailed', (r) => failed.push(`${r.url()} (${r.failure()?.errorText})`));
    page.on('response', (r) => {
      fetched.push(new URL(r.url()).pathname);
      if (r.status() >= 400) failed.push(`${r.url()} (HTTP ${r.status()})`);
    });
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 120_000 });
    const r = await page.evaluate(([f, p]) => window.run(f, p), ['/face.png', '/photo.jpg']);

    // The package really went through dependency pre-bundling...
    assert.ok(existsSync(path.join(dir, 'node_modules/.vite/deps/grafiqs.js')), 'grafiqs was pre-bundled into node_modules/.vite/deps');
    assert.ok(fetched.some((p) => p.startsWith('/node_modules/.vite/deps/grafiqs')), `the page ran the pre-bundled module: ${fetched}`);
    // ...and what it locates with import.meta.url came from the installed package.
    // (Chromium has relaxed SIMD: the package loads that build of the module.)
    for (const f of ['grafiqs_wasm_relaxed_bg.wasm', 'foamliu-mobilefacenet.grafiqs', 'mtcnn.grafiqs', 'worker.js']) {
      assert.ok(fetched.includes(`/node_modules/grafiqs/${f}`), `${f} loaded from the installed package: ${fetched.filter((p) => !p.startsWith('/@'))}`);
    }
    assert.deepEqual(failed, [], 'no request failed');

    for (const [where, s] of [['main thread', r.main], ['worker', r.worker]]) {
      assert.equal(s.model, 'foamliu-mobilefacenet', where);
      for (const k of h.KINDS) assert.ok(h.rel(s.scores[k], shipped.scores[k]) <= 1e-3, `${where} ${k}: ${s.scores[k]} vs native ${shipped.scores[k]}`);
      assert.ok(Math.abs(s.quality - shipped.quality) <= 0.05, `${where} quality ${s.quality} vs native ${shipped.quality}`);
    }
    assert.equal(r.modelName, 'foamliu-mobilefacenet');
    if (h.haveAssets()) {
      const native = JSON.parse(h.grafiqs('assess', '--json', photo))[0];
      assert.equal(r.assessment.faces.length, native.faces.length, 'faces found, as natively');
      assert.deepEqual(r.assessment.advice.map((a) => a.code), native.advice.map(h.adviceCode), 'advice, as natively');
      assert.ok(Math.abs(r.assessment.faces[0].quality - native.faces[0].quality) <= 0.05, `quality ${r.assessment.faces[0].quality} vs native ${native.faces[0].quality}`);
      console.log(`vite dev: ${r.assessment.faces.length} face(s), quality ${r.assessment.faces[0].quality.toFixed(2)} (native ${native.faces[0].quality.toFixed(2)})`);
    } else {
      assert.ok(Array.isArray(r.assessment.faces) && r.assessment.advice.length > 0, 'an assessment');
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
  }
});
