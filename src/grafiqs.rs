//! The method: GraFIQs scores from one forward and one reverse pass.
//!
//! # The loss
//! For each BatchNorm layer `l` with a feature-map input (`L` of them), with per-sample channel
//! means `μ` and biased variances `σ²` over H×W:
//! `L = (1/L) Σ_l [ mean_c (μ − running_mean)² + mean_c (σ² − running_var)² ]`.
//! [`bn_term`] computes one layer's term on the device; [`Activations::loss`] evaluates the same
//! formula on host copies, as an independent check of what the device computed.
//!
//! # How the five gradients are obtained in one reverse pass
//! The loss depends on the network only through the BatchNorm inputs, so its gradient w.r.t.
//! each of them is closed-form (see `Seeds`): the forward pass computes it beside the layer's
//! term, and [`Network::backward`] carries these gradients back to the image, operation by
//! operation, adding each one where its layer's input was produced. Every stage output's
//! gradient is complete when the reverse pass reaches it; its absolute sum is that stage's
//! score. No weight gradient is ever computed, and the work is one forward and one reverse pass.
//!
//! [`score_autodiff`] obtains the same gradients through Burn's autodiff, which keeps gradients
//! only for leaf tensors: the forward pass cuts the graph at the four stage outputs (an
//! [`Observer`] replacing each by a detached leaf copy) and the backward runs segment by segment
//! from the head to the image, each adding `Σ s_k · g_{k+1}` (its stage output times the
//! gradient already obtained for the next stage's leaf) to its own loss terms.
//!
//! Every statistic is taken per sample, so a batch gives exactly the per-image results.

use std::collections::HashMap;

use burn::tensor::Tensor;

use crate::device::read;
use crate::engine::{Adjoint, Network, Observer, RunningStats, fused};
use crate::error::{Error, Result};
use crate::model::ScoreKind;

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
}

/// Per-image output of a scoring pass: raw scores, loss and embedding.
#[derive(Clone, Debug, PartialEq)]
pub struct Raw {
    /// The five raw scores.
    pub scores: Scores,
    /// The GraFIQs loss of this image (mean over BatchNorm layers).
    pub loss: f64,
    /// The face embedding (raw network output, not L2-normalised).
    pub embedding: Vec<f32>,
}

/// Statistics of the input of one GraFIQs BatchNorm layer, for one image.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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
    /// The GraFIQs loss (module docs) evaluated on the host from these statistics.
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

/// Per-sample channel means and biased variances over H×W of `a` (`[N, C, H, W]`), each
/// `[N, C]`.
fn channel_stats(a: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
    let [n, c, h, w] = a.dims();
    let a = a.reshape([n, c, h * w]);
    let mu = a.clone().mean_dim(2); // [N, C, 1]
    let var = (a - mu.clone()).square().mean_dim(2);
    (mu.reshape([n, c]), var.reshape([n, c]))
}

/// One BatchNorm layer's term of the loss, per sample: `mean_c (μ − rm)² + mean_c (σ² − rv)²`.
/// Returns `[N, 1]`.
pub fn bn_term(input: Tensor<4>, running: &RunningStats) -> Tensor<2> {
    let (mu, var) = channel_stats(input);
    let dm = (mu - running.mean.clone()).square().mean_dim(1);
    let dv = (var - running.var.clone()).square().mean_dim(1);
    dm + dv
}

/// Sums the loss per segment and cuts the graph at the stages (module docs).
#[derive(Default)]
struct Segmented {
    /// Stages passed so far: the segment the next BatchNorm belongs to.
    segment: usize,
    /// Stage outputs, attached to their segment.
    stage_out: Vec<Tensor<4>>,
    /// Their detached leaf copies, which feed the next segment.
    stage_leaf: Vec<Tensor<4>>,
    /// Loss terms summed per segment (image → block1, …, block4 → head).
    segment_loss: [Option<Tensor<2>>; 5],
}

impl Observer for Segmented {
    fn batchnorm_input(&mut self, _node: usize, input: &Tensor<4>, running: &RunningStats) {
        let term = bn_term(input.clone(), running);
        let acc = &mut self.segment_loss[self.segment.min(4)];
        *acc = Some(match acc.take() {
            Some(s) => s + term,
            None => term,
        });
    }

    fn stage_output(&mut self, _stage: usize, _node: usize, output: Tensor<4>) -> Tensor<4> {
        let leaf = output.clone().detach().require_grad();
        self.stage_out.push(output);
        self.stage_leaf.push(leaf.clone());
        self.segment += 1;
        leaf
    }
}

/// Collects BatchNorm input statistics and stage outputs (no gradients).
#[derive(Default)]
struct Probe {
    /// (node, per-sample channel means `[N, C]`, biased variances `[N, C]`).
    batchnorms: Vec<(usize, Tensor<2>, Tensor<2>)>,
    /// (node, stage output).
    stages: Vec<(usize, Tensor<4>)>,
}

impl Observer for Probe {
    fn batchnorm_input(&mut self, node: usize, input: &Tensor<4>, _running: &RunningStats) {
        let (mu, var) = channel_stats(input.clone());
        self.batchnorms.push((node, mu, var));
    }

    fn stage_output(&mut self, _stage: usize, node: usize, output: Tensor<4>) -> Tensor<4> {
        self.stages.push((node, output.clone()));
        output
    }
}

/// The forward half of a scoring pass: per BatchNorm layer, its loss term and the gradient of
/// the whole loss w.r.t. its input, which the reverse pass injects there.
struct Seeds<'a> {
    net: &'a Network,
    /// `1 / L`.
    inv: f32,
    /// Σ of the layers' terms, per sample, `[N, 1]`.
    loss: Option<Tensor<2>>,
    /// `∂L/∂input` of each observed BatchNorm layer, by node.
    seeds: HashMap<usize, Tensor<4>>,
    /// The four stages' `Σ|∂L/∂output|`, per sample, filled by the reverse pass.
    stage_sums: [Option<Tensor<2>>; 4],
    /// The first failure of a hook (hooks cannot return errors).
    error: Option<Error>,
}

impl Seeds<'_> {
    /// [`Observer::batchnorm_input`] on the CPU: statistics, term and seed in two passes over
    /// each channel plane.
    fn batchnorm_input_cpu(&mut self, node: usize, input: &Tensor<4>) -> Result<()> {
        let [n, c, h, w] = input.dims();
        let (rm, rv) = self
            .net
            .running_stats(node)
            .ok_or_else(|| Error::Internal(format!("no running statistics for node {node}")))?;
        let p = h * w;
        let k = self.inv as f64 / (c * p) as f64;
        let mut seed = Vec::with_capacity(n * c * p);
        let mut terms = vec![0f32; n];
        // Planes come in storage order, so the seed is written front to back.
        fused::channel_moments(input, |sample, ch, plane, mean, var| {
            let dm = mean - rm[ch] as f64;
            let dv = var - rv[ch] as f64;
            terms[sample] += ((dm * dm + dv * dv) / c as f64) as f32;
            let (a, b, m) = ((4.0 * dv * k) as f32, (2.0 * dm * k) as f32, mean as f32);
            fused::affine_into(plane, m, a, b, &mut seed);
        })?;
        self.record(
            node,
            fused::from_vec(seed, [n, c, h, w]),
            fused::from_vec(terms, [n, 1]),
        );
        Ok(())
    }

    /// Keeps a layer's seed for the reverse pass and adds its term `[N, 1]` to the loss.
    fn record(&mut self, node: usize, seed: Tensor<4>, term: Tensor<2>) {
        self.seeds.insert(node, seed);
        self.loss = Some(match self.loss.take() {
            Some(l) => l + term,
            None => term,
        });
    }
}

impl Observer for Seeds<'_> {
    fn batchnorm_input(&mut self, node: usize, input: &Tensor<4>, running: &RunningStats) {
        // With μ, σ² the per-channel mean and biased variance over the P = H·W positions and
        // dm = μ − running_mean, dv = σ² − running_var, a layer's term is
        // mean_c dm² + mean_c dv², and since ∂μ/∂a = 1/P and ∂σ²/∂a = 2 (a − μ)/P:
        // ∂term/∂a = (2 dm + 4 dv (a − μ)) / (C·P).
        if fused::on_cpu(input) {
            if let Err(e) = self.batchnorm_input_cpu(node, input) {
                self.error.get_or_insert(e);
            }
            return;
        }
        let [n, c, h, w] = input.dims();
        let a = input.clone().reshape([n, c, h * w]);
        let mu = a.clone().mean_dim(2); // [N, C, 1]
        let centred = a - mu.clone();
        let var = centred.clone().square().mean_dim(2);
        let dm = mu.reshape([n, c]) - running.mean.clone();
        let dv = var.reshape([n, c]) - running.var.clone();
        let term = dm.clone().square().mean_dim(1) + dv.clone().square().mean_dim(1);
        let k = self.inv / (c * h * w) as f32;
        let seed = centred * dv.mul_scalar(4.0 * k).reshape([n, c, 1])
            + dm.mul_scalar(2.0 * k).reshape([n, c, 1]);
        self.record(node, seed.reshape([n, c, h, w]), term);
    }
}

impl Adjoint for Seeds<'_> {
    fn batchnorm_input_grad(&mut self, node: usize) -> Option<Tensor<4>> {
        self.seeds.remove(&node)
    }

    fn stage_grad(&mut self, stage: usize, grad: Option<&Tensor<4>>) {
        if let (Some(slot), Some(g)) = (self.stage_sums.get_mut(stage), grad) {
            match fused::abs_sum(g.clone()) {
                Ok(s) => *slot = Some(s),
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
    }
}

/// GraFIQs scores, loss and embedding for `n` normalised images (`[N, 3, H, W]`, row-major):
/// one forward pass that also yields each BatchNorm layer's loss gradient, and one reverse pass
/// ([`Network::backward`]) that carries them to the image. All device reads are asynchronous, as
/// WebGPU requires.
pub async fn score(net: &Network, data: Vec<f32>, n: usize) -> Result<Vec<Raw>> {
    let x = net.input(data, n)?.without_autodiff();
    let inv = 1.0 / net.observed_batchnorms().max(1) as f64;
    let mut seeds = Seeds {
        net,
        inv: inv as f32,
        loss: None,
        seeds: HashMap::new(),
        stage_sums: Default::default(),
        error: None,
    };
    let (embedding, tape) = net.forward_taped(x, &mut seeds)?;
    let image = net.backward(tape, &mut seeds)?;
    if let Some(e) = seeds.error {
        return Err(e);
    }
    let host = net.device().clone().without_autodiff();
    let zeros = || Tensor::<2>::zeros([n, 1], &host);
    let image = match image {
        Some(g) => fused::abs_sum(g)?,
        None => zeros(),
    };
    let mut columns = vec![image];
    columns.extend(
        seeds
            .stage_sums
            .into_iter()
            .map(|s| s.unwrap_or_else(zeros)),
    );
    columns.push(seeds.loss.map(|l| l.mul_scalar(inv)).unwrap_or_else(zeros));
    let table = read(Tensor::cat(columns, 1)).await?; // [N, 6]
    let emb = read(embedding).await?;
    raw_results(&table, &emb, n, net.embedding_size())
}

/// Splits the `[N, 6]` table (five scores, loss) and the embeddings into per-image results;
/// a non-finite value is an input error.
fn raw_results(table: &[f32], emb: &[f32], n: usize, e: usize) -> Result<Vec<Raw>> {
    let mut out = Vec::with_capacity(n);
    for (i, row) in table.chunks_exact(6).enumerate().take(n) {
        if let Some(bad) = row.iter().find(|v| !v.is_finite()) {
            return Err(Error::Input(format!(
                "image {i} produced a non-finite score ({bad}); check the input values"
            )));
        }
        out.push(Raw {
            scores: Scores {
                image: row[0] as f64,
                block1: row[1] as f64,
                block2: row[2] as f64,
                block3: row[3] as f64,
                block4: row[4] as f64,
            },
            loss: row[5] as f64,
            embedding: emb.get(i * e..(i + 1) * e).unwrap_or_default().to_vec(),
        });
    }
    Ok(out)
}

/// The same results as [`score`] through Burn's autodiff (the segmented backward of the module
/// docs): an independent check of the engine's reverse pass, and the baseline it is measured
/// against (`examples/reverse_pass`).
pub async fn score_autodiff(net: &Network, data: Vec<f32>, n: usize) -> Result<Vec<Raw>> {
    let x = net.input(data, n)?.require_grad();
    let mut seg = Segmented::default();
    let embedding = net.forward(x.clone(), &mut seg)?;
    if seg.stage_out.len() != 4 {
        return Err(Error::Internal(format!(
            "{} of 4 stage nodes reached",
            seg.stage_out.len()
        )));
    }
    let inv = 1.0 / net.observed_batchnorms().max(1) as f64;
    let mut grads: Vec<Tensor<4>> = Vec::with_capacity(5);
    let mut upstream: Option<Tensor<4>> = None;
    let mut losses: Option<Tensor<2>> = None;
    for k in (0..5).rev() {
        let local = seg.segment_loss[k].clone();
        if let Some(l) = &local {
            losses = Some(match losses.take() {
                Some(s) => s + l.clone().detach(),
                None => l.clone().detach(),
            });
        }
        let mut objective = local.map(|l| l.sum().mul_scalar(inv));
        if k < 4
            && let Some(g) = upstream.take()
        {
            let chain = (seg.stage_out[k].clone() * g).sum();
            objective = Some(match objective {
                Some(o) => o + chain,
                None => chain,
            });
        }
        let leaf = if k == 0 { &x } else { &seg.stage_leaf[k - 1] };
        let zeros = || leaf.clone().detach().zeros_like().without_autodiff();
        let g = match objective {
            Some(o) => {
                let gr = o.backward();
                leaf.grad(&gr).unwrap_or_else(zeros)
            }
            None => zeros(),
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
    let host = net.device().clone().without_autodiff();
    let losses = losses
        .map(|l| l.without_autodiff().mul_scalar(inv))
        .unwrap_or_else(|| Tensor::zeros([n, 1], &host));
    let table = read(Tensor::cat(vec![table, losses], 1)).await?; // [N, 6]
    let emb = read(embedding.detach().without_autodiff()).await?;
    raw_results(&table, &emb, n, net.embedding_size())
}

/// Per-layer BatchNorm input statistics, stage outputs and embedding for `n` normalised
/// images (inference, no gradients).
pub async fn activations(net: &Network, data: Vec<f32>, n: usize) -> Result<Vec<Activations>> {
    let x = net.input(data, n)?.without_autodiff();
    let mut probe = Probe::default();
    let emb = read(net.forward(x, &mut probe)?).await?;
    let e = net.embedding_size();
    let mut out: Vec<Activations> = (0..n)
        .map(|i| Activations {
            embedding: emb.get(i * e..(i + 1) * e).unwrap_or_default().to_vec(),
            batchnorms: Vec::new(),
            stages: Vec::new(),
        })
        .collect();
    for (node, mu, var) in probe.batchnorms {
        let c = mu.dims()[1];
        let (mu, var) = (read(mu).await?, read(var).await?);
        let (rm, rv) = net
            .running_stats(node)
            .ok_or_else(|| Error::Internal(format!("no running statistics for node {node}")))?;
        for (i, a) in out.iter_mut().enumerate() {
            a.batchnorms.push(BatchNormStats {
                name: net.node_name(node).to_string(),
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
                name: net.node_name(node).to_string(),
                shape: [c, h, w],
                data: v[i * len..(i + 1) * len].to_vec(),
            });
        }
    }
    Ok(out)
}
