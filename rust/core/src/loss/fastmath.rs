//! Fast elementwise math shared by the loss kernels: branch-free `exp` and `ln` polynomials
//! the compiler can vectorise ([`FastMath`]), the lane count of wide reductions, folding the
//! lanes, and cache prefetching.

use crate::real::Real;

/// A float type with branch-free `exp` and `ln` that the compiler can vectorise.
///
/// Both are accurate to a few units in the last place. `fast_exp` gives exactly 0 below the
/// underflow threshold and for `-inf`, `+inf` above the overflow threshold, and propagates NaN.
/// `fast_ln` gives `-inf` at 0, NaN below 0 and for NaN, `+inf` at `+inf`, and handles
/// subnormal inputs.
///
/// The `*_with::<FMA>` forms are the same functions written with fused multiply-adds when
/// `FMA` is true; that is only fast in code compiled for a CPU with FMA instructions (the
/// kernels pick it in their AVX2 build), and may differ from the plain form in the last bit.
pub trait FastMath: Real {
    /// `e^self`.
    fn fast_exp(self) -> Self;
    /// `e^self` for `self <= 0` or NaN (such as scores minus their maximum), in fewer steps
    /// than [`FastMath::fast_exp`]; larger inputs give unspecified results.
    #[inline(always)]
    fn fast_exp_nonpos(self) -> Self {
        self.exp_nonpos_with::<false>()
    }
    /// `ln(self)`.
    #[inline(always)]
    fn fast_ln(self) -> Self {
        self.ln_with::<false>()
    }
    /// [`FastMath::fast_exp_nonpos`], with fused multiply-adds when `FMA`.
    fn exp_nonpos_with<const FMA: bool>(self) -> Self;
    /// [`FastMath::fast_ln`], with fused multiply-adds when `FMA`.
    fn ln_with<const FMA: bool>(self) -> Self;
}

/// `a * b + c`, fused when `FMA`.
#[inline(always)]
pub(crate) fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Horner's rule over `coef` (constant term first).
#[inline(always)]
pub(crate) fn horner<T: Real, const FMA: bool, const N: usize>(x: T, coef: &[T; N]) -> T {
    let mut p = coef[N - 1];
    for &c in coef[..N - 1].iter().rev() {
        p = madd::<T, FMA>(p, x, c);
    }
    p
}

/// 1.5 * 2^23: adding it rounds an f32 to an integer held in the low mantissa bits.
pub(crate) const F32_SHIFT: f32 = 12_582_912.0;
/// ln 2 split so that `k * F32_LN2_HI` is exact for |k| < 2^8.
pub(crate) const F32_LN2_HI: f32 = 0.693_359_4;
pub(crate) const F32_LN2_LO: f32 = -2.121_944_4e-4;
/// `e^r` on `|r| <= ln(2)/2`: a degree-6 polynomial fitted for relative error (below 2e-9).
pub(crate) const F32_EXP: [f32; 7] = [
    1.0,
    1.000_000_0,
    0.499_999_9,
    0.166_664_2,
    0.041_668_226,
    0.008_374_816,
    0.001_383_684_6,
];
/// `2 atanh(s) / (2 s)` in powers of `s^2` on `|s| < 0.1716` (truncation error below 3e-9).
pub(crate) const F32_LN: [f32; 5] = [1.0, 1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0];

/// 1.5 * 2^52.
pub(crate) const F64_SHIFT: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that `k * F64_LN2_HI` is exact for |k| < 2^11 (its low 32 bits are zero).
pub(crate) const F64_LN2_HI: f64 = 6.931_471_803_691_238e-1;
pub(crate) const F64_LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `e^r` on `|r| <= ln(2)/2`: the Taylor polynomial of degree 13 (error below 1e-17).
pub(crate) const F64_EXP: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];
/// `2 atanh(s) / (2 s)` in powers of `s^2` up to `s^20` (truncation error below 1e-18).
pub(crate) const F64_LN: [f64; 11] = [
    1.0,
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
];

impl FastMath for f32 {
    #[inline(always)]
    fn fast_exp(self) -> f32 {
        const LO: f32 = -87.336_55;
        const HI: f32 = 88.722_84;
        let x = self;
        // clamp keeps NaN, so NaN flows through to the result.
        let xc = x.clamp(LO, HI);
        let t = xc * std::f32::consts::LOG2_E + F32_SHIFT;
        let k = t - F32_SHIFT;
        let ki = t.to_bits().wrapping_sub(F32_SHIFT.to_bits()) as i32;
        let r = (xc - k * F32_LN2_HI) - k * F32_LN2_LO;
        let p = horner::<f32, false, 7>(r, &F32_EXP);
        // 2^k as two factors so that k = 128 (x near HI) still has a representable half.
        let k1 = ki >> 1;
        let s1 = f32::from_bits((k1.wrapping_add(127) as u32).wrapping_shl(23));
        let s2 = f32::from_bits(((ki - k1).wrapping_add(127) as u32).wrapping_shl(23));
        let y = p * s1 * s2;
        if x < LO {
            0.0
        } else if x > HI {
            f32::INFINITY
        } else {
            y
        }
    }

    #[inline(always)]
    fn exp_nonpos_with<const FMA: bool>(self) -> f32 {
        const LO: f32 = -87.336_55;
        let x = self;
        let xc = if x < LO { LO } else { x };
        let t = madd::<f32, FMA>(xc, std::f32::consts::LOG2_E, F32_SHIFT);
        let k = t - F32_SHIFT;
        let ki = t.to_bits().wrapping_sub(F32_SHIFT.to_bits()) as i32;
        let r = madd::<f32, FMA>(-k, F32_LN2_LO, madd::<f32, FMA>(-k, F32_LN2_HI, xc));
        // k is in [-126, 0], so 2^k is one normal factor.
        let scale = f32::from_bits((ki.wrapping_add(127) as u32).wrapping_shl(23));
        let y = horner::<f32, FMA, 7>(r, &F32_EXP) * scale;
        if x < LO {
            0.0
        } else {
            y
        }
    }

    #[inline(always)]
    fn ln_with<const FMA: bool>(self) -> f32 {
        // Bits of sqrt(1/2): the mantissa is brought into [sqrt(1/2), sqrt(2)).
        const SQRT_HALF: i32 = 0x3f35_04f3;
        let x = self;
        let tiny = x < f32::MIN_POSITIVE;
        let xs = if tiny { x * 8_388_608.0 } else { x };
        let bits = (xs.to_bits() as i32).wrapping_add(0x3f80_0000 - SQRT_HALF);
        let k = ((bits >> 23) - 0x7f) as f32 - if tiny { 23.0 } else { 0.0 };
        let m = f32::from_bits(((bits & 0x007f_ffff) + SQRT_HALF) as u32);
        // ln(m) = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.1716.
        let s = (m - 1.0) / (m + 1.0);
        let p = 2.0 * s * horner::<f32, FMA, 5>(s * s, &F32_LN);
        let y = madd::<f32, FMA>(k, F32_LN2_HI, madd::<f32, FMA>(k, F32_LN2_LO, p));
        if x > 0.0 {
            if x == f32::INFINITY {
                x
            } else {
                y
            }
        } else if x == 0.0 {
            f32::NEG_INFINITY
        } else {
            f32::NAN
        }
    }
}

impl FastMath for f64 {
    #[inline(always)]
    fn fast_exp(self) -> f64 {
        const LO: f64 = -708.396_418_532_264_1;
        const HI: f64 = 709.782_712_893_384;
        let x = self;
        let xc = x.clamp(LO, HI);
        let t = xc * std::f64::consts::LOG2_E + F64_SHIFT;
        let k = t - F64_SHIFT;
        let ki = t.to_bits().wrapping_sub(F64_SHIFT.to_bits()) as i64;
        let r = (xc - k * F64_LN2_HI) - k * F64_LN2_LO;
        let p = horner::<f64, false, 14>(r, &F64_EXP);
        let k1 = ki >> 1;
        let s1 = f64::from_bits((k1.wrapping_add(1023) as u64).wrapping_shl(52));
        let s2 = f64::from_bits(((ki - k1).wrapping_add(1023) as u64).wrapping_shl(52));
        let y = p * s1 * s2;
        if x < LO {
            0.0
        } else if x > HI {
            f64::INFINITY
        } else {
            y
        }
    }

    #[inline(always)]
    fn exp_nonpos_with<const FMA: bool>(self) -> f64 {
        const LO: f64 = -708.396_418_532_264_1;
        let x = self;
        let xc = if x < LO { LO } else { x };
        let t = madd::<f64, FMA>(xc, std::f64::consts::LOG2_E, F64_SHIFT);
        let k = t - F64_SHIFT;
        let ki = t.to_bits().wrapping_sub(F64_SHIFT.to_bits()) as i64;
        let r = madd::<f64, FMA>(-k, F64_LN2_LO, madd::<f64, FMA>(-k, F64_LN2_HI, xc));
        // k is in [-1022, 0], so 2^k is one normal factor.
        let scale = f64::from_bits((ki.wrapping_add(1023) as u64).wrapping_shl(52));
        let y = horner::<f64, FMA, 14>(r, &F64_EXP) * scale;
        if x < LO {
            0.0
        } else {
            y
        }
    }

    #[inline(always)]
    fn ln_with<const FMA: bool>(self) -> f64 {
        const SQRT_HALF: i64 = 0x3fe6_a09e_667f_3bcd;
        let x = self;
        let tiny = x < f64::MIN_POSITIVE;
        let xs = if tiny { x * 4_503_599_627_370_496.0 } else { x };
        let bits = (xs.to_bits() as i64).wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF);
        let k = ((bits >> 52) - 0x3ff) as f64 - if tiny { 52.0 } else { 0.0 };
        let m = f64::from_bits(((bits & 0x000f_ffff_ffff_ffff) + SQRT_HALF) as u64);
        let s = (m - 1.0) / (m + 1.0);
        let p = 2.0 * s * horner::<f64, FMA, 11>(s * s, &F64_LN);
        let y = madd::<f64, FMA>(k, F64_LN2_HI, madd::<f64, FMA>(k, F64_LN2_LO, p));
        if x > 0.0 {
            if x == f64::INFINITY {
                x
            } else {
                y
            }
        } else if x == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        }
    }
}

/// Lanes used by the reductions along a wide row (enough independent sums to hide latency).
pub(crate) const LANES: usize = 64;

/// Asks the CPU to start loading `s` into cache (a hint; no effect on results).
#[inline(always)]
pub(crate) fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let p = s.as_ptr() as *const i8;
        for off in (0..std::mem::size_of_val(s)).step_by(64) {
            // SAFETY: a prefetch never faults, and the address is inside `s`.
            unsafe { _mm_prefetch(p.add(off), _MM_HINT_T1) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// Adds the lanes pairwise.
#[inline(always)]
pub(crate) fn fold_lanes<T: Real>(mut acc: [T; LANES]) -> T {
    let mut width = LANES / 2;
    while width > 0 {
        for k in 0..width {
            acc[k] = acc[k] + acc[k + width];
        }
        width /= 2;
    }
    acc[0]
}

/// True when the CPU has AVX2 and FMA, what the AVX2 builds are compiled for.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}
