#!/usr/bin/env node
// Soak of the capture path in headless Chromium (CPU backend): N frames (default 1000) of
// 640x480 with one face through assessFrame() with the shipped model, as CaptureSession calls
// it. Prints the JS heap and the WebAssembly memory at the start, every 100 frames and at the
// end, and the time per frame. Run after `make pkg`; the shared test assets give the face.
import path from 'node:path';
import * as h from '../tests/browser/harness.mjs';

const frames = Number(process.env.FRAMES ?? 1000);
const photo = path.join(h.assets, 'faces/lfw-colour/Alberto_Fujimori_0002.jpg');
const server = await h.serve({ '/pkg/': h.pkgDir, '/photo/': path.dirname(photo), '/': path.join(h.here, 'pages') });
const browser = await h.launch({ webgpu: false, args: ['--enable-precise-memory-info'] });
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.grafiqs);
  const r = await page.evaluate(async ({ frames, url }) => {
    const img = await createImageBitmap(await (await fetch(url)).blob());
    const c = new OffscreenCanvas(640, 480);
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#777';
    ctx.fillRect(0, 0, 640, 480);
    ctx.drawImage(img, 195, 115);
    const frame = ctx.getImageData(0, 0, 640, 480);
    const assessor = await grafiqs.createAssessor({ backend: 'cpu' });
    const wasm = await grafiqs.initialize();
    const sample = (i) => ({ frame: i, jsHeapMB: performance.memory.usedJSHeapSize / 1e6, wasmMB: wasm.memory.buffer.byteLength / 1e6 });
    const out = [sample(0)];
    const t0 = performance.now();
    let faces = 0;
    for (let i = 1; i <= frames; i++) {
      const a = await assessor.assessFrame(frame, { crops: false });
      faces += a.faces.length;
      if (i % 100 === 0) out.push(sample(i));
    }
    const ms = (performance.now() - t0) / frames;
    assessor.dispose();
    return { samples: out, msPerFrame: ms, facesPerFrame: faces / frames };
  }, { frames, url: `/photo/${path.basename(photo)}` });
  for (const s of r.samples) console.log(`frame ${String(s.frame).padStart(5)}: JS heap ${s.jsHeapMB.toFixed(1)} MB, wasm memory ${s.wasmMB.toFixed(1)} MB`);
  console.log(`${frames} frames, ${r.msPerFrame.toFixed(1)} ms per frame, ${r.facesPerFrame.toFixed(2)} faces per frame`);
} finally {
  await browser.close();
  await server.close();
}
