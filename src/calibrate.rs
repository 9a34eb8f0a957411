//! Fitting the score → quality map ([`Calibration`]) of a model.
//!
//! Procedure (`grafiqs calibrate`): score clean, aligned reference faces and three degraded
//! copies of each (Gaussian blur σ = 3 px, darkening to 30 %, Gaussian noise σ = 20 levels) on
//! the `block1` score, then place four knots, piecewise linear in `ln(raw)`:
//!
//! | raw score | quality |
//! |---|---|
//! | 10th percentile of clean faces | 90 |
//! | median of clean faces | 75 |
//! | 90th percentile of clean faces | 55 |
//! | median of degraded faces | 25 |
//!
//! so a typical good capture lands at 75, the best tenth above 90, and the typical visibly
//! damaged capture at 25; beyond the end knots the line continues, clamped to 0…100.

use crate::error::{Error, Result};
use crate::image::RgbImage;
use crate::image::degrade;
use crate::model::{Calibration, ScoreKind};
#[cfg(not(target_family = "wasm"))]
use crate::scorer::Scorer;

pub use crate::model::calibration::KNOT_QUALITIES;

/// The degraded copies of [`degraded_copies`], in words.
pub const DEGRADED_COPIES: &str =
    "Gaussian blur sigma 3 px, darkening to 30 %, Gaussian noise sigma 20 levels";

/// The degraded copies used as the low anchor.
pub fn degraded_copies(face: &RgbImage, seed: u64) -> Vec<RgbImage> {
    vec![
        degrade::gaussian_blur(face, 3.0),
        degrade::darken(face, 0.3),
        degrade::gaussian_noise(face, 20.0, seed),
    ]
}

/// Raw `block1` scores of clean faces and of their degraded copies.
#[cfg(not(target_family = "wasm"))]
pub fn reference_scores(
    scorer: &Scorer,
    faces: &[RgbImage],
    batch: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let kind = ScoreKind::Block1;
    let mut clean = Vec::with_capacity(faces.len());
    let mut bad = Vec::with_capacity(faces.len() * 3);
    for (i, chunk) in faces.chunks(batch.max(1)).enumerate() {
        clean.extend(scorer.score(chunk)?.iter().map(|r| r.scores.get(kind)));
        let degraded: Vec<RgbImage> = chunk
            .iter()
            .enumerate()
            .flat_map(|(j, f)| degraded_copies(f, (i * batch + j) as u64))
            .collect();
        for d in degraded.chunks(batch.max(1)) {
            bad.extend(scorer.score(d)?.iter().map(|r| r.scores.get(kind)));
        }
    }
    Ok((clean, bad))
}

/// Places the knots from clean and degraded raw scores.
pub fn fit(clean: &[f64], degraded: &[f64], method: &str) -> Result<Calibration> {
    if clean.len() < 5 || degraded.is_empty() {
        return Err(Error::Input(format!(
            "calibration needs at least 5 reference faces (got {})",
            clean.len()
        )));
    }
    let raw = [
        quantile(clean, 0.1),
        quantile(clean, 0.5),
        quantile(clean, 0.9),
        quantile(degraded, 0.5),
    ];
    let cal = Calibration {
        score: ScoreKind::Block1,
        knots: raw
            .iter()
            .zip(KNOT_QUALITIES)
            .map(|(&r, q)| (r as f32, q))
            .collect(),
        method: method.to_string(),
    };
    cal.validate().map_err(|_| {
        Error::Input(format!(
            "reference scores do not separate clean from degraded faces (knots {raw:?}); are the faces aligned 112x112 crops?"
        ))
    })?;
    Ok(cal)
}

/// Linear-interpolated quantile (like numpy's default).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}
