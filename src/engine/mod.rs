//! The interpreter: executes a [`Model`]'s graph on a Burn device.
//!
//! [`Network::forward`] runs the nodes in order, frees every value after its last use, and
//! reports two kinds of events to an [`Observer`]: the input of every BatchNorm layer that sees
//! a feature map (with the layer's running statistics), and every stage output (which the
//! observer may replace). [`Network::forward_taped`] also keeps what the reverse pass needs, and
//! [`Network::backward`] propagates gradients from the BatchNorm inputs back to the image
//! (reverse mode written out per operation, asking an [`Adjoint`] for the gradients to inject and
//! telling it each stage's gradient). The engine knows nothing about GraFIQs; [`crate::grafiqs`]
//! builds the method on these hooks.

use std::collections::HashMap;
use std::sync::OnceLock;

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor, TensorData, activation, module};

mod conv;
mod depthwise;
pub mod fused;
mod gemm;
mod lanes;
mod pool;
#[cfg(test)]
mod testing;

use crate::device::{read, upload, upload_vec};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::model::graph::{Op, Param};
use fused::Activation;
pub(crate) use pool::max_pool2d_ceil;

#[allow(clippy::large_enum_variant)] // one per node, built once
enum Layer {
    Input,
    Conv {
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        options: ConvOptions<2>,
        /// How the gradient w.r.t. the input is computed, with the kernel it needs (built on
        /// the first backward pass).
        backward: OnceLock<ConvBackward>,
    },
    BatchNorm {
        /// `γ / √(var + ε)` and `β − mean · scale`, per channel (on the device and on the host,
        /// for the fused CPU kernels).
        scale: Tensor<1>,
        shift: Tensor<1>,
        scale_host: Vec<f32>,
        shift_host: Vec<f32>,
        /// Running statistics `[1, C]`, present for layers with a 4-D input (the ones the
        /// observer hears about).
        stats: Option<RunningStats>,
    },
    Prelu(Tensor<1>, Vec<f32>),
    Relu,
    Relu6,
    Add,
    Flatten,
    Linear {
        /// `[in, out]`.
        weight_t: Tensor<2>,
        bias: Option<Tensor<2>>,
    },
}

/// A BatchNorm layer's running statistics on the device, each `[1, C]`.
#[derive(Clone)]
pub struct RunningStats {
    /// Running mean.
    pub mean: Tensor<2>,
    /// Running (unbiased, as stored) variance.
    pub var: Tensor<2>,
}

#[derive(Clone)]
enum Value {
    Map(Tensor<4>),
    Vec(Tensor<2>),
}

impl Value {
    fn map(self, name: &str) -> Result<Tensor<4>> {
        match self {
            Value::Map(t) => Ok(t),
            Value::Vec(_) => Err(Error::Internal(format!("`{name}` expected a feature map"))),
        }
    }
}

/// What a forward pass reports while it runs. Both hooks default to doing nothing.
pub trait Observer {
    /// The input `[N, C, H, W]` of the BatchNorm layer at `node`, which has running statistics
    /// `running` (called for every BatchNorm layer with a 4-D input, in forward order).
    fn batchnorm_input(&mut self, node: usize, input: &Tensor<4>, running: &RunningStats) {
        let _ = (node, input, running);
    }

    /// The output of stage `stage` (0…3, node `node`). The returned tensor is what the rest of
    /// the network consumes.
    fn stage_output(&mut self, stage: usize, node: usize, output: Tensor<4>) -> Tensor<4> {
        let _ = (stage, node);
        output
    }
}

/// An observer that observes nothing (plain inference).
pub struct Inference;

impl Observer for Inference {}

/// What a reverse pass ([`Network::backward`]) asks for and reports.
pub trait Adjoint {
    /// The gradient to inject at the input of the BatchNorm layer at `node` (one with running
    /// statistics), shaped as that input; `None` injects nothing.
    fn batchnorm_input_grad(&mut self, node: usize) -> Option<Tensor<4>>;

    /// The complete gradient w.r.t. the output of stage `stage` (`None`: zero).
    fn stage_grad(&mut self, stage: usize, grad: Option<&Tensor<4>>);
}

/// What a forward pass keeps for [`Network::backward`]: the inputs of the activations and the
/// shape of every value.
pub struct Tape {
    kept: Vec<Option<Value>>,
    dims: Vec<Vec<usize>>,
}

/// How a convolution's input gradient is computed.
#[allow(clippy::large_enum_variant)] // one per convolution, built once
enum ConvBackward {
    /// Stride 1, depthwise or 1×1: a convolution of the output gradient with the flipped kernel,
    /// input and output channels swapped per group (the same fast kernels as the forward pass).
    Conv {
        weight: Tensor<4>,
        options: ConvOptions<2>,
    },
    /// A full (ungrouped) convolution on the CPU backend: [`conv::conv2d_input_grad`],
    /// with the weight also stored transposed where that is faster ([`conv::wants_transposed`];
    /// decided and built on the first backward pass).
    Cols {
        transposed: OnceLock<Option<Vec<f32>>>,
    },
    /// A depthwise convolution on the CPU backend: [`depthwise::conv2d_input_grad`].
    Depthwise,
    /// Otherwise: the transposed convolution.
    Transpose,
}

impl ConvBackward {
    fn new(weight: &Tensor<4>, options: &ConvOptions<2>) -> Self {
        let [out, in_g, kh, kw] = weight.dims();
        // The graph's convolutions pad symmetrically.
        let [ph, pw] = options.padding_begin();
        let g = options.groups;
        if g == 1 && fused::on_cpu(weight) {
            return ConvBackward::Cols {
                transposed: OnceLock::new(),
            };
        }
        if in_g == 1 && out == g && depthwise::steps_fit(options) && fused::on_cpu(weight) {
            return ConvBackward::Depthwise;
        }
        if options.stride != [1, 1] || options.dilation != [1, 1] || ph >= kh || pw >= kw {
            return ConvBackward::Transpose;
        }
        // A full (ungrouped) k×k convolution elsewhere (wgpu): the transposed convolution;
        // depthwise and 1×1 ones stay convolutions.
        if g == 1 && kh * kw > 1 {
            return ConvBackward::Transpose;
        }
        let flipped = if in_g == 1 && out == g {
            // Depthwise: every group has one input and one output channel.
            weight.clone().flip([2, 3])
        } else {
            weight
                .clone()
                .reshape([g, out / g, in_g, kh, kw])
                .swap_dims(1, 2)
                .reshape([g * in_g, out / g, kh, kw])
                .flip([2, 3])
        };
        ConvBackward::Conv {
            // Materialised once: backends may keep a flip as a strided view, which every
            // convolution would otherwise copy.
            weight: flipped.mul_scalar(1.0),
            options: ConvOptions::new([1, 1], [kh - 1 - ph, kw - 1 - pw], [1, 1], g),
        }
    }

    /// `∂/∂input` from `∂/∂output` (`grad`), for an input of spatial size `input_hw`.
    fn apply(
        &self,
        grad: Tensor<4>,
        weight: &Tensor<4>,
        options: &ConvOptions<2>,
        input_hw: [usize; 2],
        name: &str,
    ) -> Result<Tensor<4>> {
        Ok(match self {
            ConvBackward::Conv { weight, options } => {
                module::conv2d(grad, weight.clone(), None, options.clone())
            }
            ConvBackward::Cols { transposed } => {
                let [_, _, gh, gw] = grad.dims();
                let t = transposed.get_or_init(|| {
                    conv::wants_transposed(weight, gh * gw)
                        .then(|| conv::transposed_weight(weight).ok())
                        .flatten()
                });
                conv::conv2d_input_grad(grad, weight, t.as_deref(), options, input_hw, name)?
            }
            ConvBackward::Depthwise => {
                depthwise::conv2d_input_grad(grad, weight, options, input_hw, name)?
            }
            ConvBackward::Transpose => {
                let [_, _, kh, kw] = weight.dims();
                let [_, _, gh, gw] = grad.dims();
                let size = |g: usize, k: usize, d: usize| {
                    (g - 1) * options.stride[d] + options.dilation[d] * (k - 1) + 1
                };
                // `padding_out` makes the transposed convolution's output the input's size
                // (a strided convolution drops the last rows/columns that fit no step).
                let pad = options.padding_begin();
                let pad_out = [
                    (input_hw[0] + 2 * pad[0]).saturating_sub(size(gh, kh, 0)),
                    (input_hw[1] + 2 * pad[1]).saturating_sub(size(gw, kw, 1)),
                ];
                module::conv_transpose2d(
                    grad,
                    weight.clone(),
                    None,
                    ConvTransposeOptions::new(
                        options.stride,
                        pad,
                        pad_out,
                        options.dilation,
                        options.groups,
                    ),
                )
            }
        })
    }
}

/// Adds `v` to the gradient accumulated for node `j`.
/// A convolution of `x` (`[N, C_in, H, W]`) with `weight` (`[C_out, C_in / groups, kh, kw]`)
/// plus `bias`: on the CPU backend with the engine's kernels where they apply (full and
/// depthwise convolutions), otherwise with the backend's own. `name` labels errors.
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    options: &ConvOptions<2>,
    name: &str,
) -> Result<Tensor<4>> {
    if conv::handles(&x, options) {
        conv::conv2d(x, weight, bias, options, name)
    } else if depthwise::handles(&x, weight, options) {
        depthwise::conv2d(x, weight, bias, options, name)
    } else {
        Ok(module::conv2d(
            x,
            weight.clone(),
            bias.cloned(),
            options.clone(),
        ))
    }
}

fn accumulate(grads: &mut [Option<Value>], j: usize, v: Value) -> Result<()> {
    grads[j] = Some(match (grads[j].take(), v) {
        (None, v) => v,
        (Some(Value::Map(a)), Value::Map(b)) => Value::Map(a + b),
        (Some(Value::Vec(a)), Value::Vec(b)) => Value::Vec(a + b),
        _ => {
            return Err(Error::Internal(format!(
                "gradients of mismatched kinds meet at node {j}"
            )));
        }
    });
    Ok(())
}

/// A model uploaded to a device.
pub struct Network {
    device: Device,
    layers: Vec<Layer>,
    inputs: Vec<Vec<usize>>,
    names: Vec<String>,
    last_use: Vec<usize>,
    /// For a value an activation needs in the reverse pass: the first such activation (the
    /// last the reverse pass reaches), after which the tape may drop it.
    kept_until: Vec<Option<usize>>,
    stages: [usize; 4],
    output: usize,
    input_size: [usize; 2],
    scored_layers: usize,
    embedding_size: usize,
    /// Host copies of the running statistics of the observed BatchNorm layers, by node.
    running: HashMap<usize, (Vec<f32>, Vec<f32>)>,
}

impl Network {
    /// Uploads `model` to `device`. Autodiff is enabled on the device if it is not already;
    /// no weight requires a gradient.
    pub fn new(model: &Model, device: &Device) -> Result<Self> {
        let device = device.clone().autodiff();
        let inner = device.clone().without_autodiff();
        let (graph, params) = (model.graph(), model.params());
        let p = |name: &str| -> Result<&Param> {
            params
                .get(name)
                .ok_or_else(|| Error::Internal(format!("validated model lacks parameter `{name}`")))
        };
        let info = model.info();
        let mut layers = Vec::with_capacity(graph.nodes.len());
        let mut running = HashMap::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            let layer = match &node.op {
                Op::Input => Layer::Input,
                Op::Conv2d {
                    weight,
                    bias,
                    stride,
                    padding,
                    groups,
                    ..
                } => Layer::Conv {
                    weight: upload::<4>(p(weight)?, &inner)?,
                    bias: match bias.as_deref() {
                        Some(b) => Some(upload::<1>(p(b)?, &inner)?),
                        None => None,
                    },
                    options: ConvOptions::new(*stride, *padding, [1, 1], *groups),
                    backward: OnceLock::new(),
                },
                Op::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    eps,
                } => {
                    let (m, v, b) = (&p(mean)?.data, &p(var)?.data, &p(beta)?.data);
                    let c = m.len();
                    let g = match gamma.as_deref() {
                        Some(g) => Some(&p(g)?.data),
                        None => None,
                    };
                    let scale: Vec<f32> = (0..c)
                        .map(|k| {
                            let gk = g.map_or(1.0, |g| g[k] as f64);
                            (gk / (v[k] as f64 + eps).sqrt()) as f32
                        })
                        .collect();
                    let shift: Vec<f32> = (0..c)
                        .map(|k| (b[k] as f64 - m[k] as f64 * scale[k] as f64) as f32)
                        .collect();
                    let stats = (info.shapes[node.inputs[0]].len() == 3).then(|| {
                        running.insert(i, (m.clone(), v.clone()));
                        RunningStats {
                            mean: upload_vec(m, &inner).reshape([1, c]),
                            var: upload_vec(v, &inner).reshape([1, c]),
                        }
                    });
                    Layer::BatchNorm {
                        scale: upload_vec(&scale, &inner),
                        shift: upload_vec(&shift, &inner),
                        scale_host: scale,
                        shift_host: shift,
                        stats,
                    }
                }
                Op::Prelu { alpha } => {
                    Layer::Prelu(upload::<1>(p(alpha)?, &inner)?, p(alpha)?.data.clone())
                }
                Op::Relu => Layer::Relu,
                Op::Relu6 => Layer::Relu6,
                Op::Add => Layer::Add,
                Op::Flatten => Layer::Flatten,
                Op::Linear { weight, bias, .. } => Layer::Linear {
                    weight_t: upload::<2>(p(weight)?, &inner)?.transpose(),
                    bias: match bias.as_deref() {
                        Some(b) => {
                            let d = &p(b)?.data;
                            Some(upload_vec(d, &inner).reshape([1, d.len()]))
                        }
                        None => None,
                    },
                },
            };
            layers.push(layer);
        }
        let n = graph.nodes.len();
        let mut last_use = (0..n).collect::<Vec<_>>();
        for (i, node) in graph.nodes.iter().enumerate() {
            for &j in &node.inputs {
                last_use[j] = last_use[j].max(i);
            }
        }
        let mut kept_until = vec![None; n];
        for (i, node) in graph.nodes.iter().enumerate() {
            if matches!(node.op, Op::Relu | Op::Relu6 | Op::Prelu { .. }) {
                let j = node.inputs[0];
                kept_until[j] = Some(kept_until[j].map_or(i, |k: usize| k.min(i)));
            }
        }
        Ok(Self {
            device,
            kept_until,
            layers,
            inputs: graph.nodes.iter().map(|n| n.inputs.clone()).collect(),
            names: graph.nodes.iter().map(|n| n.name.clone()).collect(),
            last_use,
            stages: graph.stages,
            output: graph.output,
            input_size: model.meta().input_size,
            scored_layers: info.scored_batchnorms.len(),
            running,
            embedding_size: info.embedding_size,
        })
    }

    /// The device the network runs on (autodiff-enabled).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Length of the embedding.
    pub fn embedding_size(&self) -> usize {
        self.embedding_size
    }

    /// Input `[height, width]`.
    pub fn input_size(&self) -> [usize; 2] {
        self.input_size
    }

    /// Number of BatchNorm layers the observer hears about (those with a 4-D input).
    pub fn observed_batchnorms(&self) -> usize {
        self.scored_layers
    }

    /// Name of node `node` (empty for an unknown node).
    pub fn node_name(&self, node: usize) -> &str {
        self.names.get(node).map_or("", String::as_str)
    }

    /// Host copies `(running mean, running var)` of the observed BatchNorm layer at `node`.
    pub fn running_stats(&self, node: usize) -> Option<&(Vec<f32>, Vec<f32>)> {
        self.running.get(&node)
    }

    /// Builds the input tensor from normalised `[N, 3, H, W]` data (row-major).
    pub fn input(&self, data: Vec<f32>, n: usize) -> Result<Tensor<4>> {
        let [h, w] = self.input_size;
        if data.len() != n * 3 * h * w {
            return Err(Error::Input(format!(
                "expected {} values for {n} image(s) of 3x{h}x{w}, got {}",
                n * 3 * h * w,
                data.len()
            )));
        }
        Ok(Tensor::<4>::from_data(
            TensorData::new(data, [n, 3, h, w]),
            &self.device,
        ))
    }

    /// Runs the network on `x` (`[N, 3, H, W]`, normalised), telling `observer` about
    /// BatchNorm inputs and stage outputs; returns the embedding `[N, E]`.
    pub fn forward(&self, x: Tensor<4>, observer: &mut dyn Observer) -> Result<Tensor<2>> {
        Ok(self.run(x, observer, None)?.0)
    }

    /// [`Network::forward`], also keeping what [`Network::backward`] needs.
    pub fn forward_taped(
        &self,
        x: Tensor<4>,
        observer: &mut dyn Observer,
    ) -> Result<(Tensor<2>, Tape)> {
        let n = self.layers.len();
        let tape = Tape {
            kept: vec![None; n],
            dims: vec![Vec::new(); n],
        };
        let (emb, tape) = self.run(x, observer, Some(tape))?;
        Ok((
            emb,
            tape.ok_or_else(|| Error::Internal("tape lost".into()))?,
        ))
    }

    fn run(
        &self,
        x: Tensor<4>,
        observer: &mut dyn Observer,
        mut tape: Option<Tape>,
    ) -> Result<(Tensor<2>, Option<Tape>)> {
        let mut values: Vec<Option<Value>> = vec![None; self.layers.len()];
        let mut input = Some(x);
        for (i, layer) in self.layers.iter().enumerate() {
            // A value's last use takes it (so that kernels may work in place), keeping a copy
            // for the reverse pass when an activation needs it there.
            let mut arg = |k: usize| -> Result<Value> {
                let j = self.inputs[i][k];
                let once = self.inputs[i].iter().filter(|&&x| x == j).count() == 1;
                let v = if once && self.last_use[j] == i && j != self.output {
                    let v = values[j].take();
                    if let (Some(t), Some(_)) = (tape.as_mut(), self.kept_until[j]) {
                        t.kept[j] = v.clone();
                    }
                    v
                } else {
                    values[j].clone()
                };
                v.ok_or_else(|| Error::Internal(format!("value of node {j} was released")))
            };
            let name = &self.names[i];
            let out = match layer {
                Layer::Input => Value::Map(
                    input
                        .take()
                        .ok_or_else(|| Error::Internal("second input node".into()))?,
                ),
                Layer::Conv {
                    weight,
                    bias,
                    options,
                    ..
                } => {
                    let x = arg(0)?.map(name)?;
                    Value::Map(conv2d(x, weight, bias.as_ref(), options, name)?)
                }
                Layer::BatchNorm {
                    scale,
                    shift,
                    scale_host,
                    shift_host,
                    stats,
                } => match arg(0)? {
                    Value::Map(a) => {
                        if let Some(s) = stats {
                            observer.batchnorm_input(i, &a, s);
                        }
                        Value::Map(fused::batchnorm(
                            a,
                            (scale, scale_host),
                            (shift, shift_host),
                        )?)
                    }
                    Value::Vec(a) => {
                        let c = a.dims()[1];
                        Value::Vec(
                            a * scale.clone().reshape([1, c]) + shift.clone().reshape([1, c]),
                        )
                    }
                },
                Layer::Prelu(alpha, alpha_host) => match arg(0)? {
                    Value::Map(a) => Value::Map(fused::prelu(a, (alpha, alpha_host))?),
                    Value::Vec(a) => Value::Vec(activation::prelu(a, alpha.clone())),
                },
                Layer::Relu | Layer::Relu6 => {
                    let kind = match layer {
                        Layer::Relu6 => Activation::Relu6,
                        _ => Activation::Relu,
                    };
                    match arg(0)? {
                        Value::Map(a) => Value::Map(fused::activation(kind, a)?),
                        Value::Vec(a) => Value::Vec(fused::activation(kind, a)?),
                    }
                }
                Layer::Add => match (arg(0)?, arg(1)?) {
                    (Value::Map(a), Value::Map(b)) => Value::Map(a + b),
                    (Value::Vec(a), Value::Vec(b)) => Value::Vec(a + b),
                    _ => {
                        return Err(Error::Internal(format!("`{name}` adds mismatched values")));
                    }
                },
                Layer::Flatten => {
                    let a = arg(0)?.map(name)?;
                    let [n, c, h, w] = a.dims();
                    Value::Vec(a.reshape([n, c * h * w]))
                }
                Layer::Linear { weight_t, bias } => {
                    let a = match arg(0)? {
                        Value::Vec(a) => a,
                        Value::Map(a) => {
                            let [n, c, h, w] = a.dims();
                            a.reshape([n, c * h * w])
                        }
                    };
                    let y = a.matmul(weight_t.clone());
                    Value::Vec(match bias {
                        Some(b) => y + b.clone(),
                        None => y,
                    })
                }
            };
            let out = match self.stages.iter().position(|&s| s == i) {
                Some(stage) => Value::Map(observer.stage_output(stage, i, out.map(name)?)),
                None => out,
            };
            if let Some(t) = tape.as_mut() {
                t.dims[i] = match &out {
                    Value::Map(m) => m.dims().to_vec(),
                    Value::Vec(v) => v.dims().to_vec(),
                };
            }
            values[i] = Some(out);
            for &j in &self.inputs[i] {
                if self.last_use[j] == i
                    && j != self.output
                    && let Some(v) = values[j].take()
                    && let Some(t) = tape.as_mut()
                    && self.kept_until[j].is_some()
                {
                    t.kept[j] = Some(v);
                }
            }
        }
        match values[self.output].take() {
            Some(Value::Vec(e)) => Ok((e, tape)),
            _ => Err(Error::Internal("the embedding is not a vector".into())),
        }
    }

    /// The reverse pass after [`Network::forward_taped`]: starts from the gradients `adjoint`
    /// injects at the BatchNorm inputs (nothing flows back from the embedding), tells it the
    /// gradient of every stage output, and returns the gradient w.r.t. the input image (`None`
    /// when nothing reached it). Only input gradients are computed, never weight gradients.
    pub fn backward(&self, tape: Tape, adjoint: &mut dyn Adjoint) -> Result<Option<Tensor<4>>> {
        let Tape { mut kept, dims } = tape;
        let n = self.layers.len();
        let mut grads: Vec<Option<Value>> = vec![None; n];
        let mut input_grad = None;
        for i in (0..n).rev() {
            let name = &self.names[i];
            let g = grads[i].take();
            if let Some(stage) = self.stages.iter().position(|&s| s == i) {
                let g = match &g {
                    Some(Value::Map(m)) => Some(m),
                    Some(Value::Vec(_)) => {
                        return Err(Error::Internal(format!("stage `{name}` is not a map")));
                    }
                    None => None,
                };
                adjoint.stage_grad(stage, g);
            }
            let inputs = &self.inputs[i];
            let mut kept_value = |k: usize| -> Result<Value> {
                let j = inputs[k];
                let v = if self.kept_until[j] == Some(i) {
                    kept[j].take()
                } else {
                    kept[j].clone()
                };
                v.ok_or_else(|| Error::Internal(format!("`{name}`: input not kept")))
            };
            match &self.layers[i] {
                Layer::Input => input_grad = g.map(|g| g.map(name)).transpose()?,
                Layer::Conv {
                    weight,
                    options,
                    backward,
                    ..
                } => {
                    if let Some(g) = g {
                        let d = &dims[inputs[0]];
                        let hw = [d[2], d[3]];
                        let gx = backward
                            .get_or_init(|| ConvBackward::new(weight, options))
                            .apply(g.map(name)?, weight, options, hw, name)?;
                        accumulate(&mut grads, inputs[0], Value::Map(gx))?;
                    }
                }
                Layer::BatchNorm {
                    scale,
                    scale_host,
                    stats,
                    ..
                } => {
                    let seed = match stats {
                        Some(_) => adjoint.batchnorm_input_grad(i),
                        None => None,
                    };
                    let gx = match g {
                        Some(Value::Vec(g)) => {
                            let c = g.dims()[1];
                            Some(Value::Vec(g * scale.clone().reshape([1, c])))
                        }
                        Some(Value::Map(g)) => {
                            fused::batchnorm_backward(Some(g), (scale, scale_host), seed)?
                                .map(Value::Map)
                        }
                        None => seed.map(Value::Map),
                    };
                    if let Some(gx) = gx {
                        accumulate(&mut grads, inputs[0], gx)?;
                    }
                }
                Layer::Prelu(alpha, alpha_host) => {
                    if let Some(g) = g {
                        let a = alpha.dims()[0];
                        let gx = match (g, kept_value(0)?) {
                            (Value::Map(g), Value::Map(x)) => {
                                Value::Map(fused::prelu_backward(g, &x, (alpha, alpha_host))?)
                            }
                            (Value::Vec(g), Value::Vec(x)) => {
                                let alpha = alpha.clone().reshape([1, a]);
                                Value::Vec((g.clone() * alpha).mask_where(x.greater_elem(0.0), g))
                            }
                            _ => return Err(Error::Internal(format!("`{name}`: kind mismatch"))),
                        };
                        accumulate(&mut grads, inputs[0], gx)?;
                    }
                }
                Layer::Relu | Layer::Relu6 => {
                    if let Some(g) = g {
                        // PyTorch's conventions: ReLU passes where x > 0, ReLU6 where 0 < x < 6.
                        let kind = match self.layers[i] {
                            Layer::Relu6 => Activation::Relu6,
                            _ => Activation::Relu,
                        };
                        let gx = match (g, kept_value(0)?) {
                            (Value::Map(g), Value::Map(x)) => {
                                Value::Map(fused::activation_backward(kind, g, &x)?)
                            }
                            (Value::Vec(g), Value::Vec(x)) => {
                                Value::Vec(fused::activation_backward(kind, g, &x)?)
                            }
                            _ => return Err(Error::Internal(format!("`{name}`: kind mismatch"))),
                        };
                        accumulate(&mut grads, inputs[0], gx)?;
                    }
                }
                Layer::Add => {
                    if let Some(g) = g {
                        accumulate(&mut grads, inputs[0], g.clone())?;
                        accumulate(&mut grads, inputs[1], g)?;
                    }
                }
                Layer::Flatten => {
                    if let Some(g) = g {
                        let d = &dims[inputs[0]];
                        let Value::Vec(g) = g else {
                            return Err(Error::Internal(format!("`{name}`: kind mismatch")));
                        };
                        accumulate(
                            &mut grads,
                            inputs[0],
                            Value::Map(g.reshape([d[0], d[1], d[2], d[3]])),
                        )?;
                    }
                }
                Layer::Linear { weight_t, .. } => {
                    if let Some(g) = g {
                        let Value::Vec(g) = g else {
                            return Err(Error::Internal(format!("`{name}`: kind mismatch")));
                        };
                        let gx = g.matmul(weight_t.clone().transpose());
                        let d = &dims[inputs[0]];
                        let gx = if d.len() == 4 {
                            Value::Map(gx.reshape([d[0], d[1], d[2], d[3]]))
                        } else {
                            Value::Vec(gx)
                        };
                        accumulate(&mut grads, inputs[0], gx)?;
                    }
                }
            }
        }
        Ok(input_grad)
    }

    /// Embeddings only (inference, no gradients), `[N, embedding]` row-major.
    pub async fn embed(&self, data: Vec<f32>, n: usize) -> Result<Vec<Vec<f32>>> {
        let x = self.input(data, n)?.without_autodiff();
        let emb = read(self.forward(x, &mut Inference)?).await?;
        Ok(emb
            .chunks(self.embedding_size.max(1))
            .map(<[f32]>::to_vec)
            .collect())
    }
}
