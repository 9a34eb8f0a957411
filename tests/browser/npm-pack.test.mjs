// `npm pack` produces a tarball that installs into a scratch Vite project, builds without any
// configuration, and the built app scores a face in Chromium (main thread and worker).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

let prep;
let app;

before(async () => {
  prep = await h.prepare();
  app = await mkdtemp(path.join(tmpdir(), 'grafiqs-vite-'));
});

test('npm pack → install into a Vite app → build → runs in Chromium', async () => {
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', app], { cwd: h.pkgDir, encoding: 'utf8' });
  const [info] = JSON.parse(packed);
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['grafiqs.js', 'grafiqs.d.ts', 'grafiqs_wasm.js', 'grafiqs_wasm_bg.wasm', 'worker.js', 'worker-client.js', 'package.json', 'README.md']) {
    assert.ok(files.includes(f), `tarball contains ${f}`);
  }
  console.log(`tarball ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`);

  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await writeFile(
    path.join(app, 'index.html'),
    '<!doctype html><html><body><p id="out">loading</p><script type="module" src="/main.js"></script></body></html>',
  );
  await writeFile(
    path.join(app, 'main.js'),
    `import { createScorer } from 'grafiqs';
import { createWorkerScorer } from 'grafiqs/worker';
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
document.getElementById('out').textContent = 'ready';
`,
  );
  // Install the tarball only (it has no dependencies): no registry access needed.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(app, info.filename)], { cwd: app, stdio: 'pipe' });
  const vite = path.join(h.here, 'node_modules/vite/bin/vite.js');
  execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'pipe' });
  const built = await readdir(path.join(app, 'dist/assets'));
  assert.ok(built.some((f) => f.endsWith('.wasm')), `the .wasm is emitted as an asset: ${built}`);
  const js = (await Promise.all(built.filter((f) => f.endsWith('.js')).map((f) => readFile(path.join(app, 'dist/assets', f), 'utf8')))).join('\n');
  assert.ok(!/require\(["'](fs|path|url)["']\)|from ["']node:/.test(js), 'no Node built-ins in the bundle');

  const server = await h.serve({ '/gen/': prep.gen, '/fixtures/': h.fixtures, '/': path.join(app, 'dist') });
  const browser = await h.launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.runScore);
    const r = await page.evaluate(() => window.runScore('/gen/tiny.grafiqs', '/fixtures/tiny_img0.png'));
    for (const k of h.KINDS) {
      assert.ok(h.rel(r.main.scores[k], prep.tiny.results[0].scores[k]) <= 1e-3, `main ${k}`);
      assert.ok(h.rel(r.worker.scores[k], prep.tiny.results[0].scores[k]) <= 1e-3, `worker ${k}`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
