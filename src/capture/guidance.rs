//! Capture guidance: measurable properties of a detected face, each as a raw value, a 0–100
//! score (higher = better, in the spirit of ISO/IEC 29794-5 / OFIQ quality components) and a
//! pass/fail threshold, turned into prioritised plain-language advice with stable codes.
//!
//! | measure | raw value | formula | pass when |
//! |---|---|---|---|
//! | `face_size` | inter-eye distance, px | ‖right eye − left eye‖ in the frame | ≥ 40 px and ≤ 45 % of the frame width |
//! | `position` | face box inside the frame, 0–1 | min over the four sides of (margin to the edge ÷ box size), clipped to 0…0.25 and scaled to 0…1; 0 when the box leaves the frame | ≥ 0.2 (5 % of the box size free on every side) and the box centre within the middle 60 % of the frame |
//! | `yaw` | degrees | asin((nose.x − eye-midpoint.x) ÷ (0.55 · IED)) after removing roll | \|yaw\| ≤ 20° |
//! | `pitch` | degrees | asin((r − 0.495) ÷ 0.476), r = nose height between eye line (0) and mouth line (1) | \|pitch\| ≤ 20° |
//! | `roll` | degrees | angle of the eye line | \|roll\| ≤ 15° |
//! | `brightness` | mean luma 0–255 | BT.601 luma averaged over the face region of the aligned crop | 70 … 200 |
//! | `exposure` | clipped fraction | share of face-region pixels with luma < 25 or > 245 | ≤ 10 % |
//! | `contrast` | luma standard deviation | RMS contrast over the face region | ≥ 20 |
//! | `uniformity` | 0–1 | 1 − \|L_left − L_right\| ÷ (L_left + L_right) over the two halves of the face region | ≥ 0.75 |
//! | `sharpness` | variance of the Laplacian | 3×3 Laplacian of the aligned crop's luma over the face region | ≥ 90 |
//! | `faces` | count | detected faces whose inter-eye distance is ≥ 50 % of the main face's | exactly 1 |
//! | `quality` | GraFIQs quality 0–100 | the recognition model's calibrated quality (when a model is loaded) | ≥ 50 |
//!
//! Pose constants: on the ArcFace template the nose sits at 0.495 of the eye–mouth height and the
//! eye–mouth height is 1.155 × IED; a nose tip ≈ 0.55 IED in front of the eye plane turns these
//! into angles. The other thresholds follow the intent of ISO/IEC 29794-5 (face size for a
//! 112 px recognition crop — the template's IED is 35 px — even illumination, no clipping) and
//! were checked on the project's test faces (`tests/guidance.rs`).

use serde::{Deserialize, Serialize};

use crate::image::RgbImage;

/// Inter-eye distance (px) a face needs to pass `face_size`: a recognition crop's eyes are 35 px
/// apart, so smaller faces would be upsampled.
pub const MIN_EYE_DISTANCE: f64 = 40.0;

/// Inter-eye distance (px) where the `face_size` score reaches 0, half of
/// [`MIN_EYE_DISTANCE`]. Capture guidance searches faces down to this size, so that a face too
/// far away is still found and told to move closer rather than reported as no face (see
/// [`GUIDANCE_MIN_FACE`]).
pub const SEARCH_EYE_DISTANCE: f64 = MIN_EYE_DISTANCE / 2.0;

/// At most this many faces per frame are measured and scored (largest first).
pub const MAX_FACES: usize = 8;

/// Width of an MTCNN face box per inter-eye distance, a lower bound: 2.05–2.76 (median 2.27)
/// on the faces of the detector's parity fixture (`tests/fixtures/mtcnn_expected.json`).
pub const BOX_PER_EYE_DISTANCE: f64 = 2.0;

/// Smallest face (px) the assessor's detector and [`crate::capture::detect::Tracker`] search for: a face whose eyes are
/// [`SEARCH_EYE_DISTANCE`] (20 px, half the [`MIN_EYE_DISTANCE`] of 40 px
/// needed to pass) apart has a box of at least [`BOX_PER_EYE_DISTANCE`] × 20 = 40 px, so it is
/// still found and told to move closer. Skipping the pyramid levels for smaller faces makes
/// detection ~3× faster than facenet-pytorch's 20 px.
pub const GUIDANCE_MIN_FACE: f64 = SEARCH_EYE_DISTANCE * BOX_PER_EYE_DISTANCE;

/// Geometry of one detected face in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceGeometry {
    /// `[x0, y0, x1, y1]`.
    pub bbox: [f32; 4],
    /// Left eye, right eye, nose tip, left and right mouth corner.
    pub landmarks: [[f32; 2]; 5],
}

/// One measure: raw value, 0–100 score and verdict.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// The raw quantity (see the module table for its unit).
    pub value: f64,
    /// 0–100, higher = better.
    pub score: f64,
    /// Whether the value is within the pass threshold.
    pub pass: bool,
}

/// All measures of one face (camelCase on the wire: `faceSize`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measures {
    /// Inter-eye distance.
    pub face_size: Measure,
    /// Margins inside the frame.
    pub position: Measure,
    /// Left-right head rotation.
    pub yaw: Measure,
    /// Up-down head rotation.
    pub pitch: Measure,
    /// In-plane head rotation.
    pub roll: Measure,
    /// Mean face luma.
    pub brightness: Measure,
    /// Share of clipped face pixels.
    pub exposure: Measure,
    /// Luma standard deviation.
    pub contrast: Measure,
    /// Left/right lighting balance.
    pub uniformity: Measure,
    /// Focus / motion blur.
    pub sharpness: Measure,
    /// Number of (significant) faces in the frame.
    pub faces: Measure,
    /// GraFIQs quality, when a recognition model is loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<Measure>,
}

/// Stable advice codes (for localisation) with default English messages, in priority order.
/// Serialised as `{ "code": "move_closer", "message": "Move closer" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Advice {
    /// No face found.
    NoFace,
    /// More than one person.
    MultipleFaces,
    /// Face partly outside the frame.
    FaceCutOff,
    /// Face too close to the frame's edge.
    MoveToCenter,
    /// Face too small.
    MoveCloser,
    /// Face too large.
    MoveBack,
    /// Face too dark.
    MoreLight,
    /// Face over-exposed.
    LessLight,
    /// One side of the face darker than the other, or flat.
    FaceTheLight,
    /// Head turned away.
    FaceCamera,
    /// Head tilted sideways.
    HeadStraight,
    /// Blurred.
    HoldStill,
    /// The recognition model still finds the image poor.
    LowQuality,
}

impl Serialize for Advice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Advice", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", self.message())?;
        st.end()
    }
}

impl Advice {
    /// Every advice, in priority order.
    pub const ALL: [Advice; 13] = [
        Advice::NoFace,
        Advice::MultipleFaces,
        Advice::FaceCutOff,
        Advice::MoveToCenter,
        Advice::MoveCloser,
        Advice::MoveBack,
        Advice::MoreLight,
        Advice::LessLight,
        Advice::FaceTheLight,
        Advice::FaceCamera,
        Advice::HeadStraight,
        Advice::HoldStill,
        Advice::LowQuality,
    ];

    /// The advice with stable code `code`.
    pub fn from_code(code: &str) -> Option<Advice> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    /// Stable code, e.g. `"move_closer"`.
    pub fn code(self) -> &'static str {
        match self {
            Advice::NoFace => "no_face",
            Advice::MultipleFaces => "multiple_faces",
            Advice::FaceCutOff => "face_cut_off",
            Advice::MoveToCenter => "move_to_center",
            Advice::MoveCloser => "move_closer",
            Advice::MoveBack => "move_back",
            Advice::MoreLight => "more_light",
            Advice::LessLight => "less_light",
            Advice::FaceTheLight => "face_the_light",
            Advice::FaceCamera => "face_camera",
            Advice::HeadStraight => "head_straight",
            Advice::HoldStill => "hold_still",
            Advice::LowQuality => "low_quality",
        }
    }

    /// Default English message.
    pub fn message(self) -> &'static str {
        match self {
            Advice::NoFace => "No face found: look into the camera",
            Advice::MultipleFaces => "Only one person in the picture",
            Advice::FaceCutOff => "Your face is cut off: move into the frame",
            Advice::MoveToCenter => "Move to the center of the picture",
            Advice::MoveCloser => "Move closer",
            Advice::MoveBack => "Move back a little",
            Advice::MoreLight => "More light on your face",
            Advice::LessLight => "Too bright: avoid direct light",
            Advice::FaceTheLight => "Face the light so it falls evenly",
            Advice::FaceCamera => "Turn your face to the camera",
            Advice::HeadStraight => "Hold your head straight",
            Advice::HoldStill => "Hold still",
            Advice::LowQuality => "Image quality too low for recognition: adjust and hold still",
        }
    }
}

fn lin(v: f64, bad: f64, good: f64) -> f64 {
    (100.0 * (v - bad) / (good - bad)).clamp(0.0, 100.0)
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f64 {
    (((a[0] - b[0]) as f64).powi(2) + ((a[1] - b[1]) as f64).powi(2)).sqrt()
}

/// BT.601 luma of pixel `i` of an RGB image.
fn luma(img: &RgbImage, i: usize) -> f64 {
    let p = &img.data()[i * 3..i * 3 + 3];
    0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
}

/// The face region of a 112×112 aligned crop: between the eyebrows and the chin, cheek to cheek.
const REGION: (usize, usize, usize, usize) = (24, 32, 88, 104);

/// Pose angles (yaw, pitch, roll in degrees) from the five landmarks.
pub fn head_pose(lm: &[[f32; 2]; 5]) -> (f64, f64, f64) {
    let (le, re, nose) = (lm[0], lm[1], lm[2]);
    let mouth = [(lm[3][0] + lm[4][0]) / 2.0, (lm[3][1] + lm[4][1]) / 2.0];
    let roll = ((re[1] - le[1]) as f64).atan2((re[0] - le[0]) as f64);
    let ied = dist(le, re).max(1e-6);
    // Rotate all points by -roll around the eye midpoint.
    let mid = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
    let (c, s) = (roll.cos(), roll.sin());
    let unroll = |p: [f32; 2]| {
        let (dx, dy) = ((p[0] - mid[0]) as f64, (p[1] - mid[1]) as f64);
        (c * dx + s * dy, -s * dx + c * dy)
    };
    let (nx, ny) = unroll(nose);
    let (_, my) = unroll(mouth);
    let yaw = (nx / (0.55 * ied)).clamp(-1.0, 1.0).asin();
    let r = if my.abs() > 1e-6 { ny / my } else { 0.495 };
    let pitch = ((r - 0.495) / 0.476).clamp(-1.0, 1.0).asin();
    (yaw.to_degrees(), pitch.to_degrees(), roll.to_degrees())
}

/// Computes every measure of `face` in `frame`; `aligned` is the face's 112×112 ArcFace crop;
/// `others` are the other detected faces; `quality` the GraFIQs quality if a model ran.
pub fn measure(
    frame_size: (usize, usize),
    face: &FaceGeometry,
    others: &[FaceGeometry],
    aligned: &RgbImage,
    quality: Option<f64>,
) -> Measures {
    let (fw, fh) = (frame_size.0 as f64, frame_size.1 as f64);
    let lm = &face.landmarks;
    let ied = dist(lm[0], lm[1]);
    let too_big = ied > 0.45 * fw;
    let face_size = Measure {
        value: ied,
        score: if too_big {
            lin(ied / fw, 0.7, 0.45)
        } else {
            lin(ied, SEARCH_EYE_DISTANCE, 60.0)
        },
        pass: ied >= MIN_EYE_DISTANCE && !too_big,
    };

    let [x0, y0, x1, y1] = face.bbox.map(|v| v as f64);
    let (bw, bh) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
    let margin = [x0 / bw, y0 / bh, (fw - x1) / bw, (fh - y1) / bh]
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let pos_value = (margin / 0.25).clamp(0.0, 1.0);
    let (cx, cy) = ((x0 + x1) / 2.0 / fw, (y0 + y1) / 2.0 / fh);
    let centred = (0.2..=0.8).contains(&cx) && (0.2..=0.8).contains(&cy);
    let position = Measure {
        value: pos_value,
        score: 100.0 * pos_value,
        pass: pos_value >= 0.2 && centred,
    };

    let (yaw, pitch, roll) = head_pose(lm);
    let angle = |v: f64, limit: f64| Measure {
        value: v,
        score: lin(v.abs(), 2.0 * limit, 0.0),
        pass: v.abs() <= limit,
    };

    // Photometric measures on the face region of the aligned crop.
    let (rx0, ry0, rx1, ry1) = REGION;
    let mut lum = Vec::with_capacity((rx1 - rx0) * (ry1 - ry0));
    let (mut left, mut right) = (0.0, 0.0);
    for y in ry0..ry1 {
        for x in rx0..rx1 {
            let l = luma(aligned, y * aligned.width() + x);
            lum.push(l);
            if x < (rx0 + rx1) / 2 {
                left += l;
            } else {
                right += l;
            }
        }
    }
    let n = lum.len() as f64;
    let mean = lum.iter().sum::<f64>() / n;
    let std = (lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    let clipped = lum
        .iter()
        .filter(|&&l| !(25.0..=245.0).contains(&l))
        .count() as f64
        / n;
    let uni = 1.0 - (left - right).abs() / (left + right).max(1e-9);
    let brightness = Measure {
        value: mean,
        score: if mean < 135.0 {
            lin(mean, 20.0, 110.0)
        } else {
            lin(mean, 240.0, 170.0)
        },
        pass: (70.0..=200.0).contains(&mean),
    };
    let exposure = Measure {
        value: clipped,
        score: lin(clipped, 0.4, 0.0),
        pass: clipped <= 0.1,
    };
    let contrast = Measure {
        value: std,
        score: lin(std, 5.0, 35.0),
        pass: std >= 20.0,
    };
    let uniformity = Measure {
        value: uni,
        score: lin(uni, 0.6, 0.95),
        pass: uni >= 0.75,
    };

    // Variance of the 3×3 Laplacian (4-neighbour) of luma over the face region.
    let w = aligned.width();
    let mut lap = Vec::with_capacity(lum.len());
    for y in ry0..ry1 {
        for x in rx0..rx1 {
            let c = luma(aligned, y * w + x);
            let v = luma(aligned, (y - 1) * w + x)
                + luma(aligned, (y + 1) * w + x)
                + luma(aligned, y * w + x - 1)
                + luma(aligned, y * w + x + 1)
                - 4.0 * c;
            lap.push(v);
        }
    }
    let lm_mean = lap.iter().sum::<f64>() / n;
    let sharp = lap.iter().map(|v| (v - lm_mean).powi(2)).sum::<f64>() / n;
    let sharpness = Measure {
        value: sharp,
        score: lin(sharp.max(1e-9).ln(), 20f64.ln(), 300f64.ln()),
        pass: sharp >= 90.0,
    };

    let significant = 1 + others
        .iter()
        .filter(|o| dist(o.landmarks[0], o.landmarks[1]) >= 0.5 * ied)
        .count();
    let faces = Measure {
        value: significant as f64,
        score: if significant == 1 { 100.0 } else { 0.0 },
        pass: significant == 1,
    };
    let quality = quality.map(|q| Measure {
        value: q,
        score: q.clamp(0.0, 100.0),
        pass: q >= 50.0,
    });
    Measures {
        face_size,
        position,
        yaw: angle(yaw, 20.0),
        pitch: angle(pitch, 20.0),
        roll: angle(roll, 15.0),
        brightness,
        exposure,
        contrast,
        uniformity,
        sharpness,
        faces,
        quality,
    }
}

/// Prioritised advice for a face's measures (most important first; empty = all good).
pub fn advise(m: &Measures, face: &FaceGeometry, frame_size: (usize, usize)) -> Vec<Advice> {
    let mut a = Vec::new();
    if !m.faces.pass {
        a.push(Advice::MultipleFaces);
    }
    if !m.position.pass {
        let [x0, y0, x1, y1] = face.bbox;
        let (fw, fh) = (frame_size.0 as f32, frame_size.1 as f32);
        if x0 < 0.0 || y0 < 0.0 || x1 > fw || y1 > fh {
            a.push(Advice::FaceCutOff);
        } else {
            a.push(Advice::MoveToCenter);
        }
    }
    if !m.face_size.pass {
        a.push(if m.face_size.value >= MIN_EYE_DISTANCE {
            Advice::MoveBack
        } else {
            Advice::MoveCloser
        });
    }
    if m.brightness.value < 70.0 || (!m.exposure.pass && m.brightness.value < 135.0) {
        a.push(Advice::MoreLight);
    } else if m.brightness.value > 200.0 || !m.exposure.pass {
        a.push(Advice::LessLight);
    }
    if (!m.uniformity.pass || !m.contrast.pass) && !a.contains(&Advice::MoreLight) {
        a.push(Advice::FaceTheLight);
    }
    if !m.yaw.pass || !m.pitch.pass {
        a.push(Advice::FaceCamera);
    }
    if !m.roll.pass {
        a.push(Advice::HeadStraight);
    }
    if !m.sharpness.pass {
        a.push(Advice::HoldStill);
    }
    if m.quality.is_some_and(|q| !q.pass) && a.is_empty() {
        a.push(Advice::LowQuality);
    }
    a
}

impl Measures {
    /// Whether every measure passes.
    pub fn all_pass(&self) -> bool {
        [
            self.face_size,
            self.position,
            self.yaw,
            self.pitch,
            self.roll,
            self.brightness,
            self.exposure,
            self.contrast,
            self.uniformity,
            self.sharpness,
            self.faces,
        ]
        .iter()
        .chain(self.quality.iter())
        .all(|m| m.pass)
    }
}
