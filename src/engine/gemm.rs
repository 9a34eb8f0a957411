//! Matrix products for the engine's CPU convolutions ([`super::conv`]).
//!
//! Natively they are the `gemm` crate's (AVX-512/AVX2 micro-kernels chosen at run time, split
//! over the cores). In the browser they are [`packed`], written here: the `gemm` crate's
//! WebAssembly micro-kernel keeps a 12×4 tile (twelve accumulators plus the operands: more
//! vector registers than a 64-bit engine hands out, so it spills), and it multiplies and adds
//! separately. [`packed`] keeps a 4×8 tile in eight accumulators and, in the build made with
//! relaxed SIMD, accumulates with one fused multiply-add per vector ([`F4::madd`]).

#[cfg(any(test, target_family = "wasm"))]
use super::lanes::F4;
use crate::error::{Error, Result};

/// A read-only matrix view: element `(i, j)` is `data[i · rs + j · cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Mat {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of the row-major matrix `data` that has `cols` columns (so this view has
    /// `cols` rows).
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Mat {
            data,
            rs: 1,
            cs: cols,
        }
    }

    /// The view that starts at element `(row, col)`.
    #[cfg(not(target_family = "wasm"))]
    fn from(self, row: usize, col: usize) -> Self {
        Mat {
            data: &self.data[(row * self.rs + col * self.cs).min(self.data.len())..],
            ..self
        }
    }

    /// Whether every element of an `r × c` matrix lies in `data`.
    fn holds(&self, r: usize, c: usize) -> bool {
        r == 0 || c == 0 || (r - 1) * self.rs + (c - 1) * self.cs < self.data.len()
    }
}

/// `dst[m × n] = lhs[m × k] · rhs[k × n]`, `dst` row-major (overwritten); natively split over
/// the cores when `parallel` and the product is large enough to repay it ([`native`]).
pub fn matmul(
    dst: &mut [f32],
    lhs: Mat,
    rhs: Mat,
    [m, n, k]: [usize; 3],
    parallel: bool,
) -> Result<()> {
    if dst.len() != m * n || !lhs.holds(m, k) || !rhs.holds(k, n) {
        return Err(Error::Internal(format!(
            "matmul sizes: dst {} lhs {} rhs {} for {m}×{k}·{k}×{n}",
            dst.len(),
            lhs.data.len(),
            rhs.data.len()
        )));
    }
    if k == 0 {
        dst.fill(0.0);
        return Ok(());
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    #[cfg(target_family = "wasm")]
    {
        let _ = parallel;
        packed(dst, n, lhs, rhs, [m, n, k]);
    }
    #[cfg(not(target_family = "wasm"))]
    native::matmul(dst, lhs, rhs, [m, n, k], parallel);
    Ok(())
}

/// A matrix shared by bands that each write their own elements.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: the bands write disjoint elements, and the borrow outlives them.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// # Safety
    /// `offset` lies inside the buffer.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

/// A band of columns of a row-major matrix, handed out by [`column_bands`].
pub struct Band<'a> {
    ptr: Shared,
    rows: usize,
    ld: usize,
    width: usize,
    _dst: std::marker::PhantomData<&'a mut [f32]>,
}

impl Band<'_> {
    /// The band's first `n` columns `= lhs[m × k] · rhs[k × n]` (`m` up to the matrix's rows,
    /// `n` up to the band's width), on this thread.
    pub fn matmul(&mut self, lhs: Mat, rhs: Mat, [m, n, k]: [usize; 3]) -> Result<()> {
        if m > self.rows || n > self.width || !lhs.holds(m, k) || !rhs.holds(k, n) {
            return Err(Error::Internal(format!(
                "band product sizes: {}×{} band of lhs {} rhs {} for {m}×{k}·{k}×{n}",
                self.rows,
                self.width,
                lhs.data.len(),
                rhs.data.len()
            )));
        }
        if m == 0 || n == 0 {
            return Ok(());
        }
        // SAFETY: the band's rows (`rows` of them, `ld` apart, `width` wide from `ptr`) lie in
        // the matrix `column_bands` borrows exclusively, and no other band covers its columns;
        // this view lives only as long as this call.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr.0, (m - 1) * self.ld + n) };
        if k == 0 {
            for r in 0..m {
                dst[r * self.ld..][..n].fill(0.0);
            }
            return Ok(());
        }
        #[cfg(target_family = "wasm")]
        packed(dst, self.ld, lhs, rhs, [m, n, k]);
        #[cfg(not(target_family = "wasm"))]
        native::band(dst.as_mut_ptr(), self.ld, lhs, rhs, [m, n, k]);
        Ok(())
    }
}

/// Runs `f(first, band)` for the bands of `width` columns of `dst` (row-major, `ld` columns;
/// the last band narrower), on every core if `parallel` (natively), else one after the other;
/// the first error wins.
pub fn column_bands(
    dst: &mut [f32],
    ld: usize,
    width: usize,
    parallel: bool,
    f: impl Fn(usize, &mut Band) -> Result<()> + Send + Sync,
) -> Result<()> {
    if ld == 0 || !dst.len().is_multiple_of(ld) {
        return Err(Error::Internal(format!(
            "column bands: {} values are not rows of {ld}",
            dst.len()
        )));
    }
    if dst.is_empty() {
        return Ok(());
    }
    let (rows, width) = (dst.len() / ld, width.clamp(1, ld));
    let base = Shared(dst.as_mut_ptr());
    let run = |j: usize| {
        let first = j * width;
        let mut band = Band {
            // SAFETY: first < ld ≤ dst.len().
            ptr: unsafe { Shared(base.at(first)) },
            rows,
            ld,
            width: width.min(ld - first),
            _dst: std::marker::PhantomData,
        };
        f(first, &mut band)
    };
    let bands = ld.div_ceil(width);
    #[cfg(not(target_family = "wasm"))]
    if parallel {
        use rayon::prelude::*;
        return (0..bands).into_par_iter().try_for_each(run);
    }
    let _ = parallel;
    (0..bands).try_for_each(run)
}

/// The native products: the `gemm` crate's single-threaded kernels, on every core in bands.
#[cfg(not(target_family = "wasm"))]
mod native {
    use super::Mat;

    /// Products smaller than this many multiply-adds stay on one core.
    const PARALLEL_FROM: usize = 1 << 20;

    /// `dst = lhs · rhs` (see [`super::matmul`], which has checked the sizes).
    ///
    /// In parallel, the product is cut in one band per core: bands of `dst`'s rows when
    /// `m ≥ n` (each core packs its rows of `lhs` and all of `rhs`), else bands of its columns
    /// (each packs all of `lhs`), so that the operand packed twice is the smaller one. Each band
    /// is a single-threaded product. `gemm`'s own splitting (`Parallelism::Rayon`) was measured
    /// on iResNet-50's 3×3 convolutions on two cores: its forward products ran 1.1–1.5× faster
    /// than on one core, these bands 1.6–1.9×.
    pub(super) fn matmul(
        dst: &mut [f32],
        lhs: Mat,
        rhs: Mat,
        [m, n, k]: [usize; 3],
        parallel: bool,
    ) {
        let cores = rayon::current_num_threads();
        if !parallel || cores < 2 || m * n * k < PARALLEL_FROM {
            band(dst.as_mut_ptr(), n, lhs, rhs, [m, n, k]);
            return;
        }
        use rayon::prelude::*;
        if m >= n {
            let rows = m.div_ceil(cores);
            dst.par_chunks_mut(rows * n).enumerate().for_each(|(i, d)| {
                let lhs = lhs.from(i * rows, 0);
                band(d.as_mut_ptr(), n, lhs, rhs, [d.len() / n, n, k]);
            });
        } else {
            // Whole vectors of the AVX-512 kernel's rows (`dst`'s columns, after `gemm` turns a
            // row-major product around).
            let cols = n.div_ceil(cores).next_multiple_of(16);
            // The sizes were checked for the whole product, so no band fails.
            let _ = super::column_bands(dst, n, cols, true, |first, band| {
                let width = band.width;
                band.matmul(lhs, rhs.from(0, first), [m, width, k])
            });
        }
    }

    /// `dst[m × n]` (row stride `ld`) `= lhs · rhs`, on this thread.
    pub(super) fn band(dst: *mut f32, ld: usize, lhs: Mat, rhs: Mat, [m, n, k]: [usize; 3]) {
        if m == 0 || n == 0 {
            return;
        }
        debug_assert!(lhs.holds(m, k) && rhs.holds(k, n));
        // SAFETY: `dst` addresses m rows of stride `ld ≥ n` inside the caller's buffer, which
        // no other band writes; every element addressed through the strides of `lhs` and `rhs`
        // lies in their data (checked by `super::matmul` for the whole product; a band's view
        // starts inside it). `dst` is written, not read (`read_dst = false`).
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst,
                1,
                ld as isize,
                false,
                lhs.data.as_ptr(),
                lhs.cs as isize,
                lhs.rs as isize,
                rhs.data.as_ptr(),
                rhs.cs as isize,
                rhs.rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
}

/// The browser's kernel (compiled natively only for the tests, which run it with plain-array
/// lanes).
#[cfg(any(test, target_family = "wasm"))]
mod kernel {
    use super::{F4, Mat};

    /// Rows of the register tile.
    pub(super) const MR: usize = 4;
    /// Vectors per row of the register tile.
    const NV: usize = 2;
    /// Columns of the register tile.
    pub(super) const NR: usize = 4 * NV;
    /// Depth of one packed block: an `MR`-row strip of `lhs` (4 KB) and an `NR`-column strip of
    /// `rhs` (8 KB) stay in the L1 cache together.
    pub(super) const KC: usize = 256;
    /// Rows of `lhs` packed at a time (64 KB, for the L2 cache).
    pub(super) const MC: usize = 64;
    /// Columns of `rhs` packed at a time (1 MB).
    pub(super) const NC: usize = 1024;

    /// [`matmul`] on one thread with this module's kernel (sizes checked by the caller): the
    /// product is cut into `KC`-deep blocks; each block of `rhs` is copied into `NR`-wide strips and
    /// each block of `lhs` into `MR`-tall strips (zero-padded at the edges), so the kernel reads
    /// both sequentially.
    /// `dst = lhs · rhs`, `dst`'s rows `ld` values apart.
    pub(crate) fn packed(dst: &mut [f32], ld: usize, lhs: Mat, rhs: Mat, [m, n, k]: [usize; 3]) {
        if k == 0 {
            for r in 0..m {
                dst[r * ld..][..n].fill(0.0);
            }
            return;
        }
        let mut a_pack = vec![0f32; MC * KC.min(k)];
        let mut b_pack = vec![0f32; NC.min(n.next_multiple_of(NR)) * KC.min(k)];
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let first = pc == 0;
                pack::<NR>(
                    &mut b_pack,
                    rhs.data,
                    pc * rhs.rs + jc * rhs.cs,
                    [rhs.cs, rhs.rs],
                    [nc, kc],
                );
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    pack::<MR>(
                        &mut a_pack,
                        lhs.data,
                        ic * lhs.rs + pc * lhs.cs,
                        [lhs.rs, lhs.cs],
                        [mc, kc],
                    );
                    for (s, b) in b_pack
                        .chunks_exact(kc * NR)
                        .take(nc.div_ceil(NR))
                        .enumerate()
                    {
                        let (col, cols) = (jc + s * NR, NR.min(nc - s * NR));
                        for (r, a) in a_pack
                            .chunks_exact(kc * MR)
                            .take(mc.div_ceil(MR))
                            .enumerate()
                        {
                            let (row, rows) = (ic + r * MR, MR.min(mc - r * MR));
                            let acc = tile(a, b);
                            store(dst, ld, [row, col], [rows, cols], &acc, first);
                        }
                    }
                }
            }
        }
    }

    /// Copies a `count × kc` block (element `(t, p)` at `data[base + t · st + p · sk]`) into strips
    /// of `W` consecutive `t`: strip `s` holds `kc` groups of `W` values, zero past `count`.
    fn pack<const W: usize>(
        out: &mut [f32],
        data: &[f32],
        base: usize,
        [st, sk]: [usize; 2],
        [count, kc]: [usize; 2],
    ) {
        for (s, strip) in out
            .chunks_exact_mut(kc * W)
            .take(count.div_ceil(W))
            .enumerate()
        {
            let t0 = s * W;
            let w = W.min(count - t0);
            for (p, group) in strip.chunks_exact_mut(W).enumerate() {
                let at = base + t0 * st + p * sk;
                if st == 1 {
                    group[..w].copy_from_slice(&data[at..at + w]);
                } else {
                    for (t, v) in group[..w].iter_mut().enumerate() {
                        *v = data[at + t * st];
                    }
                }
                group[w..].fill(0.0);
            }
        }
    }

    /// The `MR × NR` product of one packed `lhs` strip and one packed `rhs` strip, of equal depth.
    #[inline(always)]
    fn tile(a: &[f32], b: &[f32]) -> [[F4; NV]; MR] {
        let kc = a.len() / MR;
        assert!(a.len() == kc * MR && b.len() == kc * NR);
        let mut acc = [[F4::splat(0.0); NV]; MR];
        let (a, b) = (a.as_ptr(), b.as_ptr());
        for p in 0..kc {
            // SAFETY: p < kc, and the strips hold kc·MR and kc·NR values (asserted above).
            unsafe {
                let bv: [F4; NV] = std::array::from_fn(|v| F4::read(b.add(p * NR + 4 * v)));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let x = F4::splat(*a.add(p * MR + i));
                    for (acc, b) in acc.iter_mut().zip(bv) {
                        *acc = x.madd(b, *acc);
                    }
                }
            }
        }
        acc
    }

    /// Writes (`first`) or adds a tile's `rows × cols` corner at `(row, col)` of `dst` (`ld`
    /// columns).
    #[inline(always)]
    fn store(
        dst: &mut [f32],
        ld: usize,
        [row, col]: [usize; 2],
        [rows, cols]: [usize; 2],
        acc: &[[F4; NV]; MR],
        first: bool,
    ) {
        if cols == NR {
            for (i, acc) in acc.iter().enumerate().take(rows) {
                let out = &mut dst[(row + i) * ld + col..][..NR];
                for (acc, out) in acc.iter().zip(out.chunks_exact_mut(4)) {
                    if first {
                        acc.store(out);
                    } else {
                        acc.add(F4::load(out)).store(out);
                    }
                }
            }
            return;
        }
        let mut values = [0f32; NR];
        for (i, acc) in acc.iter().enumerate().take(rows) {
            for (acc, v) in acc.iter().zip(values.chunks_exact_mut(4)) {
                acc.store(v);
            }
            let out = &mut dst[(row + i) * ld + col..][..cols];
            for (o, v) in out.iter_mut().zip(values) {
                *o = if first { v } else { *o + v };
            }
        }
    }
}

#[cfg(any(test, target_family = "wasm"))]
pub(crate) use kernel::packed;

#[cfg(test)]
mod tests {
    use super::kernel::{KC, MC, MR, NC, NR};
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as f32 / u32::MAX as f32 - 0.5
            })
            .collect()
    }

    /// Both kernels (the packed one the browser runs, and the `gemm` crate natively) against a
    /// plain f64 triple loop, for both layouts of `lhs` and sizes around every block edge, and
    /// the native bands.
    #[test]
    fn products_equal_the_definition() {
        let sizes = [
            [1, 1, 1],
            [3, 5, 2],
            [4, 8, 7],
            [5, 9, 3],
            [MR * 3 + 1, NR * 2 - 1, 17],
            [MC + 3, 37, KC + 5],
            [70, NC + 11, 9],
            [64, 196, 2 * KC + 1],
            // Natively split in bands over the cores: of rows (m ≥ n), of columns (m < n).
            [515, 37, 61],
            [33, 1001, 40],
            [2, 3, 0],
        ];
        for (t, &[m, n, k]) in sizes.iter().enumerate() {
            let a = values(m * k, 2 * t as u32 + 1);
            let b = values(k * n, 2 * t as u32 + 2);
            let mut want = vec![0f64; m * n];
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] = (0..k)
                        .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                        .sum();
                }
            }
            // The same lhs stored transposed (k × m).
            let mut at = vec![0f32; k * m];
            for i in 0..m {
                for p in 0..k {
                    at[p * m + i] = a[i * k + p];
                }
            }
            let lhs = [Mat::rows(&a, k), Mat::transposed(&at, m)];
            for (l, lhs) in lhs.into_iter().enumerate() {
                let mut ours = vec![f32::NAN; m * n];
                packed(&mut ours, n, lhs, Mat::rows(&b, n), [m, n, k]);
                let mut crate_ = vec![f32::NAN; m * n];
                // Three cores, so that the bands are uneven.
                #[cfg(not(target_family = "wasm"))]
                let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build();
                #[cfg(not(target_family = "wasm"))]
                pool.unwrap().install(|| {
                    matmul(&mut crate_, lhs, Mat::rows(&b, n), [m, n, k], true).unwrap()
                });
                #[cfg(target_family = "wasm")]
                matmul(&mut crate_, lhs, Mat::rows(&b, n), [m, n, k], true).unwrap();
                for (name, got) in [("packed", &ours), ("matmul", &crate_)] {
                    let err = got
                        .iter()
                        .zip(&want)
                        .map(|(g, w)| (*g as f64 - w).abs())
                        // NaN (an element never written) counts as the largest error.
                        .fold(0.0, |a: f64, e| if e > a || e.is_nan() { e } else { a });
                    let tol = 1e-6 * (k as f64).max(1.0);
                    assert!(
                        err <= tol,
                        "{name} {m}×{n}×{k} (lhs layout {l}): off by {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_sizes_that_do_not_fit() {
        let a = vec![0f32; 6];
        let mut dst = vec![0f32; 4];
        assert!(
            matmul(
                &mut dst,
                Mat::rows(&a, 3),
                Mat::rows(&a, 2),
                [2, 2, 3],
                false
            )
            .is_ok()
        );
        assert!(
            matmul(
                &mut dst,
                Mat::rows(&a, 3),
                Mat::rows(&a, 2),
                [2, 2, 4],
                false
            )
            .is_err()
        );
        assert!(
            matmul(
                &mut dst[..3],
                Mat::rows(&a, 3),
                Mat::rows(&a, 2),
                [2, 2, 3],
                false
            )
            .is_err()
        );
    }
}
