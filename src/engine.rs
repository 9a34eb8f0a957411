//! Executes a [`Model`] on a Burn device and computes GraFIQs.
//!
//! # How the five gradients are obtained in one backward sweep
//! Burn keeps gradients only for leaf tensors. The forward pass therefore cuts the graph at the
//! four stage outputs: stage `k`'s output `s_k` is kept (attached to its segment) and a detached
//! leaf copy `s_k'` (requiring grad) feeds the next segment. The BatchNorm loss terms are
//! summed per segment. The backward then runs segment by segment from the head to the image:
//! segment `k`'s objective is its own loss terms plus `Σ s_k · g_{k+1}`, where `g_{k+1}` is the
//! gradient already obtained for the next stage's leaf. By the chain rule the gradient reaching
//! each leaf is exactly `∂L/∂(that tensor)` of the full network; the total work is one forward
//! and one backward pass.
//!
//! Every statistic is taken per sample, so a batch gives exactly the per-image results.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData, activation, module};

use crate::error::{Error, Result};
use crate::graph::Op;
use crate::model::{Model, ScoreKind};

/// The five raw GraFIQs scores of one image (sums of absolute gradients; larger = worse).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Gradient magnitude w.r.t. the normalised input image.
    pub image: f64,
    /// Gradient magnitude w.r.t. the output of stage 1.
    pub block1: f64,
    /// Gradient magnitude w.r.t. the output of stage 2.
    pub block2: f64,
    /// Gradient magnitude w.r.t. the output of stage 3.
    pub block3: f64,
    /// Gradient magnitude w.r.t. the output of stage 4.
    pub block4: f64,
}

impl Scores {
    /// Builds the five values from a function of the score kind.
    pub fn from_fn(mut f: impl FnMut(ScoreKind) -> f64) -> Self {
        Self {
            image: f(ScoreKind::Image),
            block1: f(ScoreKind::Block1),
            block2: f(ScoreKind::Block2),
            block3: f(ScoreKind::Block3),
            block4: f(ScoreKind::Block4),
        }
    }

    /// The score of one kind.
    pub fn get(&self, kind: ScoreKind) -> f64 {
        match kind {
            ScoreKind::Image => self.image,
            ScoreKind::Block1 => self.block1,
            ScoreKind::Block2 => self.block2,
            ScoreKind::Block3 => self.block3,
            ScoreKind::Block4 => self.block4,
        }
    }

    fn from_slice(v: &[f32]) -> Self {
        Self {
            image: v[0] as f64,
            block1: v[1] as f64,
            block2: v[2] as f64,
            block3: v[3] as f64,
            block4: v[4] as f64,
        }
    }
}

/// Per-image output of the network: raw scores, loss and embedding.
#[derive(Clone, Debug, PartialEq)]
pub struct Raw {
    /// The five raw scores.
    pub scores: Scores,
    /// The GraFIQs loss of this image (mean over BatchNorm layers).
    pub loss: f64,
    /// The face embedding (raw network output, not L2-normalised).
    pub embedding: Vec<f32>,
}

#[allow(clippy::large_enum_variant)] // one per node, built once
enum Layer {
    Input,
    Conv {
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        options: ConvOptions<2>,
    },
    BatchNorm {
        /// `γ / √(var + ε)` and `β − mean · scale`, per channel.
        scale: Tensor<1>,
        shift: Tensor<1>,
        /// Running statistics `[1, C]`, present for GraFIQs (4-D) layers.
        stats: Option<(Tensor<2>, Tensor<2>)>,
    },
    Prelu(Tensor<1>),
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

#[derive(Clone)]
enum Value {
    Map(Tensor<4>),
    Vec(Tensor<2>),
}

impl Value {
    fn map(self, name: &str) -> Result<Tensor<4>> {
        match self {
            Value::Map(t) => Ok(t),
            Value::Vec(_) => Err(Error::Backend(format!("`{name}` expected a feature map"))),
        }
    }
}

/// A model uploaded to a device, ready to score.
pub struct Network {
    device: Device,
    layers: Vec<Layer>,
    inputs: Vec<Vec<usize>>,
    names: Vec<String>,
    last_use: Vec<usize>,
    stages: [usize; 4],
    output: usize,
    scored_layers: usize,
    embedding_size: usize,
    /// Host copies of the running statistics of the GraFIQs BatchNorm layers, by node.
    running: std::collections::HashMap<usize, (Vec<f32>, Vec<f32>)>,
}

/// Tensors collected by an inspection pass.
#[derive(Default)]
struct Probe {
    /// (node, per-sample channel means `[N, C]`, biased variances `[N, C]`).
    batchnorms: Vec<(usize, Tensor<2>, Tensor<2>)>,
    /// (node, stage output).
    stages: Vec<(usize, Tensor<4>)>,
}

/// Statistics of the input of one GraFIQs BatchNorm layer, for one image.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BatchNormStats {
    /// Layer name.
    pub name: String,
    /// Per-channel mean over H×W.
    pub mean: Vec<f32>,
    /// Per-channel biased variance over H×W.
    pub var: Vec<f32>,
    /// The layer's running mean (what the network was trained with).
    pub running_mean: Vec<f32>,
    /// The layer's running variance.
    pub running_var: Vec<f32>,
}

/// One stage output (`block1` … `block4`) for one image.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StageOutput {
    /// Node name.
    pub name: String,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// `C·H·W` values, row-major.
    pub data: Vec<f32>,
}

/// What the network computes for one image, layer by layer (no gradients).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Activations {
    /// The embedding.
    pub embedding: Vec<f32>,
    /// Input statistics of every GraFIQs BatchNorm layer, in forward order.
    pub batchnorms: Vec<BatchNormStats>,
    /// The four stage outputs.
    pub stages: Vec<StageOutput>,
}

impl Activations {
    /// The GraFIQs loss recomputed from the statistics:
    /// `(1/L) Σ_l [mean_c (μ − running_mean)² + mean_c (σ² − running_var)²]`.
    pub fn loss(&self) -> f64 {
        let mse = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum::<f64>()
                / a.len().max(1) as f64
        };
        self.batchnorms
            .iter()
            .map(|b| mse(&b.mean, &b.running_mean) + mse(&b.var, &b.running_var))
            .sum::<f64>()
            / self.batchnorms.len().max(1) as f64
    }
}

struct Forward {
    stage_out: Vec<Tensor<4>>,
    stage_leaf: Vec<Tensor<4>>,
    segment_loss: Vec<Option<Tensor<2>>>,
    embedding: Tensor<2>,
}

impl Network {
    /// Uploads `model` to `device`. Autodiff is enabled on the device if it is not already;
    /// no weight requires a gradient.
    pub fn new(model: &Model, device: &Device) -> Self {
        let device = device.clone().autodiff();
        let inner = device.clone().without_autodiff();
        let p = |name: &str| &model.params[name];
        let t1 = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &inner);
        let t4 = |name: &str| {
            let q = p(name);
            Tensor::<4>::from_data(
                TensorData::new(
                    q.data.clone(),
                    [q.shape[0], q.shape[1], q.shape[2], q.shape[3]],
                ),
                &inner,
            )
        };
        let info = model.info();
        let mut layers = Vec::with_capacity(model.graph.nodes.len());
        for (i, node) in model.graph.nodes.iter().enumerate() {
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
                    weight: t4(weight),
                    bias: bias.as_deref().map(|b| t1(&p(b).data)),
                    options: ConvOptions::new(*stride, *padding, [1, 1], *groups),
                },
                Op::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    eps,
                } => {
                    let (m, v, b) = (&p(mean).data, &p(var).data, &p(beta).data);
                    let c = m.len();
                    let g = gamma.as_deref().map(|g| p(g).data.clone());
                    let scale: Vec<f32> = (0..c)
                        .map(|k| {
                            let gk = g.as_ref().map_or(1.0, |g| g[k] as f64);
                            (gk / (v[k] as f64 + eps).sqrt()) as f32
                        })
                        .collect();
                    let shift: Vec<f32> = (0..c)
                        .map(|k| (b[k] as f64 - m[k] as f64 * scale[k] as f64) as f32)
                        .collect();
                    let stats = (info.shapes[node.inputs[0]].len() == 3)
                        .then(|| (t1(m).reshape([1, c]), t1(v).reshape([1, c])));
                    Layer::BatchNorm {
                        scale: t1(&scale),
                        shift: t1(&shift),
                        stats,
                    }
                }
                Op::Prelu { alpha } => Layer::Prelu(t1(&p(alpha).data)),
                Op::Relu => Layer::Relu,
                Op::Relu6 => Layer::Relu6,
                Op::Add => Layer::Add,
                Op::Flatten => Layer::Flatten,
                Op::Linear { weight, bias, .. } => {
                    let q = p(weight);
                    let w = Tensor::<2>::from_data(
                        TensorData::new(q.data.clone(), [q.shape[0], q.shape[1]]),
                        &inner,
                    );
                    Layer::Linear {
                        weight_t: w.transpose(),
                        bias: bias.as_deref().map(|b| {
                            let d = &p(b).data;
                            t1(d).reshape([1, d.len()])
                        }),
                    }
                }
            };
            debug_assert_eq!(layers.len(), i);
            layers.push(layer);
        }
        let n = model.graph.nodes.len();
        let mut last_use = (0..n).collect::<Vec<_>>();
        for (i, node) in model.graph.nodes.iter().enumerate() {
            for &j in &node.inputs {
                last_use[j] = last_use[j].max(i);
            }
        }
        Self {
            device,
            layers,
            inputs: model.graph.nodes.iter().map(|n| n.inputs.clone()).collect(),
            names: model.graph.nodes.iter().map(|n| n.name.clone()).collect(),
            last_use,
            stages: model.graph.stages,
            output: model.graph.output,
            scored_layers: info.scored_batchnorms.len(),
            running: info
                .scored_batchnorms
                .iter()
                .filter_map(|&i| match &model.graph.nodes[i].op {
                    Op::BatchNorm { mean, var, .. } => Some((
                        i,
                        (
                            model.params[mean].data.clone(),
                            model.params[var].data.clone(),
                        ),
                    )),
                    _ => None,
                })
                .collect(),
            embedding_size: info.embedding_size,
        }
    }

    /// The device the network runs on (autodiff-enabled).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Length of the embedding.
    pub fn embedding_size(&self) -> usize {
        self.embedding_size
    }

    /// Runs the network on `x` (`[N, 3, 112, 112]`, normalised). With `scoring`, collects the
    /// per-segment BatchNorm losses and cuts the graph at the stages.
    fn forward(
        &self,
        x: Tensor<4>,
        scoring: bool,
        mut probe: Option<&mut Probe>,
    ) -> Result<Forward> {
        let mut values: Vec<Option<Value>> = vec![None; self.layers.len()];
        let mut stage_out = Vec::with_capacity(4);
        let mut stage_leaf = Vec::with_capacity(4);
        let mut segment_loss: Vec<Option<Tensor<2>>> = vec![None; 5];
        let mut segment = 0usize;
        let mut input = Some(x);
        for (i, layer) in self.layers.iter().enumerate() {
            let arg = |k: usize| -> Result<Value> {
                let j = self.inputs[i][k];
                values[j]
                    .clone()
                    .ok_or_else(|| Error::Backend(format!("value of node {j} was released")))
            };
            let name = &self.names[i];
            let out = match layer {
                Layer::Input => Value::Map(
                    input
                        .take()
                        .ok_or_else(|| Error::Backend("second input node".into()))?,
                ),
                Layer::Conv {
                    weight,
                    bias,
                    options,
                } => Value::Map(module::conv2d(
                    arg(0)?.map(name)?,
                    weight.clone(),
                    bias.clone(),
                    options.clone(),
                )),
                Layer::BatchNorm {
                    scale,
                    shift,
                    stats,
                } => match arg(0)? {
                    Value::Map(a) => {
                        if let (Some(p), Some(_)) = (probe.as_deref_mut(), stats) {
                            let [n, c, h, w] = a.dims();
                            let a3 = a.clone().reshape([n, c, h * w]);
                            let mu = a3.clone().mean_dim(2);
                            let var = (a3 - mu.clone()).square().mean_dim(2);
                            p.batchnorms
                                .push((i, mu.reshape([n, c]), var.reshape([n, c])));
                        }
                        if scoring && let Some((rm, rv)) = stats {
                            let term = bn_stat_loss(a.clone(), rm.clone(), rv.clone());
                            let acc = &mut segment_loss[segment];
                            *acc = Some(match acc.take() {
                                Some(s) => s + term,
                                None => term,
                            });
                        }
                        let c = a.dims()[1];
                        Value::Map(
                            a * scale.clone().reshape([1, c, 1, 1])
                                + shift.clone().reshape([1, c, 1, 1]),
                        )
                    }
                    Value::Vec(a) => {
                        let c = a.dims()[1];
                        Value::Vec(
                            a * scale.clone().reshape([1, c]) + shift.clone().reshape([1, c]),
                        )
                    }
                },
                Layer::Prelu(alpha) => match arg(0)? {
                    Value::Map(a) => Value::Map(activation::prelu(a, alpha.clone())),
                    Value::Vec(a) => Value::Vec(activation::prelu(a, alpha.clone())),
                },
                Layer::Relu => match arg(0)? {
                    Value::Map(a) => Value::Map(activation::relu(a)),
                    Value::Vec(a) => Value::Vec(activation::relu(a)),
                },
                Layer::Relu6 => match arg(0)? {
                    Value::Map(a) => Value::Map(a.clamp(0.0, 6.0)),
                    Value::Vec(a) => Value::Vec(a.clamp(0.0, 6.0)),
                },
                Layer::Add => match (arg(0)?, arg(1)?) {
                    (Value::Map(a), Value::Map(b)) => Value::Map(a + b),
                    (Value::Vec(a), Value::Vec(b)) => Value::Vec(a + b),
                    _ => return Err(Error::Backend(format!("`{name}` adds mismatched values"))),
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
            if let Some(p) = probe.as_deref_mut()
                && self.stages.contains(&i)
            {
                p.stages.push((i, out.clone().map(name)?));
            }
            let out = if scoring && self.stages.get(segment) == Some(&i) {
                let attached = out.map(name)?;
                let leaf = attached.clone().detach().require_grad();
                stage_out.push(attached);
                stage_leaf.push(leaf.clone());
                segment += 1;
                Value::Map(leaf)
            } else {
                out
            };
            values[i] = Some(out);
            for &j in &self.inputs[i] {
                if self.last_use[j] == i && j != self.output {
                    values[j] = None;
                }
            }
        }
        let embedding = match values[self.output].take() {
            Some(Value::Vec(e)) => e,
            _ => return Err(Error::Backend("embedding is not a vector".into())),
        };
        if scoring && stage_out.len() != 4 {
            return Err(Error::Backend("stage nodes not reached".into()));
        }
        Ok(Forward {
            stage_out,
            stage_leaf,
            segment_loss,
            embedding,
        })
    }

    /// Builds the input tensor from normalised `[N, 3, 112, 112]` data.
    fn input(&self, data: Vec<f32>, n: usize) -> Result<Tensor<4>> {
        if data.len() != n * 3 * 112 * 112 {
            return Err(Error::Input(format!(
                "expected {} values for {n} image(s), got {}",
                n * 3 * 112 * 112,
                data.len()
            )));
        }
        Ok(Tensor::<4>::from_data(
            TensorData::new(data, [n, 3, 112, 112]),
            &self.device,
        ))
    }

    /// GraFIQs scores, loss and embedding for `n` normalised images (`[N, 3, 112, 112]`,
    /// row-major). All device reads are asynchronous, as WebGPU requires.
    pub async fn score(&self, data: Vec<f32>, n: usize) -> Result<Vec<Raw>> {
        let x = self.input(data, n)?.require_grad();
        let fwd = self.forward(x.clone(), true, None)?;
        let inv = 1.0 / self.scored_layers as f64;
        let mut grads: Vec<Tensor<4>> = Vec::with_capacity(5);
        let mut upstream: Option<Tensor<4>> = None;
        let mut losses: Option<Tensor<2>> = None;
        for seg in (0..5).rev() {
            let local = fwd.segment_loss[seg].clone();
            if let Some(l) = &local {
                losses = Some(match losses.take() {
                    Some(s) => s + l.clone().detach(),
                    None => l.clone().detach(),
                });
            }
            let mut objective = local.map(|l| l.sum().mul_scalar(inv));
            if seg < 4
                && let Some(g) = upstream.take()
            {
                let chain = (fwd.stage_out[seg].clone() * g).sum();
                objective = Some(match objective {
                    Some(o) => o + chain,
                    None => chain,
                });
            }
            let leaf = if seg == 0 {
                &x
            } else {
                &fwd.stage_leaf[seg - 1]
            };
            let g = match objective {
                Some(o) => {
                    let gr = o.backward();
                    leaf.grad(&gr)
                        .unwrap_or_else(|| leaf.clone().detach().zeros_like().without_autodiff())
                }
                None => leaf.clone().detach().zeros_like().without_autodiff(),
            };
            upstream = Some(g.clone());
            grads.push(g);
        }
        grads.reverse(); // image, block1..block4
        let sums: Vec<Tensor<2>> = grads
            .into_iter()
            .map(|g| {
                let [b, c, h, w] = g.dims();
                g.abs().reshape([b, c * h * w]).sum_dim(1)
            })
            .collect();
        let table = Tensor::cat(sums, 1); // [N, 5]
        let losses = losses
            .map(|l| l.without_autodiff().mul_scalar(inv))
            .unwrap_or_else(|| Tensor::zeros([n, 1], &self.device.clone().without_autodiff()));
        let table = Tensor::cat(vec![table, losses], 1); // [N, 6]
        let table = read(table).await?;
        let emb = read(fwd.embedding.detach().without_autodiff()).await?;
        let e = self.embedding_size;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let row = &table[i * 6..i * 6 + 6];
            if let Some(bad) = row.iter().find(|v| !v.is_finite()) {
                return Err(Error::Input(format!(
                    "image {i} produced a non-finite score ({bad}); check the input values"
                )));
            }
            out.push(Raw {
                scores: Scores::from_slice(row),
                loss: row[5] as f64,
                embedding: emb[i * e..(i + 1) * e].to_vec(),
            });
        }
        Ok(out)
    }

    /// Per-layer BatchNorm input statistics, stage outputs and embedding for `n` normalised
    /// images (inference, no gradients).
    pub async fn activations(&self, data: Vec<f32>, n: usize) -> Result<Vec<Activations>> {
        let x = self.input(data, n)?.without_autodiff();
        let mut probe = Probe::default();
        let fwd = self.forward(x, false, Some(&mut probe))?;
        let emb = read(fwd.embedding).await?;
        let e = self.embedding_size;
        let mut out: Vec<Activations> = (0..n)
            .map(|i| Activations {
                embedding: emb[i * e..(i + 1) * e].to_vec(),
                batchnorms: Vec::new(),
                stages: Vec::new(),
            })
            .collect();
        for (node, mu, var) in probe.batchnorms {
            let c = mu.dims()[1];
            let (mu, var) = (read(mu).await?, read(var).await?);
            let (rm, rv) = &self.running[&node];
            for (i, a) in out.iter_mut().enumerate() {
                a.batchnorms.push(BatchNormStats {
                    name: self.names[node].clone(),
                    mean: mu[i * c..(i + 1) * c].to_vec(),
                    var: var[i * c..(i + 1) * c].to_vec(),
                    running_mean: rm.clone(),
                    running_var: rv.clone(),
                });
            }
        }
        for (node, t) in probe.stages {
            let [_, c, h, w] = t.dims();
            let v = read(t).await?;
            let len = c * h * w;
            for (i, a) in out.iter_mut().enumerate() {
                a.stages.push(StageOutput {
                    name: self.names[node].clone(),
                    shape: [c, h, w],
                    data: v[i * len..(i + 1) * len].to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// Embeddings only (inference, no gradients), `[N, embedding]` row-major.
    pub async fn embed(&self, data: Vec<f32>, n: usize) -> Result<Vec<Vec<f32>>> {
        let x = self.input(data, n)?.without_autodiff();
        let fwd = self.forward(x, false, None)?;
        let emb = read(fwd.embedding).await?;
        Ok(emb
            .chunks(self.embedding_size)
            .map(<[f32]>::to_vec)
            .collect())
    }
}

/// Per-sample GraFIQs term of one BatchNorm layer: `mean_c (μ − rm)² + mean_c (σ² − rv)²`
/// with μ, σ² (biased) over H×W of each sample. Returns `[N, 1]`.
fn bn_stat_loss(a: Tensor<4>, rm: Tensor<2>, rv: Tensor<2>) -> Tensor<2> {
    let [n, c, h, w] = a.dims();
    let a = a.reshape([n, c, h * w]);
    let mu = a.clone().mean_dim(2); // [N, C, 1]
    let var = (a - mu.clone()).square().mean_dim(2);
    let dm = (mu.reshape([n, c]) - rm).square().mean_dim(1);
    let dv = (var.reshape([n, c]) - rv).square().mean_dim(1);
    dm + dv
}

/// Reads a tensor back to the host asynchronously (the only read WebGPU allows).
pub(crate) async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("reading results from the device failed: {e:?}")))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("unexpected result data: {e:?}")))
}
