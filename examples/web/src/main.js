// Picks a photo or watches the camera, and says whether the face is good enough for face
// recognition: face detection, capture advice and GraFIQs quality, all on the device.
import { createAssessor, CaptureSession } from 'grafiqs';

const $ = (id) => document.getElementById(id);
const view = $('view');
const video = $('video');
let assessor = null;
let session = null;

/** Draws the frame with the main face's box and landmarks, and shows the verdict and advice. */
function show(assessment, frame) {
  view.width = assessment.width;
  view.height = assessment.height;
  const ctx = view.getContext('2d');
  if (frame instanceof ImageData) ctx.putImageData(frame, 0, 0);
  else ctx.drawImage(frame, 0, 0, view.width, view.height);
  const face = assessment.faces[0];
  if (face) {
    const [x0, y0, x1, y1] = face.box;
    ctx.strokeStyle = ctx.fillStyle = assessment.ready ? '#17822f' : '#e07000';
    ctx.lineWidth = Math.max(2, view.width / 200);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    for (const [x, y] of face.landmarks) ctx.fillRect(x - 3, y - 3, 6, 6);
  }
  $('verdict').textContent = assessment.ready ? 'Good enough for face recognition' : 'Not yet:';
  $('verdict').className = assessment.ready ? 'ready' : '';
  $('quality').textContent = face?.quality === undefined ? '–' : face.quality.toFixed(1);
  $('advice').replaceChildren(
    ...assessment.advice.map(({ code, message }) => {
      const li = document.createElement('li');
      li.dataset.code = code; // stable codes: translate by code, not by message
      li.textContent = message;
      return li;
    }),
  );
}

function stopCamera() {
  session?.dispose();
  session = null;
  video.srcObject?.getTracks().forEach((t) => t.stop());
  video.srcObject = null;
  $('capture').disabled = true;
}

$('photo').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  stopCamera();
  try {
    const bitmap = await createImageBitmap(file); // honours the photo's EXIF orientation
    show(await assessor.assessFrame(bitmap), bitmap);
    bitmap.close();
    $('status').textContent = `Checked ${file.name}.`;
  } catch (e) {
    $('status').textContent = `Could not check this file: ${e.message}`;
  }
});

$('camera').addEventListener('click', async () => {
  stopCamera();
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, facingMode: 'user' } });
    await video.play();
  } catch (e) {
    $('status').textContent = `No camera: ${e.message}`;
    return;
  }
  session = new CaptureSession(assessor, video, {
    fps: 4,
    onUpdate: (assessment) => show(assessment, video),
    onError: (e) => ($('status').textContent = `Error: ${e.message}`),
  });
  session.start();
  $('capture').disabled = false;
  $('status').textContent = 'Camera on: follow the advice.';
});

$('capture').addEventListener('click', async () => {
  $('status').textContent = 'Waiting for a frame that passes every check…';
  const best = await session.captureBest({ timeoutMs: 15000 });
  stopCamera();
  if (best) {
    show(best.assessment, best.image);
    $('status').textContent = 'The best frame of the last seconds.';
  } else {
    $('status').textContent = 'No frame passed every check: follow the advice and try again.';
  }
});

try {
  // The detector and the recognition model ship with the package; both are cached.
  assessor = await createAssessor({
    cache: true,
    onProgress: ({ loaded, total }) => {
      if (total) $('status').textContent = `Loading models… ${Math.round((100 * loaded) / total)} %`;
    },
  });
  $('status').textContent = `Ready (${assessor.backend}, model ${assessor.modelName}): choose a photo or use the camera.`;
  for (const id of ['photo', 'camera']) $(id).disabled = false;
  document.body.dataset.state = 'ready';
} catch (e) {
  $('status').textContent = `Could not start: ${e.message}`;
  document.body.dataset.state = 'failed';
}
