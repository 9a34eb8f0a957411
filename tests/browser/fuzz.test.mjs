// Seeded fuzzing through the browser entry points: createScorer (random, truncated and mutated
// model bytes, also with the CRC repaired so the Rust reader parses them), score (bad RGBA
// objects, zero-sized, detached and foreign buffers, random and mutated encoded images, crafted
// JPEG/PNG headers), scoreBatch and assessFrame. Every call must settle within 10 s, every
// failure must be an Error with a message, the module must never trap (a trap is a Rust panic
// or an allocation failure), every message must come from the package or the Rust side (no raw
// DOM or TypedArray error), and wasm memory must stay bounded.
//   GRAFIQS_FUZZ_SEED (default 20240617) and GRAFIQS_FUZZ_N (inputs per entry point, default 300).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.mjs';


const SEED = Number(process.env.GRAFIQS_FUZZ_SEED ?? 20240617);
const N = Number(process.env.GRAFIQS_FUZZ_N ?? 300);
let prep;
let server;
let browser;

before(async () => {
  prep = await h.prepare();
  server = await h.serve({ '/pkg/': h.pkgDir, '/fixtures/': h.fixtures, '/gen/': prep.gen, '/': path.join(h.here, 'pages') });
  browser = await h.launch({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// Runs in the page.
async function fuzz({ seed, n }) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
  const pick = (xs) => xs[int(0, xs.length - 1)];
  const bytes = (len) => Uint8Array.from({ length: len }, () => int(0, 255));
  const crcTable = Array.from({ length: 256 }, (_, k) => {
    let c = k;
    for (let j = 0; j < 8; j++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b) => {
    let c = 0xffffffff;
    for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const fixCrc = (b) => {
    if (b.length >= 4) new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, crc(b.subarray(0, b.length - 4)), true);
    return b;
  };
  const flip = (b, k) => {
    const c = b.slice();
    for (let i = 0; i < k; i++) c[int(0, c.length - 1)] ^= 1 << int(0, 7);
    return c;
  };
  const detached = (len) => {
    const view = new Uint8Array(len);
    structuredClone(view.buffer, { transfer: [view.buffer] });
    return view;
  };
  const model = await bytesOf('/gen/tiny.grafiqs');
  const png = await bytesOf('/fixtures/tiny_img0.png');
  const hlen = Number(new DataView(model.buffer).getBigUint64(16, true));

  const stats = { calls: 0, resolved: 0, rejected: 0, byEntry: {}, bugs: [], messages: {} };
  const settle = async (entry, label, f) => {
    stats.calls++;
    stats.byEntry[entry] = (stats.byEntry[entry] ?? 0) + 1;
    let timer;
    const hung = new Promise((r) => (timer = setTimeout(() => r('HUNG'), 10000)));
    let outcome;
    try {
      outcome = await Promise.race([
        (async () => f())().then(
          (v) => ({ ok: true, v }),
          (e) => ({ ok: false, e }),
        ),
        hung,
      ]);
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'HUNG') return stats.bugs.push(`${entry} ${label}: no answer within 10 s`);
    if (outcome.ok) {
      stats.resolved++;
      outcome.v?.dispose?.();
      return;
    }
    stats.rejected++;
    const e = outcome.e;
    if (!(e instanceof Error) || !e.message) return stats.bugs.push(`${entry} ${label}: rejected with a non-Error ${String(e)}`);
    if (e.code === 'module_trapped') return stats.bugs.push(`${entry} ${label}: the module trapped: ${e.message}`);
    // The package's own messages start with "grafiqs:"; the Rust side's carry the stable code of
    // their kind. `internal` is a broken invariant (a bug); anything else is an error that escaped
    // unexplained (a raw DOM or TypedArray error).
    if (e.code === 'internal') return stats.bugs.push(`${entry} ${label}: internal error: ${e.message}`);
    if (!/^grafiqs/.test(e.message) && !['invalid_model', 'wrong_architecture', 'invalid_image', 'invalid_input', 'backend', 'device_lost', 'io'].includes(e.code)) stats.bugs.push(`${entry} ${label}: unexplained error: ${e.constructor.name}: ${e.message}`);
    const key = e.message.replace(/\d+/g, 'N').slice(0, 90);
    stats.messages[key] = (stats.messages[key] ?? 0) + 1;
  };

  // createScorer
  const models = [
    () => ['random', bytes(int(0, 4096))],
    () => ['empty', new Uint8Array(0)],
    () => ['truncated', model.slice(0, int(0, model.length - 1))],
    () => ['bit flips', flip(model, int(1, 8))],
    () => ['bit flips, CRC repaired', fixCrc(flip(model, int(1, 8)))],
    () => ['header bytes, CRC repaired', fixCrc((() => { const c = model.slice(); for (let i = 0; i < 4; i++) c[int(24, 24 + hlen - 1)] = int(32, 126); return c; })())],
    () => ['header length, CRC repaired', fixCrc((() => { const c = model.slice(); new DataView(c.buffer).setBigUint64(16, BigInt(pick([0, 1, hlen - 1, hlen + 1, 2 ** 32, 2 ** 53])), true); return c; })())],
    () => ['version', fixCrc((() => { const c = model.slice(); new DataView(c.buffer).setUint32(8, int(0, 5), true); return c; })())],
    () => ['not bytes', pick([42, 'x', {}, [], true, new Float32Array(8), new DataView(new ArrayBuffer(8))])],
    () => ['detached', detached(int(0, 64))],
  ];
  for (let i = 0; i < n; i++) {
    const [label, m] = pick(models)();
    await settle('createScorer', label, () => grafiqs.createScorer({ model: m, backend: 'cpu' }));
  }
  const scorer = await grafiqs.createScorer({ model, backend: 'cpu' });

  // score with pixel objects and encoded files
  const dims = [0, 1, 2, 15, 16, 17, 64, 112, 113, 300, -1, 1.5, NaN, Infinity, 2 ** 31, 65536, 16385];
  const rgba = () => {
    const w = pick(dims);
    const h = pick(dims);
    const len = Number.isInteger(w * h) && w * h >= 0 && w * h < 1e6 ? w * h * 4 : int(0, 4096);
    const data = pick([
      () => new Uint8Array(len),
      () => new Uint8ClampedArray(len),
      () => bytes(Math.max(0, len + pick([0, 0, 0, -1, 1, 4]))),
      () => new Float32Array(Math.min(len, 1e5)),
      () => detached(len),
      () => Array.from({ length: Math.min(len, 64) }, () => 1),
      () => null,
      () => 'pixels',
    ])();
    return [`${w}x${h} ${data?.constructor?.name}(${data?.length})`, { data, width: w, height: h }];
  };
  const encoded = () =>
    pick([
      () => ['random', bytes(int(0, 2048))],
      () => ['PNG magic + random', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...bytes(int(0, 512))])],
      () => ['JPEG magic + random', Uint8Array.from([0xff, 0xd8, 0xff, ...bytes(int(0, 512))])],
      () => ['PNG truncated', png.slice(0, int(0, png.length - 1))],
      () => ['PNG bit flips', flip(png, int(1, 6))],
      () => {
        const w = pick([0, 1, 16, 4000, 16384, 16385, 65535]);
        const hh = pick([0, 1, 16, 4000, 16384, 16385, 65535]);
        return [`JPEG SOF ${w}x${hh}`, Uint8Array.from([0xff, 0xd8, 0xff, pick([0xc0, 0xc1, 0xc2]), 0, 17, 8, hh >> 8, hh & 255, w >> 8, w & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, ...bytes(int(0, 64)), 0xff, 0xd9])];
      },
      () => {
        const c = png.slice();
        const v = new DataView(c.buffer);
        v.setUint32(16, pick([0, 1, 16, 20000, 65536, 2 ** 31]));
        v.setUint32(20, pick([0, 1, 16, 20000, 65536, 2 ** 31]));
        return ['PNG IHDR size', c];
      },
      () => ['Blob', new Blob([bytes(int(0, 256))])],
    ])();
  for (let i = 0; i < n; i++) {
    const [label, img] = rnd() < 0.5 ? rgba() : encoded();
    await settle('score', label, () => scorer.score(img, { embedding: rnd() < 0.5 }));
  }
  for (let i = 0; i < Math.ceil(n / 4); i++) {
    const k = pick([0, 1, 2, 3, 65, 80]);
    const imgs = Array.from({ length: k }, () => (rnd() < 0.7 ? { data: bytes(112 * 112 * 4), width: 112, height: 112 } : rgba()[1]));
    await settle('scoreBatch', `${k} images`, () => scorer.scoreBatch(rnd() < 0.1 ? pick([null, {}, 'x']) : imgs));
  }

  // assessFrame
  const assessor = await grafiqs.createAssessor({ backend: 'cpu', detector: '/pkg/mtcnn.grafiqs' });
  for (let i = 0; i < n; i++) {
    const [label, frame] = pick([
      rgba,
      () => {
        const w = int(16, 200);
        const hh = int(16, 200);
        return [`random ${w}x${hh}`, new ImageData(Uint8ClampedArray.from(bytes(w * hh * 4)), w, hh)];
      },
      () => ['ImageData of a detached buffer', (() => { const d = new ImageData(32, 32); structuredClone(d.data.buffer, { transfer: [d.data.buffer] }); return d; })()],
      () => ['not an image', pick([null, undefined, 0, 'frame', {}, { width: 10 }, new Uint8Array(10)])],
    ])();
    await settle('assessFrame', label, () => assessor.assessFrame(frame, { crops: rnd() < 0.5 }));
  }
  const memory = (await grafiqs.initialize()).memory.buffer.byteLength;
  // Still fully usable afterwards.
  const ok = (await scorer.score(await rgbaOf('/fixtures/tiny_img0.png'))).scores.block1;
  scorer.dispose();
  assessor.dispose();
  return { ...stats, memory, status: grafiqs.moduleStatus(), ok };
}

test(`seeded fuzzing of createScorer, score, scoreBatch and assessFrame (seed ${SEED}, ${N} per entry point)`, async () => {
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${server.url}/`);
  await p.waitForFunction(() => window.grafiqs);
  const t0 = Date.now();
  const r = await p.evaluate(fuzz, { seed: SEED, n: N });
  console.log(
    `fuzz: ${r.calls} inputs (${JSON.stringify(r.byEntry)}) in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
      `${r.resolved} resolved, ${r.rejected} rejected; wasm memory ${(r.memory / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(`distinct error messages: ${Object.keys(r.messages).length}\n  ${Object.entries(r.messages).map(([m, c]) => `${c}× ${m}`).join('\n  ')}`);
  assert.deepEqual(r.bugs, [], 'every input settles with an Error and nothing traps');
  assert.equal(r.status.traps, 0);
  assert.ok(r.memory < 2 ** 30, `wasm memory stayed under 1 GiB (${r.memory} bytes)`);
  assert.ok(r.ok > 0);
  assert.ok(r.calls >= N * 3, 'all inputs were tried');
  assert.deepEqual(errors, []);
  await p.close();
});
