// Shared pieces of the browser tests: a static server on 127.0.0.1, Debian's Chromium driven by
// playwright-core, and the models/native results the pages are compared against.
import { readFile, mkdtemp } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStaticServer } from '../../scripts/static-server.mjs';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const fixtures = path.join(root, 'tests/fixtures');
export const assets = process.env.GRAFIQS_ASSETS ?? path.resolve(root, '../shared/assets');
export const pkgDir = process.env.PKG_DIR ? path.resolve(root, process.env.PKG_DIR) : path.join(root, 'pkg');
export const bin =
  process.env.GRAFIQS_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'release/grafiqs');

export function haveAssets() {
  if (existsSync(path.join(assets, 'models'))) return true;
  if (process.env.GRAFIQS_REQUIRE_ASSETS === '1') throw new Error(`test assets not found at ${assets}`);
  return false;
}

/** Runs the native CLI. */
export function grafiqs(...args) {
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Converted models and native reference results in a fresh temp dir (served as /gen/):
 * tiny.grafiqs (from the committed fixture checkpoint) and, when the shared assets exist,
 * mobilefacenet.grafiqs (never written into the repository).
 */
export async function prepare() {
  const gen = await mkdtemp(path.join(tmpdir(), 'grafiqs-browser-'));
  grafiqs('convert', '--weights', path.join(fixtures, 'tiny_iresnet.pth'), '--backbone', 'iresnet', '--out', path.join(gen, 'tiny.grafiqs'));
  const tinyFiles = [0, 1, 2, 3].map((i) => path.join(fixtures, `tiny_img${i}.png`));
  grafiqs('score', '--model', path.join(gen, 'tiny.grafiqs'), '--bgr2rgb', '--quiet', '--output-dir', gen, '--json', path.join(gen, 'tiny_native.json'), '--embeddings', ...tinyFiles);
  const out = { gen, tiny: JSON.parse(await readFile(path.join(gen, 'tiny_native.json'), 'utf8')) };
  if (haveAssets()) {
    const m = path.join(assets, 'models/insightface-mobilefacenet-y1');
    grafiqs('convert', '--weights', path.join(m, 'model-0000.params'), '--backbone', 'mobilefacenet', '--out', path.join(gen, 'mobilefacenet.grafiqs'));
    const faces = path.join(assets, 'faces/aligned-112');
    grafiqs('score', '--model', path.join(gen, 'mobilefacenet.grafiqs'), '--bgr2rgb', '--quiet', '--output-dir', gen, '--json', path.join(gen, 'mfn_native.json'), '--image-path', faces);
    out.mobilefacenet = JSON.parse(await readFile(path.join(gen, 'mfn_native.json'), 'utf8'));
  }
  return out;
}

/**
 * Serves `mounts` ({ urlPrefix: directory }) on 127.0.0.1 with the same root-confined server
 * as `make demo` (scripts/static-server.mjs); records every request path.
 */
export async function serve(mounts) {
  const requests = [];
  const s = await startStaticServer(mounts, { headers: { 'cache-control': 'no-store' }, onRequest: (p) => requests.push(p) });
  return { url: s.url, requests, close: s.close };
}

export const BASE_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--disable-dev-shm-usage',
];
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'];

/**
 * Launches Debian's Chromium (new headless). `webgpu: false` disables WebGPU entirely.
 * Chromium occasionally dies during start-up on this VM (a SIGSEGV before any page exists);
 * such a start is retried, twice at most, and logged. Failures after start-up are not retried.
 */
export async function launch({ webgpu = true, args = [] } = {}) {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  const options = {
    executablePath,
    headless: true,
    args: [...BASE_ARGS, ...(webgpu ? WEBGPU_ARGS : ['--disable-features=WebGPU']), ...args],
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await chromium.launch(options);
    } catch (e) {
      const startupCrash = /has been closed|signal=SIGSEGV|signal=SIGTRAP/.test(String(e?.message));
      if (!startupCrash || attempt === 3) throw e;
      console.log(`chromium died while starting (attempt ${attempt}); starting it again`);
    }
  }
}

/** Opens `url` and forwards the page's console errors to the test log. */
export async function open(browser, url) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  return { page, errors };
}

/** Relative difference. */
export const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
export const KINDS = ['image', 'block1', 'block2', 'block3', 'block4'];

/**
 * Writes the fake camera's Y4M video (a shared face photo: clean, darkened and blurred
 * segments of `seconds` each at `fps` frames/s, marked red, green and blue; examples/fake_camera.rs)
 * to `file`.
 */
export function fakeCameraVideo(file, seconds = 6, fps = 10) {
  const maker = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'release/examples/fake_camera');
  if (!existsSync(maker)) throw new Error(`build the example first: ${maker}`);
  execFileSync(maker, [path.join(assets, 'faces/lfw-colour/Alberto_Fujimori_0001.jpg'), file, String(seconds), String(fps)], { stdio: 'pipe' });
  return file;
}

/** Chromium flags that make `y4m` the camera, granted without a prompt. */
export const fakeCameraArgs = (y4m) => ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`];

/**
 * An init script (page.addInitScript) that counts, on the page's main thread only, pixel reads
 * (CanvasRenderingContext2D getImageData; any OffscreenCanvas 2D drawImage/getImageData/
 * putImageData), calls into WebAssembly exports (every instance created on this thread is
 * wrapped) and long tasks: `window.__mainThread = { getImageData, offscreen, wasmCalls,
 * wasmInstances, longTasks: [{ start, duration }] }`.
 */
export function instrumentMainThread() {
  const c = { getImageData: 0, offscreen: 0, wasmCalls: 0, wasmInstances: 0, longTasks: [] };
  window.__mainThread = c;
  const wrap = (proto, name, key) => {
    const f = proto?.[name];
    if (typeof f !== 'function') return;
    proto[name] = function (...a) {
      c[key]++;
      return f.apply(this, a);
    };
  };
  wrap(globalThis.CanvasRenderingContext2D?.prototype, 'getImageData', 'getImageData');
  for (const n of ['drawImage', 'getImageData', 'putImageData']) wrap(globalThis.OffscreenCanvasRenderingContext2D?.prototype, n, 'offscreen');
  const wrapInstance = (instance) => {
    c.wasmInstances++;
    const exports = {};
    for (const [k, v] of Object.entries(instance.exports)) {
      exports[k] = typeof v === 'function' ? (...a) => (c.wasmCalls++, v(...a)) : v;
    }
    const fake = Object.create(WebAssembly.Instance.prototype);
    Object.defineProperty(fake, 'exports', { value: exports });
    return fake;
  };
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source, imports) {
    const r = await instantiate.call(this, source, imports);
    return r instanceof WebAssembly.Instance ? wrapInstance(r) : { module: r.module, instance: wrapInstance(r.instance) };
  };
  const streaming = WebAssembly.instantiateStreaming;
  if (streaming) {
    WebAssembly.instantiateStreaming = async function (source, imports) {
      const r = await streaming.call(this, source, imports);
      return { module: r.module, instance: wrapInstance(r.instance) };
    };
  }
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) c.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
}

/**
 * Runs the demo's live camera for `ms` on an opened demo page (instrumented with
 * instrumentMainThread): resets the counters, clicks Start, waits, and returns the session's
 * stats, the counters and the long tasks that began during the session.
 */
export async function liveDemoSession(page, ms) {
  await page.evaluate(() => {
    const c = window.__mainThread;
    Object.assign(c, { getImageData: 0, offscreen: 0, wasmCalls: 0 });
    c.sessionStart = performance.now();
  });
  await page.click('#start');
  await page.waitForFunction(() => window.demo.last, null, { timeout: 60000 });
  await page.evaluate(() => (window.__mainThread.firstUpdate = performance.now()));
  await new Promise((r) => setTimeout(r, ms));
  return page.evaluate(() => {
    const c = window.__mainThread;
    const end = performance.now();
    const stats = window.demo.session.stats;
    const tasks = c.longTasks.filter((t) => t.start >= c.firstUpdate && t.start < end);
    window.demo.session.stop();
    const seconds = (end - c.firstUpdate) / 1000;
    return {
      seconds,
      // Means over the whole session (the stats' rates are over their last 2 s).
      meanGuidancePerSec: stats.frames / seconds,
      meanQualityPerSec: stats.qualities === undefined ? null : stats.qualities / seconds,
      stats: JSON.parse(JSON.stringify(stats)),
      counts: { getImageData: c.getImageData, offscreen: c.offscreen, wasmCalls: c.wasmCalls },
      longTasks: { count: tasks.length, longestMs: Math.max(0, ...tasks.map((t) => t.duration)), totalMs: tasks.reduce((s, t) => s + t.duration, 0) },
    };
  });
}

/** `npm pack`s the package into a fresh temp dir: `{ path, info }` (npm's JSON for the tarball). */
export async function packTarball() {
  const dir = await mkdtemp(path.join(tmpdir(), 'grafiqs-pack-'));
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: pkgDir, encoding: 'utf8' });
  const [info] = JSON.parse(packed);
  return { path: path.join(dir, info.filename), info };
}

/** Installs the tarball into `app` (which has a package.json) without touching the registry. */
export function installTarball(app, tarball) {
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball.path], { cwd: app, stdio: 'pipe' });
}

/** The Vite the tests use (tests/browser devDependencies), imported as its JS API. */
export const viteApi = () => import(path.join(here, 'node_modules/vite/dist/node/index.js'));

/** The code of an advice item of the native `assess --json` output (a code, or `{ code, message }`). */
export const adviceCode = (a) => (typeof a === 'string' ? a : a.code);
