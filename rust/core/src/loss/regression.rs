//! Regression losses on the difference `d = input - target`: squared error, absolute error,
//! Huber and smooth L1, each with its gradient with respect to `input`.
//!
//! For `mean` and `sum` the per-element losses are never stored: one pass computes them block
//! by block and adds them pairwise ([`reduce_indexed`]).
//!
//! ```
//! use ferrograd_core::loss::{regression::{loss, RegressionLoss}, Reduction};
//! let l = loss(RegressionLoss::Mse, &[1.0f64, 3.0], &[2], &[0.0, 0.0], &[2], Reduction::Mean);
//! assert_eq!(l.unwrap(), vec![5.0]);
//! ```

use super::{check_grad_output, Reduction};
use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::reduce::sum_slice;
use crate::runtime::parallel::{fill_indexed, worth_parallel, PAR_CHUNK};
use crate::runtime::team;
use crate::shape::{check_same_shape, fmt_shape};
use crate::{shape_err, value_err};

/// Sum of `f(i)` for `i` in `lo..hi`, added pairwise in blocks (NumPy-like rounding).
pub(crate) fn sum_range<T: Real, F: Fn(usize) -> T>(lo: usize, hi: usize, f: &F) -> T {
    const BLOCK: usize = 256;
    let mut buf = [T::zero(); BLOCK];
    let mut partials = Vec::with_capacity((hi - lo).div_ceil(BLOCK));
    let mut start = lo;
    while start < hi {
        let end = (start + BLOCK).min(hi);
        let block = &mut buf[..end - start];
        for (j, b) in block.iter_mut().enumerate() {
            *b = f(start + j);
        }
        partials.push(sum_slice(block));
        start = end;
    }
    sum_slice(&partials)
}

/// Sum of `f(i)` over `0..n` without storing the terms: pairwise within fixed chunks, the
/// chunks in parallel when `n` is large. The result does not depend on the number of threads.
pub fn sum_indexed<T: Real, F: Fn(usize) -> T + Sync>(n: usize, f: F) -> T {
    if n <= PAR_CHUNK {
        return sum_range(0, n, &f);
    }
    let chunks = n.div_ceil(PAR_CHUNK);
    let part = |c: usize| sum_range(c * PAR_CHUNK, ((c + 1) * PAR_CHUNK).min(n), &f);
    let partials: Vec<T> = if worth_parallel(n) {
        team::map((0..chunks).collect(), part)
    } else {
        (0..chunks).map(part).collect()
    };
    sum_slice(&partials)
}

/// Per-element losses `f(i)` for `i` in `0..n`, reduced as `r` says: stored for `None`,
/// otherwise summed in one pass (and divided by `n`, or by `batch` for `BatchMean`).
pub fn reduce_indexed<T: Real, F: Fn(usize) -> T + Sync>(
    r: Reduction,
    n: usize,
    batch: usize,
    f: F,
) -> Result<Vec<T>> {
    Ok(match r {
        Reduction::None => {
            let mut out = buf::zeros(n)?;
            fill_indexed(&mut out, f);
            out
        }
        Reduction::Sum => vec![sum_indexed(n, f)],
        Reduction::Mean => vec![sum_indexed(n, f) / T::from_usize_(n)],
        Reduction::BatchMean => vec![sum_indexed(n, f) / T::from_usize_(batch)],
    })
}

/// Checks `grad_output` of a pointwise loss: `input`'s shape for `none`, one element otherwise.
pub fn check_loss_grad(
    func: &str,
    r: Reduction,
    gshape: &[usize],
    glen: usize,
    ishape: &[usize],
    n: usize,
) -> Result<()> {
    if r == Reduction::None && gshape != ishape {
        return shape_err!(
            "{func}: grad_output has shape {} but reduction='none' needs input's shape {}",
            fmt_shape(gshape),
            fmt_shape(ishape)
        );
    }
    check_grad_output(func, r, glen, n)
}

/// The size of the first axis (1 for a 0-d input), the divisor of `batchmean`.
pub fn batch_of(shape: &[usize]) -> usize {
    shape.first().copied().unwrap_or(1)
}

/// A pointwise regression loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegressionLoss {
    /// `d^2`.
    Mse,
    /// `|d|`.
    L1,
    /// `d^2 / 2` for `|d| < delta`, `delta (|d| - delta / 2)` otherwise.
    Huber { delta: f64 },
    /// `d^2 / (2 beta)` for `|d| < beta`, `|d| - beta / 2` otherwise; L1 when `beta == 0`.
    SmoothL1 { beta: f64 },
}

impl RegressionLoss {
    /// The public name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            RegressionLoss::Mse => "mse_loss",
            RegressionLoss::L1 => "l1_loss",
            RegressionLoss::Huber { .. } => "huber_loss",
            RegressionLoss::SmoothL1 { .. } => "smooth_l1_loss",
        }
    }

    /// Checks the parameter (`delta > 0`, `beta >= 0`) and maps smooth L1 with `beta == 0` to
    /// L1, as PyTorch does.
    fn resolve(self, func: &str) -> Result<Self> {
        match self {
            RegressionLoss::Huber { delta } if delta.is_nan() || delta <= 0.0 => {
                value_err!("{func}: delta must be positive, got {delta}")
            }
            RegressionLoss::SmoothL1 { beta } if beta.is_nan() || beta < 0.0 => {
                value_err!("{func}: beta must be non-negative, got {beta}")
            }
            RegressionLoss::SmoothL1 { beta: 0.0 } => Ok(RegressionLoss::L1),
            other => Ok(other),
        }
    }
}

/// The sign of `d` with `sign(0) = 0` and NaN kept.
#[inline(always)]
fn sign<T: Real>(d: T) -> T {
    // Sequential selects rather than a chain of branches, so that loops vectorise.
    let s = if d > T::zero() { T::one() } else { T::zero() };
    let s = if d < T::zero() { -T::one() } else { s };
    if d.is_nan() {
        d
    } else {
        s
    }
}

/// `out[i] = slope(input[i] - target[i]) * grad`, where `grad` is `g[i]` for reduction none
/// and the scalar `g[0] * scale` otherwise.
fn fill_grad<T: Real, F: Fn(T) -> T + Sync>(
    out: &mut [T],
    input: &[T],
    target: &[T],
    g: &[T],
    per_element: bool,
    scale: T,
    slope: F,
) {
    if per_element {
        fill_indexed(out, |i| slope(input[i] - target[i]) * g[i]);
    } else {
        let gs = g[0] * scale;
        fill_indexed(out, |i| slope(input[i] - target[i]) * gs);
    }
}

/// The loss between `input` and `target` (of equal shapes), reduced by `reduction`: one
/// element for mean/sum, `input`'s number of elements for none.
pub fn loss<T: Real>(
    kind: RegressionLoss,
    input: &[T],
    ishape: &[usize],
    target: &[T],
    tshape: &[usize],
    reduction: Reduction,
) -> Result<Vec<T>> {
    let func = kind.name();
    check_same_shape(func, ("input", ishape), ("target", tshape))?;
    let kind = kind.resolve(func)?;
    let (n, batch) = (input.len(), batch_of(ishape));
    let d = |i: usize| input[i] - target[i];
    let half = T::c(0.5);
    match kind {
        RegressionLoss::Mse => reduce_indexed(reduction, n, batch, |i| {
            let d = d(i);
            d * d
        }),
        RegressionLoss::L1 => reduce_indexed(reduction, n, batch, |i| d(i).abs()),
        RegressionLoss::Huber { delta } => {
            let dl = T::c(delta);
            reduce_indexed(reduction, n, batch, |i| {
                let a = d(i).abs();
                let (quad, lin) = (half * a * a, dl * (a - half * dl));
                if a < dl {
                    quad
                } else {
                    lin
                }
            })
        }
        RegressionLoss::SmoothL1 { beta } => {
            // A multiplication by 1/(2 beta), not a division: a select between the two sides
            // would otherwise be compiled as a branch around the division.
            let (b, hb) = (T::c(beta), T::c(0.5 / beta));
            reduce_indexed(reduction, n, batch, |i| {
                let a = d(i).abs();
                let (quad, lin) = (a * a * hb, a - half * b);
                if a < b {
                    quad
                } else {
                    lin
                }
            })
        }
    }
}

/// Gradient of [`loss`] with respect to `input`. `g` is the gradient of the reduced loss: one
/// element for mean/sum, an array of `input`'s shape (`gshape`) for none.
#[allow(clippy::too_many_arguments)]
pub fn loss_backward<T: Real>(
    kind: RegressionLoss,
    g: &[T],
    gshape: &[usize],
    input: &[T],
    ishape: &[usize],
    target: &[T],
    tshape: &[usize],
    reduction: Reduction,
) -> Result<Vec<T>> {
    let func = match kind {
        RegressionLoss::Mse => "mse_loss_backward",
        RegressionLoss::L1 => "l1_loss_backward",
        RegressionLoss::Huber { .. } => "huber_loss_backward",
        RegressionLoss::SmoothL1 { .. } => "smooth_l1_loss_backward",
    };
    check_same_shape(func, ("input", ishape), ("target", tshape))?;
    let kind = kind.resolve(func)?;
    let n = input.len();
    check_loss_grad(func, reduction, gshape, g.len(), ishape, n)?;
    let scale: T = reduction.scale(n, batch_of(ishape));
    let none = reduction == Reduction::None;
    let mut out = buf::zeros(n)?;
    match kind {
        RegressionLoss::Mse => {
            let two = T::c(2.0);
            fill_grad(&mut out, input, target, g, none, scale, |d| two * d);
        }
        RegressionLoss::L1 => fill_grad(&mut out, input, target, g, none, scale, sign),
        RegressionLoss::Huber { delta } => {
            // d clipped to [-delta, delta] by selects (NaN passes through both).
            let dl = T::c(delta);
            fill_grad(&mut out, input, target, g, none, scale, |d| {
                let c = if d < -dl { -dl } else { d };
                if c > dl {
                    dl
                } else {
                    c
                }
            });
        }
        RegressionLoss::SmoothL1 { beta } => {
            let b = T::c(beta);
            fill_grad(&mut out, input, target, g, none, scale, |d| {
                let c = if d <= -b { -T::one() } else { d / b };
                if d >= b {
                    T::one()
                } else {
                    c
                }
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_of_each_loss() {
        let x = [0.0f64, 0.5, 3.0, -2.0];
        let y = [0.0f64; 4];
        let s = [4];
        let l = |k, r| loss(k, &x, &s, &y, &s, r).unwrap();
        assert_eq!(l(RegressionLoss::Mse, Reduction::Sum), vec![13.25]);
        assert_eq!(l(RegressionLoss::L1, Reduction::Mean), vec![5.5 / 4.0]);
        assert_eq!(
            l(RegressionLoss::Huber { delta: 1.0 }, Reduction::None),
            vec![0.0, 0.125, 2.5, 1.5]
        );
        assert_eq!(
            l(RegressionLoss::SmoothL1 { beta: 2.0 }, Reduction::None),
            vec![0.0, 0.0625, 2.0, 1.0]
        );
        assert_eq!(
            l(RegressionLoss::SmoothL1 { beta: 0.0 }, Reduction::Sum),
            vec![5.5]
        );
    }

    #[test]
    fn gradients_and_kinks() {
        let x = [0.0f64, 1.0, 3.0, -2.0];
        let y = [0.0f64; 4];
        let s = [4];
        let b = |k| loss_backward(k, &[1.0], &[], &x, &s, &y, &s, Reduction::Sum).unwrap();
        assert_eq!(b(RegressionLoss::L1), vec![0.0, 1.0, 1.0, -1.0]);
        assert_eq!(
            b(RegressionLoss::Huber { delta: 1.0 }),
            vec![0.0, 1.0, 1.0, -1.0]
        );
        assert_eq!(
            b(RegressionLoss::SmoothL1 { beta: 0.0 }),
            vec![0.0, 1.0, 1.0, -1.0]
        );
        let m = loss_backward(
            RegressionLoss::Mse,
            &[2.0],
            &[],
            &x,
            &s,
            &y,
            &s,
            Reduction::Mean,
        );
        assert_eq!(m.unwrap(), vec![0.0, 1.0, 3.0, -2.0]);
    }

    #[test]
    fn large_sums_match_small_ones() {
        let n = 100_003;
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let y = vec![0.0f64; n];
        let s = [n];
        let got = loss(RegressionLoss::L1, &x, &s, &y, &s, Reduction::Sum).unwrap()[0];
        let want: f64 = x.iter().sum();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = [1.0f32; 4];
        assert!(loss(RegressionLoss::Mse, &x, &[4], &x, &[2, 2], Reduction::Mean).is_err());
        let h = RegressionLoss::Huber { delta: 0.0 };
        assert!(loss(h, &x, &[4], &x, &[4], Reduction::Mean).is_err());
        let sl = RegressionLoss::SmoothL1 { beta: -1.0 };
        assert!(loss(sl, &x, &[4], &x, &[4], Reduction::Mean).is_err());
        let r = loss_backward(
            RegressionLoss::L1,
            &x,
            &[4],
            &x,
            &[4],
            &x,
            &[4],
            Reduction::Mean,
        );
        assert!(r.is_err());
        let r = loss_backward(
            RegressionLoss::L1,
            &x,
            &[2, 2],
            &x,
            &[4],
            &x,
            &[4],
            Reduction::None,
        );
        assert!(r.is_err());
    }
}
