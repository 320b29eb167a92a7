//! The wide-row exponential pass of cross-entropy for `f32` on AVX-512: `sum(exp(x - m))`,
//! optionally storing each exponential.
//!
//! The portable kernels build `2^k` from bits, with a clamp and a select around it; AVX-512
//! has `vscalefps`, which applies `2^k` in one step and flushes to zero on its own, cutting
//! the exponential from about 17 vector operations to 11. The sum keeps the portable order
//! (64 lane-wise sums added pairwise, then the tail), so only the last bits of each
//! exponential differ from the portable build.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::loss::fastmath::{fold_lanes, prefetch, F32_EXP, F32_LN2_HI, F32_LN2_LO, LANES};

/// True when the CPU has what the AVX-512 builds of the cross-entropy kernels are compiled
/// for: AVX-512 F, DQ and VL, AVX2 and FMA, and `FERROGRAD_AVX512` is not `0` (checked once).
/// With the variable at `0` the AVX2 builds run instead, as on CPUs without AVX-512 (to
/// compare, or where AVX-512 lowers the clock).
#[cfg(target_arch = "x86_64")]
pub fn available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::env::var_os("FERROGRAD_AVX512").is_none_or(|v| v != "0")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
    })
}

#[cfg(not(target_arch = "x86_64"))]
pub fn available() -> bool {
    false
}

/// `e^x` for `x <= 0` or NaN, 16 lanes at a time. Inputs below -104 give 0 (the clamp also
/// keeps `-inf` from turning into NaN); between about -87.3 and -104 the result is subnormal.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn exp_nonpos(x: __m512) -> __m512 {
    // max(lo, x) returns x when x is NaN.
    let xc = _mm512_max_ps(_mm512_set1_ps(-104.0), x);
    let k = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(F32_LN2_HI), xc);
    let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(F32_LN2_LO), r);
    let mut p = _mm512_set1_ps(F32_EXP[6]);
    for &c in F32_EXP[..6].iter().rev() {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(p, k)
}

/// A finished row to stream out during [`exp_sum`]: `dst[i] = src[i] * scale`, less `fix.1`
/// at `i == fix.0`.
pub struct Stream<'a> {
    pub dst: &'a mut [f32],
    pub src: &'a [f32],
    pub scale: f32,
    pub fix: (usize, f32),
}

/// Writes `s.dst[start..start + len]` (`len <= 16`) with a plain masked store.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn store_part(s: &mut Stream<'_>, start: usize, len: usize) {
    if len == 0 {
        return;
    }
    let mask = ((1u32 << len) - 1) as __mmask16;
    // SAFETY: the mask limits both accesses to `len <= 16` elements from `start`, which the
    // callers keep inside both slices.
    unsafe {
        let v = _mm512_maskz_loadu_ps(mask, s.src.as_ptr().add(start));
        let v = fixed(s, start, _mm512_mul_ps(v, _mm512_set1_ps(s.scale)));
        _mm512_mask_storeu_ps(s.dst.as_mut_ptr().add(start), mask, v);
    }
}

/// `v` (the scaled elements `start..start + 16`) with the fix-up applied if it falls there.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn fixed(s: &Stream<'_>, start: usize, v: __m512) -> __m512 {
    match s.fix.0.checked_sub(start) {
        Some(j) if j < 16 => _mm512_mask_sub_ps(v, 1 << j, v, _mm512_set1_ps(s.fix.1)),
        _ => v,
    }
}

/// `sum(exp(x - m))` over a row, writing each exponential to `out` when given. Before each
/// block of `LANES` elements, the matching part of `ahead` is prefetched; alongside, the row
/// `stream` (of the same length) is scaled and written out with streaming stores, so the
/// stores drain while the exponentials are computed.
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]); `out` and `stream`, when given, have `x`'s
/// length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn exp_sum(
    x: &[f32],
    m: f32,
    out: Option<&mut [f32]>,
    ahead: &[f32],
    stream: Option<Stream<'_>>,
) -> f32 {
    // One loop for each case, so none of them tests for the others inside.
    match (out.is_some(), stream.is_some()) {
        (true, true) => exp_sum_with::<true, true>(x, m, out, ahead, stream),
        (true, false) => exp_sum_with::<true, false>(x, m, out, ahead, stream),
        (false, true) => exp_sum_with::<false, true>(x, m, out, ahead, stream),
        (false, false) => exp_sum_with::<false, false>(x, m, out, ahead, stream),
    }
}

/// [`exp_sum`] with `out` given when `OUT` and `stream` given when `STREAM`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn exp_sum_with<const OUT: bool, const STREAM: bool>(
    x: &[f32],
    m: f32,
    mut out: Option<&mut [f32]>,
    ahead: &[f32],
    mut stream: Option<Stream<'_>>,
) -> f32 {
    const _: () = assert!(LANES == 64, "the four accumulators cover LANES lanes");
    let n = x.len();
    assert_eq!(out.is_some(), OUT, "exp_sum: output");
    assert_eq!(stream.is_some(), STREAM, "exp_sum: stream");
    if let Some(o) = out.as_deref() {
        assert_eq!(o.len(), n, "exp_sum: output length");
    }
    // The streamed row: its first `head` elements with plain stores, then aligned blocks.
    let head = match stream.as_mut() {
        Some(s) => {
            assert!(
                s.dst.len() == n && s.src.len() == n,
                "exp_sum: stream length"
            );
            let head = ((64 - s.dst.as_ptr() as usize % 64) % 64 / 4).min(n);
            store_part(s, 0, head);
            head
        }
        None => 0,
    };
    let body = (n - head) / LANES;
    let scale = _mm512_set1_ps(stream.as_ref().map_or(0.0, |s| s.scale));
    let (dst, src) = match stream.as_mut() {
        Some(s) => (s.dst.as_mut_ptr(), s.src.as_ptr()),
        None => (std::ptr::null_mut(), std::ptr::null()),
    };
    let op = out
        .as_deref_mut()
        .map_or(std::ptr::null_mut(), |o| o.as_mut_ptr());
    // The one block of LANES streamed elements that holds the fix-up (if any).
    let fix_block = stream
        .as_ref()
        .and_then(|s| s.fix.0.checked_sub(head))
        .map_or(usize::MAX, |d| d / LANES);
    let mv = _mm512_set1_ps(m);
    let mut acc = [_mm512_setzero_ps(); 4];
    let full = n / LANES;
    let xp = x.as_ptr();
    for i in 0..full {
        if let Some(a) = ahead.get(i * LANES..) {
            prefetch(&a[..a.len().min(LANES)]);
        }
        for (j, a) in acc.iter_mut().enumerate() {
            let at = i * LANES + j * 16;
            // SAFETY: `at + 16 <= full * LANES <= n`.
            let v = unsafe { _mm512_loadu_ps(xp.add(at)) };
            let e = exp_nonpos(_mm512_sub_ps(v, mv));
            if OUT {
                // SAFETY: `out` has `n` elements.
                unsafe { _mm512_storeu_ps(op.add(at), e) };
            }
            *a = _mm512_add_ps(*a, e);
        }
        if STREAM && i < body {
            for j in 0..4 {
                let at = head + i * LANES + j * 16;
                // SAFETY: `at + 16 <= head + body * LANES <= n`; `dst + at` is 64-byte aligned.
                unsafe {
                    let mut v = _mm512_mul_ps(_mm512_loadu_ps(src.add(at)), scale);
                    if i == fix_block {
                        if let Some(s) = stream.as_ref() {
                            v = fixed(s, at, v);
                        }
                    }
                    _mm512_stream_ps(dst.add(at), v);
                }
            }
        }
    }
    // The tail, added one by one as in the portable kernel.
    let mut s = 0.0f32;
    let mut at = full * LANES;
    while at < n {
        let len = (n - at).min(16);
        let mask: __mmask16 = ((1u32 << len) - 1) as __mmask16;
        // SAFETY: the mask limits the access to the `len` elements left.
        let v = unsafe { _mm512_maskz_loadu_ps(mask, xp.add(at)) };
        let mut e = [0.0f32; 16];
        // SAFETY: `e` holds 16 values.
        unsafe { _mm512_storeu_ps(e.as_mut_ptr(), exp_nonpos(_mm512_sub_ps(v, mv))) };
        for (k, &v) in e[..len].iter().enumerate() {
            if let Some(o) = out.as_deref_mut() {
                o[at + k] = v;
            }
            s += v;
        }
        at += len;
    }
    if let Some(st) = stream.as_mut() {
        let mut at = head + body * LANES;
        while at < n {
            let len = (n - at).min(16);
            store_part(st, at, len);
            at += len;
        }
    }
    let mut lanes = [0.0f32; LANES];
    for (j, a) in acc.iter().enumerate() {
        // SAFETY: `lanes` holds 4 x 16 values.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr().add(j * 16), *a) };
    }
    fold_lanes(lanes) + s
}

/// Positions handled together by [`group_exp`].
pub const GROUP: usize = 16;

/// For `GROUP` positions whose class-`k` scores are `x[k * ld..k * ld + GROUP]` (`k < c`):
/// each position's maximum over the classes (NaN skipped, as the portable kernel does) and its
/// `sum(exp(x - max))`, writing each exponential to `out[k * old..]` when given.
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn group_exp(
    x: &[f32],
    ld: usize,
    c: usize,
    mut out: Option<(&mut [f32], usize)>,
) -> ([f32; GROUP], [f32; GROUP]) {
    let (mut m, mut s) = ([0.0f32; GROUP], [0.0f32; GROUP]);
    if c == 0 {
        return ([f32::NEG_INFINITY; GROUP], s);
    }
    assert!(x.len() >= (c - 1) * ld + GROUP, "group_exp: scores");
    if let Some((o, old)) = out.as_ref() {
        assert!(o.len() >= (c - 1) * old + GROUP, "group_exp: output");
    }
    let xp = x.as_ptr();
    let mut mv = _mm512_set1_ps(f32::NEG_INFINITY);
    for k in 0..c {
        // SAFETY: inside `x` (asserted above).
        let v = unsafe { _mm512_loadu_ps(xp.add(k * ld)) };
        // max(v, m) is m when v is NaN.
        mv = _mm512_max_ps(v, mv);
    }
    let mut sv = _mm512_setzero_ps();
    for k in 0..c {
        // SAFETY: inside `x` (asserted above).
        let v = unsafe { _mm512_loadu_ps(xp.add(k * ld)) };
        let e = exp_nonpos(_mm512_sub_ps(v, mv));
        if let Some((o, old)) = out.as_mut() {
            // SAFETY: inside `o` (asserted above).
            unsafe { _mm512_storeu_ps(o.as_mut_ptr().add(k * *old), e) };
        }
        sv = _mm512_add_ps(sv, e);
    }
    // SAFETY: both arrays hold GROUP = 16 values.
    unsafe {
        _mm512_storeu_ps(m.as_mut_ptr(), mv);
        _mm512_storeu_ps(s.as_mut_ptr(), sv);
    }
    (m, s)
}

/// Placeholder off x86_64: [`available`] is false there, so this is never called.
///
/// # Safety
/// Never to be called.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn group_exp(
    _x: &[f32],
    _ld: usize,
    _c: usize,
    _out: Option<(&mut [f32], usize)>,
) -> ([f32; GROUP], [f32; GROUP]) {
    unreachable!("exp512::group_exp called without AVX-512")
}

/// Placeholder off x86_64: [`available`] is false there, so this is never called.
///
/// # Safety
/// Never to be called.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn exp_sum(
    _x: &[f32],
    _m: f32,
    _out: Option<&mut [f32]>,
    _ahead: &[f32],
    _stream: Option<Stream<'_>>,
) -> f32 {
    unreachable!("exp512::exp_sum called without AVX-512")
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp_and_keeps_nan() {
        if !available() {
            return;
        }
        let x: Vec<f32> = (0..3000).map(|i| -(i as f32) * 0.037).collect();
        let mut out = vec![0.0f32; x.len()];
        let s = unsafe { exp_sum(&x, 0.0, Some(&mut out), &[], None) };
        let mut want = 0.0f64;
        for (&v, &e) in x.iter().zip(&out) {
            let r = (v as f64).exp();
            want += r;
            if r > 1e-37 {
                assert!(
                    ((e as f64) - r).abs() <= 3e-7 * r,
                    "exp({v}) = {e}, want {r}"
                );
            } else {
                assert!((e as f64) <= 2e-37);
            }
        }
        assert!(((s as f64) - want).abs() <= 1e-6 * want);
        let special = [f32::NEG_INFINITY, -1e30, -104.5, f32::NAN, 0.0, -0.0];
        let mut out = [1.0f32; 6];
        unsafe { exp_sum(&special, 0.0, Some(&mut out), &[], None) };
        assert_eq!(&out[..3], &[0.0, 0.0, 0.0]);
        assert!(out[3].is_nan());
        assert_eq!(&out[4..], &[1.0, 1.0]);
    }

    #[test]
    fn group_exp_matches_the_formula() {
        if !available() {
            return;
        }
        let (c, ld) = (5, 20);
        let mut x: Vec<f32> = (0..c * ld)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.9)
            .collect();
        x[2 * ld + 3] = f32::NAN;
        let mut out = vec![0.0f32; c * 17];
        let (m, s) = unsafe { group_exp(&x, ld, c, Some((&mut out, 17))) };
        for j in 0..GROUP {
            let col: Vec<f32> = (0..c).map(|k| x[k * ld + j]).collect();
            let want_m = col
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .fold(f32::MIN, f32::max);
            assert_eq!(m[j], want_m);
            let want_s: f64 = col.iter().map(|&v| ((v - want_m) as f64).exp()).sum();
            if j == 3 {
                assert!(s[j].is_nan() && out[2 * 17 + 3].is_nan());
            } else {
                assert!(
                    ((s[j] as f64) - want_s).abs() <= 1e-6 * want_s,
                    "{} vs {want_s}",
                    s[j]
                );
                let e = ((col[1] - want_m) as f64).exp();
                assert!(((out[17 + j] as f64) - e).abs() <= 3e-7 * e);
            }
        }
    }

    #[test]
    fn streams_a_scaled_row_at_any_alignment() {
        if !available() {
            return;
        }
        for n in [0, 5, 16, 64, 100, 1000, 1037] {
            let x: Vec<f32> = (0..n).map(|i| -(i as f32) * 0.01).collect();
            let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
            for offset in 0..17 {
                let mut dst = vec![-1.0f32; n + 17];
                let fix = (n / 3, 0.5);
                let stream = Stream {
                    dst: &mut dst[offset..offset + n],
                    src: &src,
                    scale: 2.0,
                    fix,
                };
                unsafe { exp_sum(&x, 0.0, None, &[], Some(stream)) };
                crate::runtime::stream::fence();
                for i in 0..n {
                    let want = src[i] * 2.0 - if i == fix.0 { 0.5 } else { 0.0 };
                    assert_eq!(dst[offset + i], want, "n {n}, offset {offset}, i {i}");
                }
                assert!(dst[..offset].iter().all(|&v| v == -1.0));
                assert!(dst[offset + n..].iter().all(|&v| v == -1.0));
            }
        }
    }
}
