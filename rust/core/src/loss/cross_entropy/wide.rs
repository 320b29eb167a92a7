//! Cross-entropy over wide rows (at least `WIDE` classes): one row at a time with lane-wise
//! reductions, streaming the gradient past the cache when the rows are large.

use crate::loss::class_input::*;
use crate::loss::fastmath::*;
use crate::loss::simd::exp512;
use crate::real::Real;
use crate::runtime::scratch::{give_back, take_scratch};
use crate::runtime::stream::copy_streaming;

/// Rows at least this wide are processed one at a time with lane-wise reductions.
pub(crate) const WIDE: usize = 64;

#[inline(always)]
pub(crate) fn max2<T: Real>(a: T, b: T) -> T {
    // NaN is skipped here; it still reaches the result through `x - max`.
    if b > a {
        b
    } else {
        a
    }
}

#[inline(always)]
pub(crate) fn row_max<T: Real>(x: &[T]) -> T {
    let mut acc = [T::neg_infinity(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for ch in &mut chunks {
        for k in 0..LANES {
            acc[k] = max2(acc[k], ch[k]);
        }
    }
    let mut m = T::neg_infinity();
    for &v in acc.iter().chain(chunks.remainder()) {
        m = max2(m, v);
    }
    m
}

/// `sum(exp(x - m))`, also writing each `exp(x - m)` to `out` when given, and prefetching
/// `ahead` (the next row) along the way.
#[inline(always)]
pub(crate) fn exp_sum<T: FastMath, const FMA: bool>(
    x: &[T],
    m: T,
    out: Option<&mut [T]>,
    ahead: &[T],
) -> T {
    if is_f32::<T>() && exp512::available() {
        // SAFETY: `T` is `f32`, and the CPU has AVX-512F.
        return unsafe { exp_sum_512(x, m, out, ahead, None) };
    }
    let Some(out) = out else {
        let mut acc = [T::zero(); LANES];
        let mut ahead = ahead.chunks(LANES);
        let mut xs = x.chunks_exact(LANES);
        for xc in &mut xs {
            if let Some(a) = ahead.next() {
                prefetch(a);
            }
            for k in 0..LANES {
                acc[k] = acc[k] + (xc[k] - m).exp_nonpos_with::<FMA>();
            }
        }
        let mut s = T::zero();
        for &v in xs.remainder() {
            s = s + (v - m).exp_nonpos_with::<FMA>();
        }
        return fold_lanes(acc) + s;
    };
    exp_sum_streaming::<T, FMA>(x, m, out, ahead, None)
}

/// The target-dependent terms of a row whose maximum is `m`: the loss is
/// `lin + mass * ln(sum(exp(x - m)))` and the gradient `a * (mass * softmax - direct)`.
/// `None` for an ignored row.
///
/// For a label `y`: `mass = (1 - eps) w_y + eps W / C` and the direct term is `(1 - eps) w_y` at
/// `y` plus `eps w_c / C` at every class. For probabilities with `t'_c = (1 - eps) t_c + eps / C`:
/// `mass = sum_c w_c t'_c` and the direct term is `w_c t'_c`.
#[inline(always)]
pub(crate) fn row_terms<T: Real>(
    p: &Plan<'_, T>,
    tgt: &Rows<'_, T>,
    r: usize,
    xr: &[T],
    m: T,
) -> Option<(T, T)> {
    let c = p.classes;
    match tgt {
        Rows::Index(lab) => {
            let y = lab[r];
            if y == p.ignore {
                return None;
            }
            let y = y as usize;
            let wy = p.w(y);
            let mut lin = -(p.keep * wy * (xr[y] - m));
            if p.smoothing {
                let wz = match p.weight {
                    Some(w) => xr
                        .iter()
                        .zip(w)
                        .fold(T::zero(), |a, (&v, &w)| a + w * (v - m)),
                    None => xr.iter().fold(T::zero(), |a, &v| a + (v - m)),
                };
                lin = lin - p.spread * wz;
            }
            Some((lin, p.keep * wy + p.spread * p.weight_sum))
        }
        Rows::Prob(t) => {
            let tr = &t[r * c..(r + 1) * c];
            let (mut wtz, mut wt) = (T::zero(), T::zero());
            for (k, (&v, &tv)) in xr.iter().zip(tr).enumerate() {
                let q = p.w(k) * (p.keep * tv + p.spread);
                wtz = wtz + q * (v - m);
                wt = wt + q;
            }
            Some((-wtz, wt))
        }
    }
}

/// Turns the exponentials `er` of row `r` (sum `s`) into its gradient, given the row's
/// coefficient `a` and `mass` (see [`row_terms`]).
#[inline(always)]
pub(crate) fn row_grad<T: Real>(
    p: &Plan<'_, T>,
    tgt: &Rows<'_, T>,
    r: usize,
    er: &mut [T],
    s: T,
    a: T,
    mass: T,
) {
    let f = a * mass / s;
    for v in er.iter_mut() {
        *v = *v * f;
    }
    match tgt {
        Rows::Index(lab) => {
            let y = lab[r] as usize;
            er[y] = er[y] - a * p.keep * p.w(y);
            if p.smoothing {
                let d = a * p.spread;
                match p.weight {
                    Some(w) => {
                        for (v, &wc) in er.iter_mut().zip(w) {
                            *v = *v - d * wc;
                        }
                    }
                    None => {
                        for v in er.iter_mut() {
                            *v = *v - d;
                        }
                    }
                }
            }
        }
        Rows::Prob(t) => {
            let tr = &t[r * p.classes..(r + 1) * p.classes];
            for (k, (v, &tv)) in er.iter_mut().zip(tr).enumerate() {
                *v = *v - a * p.w(k) * (p.keep * tv + p.spread);
            }
        }
    }
}

/// Cross-entropy of consecutive wide rows `x` of `C` scores, one row at a time: one pass for
/// the maximum and one that exponentiates, sums and (for the gradient) stores. Writes each
/// row's loss to `loss` and, with `coef`, its gradient to `grad`. Ignored rows get a zero loss
/// and a zero gradient.
#[inline(always)]
pub(crate) fn ce_rows_wide<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    mut grad: Option<&mut [T]>,
    mut loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    let c = p.classes;
    for r in 0..x.len() / c {
        let xr = &x[r * c..(r + 1) * c];
        let m = row_max(xr);
        let terms = row_terms(p, &tgt, r, xr, m);
        let mut er = grad.as_deref_mut().map(|g| &mut g[r * c..(r + 1) * c]);
        let Some((lin, mass)) = terms else {
            if let Some(l) = loss.as_deref_mut() {
                l[r] = T::zero();
            }
            if let Some(er) = er {
                er.fill(T::zero());
            }
            continue;
        };
        let ahead = x.get((r + 1) * c..(r + 2) * c).unwrap_or(p.after);
        let s = exp_sum::<T, FMA>(xr, m, er.as_deref_mut(), ahead);
        if let Some(l) = loss.as_deref_mut() {
            l[r] = lin + mass * s.ln_with::<FMA>();
        }
        if let (Some(er), Some(cf)) = (er, coef) {
            row_grad(p, &tgt, r, er, s, cf.at(r), mass);
        }
    }
}

/// True when `T` is `f32` (which has dedicated AVX-512 code); decided at compile time.
#[inline(always)]
pub(crate) fn is_f32<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

/// [`exp512::exp_sum`] on slices of a `T` that is `f32`.
///
/// # Safety
/// `T` must be `f32` ([`is_f32`]) and the CPU must have AVX-512F.
#[inline(always)]
pub(crate) unsafe fn exp_sum_512<T: FastMath>(
    x: &[T],
    m: T,
    out: Option<&mut [T]>,
    ahead: &[T],
    pending: Option<Pending<'_, T>>,
) -> T {
    debug_assert!(is_f32::<T>());
    let to_f32 = |v: T| v.to_f32().unwrap_or(f32::NAN);
    // SAFETY (all casts): `T` is `f32`.
    let stream = pending.map(|p| exp512::Stream {
        dst: unsafe { as_f32_mut(p.dst) },
        src: unsafe { as_f32(p.src) },
        scale: to_f32(p.scale),
        fix: (p.fix.0, to_f32(p.fix.1)),
    });
    let out = out.map(|o| unsafe { as_f32_mut(o) });
    let s = unsafe { exp512::exp_sum(as_f32(x), to_f32(m), out, as_f32(ahead), stream) };
    T::c(s as f64)
}

/// `v` as the `f32` slice it is.
///
/// # Safety
/// `T` must be `f32`.
#[inline(always)]
pub(crate) unsafe fn as_f32<T>(v: &[T]) -> &[f32] {
    // SAFETY: `T` is `f32`, so the layout is the same.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const f32, v.len()) }
}

/// `v` as the `f32` slice it is.
///
/// # Safety
/// `T` must be `f32`.
#[inline(always)]
pub(crate) unsafe fn as_f32_mut<T>(v: &mut [T]) -> &mut [f32] {
    // SAFETY: `T` is `f32`, so the layout is the same.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut f32, v.len()) }
}

/// [`exp512::group_exp`] on slices of a `T` that is `f32`, writing the exponentials to the
/// gradient columns from position `g0` on.
///
/// # Safety
/// `T` must be `f32` ([`is_f32`]) and the CPU must have AVX-512F.
#[inline(always)]
pub(crate) unsafe fn group_exp_512<T: FastMath>(
    x: &[T],
    ld: usize,
    c: usize,
    grad: Option<&mut (&mut [T], usize)>,
    g0: usize,
) -> ([T; exp512::GROUP], [T; exp512::GROUP]) {
    debug_assert!(is_f32::<T>());
    // SAFETY (all casts): `T` is `f32`.
    let out = grad.map(|(g, gld)| (unsafe { as_f32_mut(&mut g[g0..]) }, *gld));
    let (m, s) = unsafe { exp512::group_exp(as_f32(x), ld, c, out) };
    (m.map(|v| T::c(v as f64)), s.map(|v| T::c(v as f64)))
}

/// A finished gradient row waiting to be streamed out: `dst[i] = src[i] * scale`, less `fix.1`
/// at `i == fix.0`.
pub(crate) struct Pending<'a, T> {
    dst: &'a mut [T],
    src: &'a [T],
    scale: T,
    fix: (usize, T),
}

/// Streams out chunk `i` (of `LANES` elements) of a pending row.
#[inline(always)]
pub(crate) fn flush_chunk<T: Real>(p: &mut Pending<'_, T>, i: usize) {
    let start = i * LANES;
    let n = LANES.min(p.src.len() - start);
    let mut tmp = [T::zero(); LANES];
    for (t, &v) in tmp[..n].iter_mut().zip(&p.src[start..start + n]) {
        *t = v * p.scale;
    }
    if let Some(t) = p.fix.0.checked_sub(start).and_then(|j| tmp[..n].get_mut(j)) {
        *t = *t - p.fix.1;
    }
    copy_streaming(&mut p.dst[start..start + n], &tmp[..n]);
}

/// [`exp_sum`] writing each `exp(x - m)` to `out`, while streaming out the row `pending`
/// (of the same length, when given) chunk by chunk, so the stores drain while the
/// exponentials are computed.
#[inline(always)]
pub(crate) fn exp_sum_streaming<T: FastMath, const FMA: bool>(
    x: &[T],
    m: T,
    out: &mut [T],
    ahead: &[T],
    mut pending: Option<Pending<'_, T>>,
) -> T {
    if is_f32::<T>() && exp512::available() {
        // SAFETY: `T` is `f32`, and the CPU has AVX-512F.
        return unsafe { exp_sum_512(x, m, Some(out), ahead, pending) };
    }
    let mut acc = [T::zero(); LANES];
    let mut ahead = ahead.chunks(LANES);
    let mut xs = x.chunks_exact(LANES);
    let mut os = out.chunks_exact_mut(LANES);
    for (i, (xc, oc)) in (&mut xs).zip(&mut os).enumerate() {
        if let Some(a) = ahead.next() {
            prefetch(a);
        }
        for k in 0..LANES {
            let e = (xc[k] - m).exp_nonpos_with::<FMA>();
            oc[k] = e;
            acc[k] = acc[k] + e;
        }
        if let Some(p) = pending.as_mut() {
            flush_chunk(p, i);
        }
    }
    let mut s = T::zero();
    for (&v, o) in xs.remainder().iter().zip(os.into_remainder()) {
        let e = (v - m).exp_nonpos_with::<FMA>();
        *o = e;
        s = s + e;
    }
    if let Some(p) = pending.as_mut() {
        for i in x.len() / LANES..x.len().div_ceil(LANES) {
            flush_chunk(p, i);
        }
    }
    fold_lanes(acc) + s
}

/// [`ce_rows_wide`] for a gradient too large to stay in cache: each row is built in one of two
/// cached buffers and streamed out while the next row is computed.
#[inline(always)]
pub(crate) fn ce_rows_wide_streaming<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    grad: &mut [T],
    mut loss: Option<&mut [T]>,
    coef: Coef<'_, T>,
) {
    let c = p.classes;
    let mut buffers = take_scratch(2 * c);
    let (mut cur, mut prev) = buffers[..2 * c].split_at_mut(c);
    let mut pending: Option<Pending<'_, T>> = None;
    for (r, gr) in grad.chunks_exact_mut(c).enumerate() {
        let xr = &x[r * c..(r + 1) * c];
        let m = row_max(xr);
        let Some((lin, mass)) = row_terms(p, &tgt, r, xr, m) else {
            if let Some(l) = loss.as_deref_mut() {
                l[r] = T::zero();
            }
            gr.fill(T::zero());
            continue;
        };
        let ahead = x.get((r + 1) * c..(r + 2) * c).unwrap_or(p.after);
        let s = exp_sum_streaming::<T, FMA>(xr, m, cur, ahead, pending.take());
        if let Some(l) = loss.as_deref_mut() {
            l[r] = lin + mass * s.ln_with::<FMA>();
        }
        let a = coef.at(r);
        let (scale, fix) = match tgt {
            Rows::Index(lab) if !p.smoothing => {
                let y = lab[r] as usize;
                // What `row_grad` computes, applied on the way out.
                (a * mass / s, (y, a * p.keep * p.w(y)))
            }
            _ => {
                row_grad(p, &tgt, r, cur, s, a, mass);
                (T::one(), (usize::MAX, T::zero()))
            }
        };
        std::mem::swap(&mut cur, &mut prev);
        pending = Some(Pending {
            dst: gr,
            src: &*prev,
            scale,
            fix,
        });
    }
    if let Some(mut p) = pending {
        for i in 0..c.div_ceil(LANES) {
            flush_chunk(&mut p, i);
        }
    }
    give_back(buffers);
}
