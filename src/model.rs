//! A face-recognition model held in host memory: graph, parameters and metadata, plus the
//! project's own single-file model format and the importers for public checkpoints.
//!
//! Models are stored in the project's single-file format ([`crate::container`]) with
//! `kind: "recognition"`, the [`ModelMeta`] and the [`Graph`] in the header. With
//! [`Storage::F16`] convolution and fully-connected weights are stored as IEEE half floats;
//! BatchNorm statistics and PReLU slopes always stay f32 (they are tiny, and GraFIQs compares
//! activations against the BatchNorm statistics directly).

use serde::{Deserialize, Serialize};

use crate::arch::iresnet::IResNetConfig;
use crate::arch::mobilefacenet_relu6;
use crate::arch::mxnet::{self, MOBILEFACENET_STAGES};
use crate::container;
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphInfo, Op, Params};

/// Input normalisation: the network sees `(pixel − mean[c]) · scale[c]` for RGB pixels in 0…255.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Per-channel (R, G, B) offset, in 0…255 pixel units.
    pub mean: [f32; 3],
    /// Per-channel (R, G, B) factor.
    pub scale: [f32; 3],
}

impl Preprocess {
    /// The iResNet / ArcFace convention: `(x/255 − 0.5) / 0.5`.
    pub const IRESNET: Preprocess = Preprocess {
        mean: [127.5; 3],
        scale: [1.0 / 127.5; 3],
    };
    /// torchvision's ImageNet convention: `(x/255 − mean) / std` with mean (0.485, 0.456,
    /// 0.406) and std (0.229, 0.224, 0.225), RGB.
    pub const IMAGENET: Preprocess = Preprocess {
        mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
        scale: [
            1.0 / (0.229 * 255.0),
            1.0 / (0.224 * 255.0),
            1.0 / (0.225 * 255.0),
        ],
    };
}

/// Where a model came from (kept in the model file so results stay traceable).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// File name(s) of the source checkpoint.
    pub source: String,
    /// SHA-256 of the source checkpoint file(s), hex.
    pub sha256: String,
    /// The tool that wrote the file.
    pub converted_by: String,
    /// Licence or usage note of the weights, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
}

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
    /// [`crate::calibrate`] for the InsightFace MobileFaceNet on the 12 colour LFW faces and the
    /// 7 aligned faces of the project's test assets (`block1`; reproduced by a test). For other
    /// networks it is only a starting point: run `grafiqs calibrate`.
    pub fn default_mapping() -> Self {
        Calibration {
            score: ScoreKind::Block1,
            knots: DEFAULT_KNOTS
                .iter()
                .zip(crate::calibrate::KNOT_QUALITIES)
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

/// Descriptive metadata stored with a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// A short name for the model (e.g. `foamliu-mobilefacenet`), reported with results;
    /// files without one are named by their architecture ([`Model::name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Architecture name: `iresnet18|34|50|100`, `iresnet` (custom size), `mobilefacenet`
    /// (InsightFace, MXNet), `mobilefacenet-relu6` (PyTorch, ReLU6) or `mxnet` (another MXNet
    /// graph).
    pub architecture: String,
    /// iResNet depth/width, for iResNet models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iresnet: Option<IResNetConfig>,
    /// Input height and width (112×112 for every supported network).
    pub input_size: [usize; 2],
    /// Pixel normalisation.
    pub preprocess: Preprocess,
    /// Names of the four stage nodes (`block1` … `block4`).
    pub stages: [String; 4],
    /// Source of the weights.
    pub provenance: Provenance,
    /// Score → quality mapping fitted for this model, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// How weights are stored in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Storage {
    /// 32-bit floats everywhere.
    #[default]
    F32,
    /// Convolution / fully-connected weights as 16-bit floats (half the size).
    F16,
}

/// A complete model in host memory, validated.
#[derive(Clone, Debug)]
pub struct Model {
    /// Metadata.
    pub meta: ModelMeta,
    /// The network.
    pub graph: Graph,
    /// Its parameters.
    pub params: Params,
    info: GraphInfo,
}

/// The model the product ships: the Apache-2.0 PyTorch MobileFaceNet (ReLU6) of
/// foamliu/MobileFaceNet, converted to f16 and calibrated (`models/foamliu-mobilefacenet.grafiqs`;
/// licence and notice beside it). Native builds only: the npm package ships the same file beside
/// the module, which keeps the `.wasm` small.
#[cfg(not(target_family = "wasm"))]
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../models/foamliu-mobilefacenet.grafiqs");

/// Name of the shipped model (its file is `<name>.grafiqs`).
pub const BUNDLED_MODEL_NAME: &str = "foamliu-mobilefacenet";

/// `kind` of face-recognition model files.
const KIND: &str = "recognition";

#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(default)]
    kind: String,
    meta: ModelMeta,
    graph: Graph,
}

/// Names accepted for `--backbone`.
pub const BACKBONES: [&str; 6] = [
    "iresnet18",
    "iresnet34",
    "iresnet50",
    "iresnet100",
    "mobilefacenet",
    mobilefacenet_relu6::NAME,
];

impl Model {
    /// Assembles and validates a model.
    pub fn new(meta: ModelMeta, graph: Graph, params: Params) -> Result<Self> {
        if meta.input_size != [112, 112] {
            return Err(Error::format(format!(
                "input size {:?} is not supported (only 112x112)",
                meta.input_size
            )));
        }
        let info = graph.validate(&params, meta.input_size)?;
        if let Some(c) = &meta.calibration {
            c.validate()?;
        }
        Ok(Self {
            meta,
            graph,
            params,
            info,
        })
    }

    /// The model's name: [`ModelMeta::name`], else its architecture.
    pub fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or(&self.meta.architecture)
    }

    /// Shape-inference facts: BatchNorm layer count, parameter count, embedding size.
    pub fn info(&self) -> &GraphInfo {
        &self.info
    }

    /// Imports a PyTorch checkpoint (`torch.save` of a state dict or of the whole module; zip,
    /// legacy or TAR format). `backbone` is `iresnet18|34|50|100`, `iresnet` to infer a custom
    /// iResNet depth/width, or `mobilefacenet-relu6` (the PyTorch MobileFaceNet with ReLU6,
    /// [`crate::arch::mobilefacenet_relu6`]).
    pub fn from_torch(bytes: &[u8], backbone: &str, source: &str) -> Result<Self> {
        let state = crate::torch::read_state_dict(bytes)?;
        let provenance = Provenance {
            source: source.to_string(),
            sha256: sha256_hex(&[bytes]),
            converted_by: converter(),
            licence: None,
        };
        if backbone == mobilefacenet_relu6::NAME {
            let (graph, params) = mobilefacenet_relu6::from_state_dict(state)?;
            let meta = ModelMeta {
                name: None,
                architecture: backbone.to_string(),
                iresnet: None,
                input_size: [112, 112],
                preprocess: Preprocess::IMAGENET,
                stages: mobilefacenet_relu6::STAGES.map(str::to_string),
                provenance,
                calibration: None,
            };
            return Self::new(meta, graph, params);
        }
        let config = if backbone == "iresnet" {
            IResNetConfig::infer(&state).ok_or_else(|| {
                Error::arch("iresnet", "cannot infer the iResNet layout from the keys")
            })?
        } else {
            IResNetConfig::named(backbone).ok_or_else(|| {
                Error::arch(
                    backbone,
                    format!(
                        "a PyTorch checkpoint needs an iResNet backbone (iresnet18|34|50|100) or `{}`, not `{backbone}`",
                        mobilefacenet_relu6::NAME
                    ),
                )
            })?
        };
        let (graph, params) = config.from_state_dict(state)?;
        Self::iresnet(config, graph, params, provenance)
    }

    fn iresnet(
        config: IResNetConfig,
        graph: Graph,
        params: Params,
        provenance: Provenance,
    ) -> Result<Self> {
        let stages = std::array::from_fn(|k| graph.nodes[graph.stages[k]].name.clone());
        let meta = ModelMeta {
            name: None,
            architecture: config.standard_name().unwrap_or("iresnet").to_string(),
            iresnet: Some(config),
            input_size: [112, 112],
            preprocess: Preprocess::IRESNET,
            stages,
            provenance,
            calibration: None,
        };
        Self::new(meta, graph, params)
    }

    /// An iResNet with random weights ([`IResNetConfig::synthetic_params`]): for benchmarks
    /// and tests, never for real quality assessment.
    pub fn synthetic_iresnet(config: IResNetConfig, seed: u64) -> Result<Self> {
        let graph = config.graph();
        let params = config.synthetic_params(seed);
        let provenance = Provenance {
            source: format!("synthetic weights, seed {seed}"),
            converted_by: converter(),
            ..Provenance::default()
        };
        Self::iresnet(config, graph, params, provenance)
    }

    /// Imports an MXNet model (`.params` + `-symbol.json`). For `mobilefacenet` the stages are
    /// the InsightFace MobileFaceNet's; other graphs (`mxnet`) need `stages` named.
    pub fn from_mxnet(
        params_bytes: &[u8],
        symbol_json: &str,
        backbone: &str,
        stages: Option<[&str; 4]>,
        source: &str,
    ) -> Result<Self> {
        let stages = match (backbone, stages) {
            ("mobilefacenet", None) => MOBILEFACENET_STAGES,
            ("mobilefacenet", Some(s)) | ("mxnet", Some(s)) => s,
            ("mxnet", None) => {
                return Err(Error::arch(
                    "mxnet",
                    "a generic MXNet graph needs its four stage node names",
                ));
            }
            (other, _) => {
                return Err(Error::arch(
                    other,
                    "MXNet checkpoints are supported for `mobilefacenet` (or `mxnet` with stage names)",
                ));
            }
        };
        let all = mxnet::read_params(params_bytes)?;
        let net = mxnet::translate(symbol_json, all, stages, backbone)?;
        let meta = ModelMeta {
            name: None,
            architecture: backbone.to_string(),
            iresnet: None,
            input_size: [112, 112],
            preprocess: net.preprocess,
            stages: stages.map(str::to_string),
            provenance: Provenance {
                source: source.to_string(),
                sha256: sha256_hex(&[params_bytes, symbol_json.as_bytes()]),
                converted_by: converter(),
                licence: None,
            },
            calibration: None,
        };
        Self::new(meta, net.graph, net.params)
    }

    /// The shipped model ([`BUNDLED_MODEL`]).
    #[cfg(not(target_family = "wasm"))]
    pub fn bundled() -> Result<Self> {
        Self::from_bytes(BUNDLED_MODEL)
    }

    /// Reads a `.grafiqs` model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (header, params) = container::read(bytes)?;
        let kind = header.get("kind").and_then(|k| k.as_str()).unwrap_or(KIND);
        if kind != KIND {
            return Err(Error::format(format!(
                "this is a `{kind}` file, not a face-recognition model"
            )));
        }
        let header: Header =
            serde_json::from_value(header).map_err(|e| Error::format(format!("header: {e}")))?;
        Self::new(header.meta, header.graph, params)
    }

    /// Writes the model in the `.grafiqs` format.
    pub fn to_bytes(&self, storage: Storage) -> Vec<u8> {
        let half: std::collections::HashSet<&str> = match storage {
            Storage::F32 => Default::default(),
            Storage::F16 => self
                .graph
                .nodes
                .iter()
                .filter_map(|n| match &n.op {
                    Op::Conv2d { weight, .. } | Op::Linear { weight, .. } => Some(weight.as_str()),
                    _ => None,
                })
                .collect(),
        };
        let header = serde_json::to_value(Header {
            kind: KIND.into(),
            meta: self.meta.clone(),
            graph: self.graph.clone(),
        })
        .expect("model header serialises");
        container::write(header, &self.params, &half)
    }

    /// Number of GraFIQs BatchNorm layers (those with a 4-D input).
    pub fn batchnorm_count(&self) -> usize {
        self.info.scored_batchnorms.len()
    }
}

fn converter() -> String {
    format!("grafiqs {}", env!("CARGO_PKG_VERSION"))
}

/// Hex SHA-256 of the concatenation of `parts`.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
