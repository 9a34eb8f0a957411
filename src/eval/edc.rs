//! Error-versus-Discard Characteristic (EDC) curves: FNMR at a fixed FMR after discarding the
//! lowest-quality comparisons, their areas, and the random-order baseline.
//!
//! Pure arithmetic on values already in memory; nothing here reads files.
//!
//! # Definitions
//!
//! * **Orientation.** Quality values are first oriented so that higher = better
//!   ([`Orientation::LowerIsBetter`], the raw GraFIQs convention, negates them).
//! * **Pair quality** = the lower of the two images' oriented qualities.
//! * **Discarding.** The `N` pairs are sorted by pair quality ascending; equal qualities keep
//!   their input order (a stable sort), so of two tied pairs the one listed first is discarded
//!   first. At step `k = 0, 1, …, 19` the discard fraction is `k/20` (0, 0.05, …, 0.95) and
//!   the `⌊k·N/20⌋` lowest-quality pairs are discarded (computed exactly in integers).
//! * **Threshold at a target FMR.** The candidate thresholds are the distinct impostor
//!   similarity values of the pairs considered; `FMR(t)` = fraction of those impostor
//!   similarities `≥ t`. The chosen threshold is the candidate minimising `|FMR(t) − target|`
//!   (computed in `f64`); on a tie the higher threshold wins. Hence the chosen FMR is never 0:
//!   at least the impostor(s) at the threshold are accepted.
//! * **False non-match.** A genuine pair with similarity `< t` (a similarity equal to the
//!   threshold is a match).
//! * **Protocols.** [`Protocol::Reestimate`]: the threshold is re-chosen at every step from the
//!   impostor pairs that remain (as in the CR-FIQA evaluation code). If no impostor remains,
//!   the previous step's threshold is kept. [`Protocol::Fixed`]: the threshold is chosen once
//!   from all pairs and kept at every step (the ISO/IEC 29794-1 / NIST recommendation).
//! * **FNMR at a step** = false non-matches among the remaining genuine pairs ÷ remaining
//!   genuine pairs. If no genuine pair remains, the previous step's FNMR is repeated (step 0
//!   always has all genuine pairs, so every value is defined).
//! * **Areas** are trapezoidal areas under FNMR versus discard fraction, **not normalised**:
//!   AUC over `[0, 0.95]`, pAUC over `[0, 0.2]` and `[0, 0.3]`. A curve that is constantly
//!   `y` has AUC `0.95·y` and pAUCs `0.2·y`, `0.3·y`. Lower = better quality assessment.
//! * **Random baseline.** The expected curve under random discarding, estimated as the mean
//!   FNMR, step by step, over `orders` uniformly random discard orders (the same protocol and
//!   rules as for a method, the random order taking the place of the quality order). The
//!   orders are drawn by Fisher–Yates shuffles of `0..N` (for `i = N−1 … 1`, swap `i` with a
//!   uniform `j ∈ [0, i]`) fed by one SplitMix64 stream seeded with `seed`, the bounded
//!   integers taken by Lemire's multiply-and-reject method; the `orders` permutations are
//!   drawn one after another from that stream. Its areas are those of the mean curve.

use serde::Serialize;

use crate::rng::SplitMix64;
use crate::{Error, Result};

/// Number of discard steps: fractions `0, 0.05, …, 0.95`.
pub const STEPS: usize = 20;

/// Default number of random discard orders averaged for the random baseline.
pub const DEFAULT_RANDOM_ORDERS: usize = 100;

/// Default seed of the random baseline's SplitMix64 stream.
pub const DEFAULT_RANDOM_SEED: u64 = 0;

/// The discard fractions `k/20`, `k = 0…19`.
pub fn discard_fractions() -> [f64; STEPS] {
    std::array::from_fn(|k| k as f64 / STEPS as f64)
}

/// Number of pairs discarded at step `k` out of `n`: `⌊k·n/20⌋`.
pub fn discard_count(k: usize, n: usize) -> usize {
    ((k as u128 * n as u128) / STEPS as u128) as usize
}

/// Which way quality scores point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Orientation {
    /// Larger = worse (raw GraFIQs scores). Values are negated before use.
    LowerIsBetter,
    /// Larger = better (most other FIQA tools).
    HigherIsBetter,
}

impl Orientation {
    /// The value oriented so that higher = better (`-0.0` is normalised to `0.0`).
    pub fn orient(self, score: f64) -> f64 {
        let v = match self {
            Orientation::LowerIsBetter => -score,
            Orientation::HigherIsBetter => score,
        };
        v + 0.0
    }

    /// `"lower-is-better"` or `"higher-is-better"`.
    pub fn name(self) -> &'static str {
        match self {
            Orientation::LowerIsBetter => "lower-is-better",
            Orientation::HigherIsBetter => "higher-is-better",
        }
    }
}

/// How the decision threshold is obtained at each discard step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Re-estimated on the remaining pairs at every step (CR-FIQA evaluation code).
    Reestimate,
    /// Chosen once on the full set (ISO/IEC 29794-1, NIST).
    Fixed,
}

impl Protocol {
    /// `"reestimate"` or `"fixed"`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Reestimate => "reestimate",
            Protocol::Fixed => "fixed",
        }
    }
}

/// One comparison as the curve needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    /// Same identity (mated) or not.
    pub genuine: bool,
    /// Comparison score, higher = more alike.
    pub similarity: f64,
    /// Pair quality, already oriented (higher = better): the lower of the two images'.
    pub quality: f64,
}

/// An EDC curve and its areas.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curve {
    /// Discard fractions (`k/20`).
    pub discard: Vec<f64>,
    /// FNMR at each discard fraction.
    pub fnmr: Vec<f64>,
    /// Trapezoidal area over `[0, 0.95]` (not normalised).
    pub auc: f64,
    /// Trapezoidal area over `[0, 0.2]` (not normalised).
    #[serde(rename = "pauc_0.2")]
    pub pauc_02: f64,
    /// Trapezoidal area over `[0, 0.3]` (not normalised).
    #[serde(rename = "pauc_0.3")]
    pub pauc_03: f64,
}

impl Curve {
    fn from_fnmr(fnmr: Vec<f64>) -> Self {
        let discard = discard_fractions().to_vec();
        let auc = trapezoid(&discard, &fnmr, discard[STEPS - 1]);
        let pauc_02 = trapezoid(&discard, &fnmr, 0.2);
        let pauc_03 = trapezoid(&discard, &fnmr, 0.3);
        Curve {
            discard,
            fnmr,
            auc,
            pauc_02,
            pauc_03,
        }
    }
}

/// A method's EDC curve with what happened at each step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Edc {
    /// The curve and its areas.
    #[serde(flatten)]
    pub curve: Curve,
    /// Decision threshold used at each step.
    pub threshold: Vec<f64>,
    /// Fraction of the remaining impostor pairs accepted at that threshold (`NaN` → `null`
    /// when no impostor remains).
    pub fmr_at_threshold: Vec<f64>,
    /// Genuine pairs left at each step.
    pub genuine_remaining: Vec<usize>,
    /// Impostor pairs left at each step.
    pub impostor_remaining: Vec<usize>,
}

/// The random-order baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RandomBaseline {
    /// The mean curve and its areas.
    #[serde(flatten)]
    pub curve: Curve,
    /// Number of random orders averaged.
    pub orders: usize,
    /// Seed of the SplitMix64 stream.
    pub seed: u64,
}

/// Trapezoidal area under `(x, y)` from `x[0]` to `upper` (`x` ascending). A segment that
/// straddles `upper` is cut there by linear interpolation; `upper` beyond the last point stops
/// at the last point.
pub fn trapezoid(x: &[f64], y: &[f64], upper: f64) -> f64 {
    let mut area = 0.0;
    for i in 1..x.len().min(y.len()) {
        let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
        if x0 >= upper {
            break;
        }
        if x1 <= upper {
            area += (x1 - x0) * (y0 + y1) / 2.0;
        } else {
            let yu = y0 + (y1 - y0) * (upper - x0) / (x1 - x0);
            area += (upper - x0) * (y0 + yu) / 2.0;
            break;
        }
    }
    area
}

/// The threshold whose FMR among `impostors` is nearest `target` (see the module
/// documentation), with that FMR; `None` without impostors.
pub fn threshold_at_fmr(impostors: &[f64], target: f64) -> Option<(f64, f64)> {
    let mut sorted = impostors.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let n = sorted.len();
    let mut best: Option<(f64, f64, f64)> = None; // (distance, threshold, fmr)
    let mut i = 0;
    while i < n {
        let v = sorted[i];
        while i < n && sorted[i] == v {
            i += 1;
        }
        let fmr = i as f64 / n as f64;
        let d = (fmr - target).abs();
        if best.is_none_or(|(bd, _, _)| d < bd) {
            best = Some((d, v, fmr));
        }
    }
    best.map(|(_, t, f)| (t, f))
}

/// Checks the inputs and the target FMR.
fn validate(pairs: &[Pair], fmr: f64) -> Result<(usize, usize)> {
    if !(fmr.is_finite() && fmr > 0.0 && fmr < 1.0) {
        return Err(Error::Input(format!(
            "target FMR must be in (0, 1), got {fmr}"
        )));
    }
    for (i, p) in pairs.iter().enumerate() {
        if !p.similarity.is_finite() || !p.quality.is_finite() {
            return Err(Error::Input(format!(
                "comparison {}: similarity and quality must be finite (got {}, {})",
                i + 1,
                p.similarity,
                p.quality
            )));
        }
    }
    let genuine = pairs.iter().filter(|p| p.genuine).count();
    let impostor = pairs.len() - genuine;
    if genuine == 0 {
        return Err(Error::Input(
            "no genuine (mated) comparisons: FNMR is undefined".into(),
        ));
    }
    if impostor == 0 {
        return Err(Error::Input(
            "no impostor (non-mated) comparisons: no threshold can be set at a target FMR".into(),
        ));
    }
    Ok((genuine, impostor))
}

/// The pairs reorganised for fast repeated evaluation under many discard orders.
struct Prepared {
    /// Impostor similarities sorted descending, grouped by equal value:
    /// `(value, members as pair indices)`.
    groups: Vec<(f64, Vec<usize>)>,
    /// Genuine pairs: `(pair index, similarity)`.
    genuine: Vec<(usize, f64)>,
    n_impostor: usize,
    /// Threshold and FMR from the full set.
    full: (f64, f64),
}

impl Prepared {
    fn new(pairs: &[Pair], fmr: f64) -> Result<Self> {
        let (_, n_impostor) = validate(pairs, fmr)?;
        let mut imp: Vec<(usize, f64)> = pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.genuine)
            .map(|(i, p)| (i, p.similarity + 0.0))
            .collect();
        imp.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut groups: Vec<(f64, Vec<usize>)> = Vec::new();
        for (i, s) in imp {
            match groups.last_mut() {
                Some((v, members)) if *v == s => members.push(i),
                _ => groups.push((s, vec![i])),
            }
        }
        let genuine = pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.genuine)
            .map(|(i, p)| (i, p.similarity))
            .collect();
        let mut prep = Prepared {
            groups,
            genuine,
            n_impostor,
            full: (0.0, 0.0),
        };
        let removed = vec![false; pairs.len()];
        prep.full = prep
            .threshold(&removed, n_impostor, fmr)
            .ok_or_else(|| Error::Input("no impostor comparisons".into()))?;
        Ok(prep)
    }

    /// Nearest-FMR threshold among the impostors not `removed` (`remaining` of them).
    fn threshold(&self, removed: &[bool], remaining: usize, target: f64) -> Option<(f64, f64)> {
        if remaining == 0 {
            return None;
        }
        let n = remaining as f64;
        let mut m = 0usize;
        let mut best: Option<(f64, f64, f64)> = None;
        for (v, members) in &self.groups {
            let c = members.iter().filter(|&&i| !removed[i]).count();
            if c == 0 {
                continue;
            }
            m += c;
            let fmr = m as f64 / n;
            let d = (fmr - target).abs();
            if best.is_none_or(|(bd, _, _)| d < bd) {
                best = Some((d, *v, fmr));
            }
            // FMR only grows from here on, so the distance cannot shrink again.
            if fmr >= target {
                break;
            }
        }
        best.map(|(_, t, f)| (t, f))
    }

    /// Fraction of the remaining impostors with similarity ≥ `t`.
    fn fmr_at(&self, removed: &[bool], remaining: usize, t: f64) -> f64 {
        if remaining == 0 {
            return f64::NAN;
        }
        let mut m = 0usize;
        for (v, members) in &self.groups {
            if *v < t {
                break;
            }
            m += members.iter().filter(|&&i| !removed[i]).count();
        }
        m as f64 / remaining as f64
    }

    /// The curve when pairs are discarded in `order` (lowest quality first).
    fn run(&self, pairs: &[Pair], order: &[usize], protocol: Protocol, target: f64) -> Edc {
        let n = pairs.len();
        let mut removed = vec![false; n];
        let mut discarded = 0usize;
        let mut gen_left = self.genuine.len();
        let mut imp_left = self.n_impostor;
        let mut threshold = self.full.0;
        let mut last_fnmr = 0.0;
        let mut out = Edc {
            curve: Curve::from_fnmr(Vec::new()),
            threshold: Vec::with_capacity(STEPS),
            fmr_at_threshold: Vec::with_capacity(STEPS),
            genuine_remaining: Vec::with_capacity(STEPS),
            impostor_remaining: Vec::with_capacity(STEPS),
        };
        let mut fnmr = Vec::with_capacity(STEPS);
        for k in 0..STEPS {
            let target_count = discard_count(k, n);
            while discarded < target_count {
                let i = order[discarded];
                removed[i] = true;
                if pairs[i].genuine {
                    gen_left -= 1;
                } else {
                    imp_left -= 1;
                }
                discarded += 1;
            }
            if protocol == Protocol::Reestimate
                && let Some((t, _)) = self.threshold(&removed, imp_left, target)
            {
                threshold = t;
            }
            if gen_left > 0 {
                let fnm = self
                    .genuine
                    .iter()
                    .filter(|&&(i, s)| !removed[i] && s < threshold)
                    .count();
                last_fnmr = fnm as f64 / gen_left as f64;
            }
            fnmr.push(last_fnmr);
            out.threshold.push(threshold);
            out.fmr_at_threshold
                .push(self.fmr_at(&removed, imp_left, threshold));
            out.genuine_remaining.push(gen_left);
            out.impostor_remaining.push(imp_left);
        }
        out.curve = Curve::from_fnmr(fnmr);
        out
    }

    /// FNMR only (no bookkeeping), for the random baseline.
    fn fnmr_only(
        &self,
        pairs: &[Pair],
        order: &[usize],
        protocol: Protocol,
        target: f64,
    ) -> Vec<f64> {
        self.run(pairs, order, protocol, target).curve.fnmr
    }
}

/// Indices of `pairs` sorted by quality ascending, ties in input order (a stable sort).
pub fn discard_order(pairs: &[Pair]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&a, &b| (pairs[a].quality + 0.0).total_cmp(&(pairs[b].quality + 0.0)));
    order
}

/// The EDC curve of one quality method: FNMR at `fmr` after discarding the lowest-quality
/// pairs (see the module documentation for every rule).
///
/// Errors ([`Error::Input`]): no genuine or no impostor pair, a non-finite similarity or
/// quality, or `fmr` outside `(0, 1)`.
pub fn edc(pairs: &[Pair], fmr: f64, protocol: Protocol) -> Result<Edc> {
    let prep = Prepared::new(pairs, fmr)?;
    Ok(prep.run(pairs, &discard_order(pairs), protocol, fmr))
}

/// The random-order baseline: the mean FNMR over `orders` seeded random discard orders (see
/// the module documentation). Pair qualities are ignored.
///
/// Errors: as [`edc`], and `orders == 0`.
pub fn random_baseline(
    pairs: &[Pair],
    fmr: f64,
    protocol: Protocol,
    orders: usize,
    seed: u64,
) -> Result<RandomBaseline> {
    if orders == 0 {
        return Err(Error::Input(
            "the random baseline needs at least one order".into(),
        ));
    }
    let prep = Prepared::new(pairs, fmr)?;
    let mut rng = SplitMix64::new(seed);
    let mut sum = vec![0.0; STEPS];
    let mut order: Vec<usize> = Vec::with_capacity(pairs.len());
    for _ in 0..orders {
        order.clear();
        order.extend(0..pairs.len());
        rng.shuffle(&mut order);
        for (s, v) in sum
            .iter_mut()
            .zip(prep.fnmr_only(pairs, &order, protocol, fmr))
        {
            *s += v;
        }
    }
    let mean = sum.into_iter().map(|s| s / orders as f64).collect();
    Ok(RandomBaseline {
        curve: Curve::from_fnmr(mean),
        orders,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(genuine: bool, similarity: f64, quality: f64) -> Pair {
        Pair {
            genuine,
            similarity,
            quality,
        }
    }

    #[test]
    fn discard_counts_are_exact() {
        assert_eq!(discard_count(3, 20), 3);
        assert_eq!(discard_count(19, 12), 11);
        assert_eq!(discard_count(7, 12), 4);
        assert_eq!(discard_fractions()[3], 0.15);
        assert_eq!(discard_fractions()[19], 0.95);
    }

    #[test]
    fn nearest_fmr_threshold_and_ties() {
        // n = 4: FMRs 0.25, 0.5, 0.75, 1; target 0.375 is exactly between 0.25 and 0.5:
        // the higher threshold wins.
        assert_eq!(
            threshold_at_fmr(&[0.1, 0.9, 0.5, 0.3], 0.375),
            Some((0.9, 0.25))
        );
        // Tied impostor values form one candidate whose FMR counts all of them.
        assert_eq!(
            threshold_at_fmr(&[0.5, 0.1, 0.5, 0.3], 0.25),
            Some((0.5, 0.5))
        );
        // A target below every candidate FMR picks the highest impostor.
        assert_eq!(threshold_at_fmr(&[0.2, 0.4], 1e-4), Some((0.4, 0.5)));
        assert_eq!(threshold_at_fmr(&[], 0.1), None);
    }

    #[test]
    fn prepared_threshold_matches_brute_force() {
        let mut rng = SplitMix64::new(7);
        let pairs: Vec<Pair> = (0..400)
            .map(|_| {
                let g = rng.below(3) == 0;
                let s = rng.below(50) as f64 / 50.0;
                p(g, s, rng.below(10) as f64)
            })
            .collect();
        let mut removed = vec![false; pairs.len()];
        for (i, r) in removed.iter_mut().enumerate() {
            *r = i % 3 == 1;
        }
        let imps: Vec<f64> = pairs
            .iter()
            .zip(&removed)
            .filter(|(q, r)| !q.genuine && !**r)
            .map(|(q, _)| q.similarity)
            .collect();
        for target in [1e-3, 0.01, 0.05, 0.1, 0.37, 0.5, 0.99] {
            let prep = Prepared::new(&pairs, target).unwrap();
            assert_eq!(
                prep.threshold(&removed, imps.len(), target),
                threshold_at_fmr(&imps, target),
                "target {target}"
            );
        }
    }

    #[test]
    fn trapezoid_areas() {
        let x = discard_fractions();
        let y = [1.0; STEPS];
        assert!((trapezoid(&x, &y, 0.95) - 0.95).abs() < 1e-12);
        assert!((trapezoid(&x, &y, 0.2) - 0.2).abs() < 1e-12);
        assert!((trapezoid(&[0.0, 1.0], &[0.0, 1.0], 0.5) - 0.125).abs() < 1e-15);
    }

    #[test]
    fn errors_without_genuine_or_impostor() {
        let all_gen = [p(true, 0.5, 1.0), p(true, 0.2, 2.0)];
        let e = edc(&all_gen, 1e-3, Protocol::Fixed).unwrap_err();
        assert!(e.to_string().contains("no impostor"), "{e}");
        let all_imp = [p(false, 0.5, 1.0)];
        let e = edc(&all_imp, 1e-3, Protocol::Fixed).unwrap_err();
        assert!(e.to_string().contains("no genuine"), "{e}");
        let nan = [p(true, f64::NAN, 1.0), p(false, 0.1, 1.0)];
        assert!(edc(&nan, 1e-3, Protocol::Fixed).is_err());
        let ok = [p(true, 0.5, 1.0), p(false, 0.1, 1.0)];
        assert!(edc(&ok, 0.0, Protocol::Fixed).is_err());
        assert!(random_baseline(&ok, 0.1, Protocol::Fixed, 0, 0).is_err());
    }
}
