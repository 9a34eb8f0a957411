//! Face detection with five landmarks: MTCNN, numerically as facenet-pytorch runs it.
//!
//! ```no_run
//! # fn main() -> grafiqs::Result<()> {
//! let detector = grafiqs::Detector::bundled()?;
//! let img = grafiqs::RgbImage::decode(&std::fs::read("photo.jpg").unwrap())?;
//! for face in detector.detect(&img)? {
//!     let lm = face.landmarks.map(|p| [p[0] as f64, p[1] as f64]);
//!     let aligned = grafiqs::align::align_face(&img, &lm)?; // 112×112, ready to score
//!     println!("{:?} p={:.4} -> {}x{}", face.bbox, face.confidence, aligned.width(), aligned.height());
//! }
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//! * The cascade and its defaults are facenet-pytorch's `MTCNN(keep_all=True).detect`
//!   (minimum face 20 px, thresholds 0.6 / 0.7 / 0.7, pyramid factor 0.709); on images up to
//!   [`MAX_DETECT_SIDE`] pixels the boxes, probabilities and landmarks match it (see
//!   [`mtcnn`] for the details reproduced).
//! * Frames whose longer side exceeds [`MAX_DETECT_SIDE`] are first area-downscaled so that it
//!   equals that limit; the results are mapped back to the original pixel coordinates
//!   (multiplied by the per-axis size ratio). Faces then need to be at least
//!   `20 · side / 1280` px to be found.
//! * Images too small to hold a 20-px face (shorter side under 20 px, after any downscale)
//!   give no faces, as do frames without a face: the result is `Ok` and empty.
//! * Samples are expected in 0…255 (values outside are clamped).
//! * A crop that facenet-pytorch would take from outside the image (a regressed box lying
//!   wholly beyond the border, where facenet-pytorch itself fails) is dropped.
//!
//! # Video
//! [`Tracker`] follows faces from frame to frame: between full detections (every few frames,
//! or when a face is lost), a frame is searched only around the previous frame's faces — by
//! the whole cascade on a window around them (the default, which finds exactly what full
//! detection finds), or by R-Net and O-Net alone on predicted boxes
//! ([`Detector::refine_async`]; see [`TrackMode`]). [`Detector::detect`] itself is unaffected.
//!
//! # Weights and licence
//! [`Detector::bundled`] uses the P-, R- and O-Net weights distributed with facenet-pytorch
//! 2.6.0 (MIT licence; ported from davidsandberg/facenet), stored unchanged in
//! `models/mtcnn.grafiqs` (≈ 2 MB) and compiled into the library; see `models/LICENSE.mtcnn`.

pub mod mtcnn;
mod track;

pub use track::{FramePath, TrackMode, TrackStats, Tracked, Tracker};

use burn::tensor::Device;

use crate::device::BackendKind;
use crate::error::Result;
use crate::image::RgbImage;
use crate::model::container;

/// The bundled MTCNN weights (facenet-pytorch 2.6.0, MIT), in the `.grafiqs` container.
/// Native builds only: in the browser the npm package ships them as `mtcnn.grafiqs` beside
/// the module, which keeps the `.wasm` small.
#[cfg(not(target_family = "wasm"))]
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../../models/mtcnn.grafiqs");

/// Frames with a longer side above this many pixels are downscaled before detection.
pub const MAX_DETECT_SIDE: usize = 1280;

/// One detected face, in the pixel coordinates of the input image.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Face {
    /// Bounding box `[x0, y0, x1, y1]` (may extend past the image border).
    pub bbox: [f32; 4],
    /// Face probability from O-Net (0…1; faces are reported above 0.7).
    pub confidence: f32,
    /// Five points `[x, y]` in the order of [`crate::image::align::ARCFACE_TEMPLATE`]: left eye,
    /// right eye, nose tip, left and right mouth corner, "left" being the image's left (the
    /// subject's right) for a frontal face.
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    /// The landmarks as `f64`, the form [`crate::image::align::align_face`] takes.
    pub fn landmarks_f64(&self) -> [[f64; 2]; 5] {
        self.landmarks.map(|p| [p[0] as f64, p[1] as f64])
    }
}

/// MTCNN face detector on one device.
pub struct Detector {
    nets: mtcnn::Nets,
    backend: BackendKind,
    min_face: f64,
}

impl Detector {
    /// A detector on the CPU backend from a `.grafiqs` detector file
    /// (same as [`Detector::cpu`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::cpu(bytes)
    }

    /// A detector on the CPU backend (Burn's `flex`, native and in WebAssembly).
    pub fn cpu(bytes: &[u8]) -> Result<Self> {
        Self::on_device(bytes, &Device::flex(), BackendKind::Cpu)
    }

    /// A detector on an existing Burn device (in the browser: the WebGPU device initialised
    /// with `init_async`). Fails when the file is not an MTCNN detector.
    pub fn on_device(bytes: &[u8], device: &Device, backend: BackendKind) -> Result<Self> {
        let (header, params) = container::read(bytes)?;
        mtcnn::validate(&header, &params)?;
        Ok(Self {
            nets: mtcnn::Nets::new(&params, device, backend != BackendKind::Cpu),
            backend,
            min_face: mtcnn::MIN_FACE_SIZE,
        })
    }

    /// Searches only for faces of at least `px` pixels (default 20, as facenet-pytorch). The
    /// image pyramid starts at scale 12/`px`, so a larger minimum is much faster: capture
    /// guidance, where a usable face is far larger, uses [`crate::capture::guidance::GUIDANCE_MIN_FACE`].
    /// Values below 12 are raised to 12.
    pub fn with_min_face_size(mut self, px: f64) -> Self {
        self.min_face = if px.is_finite() {
            px.max(12.0)
        } else {
            mtcnn::MIN_FACE_SIZE
        };
        self
    }

    /// The smallest face size searched for, in pixels.
    pub fn min_face_size(&self) -> f64 {
        self.min_face
    }

    /// A detector on the default wgpu adapter (native), shared with [`crate::Scorer::wgpu`].
    #[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
    pub fn wgpu(bytes: &[u8]) -> Result<Self> {
        Self::on_device(bytes, &crate::device::wgpu_device()?, BackendKind::Wgpu)
    }

    /// The bundled facenet-pytorch weights ([`BUNDLED_MODEL`]) on the CPU backend.
    #[cfg(not(target_family = "wasm"))]
    pub fn bundled() -> Result<Self> {
        Self::cpu(BUNDLED_MODEL)
    }

    /// The backend in use.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The Burn device the networks run on.
    pub fn device(&self) -> &Device {
        self.nets.device()
    }

    /// Detects faces, most confident first. Every device read is asynchronous, as WebGPU
    /// requires. Images too small for a 20-px face, or without faces, give `Ok(vec![])`
    /// (an [`RgbImage`] always has the right number of finite samples).
    pub async fn detect_async(&self, img: &RgbImage) -> Result<Vec<Face>> {
        self.detect_min_async(img, self.min_face).await
    }

    /// [`Detector::detect_async`] searching for faces of at least `min_face` px.
    pub(crate) async fn detect_min_async(
        &self,
        img: &RgbImage,
        min_face: f64,
    ) -> Result<Vec<Face>> {
        self.detect_window_async(img, min_face, None).await
    }

    /// [`Detector::detect_min_async`] on the part of the image inside `window` (`[x0, y0, x1,
    /// y1]` in `img`'s pixels; `None`: the whole image): the whole cascade, with P-Net's
    /// outputs restricted to the window's part of every pyramid level
    /// ([`mtcnn::Nets::detect_in`]). A face whose candidates lie well inside the window is
    /// found exactly as the whole image finds it.
    pub(crate) async fn detect_window_async(
        &self,
        img: &RgbImage,
        min_face: f64,
        window: Option<[f32; 4]>,
    ) -> Result<Vec<Face>> {
        if img.width().min(img.height()) < min_face as usize {
            return Ok(Vec::new());
        }
        let Some(prep) = Prepared::new(img, min_face) else {
            return Ok(Vec::new());
        };
        let faces = match window {
            None => self.nets.detect(&prep.integral, min_face).await?,
            Some(b) => {
                let b = [
                    b[0] / prep.sx,
                    b[1] / prep.sy,
                    b[2] / prep.sx,
                    b[3] / prep.sy,
                ];
                let (w, h) = (prep.integral.width(), prep.integral.height());
                let rect = mtcnn::Rect::covering(b, w, h);
                self.nets.detect_in(&prep.integral, min_face, rect).await?
            }
        };
        Ok(prep.faces(faces))
    }

    /// Runs only the last two stages of the cascade (R-Net, then O-Net) on candidate boxes
    /// `[x0, y0, x1, y1]` in `img`'s pixel coordinates, skipping P-Net and the image pyramid:
    /// with a box around a face, typically the previous video frame's box squared and slightly
    /// enlarged, this finds the face and its landmarks at a fraction of the cost of
    /// [`Detector::detect_async`]. Thresholds, box regressions and suppressions are
    /// facenet-pytorch's; boxes that R-Net or O-Net reject give nothing, so an empty result
    /// means no face in any of the boxes. Most confident first; non-finite boxes are ignored.
    pub async fn refine_async(&self, img: &RgbImage, boxes: &[[f32; 4]]) -> Result<Vec<Face>> {
        let Some(prep) = Prepared::new(img, 1.0) else {
            return Ok(Vec::new());
        };
        let boxes: Vec<[f32; 4]> = boxes
            .iter()
            .filter(|b| b.iter().all(|v| v.is_finite()))
            .map(|b| {
                [
                    b[0] / prep.sx,
                    b[1] / prep.sy,
                    b[2] / prep.sx,
                    b[3] / prep.sy,
                ]
            })
            .collect();
        let faces = self.nets.refine(&prep.integral, &boxes).await?;
        Ok(prep.faces(faces))
    }

    /// Blocking [`Detector::refine_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn refine(&self, img: &RgbImage, boxes: &[[f32; 4]]) -> Result<Vec<Face>> {
        crate::device::block_on(self.refine_async(img, boxes))
    }

    /// Blocking [`Detector::detect_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>> {
        crate::device::block_on(self.detect_async(img))
    }
}

/// The image the cascade runs on: `img` itself, or, when its longer side exceeds
/// [`MAX_DETECT_SIDE`], its area-downscaled copy; with the factors back to `img`'s pixels.
struct Prepared {
    integral: mtcnn::Integral,
    sx: f32,
    sy: f32,
}

impl Prepared {
    /// `None` when the (downscaled) image is smaller than `min_face` on its shorter side.
    fn new(img: &RgbImage, min_face: f64) -> Option<Self> {
        let (w, h) = (img.width(), img.height());
        let longer = w.max(h);
        if longer > MAX_DETECT_SIDE {
            let ratio = MAX_DETECT_SIDE as f64 / longer as f64;
            let dw = ((w as f64 * ratio).round() as usize).clamp(1, MAX_DETECT_SIDE);
            let dh = ((h as f64 * ratio).round() as usize).clamp(1, MAX_DETECT_SIDE);
            if dw.min(dh) < min_face as usize {
                return None;
            }
            let small = mtcnn::area_resize(w, h, img.data(), dw, dh);
            Some(Self {
                integral: mtcnn::Integral::new(dw, dh, &small),
                sx: w as f32 / dw as f32,
                sy: h as f32 / dh as f32,
            })
        } else if w.min(h) < (min_face as usize).max(1) {
            None
        } else {
            Some(Self {
                integral: mtcnn::Integral::new(w, h, img.data()),
                sx: 1.0,
                sy: 1.0,
            })
        }
    }

    /// Faces in `img`'s pixel coordinates, most confident first.
    fn faces(&self, faces: Vec<mtcnn::RawFace>) -> Vec<Face> {
        let (sx, sy) = (self.sx, self.sy);
        let mut faces: Vec<Face> = faces
            .into_iter()
            .map(|f| Face {
                bbox: [
                    f.bbox[0] * sx,
                    f.bbox[1] * sy,
                    f.bbox[2] * sx,
                    f.bbox[3] * sy,
                ],
                confidence: f.score,
                landmarks: f.landmarks.map(|p| [p[0] * sx, p[1] * sy]),
            })
            .collect();
        faces.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        faces
    }
}
