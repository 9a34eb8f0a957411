//! A face-recognition model held in host memory: graph, parameters and metadata, plus the
//! project's own single-file model format and the importers for public checkpoints.
//!
//! Models are stored in the project's single-file format ([`container`]) with
//! `kind: "recognition"`, the [`ModelMeta`] and the [`Graph`] in the header. With
//! [`Storage::F16`] convolution and fully-connected weights are stored as IEEE half floats;
//! BatchNorm statistics and PReLU slopes always stay f32 (they are tiny, and GraFIQs compares
//! activations against the BatchNorm statistics directly).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod arch;
pub mod calibration;
pub mod container;
pub mod graph;
pub mod preprocess;
pub mod torch;

use arch::iresnet::IResNetConfig;
use arch::mobilefacenet_relu6;
use arch::mxnet::{self, MOBILEFACENET_STAGES};
pub use calibration::{Calibration, DEFAULT_KNOTS, KNOT_QUALITIES, ScoreKind};
use container::sha256_hex;
use graph::{Graph, GraphInfo, Op, Params};
pub use preprocess::Preprocess;

use crate::error::{Error, Result};

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

/// Input `[height, width]` of every supported network (the ArcFace alignment's size).
pub const INPUT_SIZE: [usize; 2] = [crate::image::align::ALIGNED_SIZE; 2];

/// How weights are stored in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Storage {
    /// 32-bit floats everywhere.
    #[default]
    F32,
    /// Convolution / fully-connected weights as 16-bit floats (half the size).
    F16,
}

/// A complete model in host memory, validated: graph, parameters and metadata fit together.
/// The parts are read through accessors; the only changes allowed afterwards are the
/// metadata that cannot break that fit ([`Model::set_name`], [`Model::set_licence`],
/// [`Model::set_calibration`]).
///
/// Cloning is cheap: clones share one reference-counted copy of the graph and the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    meta: ModelMeta,
    graph: Arc<Graph>,
    params: Arc<Params>,
    info: Arc<GraphInfo>,
}

/// The model the product ships: the Apache-2.0 PyTorch MobileFaceNet (ReLU6) of
/// foamliu/MobileFaceNet, converted to f16 and calibrated (`models/foamliu-mobilefacenet.grafiqs`;
/// licence and notice beside it). Native builds only: the npm package ships the same file beside
/// the module, which keeps the `.wasm` small.
#[cfg(not(target_family = "wasm"))]
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../models/foamliu-mobilefacenet.grafiqs");

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
        if meta.input_size != INPUT_SIZE {
            return Err(Error::format(format!(
                "input size {:?} is not supported (only {INPUT_SIZE:?})",
                meta.input_size
            )));
        }
        let info = graph.validate(&params, meta.input_size)?;
        if let Some(c) = &meta.calibration {
            c.validate()?;
        }
        Ok(Self {
            meta,
            graph: Arc::new(graph),
            params: Arc::new(params),
            info: Arc::new(info),
        })
    }

    /// Metadata.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The network graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The parameters, by name.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Sets the name results report (`None`: the architecture).
    pub fn set_name(&mut self, name: Option<String>) {
        self.meta.name = name;
    }

    /// Records the weights' licence or usage note in the provenance.
    pub fn set_licence(&mut self, licence: Option<String>) {
        self.meta.provenance.licence = licence;
    }

    /// Stores a score → quality map fitted for this model (checked first).
    pub fn set_calibration(&mut self, calibration: Option<Calibration>) -> Result<()> {
        if let Some(c) = &calibration {
            c.validate()?;
        }
        self.meta.calibration = calibration;
        Ok(())
    }

    /// Input `[height, width]` (from the metadata).
    pub fn input_size(&self) -> [usize; 2] {
        self.meta.input_size
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
    /// [`crate::model::arch::mobilefacenet_relu6`]).
    pub fn from_torch(bytes: &[u8], backbone: &str, source: &str) -> Result<Self> {
        let state = torch::read_state_dict(bytes)?;
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
                input_size: INPUT_SIZE,
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
            input_size: INPUT_SIZE,
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
            input_size: INPUT_SIZE,
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
            graph: (*self.graph).clone(),
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
