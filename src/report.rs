//! The result model: what crosses a boundary — the CLI's `--json`, the browser binding's
//! results — as serialisable types, in camelCase on the wire. The CLI and the wasm layer both
//! serialise these (the wasm layer through `serde-wasm-bindgen`), so a field has one name
//! everywhere and `grafiqs assess --json` prints what `assessFrame()` resolves to.
//!
//! * [`ScoreReport`]: one scored face (`scores`, `quality`, `calibrated`, `loss`, `model`,
//!   `embedding?`).
//! * [`AssessmentReport`]: one assessed frame (`width`, `height`, `ready`, `tracked`,
//!   `advice`, `faces`, `model?`), each face with `box`, `confidence`, `landmarks`, `measures`, `advice`,
//!   `quality?`, `scores?` and, when asked for, `aligned` (112×112 RGBA bytes).
//! * [`ModelInfo`]: what a model file says about itself.
//!
//! Advice is always `{ code, message }` (see [`Advice`]'s serialisation).

use serde::{Serialize, Serializer};

use crate::capture::assess::{Assessment, FaceReport};
use crate::capture::guidance::Advice;
use crate::grafiqs::Scores;
use crate::model::{Calibration, Model, Preprocess};
use crate::scorer::Scored;

/// Bytes serialised as bytes: a `Uint8Array` through `serde-wasm-bindgen`, an array of
/// numbers in JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// One scored face.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreReport<'a> {
    /// The five raw GraFIQs scores (larger = worse).
    pub scores: Scores,
    /// Quality 0–100 (higher = better), from the model's calibration.
    pub quality: f64,
    /// Whether that calibration was fitted for this model.
    pub calibrated: bool,
    /// The GraFIQs loss.
    pub loss: f64,
    /// Name of the model that scored.
    pub model: &'a str,
    /// The embedding (not normalised), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<&'a [f32]>,
}

impl<'a> ScoreReport<'a> {
    /// The report of `scored` by the model `model`; `embedding`: include the embedding.
    pub fn new(scored: &'a Scored, model: &'a str, embedding: bool) -> Self {
        Self {
            scores: scored.scores,
            quality: scored.quality,
            calibrated: scored.calibrated,
            loss: scored.loss,
            model,
            embedding: embedding.then_some(&scored.embedding[..]),
        }
    }
}

/// One face of an [`AssessmentReport`].
#[derive(Clone, Debug, Serialize)]
pub struct FaceView<'a> {
    /// The face.
    #[serde(flatten)]
    pub face: &'a FaceReport,
    /// The aligned 112×112 crop as RGBA bytes, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aligned: Option<Bytes>,
}

/// One assessed frame.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentReport<'a> {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// One face, every check passing (and quality high enough when scored).
    pub ready: bool,
    /// Whether the faces were tracked from the previous video frame rather than detected.
    pub tracked: bool,
    /// Advice for the frame, most important first: the main face's, or `no_face`.
    pub advice: &'a [Advice],
    /// Faces, the main (largest) one first.
    pub faces: Vec<FaceView<'a>>,
    /// The recognition model behind `quality`/`scores`, when the frame was assessed with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
}

impl<'a> AssessmentReport<'a> {
    /// The report of `a`; `model`: the name of the model the frame was assessed with, if
    /// any; `crops`: include each face's aligned crop.
    pub fn new(a: &'a Assessment, model: Option<&'a str>, crops: bool) -> Self {
        Self {
            width: a.width,
            height: a.height,
            ready: a.ready(),
            tracked: a.tracked,
            advice: &a.advice,
            faces: a
                .faces
                .iter()
                .map(|face| FaceView {
                    face,
                    aligned: crops.then(|| Bytes(face.aligned.to_rgba8())),
                })
                .collect(),
            model,
        }
    }
}

/// A model's provenance on the wire.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceInfo<'a> {
    /// File name(s) of the source checkpoint.
    pub source: &'a str,
    /// SHA-256 of the source checkpoint file(s), hex.
    pub sha256: &'a str,
    /// The tool that wrote the file.
    pub converted_by: &'a str,
    /// Licence or usage note of the weights, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence: Option<&'a str>,
}

/// What a model file says about itself.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo<'a> {
    /// The name results report.
    pub name: &'a str,
    /// Architecture (`mobilefacenet-relu6`, `iresnet50`, …).
    pub architecture: &'a str,
    /// Number of parameters.
    pub parameters: usize,
    /// BatchNorm layers in the GraFIQs loss.
    pub batchnorm_layers: usize,
    /// Length of the embedding.
    pub embedding_size: usize,
    /// Input `[height, width]`.
    pub input_size: [usize; 2],
    /// Pixel normalisation.
    pub preprocess: Preprocess,
    /// The four stage nodes (`block1` … `block4`).
    pub stages: &'a [String; 4],
    /// Where the weights came from.
    pub provenance: ProvenanceInfo<'a>,
    /// The score → quality map in use (the model's own, else the default mapping).
    pub calibration: &'a Calibration,
    /// Whether `calibration` was fitted for this model.
    pub calibrated: bool,
}

impl<'a> ModelInfo<'a> {
    /// The information of `model`, whose quality comes from `calibration` (its own if it has
    /// one, see [`crate::Scorer::calibration`]).
    pub fn new(model: &'a Model, calibration: &'a Calibration, calibrated: bool) -> Self {
        let m = model.meta();
        let info = model.info();
        Self {
            name: model.name(),
            architecture: &m.architecture,
            parameters: info.parameter_count,
            batchnorm_layers: info.scored_batchnorms.len(),
            embedding_size: info.embedding_size,
            input_size: m.input_size,
            preprocess: m.preprocess,
            stages: &m.stages,
            provenance: ProvenanceInfo {
                source: &m.provenance.source,
                sha256: &m.provenance.sha256,
                converted_by: &m.provenance.converted_by,
                licence: m.provenance.licence.as_deref(),
            },
            calibration,
            calibrated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_is_code_and_message() {
        let v = serde_json::to_value([Advice::MoveCloser]).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{ "code": "move_closer", "message": "Move closer" }])
        );
    }

    #[test]
    fn bytes_serialise_as_bytes() {
        assert_eq!(
            serde_json::to_value(Bytes(vec![1, 2])).unwrap(),
            serde_json::json!([1, 2])
        );
    }
}
