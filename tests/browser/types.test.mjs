// The hand-written type declarations (pkg-config/*.d.ts) are checked, so they cannot drift:
// tests/types/usage.ts uses the whole API as an application would and must type-check with
// `tsc --noEmit --strict` (declaration files included) when `grafiqs` resolves through the
// package's own `exports`, under both `bundler` and `nodenext` module resolution; its
// `@ts-expect-error` lines make tsc fail when a misuse stops being rejected. The values the
// module exports at run time must be exactly those declared, and what the functions return in
// Chromium (results, model info, assessments, worker results) is written out as object
// literals and type-checked against the declared types: a field the declarations lack, or one
// they require that is missing, fails. The READMEs' code examples type-check too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as h from './harness.mjs';

const tsc = path.join(h.here, 'node_modules/typescript/bin/tsc');
const config = path.join(h.root, 'pkg-config');

/** A scratch project with `grafiqs` installed from pkg-config/ (package.json and the .d.ts). */
async function project() {
  const dir = await mkdtemp(path.join(tmpdir(), 'grafiqs-types-'));
  const mod = path.join(dir, 'node_modules/grafiqs');
  await mkdir(mod, { recursive: true });
  const pkg = JSON.parse((await readFile(path.join(config, 'package.json'), 'utf8')).replace('@VERSION@', '0.0.0'));
  await writeFile(path.join(mod, 'package.json'), JSON.stringify(pkg));
  for (const f of pkg.files.filter((f) => f.endsWith('.d.ts') && !f.startsWith('grafiqs_wasm'))) {
    await copyFile(path.join(config, f), path.join(mod, f));
  }
  await copyFile(path.join(h.root, 'tests/types/usage.ts'), path.join(dir, 'usage.ts'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'types-check', private: true, type: 'module' }));
  return dir;
}

function check(dir, resolution, { files = ['usage.ts'], strict = true } = {}) {
  const options = {
    strict,
    noEmit: true,
    skipLibCheck: false,
    noUnusedLocals: false,
    target: 'es2022',
    lib: ['es2022', 'dom', 'dom.iterable'],
    types: [],
    ...(resolution === 'bundler' ? { module: 'esnext', moduleResolution: 'bundler' } : { module: 'nodenext', moduleResolution: 'nodenext' }),
  };
  const file = path.join(dir, `tsconfig.${resolution}.json`);
  return writeFile(file, JSON.stringify({ compilerOptions: options, files })).then(() => {
    try {
      execFileSync(process.execPath, [tsc, '-p', file], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      assert.fail(`tsc (${resolution}) found errors:\n${e.stdout}${e.stderr}`);
    }
  });
}

test('tests/types/usage.ts type-checks against the declarations (bundler and nodenext resolution)', async () => {
  const dir = await project();
  await check(dir, 'bundler');
  await check(dir, 'nodenext');
});

test('a misuse of the API fails the check', async () => {
  // The check itself must be able to fail: one wrong line makes tsc report it.
  const dir = await project();
  const usage = path.join(dir, 'usage.ts');
  await writeFile(usage, `${await readFile(usage, 'utf8')}\nexport const wrong: string = (await createScorer()).info.parameters;\n`);
  await assert.rejects(check(dir, 'bundler'), /info\.parameters|not assignable to type 'string'/);
});

/** Names of the values (`export declare const|function|class`) a declaration file exports. */
async function declared(file) {
  const src = await readFile(path.join(config, file), 'utf8');
  return [...src.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]).sort();
}

test('the module exports exactly the values its declarations name', async () => {
  const m = await import(pathToFileURL(path.join(h.pkgDir, 'grafiqs.js')).href);
  assert.deepEqual(Object.keys(m).sort(), await declared('grafiqs.d.ts'));
  const w = await import(pathToFileURL(path.join(h.pkgDir, 'worker-client.js')).href);
  assert.deepEqual(Object.keys(w).sort(), await declared('worker-client.d.ts'));
});

// Runs in the page: real values of every result type, with typed arrays and ImageData as
// markers that the generated TypeScript turns back into constructors.
async function realValues({ photo }) {
  const enc = (v) => {
    if (v === undefined) return { $undefined: true };
    if (v instanceof Float32Array) return { $f32: v.length };
    if (v instanceof ImageData) return { $img: [v.width, v.height] };
    if (Array.isArray(v)) return v.map(enc);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
    return v;
  };
  const g = window.grafiqs;
  const face = await window.bytesOf('/fixtures/tiny_img0.png');
  const scorer = await g.createScorer({ backend: 'cpu' });
  // The same pixels as RGBA and as a BMP file (bottom-up BGR rows), which the browser decodes.
  const px = await window.rgbaOf('/fixtures/tiny_img2.png');
  const bmp = new Uint8Array(54 + px.width * px.height * 3);
  const dv = new DataView(bmp.buffer);
  bmp.set([0x42, 0x4d]);
  [[2, bmp.length], [10, 54], [14, 40], [18, px.width], [22, px.height], [34, px.width * px.height * 3]].forEach(([o, v]) => dv.setUint32(o, v, true));
  dv.setUint16(26, 1, true);
  dv.setUint16(28, 24, true);
  for (let y = 0; y < px.height; y++) {
    for (let x = 0; x < px.width; x++) {
      const i = 4 * (y * px.width + x);
      bmp.set([px.data[i + 2], px.data[i + 1], px.data[i]], 54 + 3 * ((px.height - 1 - y) * px.width + x));
    }
  }
  const formats = { bmp: (await scorer.score(bmp)).scores, rgba: (await scorer.score(px)).scores };
  const out = {
    ScoreResult: await scorer.score(face, { embedding: true }),
    'ScoreResult[]': await scorer.scoreBatch([await window.rgbaOf('/fixtures/tiny_img1.png')]),
    ModelInfo: scorer.info,
    Limits: scorer.limits,
    memory: scorer.memoryUsage(),
    status: g.moduleStatus(),
    check: g.checkModelBytes(await window.bytesOf('/pkg/mtcnn.grafiqs')),
  };
  scorer.dispose();
  const bitmap = await createImageBitmap(await (await fetch(photo)).blob());
  const assessor = await g.createAssessor({ backend: 'cpu' });
  out.Assessment = await assessor.assessFrame(bitmap);
  assessor.dispose();
  out.guidance = await g.assessFrame(bitmap, { backend: 'cpu', model: null, crops: false });
  const w = await g.createWorkerScorer({ backend: 'cpu' });
  out.worker = { backend: w.backend, fallbackReason: w.fallbackReason, info: w.info, result: await w.score(face, { embedding: true }) };
  await w.dispose();
  return { values: enc(out), formats };
}

test('what the API returns in Chromium has exactly the declared shape', async () => {
  const photo = h.haveAssets() ? path.join(h.assets, 'faces/lfw-colour/Albert_Costa_0001.jpg') : path.join(h.fixtures, 'tiny_img0.png');
  const server = await h.serve({ '/pkg/': h.pkgDir, '/fixtures/': h.fixtures, '/photo/': path.dirname(photo), '/': path.join(h.here, 'pages') });
  let values;
  let browser;
  try {
    browser = await h.launch({ webgpu: false });
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.grafiqs);
    const got = await page.evaluate(realValues, { photo: `/photo/${path.basename(photo)}` });
    values = got.values;
    // A format the wasm build does not decode itself (BMP) is decoded by the browser: the
    // scores equal those of the same pixels given as RGBA.
    assert.deepEqual(got.formats.bmp, got.formats.rgba, 'a BMP scores as its pixels');
  } finally {
    await browser?.close();
    await server.close();
  }
  if (h.haveAssets()) assert.ok(values.Assessment.faces.length > 0 && values.Assessment.faces[0].quality !== undefined, 'a face with quality');
  const lit = (v) =>
    JSON.stringify(v, null, 1)
      .replace(/\{\s*"\$undefined": true\s*\}/g, 'undefined')
      .replace(/\{\s*"\$f32": (\d+)\s*\}/g, 'new Float32Array($1)')
      .replace(/\{\s*"\$img": \[\s*(\d+),\s*(\d+)\s*\]\s*\}/g, 'new ImageData($1, $2)');
  const src = `import type { Assessment, Limits, ModelInfo, ScoreResult, checkModelBytes, moduleStatus, Scorer } from 'grafiqs';
import type { WorkerScorer } from 'grafiqs/worker';
export const score: ScoreResult = ${lit(values.ScoreResult)};
export const batch: ScoreResult[] = ${lit(values['ScoreResult[]'])};
export const info: ModelInfo = ${lit(values.ModelInfo)};
export const limits: Limits = ${lit(values.Limits)};
export const memory: ReturnType<Scorer['memoryUsage']> = ${lit(values.memory)};
export const status: ReturnType<typeof moduleStatus> = ${lit(values.status)};
export const check: ReturnType<typeof checkModelBytes> = ${lit(values.check)};
export const assessment: Assessment = ${lit(values.Assessment)};
export const guidance: Assessment = ${lit(values.guidance)};
export const worker: Pick<WorkerScorer, 'backend' | 'fallbackReason' | 'info'> & { result: ScoreResult } = ${lit(values.worker)};
`;
  const dir = await project();
  await writeFile(path.join(dir, 'usage.ts'), src);
  await check(dir, 'bundler');
});

// The names the READMEs' snippets take as given, with the types a page would have.
const SNIPPET_GIVENS = `import type { Assessment } from 'grafiqs';
declare global {
  const alignedFaceImageData: ImageData;
  const videoElement: HTMLVideoElement;
  const face1: ImageData, face2: ImageData, face3: ImageData;
  const onUpdate: (a: Assessment) => void;
  const draw: (a: Assessment) => void;
  const show: (quality: number) => void;
}
export {};
`;

test("the READMEs' code examples type-check against the declarations", async () => {
  // Every ```js block that imports the package, as its own module; plain JavaScript, so without
  // strict null checks (`document.querySelector('img')` is fine there).
  const dir = await project();
  const files = ['givens.ts'];
  await writeFile(path.join(dir, 'givens.ts'), SNIPPET_GIVENS);
  for (const readme of ['README.md', 'pkg-config/README.md']) {
    const text = await readFile(path.join(h.root, readme), 'utf8');
    for (const [, code] of text.matchAll(/```js\n([\s\S]*?)```/g)) {
      if (!/from 'grafiqs/.test(code)) continue;
      const name = `snippet${files.length}.ts`;
      await writeFile(path.join(dir, name), `// ${readme}\n${code}\nexport {};\n`);
      files.push(name);
    }
  }
  assert.ok(files.length >= 5, `the snippets were found (${files.length - 1})`);
  await check(dir, 'bundler', { files, strict: false });
});

test('encoded images: JPEG and PNG are decoded by the package; without createImageBitmap nothing else is', async () => {
  // Node has no createImageBitmap, so every file goes to the package's own decoder: PNG scores
  // (as in Chromium), BMP is refused because the wasm build leaves that decoder out.
  const g = await import(pathToFileURL(path.join(h.pkgDir, 'grafiqs.js')).href);
  assert.equal(typeof globalThis.createImageBitmap, 'undefined');
  await g.initialize({ wasm: await readFile(path.join(h.pkgDir, 'grafiqs_wasm_bg.wasm')) });
  const s = await g.createScorer({ backend: 'cpu', model: await readFile(path.join(h.pkgDir, 'foamliu-mobilefacenet.grafiqs')) });
  try {
    for (const f of ['tiny_img0.png', 'jpeg/q90_444.jpg']) {
      const r = await s.score(await readFile(path.join(h.fixtures, f)));
      assert.ok(r.scores.block1 > 0 && r.model === 'foamliu-mobilefacenet', f);
    }
    const bmp = Buffer.alloc(54 + 16 * 16 * 3);
    bmp.write('BM');
    [[2, bmp.length], [10, 54], [14, 40], [18, 16], [22, 16], [34, 16 * 16 * 3]].forEach(([o, v]) => bmp.writeUInt32LE(v, o));
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    await assert.rejects(s.score(new Uint8Array(bmp)), /Bmp is not supported/);
  } finally {
    s.dispose();
  }
});
