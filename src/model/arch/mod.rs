//! Network architectures, each expressed as a [`Graph`].

pub mod iresnet;
pub mod mobilefacenet_relu6;
pub mod mxnet;

use crate::error::{Error, Result};
use crate::model::graph::{Graph, Node, Op, Params};

/// Takes a PyTorch state dict for `graph` (an optional DataParallel `module.` prefix is
/// removed, `num_batches_tracked` ignored) and checks every key and shape: the first missing,
/// unexpected or mis-shaped parameter is named in an [`Error::Architecture`] for `arch`,
/// followed by `hint(params)` (e.g. what the checkpoint looks like instead).
pub(crate) fn check_state_dict(
    graph: &Graph,
    state: Params,
    arch: &str,
    hint: impl Fn(&Params) -> String,
) -> Result<Params> {
    let mut params = Params::new();
    for (k, v) in state {
        let k = k.strip_prefix("module.").unwrap_or(&k).to_string();
        if k.ends_with("num_batches_tracked") {
            continue;
        }
        params.insert(k, v);
    }
    let names = graph.param_names();
    if let Some(missing) = names.iter().find(|n| !params.contains_key(**n)) {
        return Err(Error::arch(
            arch,
            format!("missing key `{missing}`{}", hint(&params)),
        ));
    }
    if let Some(extra) = params.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(Error::arch(
            arch,
            format!("unexpected key `{extra}`{}", hint(&params)),
        ));
    }
    graph
        .validate(&params, crate::model::INPUT_SIZE)
        .map_err(|e| {
            let m = match e {
                Error::Format(m) => m,
                other => other.to_string(),
            };
            Error::arch(arch, format!("{m}{}", hint(&params)))
        })?;
    Ok(params)
}

/// Incremental graph construction used by the architecture builders.
pub(crate) struct Builder {
    pub nodes: Vec<Node>,
}

impl Builder {
    pub fn new() -> Self {
        Self {
            nodes: vec![Node {
                name: "input".into(),
                op: Op::Input,
                inputs: vec![],
            }],
        }
    }

    pub fn push(&mut self, name: impl Into<String>, op: Op, inputs: Vec<usize>) -> usize {
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
        });
        self.nodes.len() - 1
    }

    /// Gives the convolution node `c` (made by [`Builder::conv`]) the bias `{name}.bias`.
    pub fn with_bias(&mut self, c: usize) -> usize {
        let name = self.nodes[c].name.clone();
        if let Op::Conv2d { bias, .. } = &mut self.nodes[c].op {
            *bias = Some(format!("{name}.bias"));
        }
        c
    }

    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        prefix: &str,
        x: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        groups: usize,
    ) -> usize {
        self.push(
            prefix,
            Op::Conv2d {
                weight: format!("{prefix}.weight"),
                bias: None,
                out_channels,
                kernel: [kernel; 2],
                stride: [stride; 2],
                padding: [padding; 2],
                groups,
            },
            vec![x],
        )
    }

    pub fn bn(&mut self, prefix: &str, x: usize, eps: f64, fixed_gamma: bool) -> usize {
        self.push(
            prefix,
            Op::BatchNorm {
                gamma: (!fixed_gamma).then(|| format!("{prefix}.weight")),
                beta: format!("{prefix}.bias"),
                mean: format!("{prefix}.running_mean"),
                var: format!("{prefix}.running_var"),
                eps,
            },
            vec![x],
        )
    }

    pub fn prelu(&mut self, prefix: &str, x: usize) -> usize {
        self.push(
            prefix,
            Op::Prelu {
                alpha: format!("{prefix}.weight"),
            },
            vec![x],
        )
    }

    pub fn finish(self, output: usize, stages: [usize; 4]) -> Graph {
        Graph {
            nodes: self.nodes,
            output,
            stages,
        }
    }
}
