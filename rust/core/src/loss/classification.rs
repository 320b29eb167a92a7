//! Classification losses with their gradients: `cross_entropy` (log-softmax and negative
//! log-likelihood fused, class-index or class-probability targets, class weights,
//! `ignore_index`, label smoothing), `nll_loss`, `binary_cross_entropy` and
//! `binary_cross_entropy_with_logits`, with PyTorch's semantics.
//!
//! Inputs of `cross_entropy` and `nll_loss` are `(C,)`, `(N, C)` or `(N, C, d1, ..., dk)`; the
//! class axis is axis 1 (axis 0 when unbatched), and each position `(n, d1, ..., dk)` is one
//! "row" of `C` scores. Rows are processed in parallel chunks; within a chunk every row is
//! handled in a few passes over cache-resident memory, with `exp` computed once per element by
//! a vectorisable polynomial ([`FastMath`]).
//!
//! ```
//! use ferrograd_core::loss::classification::{cross_entropy, ClassOptions, ClassTarget, View};
//! use ferrograd_core::loss::Reduction;
//! // log of the probabilities (0.228, 0.619, 0.153) as logits, target class 1.
//! let x = [0.228f64.ln(), 0.619f64.ln(), 0.153f64.ln()];
//! let opts = ClassOptions::new(Reduction::Mean);
//! let (loss, shape) =
//!     cross_entropy(View::new(&x, &[1, 3]), ClassTarget::Index(View::new(&[1], &[1])), &opts)
//!         .unwrap();
//! assert!(shape.is_empty());
//! // The probabilities sum to 1, so the loss is -ln(0.619) = 0.4797.
//! assert!((loss[0] + 0.619f64.ln()).abs() < 1e-12);
//! ```

use crate::buf;
use crate::error::Result;
use crate::loss::{check_grad_output, exp512, Reduction};
#[cfg(target_arch = "x86_64")]
use crate::loss::{narrow256, narrow512};
use crate::parallel::{first_position, for_each_row, map_chunks, worth_parallel, PAR_CHUNK};
use crate::real::Real;
use crate::scratch::{give_back, take_scratch};
use crate::shape::{broadcasts_to, fmt_shape, numel, RowWalk};
use crate::stream::{copy_streaming, fence, STREAM_MIN_BYTES};
use crate::team;
use crate::{shape_err, value_err};

// ============================================================================ exp and ln

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
fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Horner's rule over `coef` (constant term first).
#[inline(always)]
fn horner<T: Real, const FMA: bool, const N: usize>(x: T, coef: &[T; N]) -> T {
    let mut p = coef[N - 1];
    for &c in coef[..N - 1].iter().rev() {
        p = madd::<T, FMA>(p, x, c);
    }
    p
}

/// 1.5 * 2^23: adding it rounds an f32 to an integer held in the low mantissa bits.
const F32_SHIFT: f32 = 12_582_912.0;
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
const F32_LN: [f32; 5] = [1.0, 1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0];

/// 1.5 * 2^52.
const F64_SHIFT: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that `k * F64_LN2_HI` is exact for |k| < 2^11 (its low 32 bits are zero).
const F64_LN2_HI: f64 = 6.931_471_803_691_238e-1;
const F64_LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `e^r` on `|r| <= ln(2)/2`: the Taylor polynomial of degree 13 (error below 1e-17).
const F64_EXP: [f64; 14] = [
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
const F64_LN: [f64; 11] = [
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

// ============================================================================ arguments

/// A read-only array: its elements in C order and its shape.
#[derive(Debug, Clone, Copy)]
pub struct View<'a, T> {
    /// The elements, C-contiguous.
    pub data: &'a [T],
    /// The shape.
    pub shape: &'a [usize],
}

impl<'a, T> View<'a, T> {
    /// Pairs elements with their shape.
    pub fn new(data: &'a [T], shape: &'a [usize]) -> Self {
        View { data, shape }
    }
}

/// The target of `cross_entropy`: class indices or class probabilities.
#[derive(Debug, Clone, Copy)]
pub enum ClassTarget<'a, T> {
    /// Class indices of shape `()`, `(N,)` or `(N, d1, ..., dk)`.
    Index(View<'a, i64>),
    /// Class probabilities of the input's shape.
    Prob(View<'a, T>),
}

/// The options of `cross_entropy` and `nll_loss` (PyTorch's keyword arguments).
#[derive(Debug, Clone, Copy)]
pub struct ClassOptions<'a, T> {
    /// Per-class weights of shape `(C,)`, or `None` for all ones.
    pub weight: Option<&'a [T]>,
    /// Label whose rows contribute neither loss nor gradient (class-index targets only).
    pub ignore_index: i64,
    /// How per-row losses are combined.
    pub reduction: Reduction,
    /// Label smoothing in `[0, 1]` (`cross_entropy` only).
    pub label_smoothing: f64,
}

impl<'a, T> ClassOptions<'a, T> {
    /// PyTorch's defaults (`weight=None, ignore_index=-100, label_smoothing=0.0`).
    pub fn new(reduction: Reduction) -> Self {
        ClassOptions {
            weight: None,
            ignore_index: -100,
            reduction,
            label_smoothing: 0.0,
        }
    }
}

/// How an input of shape `(C,)`, `(N, C)` or `(N, C, d1, ..., dk)` splits into rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassLayout {
    /// `N` (1 when unbatched).
    pub batch: usize,
    /// `C`.
    pub classes: usize,
    /// `d1 * ... * dk` (1 without spatial axes).
    pub inner: usize,
    /// Shape of the per-row loss (`()` when unbatched, else `(N, d1, ..., dk)`).
    pub row_shape: Vec<usize>,
}

impl ClassLayout {
    /// Reads the layout of an input `shape`.
    pub fn new(func: &str, shape: &[usize]) -> Result<Self> {
        match shape.len() {
            0 => shape_err!(
                "{func}: input must have shape (C,), (N, C) or (N, C, d1, ..., dk), got ()"
            ),
            1 => Ok(ClassLayout {
                batch: 1,
                classes: shape[0],
                inner: 1,
                row_shape: vec![],
            }),
            _ => {
                let mut row_shape = vec![shape[0]];
                row_shape.extend_from_slice(&shape[2..]);
                Ok(ClassLayout {
                    batch: shape[0],
                    classes: shape[1],
                    inner: numel(&shape[2..]),
                    row_shape,
                })
            }
        }
    }

    /// Number of rows (`N * d1 * ... * dk`).
    pub fn rows(&self) -> usize {
        self.batch * self.inner
    }
}

/// Formats a flat position in `shape` as an index: `3` for 1-D, `(1, 2)` otherwise.
fn fmt_index(pos: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    let mut rem = pos;
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = rem % d;
            rem /= d;
        }
    }
    if idx.len() == 1 {
        idx[0].to_string()
    } else {
        format!(
            "({})",
            idx.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Position of the first element for which `bad` holds, searched in parallel when large.
fn first_bad<T: Sync, F: Fn(&T) -> bool + Sync + Send>(x: &[T], bad: F) -> Option<usize> {
    first_position(x, bad)
}

/// Checks class weights: shape `(C,)`, every value non-negative (NaN rejected too).
fn check_class_weight<T: Real>(func: &str, weight: Option<&[T]>, classes: usize) -> Result<()> {
    let Some(w) = weight else { return Ok(()) };
    if w.len() != classes {
        return shape_err!(
            "{func}: weight must have shape ({classes},), one value per class, got ({},)",
            w.len()
        );
    }
    if let Some(i) = first_bad(w, |v| v.is_nan() || *v < T::zero()) {
        return value_err!(
            "{func}: weight must be non-negative, got {} at index {i}",
            w[i]
        );
    }
    Ok(())
}

/// Checks `weight` (or `pos_weight`) of a binary loss: broadcastable to `shape`, non-negative.
fn check_broadcast_weight<T: Real>(
    func: &str,
    name: &str,
    w: Option<View<'_, T>>,
    shape: &[usize],
) -> Result<()> {
    let Some(w) = w else { return Ok(()) };
    if !broadcasts_to(w.shape, shape) || w.data.len() != numel(w.shape) {
        return shape_err!(
            "{func}: {name} of shape {} does not broadcast to the input's shape {}",
            fmt_shape(w.shape),
            fmt_shape(shape)
        );
    }
    if let Some(i) = first_bad(w.data, |v| v.is_nan() || *v < T::zero()) {
        return value_err!(
            "{func}: {name} must be non-negative, got {} at index {}",
            w.data[i],
            fmt_index(i, w.shape)
        );
    }
    Ok(())
}

/// Checks the shape of class-index targets against the layout.
fn check_index_target(
    func: &str,
    t: &View<'_, i64>,
    shape: &[usize],
    lay: &ClassLayout,
) -> Result<()> {
    if t.shape != lay.row_shape.as_slice() || t.data.len() != lay.rows() {
        return shape_err!(
            "{func}: target has shape {}, but input of shape {} needs class-index targets of \
             shape {}",
            fmt_shape(t.shape),
            fmt_shape(shape),
            fmt_shape(&lay.row_shape)
        );
    }
    Ok(())
}

/// Whether any label in `ch` other than `ignore` is outside `[0, c)`, and how many are not
/// `ignore`.
#[inline(always)]
fn count_kept(ch: &[i64], ignore: i64, c: u64) -> (bool, usize) {
    let (mut bad, mut n) = (false, 0usize);
    for &y in ch {
        let kept = y != ignore;
        // `y as u64 >= c` also catches y < 0.
        bad |= kept & (y as u64 >= c);
        n += kept as usize;
    }
    (bad, n)
}

/// [`count_kept`] compiled for AVX-512 (8 labels per step instead of 2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
fn count_kept_avx512(ch: &[i64], ignore: i64, c: u64) -> (bool, usize) {
    count_kept(ch, ignore, c)
}

/// [`count_kept`] with the widest vectors the CPU has.
fn count_kept_dispatch(ch: &[i64], ignore: i64, c: u64) -> (bool, usize) {
    #[cfg(target_arch = "x86_64")]
    if exp512::available() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { count_kept_avx512(ch, ignore, c) };
    }
    count_kept(ch, ignore, c)
}

/// Validates labels (each in `[0, C)` or equal to `ignore_index`) and returns the sum of the
/// weights of the labels that are not ignored (their count without weights), in one pass.
fn scan_labels<T: Real>(
    func: &str,
    t: &View<'_, i64>,
    classes: usize,
    ignore: i64,
    weight: Option<&[T]>,
) -> Result<T> {
    let c = classes as u64;
    // (any bad label, sum of weights) of a chunk; `y as u64 >= c` also catches y < 0.
    let scan = |ch: &[i64]| -> (bool, f64) {
        let mut bad = false;
        match weight {
            None => {
                let (bad, n) = count_kept_dispatch(ch, ignore, c);
                (bad, n as f64)
            }
            Some(w) => {
                let mut s = 0.0f64;
                for &y in ch {
                    if y != ignore {
                        match w.get(y as usize) {
                            Some(v) if y >= 0 => s += v.to_f64().unwrap_or(f64::NAN),
                            _ => bad = true,
                        }
                    }
                }
                (bad, s)
            }
        }
    };
    // Chunk by chunk in order, on the team or not: the weight sum depends on the length alone.
    let (bad, total) = map_chunks(t.data, scan)
        .iter()
        .fold((false, 0.0), |(b, s), &(pb, ps)| (b | pb, s + ps));
    if bad {
        let i = t
            .data
            .iter()
            .position(|&y| y != ignore && y as u64 >= c)
            .unwrap_or(0);
        let at = if t.shape.is_empty() {
            String::new()
        } else {
            format!(" at index {}", fmt_index(i, t.shape))
        };
        return value_err!(
            "{func}: target has label {}{at}, but input has {classes} classes",
            t.data[i]
        );
    }
    Ok(T::from_f64(total).unwrap_or_else(T::nan))
}

/// Checks `grad_output` against the reduction and the shape of the unreduced loss.
fn check_grad(
    func: &str,
    r: Reduction,
    g: &View<'_, impl Copy>,
    loss_shape: &[usize],
) -> Result<()> {
    check_grad_output(func, r, g.data.len(), numel(loss_shape))?;
    if r == Reduction::None && g.shape != loss_shape {
        return shape_err!(
            "{func}: grad_output has shape {}, expected {} (the shape of the unreduced loss)",
            fmt_shape(g.shape),
            fmt_shape(loss_shape)
        );
    }
    Ok(())
}

/// The factor `reduction` applies to each per-row gradient, given the mean's divisor.
fn grad_scale<T: Real>(r: Reduction, denom: T) -> T {
    match r {
        Reduction::Mean => T::one() / denom,
        _ => T::one(),
    }
}

/// Sum of `v` in f64 over chunks of `PAR_CHUNK`, in parallel when large; the order of the
/// additions depends on the length alone, never on the thread count.
fn total_f64<T: Real>(v: &[T]) -> f64 {
    map_chunks(v, sum_f64).iter().sum()
}

/// Sum of `v` in f64.
fn sum_f64<T: Real>(v: &[T]) -> f64 {
    // Eight independent sums, so the additions pipeline.
    let mut acc = [0.0f64; 8];
    let mut chunks = v.chunks_exact(8);
    for ch in &mut chunks {
        for (a, x) in acc.iter_mut().zip(ch) {
            *a += x.to_f64().unwrap_or(f64::NAN);
        }
    }
    let rest: f64 = chunks
        .remainder()
        .iter()
        .map(|x| x.to_f64().unwrap_or(f64::NAN))
        .sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + rest
}

/// Reduces per-element losses; `Mean` divides the sum by `denom`.
fn reduce_rows<T: Real>(r: Reduction, per: Vec<T>, denom: T) -> Vec<T> {
    let total = match r {
        Reduction::None => return per,
        _ => total_f64(&per),
    };
    finish_loss(r, Vec::new(), total, denom, &[]).0
}

// ============================================================================ row kernel

/// The targets of a run of consecutive rows.
#[derive(Clone, Copy)]
enum Rows<'a, T> {
    Index(&'a [i64]),
    Prob(&'a [T]),
}

impl<'a, T> Rows<'a, T> {
    /// The targets of rows `start..start + len` of `c` classes.
    fn slice(&self, start: usize, len: usize, c: usize) -> Rows<'a, T> {
        match *self {
            Rows::Index(lab) => Rows::Index(&lab[start..start + len]),
            Rows::Prob(t) => Rows::Prob(&t[start * c..(start + len) * c]),
        }
    }
}

/// The gradient coefficient of each row: one value for all rows (mean/sum) or one per row.
#[derive(Clone, Copy)]
pub(super) enum Coef<'a, T> {
    All(T),
    Each(&'a [T]),
}

impl<T: Copy> Coef<'_, T> {
    #[inline(always)]
    fn at(&self, r: usize) -> T {
        match self {
            Coef::All(v) => *v,
            Coef::Each(g) => g[r],
        }
    }

    /// The coefficients of rows `start..start + len`.
    fn slice(&self, start: usize, len: usize) -> Self {
        match self {
            Coef::All(v) => Coef::All(*v),
            Coef::Each(g) => Coef::Each(&g[start..start + len]),
        }
    }
}

/// What one cross-entropy call needs to know about every row.
#[derive(Clone, Copy)]
pub(super) struct Plan<'a, T> {
    pub(super) classes: usize,
    pub(super) weight: Option<&'a [T]>,
    /// Sum of the class weights (`C` without weights).
    pub(super) weight_sum: T,
    /// `1 - label_smoothing`.
    pub(super) keep: T,
    /// `label_smoothing / C`.
    pub(super) spread: T,
    pub(super) smoothing: bool,
    pub(super) ignore: i64,
    /// Write the gradient with streaming stores (it is too large to stay in cache).
    pub(super) stream: bool,
    /// The row after the block being computed (empty for the last), loaded into cache ahead
    /// of time by the wide-row kernel.
    pub(super) after: &'a [T],
}

impl<T: Real> Plan<'_, T> {
    #[inline(always)]
    pub(super) fn w(&self, c: usize) -> T {
        match self.weight {
            Some(w) => w[c],
            None => T::one(),
        }
    }
}

/// A result of `n` elements written by `fill` into memory that is not cleared first: large
/// results usually land in a reused block (see [`crate::reuse`]), and clearing it would cost a
/// pass over memory. Returns the result and what `fill` returns.
///
/// # Safety
/// `fill` must write every element before reading it.
unsafe fn filled<T: Real, R>(n: usize, fill: impl FnOnce(&mut [T]) -> R) -> Result<(Vec<T>, R)> {
    let mut v: Vec<T> = buf::with_capacity(n)?;
    // SAFETY: the capacity holds `n` elements, any bit pattern is a valid float, and `fill`
    // writes every element before reading it.
    let r = fill(unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr(), n) });
    // SAFETY: all `n` elements are written.
    unsafe { v.set_len(n) };
    Ok((v, r))
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

/// Rows at least this wide are processed one at a time with lane-wise reductions.
const WIDE: usize = 64;

#[inline(always)]
fn max2<T: Real>(a: T, b: T) -> T {
    // NaN is skipped here; it still reaches the result through `x - max`.
    if b > a {
        b
    } else {
        a
    }
}

#[inline(always)]
fn row_max<T: Real>(x: &[T]) -> T {
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

/// `sum(exp(x - m))`, also writing each `exp(x - m)` to `out` when given, and prefetching
/// `ahead` (the next row) along the way.
#[inline(always)]
fn exp_sum<T: FastMath, const FMA: bool>(x: &[T], m: T, out: Option<&mut [T]>, ahead: &[T]) -> T {
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
fn row_terms<T: Real>(
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
fn row_grad<T: Real>(
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
fn ce_rows_wide<T: FastMath, const FMA: bool>(
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
fn is_f32<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

/// [`exp512::exp_sum`] on slices of a `T` that is `f32`.
///
/// # Safety
/// `T` must be `f32` ([`is_f32`]) and the CPU must have AVX-512F.
#[inline(always)]
unsafe fn exp_sum_512<T: FastMath>(
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
unsafe fn as_f32<T>(v: &[T]) -> &[f32] {
    // SAFETY: `T` is `f32`, so the layout is the same.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const f32, v.len()) }
}

/// `v` as the `f32` slice it is.
///
/// # Safety
/// `T` must be `f32`.
#[inline(always)]
unsafe fn as_f32_mut<T>(v: &mut [T]) -> &mut [f32] {
    // SAFETY: `T` is `f32`, so the layout is the same.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut f32, v.len()) }
}

/// [`exp512::group_exp`] on slices of a `T` that is `f32`, writing the exponentials to the
/// gradient columns from position `g0` on.
///
/// # Safety
/// `T` must be `f32` ([`is_f32`]) and the CPU must have AVX-512F.
#[inline(always)]
unsafe fn group_exp_512<T: FastMath>(
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
struct Pending<'a, T> {
    dst: &'a mut [T],
    src: &'a [T],
    scale: T,
    fix: (usize, T),
}

/// Streams out chunk `i` (of `LANES` elements) of a pending row.
#[inline(always)]
fn flush_chunk<T: Real>(p: &mut Pending<'_, T>, i: usize) {
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
fn exp_sum_streaming<T: FastMath, const FMA: bool>(
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
fn ce_rows_wide_streaming<T: FastMath, const FMA: bool>(
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

/// Positions handled together by the column kernel.
const TP: usize = 64;

/// Positions whose maxima and sums the column kernel keeps in registers at once.
const GP: usize = exp512::GROUP;

/// For the `len <= GP` positions from `g0` on (class `k` of position `j` at `x[k * ld + j]`):
/// each one's maximum over the `c` classes and its `sum(exp(x - max))`, writing each
/// exponential to the gradient columns when given. Called with `len == GP` the loops have a
/// fixed length, so the maxima and sums stay in registers.
#[inline(always)]
fn group_max_exp<T: FastMath, const FMA: bool>(
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
enum Cols<'a, T> {
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
fn ce_cols<T: FastMath, const FMA: bool>(
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
fn rows_to_cols<T: Copy>(x: &[T], c: usize, n: usize, cols: &mut [T]) {
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
fn cols_to_rows<T: Copy>(cols: &[T], c: usize, n: usize, x: &mut [T]) {
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
fn ce_rows_narrow<T: FastMath, const FMA: bool>(
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

/// Cross-entropy of one batch element of a spatial input: `x` is `(C, inner)` with one
/// position per column, so [`ce_cols`] reads and writes it in place, `TP` columns at a time.
#[inline(always)]
fn ce_spatial<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    mut grad: Option<&mut [T]>,
    loss: &mut [T],
    coef: Option<Coef<'_, T>>,
) {
    let inner = loss.len();
    let mut j0 = 0;
    while j0 < inner {
        let n = TP.min(inner - j0);
        let cols = match tgt {
            Rows::Index(lab) => Cols::Index(&lab[j0..j0 + n]),
            Rows::Prob(t) => Cols::Prob(&t[j0..], inner),
        };
        let g = grad.as_deref_mut().map(|g| (&mut g[j0..], inner));
        let cf = coef.map(|cf| cf.slice(j0, n));
        ce_cols::<T, FMA>(
            p,
            &x[j0..],
            inner,
            n,
            cols,
            g,
            Some(&mut loss[j0..j0 + n]),
            cf,
        );
        j0 += n;
    }
}

/// One block of cross-entropy work: consecutive rows (`inner == 1`) or one batch element of a
/// spatial input (`inner > 1`, `loss` given).
#[inline(always)]
fn ce_block<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    inner: usize,
    grad: Option<&mut [T]>,
    loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    if inner > 1 {
        if let Some(l) = loss {
            ce_spatial::<T, FMA>(p, x, tgt, grad, l, coef);
        }
    } else if p.classes >= WIDE {
        match (grad, coef) {
            (Some(g), Some(cf)) if p.stream => {
                ce_rows_wide_streaming::<T, FMA>(p, x, tgt, g, loss, cf)
            }
            (g, cf) => ce_rows_wide::<T, FMA>(p, x, tgt, g, loss, cf),
        }
    } else {
        ce_rows_narrow::<T, FMA>(p, x, tgt, grad, loss, coef);
    }
}

/// Defines `$name`: [`ce_block`] (FMA build) compiled for the CPU features `$features`.
macro_rules! ce_block_for {
    ($(#[$doc:meta])* $name:ident, $features:literal) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name<T: FastMath>(
            p: &Plan<'_, T>,
            x: &[T],
            tgt: Rows<'_, T>,
            inner: usize,
            grad: Option<&mut [T]>,
            loss: Option<&mut [T]>,
            coef: Option<Coef<'_, T>>,
        ) {
            ce_block::<T, true>(p, x, tgt, inner, grad, loss, coef)
        }
    };
}

ce_block_for!(
    /// [`ce_block`] compiled for AVX2 and FMA when the CPU has them (8 f32 lanes instead of 4,
    /// fused multiply-adds in the polynomials).
    ce_block_avx2,
    "avx2,fma"
);
ce_block_for!(
    /// [`ce_block`] compiled for AVX-512 (16 f32 lanes).
    ce_block_avx512,
    "avx512f,avx512dq,avx512vl,avx2,fma"
);

/// True when the CPU has AVX2 and FMA, what the AVX2 builds are compiled for.
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Runs [`ce_block`] with the best instruction set available, then a fence when the gradient
/// was streamed, so the block's writes are complete before the team reports it done.
fn ce_block_dispatch<T: FastMath>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    inner: usize,
    grad: Option<&mut [T]>,
    loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    #[cfg(target_arch = "x86_64")]
    if exp512::available() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { ce_block_avx512(p, x, tgt, inner, grad, loss, coef) };
    } else if avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { ce_block_avx2(p, x, tgt, inner, grad, loss, coef) };
    } else {
        ce_block::<T, false>(p, x, tgt, inner, grad, loss, coef);
    }
    #[cfg(not(target_arch = "x86_64"))]
    ce_block::<T, false>(p, x, tgt, inner, grad, loss, coef);
    if p.stream {
        fence();
    }
}

/// Runs `f(block, grad_block, loss_block)` over consecutive blocks (`grad` has `gb` elements
/// per block, `loss` `lb`) and returns what each block returns, in block order. Parallel when
/// `par`; the order of the results never depends on the thread count.
fn map_blocks<T: Real, F>(
    blocks: usize,
    par: bool,
    (gb, lb): (usize, usize),
    grad: Option<&mut [T]>,
    loss: Option<&mut [T]>,
    f: F,
) -> Vec<f64>
where
    F: Fn(usize, Option<&mut [T]>, Option<&mut [T]>) -> f64 + Sync + Send,
{
    match (grad, loss) {
        (Some(g), Some(l)) if par => team::map(
            g.chunks_mut(gb).zip(l.chunks_mut(lb)).enumerate().collect(),
            |(b, (g, l))| f(b, Some(g), Some(l)),
        ),
        (Some(g), Some(l)) => g
            .chunks_mut(gb)
            .zip(l.chunks_mut(lb))
            .enumerate()
            .map(|(b, (g, l))| f(b, Some(g), Some(l)))
            .collect(),
        (Some(g), None) if par => team::map(g.chunks_mut(gb).enumerate().collect(), |(b, g)| {
            f(b, Some(g), None)
        }),
        (Some(g), None) => g
            .chunks_mut(gb)
            .enumerate()
            .map(|(b, g)| f(b, Some(g), None))
            .collect(),
        (None, Some(l)) if par => team::map(l.chunks_mut(lb).enumerate().collect(), |(b, l)| {
            f(b, None, Some(l))
        }),
        (None, Some(l)) => l
            .chunks_mut(lb)
            .enumerate()
            .map(|(b, l)| f(b, None, Some(l)))
            .collect(),
        (None, None) if par => team::map((0..blocks).collect(), |b| f(b, None, None)),
        (None, None) => (0..blocks).map(|b| f(b, None, None)).collect(),
    }
}

/// Everything `cross_entropy` and its gradient share: checked arguments and the plan.
struct Prepared<'a, T> {
    lay: ClassLayout,
    plan: Plan<'a, T>,
    target: Rows<'a, T>,
    /// Divisor of the mean.
    denom: T,
}

fn prepare_ce<'a, T: Real>(
    func: &str,
    input: &View<'a, T>,
    target: &ClassTarget<'a, T>,
    o: &ClassOptions<'a, T>,
) -> Result<Prepared<'a, T>> {
    let lay = ClassLayout::new(func, input.shape)?;
    let c = lay.classes;
    check_class_weight(func, o.weight, c)?;
    let eps = o.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return value_err!("{func}: label_smoothing must be between 0.0 and 1.0, got {eps}");
    }
    let (rows, denom) = match target {
        ClassTarget::Index(t) => {
            check_index_target(func, t, input.shape, &lay)?;
            let wsum = scan_labels(func, t, c, o.ignore_index, o.weight)?;
            (Rows::Index(t.data), wsum)
        }
        ClassTarget::Prob(t) => {
            if t.shape != input.shape || t.data.len() != input.data.len() {
                return shape_err!(
                    "{func}: class-probability target has shape {}, but input has shape {}; \
                     they must be equal (class-index targets need an integer dtype)",
                    fmt_shape(t.shape),
                    fmt_shape(input.shape)
                );
            }
            if o.ignore_index >= 0 {
                return value_err!(
                    "{func}: ignore_index ({}) is not supported for class-probability targets",
                    o.ignore_index
                );
            }
            (Rows::Prob(t.data), T::from_usize_(lay.rows()))
        }
    };
    let weight_sum = match o.weight {
        Some(w) => w.iter().fold(T::zero(), |a, &v| a + v),
        None => T::from_usize_(c),
    };
    let eps_t = T::c(eps);
    let spread = if c == 0 {
        T::zero()
    } else {
        eps_t / T::from_usize_(c)
    };
    let plan = Plan {
        classes: c,
        weight: o.weight,
        weight_sum,
        keep: T::one() - eps_t,
        spread,
        smoothing: eps > 0.0,
        ignore: o.ignore_index,
        stream: false,
        after: &[],
    };
    Ok(Prepared {
        lay,
        plan,
        target: rows,
        denom,
    })
}

/// Computes the gradient (into `grad`, with `coef`) and the losses of every row: into `loss`
/// when given, and returns their sum when `total` (else 0).
fn ce_run<T: FastMath>(
    pr: &Prepared<'_, T>,
    x: &[T],
    loss: Option<&mut [T]>,
    total: bool,
    grad: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) -> f64 {
    let (c, inner, rows) = (pr.plan.classes, pr.lay.inner, pr.lay.rows());
    if c == 0 || rows == 0 {
        // No classes: every loss is an empty sum (0) and there is no gradient to write.
        if let Some(l) = loss {
            l.fill(T::zero());
        }
        return 0.0;
    }
    let plan = Plan {
        stream: inner == 1
            && grad
                .as_ref()
                .is_some_and(|g| std::mem::size_of_val(*g) >= STREAM_MIN_BYTES),
        ..pr.plan
    };
    let p = &plan;
    let par = worth_parallel(x.len());
    let want_loss = loss.is_some() || total;
    // Contiguous rows: blocks of about PAR_CHUNK elements. Spatial: one batch element each.
    // Wide rows go several to a block (when there are enough for every thread to get some),
    // so the streaming kernel can overlap one row's stores with the next row's arithmetic.
    // Narrow rows go in whole tiles of 16 (see `narrow512`), so that every block but the last
    // is all tiles and each tile's gradient starts on a cache line when the result does.
    let (rows_per, spatial) = if inner == 1 && c < WIDE {
        ((PAR_CHUNK / c).next_multiple_of(16), false)
    } else if inner == 1 {
        ((PAR_CHUNK / c).max((rows / 16).clamp(1, 8)), false)
    } else {
        (inner, true)
    };
    let blocks = rows.div_ceil(rows_per);
    let partial = map_blocks(
        blocks,
        par,
        (rows_per * c, rows_per),
        grad,
        loss,
        |b, g, l| {
            let r0 = b * rows_per;
            let nr = rows_per.min(rows - r0);
            let xs = &x[r0 * c..(r0 + nr) * c];
            let p = &Plan {
                after: x.get((r0 + nr) * c..(r0 + nr + 1) * c).unwrap_or(&[]),
                ..*p
            };
            let tgt = pr.target.slice(r0, nr, c);
            let cf = coef.map(|cf| cf.slice(r0, nr));
            let mut local = Vec::new();
            let l = match l {
                Some(l) => Some(l),
                None if want_loss || spatial => {
                    local.resize(nr, T::zero());
                    Some(&mut local[..])
                }
                None => None,
            };
            match l {
                Some(l) => {
                    ce_block_dispatch(p, xs, tgt, inner, g, Some(&mut l[..]), cf);
                    if total {
                        sum_f64(l)
                    } else {
                        0.0
                    }
                }
                None => {
                    ce_block_dispatch(p, xs, tgt, inner, g, None, cf);
                    0.0
                }
            }
        },
    );
    partial.iter().sum()
}

/// The loss and its shape from the row losses (`None`) or their total (mean/sum).
fn finish_loss<T: Real>(
    r: Reduction,
    per: Vec<T>,
    total: f64,
    denom: T,
    row_shape: &[usize],
) -> (Vec<T>, Vec<usize>) {
    match r {
        Reduction::None => (per, row_shape.to_vec()),
        Reduction::Sum => (vec![T::from_f64(total).unwrap_or_else(T::nan)], vec![]),
        _ => {
            let d = denom.to_f64().unwrap_or(f64::NAN);
            (vec![T::from_f64(total / d).unwrap_or_else(T::nan)], vec![])
        }
    }
}

/// `cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)` as
/// PyTorch's `torch.nn.functional.cross_entropy`: log-softmax over the class axis fused with
/// the negative log-likelihood of the target.
///
/// The mean of class-index targets divides by the summed weights of the targets that are not
/// ignored (their count without weights), for the smoothing term too; the mean of
/// probability targets divides by the number of rows `N * d1 * ... * dk`. Returns the loss
/// (one element for mean/sum) and its shape.
pub fn cross_entropy<T: FastMath>(
    input: View<'_, T>,
    target: ClassTarget<'_, T>,
    opts: &ClassOptions<'_, T>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let pr = prepare_ce("cross_entropy", &input, &target, opts)?;
    let r = opts.reduction;
    let mut per = buf::zeros(if r == Reduction::None {
        pr.lay.rows()
    } else {
        0
    })?;
    let rows_out = (r == Reduction::None).then_some(&mut per[..]);
    let total = ce_run(&pr, input.data, rows_out, r != Reduction::None, None, None);
    Ok(finish_loss(r, per, total, pr.denom, &pr.lay.row_shape))
}

fn ce_coef<'a, T: Real>(
    func: &str,
    pr: &Prepared<'_, T>,
    grad_output: &View<'a, T>,
    r: Reduction,
) -> Result<Coef<'a, T>> {
    check_grad(func, r, grad_output, &pr.lay.row_shape)?;
    Ok(match r {
        Reduction::None => Coef::Each(grad_output.data),
        _ => Coef::All(grad_output.data[0] * grad_scale(r, pr.denom)),
    })
}

/// Gradient of [`cross_entropy`] with respect to `input`, given the gradient of the loss
/// (`grad_output`: one element for mean/sum, the loss's shape for none).
pub fn cross_entropy_backward<T: FastMath>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: ClassTarget<'_, T>,
    opts: &ClassOptions<'_, T>,
) -> Result<Vec<T>> {
    let func = "cross_entropy_backward";
    let pr = prepare_ce(func, &input, &target, opts)?;
    let coef = ce_coef(func, &pr, &grad_output, opts.reduction)?;
    // SAFETY: `ce_run` writes the gradient of every row (zeros for ignored ones).
    let (grad, _) = unsafe {
        filled(input.data.len(), |g| {
            ce_run(&pr, input.data, None, false, Some(g), Some(coef))
        })
    }?;
    Ok(grad)
}

/// [`cross_entropy`] and [`cross_entropy_backward`] in one pass over the input: returns the
/// loss, its shape, and the gradient for `grad_output`.
pub fn cross_entropy_with_grad<T: FastMath>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: ClassTarget<'_, T>,
    opts: &ClassOptions<'_, T>,
) -> Result<(Vec<T>, Vec<usize>, Vec<T>)> {
    let func = "cross_entropy_with_grad";
    let pr = prepare_ce(func, &input, &target, opts)?;
    let coef = ce_coef(func, &pr, &grad_output, opts.reduction)?;
    let r = opts.reduction;
    let mut per = buf::zeros(if r == Reduction::None {
        pr.lay.rows()
    } else {
        0
    })?;
    let rows_out = (r == Reduction::None).then_some(&mut per[..]);
    // SAFETY: `ce_run` writes the gradient of every row (zeros for ignored ones).
    let (grad, total) = unsafe {
        filled(input.data.len(), |g| {
            ce_run(
                &pr,
                input.data,
                rows_out,
                r != Reduction::None,
                Some(g),
                Some(coef),
            )
        })
    }?;
    let (loss, shape) = finish_loss(r, per, total, pr.denom, &pr.lay.row_shape);
    Ok((loss, shape, grad))
}

// ============================================================================ nll_loss

fn prepare_nll<T: Real>(
    func: &str,
    input: &View<'_, T>,
    target: &View<'_, i64>,
    o: &ClassOptions<'_, T>,
) -> Result<(ClassLayout, T)> {
    let lay = ClassLayout::new(func, input.shape)?;
    check_class_weight(func, o.weight, lay.classes)?;
    check_index_target(func, target, input.shape, &lay)?;
    let denom = scan_labels(func, target, lay.classes, o.ignore_index, o.weight)?;
    Ok((lay, denom))
}

/// `nll_loss(input, target, weight, ignore_index, reduction)` as PyTorch's: `input` holds
/// log-probabilities, the loss of a row is `-weight[y] * input[y]` (0 when ignored), and the
/// mean divides by the summed weights of the targets that are not ignored.
pub fn nll_loss<T: Real>(
    input: View<'_, T>,
    target: View<'_, i64>,
    opts: &ClassOptions<'_, T>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let (lay, denom) = prepare_nll("nll_loss", &input, &target, opts)?;
    let (c, inner) = (lay.classes, lay.inner);
    let x = input.data;
    let lab = target.data;
    let mut per = buf::zeros(lay.rows())?;
    let ignore = opts.ignore_index;
    let w = |y: usize| opts.weight.map_or(T::one(), |w| w[y]);
    crate::parallel::fill_indexed(&mut per, |r| {
        let y = lab[r];
        if y == ignore {
            return T::zero();
        }
        let y = y as usize;
        let (n, i) = (r / inner, r % inner);
        -(w(y) * x[(n * c + y) * inner + i])
    });
    let shape = if opts.reduction == Reduction::None {
        lay.row_shape.clone()
    } else {
        vec![]
    };
    Ok((reduce_rows(opts.reduction, per, denom), shape))
}

/// Gradient of [`nll_loss`] with respect to `input`: `-a * weight[y]` at each row's label
/// (`a` the row's share of `grad_output`), 0 elsewhere and in ignored rows.
pub fn nll_loss_backward<T: Real>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: View<'_, i64>,
    opts: &ClassOptions<'_, T>,
) -> Result<Vec<T>> {
    let func = "nll_loss_backward";
    let (lay, denom) = prepare_nll(func, &input, &target, opts)?;
    check_grad(func, opts.reduction, &grad_output, &lay.row_shape)?;
    let coef = match opts.reduction {
        Reduction::None => Coef::Each(grad_output.data),
        r => Coef::All(grad_output.data[0] * grad_scale(r, denom)),
    };
    let (c, inner) = (lay.classes, lay.inner);
    let mut grad = buf::zeros(input.data.len())?;
    if grad.is_empty() {
        return Ok(grad);
    }
    let lab = target.data;
    let ignore = opts.ignore_index;
    let w = |y: usize| opts.weight.map_or(T::one(), |w| w[y]);
    // Blocks of whole batch elements (several per block when they are small).
    let per_n = c * inner;
    let n_per = (PAR_CHUNK / per_n).max(1);
    let blocks = lay.batch.div_ceil(n_per);
    let par = worth_parallel(grad.len());
    map_blocks(
        blocks,
        par,
        (n_per * per_n, 0),
        Some(&mut grad),
        None,
        |b, g, _| {
            let g = g.unwrap_or_default();
            for (dn, gb) in g.chunks_mut(per_n).enumerate() {
                let n = b * n_per + dn;
                for i in 0..inner {
                    let r = n * inner + i;
                    let y = lab[r];
                    if y != ignore {
                        let y = y as usize;
                        gb[y * inner + i] = -(coef.at(r) * w(y));
                    }
                }
            }
            0.0
        },
    );
    Ok(grad)
}

// ============================================================================ binary losses

/// Per-element work of a binary loss over `input`'s shape with broadcast `weight` and
/// `pos_weight` (absent ones read as 1): `f(x, t, w, pw, i)` for every flat index `i`.
fn binary_map<T: Real, F: Fn(T, T, T, T, usize) -> T + Sync>(
    input: &View<'_, T>,
    target: &[T],
    weight: Option<View<'_, T>>,
    pos_weight: Option<View<'_, T>>,
    f: F,
) -> Result<Vec<T>> {
    let one = [T::one()];
    let unit = View::new(&one[..], &[]);
    let w = weight.unwrap_or(unit);
    let pw = pos_weight.unwrap_or(unit);
    let walk = RowWalk::new(input.shape, &[input.shape, w.shape, pw.shape]);
    let (sw, sp) = (walk.inner_strides[1], walk.inner_strides[2]);
    let mut out = buf::zeros(input.data.len())?;
    let x = input.data;
    for_each_row(&mut out, walk.inner, |r, row| {
        let (ox, ow, op) = (walk.offset(r, 0), walk.offset(r, 1), walk.offset(r, 2));
        for (j, o) in row.iter_mut().enumerate() {
            *o = f(
                x[ox + j],
                target[ox + j],
                w.data[ow + j * sw],
                pw.data[op + j * sp],
                ox + j,
            );
        }
    });
    Ok(out)
}

fn check_same_shape<T>(func: &str, input: &View<'_, T>, target: &View<'_, T>) -> Result<()> {
    if input.shape != target.shape || input.data.len() != target.data.len() {
        return shape_err!(
            "{func}: target has shape {}, but input has shape {}; they must be equal",
            fmt_shape(target.shape),
            fmt_shape(input.shape)
        );
    }
    Ok(())
}

fn prepare_bce<T: Real>(
    func: &str,
    input: &View<'_, T>,
    target: &View<'_, T>,
    weight: Option<View<'_, T>>,
) -> Result<()> {
    check_same_shape(func, input, target)?;
    check_broadcast_weight(func, "weight", weight, input.shape)?;
    let outside = |v: &T| *v < T::zero() || *v > T::one();
    for (name, a) in [("input", input), ("target", target)] {
        if let Some(i) = first_bad(a.data, outside) {
            return value_err!(
                "{func}: {name} must hold probabilities in [0, 1], got {} at index {}",
                a.data[i],
                fmt_index(i, a.shape)
            );
        }
    }
    Ok(())
}

/// `v` clamped below at -100, NaN kept.
#[inline(always)]
fn clamp_log<T: Real>(v: T) -> T {
    let lo = T::c(-100.0);
    if v < lo {
        lo
    } else {
        v
    }
}

/// `binary_cross_entropy(input, target, weight, reduction)` as PyTorch's: the per-element
/// loss `-w (t ln(x) + (1 - t) ln(1 - x))` with each log clamped at -100; `input` and
/// `target` in `[0, 1]`, `weight` broadcast to the input's shape; the mean divides by the
/// number of elements.
pub fn binary_cross_entropy<T: Real>(
    input: View<'_, T>,
    target: View<'_, T>,
    weight: Option<View<'_, T>>,
    reduction: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    prepare_bce("binary_cross_entropy", &input, &target, weight)?;
    let per = binary_map(&input, target.data, weight, None, |x, t, w, _, _| {
        let lx = clamp_log(x.ln());
        let l1x = clamp_log((-x).ln_1p());
        w * ((t - T::one()) * l1x - t * lx)
    })?;
    let n = per.len();
    let shape = if reduction == Reduction::None {
        input.shape.to_vec()
    } else {
        vec![]
    };
    Ok((reduce_rows(reduction, per, T::from_usize_(n)), shape))
}

/// Gradient of [`binary_cross_entropy`]: `g w (x - t) / max(x (1 - x), 1e-12)`, PyTorch's
/// guarded form.
pub fn binary_cross_entropy_backward<T: Real>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: View<'_, T>,
    weight: Option<View<'_, T>>,
    reduction: Reduction,
) -> Result<Vec<T>> {
    let func = "binary_cross_entropy_backward";
    prepare_bce(func, &input, &target, weight)?;
    check_grad(func, reduction, &grad_output, input.shape)?;
    let scale = grad_scale(reduction, T::from_usize_(input.data.len()));
    let coef = match reduction {
        Reduction::None => Coef::Each(grad_output.data),
        _ => Coef::All(grad_output.data[0] * scale),
    };
    let eps = T::c(1e-12);
    binary_map(&input, target.data, weight, None, |x, t, w, _, i| {
        let d = (T::one() - x) * x;
        let d = if d < eps { eps } else { d };
        coef.at(i) * w * (x - t) / d
    })
}

/// `log(sigmoid(x))` without overflow: `min(x, 0) - log1p(exp(-|x|))`.
#[inline(always)]
fn log_sigmoid<T: Real>(x: T) -> T {
    let m = if x < T::zero() { x } else { T::zero() };
    m - (-x.abs()).exp().ln_1p()
}

/// `sigmoid(x)` without overflow.
#[inline(always)]
fn sigmoid<T: Real>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

fn prepare_bce_logits<T: Real>(
    func: &str,
    input: &View<'_, T>,
    target: &View<'_, T>,
    weight: Option<View<'_, T>>,
    pos_weight: Option<View<'_, T>>,
) -> Result<()> {
    check_same_shape(func, input, target)?;
    check_broadcast_weight(func, "weight", weight, input.shape)?;
    check_broadcast_weight(func, "pos_weight", pos_weight, input.shape)
}

/// `binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)` as
/// PyTorch's: `w ((1 - t) x - (1 + (pw - 1) t) log_sigmoid(x))`, finite for any finite `x`;
/// `weight` and `pos_weight` broadcast to the input's shape (`pos_weight` of shape `(C,)`
/// weighs the positives of each class, the last axis).
pub fn binary_cross_entropy_with_logits<T: Real>(
    input: View<'_, T>,
    target: View<'_, T>,
    weight: Option<View<'_, T>>,
    pos_weight: Option<View<'_, T>>,
    reduction: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    let func = "binary_cross_entropy_with_logits";
    prepare_bce_logits(func, &input, &target, weight, pos_weight)?;
    let per = binary_map(&input, target.data, weight, pos_weight, |x, t, w, pw, _| {
        let lw = T::one() + (pw - T::one()) * t;
        w * ((T::one() - t) * x - lw * log_sigmoid(x))
    })?;
    let n = per.len();
    let shape = if reduction == Reduction::None {
        input.shape.to_vec()
    } else {
        vec![]
    };
    Ok((reduce_rows(reduction, per, T::from_usize_(n)), shape))
}

/// Gradient of [`binary_cross_entropy_with_logits`]:
/// `g w ((pw t + 1 - t) sigmoid(x) - pw t)`.
pub fn binary_cross_entropy_with_logits_backward<T: Real>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: View<'_, T>,
    weight: Option<View<'_, T>>,
    pos_weight: Option<View<'_, T>>,
    reduction: Reduction,
) -> Result<Vec<T>> {
    let func = "binary_cross_entropy_with_logits_backward";
    prepare_bce_logits(func, &input, &target, weight, pos_weight)?;
    check_grad(func, reduction, &grad_output, input.shape)?;
    let scale = grad_scale(reduction, T::from_usize_(input.data.len()));
    let coef = match reduction {
        Reduction::None => Coef::Each(grad_output.data),
        _ => Coef::All(grad_output.data[0] * scale),
    };
    binary_map(&input, target.data, weight, pos_weight, |x, t, w, pw, i| {
        let pt = pw * t;
        coef.at(i) * w * ((pt + T::one() - t) * sigmoid(x) - pt)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts<'a>(r: Reduction) -> ClassOptions<'a, f64> {
        ClassOptions::new(r)
    }

    #[test]
    fn fast_exp_matches_std() {
        let mut worst32 = 0.0f64;
        let mut worst64 = 0.0f64;
        let mut x = -87.0f64;
        while x < 88.0 {
            let e32 = (x as f32).fast_exp() as f64;
            let r32 = ((x as f32) as f64).exp();
            worst32 = worst32.max(((e32 - r32) / r32).abs());
            let e64 = x.fast_exp();
            let r64 = x.exp();
            worst64 = worst64.max(((e64 - r64) / r64).abs());
            x += 0.0137;
        }
        assert!(worst32 < 3.0 * f32::EPSILON as f64, "f32 error {worst32}");
        assert!(worst64 < 4.0 * f64::EPSILON, "f64 error {worst64}");
        assert_eq!(f32::NEG_INFINITY.fast_exp(), 0.0);
        assert_eq!((-1000.0f64).fast_exp(), 0.0);
        assert!(f32::NAN.fast_exp().is_nan());
        assert!(f64::NAN.fast_exp().is_nan());
        assert_eq!(0.0f64.fast_exp(), 1.0);
        assert_eq!(1000.0f32.fast_exp(), f32::INFINITY);
        assert!((709.0f64.fast_exp() / 709.0f64.exp() - 1.0).abs() < 1e-14);
        assert!((88.5f32.fast_exp() / 88.5f32.exp() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn fast_ln_matches_std() {
        let mut worst32 = 0.0f64;
        let mut worst64 = 0.0f64;
        let mut x = 1e-30f64;
        while x < 1e30 {
            let r32 = ((x as f32) as f64).ln();
            let e32 = (x as f32).fast_ln() as f64;
            worst32 = worst32.max((e32 - r32).abs() / r32.abs().max(1.0));
            worst64 = worst64.max((x.fast_ln() - x.ln()).abs() / x.ln().abs().max(1.0));
            x *= 1.0137;
        }
        assert!(worst32 < 2.0 * f32::EPSILON as f64, "f32 error {worst32}");
        assert!(worst64 < 2.0 * f64::EPSILON, "f64 error {worst64}");
        for v in [1.0f64, 2.0, 10.0, 0.5, 1.0 + 1e-12] {
            assert!((v.fast_ln() - v.ln()).abs() <= 4.0 * f64::EPSILON * v.ln().abs().max(1e-300));
        }
        assert_eq!(0.0f32.fast_ln(), f32::NEG_INFINITY);
        assert_eq!(f64::INFINITY.fast_ln(), f64::INFINITY);
        assert!((-1.0f64).fast_ln().is_nan());
        assert!(f32::NAN.fast_ln().is_nan());
        let sub = 1e-310f64;
        assert!((sub.fast_ln() - sub.ln()).abs() < 1e-12);
        let sub32 = 1e-40f32;
        assert!((sub32.fast_ln() - sub32.ln()).abs() < 1e-4);
    }

    #[test]
    fn exp_nonpos_matches_std_with_and_without_fma() {
        let mut x = -700.0f64;
        while x <= 0.0 {
            let want = x.exp();
            for got in [x.exp_nonpos_with::<false>(), x.exp_nonpos_with::<true>()] {
                assert!(
                    (got - want).abs() <= 4.0 * f64::EPSILON * want,
                    "{x}: {got} vs {want}"
                );
            }
            let x32 = x as f32;
            if x32 > -87.0 {
                let want = (x32 as f64).exp();
                for got in [
                    x32.exp_nonpos_with::<false>(),
                    x32.exp_nonpos_with::<true>(),
                ] {
                    let err = (got as f64 - want).abs() / want;
                    assert!(err <= 3.0 * f32::EPSILON as f64, "{x32}: {got} vs {want}");
                }
            }
            x += 0.0731;
        }
        assert_eq!(f32::NEG_INFINITY.exp_nonpos_with::<true>(), 0.0);
        assert!(f64::NAN.exp_nonpos_with::<false>().is_nan());
        assert_eq!(0.0f32.exp_nonpos_with::<false>(), 1.0);
    }

    /// Runs both builds of the block kernel (plain and FMA), each with plain and streaming
    /// stores, with and without label smoothing, on the same rows.
    fn both_builds(x: &[f64], c: usize, inner: usize, labels: &[i64], w: Option<&[f64]>) {
        for smoothing in [true, false] {
            each_build(x, c, inner, labels, w, smoothing);
        }
    }

    fn each_build(
        x: &[f64],
        c: usize,
        inner: usize,
        labels: &[i64],
        w: Option<&[f64]>,
        smoothing: bool,
    ) {
        let eps = if smoothing { 0.1 } else { 0.0 };
        let plan = Plan {
            classes: c,
            weight: w,
            weight_sum: w.map_or(c as f64, |w| w.iter().sum()),
            keep: 1.0 - eps,
            spread: eps / c as f64,
            smoothing,
            ignore: -100,
            stream: false,
            after: &[],
        };
        let rows = labels.len();
        let coef: Vec<f64> = (0..rows).map(|r| 0.5 + r as f64 * 0.01).collect();
        let mut out = Vec::new();
        for (fma, stream) in [(false, false), (true, false), (false, true), (true, true)] {
            let p = Plan { stream, ..plan };
            let mut g = vec![0.0; x.len()];
            let mut l = vec![0.0; rows];
            let cf = Some(Coef::Each(&coef));
            let t = Rows::Index(labels);
            if fma {
                ce_block::<f64, true>(&p, x, t, inner, Some(&mut g), Some(&mut l), cf);
            } else {
                ce_block::<f64, false>(&p, x, t, inner, Some(&mut g), Some(&mut l), cf);
            }
            out.push((g, l));
        }
        for other in &out[1..] {
            for (a, b) in out[0]
                .0
                .iter()
                .zip(&other.0)
                .chain(out[0].1.iter().zip(&other.1))
            {
                assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "{a} vs {b}");
            }
        }
        assert!(out[0].1.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn plain_and_fma_builds_agree() {
        let data = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                .collect()
        };
        let w: Vec<f64> = (0..100).map(|k| 0.5 + (k % 3) as f64).collect();
        // Narrow rows, wide rows, and one spatial block.
        let labels: Vec<i64> = (0..70)
            .map(|r| if r % 9 == 0 { -100 } else { r % 5 })
            .collect();
        both_builds(&data(70 * 5), 5, 1, &labels, Some(&w[..5]));
        let labels = [0, 40, -100, 80, 99];
        both_builds(&data(5 * 100), 100, 1, &labels, None);
        both_builds(&data(5 * 100), 100, 1, &labels, Some(&w));
        let labels: Vec<i64> = (0..130).map(|r| r % 4).collect();
        both_builds(&data(4 * 130), 4, 130, &labels, Some(&w[..4]));
    }

    #[test]
    fn seed_example() {
        let x = [0.228f64.ln(), 0.619f64.ln(), 0.153f64.ln()];
        let t = [1i64];
        let (l, s) = cross_entropy(
            View::new(&x, &[3]),
            ClassTarget::Index(View::new(&t[..1], &[])),
            &opts(Reduction::Mean),
        )
        .unwrap();
        assert!(s.is_empty());
        // The probabilities sum to 1, so the loss is -ln 0.619.
        assert!((l[0] - 0.479_650_006_297_978_9).abs() < 1e-9, "{}", l[0]);
        let onehot = [0.0, 1.0, 0.0];
        let (lp, _) = cross_entropy(
            View::new(&x, &[3]),
            ClassTarget::Prob(View::new(&onehot, &[3])),
            &opts(Reduction::Mean),
        )
        .unwrap();
        assert!((lp[0] - l[0]).abs() < 1e-15);
    }

    #[test]
    fn gradient_is_softmax_minus_onehot() {
        let x = [1.0f64, 2.0, 3.0, -1.0, 0.0, 1.0];
        let t = [2i64, 0];
        let g = cross_entropy_backward(
            View::new(&[1.0], &[]),
            View::new(&x, &[2, 3]),
            ClassTarget::Index(View::new(&t, &[2])),
            &opts(Reduction::Sum),
        )
        .unwrap();
        for r in 0..2 {
            let row = &x[r * 3..r * 3 + 3];
            let s: f64 = row.iter().map(|v| v.exp()).sum();
            for k in 0..3 {
                let want = row[k].exp() / s - if k as i64 == t[r] { 1.0 } else { 0.0 };
                assert!((g[r * 3 + k] - want).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn bad_labels_and_shapes_are_errors() {
        let x = [0.0f64; 20];
        let t = [1i64, 12];
        let e = cross_entropy(
            View::new(&x, &[2, 10]),
            ClassTarget::Index(View::new(&t, &[2])),
            &opts(Reduction::Mean),
        )
        .unwrap_err();
        assert_eq!(
            e,
            crate::Error::Value(
                "cross_entropy: target has label 12 at index 1, but input has 10 classes".into()
            )
        );
        let t3 = [0i64; 3];
        assert!(matches!(
            nll_loss(
                View::new(&x, &[2, 10]),
                View::new(&t3, &[3]),
                &opts(Reduction::Sum)
            ),
            Err(crate::Error::Shape(_))
        ));
    }

    #[test]
    fn spatial_matches_rows() {
        // (N=2, C=3, d=2) against its (4, 3) reshape.
        let x: Vec<f64> = (0..12).map(|v| (v as f64 * 0.7).sin() * 3.0).collect();
        let t = [0i64, 2, 1, -100];
        let mut xr = vec![0.0; 12];
        for n in 0..2 {
            for c in 0..3 {
                for i in 0..2 {
                    xr[(n * 2 + i) * 3 + c] = x[(n * 3 + c) * 2 + i];
                }
            }
        }
        let w = [0.5, 2.0, 1.0];
        let mut o = opts(Reduction::None);
        o.weight = Some(&w);
        o.label_smoothing = 0.1;
        let (a, sa) = cross_entropy(
            View::new(&x, &[2, 3, 2]),
            ClassTarget::Index(View::new(&t, &[2, 2])),
            &o,
        )
        .unwrap();
        let (b, _) = cross_entropy(
            View::new(&xr, &[4, 3]),
            ClassTarget::Index(View::new(&t, &[4])),
            &o,
        )
        .unwrap();
        assert_eq!(sa, vec![2, 2]);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-14);
        }
    }

    #[test]
    fn bce_clamps_and_checks_range() {
        let x = [0.0f64, 1.0];
        let t = [1.0f64, 1.0];
        let (l, _) = binary_cross_entropy(
            View::new(&x, &[2]),
            View::new(&t, &[2]),
            None,
            Reduction::None,
        )
        .unwrap();
        assert_eq!(l, vec![100.0, 0.0]);
        let bad = [0.5f64, 1.5];
        assert!(matches!(
            binary_cross_entropy(
                View::new(&bad, &[2]),
                View::new(&t, &[2]),
                None,
                Reduction::Sum
            ),
            Err(crate::Error::Value(_))
        ));
    }

    /// The tile kernels for narrow `f32` rows (`narrow512`, `narrow256`) give bit for bit the
    /// results of the portable column kernel (NaN signs aside), which the same rows reach when
    /// laid out as one spatial batch element (class-major).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn narrow_tiles_match_the_column_kernel() {
        for c in 2..=narrow512::MAX_CLASSES {
            for rows in [16, 37, 64] {
                for variant in 0..6 {
                    tiles_vs_columns(c, rows, variant);
                }
            }
        }
    }

    /// One comparison; `variant` picks weights, smoothing, per-row coefficients, streaming,
    /// an ignored class inside `0..c`, and a misaligned gradient (4 bytes past a 64-byte
    /// boundary, so misaligned for both kernels' streamed stores).
    #[cfg(target_arch = "x86_64")]
    fn tiles_vs_columns(c: usize, rows: usize, variant: usize) {
        let x: Vec<f32> = (0..rows * c)
            .map(|i| match i % 23 {
                5 if variant == 3 => 9_000.0,
                7 if variant == 4 => -9_000.0,
                11 if variant == 5 && i / c == 3 => f32::NAN,
                _ => ((i * 37 % 101) as f32 - 50.0) / 7.0,
            })
            .collect();
        let ignore: i64 = if variant == 2 { 1 } else { -100 };
        let labels: Vec<i64> = (0..rows)
            .map(|r| {
                if r % 7 == 3 {
                    -100
                } else {
                    ((r * 7 + r / 3) % c) as i64
                }
            })
            .map(|y| {
                if y == -100 && ignore != -100 {
                    ignore
                } else {
                    y
                }
            })
            .collect();
        let w: Vec<f32> = (0..c).map(|k| 0.5 + (k % 3) as f32).collect();
        let eps = if variant % 2 == 1 { 0.1 } else { 0.0 };
        let weighted = variant >= 2;
        let plan = Plan {
            classes: c,
            weight: weighted.then_some(&w[..]),
            weight_sum: if weighted { w.iter().sum() } else { c as f32 },
            keep: 1.0 - eps,
            spread: eps / c as f32,
            smoothing: eps > 0.0,
            ignore,
            // Variant 4 streams to a misaligned gradient (as after reuse of a block that
            // `calloc` made), which must fall back to plain stores.
            stream: variant.is_multiple_of(3) || variant == 4,
            after: &[],
        };
        let each: Vec<f32> = (0..rows).map(|r| 0.5 + r as f32 * 0.01).collect();
        let coef = if variant.is_multiple_of(2) {
            Coef::Each(&each[..])
        } else {
            Coef::All(0.25)
        };
        // Rows: the gradient at a 64-byte boundary (or 4 bytes past one for variant 4).
        let mut store = vec![f32::NAN; rows * c + 32];
        let skew = (64 - store.as_ptr() as usize % 64) / 4 % 16 + usize::from(variant == 4);
        let g_rows = &mut store[skew..skew + rows * c];
        let mut l_rows = vec![f32::NAN; rows];
        let t = Rows::Index(&labels[..]);
        ce_block_dispatch(&plan, &x, t, 1, Some(g_rows), Some(&mut l_rows), Some(coef));
        // The same rows, class-major.
        let xc: Vec<f32> = (0..rows * c)
            .map(|i| x[(i % rows) * c + i / rows])
            .collect();
        let mut g_cols = vec![f32::NAN; rows * c];
        let mut l_cols = vec![f32::NAN; rows];
        let p = Plan {
            stream: false,
            ..plan
        };
        ce_block_dispatch(
            &p,
            &xc,
            t,
            rows,
            Some(&mut g_cols),
            Some(&mut l_cols),
            Some(coef),
        );
        let g_rows = &store[skew..skew + rows * c];
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for j in 0..rows {
            assert!(
                same(l_rows[j], l_cols[j]),
                "c={c} rows={rows} v={variant} loss {j}"
            );
            for k in 0..c {
                let (a, b) = (g_rows[j * c + k], g_cols[k * rows + j]);
                assert!(
                    same(a, b),
                    "c={c} rows={rows} v={variant} grad ({j}, {k}): {a} vs {b}"
                );
            }
        }
        assert!(
            l_rows.iter().any(|v| v.is_finite() && *v != 0.0),
            "c={c} rows={rows} v={variant}: {l_rows:?}"
        );
        // The AVX2 tile kernel on the whole tiles: its exponential is the portable one, which
        // the AVX-512 one equals outside (-104, -87.3), a range these scores never reach.
        if avx2_fma() {
            let g2 = &mut store[skew..skew + rows * c];
            g2.fill(f32::NAN);
            let mut l2 = vec![f32::NAN; rows];
            // SAFETY: the CPU has AVX2 and FMA.
            let done = unsafe {
                narrow256::ce_tiles(&plan, &x, &labels, Some(g2), Some(&mut l2), Some(coef))
            };
            assert_eq!(done, rows / 8 * 8);
            let g2 = &store[skew..skew + rows * c];
            for j in 0..done {
                assert!(
                    same(l2[j], l_cols[j]),
                    "avx2 c={c} rows={rows} v={variant} loss {j}"
                );
                for k in 0..c {
                    let (a, b) = (g2[j * c + k], g_cols[k * rows + j]);
                    assert!(same(a, b), "avx2 c={c} rows={rows} v={variant} ({j}, {k})");
                }
            }
        }
    }
}
