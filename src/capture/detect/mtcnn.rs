//! MTCNN (Zhang, Zhang, Li, Qiao, IEEE SPL 2016) as facenet-pytorch's `MTCNN.detect` runs it.
//!
//! The networks run on a Burn device (on the CPU backend, their convolutions, PReLUs and max
//! pools run on the engine's kernels, [`crate::engine`]); the cascade's bookkeeping (image pyramid, candidate
//! boxes, non-maximum suppression, crops) runs on the host in `f32`, reproducing
//! facenet-pytorch's arithmetic step by step:
//!
//! * pyramid scales `s = 0.6 · 0.709^k` while `min(w, h) · s ≥ 12`; each level is the image
//!   resampled to `(int(h·s + 1), int(w·s + 1))` with PyTorch's `interpolate(mode="area")`
//!   (adaptive average pooling), normalised as `(x − 127.5) · 0.0078125`;
//! * P-Net on every level; cells with `p ≥ 0.6` give boxes `floor((2·cell + 1)/s)`,
//!   `floor((2·cell + 12)/s)`; NMS (IoU 0.5) per level, then across levels (IoU 0.7), box
//!   regression, squaring (`rerec`);
//! * crops are clipped to the image (`pad`), area-resampled to 24×24 for R-Net (`p > 0.7`,
//!   NMS 0.7, regression, squaring) and to 48×48 for O-Net (`p > 0.7`, landmarks, regression,
//!   then NMS 0.7 over the smaller box's area, `"Min"`).
//!
//! NMS follows torchvision's `nms` (IoU without the `+1` pixel convention, stable descending
//! sort) in the first two stages and facenet-pytorch's numpy `nms_numpy` in the last.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData, activation};
use serde_json::Value;

use crate::device::upload_vec;
use crate::engine::{self, fused};
use crate::error::{Error, Result};
use crate::model::graph::{Param, Params};

/// Smallest face searched for, in pixels (facenet-pytorch's `min_face_size`).
pub const MIN_FACE_SIZE: f64 = 20.0;
/// Ratio between pyramid levels.
pub const FACTOR: f64 = 0.709;
/// Face-probability thresholds of P-Net, R-Net and O-Net.
pub const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];
/// Crops per R-Net / O-Net batch (bounds device memory on frames with many candidates).
const BATCH: usize = 256;

const ARCH: &str = "mtcnn";

/// Every tensor of the three networks, with its PyTorch shape.
const TENSORS: &[(&str, &[usize])] = &[
    ("pnet.conv1.weight", &[10, 3, 3, 3]),
    ("pnet.conv1.bias", &[10]),
    ("pnet.prelu1.weight", &[10]),
    ("pnet.conv2.weight", &[16, 10, 3, 3]),
    ("pnet.conv2.bias", &[16]),
    ("pnet.prelu2.weight", &[16]),
    ("pnet.conv3.weight", &[32, 16, 3, 3]),
    ("pnet.conv3.bias", &[32]),
    ("pnet.prelu3.weight", &[32]),
    ("pnet.conv4_1.weight", &[2, 32, 1, 1]),
    ("pnet.conv4_1.bias", &[2]),
    ("pnet.conv4_2.weight", &[4, 32, 1, 1]),
    ("pnet.conv4_2.bias", &[4]),
    ("rnet.conv1.weight", &[28, 3, 3, 3]),
    ("rnet.conv1.bias", &[28]),
    ("rnet.prelu1.weight", &[28]),
    ("rnet.conv2.weight", &[48, 28, 3, 3]),
    ("rnet.conv2.bias", &[48]),
    ("rnet.prelu2.weight", &[48]),
    ("rnet.conv3.weight", &[64, 48, 2, 2]),
    ("rnet.conv3.bias", &[64]),
    ("rnet.prelu3.weight", &[64]),
    ("rnet.dense4.weight", &[128, 576]),
    ("rnet.dense4.bias", &[128]),
    ("rnet.prelu4.weight", &[128]),
    ("rnet.dense5_1.weight", &[2, 128]),
    ("rnet.dense5_1.bias", &[2]),
    ("rnet.dense5_2.weight", &[4, 128]),
    ("rnet.dense5_2.bias", &[4]),
    ("onet.conv1.weight", &[32, 3, 3, 3]),
    ("onet.conv1.bias", &[32]),
    ("onet.prelu1.weight", &[32]),
    ("onet.conv2.weight", &[64, 32, 3, 3]),
    ("onet.conv2.bias", &[64]),
    ("onet.prelu2.weight", &[64]),
    ("onet.conv3.weight", &[64, 64, 3, 3]),
    ("onet.conv3.bias", &[64]),
    ("onet.prelu3.weight", &[64]),
    ("onet.conv4.weight", &[128, 64, 2, 2]),
    ("onet.conv4.bias", &[128]),
    ("onet.prelu4.weight", &[128]),
    ("onet.dense5.weight", &[256, 1152]),
    ("onet.dense5.bias", &[256]),
    ("onet.prelu5.weight", &[256]),
    ("onet.dense6_1.weight", &[2, 256]),
    ("onet.dense6_1.bias", &[2]),
    ("onet.dense6_2.weight", &[4, 256]),
    ("onet.dense6_2.bias", &[4]),
    ("onet.dense6_3.weight", &[10, 256]),
    ("onet.dense6_3.bias", &[10]),
];

/// Checks a container's header and tensors against the MTCNN layout.
pub(crate) fn validate(header: &Value, params: &Params) -> Result<()> {
    let kind = header.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "detector" {
        return Err(Error::format(format!(
            "this is a `{kind}` file, not a face detector"
        )));
    }
    let arch = header
        .get("architecture")
        .and_then(Value::as_str)
        .unwrap_or("");
    if arch != ARCH {
        return Err(Error::arch(
            ARCH,
            format!("the file holds a `{arch}` detector"),
        ));
    }
    for (name, shape) in TENSORS {
        match params.get(*name) {
            None => return Err(Error::arch(ARCH, format!("missing tensor `{name}`"))),
            Some(p) if p.shape != *shape => {
                return Err(Error::arch(
                    ARCH,
                    format!(
                        "tensor `{name}` has shape {:?}, expected {shape:?}",
                        p.shape
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = params.keys().find(|k| !TENSORS.iter().any(|(n, _)| n == k)) {
        return Err(Error::arch(ARCH, format!("unexpected tensor `{extra}`")));
    }
    Ok(())
}

struct Conv {
    name: &'static str,
    weight: Tensor<4>,
    bias: Tensor<1>,
}

/// A PReLU's slopes, on the device and on the host (for the engine's CPU kernel).
struct Prelu(Tensor<1>, Vec<f32>);

impl Prelu {
    /// On a feature map `[N, C, H, W]`.
    fn map(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        fused::prelu(x, (&self.0, &self.1))
    }

    /// On features `[N, C]`.
    fn vec(&self, x: Tensor<2>) -> Tensor<2> {
        activation::prelu(x, self.0.clone())
    }
}

struct Dense {
    /// `[in, out]`.
    weight_t: Tensor<2>,
    /// `[1, out]`.
    bias: Tensor<2>,
}

struct PNet {
    conv: [Conv; 3],
    prelu: [Prelu; 3],
    prob: Conv,
    reg: Conv,
}

struct RNet {
    conv: [Conv; 3],
    prelu: [Prelu; 4],
    dense: Dense,
    prob: Dense,
    reg: Dense,
}

struct ONet {
    conv: [Conv; 4],
    prelu: [Prelu; 5],
    dense: Dense,
    prob: Dense,
    reg: Dense,
    landmarks: Dense,
}

/// The three networks on a device.
pub(crate) struct Nets {
    device: Device,
    bucket: bool,
    pnet: PNet,
    rnet: RNet,
    onet: ONet,
}

/// A face found by the cascade, in the coordinates of the image it ran on.
#[derive(Clone, Debug)]
pub(crate) struct RawFace {
    pub bbox: [f32; 4],
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

impl Nets {
    /// Uploads validated parameters (see [`validate`]) to `device`. `bucket`: pad R-/O-Net
    /// batches to powers of two (for backends that compile kernels per shape).
    pub(crate) fn new(params: &Params, device: &Device, bucket: bool) -> Self {
        let device = device.clone().without_autodiff();
        let p = |name: &str| -> &Param { &params[name] };
        let t1 = |name: &str| upload_vec(&p(name).data, &device);
        let conv = |name: &'static str| {
            let q = p(&format!("{name}.weight"));
            let s = &q.shape;
            Conv {
                name,
                // `validate` checked every shape: the weights are 4-D.
                weight: upload_vec(&q.data, &device).reshape([s[0], s[1], s[2], s[3]]),
                bias: t1(&format!("{name}.bias")),
            }
        };
        // `flatten` gives the PyTorch layout `[N, C, H, W]` → `(W, H, C)` order (the networks
        // permute to `[N, W, H, C]` before their first dense layer); the dense weight columns
        // are reordered here so the device can flatten `[N, C, H, W]` as is.
        let dense = |name: &str, flatten: Option<(usize, usize)>| {
            let q = p(&format!("{name}.weight"));
            let (out, inp) = (q.shape[0], q.shape[1]);
            let mut wt = vec![0f32; inp * out];
            for o in 0..out {
                for i in 0..inp {
                    let src = match flatten {
                        // i = c·S² + h·S + w  ←  w·S·C + h·C + c
                        Some((c_n, s)) => {
                            let (c, h, w) = (i / (s * s), (i / s) % s, i % s);
                            w * s * c_n + h * c_n + c
                        }
                        None => i,
                    };
                    wt[i * out + o] = q.data[o * inp + src];
                }
            }
            let b = p(&format!("{name}.bias"));
            Dense {
                weight_t: upload_vec(&wt, &device).reshape([inp, out]),
                bias: upload_vec(&b.data, &device).reshape([1, out]),
            }
        };
        let prelu = |name: &str| {
            let q = p(&format!("{name}.weight"));
            Prelu(upload_vec(&q.data, &device), q.data.clone())
        };
        let pnet = PNet {
            conv: ["pnet.conv1", "pnet.conv2", "pnet.conv3"].map(conv),
            prelu: ["pnet.prelu1", "pnet.prelu2", "pnet.prelu3"].map(prelu),
            prob: conv("pnet.conv4_1"),
            reg: conv("pnet.conv4_2"),
        };
        let rnet = RNet {
            conv: ["rnet.conv1", "rnet.conv2", "rnet.conv3"].map(conv),
            prelu: ["rnet.prelu1", "rnet.prelu2", "rnet.prelu3", "rnet.prelu4"].map(prelu),
            dense: dense("rnet.dense4", Some((64, 3))),
            prob: dense("rnet.dense5_1", None),
            reg: dense("rnet.dense5_2", None),
        };
        let onet = ONet {
            conv: ["onet.conv1", "onet.conv2", "onet.conv3", "onet.conv4"].map(conv),
            prelu: [
                "onet.prelu1",
                "onet.prelu2",
                "onet.prelu3",
                "onet.prelu4",
                "onet.prelu5",
            ]
            .map(prelu),
            dense: dense("onet.dense5", Some((128, 3))),
            prob: dense("onet.dense6_1", None),
            reg: dense("onet.dense6_2", None),
            landmarks: dense("onet.dense6_3", None),
        };
        Self {
            device,
            bucket,
            pnet,
            rnet,
            onet,
        }
    }

    /// The device the networks run on.
    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    /// P-Net: `[N, 3, H, W]` → `[N, 5, H', W']` (4 box offsets, face probability).
    fn pnet(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let n = &self.pnet;
        let x = n.prelu[0].map(conv(x, &n.conv[0])?)?;
        let x = pool(x, 2, 2)?;
        let x = n.prelu[1].map(conv(x, &n.conv[1])?)?;
        let x = n.prelu[2].map(conv(x, &n.conv[2])?)?;
        let prob = activation::softmax(conv(x.clone(), &n.prob)?, 1).narrow(1, 1, 1);
        Ok(Tensor::cat(vec![conv(x, &n.reg)?, prob], 1))
    }

    /// R-Net: `[N, 3, 24, 24]` → `[N, 5]` (4 box offsets, face probability).
    fn rnet(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        let n = &self.rnet;
        let x = n.prelu[0].map(conv(x, &n.conv[0])?)?;
        let x = pool(x, 3, 2)?;
        let x = n.prelu[1].map(conv(x, &n.conv[1])?)?;
        let x = pool(x, 3, 2)?;
        let x = n.prelu[2].map(conv(x, &n.conv[2])?)?;
        let [b, c, h, w] = x.dims();
        let x = n.prelu[3].vec(dense(x.reshape([b, c * h * w]), &n.dense));
        let prob = activation::softmax(dense(x.clone(), &n.prob), 1).narrow(1, 1, 1);
        Ok(Tensor::cat(vec![dense(x, &n.reg), prob], 1))
    }

    /// O-Net: `[N, 3, 48, 48]` → `[N, 15]` (4 box offsets, 10 landmark values, probability).
    fn onet(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        let n = &self.onet;
        let x = n.prelu[0].map(conv(x, &n.conv[0])?)?;
        let x = pool(x, 3, 2)?;
        let x = n.prelu[1].map(conv(x, &n.conv[1])?)?;
        let x = pool(x, 3, 2)?;
        let x = n.prelu[2].map(conv(x, &n.conv[2])?)?;
        let x = pool(x, 2, 2)?;
        let x = n.prelu[3].map(conv(x, &n.conv[3])?)?;
        let [b, c, h, w] = x.dims();
        let x = n.prelu[4].vec(dense(x.reshape([b, c * h * w]), &n.dense));
        let prob = activation::softmax(dense(x.clone(), &n.prob), 1).narrow(1, 1, 1);
        Ok(Tensor::cat(
            vec![dense(x.clone(), &n.reg), dense(x, &n.landmarks), prob],
            1,
        ))
    }

    /// Runs R-Net (`size` 24) or O-Net (`size` 48) on `n` crops, in batches; one device read.
    async fn run_crops(&self, data: Vec<f32>, n: usize, size: usize) -> Result<Vec<f32>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let per = 3 * size * size;
        let mut outs = Vec::with_capacity(n.div_ceil(BATCH));
        let mut width = 0;
        for start in (0..n).step_by(BATCH) {
            let m = BATCH.min(n - start);
            // With `bucket`, batches are padded (zeros) to a power of two, so a GPU backend
            // sees few distinct shapes and compiles / tunes its kernels once for each.
            let padded = if self.bucket {
                m.next_power_of_two()
            } else {
                m
            };
            let mut chunk = data[start * per..(start + m) * per].to_vec();
            chunk.resize(padded * per, 0.0);
            let x = Tensor::<4>::from_data(
                TensorData::new(chunk, [padded, 3, size, size]),
                &self.device,
            );
            let y = if size == 24 {
                self.rnet(x)?
            } else {
                self.onet(x)?
            };
            let [_, k] = y.dims();
            width = k;
            outs.push(y.narrow(0, 0, m).reshape([m * k]));
        }
        let out = read(Tensor::cat(outs, 0)).await?;
        check_len(&out, n * width)?;
        Ok(out)
    }

    /// Runs the cascade on `img` (`width × height`, interleaved RGB, 0…255).
    pub(crate) async fn detect(&self, img: &Integral, min_face: f64) -> Result<Vec<RawFace>> {
        self.detect_in(img, min_face, Rect::full(img.width, img.height))
            .await
    }

    /// The cascade of [`Nets::detect`] on the part of every pyramid level that lies in
    /// `window` (image pixels): P-Net's outputs there are the whole image's, and the rest of
    /// the cascade runs on the candidates they give. P-Net has no padding, so an output whose
    /// 12-pixel field lies in the window's part of a level (starting on an even level pixel,
    /// where P-Net's 2×2 pooling starts) equals the whole level's; outputs whose field
    /// crosses the window's edge (inside the image) are left out. Faces whose candidates lie
    /// well inside the window are then found exactly as the whole image finds them.
    pub(crate) async fn detect_in(
        &self,
        img: &Integral,
        min_face: f64,
        window: Rect,
    ) -> Result<Vec<RawFace>> {
        let (w, h) = (img.width, img.height);
        let scales = pyramid(w, h, min_face);

        // ---- Stage 1: P-Net on every pyramid level (one device read for all levels).
        let mut outs = Vec::new();
        let mut levels = Vec::new();
        for &scale in &scales {
            let hs = (h as f64 * scale + 1.0) as usize;
            let ws = (w as f64 * scale + 1.0) as usize;
            if hs < 12 || ws < 12 {
                continue;
            }
            // The window's part of the level: from an even pixel, to the level's edge where
            // the window reaches the image's.
            let part = |a: usize, b: usize, n: usize, size: usize| {
                let lo = ((a as f64 * scale).floor() as usize).min(size) & !1;
                let hi = if b >= n {
                    size
                } else {
                    ((b as f64 * scale).ceil() as usize).min(size)
                };
                (lo, hi.max(lo))
            };
            let (x0, x1) = part(window.x0, window.x1, w, ws);
            let (y0, y1) = part(window.y0, window.y1, h, hs);
            if x1 - x0 < 12 || y1 - y0 < 12 {
                continue;
            }
            let (pw, ph) = (x1 - x0, y1 - y0);
            let mut data = Vec::with_capacity(3 * pw * ph);
            img.resample_part(Rect::full(w, h), [ws, hs], [x0..x1, y0..y1], &mut data);
            let y = self.pnet(Tensor::<4>::from_data(
                TensorData::new(data, [1, 3, ph, pw]),
                &self.device,
            ))?;
            let [_, k, oh, ow] = y.dims();
            outs.push(y.reshape([k * oh * ow]));
            // Outputs kept: those whose field [2x, 2x + 12) lies in the part, unless the part
            // ends at the level's edge (where the whole level's outputs end too).
            let keep = |len: usize, end: bool, n: usize| {
                if end {
                    n
                } else {
                    n.min((len.saturating_sub(12)) / 2 + 1)
                }
            };
            let kw = keep(pw, x1 == ws, ow);
            let kh = keep(ph, y1 == hs, oh);
            levels.push((scale, oh, ow, [x0 / 2, y0 / 2], [kw, kh]));
        }
        if outs.is_empty() {
            return Ok(Vec::new());
        }
        let maps = read(Tensor::cat(outs, 0)).await?;
        check_len(&maps, levels.iter().map(|l| 5 * l.1 * l.2).sum())?;
        let mut boxes: Vec<[f32; 4]> = Vec::new();
        let mut scores: Vec<f32> = Vec::new();
        let mut regs: Vec<[f32; 4]> = Vec::new();
        let mut offset = 0;
        for &(scale, oh, ow, [ox, oy], [kw, kh]) in &levels {
            let plane = oh * ow;
            let map = &maps[offset..offset + 5 * plane];
            offset += 5 * plane;
            let (mut b, mut s, mut r) = (Vec::new(), Vec::new(), Vec::new());
            let sf = scale as f32;
            for y in 0..kh {
                for x in 0..kw {
                    let i = y * ow + x;
                    let p = map[4 * plane + i];
                    if p >= THRESHOLDS[0] {
                        // The output's position in the whole level.
                        let (xf, yf) = ((ox + x) as f32, (oy + y) as f32);
                        b.push([
                            ((2.0 * xf + 1.0) / sf).floor(),
                            ((2.0 * yf + 1.0) / sf).floor(),
                            ((2.0 * xf + 12.0) / sf).floor(),
                            ((2.0 * yf + 12.0) / sf).floor(),
                        ]);
                        s.push(p);
                        r.push([
                            map[i],
                            map[plane + i],
                            map[2 * plane + i],
                            map[3 * plane + i],
                        ]);
                    }
                }
            }
            for k in nms_iou(&b, &s, 0.5) {
                boxes.push(b[k]);
                scores.push(s[k]);
                regs.push(r[k]);
            }
        }
        let keep = nms_iou(&boxes, &scores, 0.7);
        let cands: Vec<[f32; 4]> = keep
            .into_iter()
            .map(|k| {
                let [x1, y1, x2, y2] = boxes[k];
                let r = regs[k];
                let (rw, rh) = (x2 - x1, y2 - y1);
                rerec([
                    x1 + r[0] * rw,
                    y1 + r[1] * rh,
                    x2 + r[2] * rw,
                    y2 + r[3] * rh,
                ])
            })
            .collect();
        self.refine(img, &cands).await
    }

    /// Stages 2 and 3 of the cascade on candidate `boxes` (image coordinates; squared boxes
    /// as P-Net's `rerec` gives them): R-Net on 24×24 crops, then O-Net on 48×48 crops, with
    /// facenet-pytorch's thresholds, regressions and suppressions. [`Nets::detect`] runs it
    /// on the P-Net candidates; tracking runs it on boxes predicted from the previous frame.
    pub(crate) async fn refine(&self, img: &Integral, boxes: &[[f32; 4]]) -> Result<Vec<RawFace>> {
        // ---- Stage 2: R-Net on 24×24 crops.
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let (data, kept) = crops(img, boxes.iter().copied(), 24);
        let out = self.run_crops(data, kept.len(), 24).await?;
        let mut b = Vec::new();
        let mut s = Vec::new();
        let mut r = Vec::new();
        for (row, &k) in out.chunks_exact(5).zip(&kept) {
            if row[4] > THRESHOLDS[1] {
                b.push(boxes[k]);
                s.push(row[4]);
                r.push([row[0], row[1], row[2], row[3]]);
            }
        }
        let cands: Vec<[f32; 4]> = nms_iou(&b, &s, 0.7)
            .into_iter()
            .map(|k| rerec(bbreg(b[k], r[k])))
            .collect();

        // ---- Stage 3: O-Net on 48×48 crops, landmarks.
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let (data, kept) = crops(img, cands.iter().copied(), 48);
        let out = self.run_crops(data, kept.len(), 48).await?;
        let mut faces = Vec::new();
        for (row, &k) in out.chunks_exact(15).zip(&kept) {
            let score = row[14];
            if score > THRESHOLDS[2] {
                let bx = cands[k];
                let (bw, bh) = (bx[2] - bx[0] + 1.0, bx[3] - bx[1] + 1.0);
                let landmarks = std::array::from_fn(|j| {
                    [bw * row[4 + j] + bx[0] - 1.0, bh * row[9 + j] + bx[1] - 1.0]
                });
                faces.push(RawFace {
                    bbox: bbreg(bx, [row[0], row[1], row[2], row[3]]),
                    score,
                    landmarks,
                });
            }
        }
        let b: Vec<[f32; 4]> = faces.iter().map(|f| f.bbox).collect();
        let s: Vec<f32> = faces.iter().map(|f| f.score).collect();
        Ok(nms_min(&b, &s, 0.7)
            .into_iter()
            .map(|k| faces[k].clone())
            .collect())
    }
}

/// A convolution with stride 1 and no padding (the engine's CPU kernel where it applies).
fn conv(x: Tensor<4>, c: &Conv) -> Result<Tensor<4>> {
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    engine::conv2d(x, &c.weight, Some(&c.bias), &options, c.name)
}

/// PyTorch `MaxPool2d(k, s, ceil_mode=True)` (the engine's CPU kernel on the CPU backend).
fn pool(x: Tensor<4>, k: usize, s: usize) -> Result<Tensor<4>> {
    engine::max_pool2d_ceil(x, k, s)
}

fn dense(x: Tensor<2>, d: &Dense) -> Tensor<2> {
    x.matmul(d.weight_t.clone()) + d.bias.clone()
}

use crate::device::read;

fn check_len(v: &[f32], n: usize) -> Result<()> {
    if v.len() == n {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "the device returned {} values, expected {n}",
            v.len()
        )))
    }
}

/// Pyramid scales, as facenet-pytorch computes them (in `f64`), for faces of at least
/// `min_face` pixels.
pub(crate) fn pyramid(width: usize, height: usize, min_face: f64) -> Vec<f64> {
    let m = 12.0 / min_face;
    let mut minl = width.min(height) as f64 * m;
    let mut scale = m;
    let mut scales = Vec::new();
    while minl >= 12.0 {
        scales.push(scale);
        scale *= FACTOR;
        minl *= FACTOR;
    }
    scales
}

/// Box regression with the `+1` pixel convention (facenet-pytorch `bbreg`).
fn bbreg(b: [f32; 4], r: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    [
        b[0] + r[0] * w,
        b[1] + r[1] * h,
        b[2] + r[2] * w,
        b[3] + r[3] * h,
    ]
}

/// Squares a box around its centre (facenet-pytorch `rerec`).
pub(crate) fn rerec(b: [f32; 4]) -> [f32; 4] {
    let (h, w) = (b[3] - b[1], b[2] - b[0]);
    let l = w.max(h);
    let x1 = b[0] + w * 0.5 - l * 0.5;
    let y1 = b[1] + h * 0.5 - l * 0.5;
    [x1, y1, x1 + l, y1 + l]
}

/// torchvision `nms`: indices kept, highest score first (stable for equal scores); IoU
/// without the `+1` convention, suppression when `IoU > threshold`.
fn nms_iou(boxes: &[[f32; 4]], scores: &[f32], threshold: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    let area: Vec<f32> = boxes
        .iter()
        .map(|b| (b[2] - b[0]) * (b[3] - b[1]))
        .collect();
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for (o, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        let bi = boxes[i];
        for &j in &order[o + 1..] {
            if suppressed[j] {
                continue;
            }
            let bj = boxes[j];
            let w = (bi[2].min(bj[2]) - bi[0].max(bj[0])).max(0.0);
            let h = (bi[3].min(bj[3]) - bi[1].max(bj[1])).max(0.0);
            let inter = w * h;
            let iou = inter / (area[i] + area[j] - inter);
            if iou as f64 > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// facenet-pytorch `nms_numpy(..., "Min")`: overlap over the smaller box's area, `+1`
/// convention, kept while `overlap ≤ threshold` (compared in `f32`).
fn nms_min(boxes: &[[f32; 4]], scores: &[f32], threshold: f32) -> Vec<usize> {
    let area: Vec<f32> = boxes
        .iter()
        .map(|b| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0))
        .collect();
    // Ascending (stable) like `np.argsort`; the highest score is taken from the end.
    let mut rest: Vec<usize> = (0..boxes.len()).collect();
    rest.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let mut keep = Vec::new();
    while let Some(i) = rest.pop() {
        keep.push(i);
        let bi = boxes[i];
        rest.retain(|&j| {
            let bj = boxes[j];
            let w = (bi[2].min(bj[2]) - bi[0].max(bj[0]) + 1.0).max(0.0);
            let h = (bi[3].min(bj[3]) - bi[1].max(bj[1]) + 1.0).max(0.0);
            let o = w * h / area[i].min(area[j]);
            o <= threshold
        });
    }
    keep
}

/// Crops of `boxes` clipped to the image (facenet-pytorch `pad`), area-resampled to
/// `size × size` and normalised, `[N, 3, size, size]`; and for each crop the index of its box.
/// Boxes that lie entirely outside the image have no crop and are dropped.
fn crops(
    img: &Integral,
    boxes: impl Iterator<Item = [f32; 4]>,
    size: usize,
) -> (Vec<f32>, Vec<usize>) {
    let mut data = Vec::new();
    let mut kept = Vec::new();
    let (w, h) = (img.width as i64, img.height as i64);
    for (k, b) in boxes.enumerate() {
        // `boxes.trunc().int()`, then x, y ≥ 1 and ex ≤ w, ey ≤ h; crop rows y−1..ey.
        let t = |v: f32| v.trunc() as i64;
        let (x, y) = (t(b[0]).max(1), t(b[1]).max(1));
        let (ex, ey) = (t(b[2]).min(w), t(b[3]).min(h));
        if ey > y - 1 && ex > x - 1 {
            let rect = Rect {
                x0: (x - 1) as usize,
                y0: (y - 1) as usize,
                x1: ex as usize,
                y1: ey as usize,
            };
            img.resample(rect, size, size, &mut data);
            kept.push(k);
        }
    }
    (data, kept)
}

/// A pixel rectangle `[x0, x1) × [y0, y1)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rect {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Rect {
    /// The pixels of a `w × h` image that `[x0, y0, x1, y1]` covers (whole pixels, at least
    /// partly covered; non-finite values cover the whole image).
    pub(crate) fn covering(b: [f32; 4], w: usize, h: usize) -> Self {
        if !b.iter().all(|v| v.is_finite()) {
            return Self::full(w, h);
        }
        let at = |v: f32, n: usize| (v.max(0.0) as usize).min(n);
        let (x0, y0) = (at(b[0].floor(), w), at(b[1].floor(), h));
        let (x1, y1) = (at(b[2].ceil(), w).max(x0), at(b[3].ceil(), h).max(y0));
        Self { x0, y0, x1, y1 }
    }

    fn full(w: usize, h: usize) -> Self {
        Self {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        }
    }
}

/// Summed-area table of an RGB image (`f64`, so window sums of 8-bit values are exact and
/// equal PyTorch's sequential `f32` sums).
pub(crate) struct Integral {
    width: usize,
    height: usize,
    /// `(height + 1) × (width + 1) × 3`.
    sums: Vec<f64>,
}

impl Integral {
    /// From interleaved RGB samples; values are clamped to 0…255.
    pub(crate) fn new(width: usize, height: usize, rgb: &[f32]) -> Self {
        let stride = (width + 1) * 3;
        let mut sums = vec![0f64; (height + 1) * stride];
        // Row by row: the running sum of the row plus the table's row above (slices zipped, so
        // that the loop has no bounds checks; the same additions in the same order).
        for (y, src) in rgb.chunks_exact(width * 3).take(height).enumerate() {
            let (above, below) = sums.split_at_mut((y + 1) * stride);
            let above = &above[y * stride + 3..];
            let out = &mut below[3..stride];
            let mut row = [0f64; 3];
            for ((o, a), p) in out
                .chunks_exact_mut(3)
                .zip(above.chunks_exact(3))
                .zip(src.chunks_exact(3))
            {
                for c in 0..3 {
                    row[c] += p[c].clamp(0.0, 255.0) as f64;
                    o[c] = a[c] + row[c];
                }
            }
        }
        Self {
            width,
            height,
            sums,
        }
    }

    /// The image's width in pixels.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// The image's height in pixels.
    pub(crate) fn height(&self) -> usize {
        self.height
    }

    /// Sum over `[x0, x1) × [y0, y1)` of channel `c`.
    #[inline]
    fn window(&self, x0: usize, y0: usize, x1: usize, y1: usize, c: usize) -> f64 {
        let s = (self.width + 1) * 3;
        self.sums[y1 * s + x1 * 3 + c]
            - self.sums[y0 * s + x1 * 3 + c]
            - self.sums[y1 * s + x0 * 3 + c]
            + self.sums[y0 * s + x0 * 3 + c]
    }

    /// Appends `rect` resized to `ow × oh` with PyTorch's `interpolate(mode="area")`
    /// (adaptive average pooling: output `i` averages inputs `floor(i·n/o) .. ceil((i+1)·n/o)`),
    /// normalised `(x − 127.5) · 0.0078125`, planar `[3, oh, ow]`.
    fn resample(&self, rect: Rect, ow: usize, oh: usize, out: &mut Vec<f32>) {
        self.resample_part(rect, [ow, oh], [0..ow, 0..oh], out);
    }

    /// The pixels `xs × ys` of [`Integral::resample`]'s `size[0] × size[1]` output, planar
    /// `[3, ys.len(), xs.len()]`.
    fn resample_part(
        &self,
        rect: Rect,
        [ow, oh]: [usize; 2],
        [xs, ys]: [std::ops::Range<usize>; 2],
        out: &mut Vec<f32>,
    ) {
        let (iw, ih) = (rect.x1 - rect.x0, rect.y1 - rect.y0);
        let span = |o: usize, n: usize, i: usize| ((o * i) / n, ((o + 1) * i).div_ceil(n));
        let xs: Vec<(usize, usize)> = xs.map(|o| span(o, ow, iw)).collect();
        let ys: Vec<(usize, usize)> = ys.map(|o| span(o, oh, ih)).collect();
        for c in 0..3 {
            for &(ya, yb) in &ys {
                for &(xa, xb) in &xs {
                    let s = self.window(rect.x0 + xa, rect.y0 + ya, rect.x0 + xb, rect.y0 + yb, c)
                        as f32;
                    let v = s / (yb - ya) as f32 / (xb - xa) as f32;
                    out.push((v - 127.5) * 0.0078125);
                }
            }
        }
    }
}

/// Area-resamples interleaved RGB to `ow × oh` (interleaved, not normalised); used to bring
/// very large frames down before detection.
pub(crate) fn area_resize(
    width: usize,
    height: usize,
    rgb: &[f32],
    ow: usize,
    oh: usize,
) -> Vec<f32> {
    let span = |o: usize, n: usize, i: usize| ((o * i) / n, ((o + 1) * i).div_ceil(n));
    let xs: Vec<(usize, usize)> = (0..ow).map(|o| span(o, ow, width)).collect();
    let mut out = vec![0f32; ow * oh * 3];
    let mut acc = vec![0f64; ow * 3];
    for oy in 0..oh {
        let (ya, yb) = span(oy, oh, height);
        acc.iter_mut().for_each(|v| *v = 0.0);
        for y in ya..yb {
            let row = &rgb[y * width * 3..(y + 1) * width * 3];
            for (ox, &(xa, xb)) in xs.iter().enumerate() {
                for x in xa..xb {
                    for c in 0..3 {
                        acc[ox * 3 + c] += row[x * 3 + c].clamp(0.0, 255.0) as f64;
                    }
                }
            }
        }
        for (ox, &(xa, xb)) in xs.iter().enumerate() {
            let n = ((yb - ya) * (xb - xa)) as f64;
            for c in 0..3 {
                out[(oy * ow + ox) * 3 + c] = (acc[ox * 3 + c] / n) as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_matches_facenet_pytorch() {
        // facenet-pytorch on a 250×250 image: 0.6 · 0.709^k while 150 · 0.709^k ≥ 12.
        let s = pyramid(250, 250, MIN_FACE_SIZE);
        assert_eq!(s.len(), 8);
        assert!((s[0] - 0.6).abs() < 1e-15 && (s[7] - 0.6 * 0.709f64.powi(7)).abs() < 1e-12);
        assert!(pyramid(19, 1000, MIN_FACE_SIZE).is_empty());
        assert_eq!(pyramid(20, 20, MIN_FACE_SIZE).len(), 1);
    }

    #[test]
    fn area_resample_is_adaptive_average_pooling() {
        // 5 → 3: windows [0,2), [1,4), [3,5).
        let rgb: Vec<f32> = (0..5).flat_map(|v| [v as f32 * 10.0; 3]).collect();
        let img = Integral::new(5, 1, &rgb);
        let mut out = Vec::new();
        img.resample(Rect::full(5, 1), 3, 1, &mut out);
        let want = [5.0f32, 20.0, 35.0].map(|v| (v - 127.5) * 0.0078125);
        assert_eq!(&out[..3], &want);
        // Upsampling 2 → 3 repeats: [0,1), [0,2), [1,2).
        let img = Integral::new(2, 1, &[0.0, 0.0, 0.0, 30.0, 30.0, 30.0]);
        out.clear();
        img.resample(Rect::full(2, 1), 3, 1, &mut out);
        let want = [0.0f32, 15.0, 30.0].map(|v| (v - 127.5) * 0.0078125);
        assert_eq!(&out[..3], &want);
        let big = area_resize(5, 1, &rgb, 3, 1);
        assert_eq!(big, vec![5.0, 5.0, 5.0, 20.0, 20.0, 20.0, 35.0, 35.0, 35.0]);
    }

    #[test]
    fn nms_variants() {
        let b = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 11.0, 11.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        // IoU(0, 1) = 81 / 119 ≈ 0.68.
        assert_eq!(nms_iou(&b, &[0.9, 0.95, 0.5], 0.5), vec![1, 2]);
        assert_eq!(nms_iou(&b, &[0.9, 0.95, 0.5], 0.7), vec![1, 0, 2]);
        // A box inside another: "Min" overlap 1.
        let b = [[0.0, 0.0, 20.0, 20.0], [5.0, 5.0, 10.0, 10.0]];
        assert_eq!(nms_min(&b, &[0.8, 0.9], 0.7), vec![1]);
        assert!(nms_iou(&[], &[], 0.5).is_empty() && nms_min(&[], &[], 0.7).is_empty());
    }

    #[test]
    fn rerec_squares_around_the_centre() {
        assert_eq!(rerec([10.0, 20.0, 30.0, 60.0]), [0.0, 20.0, 40.0, 60.0]);
        assert_eq!(
            bbreg([0.0, 0.0, 9.0, 9.0], [0.1, 0.0, -0.1, 0.5]),
            [1.0, 0.0, 8.0, 14.0]
        );
    }
}
