//! Cross-entropy of narrow `f32` rows (2 to 16 classes) with class-index targets on AVX-512,
//! 16 rows at a time.
//!
//! The portable narrow kernel copies tiles of rows into columns and back with scalar moves,
//! and those moves cost more than the arithmetic. Here the scores of each class for 16 rows
//! are gathered straight into one register, the whole computation stays in registers, and
//! the gradient goes out through a small buffer that is read back with gathers in row order,
//! so it leaves in whole 64-byte vectors (streamed when the plan asks for it and the address
//! allows). Every value is computed with the same operations in the same order as the
//! portable AVX-512 build, so the results are bit for bit the same (NaN results aside, whose
//! sign may differ).

use std::arch::x86_64::*;

use super::exp512::exp_nonpos;
use crate::loss::class_input::{Coef, Plan};
use crate::loss::fastmath::{prefetch, FastMath};

/// Rows handled together: one per vector lane.
pub(crate) const TILE: usize = 16;

/// The widest rows handled here.
pub(crate) const MAX_CLASSES: usize = 16;

/// Column buffer of one tile's gradient, aligned to a cache line.
#[repr(C, align(64))]
struct Buf([f32; TILE * MAX_CLASSES]);

/// Cross-entropy of the first `16 * floor(rows / 16)` rows of `x` (rows of `p.classes`
/// values, `2 <= p.classes <= 16`; else nothing is done) with labels `lab`: the losses into
/// `loss` and the gradient (with `coef`) into `grad`, as the portable kernel. Returns the
/// number of rows done.
///
/// Labels must already be checked: each is in `0..p.classes` or equal to `p.ignore`.
///
/// # Safety
/// The CPU must have AVX-512 F, DQ and VL ([`super::exp512::available`]).
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
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

/// `$tiles::<C>(args)` for the row width `$c` as the constant `C`, for every width the tile
/// kernels handle (2 to [`MAX_CLASSES`]); 0 rows done for any other width.
macro_rules! by_classes {
    ($c:expr, $tiles:ident($($arg:expr),*)) => {
        match $c {
            2 => $tiles::<2>($($arg),*),
            3 => $tiles::<3>($($arg),*),
            4 => $tiles::<4>($($arg),*),
            5 => $tiles::<5>($($arg),*),
            6 => $tiles::<6>($($arg),*),
            7 => $tiles::<7>($($arg),*),
            8 => $tiles::<8>($($arg),*),
            9 => $tiles::<9>($($arg),*),
            10 => $tiles::<10>($($arg),*),
            11 => $tiles::<11>($($arg),*),
            12 => $tiles::<12>($($arg),*),
            13 => $tiles::<13>($($arg),*),
            14 => $tiles::<14>($($arg),*),
            15 => $tiles::<15>($($arg),*),
            16 => $tiles::<16>($($arg),*),
            _ => 0,
        }
    };
}
pub(crate) use by_classes;

/// [`ce_tiles`] for rows of `C` classes.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
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
    let row_at = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(C as i32),
    );
    let back = back_table::<C, TILE>();
    let mut buf = Buf([0.0; TILE * MAX_CLASSES]);
    let ignore = _mm512_set1_epi64(p.ignore);
    let keep = _mm512_set1_ps(p.keep);
    let spread_mass = _mm512_set1_ps(p.spread * p.weight_sum);
    let xp = x.as_ptr();
    for r in (0..done).step_by(TILE) {
        prefetch(x.get((r + 4 * TILE) * C..(r + 5 * TILE) * C).unwrap_or(&[]));
        // SAFETY: every offset below is inside the tile's rows `r..r + 16`, all below `done`.
        let base = unsafe { xp.add(r * C) };
        let mut col = [_mm512_setzero_ps(); C];
        let mut m = _mm512_set1_ps(f32::NEG_INFINITY);
        for (k, v) in col.iter_mut().enumerate() {
            let at = _mm512_add_epi32(row_at, _mm512_set1_epi32(k as i32));
            // SAFETY: as above.
            *v = unsafe { _mm512_i32gather_ps::<4>(at, base) };
            // max(v, m) is m when v is NaN, as in the portable kernel.
            m = _mm512_max_ps(*v, m);
        }
        let mut e = [_mm512_setzero_ps(); C];
        let mut s = _mm512_setzero_ps();
        for k in 0..C {
            e[k] = exp_nonpos(_mm512_sub_ps(col[k], m));
            s = _mm512_add_ps(s, e[k]);
        }
        // SAFETY: rows r..r + 16 have labels.
        let (l0, l1) = unsafe {
            (
                _mm512_loadu_epi64(lab.as_ptr().add(r)),
                _mm512_loadu_epi64(lab.as_ptr().add(r + 8)),
            )
        };
        let skip = (_mm512_cmpeq_epi64_mask(l0, ignore) as u16)
            | ((_mm512_cmpeq_epi64_mask(l1, ignore) as u16) << 8);
        let y = _mm512_inserti64x4::<1>(
            _mm512_castsi256_si512(_mm512_cvtepi64_epi32(l0)),
            _mm512_cvtepi64_epi32(l1),
        );
        // Ignored rows read class 0, whose result is then discarded. The labels were checked,
        // but they are borrowed from an array another thread could change since; the clamp
        // keeps every read inside the tile whatever they hold.
        let y = _mm512_maskz_mov_epi32(!skip, y);
        let y = _mm512_min_epu32(y, _mm512_set1_epi32(C as i32 - 1));
        // SAFETY: y is in 0..C on every lane (clamped above), so inside the tile.
        let xy = unsafe { _mm512_i32gather_ps::<4>(_mm512_add_epi32(row_at, y), base) };
        let wy = match p.weight {
            // SAFETY: y is in 0..C (clamped) and the weights have at least C values.
            Some(w) => unsafe { _mm512_i32gather_ps::<4>(y, w.as_ptr()) },
            None => _mm512_set1_ps(1.0),
        };
        // The loss of row j is lin + mass * ln(s); see `row_terms` in the portable kernel.
        let kw = _mm512_mul_ps(keep, wy);
        let mut lin = neg(_mm512_mul_ps(kw, _mm512_sub_ps(xy, m)));
        let mass = _mm512_add_ps(kw, spread_mass);
        if p.smoothing {
            for (k, &v) in col.iter().enumerate() {
                let d = _mm512_set1_ps(p.spread * p.w(k));
                lin = _mm512_sub_ps(lin, _mm512_mul_ps(d, _mm512_sub_ps(v, m)));
            }
        }
        if let Some(out) = loss.as_deref_mut() {
            let (mut la, mut ma, mut sa) = ([0f32; TILE], [0f32; TILE], [0f32; TILE]);
            // SAFETY: each array holds 16 values.
            unsafe {
                _mm512_storeu_ps(la.as_mut_ptr(), lin);
                _mm512_storeu_ps(ma.as_mut_ptr(), mass);
                _mm512_storeu_ps(sa.as_mut_ptr(), s);
            }
            for j in 0..TILE {
                la[j] += ma[j] * sa[j].ln_with::<true>();
            }
            // SAFETY: rows r..r + 16 have losses.
            unsafe {
                let v = _mm512_maskz_mov_ps(!skip, _mm512_loadu_ps(la.as_ptr()));
                _mm512_storeu_ps(out.as_mut_ptr().add(r), v);
            }
        }
        let (Some(g), Some(cf)) = (grad.as_deref_mut(), coef) else {
            continue;
        };
        let a = match cf {
            Coef::All(v) => _mm512_set1_ps(v),
            // SAFETY: rows r..r + 16 have coefficients.
            Coef::Each(c) => unsafe { _mm512_loadu_ps(c.as_ptr().add(r)) },
        };
        let a = _mm512_maskz_mov_ps(!skip, a);
        let f = _mm512_div_ps(_mm512_mul_ps(a, mass), s);
        let fix = _mm512_mul_ps(_mm512_mul_ps(a, keep), wy);
        for (k, &ek) in e.iter().enumerate() {
            let mut v = _mm512_mul_ps(ek, f);
            if p.smoothing {
                let d = _mm512_set1_ps(p.spread * p.w(k));
                v = _mm512_sub_ps(v, _mm512_mul_ps(a, d));
            }
            let is_y = _mm512_mask_cmpeq_epi32_mask(!skip, y, _mm512_set1_epi32(k as i32));
            v = _mm512_mask_sub_ps(v, is_y, v, fix);
            v = _mm512_maskz_mov_ps(!skip, v);
            // SAFETY: the buffer holds 16 rows of up to 16 classes.
            unsafe { _mm512_store_ps(buf.0.as_mut_ptr().add(k * TILE), v) };
        }
        // SAFETY: the tile's gradient is `16 * C` values from `r * C`, inside `g`.
        let out = unsafe { g.as_mut_ptr().add(r * C) };
        let stream = p.stream && (out as usize).is_multiple_of(64);
        for (i, b) in back.iter().enumerate() {
            // SAFETY: every index is below 16 * C, inside the buffer; `out + 16 i` is inside
            // the tile's gradient, and 64-byte aligned when streamed.
            unsafe {
                let idx = _mm512_loadu_epi32(b.as_ptr());
                let v = _mm512_i32gather_ps::<4>(idx, buf.0.as_ptr());
                if stream {
                    _mm512_stream_ps(out.add(i * TILE), v);
                } else {
                    _mm512_storeu_ps(out.add(i * TILE), v);
                }
            }
        }
    }
    done
}

/// A tile kernel's gradient, losses and gradient coefficients (each when wanted).
type Outputs<'a> = (Option<&'a [f32]>, Option<&'a [f32]>, Option<Coef<'a, f32>>);

/// Checks the bounds the tile kernels' pointers stay within, for rows of `c` classes in
/// tiles of `tile` rows, and returns the number of rows in whole tiles.
pub(crate) fn whole_tiles(
    p: &Plan<'_, f32>,
    c: usize,
    tile: usize,
    (x, lab): (&[f32], &[i64]),
    (grad, loss, coef): Outputs<'_>,
) -> usize {
    let rows = (x.len() / c).min(lab.len());
    let done = rows / tile * tile;
    assert!(x.len() >= done * c && lab.len() >= done, "ce_tiles: input");
    if let Some(g) = grad {
        assert!(g.len() >= done * c, "ce_tiles: gradient");
    }
    if let Some(l) = loss {
        assert!(l.len() >= done, "ce_tiles: loss");
    }
    if let Some(Coef::Each(cf)) = coef {
        assert!(cf.len() >= done, "ce_tiles: coefficients");
    }
    if let Some(w) = p.weight {
        assert!(w.len() >= c, "ce_tiles: weights");
    }
    done
}

/// Where the gradient of a tile of `T` rows of `C` classes is read back from its column
/// buffer: element `T * i + l` of the tile (row-major) is row `(T i + l) / C`, class
/// `(T i + l) % C`, kept in the buffer at `class * T + row`.
pub(crate) fn back_table<const C: usize, const T: usize>() -> [[i32; T]; C] {
    let mut back = [[0i32; T]; C];
    for (i, b) in back.iter_mut().enumerate() {
        for (l, v) in b.iter_mut().enumerate() {
            let q = i * T + l;
            *v = ((q % C) * T + q / C) as i32;
        }
    }
    back
}

/// `-v`, as the portable kernel's negation (a sign flip).
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn neg(v: __m512) -> __m512 {
    _mm512_xor_ps(v, _mm512_set1_ps(-0.0))
}
