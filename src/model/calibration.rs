//! A model's map from raw GraFIQs scores to a 0–100 quality: which score it reads
//! ([`ScoreKind`]), the knots, and the map itself. Fitting the knots on faces is
//! [`crate::calibrate`]'s job.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Knot qualities for the 10th / 50th / 90th clean percentiles and the degraded median
/// (the procedure of [`crate::calibrate`]).
pub const KNOT_QUALITIES: [f32; 4] = [90.0, 75.0, 55.0, 25.0];

/// Which raw GraFIQs score a calibrated quality is derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// Gradient w.r.t. the normalised image.
    Image,
    /// Gradient w.r.t. stage 1 output.
    Block1,
    /// Gradient w.r.t. stage 2 output.
    Block2,
    /// Gradient w.r.t. stage 3 output.
    Block3,
    /// Gradient w.r.t. stage 4 output.
    Block4,
}

impl ScoreKind {
    /// All five, in output order.
    pub const ALL: [ScoreKind; 5] = [
        ScoreKind::Image,
        ScoreKind::Block1,
        ScoreKind::Block2,
        ScoreKind::Block3,
        ScoreKind::Block4,
    ];
    /// `image`, `block1`, …
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::Image => "image",
            ScoreKind::Block1 => "block1",
            ScoreKind::Block2 => "block2",
            ScoreKind::Block3 => "block3",
            ScoreKind::Block4 => "block4",
        }
    }
}

/// A monotone map from a raw score (larger = worse) to a 0–100 quality (larger = better),
/// piecewise linear in `ln(raw)` through the given knots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The raw score the quality is computed from.
    pub score: ScoreKind,
    /// `(raw score, quality)` knots, raw strictly increasing, quality strictly decreasing.
    pub knots: Vec<(f32, f32)>,
    /// How the knots were obtained.
    pub method: String,
}

impl Calibration {
    /// Checks the knots: at least two, finite, raw scores positive and strictly increasing,
    /// qualities within 0…100 and strictly decreasing.
    pub fn validate(&self) -> Result<()> {
        let k = &self.knots;
        let ok = k.len() >= 2
            && k.iter()
                .all(|(r, q)| r.is_finite() && *r > 0.0 && (0.0..=100.0).contains(q))
            && k.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 < w[0].1);
        if ok {
            Ok(())
        } else {
            Err(Error::format(format!(
                "calibration knots {k:?} are not a monotone map (raw increasing, quality decreasing, 0..100)"
            )))
        }
    }

    /// The map used for models without a calibration of their own: fitted with
    /// `grafiqs calibrate` ([`crate::calibrate`]) for the InsightFace MobileFaceNet on the 12 colour LFW faces and the
    /// 7 aligned faces of the project's test assets (`block1`; reproduced by a test). For other
    /// networks it is only a starting point: run `grafiqs calibrate`.
    pub fn default_mapping() -> Self {
        Calibration {
            score: ScoreKind::Block1,
            knots: DEFAULT_KNOTS
                .iter()
                .zip(KNOT_QUALITIES)
                .map(|(&r, q)| (r, q))
                .collect(),
            method: "default (MobileFaceNet on LFW reference faces)".into(),
        }
    }

    /// Quality (0–100, higher = better) for a raw score of `self.score`: piecewise linear in
    /// `ln(raw)` through the knots, extended linearly beyond the end knots, clamped to 0…100.
    pub fn quality(&self, raw: f64) -> f64 {
        let k = &self.knots;
        if !(raw.is_finite() && raw > 0.0) || k.len() < 2 {
            return if raw <= 0.0 { 100.0 } else { 0.0 };
        }
        let x = raw.ln();
        let seg = k
            .windows(2)
            .position(|w| x <= (w[1].0 as f64).ln())
            .unwrap_or(k.len() - 2);
        let (x0, y0) = ((k[seg].0 as f64).ln(), k[seg].1 as f64);
        let (x1, y1) = ((k[seg + 1].0 as f64).ln(), k[seg + 1].1 as f64);
        (y0 + (x - x0) * (y1 - y0) / (x1 - x0)).clamp(0.0, 100.0)
    }
}

/// Raw `block1` knots of [`Calibration::default_mapping`].
pub const DEFAULT_KNOTS: [f32; 4] = [167.25, 268.66, 557.66, 890.76];
