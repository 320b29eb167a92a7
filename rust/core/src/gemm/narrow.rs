//! Products with a narrow output (fewer than 16 columns) and a short reduction, computed
//! row by row with AVX-512: each output row is a sum of the right operand's rows (held in 16
//! lanes, zero-padded), weighted by the left operand's elements. A classifier layer's
//! 10-column product is then a few thousand vector multiply-adds, where the `gemm` crate's
//! tiles and copies cost more than the arithmetic.

use super::View;
use crate::real::Real;
use crate::runtime::scratch;
use std::any::TypeId;

/// Lanes of the padded rows: the widest output this kernel takes.
pub(super) const LANES: usize = 16;

/// Products with more multiply-adds than this (m * n * k) go to the `gemm` crate.
pub(super) const MAX_MACS: usize = 1 << 22;

/// Reductions longer than this go to the `gemm` crate (the padded right operand would not
/// stay in cache).
pub(super) const MAX_DEPTH: usize = 2048;

/// Whether [`product`] runs here: AVX-512, a float type it has a kernel for, and a
/// row-major `lhs` (a column-major one is what the crate reads best).
pub(super) fn available<T: Real>(lhs: &View<T>) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let float =
            TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
        float && lhs.cs == 1 && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = lhs;
        false
    }
}

/// `dst (m x n, row stride ld) = [dst +] lhs (m x k) @ rhs (k x n)` for `n <= LANES`.
///
/// # Safety
/// [`available`] must hold for `T`; `dst` must address an m x n block with row stride `ld`;
/// the views must address valid m x k and k x n matrices.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn product<T: Real>(
    dst: *mut T,
    ld: usize,
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    accumulate: bool,
) {
    debug_assert!(n <= LANES && available::<T>(&lhs));
    let mut padded = scratch::take_scratch::<T>(k * LANES);
    for p in 0..k {
        let row = &mut padded[p * LANES..(p + 1) * LANES];
        for (j, v) in row.iter_mut().enumerate() {
            *v = if j < n {
                *rhs.ptr.offset(p as isize * rhs.rs + j as isize * rhs.cs)
            } else {
                T::zero()
            };
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        let a = Rows {
            dst,
            ld,
            m,
            n,
            k,
            lhs: lhs.ptr,
            rs: lhs.rs,
            cs: lhs.cs,
            padded: padded.as_ptr(),
            accumulate,
        };
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            avx512::rows_f32(&a.cast());
        } else {
            avx512::rows_f64(&a.cast());
        }
    }
    scratch::give_back(padded);
}

/// The operands of [`product`], the right one padded to `LANES` columns.
struct Rows<T> {
    dst: *mut T,
    ld: usize,
    m: usize,
    n: usize,
    k: usize,
    lhs: *const T,
    rs: isize,
    cs: isize,
    padded: *const T,
    accumulate: bool,
}

impl<T> Rows<T> {
    /// The same operands read as elements of `U` (the type `T` is, checked by the caller).
    #[cfg(target_arch = "x86_64")]
    fn cast<U>(&self) -> Rows<U> {
        Rows {
            dst: self.dst as *mut U,
            ld: self.ld,
            m: self.m,
            n: self.n,
            k: self.k,
            lhs: self.lhs as *const U,
            rs: self.rs,
            cs: self.cs,
            padded: self.padded as *const U,
            accumulate: self.accumulate,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Rows, LANES};
    use std::arch::x86_64::*;

    /// Rows handled together: independent accumulators hide the multiply-add latency.
    const BLOCK: usize = 8;

    /// # Safety
    /// The CPU must have AVX-512F; the pointers must address the matrices of `a`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rows_f32(a: &Rows<f32>) {
        let mask = ((1u32 << a.n) - 1) as __mmask16;
        let full = a.m / BLOCK * BLOCK;
        for i in (0..full).step_by(BLOCK) {
            block_f32::<BLOCK>(a, i, mask);
        }
        for i in full..a.m {
            block_f32::<1>(a, i, mask);
        }
    }

    #[inline(always)]
    unsafe fn block_f32<const R: usize>(a: &Rows<f32>, i: usize, mask: __mmask16) {
        let mut acc = [_mm512_setzero_ps(); R];
        for p in 0..a.k {
            let b = _mm512_loadu_ps(a.padded.add(p * LANES));
            let col = a.lhs.offset(p as isize * a.cs);
            for (r, s) in acc.iter_mut().enumerate() {
                let v = _mm512_set1_ps(*col.offset((i + r) as isize * a.rs));
                *s = _mm512_fmadd_ps(v, b, *s);
            }
        }
        for (r, s) in acc.iter().enumerate() {
            let out = a.dst.add((i + r) * a.ld);
            let v = if a.accumulate {
                _mm512_add_ps(*s, _mm512_maskz_loadu_ps(mask, out))
            } else {
                *s
            };
            _mm512_mask_storeu_ps(out, mask, v);
        }
    }

    /// # Safety
    /// As for [`rows_f32`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rows_f64(a: &Rows<f64>) {
        let bits = (1u32 << a.n) - 1;
        let masks = [(bits & 0xff) as __mmask8, (bits >> 8) as __mmask8];
        let full = a.m / BLOCK * BLOCK;
        for i in (0..full).step_by(BLOCK) {
            block_f64::<BLOCK>(a, i, masks);
        }
        for i in full..a.m {
            block_f64::<1>(a, i, masks);
        }
    }

    #[inline(always)]
    unsafe fn block_f64<const R: usize>(a: &Rows<f64>, i: usize, masks: [__mmask8; 2]) {
        let mut acc = [[_mm512_setzero_pd(); 2]; R];
        for p in 0..a.k {
            let row = a.padded.add(p * LANES);
            let b = [_mm512_loadu_pd(row), _mm512_loadu_pd(row.add(8))];
            let col = a.lhs.offset(p as isize * a.cs);
            for (r, s) in acc.iter_mut().enumerate() {
                let v = _mm512_set1_pd(*col.offset((i + r) as isize * a.rs));
                s[0] = _mm512_fmadd_pd(v, b[0], s[0]);
                s[1] = _mm512_fmadd_pd(v, b[1], s[1]);
            }
        }
        for (r, s) in acc.iter().enumerate() {
            let out = a.dst.add((i + r) * a.ld);
            for h in 0..2 {
                let o = out.add(8 * h);
                let v = if a.accumulate {
                    _mm512_add_pd(s[h], _mm512_maskz_loadu_pd(masks[h], o))
                } else {
                    s[h]
                };
                _mm512_mask_storeu_pd(o, masks[h], v);
            }
        }
    }
}
