// The model the package ships (foamliu-mobilefacenet, Apache-2.0): `createScorer()` without a
// model and `createAssessor()` load it from next to the module, results name it, and its
// scores equal the native CLI's `--model default` on WebGPU and the CPU path.
//
// Tolerance as in scoring.test.mjs: rel ≤ 1e-3 per score, max-abs ≤ 1e-4 on embeddings (f32
// on both sides, the same f16 file).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as h from './harness.mjs';

let server;
let browser;
let native;
const faces = ['tiny_img1.png', 'tiny_img2.png'];

before(async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'grafiqs-default-'));
  const json = path.join(out, 'native.json');
  h.grafiqs('score', '--model', 'default', '--bgr2rgb', '--quiet', '--output-dir', out, '--json', json, '--embeddings',
    ...faces.map((f) => path.join(h.fixtures, f)));
  native = JSON.parse(await readFile(json, 'utf8'));
  server = await h.serve({ '/pkg/': h.pkgDir, '/fixtures/': h.fixtures, '/': path.join(h.here, 'pages') });
  browser = await h.launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function page() {
  const p = await browser.newPage();
  await p.goto(`${server.url}/`);
  await p.waitForFunction(() => window.grafiqs);
  return p;
}

for (const backend of ['webgpu', 'cpu']) {
  test(`createScorer() without a model scores with the shipped model on ${backend}, as the native CLI`, async () => {
    assert.equal(native.model, 'foamliu-mobilefacenet');
    const p = await page();
    const before = server.requests.length;
    const res = await p.evaluate(async ({ backend, faces }) => {
      const s = await grafiqs.createScorer({ backend });
      const info = s.info;
      const out = [];
      for (const f of faces) {
        const bytes = new Uint8Array(await (await fetch(`/fixtures/${f}`)).arrayBuffer());
        const r = await s.score(bytes, { embedding: true });
        out.push({ ...r, embedding: Array.from(r.embedding) });
      }
      s.dispose();
      return { info: { name: info.name, architecture: info.architecture, calibrated: info.calibrated, licence: info.provenance.licence }, out };
    }, { backend, faces });
    const fetched = server.requests.slice(before).filter((u) => u.endsWith('.grafiqs'));
    assert.deepEqual(fetched, ['/pkg/foamliu-mobilefacenet.grafiqs'], 'the model next to the module is fetched');
    assert.equal(res.info.name, 'foamliu-mobilefacenet');
    assert.equal(res.info.architecture, 'mobilefacenet-relu6');
    assert.equal(res.info.calibrated, true);
    assert.match(res.info.licence, /Apache-2\.0/);
    let worst = 0;
    res.out.forEach((r, i) => {
      const want = native.results[i];
      assert.equal(r.model, 'foamliu-mobilefacenet');
      assert.equal(r.backend, backend);
      assert.equal(r.calibrated, true);
      for (const k of h.KINDS) {
        const e = h.rel(r.scores[k], want.scores[k]);
        worst = Math.max(worst, e);
        assert.ok(e <= 1e-3, `${faces[i]} ${k}: ${r.scores[k]} vs native ${want.scores[k]}`);
      }
      assert.ok(Math.abs(r.quality - want.quality) <= 0.05, `quality ${r.quality} vs ${want.quality}`);
      const d = Math.max(...r.embedding.map((v, j) => Math.abs(v - want.embedding[j])));
      assert.ok(d <= 1e-4, `embedding max-abs ${d}`);
    });
    console.log(`shipped model [${backend}]: worst rel score diff vs native ${worst.toExponential(2)}`);
    await p.close();
  });
}

test('createAssessor() gives quality with the shipped model; model: null is guidance only', async () => {
  const p = await page();
  const res = await p.evaluate(async () => {
    const frame = await createImageBitmap(await (await fetch('/fixtures/tiny_img1.png')).blob());
    const a = await grafiqs.createAssessor({ backend: 'cpu' });
    const withModel = { hasModel: a.hasModel, modelName: a.modelName, model: (await a.assessFrame(frame)).model };
    a.dispose();
    const g = await grafiqs.createAssessor({ backend: 'cpu', model: null });
    const without = { hasModel: g.hasModel, modelName: g.modelName, faces: (await g.assessFrame(frame)).faces.length };
    g.dispose();
    let nullScorer;
    try {
      await grafiqs.createScorer({ model: null, backend: 'cpu' });
    } catch (e) {
      nullScorer = String(e);
    }
    return { withModel, without, nullScorer };
  });
  assert.deepEqual(res.withModel, { hasModel: true, modelName: 'foamliu-mobilefacenet', model: 'foamliu-mobilefacenet' });
  assert.equal(res.without.hasModel, false);
  assert.equal(res.without.modelName, null);
  assert.match(res.nullScorer, /TypeError: .*needs a model/);
  await p.close();
});

test('an engine without WebAssembly SIMD gets a clear error, not a compile failure', async () => {
  const p = await browser.newPage();
  // Pretend to be an engine that rejects SIMD instructions.
  await p.addInitScript(() => {
    const validate = WebAssembly.validate.bind(WebAssembly);
    WebAssembly.validate = (bytes) => (bytes.length < 64 ? false : validate(bytes));
  });
  await p.goto(`${server.url}/`);
  await p.waitForFunction(() => window.grafiqs);
  const res = await p.evaluate(async () => {
    try {
      await grafiqs.createScorer({ backend: 'cpu' });
      return 'created';
    } catch (e) {
      return `${grafiqs.wasmSimdAvailable()} ${e.code} ${e.message}`;
    }
  });
  assert.match(res, /^false wasm_simd_unavailable grafiqs: this browser lacks WebAssembly SIMD/);
  await p.close();
});
