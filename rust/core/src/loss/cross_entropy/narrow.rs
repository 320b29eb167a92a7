//! Cross-entropy over narrow rows and spatial inputs: positions side by side, class by class
//! (rows transposed to columns in cache-sized tiles when needed).

use super::wide::*;
use crate::loss::class_input::*;
use crate::loss::fastmath::*;
use crate::loss::simd::exp512;
#[cfg(target_arch = "x86_64")]
use crate::loss::simd::{narrow256, narrow512};
use crate::runtime::stream::copy_streaming;

/// Positions handled together by the column kernel.
pub(crate) const TP: usize = 64;

/// Positions whose maxima and sums the column kernel keeps in registers at once.
pub(crate) const GP: usize = exp512::GROUP;

/// For the `len <= GP` positions from `g0` on (class `k` of position `j` at `x[k * ld + j]`):
/// each one's maximum over the `c` classes and its `sum(exp(x - max))`, writing each
/// exponential to the gradient columns when given. Called with `len == GP` the loops have a
/// fixed length, so the maxima and sums stay in registers.
#[inline(always)]
pub(crate) fn group_max_exp<T: FastMath, const FMA: bool>(
    x: &[T],
    ld: usize,
    c: usize,
    g0: usize,
    len: usize,
    mut grad: Option<&mut (&mut [T], usize)>,
) -> ([T; GP], [T; GP]) {
    let mut mg = [T::neg_infinity(); GP];
    for k in 0..c {
        let v = &x[k * ld + g0..k * ld + g0 + len];
        for l in 0..len {
            mg[l] = max2(mg[l], v[l]);
        }
    }
    let mut sg = [T::zero(); GP];
    for k in 0..c {
        let v = &x[k * ld + g0..k * ld + g0 + len];
        match grad.as_deref_mut() {
            Some((g, gld)) => {
                let o = &mut g[k * *gld + g0..k * *gld + g0 + len];
                for l in 0..len {
                    let e = (v[l] - mg[l]).exp_nonpos_with::<FMA>();
                    o[l] = e;
                    sg[l] = sg[l] + e;
                }
            }
            None => {
                for l in 0..len {
                    sg[l] = sg[l] + (v[l] - mg[l]).exp_nonpos_with::<FMA>();
                }
            }
        }
    }
    (mg, sg)
}

/// The targets of up to `TP` positions in column layout.
#[derive(Clone, Copy)]
pub(crate) enum Cols<'a, T> {
    /// One label per position.
    Index(&'a [i64]),
    /// Probability of class `k` at position `j` at `t[k * ld + j]`.
    Prob(&'a [T], usize),
}

/// Cross-entropy of `n <= TP` positions whose scores are columns: the score of class `k` at
/// position `j` is `x[k * ld + j]`, and its gradient goes to `g[k * gld + j]`. Every loop
/// runs along the positions, so every step is vectorised.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn ce_cols<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    ld: usize,
    n: usize,
    tgt: Cols<'_, T>,
    mut grad: Option<(&mut [T], usize)>,
    loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    let c = p.classes;
    let col = |k: usize| &x[k * ld..k * ld + n];
    let mut m = [T::neg_infinity(); TP];
    let mut s = [T::zero(); TP];
    // Groups of `GP` positions with every class in turn, so each group's maximum and sum
    // stay in registers.
    let wide_exp = is_f32::<T>() && exp512::available();
    for g0 in (0..n).step_by(GP) {
        let len = GP.min(n - g0);
        let (mg, sg) = if len < GP {
            group_max_exp::<T, FMA>(x, ld, c, g0, len, grad.as_mut())
        } else if wide_exp {
            // SAFETY: `T` is `f32` and the CPU has AVX-512F; the slices start at the group.
            unsafe { group_exp_512(&x[g0..], ld, c, grad.as_mut(), g0) }
        } else {
            group_max_exp::<T, FMA>(x, ld, c, g0, GP, grad.as_mut())
        };
        m[g0..g0 + len].copy_from_slice(&mg[..len]);
        s[g0..g0 + len].copy_from_slice(&sg[..len]);
    }
    let m = &mut m[..n];
    let s = &mut s[..n];
    // The loss of position j is lin[j] + mass[j] * ln(s[j]); see `row_terms`.
    let mut lin = [T::zero(); TP];
    let mut mass = [T::zero(); TP];
    let mut skip = [false; TP];
    let mut any_skip = false;
    match tgt {
        Cols::Index(lab) => {
            for j in 0..n {
                let y = lab[j];
                if y == p.ignore {
                    skip[j] = true;
                    any_skip = true;
                    continue;
                }
                let y = y as usize;
                let wy = p.w(y);
                lin[j] = -(p.keep * wy * (x[y * ld + j] - m[j]));
                mass[j] = p.keep * wy + p.spread * p.weight_sum;
            }
            if p.smoothing {
                for k in 0..c {
                    let d = p.spread * p.w(k);
                    for ((l, &v), &mj) in lin.iter_mut().zip(col(k)).zip(&*m) {
                        *l = *l - d * (v - mj);
                    }
                }
            }
        }
        Cols::Prob(t, tld) => {
            for k in 0..c {
                let wk = p.w(k);
                let tc = &t[k * tld..k * tld + n];
                for ((((l, ms), &v), &mj), &tv) in lin
                    .iter_mut()
                    .zip(mass.iter_mut())
                    .zip(col(k))
                    .zip(&*m)
                    .zip(tc)
                {
                    let q = wk * (p.keep * tv + p.spread);
                    *l = *l - q * (v - mj);
                    *ms = *ms + q;
                }
            }
        }
    }
    if let Some(loss) = loss {
        for j in 0..n {
            let v = lin[j] + mass[j] * s[j].ln_with::<FMA>();
            loss[j] = if skip[j] { T::zero() } else { v };
        }
    }
    let (Some((g, gld)), Some(cf)) = (grad, coef) else {
        return;
    };
    let mut a = [T::zero(); TP];
    let mut f = [T::zero(); TP];
    for j in 0..n {
        a[j] = if skip[j] { T::zero() } else { cf.at(j) };
        f[j] = a[j] * mass[j] / s[j];
    }
    let (a, f) = (&a[..n], &f[..n]);
    match tgt {
        Cols::Index(lab) => {
            for k in 0..c {
                let out = &mut g[k * gld..k * gld + n];
                if p.smoothing {
                    let d = p.spread * p.w(k);
                    for ((o, &fj), &aj) in out.iter_mut().zip(f).zip(a) {
                        *o = *o * fj - aj * d;
                    }
                } else {
                    for (o, &fj) in out.iter_mut().zip(f) {
                        *o = *o * fj;
                    }
                }
            }
            for j in 0..n {
                if !skip[j] {
                    let y = lab[j] as usize;
                    let o = &mut g[y * gld + j];
                    *o = *o - a[j] * p.keep * p.w(y);
                }
            }
        }
        Cols::Prob(t, tld) => {
            for k in 0..c {
                let wk = p.w(k);
                let tc = &t[k * tld..k * tld + n];
                let out = &mut g[k * gld..k * gld + n];
                for (((o, &fj), &aj), &tv) in out.iter_mut().zip(f).zip(a).zip(tc) {
                    *o = *o * fj - aj * wk * (p.keep * tv + p.spread);
                }
            }
        }
    }
    if any_skip {
        for k in 0..c {
            for j in (0..n).filter(|&j| skip[j]) {
                g[k * gld + j] = T::zero();
            }
        }
    }
}

/// `f::<_, C>(args)` with the row width `c` as a compile-time constant `C` for the common
/// narrow widths (the copy's inner loop then unrolls into plain moves), else `other`.
macro_rules! by_width {
    ($c:expr, $f:ident, ($($arg:expr),*), $other:block) => {
        match $c {
            2 => $f::<_, 2>($($arg),*),
            3 => $f::<_, 3>($($arg),*),
            4 => $f::<_, 4>($($arg),*),
            5 => $f::<_, 5>($($arg),*),
            8 => $f::<_, 8>($($arg),*),
            10 => $f::<_, 10>($($arg),*),
            16 => $f::<_, 16>($($arg),*),
            _ => $other,
        }
    };
}

/// Copies `n` rows of `c` values (row-major) into columns of stride `TP`.
#[inline(always)]
pub(crate) fn rows_to_cols<T: Copy>(x: &[T], c: usize, n: usize, cols: &mut [T]) {
    /// The copy for a row width known at compile time (see `by_width!`).
    #[inline(always)]
    fn fixed<T: Copy, const C: usize>(x: &[T], n: usize, cols: &mut [T]) {
        for (j, row) in x[..n * C].chunks_exact(C).enumerate() {
            for k in 0..C {
                cols[k * TP + j] = row[k];
            }
        }
    }
    by_width!(c, fixed, (x, n, cols), {
        for (j, row) in x[..n * c].chunks_exact(c).enumerate() {
            for (k, &v) in row.iter().enumerate() {
                cols[k * TP + j] = v;
            }
        }
    })
}

/// Copies columns of stride `TP` back into `n` rows of `c` values.
#[inline(always)]
pub(crate) fn cols_to_rows<T: Copy>(cols: &[T], c: usize, n: usize, x: &mut [T]) {
    #[inline(always)]
    fn fixed<T: Copy, const C: usize>(cols: &[T], n: usize, x: &mut [T]) {
        for (j, row) in x[..n * C].chunks_exact_mut(C).enumerate() {
            for k in 0..C {
                row[k] = cols[k * TP + j];
            }
        }
    }
    by_width!(c, fixed, (cols, n, x), {
        for (j, row) in x[..n * c].chunks_exact_mut(c).enumerate() {
            for (k, v) in row.iter_mut().enumerate() {
                *v = cols[k * TP + j];
            }
        }
    })
}

/// Cross-entropy of consecutive narrow rows. In the FMA builds, `f32` class-index rows of up
/// to 16 classes go through `narrow512` (16 at a time) or `narrow256` (8 at a time, without
/// AVX-512); the rest (and every other case) in tiles of
/// `TP` rows that are turned into columns, run through [`ce_cols`], and their gradient turned
/// back into rows.
#[inline(always)]
pub(crate) fn ce_rows_narrow<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    mut grad: Option<&mut [T]>,
    mut loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    let c = p.classes;
    let nr = x.len() / c;
    let mut j0 = 0;
    #[cfg(target_arch = "x86_64")]
    if let Rows::Index(lab) = tgt {
        // The FMA builds only: the tile kernels compute as those do.
        if FMA && is_f32::<T>() && c <= narrow512::MAX_CLASSES {
            let avx512 = exp512::available();
            if avx512 || avx2_fma() {
                // SAFETY: `T` is `f32` (so every cast is to the same type) and the CPU has
                // what the kernel is compiled for.
                j0 = unsafe {
                    let (p, x) = (
                        &*(p as *const Plan<'_, T> as *const Plan<'_, f32>),
                        as_f32(x),
                    );
                    let g = grad.as_deref_mut().map(|g| as_f32_mut(g));
                    let l = loss.as_deref_mut().map(|l| as_f32_mut(l));
                    let cf = coef.map(|cf| std::mem::transmute_copy::<_, Coef<'_, f32>>(&cf));
                    if avx512 {
                        narrow512::ce_tiles(p, x, lab, g, l, cf)
                    } else {
                        narrow256::ce_tiles(p, x, lab, g, l, cf)
                    }
                };
            }
        }
    }
    if j0 == nr {
        return;
    }
    let mut xt = vec![T::zero(); c * TP];
    let mut tt = match tgt {
        Rows::Prob(_) => vec![T::zero(); c * TP],
        Rows::Index(_) => Vec::new(),
    };
    let mut gt = match grad {
        Some(_) => vec![T::zero(); c * TP],
        None => Vec::new(),
    };
    let mut rows = if p.stream {
        vec![T::zero(); c * TP]
    } else {
        Vec::new()
    };
    while j0 < nr {
        let n = TP.min(nr - j0);
        let next = (j0 + n)..(j0 + n + TP).min(nr);
        prefetch(&x[next.start * c..next.end * c]);
        if let Rows::Index(lab) = tgt {
            prefetch(&lab[next]);
        }
        rows_to_cols(&x[j0 * c..], c, n, &mut xt);
        let cols = match tgt {
            Rows::Index(lab) => Cols::Index(&lab[j0..j0 + n]),
            Rows::Prob(t) => {
                rows_to_cols(&t[j0 * c..], c, n, &mut tt);
                Cols::Prob(&tt, TP)
            }
        };
        let gcols = grad.as_ref().map(|_| (&mut gt[..], TP));
        let l = loss.as_deref_mut().map(|l| &mut l[j0..j0 + n]);
        let cf = coef.map(|cf| cf.slice(j0, n));
        ce_cols::<T, FMA>(p, &xt, TP, n, cols, gcols, l, cf);
        if let Some(g) = grad.as_deref_mut() {
            if p.stream {
                cols_to_rows(&gt, c, n, &mut rows);
                copy_streaming(&mut g[j0 * c..(j0 + n) * c], &rows[..n * c]);
            } else {
                cols_to_rows(&gt, c, n, &mut g[j0 * c..]);
            }
        }
        j0 += n;
    }
}
