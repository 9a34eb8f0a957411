// examples/web, the app a developer copies, on the packed tarball: it builds with `vite build`
// and runs from the build and from the Vite dev server (`npm run dev`). In Chromium, a chosen
// photo gets the native CLI's advice and quality, and the camera (Chromium's fake one, fed a
// face video when the shared assets exist) gives live advice and a captured best frame.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

const example = path.join(h.root, 'examples/web');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(h.root, 'target');
let app;
let photo;
let native;
let y4m = null;

before(async () => {
  const tarball = await h.packTarball();
  app = await mkdtemp(path.join(tmpdir(), 'grafiqs-example-'));
  await cp(example, app, { recursive: true, filter: (f) => !/[/\\](node_modules|dist)$/.test(f) });
  // The example's own package.json, with the tarball in place of ../../pkg and the test
  // suite's Vite (the same version: checked below) in place of its devDependency.
  const pkg = JSON.parse(await readFile(path.join(example, 'package.json'), 'utf8'));
  const suite = JSON.parse(await readFile(path.join(h.here, 'package.json'), 'utf8'));
  assert.ok(pkg.dependencies.grafiqs, 'the example depends on grafiqs by name');
  assert.equal(pkg.devDependencies.vite, suite.devDependencies.vite, 'the example pins the Vite the suite tests');
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ ...pkg, dependencies: {}, devDependencies: {} }));
  h.installTarball(app, tarball);

  photo = h.haveAssets() ? path.join(h.assets, 'faces/lfw-colour/Albert_Costa_0001.jpg') : path.join(h.fixtures, 'tiny_img0.png');
  native = JSON.parse(h.grafiqs('assess', '--json', photo))[0];
  if (h.haveAssets()) {
    const maker = path.join(targetDir, 'release/examples/fake_camera');
    assert.ok(existsSync(maker), `build the examples first: ${maker}`);
    y4m = path.join(await mkdtemp(path.join(tmpdir(), 'grafiqs-camera-')), 'camera.y4m');
    execFileSync(maker, [path.join(h.assets, 'faces/lfw-colour/Alberto_Fujimori_0001.jpg'), y4m, '6'], { stdio: 'pipe' });
  }
});

const shown = (page) =>
  page.evaluate(() => ({
    status: document.getElementById('status').textContent,
    verdict: document.getElementById('verdict').textContent,
    quality: document.getElementById('quality').textContent,
    advice: [...document.querySelectorAll('#advice li')].map((li) => li.dataset.code),
  }));

/** Opens the app at `url`: a photo, then the camera and its best frame. */
async function exercise(url, mode) {
  const camera = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', ...(y4m ? [`--use-file-for-fake-video-capture=${y4m}`] : [])];
  const browser = await h.launch({ webgpu: false, args: camera });
  try {
    const context = await browser.newContext();
    await context.grantPermissions(['camera'], { origin: new URL(url).origin });
    const page = await context.newPage();
    const errors = [];
    const failed = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Chromium may report a model fetch as aborted after its 200 response although the page
    // read all of it (the package checked its CRC-32): only a request without a successful
    // response counts as failed.
    page.on('requestfailed', async (r) => {
      const ok = r.failure()?.errorText === 'net::ERR_ABORTED' && (await r.response().catch(() => null))?.ok();
      if (!ok) failed.push(`${r.url()} (${r.failure()?.errorText})`);
    });
    page.on('response', (r) => r.status() >= 400 && failed.push(`${r.url()} (HTTP ${r.status()})`));
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.state, null, { timeout: 120_000 });
    assert.match((await shown(page)).status, /^Ready \(cpu, model foamliu-mobilefacenet\)/);

    await page.setInputFiles('#photo', photo);
    await page.waitForFunction(() => /^Checked /.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
    const p = await shown(page);
    assert.deepEqual(p.advice, native.advice.map(h.adviceCode), `${mode}: the photo's advice, as natively`);
    if (native.faces.length) {
      assert.ok(Math.abs(Number(p.quality) - native.faces[0].quality) <= 0.1, `${mode}: quality ${p.quality} vs native ${native.faces[0].quality}`);
    }
    console.log(`example (${mode}): photo → quality ${p.quality}, advice [${p.advice}]`);

    // The camera's frames (640×480) replace the photo once the session assesses them.
    await page.click('#camera');
    await page.waitForFunction(() => document.getElementById('view').width === 640, null, { timeout: 60_000 });
    if (y4m) {
      await page.click('#capture');
      await page.waitForFunction(() => /best frame/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
      const c = await shown(page);
      assert.equal(c.verdict, 'Good enough for face recognition', `${mode}: the captured frame passes`);
      assert.deepEqual(c.advice, []);
      assert.ok(Number(c.quality) >= 50, `${mode}: captured quality ${c.quality}`);
      console.log(`example (${mode}): camera → best frame, quality ${c.quality}`);
    } else {
      assert.deepEqual((await shown(page)).advice, ['no_face'], "the fake camera's test pattern has no face");
    }
    assert.deepEqual(failed, [], 'no request failed');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
}

test('examples/web: vite build, then the built app in Chromium (photo and camera)', async () => {
  const { build } = await h.viteApi();
  await build({ root: app, logLevel: 'warn' });
  const server = await h.serve({ '/': path.join(app, 'dist') });
  try {
    await exercise(`${server.url}/`, 'build');
  } finally {
    await server.close();
  }
});

test('examples/web: the Vite dev server (npm run dev) in Chromium', async () => {
  const { createServer } = await h.viteApi();
  const server = await createServer({ root: app, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, strictPort: true } });
  await server.listen();
  try {
    await exercise(server.resolvedUrls.local[0], 'dev');
  } finally {
    await server.close();
  }
});
