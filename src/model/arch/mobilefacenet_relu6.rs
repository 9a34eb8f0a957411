//! The PyTorch MobileFaceNet built from MobileNetV2 inverted-residual blocks with ReLU6
//! activations (the layout of the Apache-2.0 foamliu/MobileFaceNet weights), backbone name
//! [`NAME`].
//!
//! Not the InsightFace MobileFaceNet (`mobilefacenet`, MXNet, PReLU): same idea, another
//! network. Layout, with the state-dict key of every parameterised layer:
//!
//! | part | layers | output |
//! |---|---|---|
//! | `conv1` | 3×3 conv s2 (3→64) `conv1.0`, BN `conv1.1`, ReLU6 | 64 × 56² |
//! | `dw_conv` | depthwise 3×3 `dw_conv.depthwise`, BN `dw_conv.bn1`, ReLU, 1×1 `dw_conv.pointwise`, BN `dw_conv.bn2`, ReLU | 64 × 56² — **block1** |
//! | `features.0…14` | inverted residuals (t, c, n, s) = (2,64,5,2), (4,128,1,2), (2,128,6,1), (4,128,1,2), (2,128,2,1): 1×1 expand `conv.0.0` + BN `conv.0.1` + ReLU6, depthwise 3×3 `conv.1.0` + BN `conv.1.1` + ReLU6, 1×1 project `conv.2` + BN `conv.3`, plus the input when stride 1 and channels match | `features.4` 64 × 28² — **block2**; `features.11` 128 × 14² — **block3**; `features.14` 128 × 7² — **block4** |
//! | head | 1×1 `conv2.0` (128→512) + BN `conv2.1` + ReLU6, depthwise 7×7 `gdconv.depthwise` + BN `gdconv.bn`, 1×1 `conv3` (512→128, with bias), BN `bn` | 128-d embedding |
//!
//! Every BatchNorm has ε = 1e-5. The stages are the last output at each resolution (56, 28,
//! 14, 7 px), as for iResNet's four stages and the InsightFace MobileFaceNet's.
//!
//! GraFIQs takes the 50 BatchNorm layers that see a spatial map. The last `bn` normalises the
//! 1×1 embedding map: it is the counterpart of iResNet's 1-D `features` BatchNorm after `fc`,
//! and like it is left out of the loss. The graph expresses that exactly: the 1×1 map is
//! flattened first and `bn` runs as a 1-D BatchNorm, which computes the same numbers.

use super::Builder;
use crate::error::Result;
use crate::model::graph::{Graph, Op, Params};

/// Backbone name of this architecture.
pub const NAME: &str = "mobilefacenet-relu6";

/// Stage node names (`block1` … `block4`).
pub const STAGES: [&str; 4] = ["dw_conv", "features.4", "features.11", "features.14"];

/// Inverted-residual settings `(expansion t, channels c, repeats n, first stride s)`.
const SETTINGS: [(usize, usize, usize, usize); 5] = [
    (2, 64, 5, 2),
    (4, 128, 1, 2),
    (2, 128, 6, 1),
    (4, 128, 1, 2),
    (2, 128, 2, 1),
];

const EPS: f64 = 1e-5;
const STEM: usize = 64;
const HEAD: usize = 512;
const EMBEDDING: usize = 128;

/// The graph; parameter names are the checkpoint's state-dict keys.
pub fn graph() -> Graph {
    let mut g = Builder::new();
    let relu6 = |g: &mut Builder, name: String, x: usize| g.push(name, Op::Relu6, vec![x]);
    let relu = |g: &mut Builder, name: &str, x: usize| g.push(name, Op::Relu, vec![x]);

    let x = g.conv("conv1.0", 0, STEM, 3, 2, 1, 1);
    let x = g.bn("conv1.1", x, EPS, false);
    let x = relu6(&mut g, "conv1.2".into(), x);

    let x = g.conv("dw_conv.depthwise", x, STEM, 3, 1, 1, STEM);
    let x = g.bn("dw_conv.bn1", x, EPS, false);
    let x = relu(&mut g, "dw_conv.relu1", x);
    let x = g.conv("dw_conv.pointwise", x, STEM, 1, 1, 0, 1);
    let x = g.bn("dw_conv.bn2", x, EPS, false);
    let mut x = relu(&mut g, STAGES[0], x);

    let mut stages = [x, 0, 0, 0];
    let mut channels = STEM;
    let mut k = 0;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let p = format!("features.{k}.conv");
            let hidden = channels * t;
            let input = x;
            // With t = 1 there is no expansion and the layers shift down by one index.
            let mut idx = 0;
            let mut y = input;
            if t != 1 {
                y = g.conv(&format!("{p}.0.0"), y, hidden, 1, 1, 0, 1);
                y = g.bn(&format!("{p}.0.1"), y, EPS, false);
                y = relu6(&mut g, format!("{p}.0.2"), y);
                idx = 1;
            }
            y = g.conv(&format!("{p}.{idx}.0"), y, hidden, 3, stride, 1, hidden);
            y = g.bn(&format!("{p}.{idx}.1"), y, EPS, false);
            y = relu6(&mut g, format!("{p}.{idx}.2"), y);
            y = g.conv(&format!("{p}.{}", idx + 1), y, c, 1, 1, 0, 1);
            let y = g.bn(&format!("{p}.{}", idx + 2), y, EPS, false);
            x = if stride == 1 && channels == c {
                g.push(format!("features.{k}"), Op::Add, vec![input, y])
            } else {
                y
            };
            if let Some(j) = STAGES.iter().position(|&st| st == format!("features.{k}")) {
                stages[j] = x;
            }
            channels = c;
            k += 1;
        }
    }

    let x = g.conv("conv2.0", x, HEAD, 1, 1, 0, 1);
    let x = g.bn("conv2.1", x, EPS, false);
    let x = relu6(&mut g, "conv2.2".into(), x);
    let x = g.conv("gdconv.depthwise", x, HEAD, 7, 1, 0, HEAD);
    let x = g.bn("gdconv.bn", x, EPS, false);
    let x = g.conv("conv3", x, EMBEDDING, 1, 1, 0, 1);
    let x = g.with_bias(x);
    let x = g.push("flatten", Op::Flatten, vec![x]);
    let out = g.bn("bn", x, EPS, false);
    g.finish(out, stages)
}

/// Checks a state dict (`torch.save(model.state_dict())` or a full-model save, optional
/// `module.` prefix) against this layout, naming the first missing, unexpected or
/// mis-shaped key, and returns the graph with the parameters it uses.
pub fn from_state_dict(state: Params) -> Result<(Graph, Params)> {
    let graph = graph();
    let params = super::check_state_dict(&graph, state, NAME, |p| {
        if p.contains_key("layer1.0.conv1.weight") {
            " (the checkpoint looks like an iResNet)".into()
        } else {
            String::new()
        }
    })?;
    Ok((graph, params))
}
