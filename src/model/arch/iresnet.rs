//! iResNet (the ArcFace / ElasticFace / GraFIQs backbone) with the layout of the public
//! PyTorch checkpoints.

use serde::{Deserialize, Serialize};

use super::Builder;
use crate::error::Result;
use crate::model::graph::{Graph, Op, Params};
use crate::rng::SplitMix64;

/// Depth and width of an iResNet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IResNetConfig {
    /// Blocks per stage.
    pub blocks: [usize; 4],
    /// Channels per stage (the stem has `widths[0]` channels).
    pub widths: [usize; 4],
    /// Embedding length.
    pub embedding: usize,
}

impl IResNetConfig {
    /// The standard configuration called `name` (`iresnet18|34|50|100`).
    pub fn named(name: &str) -> Option<Self> {
        let blocks = match name {
            "iresnet18" => [2, 2, 2, 2],
            "iresnet34" => [3, 4, 6, 3],
            "iresnet50" => [3, 4, 14, 3],
            "iresnet100" => [3, 13, 30, 3],
            _ => return None,
        };
        Some(Self {
            blocks,
            widths: [64, 128, 256, 512],
            embedding: 512,
        })
    }

    /// The standard name of this configuration, if it is one.
    pub fn standard_name(&self) -> Option<&'static str> {
        ["iresnet18", "iresnet34", "iresnet50", "iresnet100"]
            .into_iter()
            .find(|n| Self::named(n).as_ref() == Some(self))
    }

    /// Infers the configuration from a state dict's keys and shapes.
    pub fn infer(params: &Params) -> Option<Self> {
        let mut blocks = [0usize; 4];
        let mut widths = [0usize; 4];
        for (s, (b, w)) in blocks.iter_mut().zip(widths.iter_mut()).enumerate() {
            while params.contains_key(&format!("layer{}.{}.bn1.weight", s + 1, *b)) {
                *b += 1;
            }
            *w = params
                .get(&format!("layer{}.0.conv1.weight", s + 1))?
                .shape
                .first()
                .copied()?;
        }
        let embedding = *params.get("fc.weight")?.shape.first()?;
        Some(Self {
            blocks,
            widths,
            embedding,
        })
    }

    fn describe(&self) -> String {
        match self.standard_name() {
            Some(n) => n.to_string(),
            None => format!(
                "iresnet(blocks {:?}, widths {:?}, embedding {})",
                self.blocks, self.widths, self.embedding
            ),
        }
    }

    /// Builds the graph; parameter names are the checkpoint's state-dict keys.
    pub fn graph(&self) -> Graph {
        const EPS: f64 = 1e-5;
        let mut g = Builder::new();
        let x = g.conv("conv1", 0, self.widths[0], 3, 1, 1, 1);
        let x = g.bn("bn1", x, EPS, false);
        let mut x = g.prelu("prelu", x);
        let mut stages = [0; 4];
        for (s, (&width, &blocks)) in self.widths.iter().zip(&self.blocks).enumerate() {
            for i in 0..blocks {
                let p = format!("layer{}.{}", s + 1, i);
                let input = x;
                let y = g.bn(&format!("{p}.bn1"), input, EPS, false);
                let y = g.conv(&format!("{p}.conv1"), y, width, 3, 1, 1, 1);
                let y = g.bn(&format!("{p}.bn2"), y, EPS, false);
                let y = g.prelu(&format!("{p}.prelu"), y);
                let stride = if i == 0 { 2 } else { 1 };
                let y = g.conv(&format!("{p}.conv2"), y, width, 3, stride, 1, 1);
                let y = g.bn(&format!("{p}.bn3"), y, EPS, false);
                let identity = if i == 0 {
                    let d = g.conv(&format!("{p}.downsample.0"), input, width, 1, 2, 0, 1);
                    g.bn(&format!("{p}.downsample.1"), d, EPS, false)
                } else {
                    input
                };
                x = g.push(format!("{p}.add"), Op::Add, vec![y, identity]);
            }
            stages[s] = x;
        }
        let x = g.bn("bn2", x, EPS, false);
        let x = g.push("flatten", Op::Flatten, vec![x]);
        let x = g.push(
            "fc",
            Op::Linear {
                weight: "fc.weight".into(),
                bias: Some("fc.bias".into()),
                out_features: self.embedding,
            },
            vec![x],
        );
        let out = g.bn("features", x, EPS, false);
        g.finish(out, stages)
    }

    /// Takes a PyTorch state dict (keys as in the public releases, an optional `module.`
    /// prefix, `num_batches_tracked` ignored) and checks every key and shape against this
    /// configuration. Returns the graph and the parameters it uses.
    pub fn from_state_dict(&self, state: Params) -> Result<(Graph, Params)> {
        let graph = self.graph();
        let params =
            super::check_state_dict(&graph, state, &self.describe(), |params| match Self::infer(
                params,
            ) {
                Some(c) if &c != self => format!(" (the checkpoint looks like {})", c.describe()),
                _ => String::new(),
            })?;
        Ok((graph, params))
    }
}

impl IResNetConfig {
    /// Randomly initialised parameters for this layout (He-scaled convolutions, BatchNorm
    /// statistics of plausible magnitude), deterministic in `seed`. For benchmarks and tests
    /// where no pretrained weights are needed.
    pub fn synthetic_params(&self, seed: u64) -> Params {
        let graph = self.graph();
        let mut rng = SplitMix64::new(seed);
        let mut params = Params::new();
        let mut channels = vec![0usize; graph.nodes.len()];
        channels[0] = 3;
        for (i, node) in graph.nodes.iter().enumerate() {
            let cin = node.inputs.first().map_or(3, |&j| channels[j]);
            let mut put = |name: &str, shape: Vec<usize>, f: &mut dyn FnMut() -> f32| {
                let n = shape.iter().product();
                let data = (0..n).map(|_| f()).collect();
                params.insert(name.to_string(), crate::model::graph::Param { shape, data });
            };
            channels[i] = match &node.op {
                Op::Conv2d {
                    weight,
                    out_channels,
                    kernel: [k, _],
                    ..
                } => {
                    let std = (2.0 / (cin * k * k) as f32).sqrt();
                    put(weight, vec![*out_channels, cin, *k, *k], &mut || {
                        rng.normal_f32() * std
                    });
                    *out_channels
                }
                Op::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    ..
                } => {
                    let c = cin;
                    if let Some(g) = gamma {
                        put(g, vec![c], &mut || 0.5 + rng.next_f32());
                    }
                    put(beta, vec![c], &mut || 0.1 * rng.normal_f32());
                    put(mean, vec![c], &mut || 0.2 * rng.normal_f32());
                    put(var, vec![c], &mut || 0.5 + 1.5 * rng.next_f32());
                    cin
                }
                Op::Prelu { alpha } => {
                    put(alpha, vec![cin], &mut || 0.1 + 0.2 * rng.next_f32());
                    cin
                }
                Op::Linear { weight, bias, .. } => {
                    let fin = self.widths[3] * 49;
                    let std = (1.0 / fin as f32).sqrt();
                    put(weight, vec![self.embedding, fin], &mut || {
                        rng.normal_f32() * std
                    });
                    if let Some(b) = bias {
                        put(b, vec![self.embedding], &mut || 0.0);
                    }
                    self.embedding
                }
                Op::Flatten => 0,
                Op::Add | Op::Input | Op::Relu | Op::Relu6 => cin,
            };
        }
        params
    }
}
