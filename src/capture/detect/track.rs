//! Face tracking for video: between full detections, each frame searches only around the
//! previous frame's faces.

use serde::Serialize;

use super::{Detector, Face, mtcnn};
use crate::error::Result;
use crate::image::RgbImage;

/// How a frame's faces were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FramePath {
    /// Full MTCNN detection (image pyramid, P-Net, R-Net, O-Net).
    Detected,
    /// Found around the previous frame's faces ([`TrackMode`]).
    Tracked,
}

/// How a tracked frame finds the previous frame's faces again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackMode {
    /// The whole cascade on a window around the previous faces ([`Tracker::window`]): the
    /// faces found are the full detection's own, so live guidance reports what assessing the
    /// frame as a still image would. The default.
    #[default]
    Window,
    /// R-Net and O-Net alone on a box predicted from each previous face ([`Tracker::predict`]):
    /// several times cheaper than [`TrackMode::Window`], and steadier from frame to frame, but
    /// landmarks differ from full detection's by about 2 px on average for a face 50 px between
    /// the eyes (see `tests/tracking.rs`).
    Refine,
}

/// Frames a [`Tracker`] has seen, by path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TrackStats {
    /// Frames that ran the full detection (the first, every `redetect_every`-th, and those
    /// where a track was lost).
    pub detected: u64,
    /// Frames that searched only around the previous frame's faces.
    pub tracked: u64,
}

/// The faces of one frame and how they were found.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracked {
    /// Faces, most confident first (empty: no face).
    pub faces: Vec<Face>,
    /// The path this frame took.
    pub path: FramePath,
}

/// Follows faces through the frames of one video, so that most frames skip the image pyramid.
///
/// For each frame, [`Tracker::track_async`]:
/// * runs the full detection ([`Detector::detect_async`] with this tracker's
///   [`min_face_size`](Tracker::min_face_size)) on the first frame, when the previous frame had
///   no face, when the frame size changed, and when `redetect_every` frames have passed since
///   the last full detection (so faces entering the picture are found within that many
///   frames);
/// * otherwise searches only around the previous faces, as its [`TrackMode`] says:
///   - [`TrackMode::Window`] (the default) runs the whole cascade on a window
///     [`Tracker::WINDOW`] times each previous face box's side.
///     The detector resamples each pyramid level from a summed-area table and P-Net has no
///     padding, so P-Net's outputs inside the window are the whole frame's, and the faces
///     found are the ones full detection finds (boxes and landmarks equal to float rounding on
///     the test sequence). A window 2× the face is not enough: coarse pyramid levels have
///     candidates as large as the face whose centres lie up to a face-width away;
///   - [`TrackMode::Refine`] predicts a box for each previous face — its box squared around
///     the centre and enlarged by [`Tracker::MARGIN`], which leaves room for a few pixels of
///     movement and a few percent of scale change per frame — and runs only R-Net and O-Net
///     on those boxes ([`Detector::refine_async`]), with facenet-pytorch's thresholds (0.7,
///     0.7);
/// * if any previous face is not found again that way (the track is lost), runs the full
///   detection on the same frame, so a lost face costs one slower frame, never a missed one.
///
/// Still images should use [`Detector::detect`], which is facenet-pytorch's detection exactly.
/// Full detection is not smooth from frame to frame itself (which P-Net candidate wins moves
/// its landmarks by pixels for a 1-px shift of the face), and [`TrackMode::Window`] keeps
/// those jumps. [`TrackMode::Refine`] does not: its landmarks differ from full detection's by
/// about 2 px on average for a face 50 px between the eyes, are as close to the true positions
/// as full detection's, and steadier (see `tests/tracking.rs`).
///
/// ```no_run
/// # fn main() -> grafiqs::Result<()> {
/// # let frames: Vec<grafiqs::RgbImage> = Vec::new();
/// let detector = grafiqs::Detector::bundled()?;
/// let mut tracker = grafiqs::Tracker::new().with_redetect_every(10);
/// for frame in &frames {
///     let t = tracker.track(&detector, frame)?;
///     println!("{:?}: {} face(s)", t.path, t.faces.len());
/// }
/// println!("{:?}", tracker.stats());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Tracker {
    min_face: f64,
    redetect_every: u32,
    mode: TrackMode,
    faces: Vec<Face>,
    size: (usize, usize),
    since_detect: u32,
    stats: TrackStats,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    /// Default for [`Tracker::with_redetect_every`]: a full detection every 10 frames.
    pub const DEFAULT_REDETECT_EVERY: u32 = 10;
    /// Side of a predicted box relative to the previous face box's longer side.
    pub const MARGIN: f32 = 1.1;
    /// Side of the window searched by [`TrackMode::Window`] relative to the previous face box's
    /// longer side: room for the face's P-Net candidates at every pyramid level, and for the
    /// ones that could suppress them.
    pub const WINDOW: f32 = 3.0;
    /// At most this many faces are followed (the most confident); others wait for the next
    /// full detection.
    pub const MAX_TRACKS: usize = crate::capture::guidance::MAX_FACES;

    /// A tracker with no faces yet, searching faces of at least
    /// [`crate::capture::guidance::GUIDANCE_MIN_FACE`] px and detecting fully every
    /// [`Tracker::DEFAULT_REDETECT_EVERY`] frames.
    pub fn new() -> Self {
        Self {
            min_face: crate::capture::guidance::GUIDANCE_MIN_FACE,
            redetect_every: Self::DEFAULT_REDETECT_EVERY,
            mode: TrackMode::Window,
            faces: Vec::new(),
            size: (0, 0),
            since_detect: 0,
            stats: TrackStats::default(),
        }
    }

    /// Smallest face (px) searched by the full detections; values below 12 are raised to 12,
    /// non-finite values restore the default ([`crate::capture::guidance::GUIDANCE_MIN_FACE`]).
    pub fn with_min_face_size(mut self, px: f64) -> Self {
        self.min_face = if px.is_finite() {
            px.max(12.0)
        } else {
            crate::capture::guidance::GUIDANCE_MIN_FACE
        };
        self
    }

    /// A full detection at least every `n` frames (1: every frame, which is plain detection;
    /// 0 is taken as 1).
    pub fn with_redetect_every(mut self, n: u32) -> Self {
        self.redetect_every = n.max(1);
        self
    }

    /// How tracked frames search around the previous faces (default [`TrackMode::Window`]).
    pub fn with_mode(mut self, mode: TrackMode) -> Self {
        self.mode = mode;
        self
    }

    /// How tracked frames search around the previous faces.
    pub fn mode(&self) -> TrackMode {
        self.mode
    }

    /// The window [`TrackMode::Window`] searches for `face` in the next frame: its box squared
    /// around the centre and scaled by [`Tracker::WINDOW`].
    pub fn window(face: &Face) -> [f32; 4] {
        Self::around(face, Self::WINDOW)
    }

    /// The smallest face size searched by full detections, in pixels.
    pub fn min_face_size(&self) -> f64 {
        self.min_face
    }

    /// Frames between full detections (at most).
    pub fn redetect_every(&self) -> u32 {
        self.redetect_every
    }

    /// The faces of the last frame.
    pub fn faces(&self) -> &[Face] {
        &self.faces
    }

    /// Frames seen so far, by path.
    pub fn stats(&self) -> TrackStats {
        self.stats
    }

    /// Forgets the faces (the next frame runs the full detection); keeps options and stats.
    pub fn reset(&mut self) {
        self.faces.clear();
        self.since_detect = 0;
    }

    /// The box searched for `face` in the next frame: its box squared around the centre
    /// (facenet-pytorch's `rerec`) and scaled by [`Tracker::MARGIN`].
    pub fn predict(face: &Face) -> [f32; 4] {
        Self::around(face, Self::MARGIN)
    }

    /// `face`'s box squared around its centre (facenet-pytorch's `rerec`), its side scaled by
    /// `factor`.
    fn around(face: &Face, factor: f32) -> [f32; 4] {
        let [x0, y0, x1, y1] = mtcnn::rerec(face.bbox);
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let half = (x1 - x0) * factor / 2.0;
        [cx - half, cy - half, cx + half, cy + half]
    }

    /// The faces of the next frame of the video (see [`Tracker`] for when each path is
    /// taken). Input errors as [`Detector::detect_async`]; after an error the tracker's state
    /// is unchanged.
    pub async fn track_async(&mut self, detector: &Detector, img: &RgbImage) -> Result<Tracked> {
        let size = (img.width(), img.height());
        let due = self.faces.is_empty()
            || size != self.size
            || self.since_detect.saturating_add(1) >= self.redetect_every;
        if !due {
            let mut faces = if self.mode == TrackMode::Window {
                // One window over every followed face's.
                let window = self
                    .faces
                    .iter()
                    .map(Self::window)
                    .reduce(|a, b| {
                        [
                            a[0].min(b[0]),
                            a[1].min(b[1]),
                            a[2].max(b[2]),
                            a[3].max(b[3]),
                        ]
                    })
                    .unwrap_or([0.0; 4]);
                detector
                    .detect_window_async(img, self.min_face, Some(window))
                    .await?
            } else {
                let boxes: Vec<[f32; 4]> = self.faces.iter().map(Self::predict).collect();
                detector.refine_async(img, &boxes).await?
            };
            if faces.len() >= self.faces.len() {
                faces.truncate(Self::MAX_TRACKS);
                self.faces = faces.clone();
                self.since_detect += 1;
                self.stats.tracked += 1;
                return Ok(Tracked {
                    faces,
                    path: FramePath::Tracked,
                });
            }
        }
        let faces = detector.detect_min_async(img, self.min_face).await?;
        self.faces = faces.iter().take(Self::MAX_TRACKS).cloned().collect();
        self.size = size;
        self.since_detect = 0;
        self.stats.detected += 1;
        Ok(Tracked {
            faces,
            path: FramePath::Detected,
        })
    }

    /// Blocking [`Tracker::track_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn track(&mut self, detector: &Detector, img: &RgbImage) -> Result<Tracked> {
        crate::device::block_on(self.track_async(detector, img))
    }
}
