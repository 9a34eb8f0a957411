//! Same/different-person check ([`same_different`]): faces with identities are scored; every
//! unordered pair is one comparison (genuine when the identities match, similarity = cosine of
//! the embeddings) and an EDC curve ([`crate::eval::edc`]) is computed for each raw score, with
//! the random-order baseline.

use serde::Serialize;

#[cfg(not(target_family = "wasm"))]
use crate::error::Result;
use crate::eval::edc::{Edc, Orientation, Pair, Protocol, RandomBaseline};
use crate::image::RgbImage;
use crate::model::ScoreKind;
#[cfg(not(target_family = "wasm"))]
use crate::scorer::Scorer;

/// A face with its identity, ready for the same/different-person check.
#[derive(Clone, Debug)]
pub struct IdentifiedFace {
    /// A name for the face (file name).
    pub name: String,
    /// Who it is.
    pub identity: String,
    /// The face, aligned to 112×112.
    pub face: RgbImage,
}

/// EDC of one raw score in the same/different-person check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreEdc {
    /// Which raw score was used as quality (larger = worse).
    pub score: ScoreKind,
    /// Its curve.
    #[serde(flatten)]
    pub edc: Edc,
}

/// Result of [`same_different`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SameDifferent {
    /// Number of faces.
    pub faces: usize,
    /// Number of identities.
    pub identities: usize,
    /// Genuine (same-person) comparisons.
    pub genuine: usize,
    /// Impostor (different-person) comparisons.
    pub impostor: usize,
    /// Target FMR of the curves.
    pub fmr: f64,
    /// Threshold protocol.
    pub protocol: Protocol,
    /// Mean cosine similarity of genuine and of impostor comparisons.
    pub mean_similarity: [f64; 2],
    /// One curve per raw score.
    pub curves: Vec<ScoreEdc>,
    /// The random-order baseline.
    pub random: RandomBaseline,
}

/// Comparisons of every unordered pair of `faces` (cosine similarity of unit embeddings,
/// genuine when the identities match) with the pair quality taken from `quality` (one raw
/// score per face, larger = worse; the pair gets the worse one).
pub fn all_pairs(identities: &[&str], embeddings: &[Vec<f32>], quality: &[f64]) -> Vec<Pair> {
    let n = identities.len().min(embeddings.len()).min(quality.len());
    let mut pairs = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let sim: f64 = embeddings[i]
                .iter()
                .zip(&embeddings[j])
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            let q = Orientation::LowerIsBetter
                .orient(quality[i])
                .min(Orientation::LowerIsBetter.orient(quality[j]));
            pairs.push(Pair {
                genuine: identities[i] == identities[j],
                similarity: sim,
                quality: q,
            });
        }
    }
    pairs
}

/// The same/different-person check: scores `faces` (aligned, with identities), forms every
/// pair, and computes the EDC at `fmr` for each raw score plus the random baseline
/// (`random_orders` orders, seed 0).
///
/// Errors: no genuine or no impostor pair, and any scoring or EDC error.
#[cfg(not(target_family = "wasm"))]
pub fn same_different(
    scorer: &Scorer,
    faces: &[IdentifiedFace],
    batch: usize,
    fmr: f64,
    protocol: Protocol,
    random_orders: usize,
) -> Result<SameDifferent> {
    let mut scored = Vec::with_capacity(faces.len());
    let images: Vec<RgbImage> = faces.iter().map(|f| f.face.clone()).collect();
    for chunk in images.chunks(batch.max(1)) {
        scored.extend(scorer.score(chunk)?);
    }
    let ids: Vec<&str> = faces.iter().map(|f| f.identity.as_str()).collect();
    let emb: Vec<Vec<f32>> = scored.iter().map(|s| s.normalized_embedding()).collect();
    let mut curves = Vec::with_capacity(5);
    let mut first = None;
    for kind in ScoreKind::ALL {
        let q: Vec<f64> = scored.iter().map(|s| s.scores.get(kind)).collect();
        let pairs = all_pairs(&ids, &emb, &q);
        curves.push(ScoreEdc {
            score: kind,
            edc: crate::eval::edc::edc(&pairs, fmr, protocol)?,
        });
        first.get_or_insert(pairs);
    }
    let pairs = first.unwrap_or_default();
    let random = crate::eval::edc::random_baseline(
        &pairs,
        fmr,
        protocol,
        random_orders.max(1),
        crate::eval::edc::DEFAULT_RANDOM_SEED,
    )?;
    let genuine = pairs.iter().filter(|p| p.genuine).count();
    let mean = |g: bool| {
        let v: Vec<f64> = pairs
            .iter()
            .filter(|p| p.genuine == g)
            .map(|p| p.similarity)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let mut identities = ids.clone();
    identities.sort_unstable();
    identities.dedup();
    Ok(SameDifferent {
        faces: faces.len(),
        identities: identities.len(),
        genuine,
        impostor: pairs.len() - genuine,
        fmr,
        protocol,
        mean_similarity: [mean(true), mean(false)],
        curves,
        random,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_take_the_worse_quality_and_cosine() {
        let e = vec![vec![1.0f32, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]];
        let p = all_pairs(&["a", "b", "a"], &e, &[1.0, 5.0, 2.0]);
        assert_eq!(p.len(), 3);
        assert!(!p[0].genuine && p[0].similarity == 0.0 && p[0].quality == -5.0);
        assert!(p[1].genuine && p[1].similarity == 1.0 && p[1].quality == -2.0);
    }
}
