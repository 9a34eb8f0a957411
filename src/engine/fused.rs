//! Fused element-wise kernels for Burn's CPU backend (`flex`).
//!
//! `flex` runs every tensor operation as a pass of its own over memory and allocates each
//! result. An inference-mode BatchNorm (`a · scale + shift`) is two such passes, and the reverse
//! pass of `BatchNorm → ReLU6` is a comparison, a mask, a multiplication and an addition. On the
//! CPU the functions here do each of these chains in one pass, in place when the buffer is not
//! shared, through Burn's backend-extension API ([`Tensor::try_into_primitive`]). On every other
//! backend (wgpu, which fuses element-wise work itself) they run the same chain as ordinary
//! tensor operations. Both paths are covered by the parity tests (the CPU and the wgpu runs).

use burn::tensor::{DType, Tensor, TensorData};
use burn_flex::{Flex, FlexTensor};

use super::lanes::{self, F4};
use crate::error::{Error, Result};

/// Which element-wise function an activation's reverse pass applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// Passes where `x > 0`.
    Relu,
    /// Passes where `0 < x < 6` (PyTorch's ReLU6 gradient).
    Relu6,
}

/// Whether `t` is a plain (not autodiff-tracked) f32 tensor of the CPU backend, which the
/// fused kernels handle.
pub fn on_cpu<const D: usize>(t: &Tensor<D>) -> bool {
    t.clone()
        .try_into_primitive::<Flex>()
        .is_ok_and(|f| f.dtype() == DType::F32)
}

fn flex<const D: usize>(t: Tensor<D>) -> Result<FlexTensor> {
    let f = t
        .try_into_primitive::<Flex>()
        .map_err(|e| Error::Internal(format!("expected a CPU tensor: {e:?}")))?;
    if f.dtype() != DType::F32 {
        return Err(Error::Internal(format!(
            "expected f32 values, got {:?}",
            f.dtype()
        )));
    }
    Ok(f)
}

/// `t` as a contiguous f32 buffer of its own (copied when shared or strided).
fn owned<const D: usize>(t: Tensor<D>) -> Result<FlexTensor> {
    let f = flex(t)?;
    let n = f.layout().num_elements();
    let exact = f.layout().contiguous_offsets() == Some((0, n)) && f.bytes().len() == 4 * n;
    Ok(if exact { f } else { f.to_contiguous() })
}

/// `t` viewed as contiguous f32 values (copied only when strided).
fn view<const D: usize>(t: &Tensor<D>) -> Result<FlexTensor> {
    let f = flex(t.clone())?;
    Ok(if f.layout().contiguous_offsets().is_some() {
        f
    } else {
        f.to_contiguous()
    })
}

fn values(f: &FlexTensor) -> Result<&[f32]> {
    f.as_slice::<f32>()
        .ok_or_else(|| Error::Internal("tensor is not contiguous f32".into()))
}

/// The contiguous f32 values of a CPU tensor, borrowed from it (copied only when strided).
pub struct Host(FlexTensor);

impl std::ops::Deref for Host {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // Checked to be contiguous f32 when made.
        self.0.as_slice::<f32>().unwrap_or(&[])
    }
}

/// The values of the CPU tensor `t` (an error for any other backend's tensors).
pub fn host<const D: usize>(t: &Tensor<D>) -> Result<Host> {
    let f = view(t)?;
    values(&f)?;
    Ok(Host(f))
}

fn back<const D: usize>(f: FlexTensor) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(f)
}

/// A CPU tensor of shape `shape` from host values.
pub fn from_vec<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    back(FlexTensor::from_data(TensorData::new(values, shape)))
}

/// Calls `f(channel, index, plane)` for every `H·W` plane of the contiguous `[N, C, H, W]` values:
/// natively on every core once the map is large enough to repay the hand-off.
fn planes_mut(
    data: &mut [f32],
    dims: [usize; 4],
    f: impl Fn(usize, usize, &mut [f32]) + Send + Sync,
) {
    let [_, c, h, w] = dims;
    let (c, len) = (c.max(1), (h * w).max(1));
    #[cfg(not(target_family = "wasm"))]
    if data.len() >= 1 << 16 {
        use rayon::prelude::*;
        data.par_chunks_exact_mut(len)
            .enumerate()
            .for_each(|(p, plane)| f(p % c, p, plane));
        return;
    }
    for (p, plane) in data.chunks_exact_mut(len).enumerate() {
        f(p % c, p, plane);
    }
}

/// Inference-mode BatchNorm `a · scale[c] + shift[c]` on a `[N, C, H, W]` map, in one pass.
pub fn batchnorm(
    a: Tensor<4>,
    scale: (&Tensor<1>, &[f32]),
    shift: (&Tensor<1>, &[f32]),
) -> Result<Tensor<4>> {
    let dims = a.dims();
    if !on_cpu(&a) {
        let c = dims[1];
        return Ok(
            a * scale.0.clone().reshape([1, c, 1, 1]) + shift.0.clone().reshape([1, c, 1, 1])
        );
    }
    let mut f = owned(a)?;
    planes_mut(f.storage_mut::<f32>(), dims, |c, _, plane| {
        let (s, t) = (F4::splat(scale.1[c]), F4::splat(shift.1[c]));
        lanes::map_inplace(plane, |v| v.mul(s).add(t));
    });
    Ok(back(f))
}

/// An activation, `x` clamped to `[0, ∞)` or `[0, 6]`, into a new buffer (`x` is often kept
/// for the reverse pass).
pub fn activation<const D: usize>(kind: Activation, x: Tensor<D>) -> Result<Tensor<D>> {
    if !on_cpu(&x) {
        return Ok(match kind {
            Activation::Relu => burn::tensor::activation::relu(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
        });
    }
    let dims = x.dims();
    let xs = view(&x)?;
    let hi = match kind {
        Activation::Relu => f32::INFINITY,
        Activation::Relu6 => 6.0,
    };
    let x = values(&xs)?;
    let mut out = Vec::with_capacity(x.len());
    let hi = F4::splat(hi);
    lanes::map_into(x, &mut out, |v| v.clamp0(hi));
    Ok(from_vec(out, dims))
}

/// PReLU on a `[N, C, H, W]` map: `x` where `x > 0`, else `alpha[c] · x` (one shared slope
/// when `alpha` has one value).
pub fn prelu(x: Tensor<4>, alpha: (&Tensor<1>, &[f32])) -> Result<Tensor<4>> {
    if !on_cpu(&x) {
        return Ok(burn::tensor::activation::prelu(x, alpha.0.clone()));
    }
    let dims = x.dims();
    let mut f = owned(x)?;
    planes_mut(f.storage_mut::<f32>(), dims, |c, _, plane| {
        let a = F4::splat(alpha.1.get(c).or(alpha.1.first()).copied().unwrap_or(0.0));
        lanes::map_inplace(plane, |v| v.where_positive(v, v.mul(a)));
    });
    Ok(back(f))
}

/// An activation's reverse pass: `grad` where the activation passes at its input `x`, else 0.
pub fn activation_backward<const D: usize>(
    kind: Activation,
    grad: Tensor<D>,
    x: &Tensor<D>,
) -> Result<Tensor<D>> {
    if !on_cpu(&grad) || !on_cpu(x) {
        let mut off = x.clone().lower_equal_elem(0.0);
        if kind == Activation::Relu6 {
            off = off.bool_or(x.clone().greater_equal_elem(6.0));
        }
        return Ok(grad.mask_fill(off, 0.0));
    }
    let xs = view(x)?;
    let xv = values(&xs)?;
    let mut f = owned(grad)?;
    let g = f.storage_mut::<f32>();
    if g.len() != xv.len() {
        return Err(Error::Internal(
            "activation gradient of another shape".into(),
        ));
    }
    let hi = match kind {
        Activation::Relu => f32::INFINITY,
        Activation::Relu6 => 6.0,
    };
    let hi = F4::splat(hi);
    lanes::zip_inplace(g, xv, |g, x| g.where_between(x, hi));
    Ok(back(f))
}

/// PReLU's reverse pass on a `[N, C, H, W]` map: `grad` where `x > 0`, else `alpha[c] · grad`
/// (one shared slope when `alpha` has one value).
pub fn prelu_backward(
    grad: Tensor<4>,
    x: &Tensor<4>,
    alpha: (&Tensor<1>, &[f32]),
) -> Result<Tensor<4>> {
    let dims = grad.dims();
    if !on_cpu(&grad) || !on_cpu(x) {
        let a = alpha.1.len();
        let slopes = alpha.0.clone().reshape([1, a, 1, 1]);
        return Ok((grad.clone() * slopes).mask_where(x.clone().greater_elem(0.0), grad));
    }
    let xs = view(x)?;
    let xv = values(&xs)?;
    let mut f = owned(grad)?;
    if f.layout().num_elements() != xv.len() {
        return Err(Error::Internal("PReLU gradient of another shape".into()));
    }
    let plane = dims[2] * dims[3];
    planes_mut(f.storage_mut::<f32>(), dims, |c, p, g| {
        let a = F4::splat(alpha.1.get(c).or(alpha.1.first()).copied().unwrap_or(0.0));
        lanes::zip_inplace(g, &xv[p * plane..(p + 1) * plane], |g, x| {
            g.where_positive(x, g.mul(a))
        });
    });
    Ok(back(f))
}

/// BatchNorm's reverse pass on a `[N, C, H, W]` map with an injected gradient:
/// `grad · scale[c] + seed` (either term may be absent; `None` when both are).
pub fn batchnorm_backward(
    grad: Option<Tensor<4>>,
    scale: (&Tensor<1>, &[f32]),
    seed: Option<Tensor<4>>,
) -> Result<Option<Tensor<4>>> {
    let Some(grad) = grad else {
        return Ok(seed);
    };
    let dims = grad.dims();
    if !on_cpu(&grad) || seed.as_ref().is_some_and(|s| !on_cpu(s)) {
        let scaled = grad * scale.0.clone().reshape([1, dims[1], 1, 1]);
        return Ok(Some(match seed {
            Some(s) => scaled + s,
            None => scaled,
        }));
    }
    let mut f = owned(grad)?;
    match seed {
        Some(seed) => {
            let ss = view(&seed)?;
            let sv = values(&ss)?;
            if sv.len() != f.layout().num_elements() {
                return Err(Error::Internal("injected gradient of another shape".into()));
            }
            let plane = dims[2] * dims[3];
            planes_mut(f.storage_mut::<f32>(), dims, |c, p, g| {
                let s = F4::splat(scale.1[c]);
                lanes::zip_inplace(g, &sv[p * plane..(p + 1) * plane], |g, t| g.mul(s).add(t));
            });
        }
        None => planes_mut(f.storage_mut::<f32>(), dims, |c, _, g| {
            let s = F4::splat(scale.1[c]);
            lanes::map_inplace(g, |g| g.mul(s));
        }),
    }
    Ok(Some(back(f)))
}

/// `Σ f(x)` over `v`: f32 lanes, added up in f64 every 4096 values (a plain f64 sum is a chain
/// of dependent additions, several times slower).
fn sum_by_lanes(v: &[f32], f: impl Fn(F4) -> F4) -> f64 {
    v.chunks(4096)
        .map(|block| lanes::sum_map(block, &f) as f64)
        .sum()
}

/// Per-sample `Σ|x|` of a `[N, C, H, W]` map, `[N, 1]`.
pub fn abs_sum(x: Tensor<4>) -> Result<Tensor<2>> {
    let [n, c, h, w] = x.dims();
    if !on_cpu(&x) {
        return Ok(x.abs().reshape([n, c * h * w]).sum_dim(1));
    }
    let f = view(&x)?;
    let v = values(&f)?;
    let sums = v
        .chunks_exact((c * h * w).max(1))
        .map(|s| sum_by_lanes(s, F4::abs) as f32)
        .collect();
    Ok(from_vec(sums, [n, 1]))
}

/// Per-sample, per-channel mean and biased variance over `H·W` of a CPU `[N, C, H, W]` map
/// (two passes over each plane), with `f(n, c, plane, mean, var)` called per plane.
pub fn channel_moments(
    x: &Tensor<4>,
    mut f: impl FnMut(usize, usize, &[f32], f64, f64),
) -> Result<()> {
    let [_, c, h, w] = x.dims();
    let xs = view(x)?;
    let v = values(&xs)?;
    let p = (h * w).max(1);
    for (k, plane) in v.chunks_exact(p).enumerate() {
        let mean = sum_by_lanes(plane, |x| x) / p as f64;
        let m = F4::splat(mean as f32);
        let var = sum_by_lanes(plane, |x| x.sub(m).mul(x.sub(m))) / p as f64;
        f(k / c.max(1), k % c.max(1), plane, mean, var);
    }
    Ok(())
}

/// Appends `a · (x − m) + b` for every value of `x` to `out`.
pub fn affine_into(x: &[f32], m: f32, a: f32, b: f32, out: &mut Vec<f32>) {
    let (m, a, b) = (F4::splat(m), F4::splat(a), F4::splat(b));
    lanes::map_into(x, out, |v| v.sub(m).mul(a).add(b));
}
