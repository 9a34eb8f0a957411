//! Four f32 lanes for the fused kernels: WebAssembly SIMD (`simd128`) in the browser build,
//! plain arrays elsewhere.
//!
//! Whether the compiler vectorises a loop depends on the optimisation level (none at all for
//! size), so the kernels spell the four lanes out: on wasm32 each operation is one `v128`
//! instruction whatever the build's settings; natively the compiler vectorises the array code
//! (to the machine's wider registers where it has them).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    /// Four f32 lanes.
    #[derive(Clone, Copy)]
    pub struct F4(v128);

    impl F4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            F4(f32x4_splat(x))
        }
        #[inline(always)]
        pub fn load(s: &[f32]) -> Self {
            assert!(s.len() >= 4);
            // SAFETY: four readable f32 (checked above); v128_load takes unaligned addresses.
            F4(unsafe { v128_load(s.as_ptr() as *const v128) })
        }
        #[inline(always)]
        pub fn store(self, s: &mut [f32]) {
            assert!(s.len() >= 4);
            // SAFETY: four writable f32 (checked above); unaligned stores are allowed.
            unsafe { v128_store(s.as_mut_ptr() as *mut v128, self.0) }
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            F4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            F4(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            F4(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            F4(f32x4_abs(self.0))
        }
        /// `min(max(self, 0), hi)`.
        #[inline(always)]
        pub fn clamp0(self, hi: Self) -> Self {
            F4(f32x4_pmin(hi.0, f32x4_pmax(f32x4_splat(0.0), self.0)))
        }
        /// `if 0 < x < hi { self } else { 0 }`, lane by lane.
        #[inline(always)]
        pub fn where_between(self, x: Self, hi: Self) -> Self {
            let m = v128_and(f32x4_gt(x.0, f32x4_splat(0.0)), f32x4_lt(x.0, hi.0));
            F4(v128_and(self.0, m))
        }
        /// `if x > 0 { self } else { other }`, lane by lane.
        #[inline(always)]
        pub fn where_positive(self, x: Self, other: Self) -> Self {
            F4(v128_bitselect(
                self.0,
                other.0,
                f32x4_gt(x.0, f32x4_splat(0.0)),
            ))
        }
        /// The larger of `self` and `o`, lane by lane; NaN where either is (WebAssembly's
        /// `f32x4.max`).
        #[inline(always)]
        pub fn max_nan(self, o: Self) -> Self {
            F4(f32x4_max(self.0, o.0))
        }
        /// The even and the odd lanes of the eight values `self, o`: `([s0, s2, o0, o2],
        /// [s1, s3, o1, o3])`.
        #[inline(always)]
        pub fn deinterleave(self, o: Self) -> (Self, Self) {
            (
                F4(i32x4_shuffle::<0, 2, 4, 6>(self.0, o.0)),
                F4(i32x4_shuffle::<1, 3, 5, 7>(self.0, o.0)),
            )
        }
        /// `self · b + c`: one fused multiply-add where the build has relaxed SIMD (rounded
        /// once or twice, as the CPU does it), a multiplication and an addition otherwise.
        #[inline(always)]
        pub fn madd(self, b: Self, c: Self) -> Self {
            #[cfg(target_feature = "relaxed-simd")]
            {
                F4(f32x4_relaxed_madd(self.0, b.0, c.0))
            }
            #[cfg(not(target_feature = "relaxed-simd"))]
            {
                F4(f32x4_add(f32x4_mul(self.0, b.0), c.0))
            }
        }
        /// Four values from `p`.
        ///
        /// # Safety
        /// `p..p + 4` must be readable.
        #[inline(always)]
        pub unsafe fn read(p: *const f32) -> Self {
            // SAFETY: the caller's guarantee; v128_load takes unaligned addresses.
            F4(unsafe { v128_load(p as *const v128) })
        }
        #[inline(always)]
        pub fn sum(self) -> f32 {
            f32x4_extract_lane::<0>(self.0)
                + f32x4_extract_lane::<1>(self.0)
                + f32x4_extract_lane::<2>(self.0)
                + f32x4_extract_lane::<3>(self.0)
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    /// Four f32 lanes.
    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        #[inline(always)]
        fn map(self, f: impl Fn(f32) -> f32) -> Self {
            F4(self.0.map(f))
        }
        #[inline(always)]
        fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
            F4(std::array::from_fn(|i| f(self.0[i], o.0[i])))
        }
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            F4([x; 4])
        }
        #[inline(always)]
        pub fn load(s: &[f32]) -> Self {
            F4([s[0], s[1], s[2], s[3]])
        }
        #[inline(always)]
        pub fn store(self, s: &mut [f32]) {
            s[..4].copy_from_slice(&self.0);
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            self.zip(o, |a, b| a + b)
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            self.zip(o, |a, b| a - b)
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            self.zip(o, |a, b| a * b)
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            self.map(f32::abs)
        }
        /// `min(max(self, 0), hi)`.
        #[inline(always)]
        pub fn clamp0(self, hi: Self) -> Self {
            self.zip(hi, |v, h| v.max(0.0).min(h))
        }
        /// `if 0 < x < hi { self } else { 0 }`, lane by lane.
        #[inline(always)]
        pub fn where_between(self, x: Self, hi: Self) -> Self {
            F4(std::array::from_fn(|i| {
                if x.0[i] > 0.0 && x.0[i] < hi.0[i] {
                    self.0[i]
                } else {
                    0.0
                }
            }))
        }
        /// `if x > 0 { self } else { other }`, lane by lane.
        #[inline(always)]
        pub fn where_positive(self, x: Self, other: Self) -> Self {
            F4(std::array::from_fn(|i| {
                if x.0[i] > 0.0 { self.0[i] } else { other.0[i] }
            }))
        }
        /// The larger of `self` and `o`, lane by lane; NaN where either is.
        #[inline(always)]
        pub fn max_nan(self, o: Self) -> Self {
            self.zip(o, super::max_nan)
        }
        /// The even and the odd lanes of the eight values `self, o`: `([s0, s2, o0, o2],
        /// [s1, s3, o1, o3])`.
        #[inline(always)]
        pub fn deinterleave(self, o: Self) -> (Self, Self) {
            let (s, o) = (self.0, o.0);
            (F4([s[0], s[2], o[0], o[2]]), F4([s[1], s[3], o[1], o[3]]))
        }
        /// `self · b + c`.
        #[inline(always)]
        pub fn madd(self, b: Self, c: Self) -> Self {
            F4(std::array::from_fn(|i| self.0[i] * b.0[i] + c.0[i]))
        }
        /// Four values from `p`.
        ///
        /// # Safety
        /// `p..p + 4` must be readable.
        #[inline(always)]
        pub unsafe fn read(p: *const f32) -> Self {
            // SAFETY: the caller's guarantee.
            F4(unsafe { (p as *const [f32; 4]).read_unaligned() })
        }
        #[inline(always)]
        pub fn sum(self) -> f32 {
            (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
        }
    }
}

pub use imp::F4;

/// The larger of `m` and `v`, NaN when either is (as PyTorch's max pooling and WebAssembly's
/// `f32.max`), without a branch.
#[inline(always)]
pub fn max_nan(m: f32, v: f32) -> f32 {
    let take = (v > m) | v.is_nan();
    if take { v } else { m }
}

/// `out[i] = f(out[i])`, four lanes at a time (`f` sees a lane vector; the tail is padded).
#[inline(always)]
pub fn map_inplace(out: &mut [f32], f: impl Fn(F4) -> F4) {
    let mut chunks = out.chunks_exact_mut(4);
    for c in &mut chunks {
        f(F4::load(c)).store(c);
    }
    tail(chunks.into_remainder(), &[], |v, _| f(v));
}

/// `out[i] = f(out[i], x[i])`, four lanes at a time (`x` at least as long as `out`).
#[inline(always)]
pub fn zip_inplace(out: &mut [f32], x: &[f32], f: impl Fn(F4, F4) -> F4) {
    let n = out.len() - out.len() % 4;
    for (c, xc) in out[..n].chunks_exact_mut(4).zip(x.chunks_exact(4)) {
        f(F4::load(c), F4::load(xc)).store(c);
    }
    tail(&mut out[n..], &x[n..], f);
}

/// `out[i] = f(x[i])` into a new vector, four lanes at a time.
#[inline(always)]
pub fn map_into(x: &[f32], out: &mut Vec<f32>, f: impl Fn(F4) -> F4) {
    let start = out.len();
    out.resize(start + x.len(), 0.0);
    let dst = &mut out[start..];
    let n = x.len() - x.len() % 4;
    for (d, s) in dst[..n].chunks_exact_mut(4).zip(x.chunks_exact(4)) {
        f(F4::load(s)).store(d);
    }
    let mut pad = [0f32; 4];
    pad[..x.len() - n].copy_from_slice(&x[n..]);
    let mut r = [0f32; 4];
    f(F4::load(&pad)).store(&mut r);
    dst[n..].copy_from_slice(&r[..x.len() - n]);
}

/// `Σ f(x[i])`, in four lanes of four accumulators.
#[inline(always)]
pub fn sum_map(x: &[f32], f: impl Fn(F4) -> F4) -> f32 {
    let mut acc = [F4::splat(0.0); 4];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = a.add(f(F4::load(&c[4 * k..])));
        }
    }
    let rest = chunks.remainder();
    let mut s = acc[0].add(acc[1]).add(acc[2].add(acc[3])).sum();
    for r in rest.chunks(4) {
        let mut pad = [0f32; 4];
        pad[..r.len()].copy_from_slice(r);
        let mut v = [0f32; 4];
        f(F4::load(&pad)).store(&mut v);
        s += v[..r.len()].iter().sum::<f32>();
    }
    s
}

/// The last `out.len() < 4` values (and `x`'s, if any) through `f` on a padded vector.
#[inline(always)]
fn tail(out: &mut [f32], x: &[f32], f: impl Fn(F4, F4) -> F4) {
    if out.is_empty() {
        return;
    }
    let (mut a, mut b) = ([0f32; 4], [0f32; 4]);
    a[..out.len()].copy_from_slice(out);
    b[..x.len().min(out.len())].copy_from_slice(&x[..x.len().min(out.len())]);
    let mut r = [0f32; 4];
    f(F4::load(&a), F4::load(&b)).store(&mut r);
    let n = out.len();
    out.copy_from_slice(&r[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `max_nan` gives NaN where either side is NaN, lane by lane, and the larger value
    /// elsewhere.
    #[test]
    fn max_nan_propagates_nan() {
        let a = [1.0, f32::NAN, -3.0, 2.0];
        let b = [0.5, 4.0, f32::NAN, 2.5];
        let mut out = [0f32; 4];
        F4::load(&a).max_nan(F4::load(&b)).store(&mut out);
        assert_eq!(out[0], 1.0);
        assert!(out[1].is_nan() && out[2].is_nan());
        assert_eq!(out[3], 2.5);
        assert!(max_nan(f32::NAN, 1.0).is_nan() && max_nan(1.0, f32::NAN).is_nan());
        assert_eq!(max_nan(-1.0, -2.0), -1.0);
        let (e, o) = F4::load(&[0.0, 1.0, 2.0, 3.0]).deinterleave(F4::load(&[4.0, 5.0, 6.0, 7.0]));
        let (mut ev, mut od) = ([0f32; 4], [0f32; 4]);
        e.store(&mut ev);
        o.store(&mut od);
        assert_eq!((ev, od), ([0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0]));
    }

    /// Every length from 0 to 40 (whole vectors, tails, both): lanes against scalar code.
    #[test]
    fn lanes_match_scalar_code_for_every_tail() {
        for n in 0..40 {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 8.0).collect();
            let g: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();

            let mut a = x.clone();
            let (s, t) = (F4::splat(1.5), F4::splat(-0.25));
            map_inplace(&mut a, |v| v.mul(s).add(t));
            assert_eq!(a, x.iter().map(|v| v * 1.5 - 0.25).collect::<Vec<_>>());

            let mut b = g.clone();
            let hi = F4::splat(6.0);
            zip_inplace(&mut b, &x, |g, x| g.where_between(x, hi));
            let want: Vec<f32> = g
                .iter()
                .zip(&x)
                .map(|(g, x)| if *x > 0.0 && *x < 6.0 { *g } else { 0.0 })
                .collect();
            assert_eq!(b, want);

            let mut m = g.clone();
            zip_inplace(&mut m, &x, F4::max_nan);
            let want: Vec<f32> = g.iter().zip(&x).map(|(g, x)| g.max(*x)).collect();
            assert_eq!(m, want);

            let mut c = g.clone();
            let k = F4::splat(0.1);
            zip_inplace(&mut c, &x, |g, x| g.where_positive(x, g.mul(k)));
            let want: Vec<f32> = g
                .iter()
                .zip(&x)
                .map(|(g, x)| if *x > 0.0 { *g } else { *g * 0.1 })
                .collect();
            assert_eq!(c, want);

            let mut d = vec![7.0];
            map_into(&x, &mut d, |v| v.clamp0(hi));
            let mut want = vec![7.0];
            want.extend(x.iter().map(|v| v.clamp(0.0, 6.0)));
            assert_eq!(d, want);

            let sum = sum_map(&x, F4::abs) as f64;
            let want: f64 = x.iter().map(|v| v.abs() as f64).sum();
            assert!(
                (sum - want).abs() <= 1e-4 * want.max(1.0),
                "n = {n}: {sum} vs {want}"
            );
        }
    }
}
