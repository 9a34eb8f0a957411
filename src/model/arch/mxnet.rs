//! MXNet checkpoints (`-symbol.json` + `.params`), e.g. the InsightFace MobileFaceNet.
//!
//! The symbol graph is translated operator by operator into a [`Graph`]; the leading
//! `_minus_scalar` / `_mul_scalar` nodes that InsightFace graphs use to normalise raw 0–255
//! pixels are folded into the model's [`Preprocess`] so that GraFIQs' image gradient is taken
//! with respect to the normalised tensor that enters the first convolution.

use serde_json::Value;

use super::Builder;
use crate::error::{Error, Result};
use crate::model::Preprocess;
use crate::model::graph::{Graph, Op, Param, Params};

/// The four GraFIQs stage nodes of the InsightFace MobileFaceNet (56, 28, 14, 7 px).
pub const MOBILEFACENET_STAGES: [&str; 4] = ["conv_2_dw_relu", "_plus3", "_plus9", "_plus11"];

/// A translated MXNet network.
#[derive(Debug)]
pub struct MxnetNetwork {
    /// The graph, with parameter names as in the `.params` file (without `arg:`/`aux:`).
    pub graph: Graph,
    /// The parameters the graph uses.
    pub params: Params,
    /// Input normalisation found at the head of the graph.
    pub preprocess: Preprocess,
}

/// Reads an MXNet NDArray list (`.params`): returns name → tensor, names without the
/// `arg:` / `aux:` prefixes.
pub fn read_params(bytes: &[u8]) -> Result<Params> {
    let mut r = Reader { b: bytes, pos: 0 };
    let magic = r.u64()?;
    if magic != 0x112 {
        return Err(Error::format(format!(
            "not an MXNet .params file (magic {magic:#x} at offset 0, expected 0x112)"
        )));
    }
    let _reserved = r.u64()?;
    let count = r.u64()? as usize;
    if count > bytes.len() / 16 {
        return Err(Error::format(format!(
            "truncated or corrupt: {count} arrays announced at offset 16, but the file has only {} bytes",
            bytes.len()
        )));
    }
    let mut arrays = Vec::with_capacity(count);
    for i in 0..count {
        arrays.push(
            r.ndarray()
                .map_err(|e| Error::format(format!("array {i}: {}", e_msg(e))))?,
        );
    }
    let names = r.u64()? as usize;
    if names != count {
        return Err(Error::format(format!(
            "{count} arrays but {names} names at offset {}",
            r.pos
        )));
    }
    let mut out = Params::new();
    for a in arrays {
        let len = r.u64()? as usize;
        let name = r.take(len)?;
        let name = std::str::from_utf8(name)
            .map_err(|_| Error::format(format!("non-UTF-8 array name at offset {}", r.pos)))?;
        let name = name
            .strip_prefix("arg:")
            .or_else(|| name.strip_prefix("aux:"))
            .unwrap_or(name);
        out.insert(name.to_string(), a);
    }
    Ok(out)
}

fn e_msg(e: Error) -> String {
    match e {
        Error::Format(m) => m,
        e => e.to_string(),
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        match end {
            Some(end) => {
                let s = &self.b[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::format(format!(
                "file truncated: needed {n} bytes at offset {}, file has {}",
                self.pos,
                self.b.len()
            ))),
        }
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn ndarray(&mut self) -> Result<Param> {
        let start = self.pos;
        let magic = self.u32()?;
        let shape: Vec<usize> = match magic {
            0xF993_FAC8..=0xF993_FACA => {
                if magic != 0xF993_FAC8 {
                    let stype = self.i32()?;
                    if stype != 0 {
                        return Err(Error::format(format!(
                            "sparse storage type {stype} at offset {start} is not supported"
                        )));
                    }
                }
                let ndim = self.u32()?;
                if ndim > 8 {
                    return Err(Error::format(format!(
                        "{ndim} dimensions at offset {start}"
                    )));
                }
                (0..ndim)
                    .map(|_| {
                        let d = self.i64()?;
                        usize::try_from(d)
                            .map_err(|_| Error::format(format!("negative dimension {d}")))
                    })
                    .collect::<Result<_>>()?
            }
            // Legacy layout: the first word is the number of dimensions, dims are u32.
            ndim if ndim <= 8 => (0..ndim)
                .map(|_| self.u32().map(|d| d as usize))
                .collect::<Result<_>>()?,
            other => {
                return Err(Error::format(format!(
                    "unknown NDArray magic {other:#x} at offset {start}"
                )));
            }
        };
        if shape.is_empty() {
            return Err(Error::format(format!("empty array at offset {start}")));
        }
        let _dev_type = self.i32()?;
        let _dev_id = self.i32()?;
        let flag = self.i32()?;
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= self.b.len())
            .ok_or_else(|| {
                Error::format(format!("implausible shape {shape:?} at offset {start}"))
            })?;
        let data = match flag {
            0 => self
                .take(n * 4)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            1 => self
                .take(n * 8)?
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            2 => self
                .take(n * 2)?
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
                .collect(),
            f => {
                return Err(Error::format(format!(
                    "unsupported dtype flag {f} at offset {start} (only float32/64/16)"
                )));
            }
        };
        Param::new(shape, data)
    }
}

fn attr<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    ["attrs", "attr", "param"]
        .iter()
        .find_map(|k| node.get(*k)?.get(key)?.as_str())
}

fn tuple(s: &str) -> Result<Vec<usize>> {
    s.trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']')
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|_| Error::format(format!("bad integer tuple `{s}`")))
        })
        .collect()
}

fn pair(node: &Value, key: &str, default: usize) -> Result<[usize; 2]> {
    match attr(node, key) {
        None => Ok([default; 2]),
        Some(s) => match tuple(s)?.as_slice() {
            [a] => Ok([*a, *a]),
            [a, b] => Ok([*a, *b]),
            _ => Err(Error::format(format!("`{key}` = `{s}` is not 2-D"))),
        },
    }
}

fn flag(node: &Value, key: &str, default: bool) -> bool {
    match attr(node, key) {
        Some(s) => matches!(s, "True" | "true" | "1"),
        None => default,
    }
}

/// Translates an MXNet symbol graph plus its parameters. `stages` names the four nodes whose
/// outputs are GraFIQs' blocks. Every parameter the graph needs must be present with the right
/// shape; parameters the graph does not use (e.g. a fixed gamma) are dropped.
pub fn translate(
    symbol_json: &str,
    mut all: Params,
    stages: [&str; 4],
    arch: &str,
) -> Result<MxnetNetwork> {
    let sym: Value = serde_json::from_str(symbol_json)
        .map_err(|e| Error::format(format!("symbol JSON: {e}")))?;
    let nodes = sym
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::format("symbol JSON has no `nodes` array"))?;
    let head = sym
        .get("heads")
        .and_then(|h| h.get(0)?.get(0)?.as_u64())
        .ok_or_else(|| Error::format("symbol JSON has no `heads`"))? as usize;

    let unsupported = |name: &str, why: String| Error::arch(arch, format!("node `{name}`: {why}"));
    let mut b = Builder::new();
    // MXNet node id -> our node index. `None` for parameter nodes.
    let mut map: Vec<Option<usize>> = Vec::with_capacity(nodes.len());
    let mut names: Vec<String> = Vec::with_capacity(nodes.len());
    // Pixel normalisation folded so far: value = (x - mean) * scale.
    let (mut mean, mut scale) = (0.0f64, 1.0f64);
    let mut data_seen = false;
    // Nodes that are (an affine function of) the raw input.
    let mut is_input = vec![false; nodes.len()];

    for (id, node) in nodes.iter().enumerate() {
        let op = node.get("op").and_then(Value::as_str).unwrap_or("");
        let name = node
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let inputs: Vec<usize> = node
            .get("inputs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.get(0)?.as_u64().map(|v| v as usize))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(&bad) = inputs.iter().find(|&&i| i >= id) {
            return Err(Error::format(format!(
                "node `{name}` reads node {bad}, which does not precede it"
            )));
        }
        names.push(name.clone());
        let data_in = |k: usize| -> Result<usize> {
            let i = *inputs
                .get(k)
                .ok_or_else(|| unsupported(&name, format!("missing input {k}")))?;
            map[i].ok_or_else(|| {
                unsupported(
                    &name,
                    format!("input `{}` is not a computed value", names[i]),
                )
            })
        };
        let param_in = |k: usize| -> Result<String> {
            let i = *inputs
                .get(k)
                .ok_or_else(|| unsupported(&name, format!("missing input {k}")))?;
            if nodes[i].get("op").and_then(Value::as_str) != Some("null") {
                return Err(unsupported(&name, format!("input {k} is not a parameter")));
            }
            Ok(names[i].clone())
        };
        let mapped = match op {
            "null" => {
                if name == "data" || (!data_seen && !all.contains_key(&name)) {
                    data_seen = true;
                    is_input[id] = true;
                    Some(0)
                } else {
                    None
                }
            }
            "_minus_scalar" | "_plus_scalar" | "_mul_scalar" | "_div_scalar" => {
                let src = inputs.first().copied().unwrap_or(usize::MAX);
                if src == usize::MAX || !is_input[src] || b.nodes.len() > 1 {
                    return Err(unsupported(
                        &name,
                        format!("`{op}` is only supported as input normalisation"),
                    ));
                }
                let s: f64 = attr(node, "scalar")
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| unsupported(&name, "missing scalar".into()))?;
                match op {
                    "_minus_scalar" => mean += s / scale,
                    "_plus_scalar" => mean -= s / scale,
                    "_mul_scalar" => scale *= s,
                    _ => {
                        if s == 0.0 {
                            return Err(unsupported(&name, "division by zero".into()));
                        }
                        scale /= s
                    }
                }
                is_input[id] = true;
                Some(0)
            }
            "Convolution" => {
                let x = data_in(0)?;
                if let Some(d) = attr(node, "dilate")
                    && tuple(d)?.iter().any(|&v| v != 1)
                {
                    return Err(unsupported(&name, "dilated convolution".into()));
                }
                let kernel = pair(node, "kernel", 0)?;
                let no_bias = flag(node, "no_bias", false);
                let weight = param_in(1)?;
                let bias = if no_bias { None } else { Some(param_in(2)?) };
                let out_channels = attr(node, "num_filter")
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| unsupported(&name, "missing num_filter".into()))?;
                Some(
                    b.push(
                        name.clone(),
                        Op::Conv2d {
                            weight,
                            bias,
                            out_channels,
                            kernel,
                            stride: pair(node, "stride", 1)?,
                            padding: pair(node, "pad", 0)?,
                            groups: attr(node, "num_group")
                                .map(|s| s.parse().unwrap_or(0))
                                .unwrap_or(1),
                        },
                        vec![x],
                    ),
                )
            }
            "BatchNorm" => {
                let x = data_in(0)?;
                if attr(node, "axis").is_some_and(|a| a != "1") {
                    return Err(unsupported(
                        &name,
                        "BatchNorm over an axis other than 1".into(),
                    ));
                }
                let eps = match attr(node, "eps") {
                    Some(s) => s
                        .parse()
                        .map_err(|_| unsupported(&name, format!("bad eps `{s}`")))?,
                    None => 1e-3,
                };
                let fix_gamma = flag(node, "fix_gamma", true);
                let gamma = param_in(1)?;
                Some(b.push(
                    name.clone(),
                    Op::BatchNorm {
                        gamma: (!fix_gamma).then_some(gamma),
                        beta: param_in(2)?,
                        mean: param_in(3)?,
                        var: param_in(4)?,
                        eps,
                    },
                    vec![x],
                ))
            }
            "LeakyReLU" => {
                let act = attr(node, "act_type").unwrap_or("leaky");
                if act != "prelu" {
                    return Err(unsupported(&name, format!("LeakyReLU act_type `{act}`")));
                }
                let x = data_in(0)?;
                Some(b.push(
                    name.clone(),
                    Op::Prelu {
                        alpha: param_in(1)?,
                    },
                    vec![x],
                ))
            }
            "elemwise_add" | "_Plus" | "_plus" | "broadcast_add" => {
                let (x, y) = (data_in(0)?, data_in(1)?);
                Some(b.push(name.clone(), Op::Add, vec![x, y]))
            }
            "Dropout" | "_copy" | "identity" => Some(data_in(0)?),
            "Flatten" => {
                let x = data_in(0)?;
                Some(b.push(name.clone(), Op::Flatten, vec![x]))
            }
            "FullyConnected" => {
                let mut x = data_in(0)?;
                if !flag(node, "flatten", true) {
                    return Err(unsupported(
                        &name,
                        "FullyConnected with flatten=False".into(),
                    ));
                }
                if !matches!(b.nodes[x].op, Op::Flatten | Op::Linear { .. })
                    && !is_vector(&b.nodes, x)
                {
                    x = b.push(format!("{name}_flatten"), Op::Flatten, vec![x]);
                }
                let no_bias = flag(node, "no_bias", false);
                let weight = param_in(1)?;
                let bias = if no_bias { None } else { Some(param_in(2)?) };
                let out_features = attr(node, "num_hidden")
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| unsupported(&name, "missing num_hidden".into()))?;
                Some(b.push(
                    name.clone(),
                    Op::Linear {
                        weight,
                        bias,
                        out_features,
                    },
                    vec![x],
                ))
            }
            other => {
                return Err(unsupported(
                    &name,
                    format!("unsupported operator `{other}`"),
                ));
            }
        };
        map.push(mapped);
    }
    let output = map
        .get(head)
        .copied()
        .flatten()
        .ok_or_else(|| Error::format("graph head is not a computed node"))?;
    let mut stage_idx = [0usize; 4];
    for (k, s) in stages.iter().enumerate() {
        let id = names.iter().position(|n| n == s).ok_or_else(|| {
            Error::arch(
                arch,
                format!("stage node `{s}` (block{}) not found in the graph", k + 1),
            )
        })?;
        stage_idx[k] = map[id]
            .filter(|&i| i > 0)
            .ok_or_else(|| Error::arch(arch, format!("stage node `{s}` is not a computed node")))?;
    }
    let graph = b.finish(output, stage_idx);
    let needed = graph.param_names();
    let mut params = Params::new();
    for n in needed {
        let p = all
            .remove(n)
            .ok_or_else(|| Error::arch(arch, format!("missing parameter `{n}` in .params")))?;
        params.insert(n.to_string(), p);
    }
    graph
        .validate(&params, crate::model::INPUT_SIZE)
        .map_err(|e| Error::arch(arch, e_msg(e)))?;
    let preprocess = Preprocess {
        mean: [mean as f32; 3],
        scale: [scale as f32; 3],
    };
    Ok(MxnetNetwork {
        graph,
        params,
        preprocess,
    })
}

fn is_vector(nodes: &[crate::model::graph::Node], i: usize) -> bool {
    // Any node computed from a Flatten/Linear without a conv in between is a vector.
    let mut i = i;
    loop {
        match nodes[i].op {
            Op::Flatten | Op::Linear { .. } => return true,
            Op::Input | Op::Conv2d { .. } => return false,
            _ => match nodes[i].inputs.first() {
                Some(&j) => i = j,
                None => return false,
            },
        }
    }
}
