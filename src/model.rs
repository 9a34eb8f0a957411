//! A face-recognition model held in host memory: graph, parameters and metadata, plus the
//! project's own single-file model format and the importers for public checkpoints.
//!
//! # The `.grafiqs` model file (format version 1)
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `GRAFIQS\0` |
//! | 4 | format version, u32 little-endian (1) |
//! | 4 | reserved flags, u32 (0) |
//! | 8 | header length `H`, u64 little-endian |
//! | `H` | UTF-8 JSON header: `meta` ([`ModelMeta`]), `graph` ([`Graph`]), `tensors` (name, shape, dtype `f32`/`f16`, byte offset and length in the data section) |
//! | … | data section: little-endian tensor values, each tensor 4-byte aligned |
//! | 4 | CRC-32 (IEEE) of every preceding byte |
//!
//! With [`Storage::F16`] convolution and fully-connected weights are stored as IEEE half floats;
//! BatchNorm statistics and PReLU slopes always stay f32 (they are tiny, and GraFIQs compares
//! activations against the BatchNorm statistics directly).

use serde::{Deserialize, Serialize};

use crate::arch::iresnet::IResNetConfig;
use crate::arch::mxnet::{self, MOBILEFACENET_STAGES};
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphInfo, Op, Param, Params};

const MAGIC: &[u8; 8] = b"GRAFIQS\0";
const VERSION: u32 = 1;

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

/// Descriptive metadata stored with a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Architecture name: `iresnet18|34|50|100`, `iresnet` (custom size), `mobilefacenet`,
    /// or `mxnet` (another MXNet graph).
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

#[derive(Serialize, Deserialize)]
struct TensorEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    offset: usize,
    length: usize,
}

#[derive(Serialize, Deserialize)]
struct Header {
    meta: ModelMeta,
    graph: Graph,
    tensors: Vec<TensorEntry>,
}

/// Names accepted for `--backbone`.
pub const BACKBONES: [&str; 5] = [
    "iresnet18",
    "iresnet34",
    "iresnet50",
    "iresnet100",
    "mobilefacenet",
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
        Ok(Self {
            meta,
            graph,
            params,
            info,
        })
    }

    /// Shape-inference facts: BatchNorm layer count, parameter count, embedding size.
    pub fn info(&self) -> &GraphInfo {
        &self.info
    }

    /// Imports a PyTorch iResNet checkpoint (`torch.save(model.state_dict())`).
    /// `backbone` is `iresnet18|34|50|100`, or `iresnet` to infer a custom depth/width.
    pub fn from_torch(bytes: &[u8], backbone: &str, source: &str) -> Result<Self> {
        let state = crate::torch::read_state_dict(bytes)?;
        let config = if backbone == "iresnet" {
            IResNetConfig::infer(&state).ok_or_else(|| {
                Error::arch("iresnet", "cannot infer the iResNet layout from the keys")
            })?
        } else {
            IResNetConfig::named(backbone).ok_or_else(|| {
                Error::arch(
                    backbone,
                    format!(
                        "a PyTorch checkpoint needs an iResNet backbone (iresnet18|34|50|100), not `{backbone}`"
                    ),
                )
            })?
        };
        let (graph, params) = config.from_state_dict(state)?;
        let provenance = Provenance {
            source: source.to_string(),
            sha256: sha256_hex(&[bytes]),
            converted_by: converter(),
            licence: None,
        };
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

    /// Reads a `.grafiqs` model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let fmt = |m: String| Error::format(m);
        if bytes.len() < 28 || &bytes[..8] != MAGIC {
            let what = if bytes.starts_with(b"PK") {
                " (this looks like a PyTorch checkpoint: convert it with `grafiqs convert`)"
            } else if bytes.starts_with(&0x112u64.to_le_bytes()) {
                " (this looks like MXNet .params: convert it with `grafiqs convert`)"
            } else {
                ""
            };
            return Err(fmt(format!("not a grafiqs model file{what}")));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        if version != VERSION {
            return Err(fmt(format!(
                "model format version {version} is not supported (this build reads {VERSION})"
            )));
        }
        let hlen = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
        let body_end = bytes.len() - 4;
        let data_start = usize::try_from(hlen)
            .ok()
            .and_then(|h| h.checked_add(24))
            .filter(|&e| e <= body_end)
            .ok_or_else(|| {
                fmt(format!(
                    "truncated: header of {hlen} bytes does not fit in a {}-byte file",
                    bytes.len()
                ))
            })?;
        let stored = u32::from_le_bytes(bytes[body_end..].try_into().unwrap());
        let actual = crc32fast::hash(&bytes[..body_end]);
        if stored != actual {
            return Err(fmt(format!(
                "checksum mismatch (stored {stored:#010x}, computed {actual:#010x}): the file is truncated or corrupt"
            )));
        }
        let header: Header = serde_json::from_slice(&bytes[24..data_start])
            .map_err(|e| fmt(format!("header: {e}")))?;
        let data = &bytes[data_start..body_end];
        let mut params = Params::new();
        for t in header.tensors {
            let n: usize = t.shape.iter().product();
            let es = match t.dtype.as_str() {
                "f32" => 4,
                "f16" => 2,
                d => return Err(fmt(format!("tensor `{}`: unknown dtype `{d}`", t.name))),
            };
            let raw = t
                .offset
                .checked_add(t.length)
                .filter(|&e| e <= data.len() && t.length == n * es)
                .map(|e| &data[t.offset..e])
                .ok_or_else(|| {
                    fmt(format!(
                        "tensor `{}` ({} bytes at data offset {}) lies outside the {}-byte data section or does not match its shape {:?}",
                        t.name,
                        t.length,
                        t.offset,
                        data.len(),
                        t.shape
                    ))
                })?;
            let values: Vec<f32> = if es == 4 {
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            } else {
                raw.chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
                    .collect()
            };
            if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                return Err(fmt(format!(
                    "tensor `{}` holds a non-finite value at index {bad}",
                    t.name
                )));
            }
            if params
                .insert(t.name.clone(), Param::new(t.shape, values)?)
                .is_some()
            {
                return Err(fmt(format!("tensor `{}` is stored twice", t.name)));
            }
        }
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
        let mut data = Vec::new();
        let mut tensors = Vec::new();
        for (name, p) in &self.params {
            while data.len() % 4 != 0 {
                data.push(0);
            }
            let offset = data.len();
            let f16 = half.contains(name.as_str());
            for &v in &p.data {
                if f16 {
                    data.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
                } else {
                    data.extend_from_slice(&v.to_le_bytes());
                }
            }
            tensors.push(TensorEntry {
                name: name.clone(),
                shape: p.shape.clone(),
                dtype: if f16 { "f16" } else { "f32" }.into(),
                offset,
                length: data.len() - offset,
            });
        }
        let header = serde_json::to_vec(&Header {
            meta: self.meta.clone(),
            graph: self.graph.clone(),
            tensors,
        })
        .expect("model header serialises");
        let mut out = Vec::with_capacity(28 + header.len() + data.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&data);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
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
