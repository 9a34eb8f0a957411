//! Verification on a benchmark's pair protocol (LFW view 2 style): the protocol file, the
//! 10-fold verification accuracy and the true-accept rate at a false-match rate.
//!
//! * **Protocol file**: `a.png b.png same|diff fold` lines (fold ≥ 1; `#` comments and blank
//!   lines ignored).
//! * **Accuracy** ("10-fold style" over the folds present): for each fold, the decision
//!   threshold is the one that maximises accuracy on the *other* folds (candidates: every
//!   midpoint between consecutive distinct similarities, and the ends; ties → the lowest),
//!   and the fold's accuracy is measured with it. Reported: the mean and the (population)
//!   standard deviation over folds. With a single fold the threshold comes from that fold
//!   itself, which is optimistic; the report says so.
//! * **TAR at FMR**: the threshold is [`edc::threshold_at_fmr`] over all impostor pairs; TAR
//!   is the share of genuine pairs at or above it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::edc;

/// One pair of a protocol file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolPair {
    /// First image (file name, relative to the image folder).
    pub a: String,
    /// Second image.
    pub b: String,
    /// Same identity.
    pub genuine: bool,
    /// Fold number (≥ 1).
    pub fold: u32,
}

/// Parses a protocol file; errors name `source:line`.
pub fn parse_pairs(text: &str, source: &str) -> Result<Vec<ProtocolPair>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| Error::Input(format!("{source}:{}: {what}", n + 1));
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [a, b, kind, fold] = cols[..] else {
            return Err(bad("expected `imageA imageB same|diff fold`"));
        };
        let genuine = match kind {
            "same" | "1" | "genuine" => true,
            "diff" | "0" | "impostor" => false,
            other => return Err(bad(&format!("`{other}` is neither same nor diff"))),
        };
        let fold: u32 = fold
            .parse()
            .ok()
            .filter(|&f| f >= 1)
            .ok_or_else(|| bad("the fold must be a number ≥ 1"))?;
        out.push(ProtocolPair {
            a: a.to_string(),
            b: b.to_string(),
            genuine,
            fold,
        });
    }
    if out.is_empty() {
        return Err(Error::Input(format!("{source}: lists no pairs")));
    }
    Ok(out)
}

/// Verification accuracy over folds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accuracy {
    /// Mean accuracy over the folds.
    pub mean: f64,
    /// Population standard deviation over the folds.
    pub std: f64,
    /// Per fold: `(fold, accuracy, threshold used)`.
    pub folds: Vec<(u32, f64, f64)>,
    /// Whether each fold's threshold came from the other folds (false with a single fold).
    pub cross_validated: bool,
}

fn accuracy_at(sims: &[(f64, bool)], t: f64) -> f64 {
    let right = sims.iter().filter(|(s, g)| (*s >= t) == *g).count();
    right as f64 / sims.len().max(1) as f64
}

/// The threshold that maximises accuracy on `sims` (lowest on ties).
pub fn best_threshold(sims: &[(f64, bool)]) -> f64 {
    let mut v: Vec<f64> = sims.iter().map(|s| s.0).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    let mut candidates = Vec::with_capacity(v.len() + 1);
    if let (Some(first), Some(last)) = (v.first(), v.last()) {
        candidates.push(first - 1.0);
        candidates.extend(v.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        candidates.push(last + 1.0);
    }
    let mut best = (f64::NEG_INFINITY, 0.0);
    for t in candidates {
        let a = accuracy_at(sims, t);
        if a > best.0 {
            best = (a, t);
        }
    }
    best.1
}

/// Verification accuracy of `similarity[i]` for `pairs[i]` (see the module documentation).
pub fn accuracy(pairs: &[ProtocolPair], similarity: &[f64]) -> Result<Accuracy> {
    if pairs.len() != similarity.len() || pairs.is_empty() {
        return Err(Error::Input(format!(
            "{} pairs but {} similarities",
            pairs.len(),
            similarity.len()
        )));
    }
    if let Some(i) = similarity.iter().position(|s| !s.is_finite()) {
        return Err(Error::Input(format!(
            "similarity of pair {} is not finite",
            i + 1
        )));
    }
    let mut by_fold: BTreeMap<u32, Vec<(f64, bool)>> = BTreeMap::new();
    for (p, &s) in pairs.iter().zip(similarity) {
        by_fold.entry(p.fold).or_default().push((s, p.genuine));
    }
    let cross = by_fold.len() > 1;
    let mut folds = Vec::with_capacity(by_fold.len());
    for (&f, test) in &by_fold {
        let train: Vec<(f64, bool)> = if cross {
            by_fold
                .iter()
                .filter(|(g, _)| **g != f)
                .flat_map(|(_, v)| v.iter().copied())
                .collect()
        } else {
            test.clone()
        };
        let t = best_threshold(&train);
        folds.push((f, accuracy_at(test, t), t));
    }
    let n = folds.len() as f64;
    let mean = folds.iter().map(|f| f.1).sum::<f64>() / n;
    let std = (folds.iter().map(|f| (f.1 - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(Accuracy {
        mean,
        std,
        folds,
        cross_validated: cross,
    })
}

/// True-accept rate at a false-match rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TarAtFmr {
    /// The requested FMR.
    pub target_fmr: f64,
    /// The FMR the threshold achieves on the impostor pairs.
    pub fmr: f64,
    /// The threshold (similarity ≥ threshold accepts).
    pub threshold: f64,
    /// Share of genuine pairs accepted.
    pub tar: f64,
    /// Impostor pairs above the threshold (how many scores the FMR rests on).
    pub impostors_accepted: usize,
}

/// TAR at `fmr` over all pairs (see the module documentation).
pub fn tar_at_fmr(pairs: &[ProtocolPair], similarity: &[f64], fmr: f64) -> Result<TarAtFmr> {
    if !(fmr.is_finite() && fmr > 0.0 && fmr < 1.0) {
        return Err(Error::Input(format!(
            "target FMR must be in (0, 1), got {fmr}"
        )));
    }
    let impostors: Vec<f64> = pairs
        .iter()
        .zip(similarity)
        .filter(|(p, _)| !p.genuine)
        .map(|(_, &s)| s)
        .collect();
    let genuine: Vec<f64> = pairs
        .iter()
        .zip(similarity)
        .filter(|(p, _)| p.genuine)
        .map(|(_, &s)| s)
        .collect();
    if genuine.is_empty() {
        return Err(Error::Input("no genuine pair".into()));
    }
    let (threshold, achieved) = edc::threshold_at_fmr(&impostors, fmr)
        .ok_or_else(|| Error::Input("no impostor pair".into()))?;
    let accepted = genuine.iter().filter(|&&s| s >= threshold).count();
    Ok(TarAtFmr {
        target_fmr: fmr,
        fmr: achieved,
        threshold,
        tar: accepted as f64 / genuine.len() as f64,
        impostors_accepted: impostors.iter().filter(|&&s| s >= threshold).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(genuine: bool, fold: u32) -> ProtocolPair {
        ProtocolPair {
            a: "a".into(),
            b: "b".into(),
            genuine,
            fold,
        }
    }

    #[test]
    fn parses_and_rejects() {
        let p = parse_pairs("# c\nx.png y.png same 1\n\nx.png z.png diff 2\n", "p").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].genuine, p[0].fold, p[1].genuine, p[1].fold),
            (true, 1, false, 2)
        );
        let m = parse_pairs("x y maybe 1\n", "p.txt")
            .unwrap_err()
            .to_string();
        assert!(m.contains("p.txt:1") && m.contains("maybe"), "{m}");
        assert!(parse_pairs("x y same 0\n", "p").is_err());
        assert!(parse_pairs("x y same\n", "p").is_err());
        assert!(parse_pairs("\n# nothing\n", "p").is_err());
    }

    #[test]
    fn accuracy_by_hand() {
        // Fold 1: perfectly separable at 0.5; fold 2: one genuine pair is low (0.2).
        let pairs = vec![
            pair(true, 1),
            pair(true, 1),
            pair(false, 1),
            pair(false, 1),
            pair(true, 2),
            pair(true, 2),
            pair(false, 2),
            pair(false, 2),
        ];
        let sims = [0.9, 0.8, 0.1, 0.3, 0.7, 0.2, 0.1, 0.0];
        let a = accuracy(&pairs, &sims).unwrap();
        assert!(a.cross_validated);
        // Fold 1's threshold from fold 2: best is between 0.1 and 0.2 (0.15): fold 1 then
        // accepts 0.3 wrongly → 3/4. Fold 2's threshold from fold 1: midpoint 0.3..0.8 = 0.55
        // → rejects 0.2 → 3/4.
        let want = [(1, 0.75, 0.15), (2, 0.75, 0.55)];
        for (got, want) in a.folds.iter().zip(want) {
            assert_eq!((got.0, got.1), (want.0, want.1));
            assert!((got.2 - want.2).abs() < 1e-12, "{got:?}");
        }
        assert!((a.mean - 0.75).abs() < 1e-12 && a.std.abs() < 1e-12);
        // TAR at FMR 0.25 over 4 impostors: threshold 0.3 (one impostor at or above it); the
        // genuine 0.2 is rejected → 3/4.
        let t = tar_at_fmr(&pairs, &sims, 0.25).unwrap();
        assert_eq!(
            (t.threshold, t.fmr, t.tar, t.impostors_accepted),
            (0.3, 0.25, 0.75, 1)
        );
        assert!(accuracy(&pairs, &sims[..3]).is_err());
    }
}
