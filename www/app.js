// The demo: live camera guidance, best-frame capture, photo upload, model picker.
// Everything runs locally; after the page, detector and recognition model are loaded, the page
// makes no network requests. The live camera runs in two workers (guidance on every frame,
// GraFIQs quality on steady candidates; ?live=main runs it on this thread instead, for
// comparison); a photo upload is assessed on this thread.
import { createAssessor, CaptureSession } from './pkg/grafiqs.js';
import { createWorkerCaptureSession } from './pkg/worker-client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  assessor: null,
  session: null,
  readyStreak: 0,
  lastCapture: 0,
  captures: [],
  last: null,
  lastQuality: null,
  mode: 'idle',
  live: params.get('live') === 'main' ? 'main' : 'worker',
};
// Exposed for inspection (and the end-to-end test).
window.demo = state;

const LABELS = {
  faceSize: ['Face size', (v) => `${v.toFixed(0)} px eyes`],
  position: ['Position', (v) => `${(100 * v).toFixed(0)} %`],
  yaw: ['Turn (yaw)', (v) => `${v.toFixed(0)}°`],
  pitch: ['Nod (pitch)', (v) => `${v.toFixed(0)}°`],
  roll: ['Tilt (roll)', (v) => `${v.toFixed(0)}°`],
  brightness: ['Brightness', (v) => v.toFixed(0)],
  exposure: ['Clipped pixels', (v) => `${(100 * v).toFixed(1)} %`],
  contrast: ['Contrast', (v) => v.toFixed(0)],
  uniformity: ['Even light', (v) => `${(100 * v).toFixed(0)} %`],
  sharpness: ['Sharpness', (v) => v.toFixed(0)],
  faces: ['People', (v) => v.toFixed(0)],
  quality: ['GraFIQs quality', (v) => v.toFixed(0)],
};

function setHeadline(text, kind) {
  const h = $('headline');
  h.textContent = text;
  h.className = `headline ${kind}`;
}

function renderAdvice(a) {
  const list = $('advice');
  list.replaceChildren(
    ...a.advice.map((x) => {
      const li = document.createElement('li');
      li.textContent = x.message;
      li.dataset.code = x.code;
      return li;
    }),
  );
  const quality = a.faces[0]?.quality ?? (state.lastQuality && performance.now() - state.lastQuality.time < 1500 ? state.lastQuality.quality : undefined);
  if (a.ready) setHeadline(quality !== undefined ? `Looks good — quality ${quality.toFixed(0)}` : 'Looks good — hold still', 'ready');
  else setHeadline(a.advice[0]?.message ?? 'Adjust', 'adjust');
  const face = a.faces[0];
  const body = $('measures').tBodies[0];
  body.replaceChildren();
  if (!face) return;
  for (const key of Object.keys(LABELS)) {
    const m = face.measures[key];
    if (!m) continue;
    const tr = body.insertRow();
    tr.dataset.measure = key;
    tr.insertCell().textContent = LABELS[key][0];
    const v = tr.insertCell();
    v.className = 'v';
    v.textContent = LABELS[key][1](m.value);
    const bar = tr.insertCell();
    bar.innerHTML = `<div class="bar"><i style="width:${m.score.toFixed(0)}%;background:${m.pass ? 'var(--ok)' : 'var(--bad)'}"></i></div>`;
    const p = tr.insertCell();
    p.className = m.pass ? 'pass' : 'fail';
    p.textContent = m.pass ? '✓' : '✗';
  }
}

function drawOverlay(a, source) {
  const c = $('overlay');
  c.width = a.width;
  c.height = a.height;
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  if (source) ctx.drawImage(source, 0, 0, a.width, a.height);
  a.faces.forEach((f, i) => {
    const [x0, y0, x1, y1] = f.box;
    ctx.lineWidth = Math.max(2, a.width / 240);
    ctx.strokeStyle = i === 0 ? (f.measures && a.ready ? '#2ecc71' : '#f5a623') : '#e74c3c';
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillStyle = '#00e5ff';
    for (const [x, y] of f.landmarks) {
      ctx.beginPath();
      ctx.arc(x, y, Math.max(2, a.width / 200), 0, 2 * Math.PI);
      ctx.fill();
    }
  });
}

function showCapture(best, how) {
  const crop = best.aligned ?? best.assessment.faces[0]?.aligned;
  if (crop) $('captured').getContext('2d').putImageData(crop, 0, 0);
  const frame = $('captured-frame');
  frame.width = best.image.width;
  frame.height = best.image.height;
  frame.getContext('2d').putImageData(best.image, 0, 0);
  const f = best.assessment.faces[0];
  const s = f?.scores;
  $('captured-info').innerHTML =
    `<strong>${how} capture</strong> at ${new Date(performance.timeOrigin + best.time).toLocaleTimeString()}<br>` +
    (f?.quality !== undefined ? `GraFIQs quality <strong>${f.quality.toFixed(1)}</strong> / 100<br>` : 'No recognition model: quality not computed<br>') +
    (s ? `raw scores: image ${s.image.toFixed(0)}, block1 ${s.block1.toFixed(0)}, block2 ${s.block2.toFixed(1)}, block3 ${s.block3.toFixed(1)}, block4 ${s.block4.toFixed(2)}` : '');
  state.captures.push({ how, time: best.time, quality: f?.quality, advice: best.assessment.advice.map((x) => x.code) });
  state.lastCapture = performance.now();
}

const ms = (v) => (v === undefined ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));

/** Rates and per-stage times of the live session, next to the video. */
function showRates(stats) {
  if (!stats.ms) {
    $('rates').textContent = `main thread: ${stats.fps.toFixed(1)} frames/s, ${stats.lastMs.toFixed(0)} ms per frame`;
    return;
  }
  const m = stats.ms;
  $('rates').textContent =
    `guidance ${stats.guidancePerSec.toFixed(1)}/s · quality ${stats.qualityPerSec.toFixed(1)}/s · ` +
    `grab ${ms(m.grab)} · transfer ${ms(m.transfer)} · downscale ${ms(m.downscale)} · assess ${ms(m.assess)} · score ${ms(m.score)} ms`;
}

function onUpdate(a, stats) {
  state.last = a;
  drawOverlay(a);
  renderAdvice(a);
  $('timing').textContent = `${stats.lastMs.toFixed(0)} ms per frame · ${stats.fps.toFixed(1)} frames/s`;
  showRates(stats);
  state.readyStreak = a.ready ? state.readyStreak + 1 : 0;
  if ($('auto').checked && state.readyStreak >= 3 && performance.now() - state.lastCapture > 4000) {
    const best = state.session.bestFrame();
    if (best) showCapture(best, 'Automatic');
  }
}

async function startCamera() {
  $('start').disabled = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, facingMode: 'user' }, audio: false });
    const video = $('video');
    video.srcObject = stream;
    await video.play();
    $('placeholder').hidden = true;
    $('stage').classList.add('mirror');
    state.mode = 'camera';
    if (state.live === 'main') {
      state.session = new CaptureSession(state.assessor, video, { fps: Number(params.get('fps') ?? 5), windowMs: 2000, onUpdate, onError: showError });
    }
    state.session.start(video);
    $('capture').disabled = false;
    $('start').textContent = 'Camera on';
  } catch (e) {
    $('start').disabled = false;
    setHeadline(`Camera unavailable: ${e.message}. You can upload a photo instead.`, 'adjust');
  }
}

function showError(e) {
  setHeadline(`Error: ${e.message}`, 'adjust');
}

/** The worker session of the live camera, scoring with `model` (default: the shipped one). */
async function workerSession(model) {
  const old = state.session;
  const running = old?.running;
  old?.stop();
  const session = await createWorkerCaptureSession($('video'), {
    backend: params.get('backend') ?? 'auto',
    cache: true,
    model,
    fps: Number(params.get('fps') ?? 30),
    windowMs: 2000,
    // `?track=refine`: R-Net and O-Net alone between full detections (cheaper, steadier).
    trackMode: params.get('track') ?? undefined,
    onUpdate,
    onQuality: (q, stats) => {
      state.lastQuality = { ...q, time: performance.now() };
      showRates(stats);
    },
    onError: showError,
  });
  await old?.dispose?.();
  state.session = session;
  if (running) session.start();
  return session;
}

async function onPhoto(file) {
  state.session?.stop();
  const bmp = await createImageBitmap(file);
  $('placeholder').hidden = true;
  $('stage').classList.remove('mirror');
  const t0 = performance.now();
  const a = await state.assessor.assessFrame(bmp);
  $('timing').textContent = `${(performance.now() - t0).toFixed(0)} ms for this photo`;
  state.last = a;
  drawOverlay(a, bmp);
  renderAdvice(a);
  if (a.faces[0]) {
    const c = document.createElement('canvas');
    c.width = bmp.width;
    c.height = bmp.height;
    c.getContext('2d').drawImage(bmp, 0, 0);
    showCapture({ time: performance.now(), assessment: a, image: c.getContext('2d').getImageData(0, 0, c.width, c.height), aligned: a.faces[0].aligned }, 'Photo');
  }
}

async function loadModel(source, label) {
  $('model-status').textContent = `Loading ${label}…`;
  try {
    await state.assessor.setModel(source, {
      cache: true,
      onProgress: ({ loaded, total }) => {
        $('model-status').textContent = `Loading ${label}: ${(loaded / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`;
      },
    });
    if (state.live === 'worker') await workerSession(source);
    $('model-status').textContent = `Model loaded: ${label}. Captures now carry a GraFIQs quality.`;
  } catch (e) {
    $('model-status').textContent = `Could not load ${label}: ${e.message}`;
  }
}

async function init() {
  const backend = params.get('backend') ?? 'auto';
  $('backend-select').value = backend;
  try {
    // The photo path's assessor (this thread) and the live camera's workers load side by side.
    const [assessor] = await Promise.all([createAssessor({ backend, cache: true }), state.live === 'worker' ? workerSession(undefined) : null]);
    state.assessor = assessor;
    $('start').disabled = false;
  } catch (e) {
    setHeadline(`Could not start: ${e.message}`, 'adjust');
    return;
  }
  $('backend').textContent =
    `backend: ${state.assessor.backend}${state.assessor.fallbackReason ? ' (WebGPU unavailable)' : ''}` +
    (state.live === 'worker' ? ` · live camera in workers (${state.session.backend})` : ' · live camera on the main thread');
  if (state.assessor.hasModel) {
    $('model-status').textContent = `Model: ${state.assessor.modelName} (shipped with the package, Apache-2.0). Captures carry a GraFIQs quality.`;
  }
  setHeadline('Ready: start the camera or upload a photo', 'waiting');
  // A locally converted model (make demo puts one here when the test assets exist).
  fetch('models/mobilefacenet.grafiqs', { method: 'HEAD' })
    .then((r) => {
      if (r.ok) $('local-model').hidden = false;
    })
    .catch(() => {});
  if (params.get('model')) await loadModel(params.get('model'), params.get('model'));
  if (params.has('camera')) startCamera();
}

$('start').onclick = startCamera;
$('capture').onclick = () => {
  const best = state.session?.bestFrame();
  if (best) showCapture(best, 'Manual');
  else setHeadline('No frame passed every check yet', 'adjust');
};
$('photo-file').onchange = (e) => e.target.files[0] && onPhoto(e.target.files[0]);
$('model-file').onchange = async (e) => {
  const f = e.target.files[0];
  if (f) await loadModel(new Uint8Array(await f.arrayBuffer()), f.name);
};
$('load-model').onclick = () => $('model-url').value && loadModel($('model-url').value, $('model-url').value);
$('local-model').onclick = () => loadModel('models/mobilefacenet.grafiqs', 'local InsightFace MobileFaceNet (research only)');
$('backend-select').onchange = (e) => {
  params.set('backend', e.target.value);
  location.search = params.toString();
};
init();
