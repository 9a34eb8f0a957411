//! Network architectures, each expressed as a [`Graph`].

pub mod iresnet;
pub mod mxnet;

use crate::graph::{Graph, Node, Op};

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
