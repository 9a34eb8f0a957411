// `npm pack` produces a tarball that installs into scratch Vite and webpack projects, builds
// without any bundler configuration, and the built app scores a face (main thread and worker)
// and runs the bundled face detector in Chromium.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import webpack from 'webpack';
import * as h from './harness.mjs';

let prep;
let tarball;
let shipped;

// The app a user would write: plain imports of the package, nothing bundler-specific.
const MAIN_JS = `import { createScorer, assessFrame } from 'grafiqs';
import { createWorkerScorer, createWorkerCaptureSession } from 'grafiqs/worker';
window.runCapture = async () => {
  const c = document.createElement('canvas');
  c.width = 320;
  c.height = 240;
  c.getContext('2d').fillRect(0, 0, 320, 240);
  const s = await createWorkerCaptureSession(c, { backend: 'cpu', model: null });
  s.start();
  await new Promise((r) => {
    const t = setInterval(() => s.stats.frames > 0 && (clearInterval(t), r()), 50);
  });
  const { frames } = s.stats;
  await s.dispose();
  return frames;
};
window.runScore = async (modelUrl, imageUrl) => {
  const bytes = new Uint8Array(await (await fetch(imageUrl)).arrayBuffer());
  const s = await createScorer({ model: modelUrl, backend: 'cpu' });
  const main = await s.score(bytes);
  s.dispose();
  const w = await createWorkerScorer({ model: modelUrl, backend: 'cpu' });
  const worker = await w.score(bytes);
  await w.dispose();
  return { main, worker };
};
window.runDefault = async (imageUrl) => {
  const bytes = new Uint8Array(await (await fetch(imageUrl)).arrayBuffer());
  const s = await createScorer({ backend: 'cpu' });
  const r = await s.score(bytes);
  s.dispose();
  return r;
};
window.runAssess = async (imageUrl) => {
  const bitmap = await createImageBitmap(await (await fetch(imageUrl)).blob());
  const a = await assessFrame(bitmap, { backend: 'cpu' });
  return a.faces.map((f) => ({ box: f.box, landmarks: f.landmarks }));
};
document.getElementById('out').textContent = 'ready';
`;

before(async () => {
  prep = await h.prepare();
  tarball = await h.packTarball();
  const dir = path.dirname(tarball.path);
  const json = path.join(dir, 'shipped.json');
  h.grafiqs('score', '--model', 'default', '--bgr2rgb', '--quiet', '--output-dir', dir, '--json', json, path.join(h.fixtures, 'tiny_img0.png'));
  shipped = JSON.parse(await readFile(json, 'utf8')).results[0];
});

test('the tarball holds the package files', () => {
  const { info } = tarball;
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['grafiqs.js', 'grafiqs.d.ts', 'grafiqs_wasm.js', 'grafiqs_wasm_bg.wasm', 'grafiqs_wasm_relaxed_bg.wasm', 'mtcnn.grafiqs', 'foamliu-mobilefacenet.grafiqs',
    'LICENSE.foamliu-mobilefacenet', 'NOTICE.foamliu-mobilefacenet', 'worker.js', 'worker-client.js', 'capture-client.js', 'capture-worker.js', 'capture-fields.js', 'package.json', 'README.md']) {
    assert.ok(files.includes(f), `tarball contains ${f}`);
  }
  console.log(`tarball ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`);
});

/** A scratch app with the tarball installed (only the tarball: no registry access). */
async function scratchApp(name, entry) {
  const app = await mkdtemp(path.join(tmpdir(), `grafiqs-${name}-`));
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await mkdir(path.dirname(path.join(app, entry)), { recursive: true });
  await writeFile(path.join(app, entry), MAIN_JS);
  h.installTarball(app, tarball);
  return app;
}

async function bundledJs(dir) {
  const files = (await readdir(dir, { recursive: true })).map(String);
  const js = await Promise.all(files.filter((f) => f.endsWith('.js')).map((f) => readFile(path.join(dir, f), 'utf8')));
  return { files, js: js.join('\n') };
}

/** Serves `dist`, scores the tiny fixture model on the main thread and in the worker, and runs
 * the detector on a shared face photo (when the assets exist) against the native CLI. */
async function runBuiltApp(name, dist) {
  const { files, js } = await bundledJs(dist);
  assert.ok(files.filter((f) => f.endsWith('.wasm')).length >= 2, `both builds of the .wasm are emitted: ${files}`);
  assert.ok(files.filter((f) => f.endsWith('.grafiqs')).length >= 2, `the detector and the shipped model are emitted: ${files}`);
  assert.ok(!/require\(["'](fs|path|url)["']\)|from ["']node:/.test(js), 'no Node built-ins in the bundle');

  const photo = h.haveAssets() ? path.join(h.assets, 'faces/lfw-colour/Albert_Costa_0001.jpg') : null;
  const server = await h.serve({ '/gen/': prep.gen, '/fixtures/': h.fixtures, ...(photo ? { '/photo/': path.dirname(photo) } : {}), '/': dist });
  let browser;
  try {
    browser = await h.launch({ webgpu: false });
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.runScore && window.runAssess, null, { timeout: 60_000 });
    const r = await page.evaluate(() => window.runScore('/gen/tiny.grafiqs', '/fixtures/tiny_img0.png'));
    const frames = await page.evaluate(() => Promise.race([window.runCapture(), new Promise((r) => setTimeout(() => r('HUNG'), 60000))]));
    assert.ok(frames >= 1, `the bundled capture worker assessed a frame: ${frames}`);
    for (const k of h.KINDS) {
      assert.ok(h.rel(r.main.scores[k], prep.tiny.results[0].scores[k]) <= 1e-3, `main ${k}`);
      assert.ok(h.rel(r.worker.scores[k], prep.tiny.results[0].scores[k]) <= 1e-3, `worker ${k}`);
    }
    // No model given: the bundled copy of the shipped model, as the native `--model default`.
    const d = await page.evaluate(() => window.runDefault('/fixtures/tiny_img0.png'));
    assert.equal(d.model, 'foamliu-mobilefacenet');
    for (const k of h.KINDS) assert.ok(h.rel(d.scores[k], shipped.scores[k]) <= 1e-3, `shipped model ${k}`);
    if (photo) {
      const native = JSON.parse(h.grafiqs('assess', '--json', photo))[0].faces;
      const faces = await page.evaluate((u) => window.runAssess(u), `/photo/${path.basename(photo)}`);
      assert.equal(faces.length, native.length, 'same number of faces as the native CLI');
      let px = 0;
      faces.forEach((f, i) => {
        f.box.forEach((v, j) => (px = Math.max(px, Math.abs(v - native[i].box[j]))));
        f.landmarks.flat().forEach((v, j) => (px = Math.max(px, Math.abs(v - native[i].landmarks.flat()[j]))));
      });
      assert.ok(px <= 1e-3, `detector box/landmarks within 1e-3 px of native (got ${px})`);
      console.log(`${name} bundle: ${faces.length} face(s), box/landmarks max diff ${px.toExponential(2)} px from native`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await server.close();
  }
}

const INDEX_HTML = (script) =>
  `<!doctype html><html><body><p id="out">loading</p><script ${script}></script></body></html>`;

test('npm pack → a Vite app → build → runs in Chromium', async () => {
  const app = await scratchApp('vite', 'main.js');
  await writeFile(path.join(app, 'index.html'), INDEX_HTML('type="module" src="/main.js"'));
  const vite = path.join(h.here, 'node_modules/vite/bin/vite.js');
  execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'pipe' });
  await runBuiltApp('vite', path.join(app, 'dist'));
});

test('npm pack → a webpack app (default configuration) → build → runs in Chromium', async () => {
  // webpack's defaults: entry ./src/index.js, output dist/main.js; only the mode is given, as
  // `webpack --mode production` run in the app's folder would (the output folder is spelled
  // out because webpack's default is relative to the working directory, not to `context`).
  const app = await scratchApp('webpack', 'src/index.js');
  const dist = path.join(app, 'dist');
  const stats = await new Promise((resolve, reject) =>
    webpack({ context: app, mode: 'production', output: { path: dist } }, (err, s) => (err ? reject(err) : resolve(s))),
  );
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  assert.ok(!stats.hasErrors(), `webpack errors: ${JSON.stringify(info.errors, null, 1)}`);
  const warnings = (info.warnings ?? []).map((w) => w.message).filter((m) => !/asset size limit|entrypoint size limit|performance/i.test(m));
  assert.deepEqual(warnings, [], 'no webpack warnings beyond the size hints');
  await writeFile(path.join(dist, 'index.html'), INDEX_HTML('src="main.js"'));
  await runBuiltApp('webpack', dist);
});
