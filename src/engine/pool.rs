//! Max pooling for Burn's CPU backend (`flex`), as MTCNN uses it: square windows, no padding,
//! PyTorch's `ceil_mode=True`.
//!
//! `flex`'s `max_pool2d` computes every output element on its own, with integer divisions for
//! its position and a NaN test per input. In a profile of capture guidance (one 640×480 frame,
//! full detection) it took 40 % of the time. Here a pass takes the maximum of a window's rows
//! for a whole output row at once, four lanes at a time ([`lanes`]), then the maximum of each
//! window's columns from that row (four windows at a time for stride 2), without branches.

use burn::tensor::Tensor;
use burn::tensor::module;
use burn::tensor::ops::MaxPoolOptions;

use super::fused;
use super::lanes::{self, F4, max_nan};
use crate::error::{Error, Result};

/// The output length of a `k`-wide, stride-`s` max pool over `n` inputs with PyTorch's
/// `ceil_mode=True` and no padding: `ceil((n − k) / s) + 1`, less one where the last window
/// would start past the input. `None` where the input is narrower than the window.
pub fn ceil_len(n: usize, k: usize, s: usize) -> Option<usize> {
    if n < k || k == 0 || s == 0 {
        return None;
    }
    let mut out = (n - k).div_ceil(s) + 1;
    if (out - 1) * s >= n {
        out -= 1;
    }
    Some(out)
}

/// `max_pool2d(x, k, stride=s, ceil_mode=True)` on `[N, C, H, W]`: windows that run past the
/// map's edge take the maximum of the part inside it. A NaN in a window gives NaN, as in
/// PyTorch. Backends other than the CPU use their own pooling.
#[inline(never)] // kept out of line, so that profiles (the browser's too) name it
pub fn max_pool2d_ceil(x: Tensor<4>, k: usize, s: usize) -> Result<Tensor<4>> {
    if !fused::on_cpu(&x) {
        return Ok(module::max_pool2d(
            x,
            MaxPoolOptions::new([k, k])
                .with_stride([s, s])
                .with_ceil_mode(true),
        ));
    }
    let [n, c, h, w] = x.dims();
    let (Some(oh), Some(ow)) = (ceil_len(h, k, s), ceil_len(w, k, s)) else {
        return Err(Error::Internal(format!(
            "max pool of {k}×{k} over a {h}×{w} map"
        )));
    };
    let input = fused::host(&x)?;
    let mut out = vec![0.0f32; n * c * oh * ow];
    let pool = |(plane, dst): (&[f32], &mut [f32])| {
        let mut rows = vec![0.0f32; w];
        for (oy, dst) in dst.chunks_exact_mut(ow).enumerate() {
            let y0 = oy * s;
            rows.copy_from_slice(&plane[y0 * w..][..w]);
            for y in y0 + 1..(y0 + k).min(h) {
                lanes::zip_inplace(&mut rows, &plane[y * w..][..w], F4::max_nan);
            }
            // Stride 2 (MTCNN's): four outputs at a time from the even and odd columns of
            // eight (and, for a window of 3, the next even ones), while whole windows fit.
            let mut first = 0;
            if s == 2 && (k == 2 || k == 3) {
                // Reads columns up to `2·first + 7` (+2 for a window of 3): all whole windows.
                while first * 2 + 8 + (k - 2) * 2 <= w && first + 4 <= ow {
                    let x = &rows[first * 2..];
                    let (e, o) = F4::load(x).deinterleave(F4::load(&x[4..]));
                    let mut m = e.max_nan(o);
                    if k == 3 {
                        let (e2, _) = F4::load(&x[2..]).deinterleave(F4::load(&x[6..]));
                        m = m.max_nan(e2);
                    }
                    m.store(&mut dst[first..]);
                    first += 4;
                }
            }
            for (ox, d) in dst.iter_mut().enumerate().skip(first) {
                let x0 = ox * s;
                *d = rows[x0..(x0 + k).min(w)]
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, max_nan);
            }
        }
    };
    #[cfg(not(target_family = "wasm"))]
    if input.len() >= 1 << 16 {
        use rayon::prelude::*;
        input
            .par_chunks_exact(h * w)
            .zip(out.par_chunks_exact_mut(oh * ow))
            .for_each(pool);
        return Ok(fused::from_vec(out, [n, c, oh, ow]));
    }
    input
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(oh * ow))
        .for_each(pool);
    Ok(fused::from_vec(out, [n, c, oh, ow]))
}

#[cfg(test)]
mod tests {
    use super::super::testing::random;
    use super::*;

    fn burn_pool(x: Tensor<4>, k: usize, s: usize) -> Vec<f32> {
        module::max_pool2d(
            x,
            MaxPoolOptions::new([k, k])
                .with_stride([s, s])
                .with_ceil_mode(true),
        )
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
    }

    /// Equal to Burn's `ceil_mode` pooling (maxima are exact): MTCNN's windows (2×2 / 2 and
    /// 3×3 / 2) on maps whose last window is whole, cut short, or a single column, widths
    /// where the four-at-a-time columns stop at every offset, batches, and a map large enough
    /// for the parallel path.
    #[test]
    fn equals_burn() {
        let cases = [
            // (n, c, h, w, k, s)
            (1, 10, 12, 12, 2, 2),
            (1, 3, 11, 13, 2, 2),
            (4, 28, 22, 22, 3, 2),
            (2, 48, 9, 9, 3, 2),
            (3, 64, 8, 8, 2, 2),
            (1, 2, 3, 4, 3, 2),
            (1, 10, 70, 93, 2, 2),
            (2, 5, 7, 10, 3, 3),
            (2, 4, 17, 46, 3, 2),
            (1, 3, 5, 19, 3, 2),
            (1, 3, 5, 17, 2, 2),
        ];
        for (t, &(n, c, h, w, k, s)) in cases.iter().enumerate() {
            let x = random([n, c, h, w], t as u32 + 1);
            let ours = max_pool2d_ceil(x.clone(), k, s).unwrap();
            let [_, _, oh, ow] = ours.dims();
            assert_eq!((Some(oh), Some(ow)), (ceil_len(h, k, s), ceil_len(w, k, s)));
            let ours = ours.into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(ours, burn_pool(x, k, s), "case {t}");
        }
    }

    #[test]
    fn lengths_follow_pytorch() {
        // PyTorch: 23 → 11 (3/2), 22 → 11 (2/2), 9 → 4 (3/2), 4 → 2 (3/2: the second window
        // starts at 2, inside the input), 5 → 2 (3/3: 5 − 3 = 2 → ceil(2/3) + 1 = 2).
        assert_eq!(ceil_len(23, 3, 2), Some(11));
        assert_eq!(ceil_len(22, 2, 2), Some(11));
        assert_eq!(ceil_len(9, 3, 2), Some(4));
        assert_eq!(ceil_len(4, 3, 2), Some(2));
        assert_eq!(ceil_len(5, 3, 3), Some(2));
        assert_eq!(ceil_len(2, 3, 2), None);
    }

    #[test]
    fn nan_propagates_and_small_maps_are_errors() {
        let mut v: Vec<f32> = (0..16).map(|i| i as f32).collect();
        v[5] = f32::NAN;
        let out = max_pool2d_ceil(fused::from_vec(v, [1, 1, 4, 4]), 2, 2).unwrap();
        let out = out.into_data().try_to_vec::<f32>().unwrap();
        assert!(out[0].is_nan());
        assert_eq!(&out[1..], &[7.0, 13.0, 15.0]);
        assert!(max_pool2d_ceil(random([1, 1, 2, 5], 1), 3, 2).is_err());
    }
}
