//! Do the scores track image damage? Controlled degradations of clean aligned faces.
//!
//! # Degradation sweep ([`degrade_report`])
//!
//! Every clean face is degraded with each of five [`Degradation`]s at five severity levels
//! (level 0 is the clean face itself), everything is scored, and for each degradation and each
//! of the five raw scores the **pooled Spearman rank correlation** of severity (0…5) with the
//! raw score is computed over all faces × levels (ties in severity get average ranks). A
//! positive value means the score grows (gets worse) as the damage grows; 1 would mean every
//! face's score rises with severity *and* the damage dominates the differences between faces.
//!
//! Default level parameters ([`Degradation::levels`], replaceable through [`SweepLevels`]),
//! mild → severe:
//!
//! | degradation | parameter | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|---|
//! | `blur` | Gaussian σ (px) | 0.5 | 1 | 2 | 3 | 4 |
//! | `noise` | Gaussian σ (8-bit levels) | 10 | 15 | 20 | 25 | 30 |
//! | `dark` | brightness offset subtracted (8-bit levels) | 60 | 80 | 100 | 120 | 140 |
//! | `occlusion` | lower fraction blacked out | 0.2 | 0.3 | 0.4 | 0.5 | 0.6 |
//! | `jpeg` | JPEG quality (4:2:0) | 70 | 50 | 30 | 15 | 5 |
//!
//! The correlations depend strongly on these choices (the README's "Evaluating" section has
//! the measurements); the defaults are conventional evenly spaced sets under which the values
//! published for the method's reference implementation are reproduced.
//!
//! The noise is drawn deterministically: face `i` at level `l` uses seed `i · 16 + l`.
//!
//!
//! The same/different-person check is [`crate::eval::same_different`].

use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::stats::spearman;
use crate::grafiqs::Scores;
use crate::image::RgbImage;
use crate::image::degrade;
use crate::model::ScoreKind;
#[cfg(not(target_family = "wasm"))]
use crate::scorer::Scorer;

/// Number of severity levels above clean.
pub const LEVELS: usize = 5;

/// One kind of controlled damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Degradation {
    /// Gaussian blur ([`degrade::gaussian_blur`]).
    Blur,
    /// Additive Gaussian noise ([`degrade::gaussian_noise`]).
    Noise,
    /// Darkening by a brightness offset ([`degrade::darken_offset`]).
    Dark,
    /// Lower part of the face blacked out ([`degrade::occlude_lower`]).
    Occlusion,
    /// JPEG re-encoding ([`degrade::jpeg`]).
    Jpeg,
}

impl Degradation {
    /// All five, in report order.
    pub const ALL: [Degradation; 5] = [
        Degradation::Blur,
        Degradation::Noise,
        Degradation::Dark,
        Degradation::Occlusion,
        Degradation::Jpeg,
    ];

    /// `blur`, `noise`, `dark`, `occlusion`, `jpeg`.
    pub fn name(self) -> &'static str {
        match self {
            Degradation::Blur => "blur",
            Degradation::Noise => "noise",
            Degradation::Dark => "dark",
            Degradation::Occlusion => "occlusion",
            Degradation::Jpeg => "jpeg",
        }
    }

    /// What the level parameter is.
    pub fn parameter(self) -> &'static str {
        match self {
            Degradation::Blur => "Gaussian sigma (px)",
            Degradation::Noise => "Gaussian sigma (8-bit levels)",
            Degradation::Dark => "brightness offset (8-bit levels)",
            Degradation::Occlusion => "lower fraction blacked out",
            Degradation::Jpeg => "JPEG quality",
        }
    }

    /// The default parameter at severity levels 1…5 (mild → severe).
    pub fn levels(self) -> [f64; LEVELS] {
        match self {
            Degradation::Blur => [0.5, 1.0, 2.0, 3.0, 4.0],
            Degradation::Noise => [10.0, 15.0, 20.0, 25.0, 30.0],
            Degradation::Dark => [60.0, 80.0, 100.0, 120.0, 140.0],
            Degradation::Occlusion => [0.2, 0.3, 0.4, 0.5, 0.6],
            Degradation::Jpeg => [70.0, 50.0, 30.0, 15.0, 5.0],
        }
    }

    /// `face` damaged at severity `level` (0 = unchanged, 1…5 = [`Degradation::levels`]).
    /// `seed` drives the noise.
    pub fn apply(self, face: &RgbImage, level: usize, seed: u64) -> Result<RgbImage> {
        if level == 0 {
            return Ok(face.clone());
        }
        let p = *self.levels().get(level - 1).ok_or_else(|| {
            Error::Input(format!("severity level {level} is outside 0..={LEVELS}"))
        })?;
        self.apply_parameter(face, p, seed)
    }

    /// `face` damaged with the level parameter `p` (see [`Degradation::parameter`]); `seed`
    /// drives the noise. Errors: a parameter outside [`Degradation::check_parameter`]'s range.
    pub fn apply_parameter(self, face: &RgbImage, p: f64, seed: u64) -> Result<RgbImage> {
        self.check_parameter(p)?;
        Ok(match self {
            Degradation::Blur => degrade::gaussian_blur(face, p),
            Degradation::Noise => degrade::gaussian_noise(face, p, seed),
            Degradation::Dark => degrade::darken_offset(face, p),
            Degradation::Occlusion => degrade::occlude_lower(face, p),
            Degradation::Jpeg => degrade::jpeg(face, p as u8)?,
        })
    }

    /// Whether `p` is a valid parameter: blur σ in (0, 50] px, noise σ in (0, 255] levels,
    /// brightness offset in (0, 255] levels, occluded fraction in (0, 1], JPEG quality an
    /// integer in 1…100.
    pub fn check_parameter(self, p: f64) -> Result<()> {
        let ok = p.is_finite()
            && match self {
                Degradation::Blur => p > 0.0 && p <= 50.0,
                Degradation::Noise => p > 0.0 && p <= 255.0,
                Degradation::Dark => p > 0.0 && p <= 255.0,
                Degradation::Occlusion => p > 0.0 && p <= 1.0,
                Degradation::Jpeg => p.fract() == 0.0 && (1.0..=100.0).contains(&p),
            };
        if ok {
            Ok(())
        } else {
            Err(Error::Input(format!(
                "{p} is not a valid {} level ({}: {})",
                self.name(),
                self.parameter(),
                match self {
                    Degradation::Blur => "0 < sigma <= 50",
                    Degradation::Noise => "0 < sigma <= 255",
                    Degradation::Dark => "0 < offset <= 255",
                    Degradation::Occlusion => "0 < fraction <= 1",
                    Degradation::Jpeg => "an integer 1..=100",
                }
            )))
        }
    }

    /// Whether a larger parameter means more damage (every degradation but JPEG, whose
    /// parameter is a quality).
    pub fn larger_is_more_severe(self) -> bool {
        self != Degradation::Jpeg
    }

    /// Parses a name as printed by [`Degradation::name`].
    pub fn from_name(name: &str) -> Option<Degradation> {
        Degradation::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// The level parameters of a sweep: for every degradation, its parameter at severities 1…5
/// (mild → severe). [`SweepLevels::default`] is the table in the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepLevels {
    levels: [[f64; LEVELS]; 5],
}

impl Default for SweepLevels {
    fn default() -> Self {
        SweepLevels {
            levels: Degradation::ALL.map(Degradation::levels),
        }
    }
}

impl SweepLevels {
    /// The parameters of `d` at severities 1…5.
    pub fn get(&self, d: Degradation) -> [f64; LEVELS] {
        self.levels[d as usize]
    }

    /// Replaces the parameters of `d`. Errors: a parameter out of range
    /// ([`Degradation::check_parameter`]) or levels that do not get strictly more severe.
    pub fn set(&mut self, d: Degradation, levels: [f64; LEVELS]) -> Result<()> {
        for &p in &levels {
            d.check_parameter(p)?;
        }
        let rising = levels.windows(2).all(|w| {
            if d.larger_is_more_severe() {
                w[1] > w[0]
            } else {
                w[1] < w[0]
            }
        });
        if !rising {
            return Err(Error::Input(format!(
                "{} levels {levels:?} must get strictly more severe ({} {})",
                d.name(),
                d.parameter(),
                if d.larger_is_more_severe() {
                    "increasing"
                } else {
                    "decreasing"
                }
            )));
        }
        self.levels[d as usize] = levels;
        Ok(())
    }

    /// Applies a specification `name=p1,p2,p3,p4,p5` (e.g. `blur=0.5,1,2,3,4`).
    pub fn set_from_spec(&mut self, spec: &str) -> Result<()> {
        let bad = |why: String| Error::Input(format!("--levels {spec:?}: {why}"));
        let (name, values) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=P1,P2,P3,P4,P5".into()))?;
        let d = Degradation::from_name(name.trim()).ok_or_else(|| {
            bad(format!(
                "unknown degradation {:?} (one of {})",
                name.trim(),
                Degradation::ALL.map(Degradation::name).join(", ")
            ))
        })?;
        let values = values
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| bad(format!("{:?} is not a number", v.trim())))
            })
            .collect::<Result<Vec<f64>>>()?;
        let levels: [f64; LEVELS] = values
            .as_slice()
            .try_into()
            .map_err(|_| bad(format!("{} values, {LEVELS} expected", values.len())))?;
        self.set(d, levels).map_err(|e| bad(e.to_string()))
    }
}

/// The noise seed of face `face` at severity `level`.
pub fn noise_seed(face: usize, level: usize) -> u64 {
    (face as u64) * 16 + level as u64
}

/// Five values, one per raw score kind (the same shape as the scores themselves).
pub use crate::grafiqs::Scores as PerScore;

/// One degradation's sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    /// Which degradation.
    pub degradation: Degradation,
    /// What the level parameter is.
    pub parameter: &'static str,
    /// The parameter at levels 1…5.
    pub levels: Vec<f64>,
    /// Raw scores, `scores[face][level]` for levels 0 (clean) … 5.
    pub scores: Vec<Vec<Scores>>,
    /// Pooled Spearman correlation of severity with each raw score (over faces × levels 0…5).
    pub spearman: PerScore,
    /// Median raw score at each level 0…5, per score kind.
    pub median: Vec<Scores>,
}

/// The whole degradation sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DegradeReport {
    /// Names of the faces, in order.
    pub faces: Vec<String>,
    /// One sweep per degradation, in [`Degradation::ALL`] order.
    pub sweeps: Vec<Sweep>,
}

impl DegradeReport {
    /// The sweep of one degradation.
    pub fn sweep(&self, d: Degradation) -> Option<&Sweep> {
        self.sweeps.iter().find(|s| s.degradation == d)
    }
}

/// Degrades every face with every degradation at the parameters `levels`, scores everything in batches of
/// `batch`, and computes the pooled Spearman correlations (see the module documentation).
/// `progress` is called with the number of images scored so far and the total.
///
/// Errors: fewer than two faces, and any scoring error.
#[cfg(not(target_family = "wasm"))]
pub fn degrade_report(
    scorer: &Scorer,
    faces: &[(String, RgbImage)],
    levels: &SweepLevels,
    batch: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<DegradeReport> {
    if faces.len() < 2 {
        return Err(Error::Input(format!(
            "the degradation sweep needs at least 2 faces, got {}",
            faces.len()
        )));
    }
    let batch = batch.max(1);
    let total = faces.len() * (1 + Degradation::ALL.len() * LEVELS);
    let mut done = 0;
    let mut score_all = |images: &[RgbImage]| -> Result<Vec<Scores>> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(batch) {
            out.extend(scorer.score(chunk)?.into_iter().map(|r| r.scores));
            done += chunk.len();
            progress(done, total);
        }
        Ok(out)
    };
    let clean_images: Vec<RgbImage> = faces.iter().map(|f| f.1.clone()).collect();
    let clean = score_all(&clean_images)?;
    let mut sweeps = Vec::with_capacity(Degradation::ALL.len());
    for d in Degradation::ALL {
        let mut images = Vec::with_capacity(faces.len() * LEVELS);
        for (i, (_, face)) in faces.iter().enumerate() {
            for (l, &p) in levels.get(d).iter().enumerate() {
                images.push(d.apply_parameter(face, p, noise_seed(i, l + 1))?);
            }
        }
        let degraded = score_all(&images)?;
        let scores: Vec<Vec<Scores>> = clean
            .iter()
            .zip(degraded.chunks(LEVELS))
            .map(|(c, rest)| std::iter::once(*c).chain(rest.iter().copied()).collect())
            .collect();
        sweeps.push(sweep_from_scores(d, levels.get(d).to_vec(), scores));
    }
    Ok(DegradeReport {
        faces: faces.iter().map(|f| f.0.clone()).collect(),
        sweeps,
    })
}

/// Builds a [`Sweep`] (correlations and medians) from `scores[face][level 0..=5]` measured at
/// the parameters `levels` (severities 1…5).
pub fn sweep_from_scores(d: Degradation, levels: Vec<f64>, scores: Vec<Vec<Scores>>) -> Sweep {
    let severity: Vec<f64> = scores
        .iter()
        .flat_map(|row| (0..row.len()).map(|l| l as f64))
        .collect();
    let spearman = PerScore::from_fn(|k| {
        let raw: Vec<f64> = scores.iter().flatten().map(|s| s.get(k)).collect();
        spearman(&severity, &raw)
    });
    let columns = scores.iter().map(Vec::len).max().unwrap_or(0);
    let median = (0..columns)
        .map(|l| {
            let col = |k: ScoreKind| {
                let v: Vec<f64> = scores
                    .iter()
                    .filter_map(|row| row.get(l))
                    .map(|s| s.get(k))
                    .collect();
                crate::calibrate::quantile(&v, 0.5)
            };
            Scores {
                image: col(ScoreKind::Image),
                block1: col(ScoreKind::Block1),
                block2: col(ScoreKind::Block2),
                block3: col(ScoreKind::Block3),
                block4: col(ScoreKind::Block4),
            }
        })
        .collect();
    Sweep {
        degradation: d,
        parameter: d.parameter(),
        levels,
        scores,
        spearman,
        median,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_sets_are_validated_and_parsed() {
        let mut l = SweepLevels::default();
        for d in Degradation::ALL {
            assert_eq!(l.get(d), d.levels());
            // The defaults pass their own validation.
            l.set(d, d.levels()).unwrap();
        }
        l.set_from_spec("blur=0.5, 1,2,3,4").unwrap();
        assert_eq!(l.get(Degradation::Blur), [0.5, 1.0, 2.0, 3.0, 4.0]);
        l.set_from_spec("jpeg=90,70,50,30,10").unwrap();
        assert_eq!(l.get(Degradation::Jpeg), [90.0, 70.0, 50.0, 30.0, 10.0]);
        assert_eq!(l.get(Degradation::Noise), Degradation::Noise.levels());
        for (spec, why) in [
            ("blur", "NAME="),
            ("fog=1,2,3,4,5", "unknown degradation"),
            ("blur=1,2,3,4", "4 values"),
            ("blur=1,2,x,4,5", "\"x\" is not a number"),
            ("blur=1,2,2,4,5", "strictly more severe"),
            ("dark=140,120,100,80,60", "strictly more severe"),
            ("dark=60,80,100,120,300", "not a valid dark level"),
            ("jpeg=50,40,30,20,5.5", "an integer"),
            ("noise=0,5,10,20,30", "not a valid noise level"),
            ("occlusion=0.2,0.4,0.6,0.8,1.2", "0 < fraction <= 1"),
            ("blur=1,2,3,4,NaN", "not a valid blur level"),
        ] {
            let e = l.clone().set_from_spec(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
        }
        let face = RgbImage::new(16, 16, vec![100.0; 768]).unwrap();
        assert!(Degradation::Jpeg.apply_parameter(&face, 0.0, 0).is_err());
        assert!(Degradation::Dark.apply_parameter(&face, -0.5, 0).is_err());
    }

    #[test]
    fn levels_are_mild_to_severe() {
        let face = RgbImage::new(
            32,
            32,
            (0..32 * 32 * 3).map(|i| ((i * 37) % 256) as f32).collect(),
        )
        .unwrap();
        for d in Degradation::ALL {
            assert_eq!(d.apply(&face, 0, 0).unwrap(), face);
            for l in 1..=LEVELS {
                let out = d.apply(&face, l, 7).unwrap();
                assert_eq!((out.width(), out.height()), (32, 32), "{d:?} {l}");
            }
            assert!(d.apply(&face, LEVELS + 1, 0).is_err());
        }
        let dark = |l| {
            Degradation::Dark
                .apply(&face, l, 0)
                .unwrap()
                .data()
                .iter()
                .sum::<f32>()
        };
        assert!((1..LEVELS).all(|l| dark(l + 1) < dark(l)));
    }

    #[test]
    fn sweep_of_perfectly_ordered_scores() {
        let scores: Vec<Vec<Scores>> = (0..3)
            .map(|f| {
                (0..=LEVELS)
                    .map(|l| {
                        let v = 100.0 * (l as f64 + 1.0) + f as f64;
                        Scores {
                            image: v,
                            block1: v,
                            block2: v,
                            block3: v,
                            block4: -v,
                        }
                    })
                    .collect()
            })
            .collect();
        let s = sweep_from_scores(Degradation::Blur, vec![1.0, 2.0, 3.0, 4.0, 5.0], scores);
        assert_eq!(s.levels, [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(s.spearman.image > 0.97 && s.spearman.block4 < -0.97);
        assert_eq!(s.median.len(), LEVELS + 1);
        assert_eq!(s.median[0].image, 101.0);
    }
}
