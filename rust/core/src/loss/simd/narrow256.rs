//! Cross-entropy of narrow `f32` rows (2 to 16 classes) with class-index targets on AVX2, 8
//! rows at a time: the AVX2 counterpart of [`super::narrow512`], for CPUs without AVX-512.
//!
//! The scores of each class for 8 rows are gathered into one register, the computation stays
//! in registers, and the gradient leaves through a small column buffer read back with gathers
//! in row order, 32 bytes at a time. Every value is computed with the operations of the
//! portable kernel's AVX2 build, in its order (its exponential included), so the results are
//! bit for bit the same (NaN results aside, whose sign may differ).

use std::arch::x86_64::*;

use super::narrow512::{back_table, by_classes, whole_tiles, MAX_CLASSES};
use crate::loss::class_input::{Coef, Plan};
use crate::loss::fastmath::{prefetch, FastMath, F32_EXP, F32_LN2_HI, F32_LN2_LO};

/// Rows handled together: one per vector lane.
const TILE: usize = 8;

/// Column buffer of one tile's gradient, aligned to a cache line.
#[repr(C, align(64))]
struct Buf([f32; TILE * MAX_CLASSES]);

/// Cross-entropy of the first `8 * floor(rows / 8)` rows of `x` (rows of `p.classes` values,
/// `2 <= p.classes <= 16`; else nothing is done) with labels `lab`, as
/// [`super::narrow512::ce_tiles`]. Returns the number of rows done.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn ce_tiles(
    p: &Plan<'_, f32>,
    x: &[f32],
    lab: &[i64],
    grad: Option<&mut [f32]>,
    loss: Option<&mut [f32]>,
    coef: Option<Coef<'_, f32>>,
) -> usize {
    by_classes!(p.classes, tiles(p, x, lab, grad, loss, coef))
}

/// `e^x` for `x <= 0` or NaN, as the portable `exp_nonpos_with::<true>` computes it.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp_nonpos(x: __m256) -> __m256 {
    const LO: f32 = -87.336_55;
    const SHIFT: f32 = 12_582_912.0;
    let lo = _mm256_set1_ps(LO);
    let below = _mm256_cmp_ps::<_CMP_LT_OQ>(x, lo);
    let xc = _mm256_blendv_ps(x, lo, below);
    let shift = _mm256_set1_ps(SHIFT);
    let t = _mm256_fmadd_ps(xc, _mm256_set1_ps(std::f32::consts::LOG2_E), shift);
    let k = _mm256_sub_ps(t, shift);
    let ki = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(shift));
    let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(F32_LN2_HI), xc);
    let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(F32_LN2_LO), r);
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        ki,
        _mm256_set1_epi32(127),
    )));
    let mut q = _mm256_set1_ps(F32_EXP[6]);
    for &c in F32_EXP[..6].iter().rev() {
        q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(c));
    }
    _mm256_andnot_ps(below, _mm256_mul_ps(q, scale))
}

/// The low 32 bits of the eight 64-bit lanes of `a` and `b`, in order.
#[inline]
#[target_feature(enable = "avx2")]
fn narrow(a: __m256i, b: __m256i) -> __m256i {
    let pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    let lo = _mm256_permutevar8x32_epi32(a, pick);
    let hi = _mm256_permutevar8x32_epi32(b, pick);
    _mm256_permute2x128_si256::<0x20>(lo, hi)
}

/// [`ce_tiles`] for rows of `C` classes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn tiles<const C: usize>(
    p: &Plan<'_, f32>,
    x: &[f32],
    lab: &[i64],
    mut grad: Option<&mut [f32]>,
    mut loss: Option<&mut [f32]>,
    coef: Option<Coef<'_, f32>>,
) -> usize {
    let done = whole_tiles(
        p,
        C,
        TILE,
        (x, lab),
        (grad.as_deref(), loss.as_deref(), coef),
    );
    // Lane j of a tile is row j: its class-k score sits at `j * C + k` from the tile start.
    let row_at = _mm256_mullo_epi32(
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        _mm256_set1_epi32(C as i32),
    );
    let back = back_table::<C, TILE>();
    let mut buf = Buf([0.0; TILE * MAX_CLASSES]);
    let ignore = _mm256_set1_epi64x(p.ignore);
    let keep = _mm256_set1_ps(p.keep);
    let spread_mass = _mm256_set1_ps(p.spread * p.weight_sum);
    let sign = _mm256_set1_ps(-0.0);
    let xp = x.as_ptr();
    for r in (0..done).step_by(TILE) {
        prefetch(x.get((r + 8 * TILE) * C..(r + 9 * TILE) * C).unwrap_or(&[]));
        // SAFETY: every offset below is inside the tile's rows `r..r + 8`, all below `done`.
        let base = unsafe { xp.add(r * C) };
        let mut col = [_mm256_setzero_ps(); C];
        let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
        for (k, v) in col.iter_mut().enumerate() {
            let at = _mm256_add_epi32(row_at, _mm256_set1_epi32(k as i32));
            // SAFETY: as above.
            *v = unsafe { _mm256_i32gather_ps::<4>(base, at) };
            // max(v, m) is m when v is NaN, as in the portable kernel.
            m = _mm256_max_ps(*v, m);
        }
        let mut e = [_mm256_setzero_ps(); C];
        let mut s = _mm256_setzero_ps();
        for k in 0..C {
            e[k] = exp_nonpos(_mm256_sub_ps(col[k], m));
            s = _mm256_add_ps(s, e[k]);
        }
        // SAFETY: rows r..r + 8 have labels.
        let (l0, l1) = unsafe {
            (
                _mm256_loadu_si256(lab.as_ptr().add(r) as *const __m256i),
                _mm256_loadu_si256(lab.as_ptr().add(r + 4) as *const __m256i),
            )
        };
        let skip = narrow(
            _mm256_cmpeq_epi64(l0, ignore),
            _mm256_cmpeq_epi64(l1, ignore),
        );
        let skipf = _mm256_castsi256_ps(skip);
        // Ignored rows read class 0, whose result is then discarded; the clamp keeps every
        // read inside the tile even if another thread changed the labels since they were
        // checked.
        let y = _mm256_andnot_si256(skip, narrow(l0, l1));
        let y = _mm256_min_epu32(y, _mm256_set1_epi32(C as i32 - 1));
        // SAFETY: y is in 0..C on every lane (clamped above), so inside the tile.
        let xy = unsafe { _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(row_at, y)) };
        let wy = match p.weight {
            // SAFETY: y is in 0..C (clamped) and the weights have at least C values.
            Some(w) => unsafe { _mm256_i32gather_ps::<4>(w.as_ptr(), y) },
            None => _mm256_set1_ps(1.0),
        };
        // The loss of row j is lin + mass * ln(s); see `row_terms` in the portable kernel.
        let kw = _mm256_mul_ps(keep, wy);
        let mut lin = _mm256_xor_ps(_mm256_mul_ps(kw, _mm256_sub_ps(xy, m)), sign);
        let mass = _mm256_add_ps(kw, spread_mass);
        if p.smoothing {
            for (k, &v) in col.iter().enumerate() {
                let d = _mm256_set1_ps(p.spread * p.w(k));
                lin = _mm256_sub_ps(lin, _mm256_mul_ps(d, _mm256_sub_ps(v, m)));
            }
        }
        if let Some(out) = loss.as_deref_mut() {
            let (mut la, mut ma, mut sa) = ([0f32; TILE], [0f32; TILE], [0f32; TILE]);
            // SAFETY: each array holds 8 values.
            unsafe {
                _mm256_storeu_ps(la.as_mut_ptr(), lin);
                _mm256_storeu_ps(ma.as_mut_ptr(), mass);
                _mm256_storeu_ps(sa.as_mut_ptr(), s);
            }
            for j in 0..TILE {
                la[j] += ma[j] * sa[j].ln_with::<true>();
            }
            // SAFETY: rows r..r + 8 have losses.
            unsafe {
                let v = _mm256_andnot_ps(skipf, _mm256_loadu_ps(la.as_ptr()));
                _mm256_storeu_ps(out.as_mut_ptr().add(r), v);
            }
        }
        let (Some(g), Some(cf)) = (grad.as_deref_mut(), coef) else {
            continue;
        };
        let a = match cf {
            Coef::All(v) => _mm256_set1_ps(v),
            // SAFETY: rows r..r + 8 have coefficients.
            Coef::Each(c) => unsafe { _mm256_loadu_ps(c.as_ptr().add(r)) },
        };
        let a = _mm256_andnot_ps(skipf, a);
        let f = _mm256_div_ps(_mm256_mul_ps(a, mass), s);
        let fix = _mm256_mul_ps(_mm256_mul_ps(a, keep), wy);
        for (k, &ek) in e.iter().enumerate() {
            let mut v = _mm256_mul_ps(ek, f);
            if p.smoothing {
                let d = _mm256_set1_ps(p.spread * p.w(k));
                v = _mm256_sub_ps(v, _mm256_mul_ps(a, d));
            }
            let is_y = _mm256_castsi256_ps(_mm256_andnot_si256(
                skip,
                _mm256_cmpeq_epi32(y, _mm256_set1_epi32(k as i32)),
            ));
            v = _mm256_blendv_ps(v, _mm256_sub_ps(v, fix), is_y);
            v = _mm256_andnot_ps(skipf, v);
            // SAFETY: the buffer holds 8 rows of up to 16 classes.
            unsafe { _mm256_store_ps(buf.0.as_mut_ptr().add(k * TILE), v) };
        }
        // SAFETY: the tile's gradient is `8 * C` values from `r * C`, inside `g`.
        let out = unsafe { g.as_mut_ptr().add(r * C) };
        let stream = p.stream && (out as usize).is_multiple_of(32);
        for (i, b) in back.iter().enumerate() {
            // SAFETY: every index is below 8 * C, inside the buffer; `out + 8 i` is inside the
            // tile's gradient, and 32-byte aligned when streamed.
            unsafe {
                let idx = _mm256_loadu_si256(b.as_ptr() as *const __m256i);
                let v = _mm256_i32gather_ps::<4>(buf.0.as_ptr(), idx);
                if stream {
                    _mm256_stream_ps(out.add(i * TILE), v);
                } else {
                    _mm256_storeu_ps(out.add(i * TILE), v);
                }
            }
        }
    }
    done
}
