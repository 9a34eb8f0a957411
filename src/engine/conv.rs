//! Full (ungrouped) convolutions on Burn's CPU backend, forward and input gradient.
//!
//! Each image becomes matrix products ([`super::gemm`]):
//! * forward: `Y[C_out, P] = W[C_out, C_in·k·k] · cols[C_in·k·k, P]`, where `cols` (im2col) holds
//!   the input pixel under every kernel tap for every output position `P`. `W` is the weight in
//!   its stored layout, and `Y` is already NCHW. For a 1×1 kernel with stride 1 and no padding
//!   `cols` is the image itself. With fewer output channels than positions, the product runs in
//!   bands of output rows, each band's columns built just before its product, so that they are
//!   still in cache ([`Geometry::chunks`]).
//! * input gradient: `cols = Wᵀ · ∂Y`, then every tap's row is added back where it was read from
//!   (col2im; nothing to add back for such a 1×1 kernel). Where the maps are small, `Wᵀ` is
//!   read from a transposed copy of the weight ([`wants_transposed`]).
//!
//! For a stride-1 convolution as wide as its input, a tap's column row is the input plane
//! shifted as a whole, so im2col and col2im move it in one run ([`Geometry::flat`]).
//!
//! `flex`'s own kernels re-lay-out the weight and the input (NHWC) on every call and split the
//! work in tiles of 512 output pixels, so a 14×14 or 7×7 feature map (most of iResNet's work)
//! runs on one core. Here the column rows and the gradient planes are filled in parallel, and
//! the products are split over the cores natively; in wasm everything runs on the one thread.
//! Column matrices are kept per thread between calls ([`with_scratch`]).
//!
//! Depthwise convolutions are [`super::depthwise`]'s; other backends (wgpu, autodiff) keep
//! Burn's operations.

use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

use super::fused::{self, on_cpu};
use super::gemm::{Mat, column_bands, matmul};
use crate::error::{Error, Result};

/// Whether this module computes the convolution of `x` with `weight`: a plain f32 CPU tensor
/// and no groups.
pub fn handles(x: &Tensor<4>, options: &ConvOptions<2>) -> bool {
    options.groups == 1 && on_cpu(x)
}

/// The sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn new(
        input: [usize; 3],
        weight: [usize; 4],
        options: &ConvOptions<2>,
        name: &str,
    ) -> Result<Self> {
        let [c_in, h, w] = input;
        let [c_out, c_in_w, kh, kw] = weight;
        if c_in_w != c_in || options.groups != 1 {
            return Err(Error::Internal(format!(
                "`{name}`: weight {weight:?} does not fit {c_in} input channels"
            )));
        }
        let begin = options.padding_begin();
        let end = options.padding_end();
        let out = |size: usize, k: usize, d: usize| {
            let span = options.dilation[d] * (k - 1) + 1;
            (size + begin[d] + end[d])
                .checked_sub(span)
                .map(|s| s / options.stride[d] + 1)
        };
        match (out(h, kh, 0), out(w, kw, 1)) {
            (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok(Geometry {
                c_in,
                h,
                w,
                c_out,
                kh,
                kw,
                stride: options.stride,
                pad: begin,
                dilation: options.dilation,
                oh,
                ow,
            }),
            _ => Err(Error::Internal(format!(
                "`{name}`: a {h}×{w} input is smaller than the {kh}×{kw} kernel"
            ))),
        }
    }

    /// Rows of the column matrix: one per input channel and kernel tap.
    fn rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Output positions per image.
    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// In how many bands of output rows the forward pass of one image runs (1: one column
    /// matrix for the whole image). When the weight is the smaller operand (fewer output
    /// channels than positions: the large early maps, MTCNN's P-Net on a whole frame), the
    /// column matrix is cut so that each band's part stays in the core's cache between im2col
    /// and the product (about 1 MB), and in at least one band per core (`cores`), a multiple
    /// of them; each band packs the weight again, which is the smaller operand.
    fn chunks(&self, cores: usize) -> usize {
        let p = self.positions();
        if self.direct() || self.c_out >= p || self.oh < 2 {
            return 1;
        }
        let by_cache = (self.rows() * p).div_ceil(COLUMNS_IN_CACHE);
        let chunks = by_cache.max(cores).next_multiple_of(cores.max(1));
        chunks.min(self.oh)
    }

    /// Whether the column matrix is the image itself (a 1×1 kernel, stride 1, no padding).
    fn direct(&self) -> bool {
        self.kh * self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && [self.oh, self.ow] == [self.h, self.w]
    }

    /// For tap column `j`: the output columns `lo..hi` that read inside the input row, and the
    /// input column of output column 0 (`iw = ow·stride + offset`).
    fn columns(&self, j: usize) -> (usize, usize, isize) {
        let s = self.stride[1];
        let offset = (j * self.dilation[1]) as isize - self.pad[1] as isize;
        let lo = if offset < 0 {
            ((-offset) as usize).div_ceil(s)
        } else {
            0
        };
        let last = self.w as isize - 1 - offset;
        let hi = if last < 0 {
            0
        } else {
            (last as usize / s + 1).min(self.ow)
        };
        (lo.min(hi), hi, offset)
    }

    /// Whether a column row is the input plane shifted as a whole: stride 1 and an output as
    /// wide as the input (a "same" convolution, such as 3×3 with padding 1), so that output
    /// position `q` of tap `(i, j)` reads input value `q + shift(i, j)`, except in the columns
    /// where the tap reads the padding ([`Geometry::wrapped`]).
    fn flat(&self) -> bool {
        self.stride == [1, 1] && self.ow == self.w
    }

    /// For a [`flat`](Geometry::flat) convolution and tap `(i, j)`: the output positions
    /// `lo..hi` of the rows that read inside the image, the range of them, `a..b`, whose
    /// shifted position lies in the plane, and the input position of `a` (0 if `a..b` is
    /// empty).
    fn shift(&self, i: usize, j: usize) -> [usize; 5] {
        let (w, hw) = (self.w as isize, (self.h * self.w) as isize);
        let dy = (i * self.dilation[0]) as isize - self.pad[0] as isize;
        let dx = (j * self.dilation[1]) as isize - self.pad[1] as isize;
        let shift = dy * w + dx;
        let rows = |r: isize| r.clamp(0, self.oh as isize) * w;
        let (lo, hi) = (rows(-dy), rows(self.h as isize - dy));
        let hi = hi.max(lo);
        let (a, b) = (lo.max(-shift).min(hi), hi.min(hw - shift).max(lo));
        let b = b.max(a);
        let from = if a < b { a + shift } else { 0 };
        [lo, hi, a, b, from].map(|v| v as usize)
    }

    /// For a [`flat`](Geometry::flat) convolution and tap column `j`: the columns of each
    /// output row whose shifted position wraps into the row before or after (they read the
    /// padding).
    fn wrapped(&self, j: usize) -> std::ops::Range<usize> {
        let dx = (j * self.dilation[1]) as isize - self.pad[1] as isize;
        let w = self.w;
        let n = dx.unsigned_abs().min(w);
        if dx < 0 { 0..n } else { w - n..w }
    }

    /// The input row read by output row `oh` at tap row `i`, if inside the image.
    fn input_row(&self, oh: usize, i: usize) -> Option<usize> {
        let ih = (oh * self.stride[0] + i * self.dilation[0]) as isize - self.pad[0] as isize;
        (0..self.h as isize).contains(&ih).then_some(ih as usize)
    }
}

/// Values of a column matrix's band that stay in a core's cache (1 MB) between im2col and the
/// product.
const COLUMNS_IN_CACHE: usize = 1 << 18;

/// The cores a step may split over: all of them natively if `parallel`, else one.
fn cores(parallel: bool) -> usize {
    #[cfg(not(target_family = "wasm"))]
    if parallel {
        return rayon::current_num_threads().max(1);
    }
    let _ = parallel;
    1
}

/// Runs `f(index, chunk)` over the `len`-sized chunks of `data`: on every core natively.
pub(super) fn for_chunks(
    data: &mut [f32],
    len: usize,
    f: impl Fn(usize, &mut [f32]) + Send + Sync,
) {
    let _ = for_chunks_on(true, data, len, |i, c| {
        f(i, c);
        Ok(())
    });
}

/// Runs `f(index, chunk)` over the `len`-sized chunks of `data`, on every core if `parallel`
/// (natively), else one after the other; the first error wins.
fn for_chunks_on(
    parallel: bool,
    data: &mut [f32],
    len: usize,
    f: impl Fn(usize, &mut [f32]) -> Result<()> + Send + Sync,
) -> Result<()> {
    #[cfg(not(target_family = "wasm"))]
    if parallel {
        use rayon::prelude::*;
        return data
            .par_chunks_mut(len.max(1))
            .enumerate()
            .try_for_each(|(i, c)| f(i, c));
    }
    let _ = parallel;
    data.chunks_mut(len.max(1))
        .enumerate()
        .try_for_each(|(i, c)| f(i, c))
}

/// Whether a batch of `n` images is spread over the cores image by image (each image's steps on
/// one core), rather than taken one image at a time with every step split over the cores:
/// natively, once there are at least as many images as cores. Splitting one small product
/// (a 7×7 or 14×14 map) over the cores costs a hand-off per call; whole images do not.
fn across_images(n: usize) -> bool {
    #[cfg(not(target_family = "wasm"))]
    {
        let cores = rayon::current_num_threads();
        cores > 1 && n >= cores
    }
    #[cfg(target_family = "wasm")]
    {
        let _ = n;
        false
    }
}

thread_local! {
    /// This thread's column buffer, kept from one convolution to the next.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A column buffer larger than this many values is given back after use rather than kept.
const SCRATCH_KEPT: usize = 16 << 20;

/// Runs `f` with this thread's column buffer. A column matrix is megabytes (9× the feature map
/// for a 3×3 kernel), and allocating and zeroing one per convolution took a tenth of an
/// iResNet-50 score natively; every user writes all of the buffer before reading it, so its
/// stale contents never matter. Should the buffer be taken already (a nested call on the same
/// thread), `f` gets a fresh one.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let r = f(&mut scratch);
            if scratch.capacity() > SCRATCH_KEPT {
                *scratch = Vec::new();
            }
            r
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// The first `len` values of `scratch`, grown (never shrunk, so never cleared again) to hold
/// them.
fn columns(scratch: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if scratch.len() < len {
        scratch.resize(len, 0.0);
    }
    &mut scratch[..len]
}

/// Fills `cols` (`rows × positions`, or fewer positions: the output rows from `first_row`
/// on) from one image `x` (`C_in × H × W`), its rows on every core if `parallel`.
fn im2col(x: &[f32], cols: &mut [f32], g: &Geometry, first_row: usize, parallel: bool) {
    let (kh, kw) = (g.kh, g.kw);
    let len = cols.len() / g.rows().max(1);
    let p0 = first_row * g.ow;
    let _ = for_chunks_on(parallel, cols, len, |r, row| {
        let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
        let plane = &x[c * g.h * g.w..][..g.h * g.w];
        if g.flat() {
            // One copy of the shifted plane, then zeros where the tap reads the padding.
            // Positions are the whole map's; this row holds `p0..p0 + len` of them.
            let [lo, hi, a, b, from] = g.shift(i, j);
            let local = |q: usize| q.clamp(p0, p0 + len) - p0;
            let (la, lb) = (local(a), local(b).max(local(a)));
            row[..la].fill(0.0);
            row[lb..].fill(0.0);
            if la < lb {
                // The copy starts at position p0 + la ≥ a.
                let from = from + (p0 + la - a);
                row[la..lb].copy_from_slice(&plane[from..from + (lb - la)]);
            }
            let wrapped = g.wrapped(j);
            if !wrapped.is_empty() {
                for out in row[local(lo)..local(hi)].chunks_exact_mut(g.w) {
                    out[wrapped.clone()].fill(0.0);
                }
            }
            return Ok(());
        }
        let (lo, hi, offset) = g.columns(j);
        for (r, out) in row.chunks_exact_mut(g.ow).enumerate() {
            let oh = first_row + r;
            let Some(ih) = g.input_row(oh, i) else {
                out.fill(0.0);
                continue;
            };
            let src = &plane[ih * g.w..][..g.w];
            out[..lo].fill(0.0);
            out[hi..].fill(0.0);
            let first = (lo as isize * g.stride[1] as isize + offset) as usize;
            if g.stride[1] == 1 {
                out[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
            } else {
                for (o, v) in out[lo..hi].iter_mut().enumerate() {
                    *v = src[first + o * g.stride[1]];
                }
            }
        }
        Ok(())
    });
}

/// Adds `cols` (`rows × positions`) back into the zeroed image gradient `dx` (`C_in × H × W`),
/// its planes on every core if `parallel`. A [`flat`](Geometry::flat) convolution adds each
/// tap's row as one shifted run, after zeroing (in `cols`, which is scratch) the values that
/// would wrap into a neighbouring row.
fn col2im(cols: &mut [f32], dx: &mut [f32], g: &Geometry, parallel: bool) {
    let (kh, kw, p) = (g.kh, g.kw, g.positions());
    let plane_cols = kh * kw * p;
    let add = |(plane, cols): (&mut [f32], &mut [f32])| {
        for i in 0..kh {
            for j in 0..kw {
                let row = &mut cols[(i * kw + j) * p..][..p];
                if g.flat() {
                    let [lo, hi, a, b, to] = g.shift(i, j);
                    let wrapped = g.wrapped(j);
                    if !wrapped.is_empty() {
                        for out in row[lo..hi].chunks_exact_mut(g.w) {
                            out[wrapped.clone()].fill(0.0);
                        }
                    }
                    for (d, s) in plane[to..to + (b - a)].iter_mut().zip(&row[a..b]) {
                        *d += s;
                    }
                    continue;
                }
                let (lo, hi, offset) = g.columns(j);
                for (oh, src) in row.chunks_exact(g.ow).enumerate() {
                    let Some(ih) = g.input_row(oh, i) else {
                        continue;
                    };
                    let dst = &mut plane[ih * g.w..][..g.w];
                    let first = (lo as isize * g.stride[1] as isize + offset) as usize;
                    if g.stride[1] == 1 {
                        let dst = &mut dst[first..first + (hi - lo)];
                        for (d, s) in dst.iter_mut().zip(&src[lo..hi]) {
                            *d += s;
                        }
                    } else {
                        for (o, s) in src[lo..hi].iter().enumerate() {
                            dst[first + o * g.stride[1]] += s;
                        }
                    }
                }
            }
        }
    };
    #[cfg(not(target_family = "wasm"))]
    if parallel {
        use rayon::prelude::*;
        dx.par_chunks_mut(g.h * g.w)
            .zip(cols.par_chunks_mut(plane_cols))
            .for_each(add);
        return;
    }
    let _ = parallel;
    dx.chunks_mut(g.h * g.w)
        .zip(cols.chunks_mut(plane_cols))
        .for_each(add);
}

/// The convolution of `x` (`[N, C_in, H, W]`) with `weight` (`[C_out, C_in, kh, kw]`) plus
/// `bias`, on the CPU backend. Only for what [`handles`] accepts.
#[inline(never)] // kept out of line, so that profiles (the browser's too) name it
pub fn conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    options: &ConvOptions<2>,
    name: &str,
) -> Result<Tensor<4>> {
    let [n, c_in, h, w] = x.dims();
    let g = Geometry::new([c_in, h, w], weight.dims(), options, name)?;
    let (x, wt) = (fused::host(&x)?, fused::host(weight)?);
    let (x, wt): (&[f32], &[f32]) = (&x, &wt);
    let (k, p) = (g.rows(), g.positions());
    let mut out = vec![0.0f32; n * g.c_out * p];
    let across = across_images(n);
    let chunks = g.chunks(cores(!across));
    // With `across`, images on every core, otherwise one after the other.
    for_chunks_on(across, &mut out, g.c_out * p, |i, y| {
        let image = &x[i * c_in * h * w..][..c_in * h * w];
        let wt = Mat::rows(wt, k);
        if g.direct() {
            return matmul(y, wt, Mat::rows(image, p), [g.c_out, p, k], !across);
        }
        if chunks == 1 {
            return with_scratch(|cols| {
                // im2col writes every value: the buffer need not be cleared.
                let cols = columns(cols, k * p);
                im2col(image, cols, &g, 0, !across);
                matmul(y, wt, Mat::rows(cols, p), [g.c_out, p, k], !across)
            });
        }
        // Bands of output rows, each with its own columns: im2col and product on one core.
        let rows = g.oh.div_ceil(chunks);
        column_bands(y, p, rows * g.ow, !across, |first, band| {
            let len = (rows * g.ow).min(p - first);
            with_scratch(|cols| {
                let cols = columns(cols, k * len);
                im2col(image, cols, &g, first / g.ow, false);
                band.matmul(wt, Mat::rows(cols, len), [g.c_out, len, k])
            })
        })
    })?;
    if let Some(bias) = bias {
        let b = fused::host(bias)?;
        for y in out.chunks_exact_mut(p * g.c_out) {
            for (plane, b) in y.chunks_exact_mut(p).zip(b.iter()) {
                plane.iter_mut().for_each(|v| *v += b);
            }
        }
    }
    Ok(fused::from_vec(out, [n, g.c_out, g.oh, g.ow]))
}

/// Whether [`conv2d_input_grad`] gains from the weight stored transposed
/// ([`transposed_weight`]) for an output gradient of `positions` values per channel: natively,
/// when it has no more positions than the weight has output channels. The product
/// `Wᵀ · ∂Y` is then thin (iResNet's 14×14 and 7×7 maps: 196 and 49 columns), and `gemm`
/// reading `Wᵀ` row by row ran it 1.2× (14×14) and 2.1× (7×7) as fast as reading `W`
/// column by column, on one core. Elsewhere the two run alike, and the browser's kernel packs
/// either layout the same way.
pub fn wants_transposed(weight: &Tensor<4>, positions: usize) -> bool {
    let c_out = weight.dims()[0];
    cfg!(not(target_family = "wasm")) && positions <= c_out
}

/// `weight` (`[C_out, C_in, kh, kw]`) as the row-major `[C_in·kh·kw, C_out]` matrix `Wᵀ`.
pub fn transposed_weight(weight: &Tensor<4>) -> Result<Vec<f32>> {
    let [c_out, c_in, kh, kw] = weight.dims();
    let k = c_in * kh * kw;
    let wt = fused::host(weight)?;
    let mut t = vec![0.0f32; k * c_out];
    // In blocks of 64 × 64, so that both sides stay in cache.
    const B: usize = 64;
    for r0 in (0..k).step_by(B) {
        for c0 in (0..c_out).step_by(B) {
            for r in r0..(r0 + B).min(k) {
                for c in c0..(c0 + B).min(c_out) {
                    t[r * c_out + c] = wt[c * k + r];
                }
            }
        }
    }
    Ok(t)
}

/// `∂/∂input` of [`conv2d`] from `∂/∂output` (`grad`), for an input of spatial size `input_hw`;
/// `transposed`, if given, is the weight as [`transposed_weight`] (see [`wants_transposed`]).
#[inline(never)] // kept out of line, so that profiles (the browser's too) name it
pub fn conv2d_input_grad(
    grad: Tensor<4>,
    weight: &Tensor<4>,
    transposed: Option<&[f32]>,
    options: &ConvOptions<2>,
    input_hw: [usize; 2],
    name: &str,
) -> Result<Tensor<4>> {
    let [n, c_out, oh, ow] = grad.dims();
    let [_, c_in, _, _] = weight.dims();
    let g = Geometry::new(
        [c_in, input_hw[0], input_hw[1]],
        weight.dims(),
        options,
        name,
    )?;
    if [c_out, oh, ow] != [g.c_out, g.oh, g.ow] {
        return Err(Error::Internal(format!(
            "`{name}`: gradient {:?} does not match the output {:?}",
            [c_out, oh, ow],
            [g.c_out, g.oh, g.ow]
        )));
    }
    let (dy, wt) = (fused::host(&grad)?, fused::host(weight)?);
    let (dy, wt): (&[f32], &[f32]) = (&dy, &wt);
    let (k, p) = (g.rows(), g.positions());
    let image = c_in * g.h * g.w;
    let mut dx = vec![0.0f32; n * image];
    let across = across_images(n);
    if transposed.is_some_and(|t| t.len() != k * c_out) {
        return Err(Error::Internal(format!(
            "`{name}`: transposed weight of the wrong size"
        )));
    }
    for_chunks_on(across, &mut dx, image, |i, dx| {
        let wt = match transposed {
            Some(t) => Mat::rows(t, c_out),
            None => Mat::transposed(wt, k),
        };
        let dy = Mat::rows(&dy[i * c_out * p..], p);
        if g.direct() {
            return matmul(dx, wt, dy, [k, p, c_out], !across);
        }
        with_scratch(|cols| {
            // The product overwrites every value of the buffer.
            let cols = columns(cols, k * p);
            matmul(cols, wt, dy, [k, p, c_out], !across)?;
            col2im(cols, dx, &g, !across);
            Ok(())
        })
    })?;
    Ok(fused::from_vec(dx, [n, c_in, g.h, g.w]))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_against_burn, random};
    use super::*;

    /// Against Burn's own convolution and transposed convolution (which compute the input
    /// gradient by the other route, gemm then scatter per tile), over the shapes the models
    /// use and odd ones: strides, padding larger and smaller than the kernel's half, dilation,
    /// inputs whose last column no stride reaches, batches; the shifted-plane path and the
    /// row-by-row one.
    #[test]
    fn equals_burn() {
        let cases = [
            // (n, c_in, h, w, c_out, k, stride, pad, dilation)
            (2, 3, 16, 16, 8, 3, 2, 1, 1),
            (1, 8, 7, 7, 8, 3, 1, 1, 1),
            (3, 5, 9, 11, 4, 3, 2, 1, 1),
            (1, 4, 10, 9, 6, 5, 1, 2, 1),
            (2, 4, 12, 12, 3, 3, 1, 0, 2),
            (1, 2, 8, 8, 2, 3, 3, 2, 1),
            (1, 3, 4, 4, 2, 2, 2, 0, 1),
            // 1×1: the image is the column matrix, or (strided, padded) it is not.
            (2, 6, 5, 7, 4, 1, 1, 0, 1),
            (1, 6, 5, 7, 4, 1, 2, 0, 1),
            (1, 3, 4, 4, 5, 1, 1, 1, 1),
            // Stride 1 and as wide as the input: each tap's row is the shifted plane (with
            // dilation; with padding as wide as the image, so that whole rows read padding).
            (2, 5, 6, 9, 4, 3, 1, 2, 2),
            (1, 2, 3, 2, 3, 5, 1, 2, 1),
            (1, 3, 1, 5, 2, 3, 1, 1, 1),
            // A column matrix larger than a core's cache: the forward pass in bands of rows.
            (1, 16, 64, 64, 4, 3, 1, 1, 1),
            (1, 12, 150, 90, 2, 3, 2, 0, 1),
        ];
        let run = || {
            for (t, &(n, c_in, h, w, c_out, k, s, p, d)) in cases.iter().enumerate() {
                let x = random([n, c_in, h, w], 3 * t as u32 + 1);
                let wt = random([c_out, c_in, k, k], 3 * t as u32 + 2);
                let options = ConvOptions::new([s, s], [p, p], [d, d], 1);
                assert!(handles(&x, &options));
                let (x2, wt2, options2) = (x.clone(), wt.clone(), options.clone());
                check_against_burn(t, x2, wt2, options2, conv2d, |g, w, o, hw, n| {
                    conv2d_input_grad(g, w, None, o, hw, n)
                });
                // The same with the weight also stored transposed.
                check_against_burn(t, x, wt, options, conv2d, |g, w, o, hw, n| {
                    let t = transposed_weight(w).unwrap();
                    conv2d_input_grad(g, w, Some(&t), o, hw, n)
                });
            }
        };
        run();
        // On three cores too: uneven bands of rows, images one by one below three.
        #[cfg(not(target_family = "wasm"))]
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(run);
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let x = random([1, 3, 2, 2], 1);
        let wt = random([4, 3, 5, 5], 2);
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert!(conv2d(x.clone(), &wt, None, &options, "t").is_err());
        let wt = random([4, 2, 1, 1], 2);
        assert!(conv2d(x.clone(), &wt, None, &options, "t").is_err());
        let dy = random([1, 4, 3, 3], 3);
        let wt = random([4, 3, 1, 1], 2);
        assert!(conv2d_input_grad(dy, &wt, None, &options, [2, 2], "t").is_err());
        let dy = random([1, 4, 2, 2], 3);
        let short = Some(&[0.0f32; 5][..]);
        assert!(conv2d_input_grad(dy, &wt, short, &options, [2, 2], "t").is_err());
        assert!(!handles(&x, &ConvOptions::new([1, 1], [1, 1], [1, 1], 3)));
    }
}
