//! Depthwise convolutions (one input and one output channel per group) on Burn's CPU backend,
//! forward and input gradient: MobileFaceNet's 3×3 blocks and its 7×7 global depthwise layer.
//!
//! A plane is copied once into `stride²` zero-bordered phase planes (phase `(a, b)` holds the
//! input pixels at rows `≡ a` and columns `≡ b` modulo the stride), all of one width `wq`. Every
//! kernel tap then reads one phase plane at a fixed offset, so an output plane laid out `wq`
//! wide is, for every four outputs, one load and one multiply-add per tap and one store, with no
//! edge cases (the columns past the output's width are computed and dropped). The input
//! gradient is the same gather from the output gradient laid out `wq` wide with zero margins,
//! one phase at a time. Planes run on every core natively, one after the other in wasm. Other
//! backends, and a stride with a dilation, keep Burn's operations.

use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

use super::conv::for_chunks;
use super::fused::{self, on_cpu};
use super::lanes::F4;
use crate::error::{Error, Result};

/// Whether this module computes the convolution of `x` with `weight`: a plain f32 CPU tensor
/// whose every channel is a group of its own with one output channel, the same stride on both
/// axes, and no dilation unless the stride is 1.
pub fn handles(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> bool {
    let [_, c, _, _] = x.dims();
    let [c_out, in_per_group, _, _] = weight.dims();
    options.groups == c && c_out == c && in_per_group == 1 && steps_fit(options) && on_cpu(x)
}

/// Whether the stride and dilation are ones this module takes: the same on both axes, and no
/// dilation unless the stride is 1.
pub fn steps_fit(options: &ConvOptions<2>) -> bool {
    let [s, d] = [options.stride, options.dilation];
    s[0] == s[1] && d[0] == d[1] && s[0] > 0 && d[0] > 0 && (s[0] == 1 || d[0] == 1)
}

/// The sizes of one depthwise convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    dilation: usize,
    pad: [usize; 2],
    oh: usize,
    ow: usize,
    /// Rows and width of a phase plane.
    hq: usize,
    wq: usize,
}

impl Geometry {
    fn new(
        c: usize,
        [h, w]: [usize; 2],
        weight: [usize; 4],
        options: &ConvOptions<2>,
        name: &str,
    ) -> Result<Self> {
        let [c_out, in_per_group, kh, kw] = weight;
        let [s, d] = [options.stride, options.dilation];
        if c_out != c || in_per_group != 1 || options.groups != c {
            return Err(Error::Internal(format!(
                "`{name}`: weight {weight:?} is not depthwise over {c} channels"
            )));
        }
        if !steps_fit(options) {
            return Err(Error::Internal(format!(
                "`{name}`: stride {s:?} with dilation {d:?}"
            )));
        }
        let (stride, dilation) = (s[0], d[0]);
        let begin = options.padding_begin();
        let end = options.padding_end();
        let out = |size: usize, k: usize, a: usize| {
            let span = dilation * (k.max(1) - 1) + 1;
            (size + begin[a] + end[a])
                .checked_sub(span)
                .map(|s| s / stride + 1)
        };
        match (out(h, kh, 0), out(w, kw, 1)) {
            (Some(oh), Some(ow)) if oh > 0 && ow > 0 && kh > 0 && kw > 0 => {
                let reach = |k: usize| (k - 1) * dilation / stride;
                let phase = |size: usize, a: usize| (size + begin[a]).div_ceil(stride);
                Ok(Geometry {
                    h,
                    w,
                    kh,
                    kw,
                    stride,
                    dilation,
                    pad: begin,
                    oh,
                    ow,
                    hq: (oh + reach(kh)).max(phase(h, 0)),
                    wq: (ow + reach(kw)).max(phase(w, 1)),
                })
            }
            _ => Err(Error::Internal(format!(
                "`{name}`: a {h}×{w} input is smaller than the {kh}×{kw} kernel"
            ))),
        }
    }

    /// Values per phase plane, with room for the last vector's overrun.
    fn phase_len(&self) -> usize {
        self.hq * self.wq + self.wq + 4
    }

    /// Tap `t`'s phase plane and its offset in that plane.
    fn tap(&self, t: usize) -> (usize, usize) {
        let (i, j) = (t / self.kw * self.dilation, t % self.kw * self.dilation);
        let s = self.stride;
        ((i % s) * s + j % s, (i / s) * self.wq + j / s)
    }

    /// For every row `r` of phase `p` that holds image pixels: `(r, y, lo, hi, x)`, where the
    /// phase columns `lo..hi` hold image row `y`'s pixels `x, x + stride, …`.
    fn rows(&self, p: usize) -> impl Iterator<Item = (usize, usize, usize, usize, usize)> + '_ {
        let s = self.stride;
        let (a, b) = (p / s, p % s);
        // Phase column c holds image column c·s + b − pad (when in 0..w).
        let lo = self.pad[1].saturating_sub(b).div_ceil(s);
        let hi = (self.w + self.pad[1])
            .saturating_sub(b)
            .div_ceil(s)
            .min(self.wq);
        (0..self.hq).filter_map(move |r| {
            let y = (r * s + a).checked_sub(self.pad[0])?;
            (y < self.h && lo < hi).then(|| (r, y, lo, hi, lo * s + b - self.pad[1]))
        })
    }
}

/// `out[v] = Σ_t w[t] · src[offset[t] + v]`, four outputs at a time over whole vectors (the
/// caller sizes `src` for the overrun of the last one).
fn gather(out: &mut [f32], src: &[f32], taps: &[(F4, usize)], start: F4) {
    // A 3×3 kernel (MobileFaceNet's blocks; the whole gradient of one at stride 1) gets the
    // loop with its nine weights and offsets unrolled into registers: the general loop reloads
    // them for every vector, and that reload was what it spent its time on.
    match <&[(F4, usize); 9]>::try_from(taps) {
        Ok(nine) => gather_n(out, src, nine, start),
        Err(_) => gather_any(out, src, taps, start),
    }
}

fn gather_n<const N: usize>(out: &mut [f32], src: &[f32], taps: &[(F4, usize); N], start: F4) {
    let max = taps.iter().map(|t| t.1).max().unwrap_or(0);
    let vectors = out.len().div_ceil(4);
    assert!(max + 4 * vectors <= src.len());
    let weights = taps.map(|t| t.0);
    let offsets = taps.map(|t| t.1);
    let base = src.as_ptr();
    let whole = out.len() / 4;
    let sum = |v: usize| {
        let mut acc = start;
        for t in 0..N {
            // SAFETY: offset + 4v + 4 ≤ max + 4·vectors ≤ src.len() (asserted above).
            acc = unsafe { F4::read(base.add(offsets[t] + 4 * v)) }.madd(weights[t], acc);
        }
        acc
    };
    for (v, o) in out.chunks_exact_mut(4).enumerate() {
        sum(v).store(o);
    }
    if whole < vectors {
        let mut last = [0f32; 4];
        sum(whole).store(&mut last);
        let rest = out.len() - 4 * whole;
        out[4 * whole..].copy_from_slice(&last[..rest]);
    }
}

fn gather_any(out: &mut [f32], src: &[f32], taps: &[(F4, usize)], start: F4) {
    let max = taps.iter().map(|t| t.1).max().unwrap_or(0);
    let vectors = out.len().div_ceil(4);
    assert!(max + 4 * vectors <= src.len());
    let base = src.as_ptr();
    for v in 0..vectors {
        let mut acc = start;
        for &(w, offset) in taps {
            // SAFETY: offset + 4v + 4 ≤ max + 4·vectors ≤ src.len() (asserted above).
            acc = unsafe { F4::read(base.add(offset + 4 * v)) }.madd(w, acc);
        }
        let o = 4 * v;
        if o + 4 <= out.len() {
            acc.store(&mut out[o..o + 4]);
        } else {
            let mut last = [0f32; 4];
            acc.store(&mut last);
            let rest = out.len() - o;
            out[o..].copy_from_slice(&last[..rest]);
        }
    }
}

/// The depthwise convolution of `x` (`[N, C, H, W]`) with `weight` (`[C, 1, kh, kw]`) plus
/// `bias`, on the CPU backend. Only for what [`handles`] accepts.
#[inline(never)] // kept out of line, so that profiles (the browser's too) name it
pub fn conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    options: &ConvOptions<2>,
    name: &str,
) -> Result<Tensor<4>> {
    let [n, c, h, w] = x.dims();
    let g = Geometry::new(c, [h, w], weight.dims(), options, name)?;
    let (x, wt) = (fused::host(&x)?, fused::host(weight)?);
    let bias = bias.map(fused::host).transpose()?;
    let (x, wt, bias): (&[f32], &[f32], Option<&[f32]>) = (&x, &wt, bias.as_deref());
    let (taps, s, len) = (g.kh * g.kw, g.stride, g.phase_len());
    let mut out = vec![0.0f32; n * c * g.oh * g.ow];
    for_chunks(&mut out, g.oh * g.ow, |plane, y| {
        let ch = plane % c;
        let src = &x[plane * h * w..][..h * w];
        let mut phases = vec![0.0f32; s * s * len];
        for (p, phase) in phases.chunks_exact_mut(len).enumerate() {
            for (r, y, lo, hi, x) in g.rows(p) {
                let dst = &mut phase[r * g.wq + lo..r * g.wq + hi];
                let src = &src[y * w + x..];
                if s == 1 {
                    dst.copy_from_slice(&src[..dst.len()]);
                } else {
                    for (d, v) in dst.iter_mut().zip(src.iter().step_by(s)) {
                        *d = *v;
                    }
                }
            }
        }
        let k = &wt[ch * taps..][..taps];
        let taps: Vec<(F4, usize)> = (0..taps)
            .map(|t| {
                let (p, offset) = g.tap(t);
                (F4::splat(k[t]), p * len + offset)
            })
            .collect();
        let mut wide = vec![0.0f32; g.oh * g.wq];
        let b = bias.map_or(0.0, |b| b[ch]);
        gather(&mut wide, &phases, &taps, F4::splat(b));
        for (dst, src) in y.chunks_exact_mut(g.ow).zip(wide.chunks_exact(g.wq)) {
            dst.copy_from_slice(&src[..g.ow]);
        }
    });
    Ok(fused::from_vec(out, [n, c, g.oh, g.ow]))
}

/// `∂/∂input` of [`conv2d`] from `∂/∂output` (`grad`), for an input of spatial size `input_hw`.
#[inline(never)] // kept out of line, so that profiles (the browser's too) name it
pub fn conv2d_input_grad(
    grad: Tensor<4>,
    weight: &Tensor<4>,
    options: &ConvOptions<2>,
    input_hw: [usize; 2],
    name: &str,
) -> Result<Tensor<4>> {
    let [n, c, oh, ow] = grad.dims();
    let g = Geometry::new(c, input_hw, weight.dims(), options, name)?;
    if [oh, ow] != [g.oh, g.ow] {
        return Err(Error::Internal(format!(
            "`{name}`: gradient {:?} does not match the output {:?}",
            [oh, ow],
            [g.oh, g.ow]
        )));
    }
    let (dy, wt) = (fused::host(&grad)?, fused::host(weight)?);
    let (dy, wt): (&[f32], &[f32]) = (&dy, &wt);
    let (h, w, taps, s) = (g.h, g.w, g.kh * g.kw, g.stride);
    // The largest tap offset: the output gradient sits that far into a zeroed buffer, so that
    // reading it at `v − offset` never goes below the start.
    let margin = (0..taps).map(|t| g.tap(t).1).max().unwrap_or(0);
    let mut dx = vec![0.0f32; n * c * h * w];
    for_chunks(&mut dx, h * w, |plane, dx| {
        let ch = plane % c;
        let k = &wt[ch * taps..][..taps];
        let mut wide = vec![0.0f32; margin + g.hq * g.wq + 4];
        for (row, src) in wide[margin..]
            .chunks_exact_mut(g.wq)
            .zip(dy[plane * oh * ow..][..oh * ow].chunks_exact(ow))
        {
            row[..ow].copy_from_slice(src);
        }
        let mut phase = vec![0.0f32; g.hq * g.wq];
        for p in 0..s * s {
            let taps: Vec<(F4, usize)> = (0..taps)
                .filter_map(|t| {
                    let (q, offset) = g.tap(t);
                    (q == p).then(|| (F4::splat(k[t]), margin - offset))
                })
                .collect();
            gather(&mut phase, &wide, &taps, F4::splat(0.0));
            for (r, y, lo, hi, x) in g.rows(p) {
                let src = &phase[r * g.wq + lo..r * g.wq + hi];
                let dst = &mut dx[y * w + x..];
                if s == 1 {
                    dst[..src.len()].copy_from_slice(src);
                } else {
                    for (d, v) in dst.iter_mut().step_by(s).zip(src) {
                        *d = *v;
                    }
                }
            }
        }
    });
    Ok(fused::from_vec(dx, [n, c, h, w]))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_against_burn, random};
    use super::*;

    /// Against Burn's grouped convolution and transposed convolution: MobileFaceNet's shapes
    /// (3×3 stride 1 and 2, the 7×7 global layer) and odd ones (dilation, widths no vector
    /// divides, a last column no stride reaches, batches).
    #[test]
    fn equals_burn() {
        let cases = [
            // (n, c, h, w, k, stride, pad, dilation)
            (1, 4, 14, 14, 3, 1, 1, 1),
            (2, 3, 9, 11, 3, 2, 1, 1),
            (1, 5, 7, 7, 7, 1, 0, 1),
            (1, 2, 10, 13, 3, 1, 2, 2),
            (3, 2, 8, 6, 5, 2, 2, 1),
            (1, 1, 5, 5, 3, 3, 0, 1),
            (2, 3, 28, 28, 3, 2, 1, 1),
            (1, 2, 6, 9, 1, 1, 0, 1),
        ];
        for (t, &(n, c, h, w, k, s, p, d)) in cases.iter().enumerate() {
            let x = random([n, c, h, w], 3 * t as u32 + 1);
            let wt = random([c, 1, k, k], 3 * t as u32 + 2);
            let options = ConvOptions::new([s, s], [p, p], [d, d], c);
            assert!(handles(&x, &wt, &options));
            check_against_burn(t, x, wt, options, conv2d, conv2d_input_grad);
        }
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let x = random([1, 3, 2, 2], 1);
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 3);
        assert!(conv2d(x.clone(), &random([3, 1, 5, 5], 2), None, &options, "t").is_err());
        assert!(conv2d(x.clone(), &random([4, 1, 1, 1], 2), None, &options, "t").is_err());
        assert!(!handles(
            &x,
            &random([6, 1, 1, 1], 2),
            &ConvOptions::new([1, 1], [0, 0], [1, 1], 3)
        ));
        assert!(!handles(
            &x,
            &random([3, 3, 1, 1], 2),
            &ConvOptions::new([1, 1], [0, 0], [1, 1], 1)
        ));
        let dy = random([1, 3, 3, 3], 3);
        assert!(conv2d_input_grad(dy, &random([3, 1, 3, 3], 2), &options, [2, 2], "t").is_err());
    }
}
