//! A small, backend-independent description of a face-recognition network.
//!
//! Every supported architecture (iResNet, the InsightFace MobileFaceNet, any MXNet graph made of
//! the same operators, the PyTorch MobileFaceNet with ReLU6) is expressed as a [`Graph`]: a topologically ordered list of [`Node`]s
//! whose parameters live in [`Params`] by name. The same graph is executed on every Burn backend
//! by [`crate::engine`], stored in the project's model file by [`crate::model::container`], and checked
//! here, once, against its parameters ([`Graph::validate`]) so that a wrong checkpoint fails with
//! a message naming the parameter instead of a panic deep inside a kernel.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One operation of a [`Graph`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The (already normalised) input image, `[N, 3, H, W]`. Exactly one, first.
    Input,
    /// 2-D convolution; weight `[out, in / groups, kh, kw]`, optional bias `[out]`.
    Conv2d {
        /// Parameter name of the weight.
        weight: String,
        /// Parameter name of the bias, if any.
        bias: Option<String>,
        /// Number of output channels.
        out_channels: usize,
        /// Kernel size (height, width).
        kernel: [usize; 2],
        /// Stride (height, width).
        stride: [usize; 2],
        /// Zero padding (height, width).
        padding: [usize; 2],
        /// Number of groups (`in` channels for a depthwise convolution).
        groups: usize,
    },
    /// Inference-mode batch normalisation with running statistics.
    ///
    /// On a 4-D input this is one of the layers whose statistics GraFIQs compares.
    BatchNorm {
        /// Scale; `None` when the layer's scale is fixed to 1.
        gamma: Option<String>,
        /// Shift.
        beta: String,
        /// Running mean.
        mean: String,
        /// Running (biased) variance.
        var: String,
        /// Epsilon added to the variance.
        eps: f64,
    },
    /// Parametric ReLU, one slope per channel (or one shared slope).
    Prelu {
        /// Parameter name of the slopes.
        alpha: String,
    },
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)` (MobileNetV2's activation).
    Relu6,
    /// Element-wise sum of two inputs of equal shape.
    Add,
    /// `[N, C, H, W]` → `[N, C·H·W]` (C, H, W order).
    Flatten,
    /// Fully connected layer; weight `[out, in]`, optional bias `[out]`.
    Linear {
        /// Parameter name of the weight.
        weight: String,
        /// Parameter name of the bias, if any.
        bias: Option<String>,
        /// Number of outputs.
        out_features: usize,
    },
}

/// A node: an operation applied to the outputs of earlier nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Unique name (the layer name of the source checkpoint).
    pub name: String,
    /// What the node computes.
    #[serde(flatten)]
    pub op: Op,
    /// Indices of earlier nodes whose outputs this node consumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<usize>,
}

/// The network: nodes in execution order, the embedding output and the four GraFIQs stages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Nodes in topological order; node 0 is the [`Op::Input`].
    pub nodes: Vec<Node>,
    /// Index of the node whose output is the face embedding.
    pub output: usize,
    /// Indices of the nodes whose outputs are GraFIQs' `block1` … `block4`.
    pub stages: [usize; 4],
}

/// A dense f32 parameter tensor (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

impl Param {
    /// Builds a parameter, checking that the data length matches the shape.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::format(format!(
                "tensor of shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }
}

/// Named parameters of a graph.
pub type Params = BTreeMap<String, Param>;

/// Static facts about a validated graph, from shape inference.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphInfo {
    /// Output shape of every node for one input image (`[C, H, W]` or `[F]`).
    pub shapes: Vec<Vec<usize>>,
    /// Nodes that are GraFIQs BatchNorm layers (BatchNorm with a 4-D input), in forward order.
    pub scored_batchnorms: Vec<usize>,
    /// Total number of parameter values the graph uses.
    pub parameter_count: usize,
    /// Length of the embedding.
    pub embedding_size: usize,
}

impl Graph {
    /// Names of the parameters the graph refers to, in node order.
    pub fn param_names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for n in &self.nodes {
            match &n.op {
                Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias, .. } => {
                    out.push(weight.as_str());
                    out.extend(bias.as_deref());
                }
                Op::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    ..
                } => {
                    out.extend(gamma.as_deref());
                    out.extend([beta.as_str(), mean.as_str(), var.as_str()]);
                }
                Op::Prelu { alpha } => out.push(alpha.as_str()),
                Op::Input | Op::Relu | Op::Relu6 | Op::Add | Op::Flatten => {}
            }
        }
        out
    }

    /// Checks structure and parameter shapes for an input of `input_size` (height, width) and
    /// returns the inferred shapes. Every problem is reported with the node or parameter name.
    pub fn validate(&self, params: &Params, input_size: [usize; 2]) -> Result<GraphInfo> {
        let err = |m: String| Error::format(m);
        if self.nodes.is_empty() || self.nodes[0].op != Op::Input {
            return Err(err("graph must start with an input node".into()));
        }
        let mut shapes: Vec<Vec<usize>> = Vec::with_capacity(self.nodes.len());
        let mut scored = Vec::new();
        let mut used = 0usize;
        let get = |name: &str| -> Result<&Param> {
            params
                .get(name)
                .ok_or_else(|| err(format!("missing parameter `{name}`")))
        };
        let expect = |name: &str, want: &[usize]| -> Result<()> {
            let p = get(name)?;
            if p.shape != want {
                return Err(err(format!(
                    "parameter `{name}` has shape {:?}, expected {want:?}",
                    p.shape
                )));
            }
            Ok(())
        };
        for (i, node) in self.nodes.iter().enumerate() {
            for &j in &node.inputs {
                if j >= i {
                    return Err(err(format!(
                        "node `{}` reads node {j}, which does not come before it",
                        node.name
                    )));
                }
            }
            let arity = match node.op {
                Op::Input => 0,
                Op::Add => 2,
                _ => 1,
            };
            if node.inputs.len() != arity {
                return Err(err(format!(
                    "node `{}` needs {arity} input(s), has {}",
                    node.name,
                    node.inputs.len()
                )));
            }
            if i > 0 && node.op == Op::Input {
                return Err(err(format!("second input node `{}`", node.name)));
            }
            let ins: Vec<&Vec<usize>> = node.inputs.iter().map(|&j| &shapes[j]).collect();
            let spatial = |s: &Vec<usize>| -> Result<(usize, usize, usize)> {
                if s.len() != 3 {
                    return Err(err(format!(
                        "node `{}` needs a [C, H, W] input, got {s:?}",
                        node.name
                    )));
                }
                Ok((s[0], s[1], s[2]))
            };
            let shape = match &node.op {
                Op::Input => vec![3, input_size[0], input_size[1]],
                Op::Conv2d {
                    weight,
                    bias,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    groups,
                } => {
                    let (c, h, w) = spatial(ins[0])?;
                    let (o, [kh, kw]) = (*out_channels, *kernel);
                    if *groups == 0 || c % groups != 0 || o % groups != 0 {
                        return Err(err(format!(
                            "node `{}`: {groups} groups do not divide {c} input / {o} output channels",
                            node.name
                        )));
                    }
                    expect(weight, &[o, c / groups, kh, kw])?;
                    if let Some(b) = bias {
                        expect(b, &[o])?;
                    }
                    if stride.contains(&0) || kernel.contains(&0) {
                        return Err(err(format!("node `{}`: zero stride or kernel", node.name)));
                    }
                    let oh = (h + 2 * padding[0])
                        .checked_sub(kh)
                        .map(|v| v / stride[0] + 1);
                    let ow = (w + 2 * padding[1])
                        .checked_sub(kw)
                        .map(|v| v / stride[1] + 1);
                    match (oh, ow) {
                        (Some(oh), Some(ow)) => vec![o, oh, ow],
                        _ => {
                            return Err(err(format!(
                                "node `{}`: kernel {kh}x{kw} larger than its {h}x{w} input",
                                node.name
                            )));
                        }
                    }
                }
                Op::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    eps,
                } => {
                    let s = ins[0].clone();
                    let c = s[0];
                    for p in gamma.iter().chain([beta, mean, var]) {
                        expect(p, &[c])?;
                    }
                    if !(eps.is_finite() && *eps >= 0.0) {
                        return Err(err(format!("node `{}`: invalid eps {eps}", node.name)));
                    }
                    if let Some(v) = get(var)?
                        .data
                        .iter()
                        .find(|v| !(v.is_finite() && **v >= 0.0))
                    {
                        return Err(err(format!(
                            "running variance `{var}` holds an invalid value {v}"
                        )));
                    }
                    if s.len() == 3 {
                        scored.push(i);
                    }
                    s
                }
                Op::Prelu { alpha } => {
                    let s = ins[0].clone();
                    let n = get(alpha)?.shape.iter().product::<usize>();
                    if n != s[0] && n != 1 {
                        return Err(err(format!(
                            "PReLU slopes `{alpha}` have {n} values for {} channels",
                            s[0]
                        )));
                    }
                    s
                }
                Op::Relu | Op::Relu6 => ins[0].clone(),
                Op::Add => {
                    if ins[0] != ins[1] {
                        return Err(err(format!(
                            "node `{}` adds tensors of shapes {:?} and {:?}",
                            node.name, ins[0], ins[1]
                        )));
                    }
                    ins[0].clone()
                }
                Op::Flatten => vec![ins[0].iter().product()],
                Op::Linear {
                    weight,
                    bias,
                    out_features,
                } => {
                    let f: usize = ins[0].iter().product();
                    expect(weight, &[*out_features, f])?;
                    if let Some(b) = bias {
                        expect(b, &[*out_features])?;
                    }
                    vec![*out_features]
                }
            };
            shapes.push(shape);
        }
        for name in self.param_names() {
            used += get(name)?.data.len();
        }
        if let Some(extra) = params
            .keys()
            .find(|k| !self.param_names().contains(&k.as_str()))
        {
            return Err(err(format!("parameter `{extra}` is not used by the graph")));
        }
        if self.output >= self.nodes.len() {
            return Err(err(format!("output node {} does not exist", self.output)));
        }
        let out_shape = &shapes[self.output];
        if out_shape.len() != 1 {
            return Err(err(format!(
                "output node `{}` is not a vector (shape {out_shape:?})",
                self.nodes[self.output].name
            )));
        }
        let mut prev = 0;
        for (k, &s) in self.stages.iter().enumerate() {
            if s == 0 || s >= self.nodes.len() || s <= prev && k > 0 {
                return Err(err(format!(
                    "stage {} (node index {s}) is out of order or missing",
                    k + 1
                )));
            }
            if shapes[s].len() != 3 {
                return Err(err(format!(
                    "stage node `{}` is not a feature map",
                    self.nodes[s].name
                )));
            }
            // A stage must cut the graph: nothing after it may read a node before it.
            for n in &self.nodes[s + 1..] {
                if let Some(&j) = n.inputs.iter().find(|&&j| j < s) {
                    return Err(err(format!(
                        "stage node `{}` does not separate the network: `{}` reads `{}` across it",
                        self.nodes[s].name, n.name, self.nodes[j].name
                    )));
                }
            }
            prev = s;
        }
        if scored.is_empty() {
            return Err(err("the network has no 2-D BatchNorm layer".into()));
        }
        Ok(GraphInfo {
            embedding_size: out_shape[0],
            shapes,
            scored_batchnorms: scored,
            parameter_count: used,
        })
    }

    /// Index of the node called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}
