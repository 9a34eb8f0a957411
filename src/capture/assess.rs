//! From a raw camera frame to guidance: detect faces, align each to 112×112, measure, advise,
//! and (when a recognition model is loaded) add GraFIQs quality.

use serde::Serialize;

use crate::capture::detect::{Detector, Face, FramePath, Tracker};
use crate::capture::guidance::{self, Advice, FaceGeometry, Measures};
use crate::error::Result;
use crate::grafiqs::Scores;
use crate::image::RgbImage;
use crate::image::align;
use crate::scorer::Scorer;

pub use crate::capture::guidance::{BOX_PER_EYE_DISTANCE, GUIDANCE_MIN_FACE, MAX_FACES};

/// Everything measured about one face (its wire form is [`crate::report::FaceView`]).
#[derive(Clone, Debug, Serialize)]
pub struct FaceReport {
    /// `[x0, y0, x1, y1]` in frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Detector confidence (0–1).
    pub confidence: f32,
    /// Left eye, right eye, nose, left and right mouth corner (frame pixels).
    pub landmarks: [[f32; 2]; 5],
    /// The guidance measures.
    pub measures: Measures,
    /// Prioritised advice codes (empty: ready to capture).
    pub advice: Vec<Advice>,
    /// GraFIQs quality 0–100, when a recognition model is loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    /// Raw GraFIQs scores, when a recognition model is loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    /// The 112×112 aligned crop.
    #[serde(skip)]
    pub aligned: RgbImage,
}

/// The assessment of one frame (its wire form is [`crate::report::AssessmentReport`]).
#[derive(Clone, Debug)]
pub struct Assessment {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Faces, the main (largest) one first.
    pub faces: Vec<FaceReport>,
    /// Advice for the frame: the main face's, or `no_face`.
    pub advice: Vec<Advice>,
    /// Whether the faces were refined from the previous frame's
    /// ([`Assessor::assess_tracked_async`], [`FramePath::Tracked`]) rather than detected.
    pub tracked: bool,
}

impl Assessment {
    /// Whether the frame is ready to capture: one face, every measure passing.
    pub fn ready(&self) -> bool {
        self.faces.first().is_some_and(|f| f.measures.all_pass())
    }

    /// The main face's GraFIQs quality, when scored.
    pub fn quality(&self) -> Option<f64> {
        self.faces.first().and_then(|f| f.quality)
    }
}

fn ied(f: &Face) -> f32 {
    let (a, b) = (f.landmarks[0], f.landmarks[1]);
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Detection + guidance (+ GraFIQs with a recognition model).
pub struct Assessor {
    detector: Detector,
    scorer: Option<Scorer>,
}

impl Assessor {
    /// An assessor from a detector and, optionally, a scorer for GraFIQs quality. The
    /// detector searches for faces of at least [`GUIDANCE_MIN_FACE`] px unless it was given a
    /// larger minimum.
    pub fn new(detector: Detector, scorer: Option<Scorer>) -> Self {
        let min = detector.min_face_size().max(GUIDANCE_MIN_FACE);
        Self {
            detector: detector.with_min_face_size(min),
            scorer,
        }
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The scorer, if a recognition model is loaded.
    pub fn scorer(&self) -> Option<&Scorer> {
        self.scorer.as_ref()
    }

    /// Replaces (or removes) the recognition model.
    pub fn set_scorer(&mut self, scorer: Option<Scorer>) {
        self.scorer = scorer;
    }

    /// Assesses one frame. With `score` and a loaded model, every reported face is also
    /// scored with GraFIQs (one batch).
    pub async fn assess_async(&self, frame: &RgbImage, score: bool) -> Result<Assessment> {
        let scorer = self.scorer.as_ref().filter(|_| score);
        self.assess_with_async(frame, scorer).await
    }

    /// Assesses one frame, scoring the faces with `scorer` when given (instead of the
    /// assessor's own): for callers that keep the recognition model apart from the detector.
    pub async fn assess_with_async(
        &self,
        frame: &RgbImage,
        scorer: Option<&Scorer>,
    ) -> Result<Assessment> {
        let faces = self.detector.detect_async(frame).await?;
        self.report(frame, faces, scorer, false).await
    }

    /// Assesses the next frame of a video: as [`Assessor::assess_async`], but the faces come
    /// from `tracker` ([`Tracker::track_async`] with this assessor's detector), which skips the
    /// image pyramid on most frames. [`Assessment::tracked`] tells the path the frame took.
    pub async fn assess_tracked_async(
        &self,
        frame: &RgbImage,
        score: bool,
        tracker: &mut Tracker,
    ) -> Result<Assessment> {
        let scorer = self.scorer.as_ref().filter(|_| score);
        self.assess_tracked_with_async(frame, scorer, tracker).await
    }

    /// [`Assessor::assess_tracked_async`] scoring with `scorer` when given.
    pub async fn assess_tracked_with_async(
        &self,
        frame: &RgbImage,
        scorer: Option<&Scorer>,
        tracker: &mut Tracker,
    ) -> Result<Assessment> {
        let t = tracker.track_async(&self.detector, frame).await?;
        self.report(frame, t.faces, scorer, t.path == FramePath::Tracked)
            .await
    }

    /// Blocking [`Assessor::assess_tracked_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn assess_tracked(
        &self,
        frame: &RgbImage,
        score: bool,
        tracker: &mut Tracker,
    ) -> Result<Assessment> {
        crate::device::block_on(self.assess_tracked_async(frame, score, tracker))
    }

    /// Aligns, measures, advises and (with a scorer) scores `faces` of `frame`.
    async fn report(
        &self,
        frame: &RgbImage,
        mut faces: Vec<Face>,
        scorer: Option<&Scorer>,
        tracked: bool,
    ) -> Result<Assessment> {
        faces.sort_by(|a, b| ied(b).total_cmp(&ied(a)));
        faces.truncate(MAX_FACES);
        let size = (frame.width(), frame.height());
        let geometry: Vec<FaceGeometry> = faces
            .iter()
            .map(|f| FaceGeometry {
                bbox: f.bbox,
                landmarks: f.landmarks,
            })
            .collect();
        let aligned: Vec<RgbImage> = faces
            .iter()
            .map(|f| align::align_face(frame, &f.landmarks_f64()))
            .collect::<Result<_>>()?;
        let scored = match scorer {
            Some(s) if !aligned.is_empty() => Some(s.score_async(&aligned).await?),
            _ => None,
        };
        let mut reports = Vec::with_capacity(faces.len());
        for (i, (face, crop)) in faces.iter().zip(aligned).enumerate() {
            let others: Vec<FaceGeometry> = geometry
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, g)| *g)
                .collect();
            let s = scored.as_ref().map(|v| &v[i]);
            let measures =
                guidance::measure(size, &geometry[i], &others, &crop, s.map(|r| r.quality));
            let advice = guidance::advise(&measures, &geometry[i], size);
            reports.push(FaceReport {
                bbox: face.bbox,
                confidence: face.confidence,
                landmarks: face.landmarks,
                measures,
                advice,
                quality: s.map(|r| r.quality),
                scores: s.map(|r| r.scores),
                aligned: crop,
            });
        }
        let advice = match reports.first() {
            Some(f) => f.advice.clone(),
            None => vec![Advice::NoFace],
        };
        Ok(Assessment {
            width: frame.width(),
            height: frame.height(),
            faces: reports,
            advice,
            tracked,
        })
    }

    /// Blocking [`Assessor::assess_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn assess(&self, frame: &RgbImage, score: bool) -> Result<Assessment> {
        crate::device::block_on(self.assess_async(frame, score))
    }
}
