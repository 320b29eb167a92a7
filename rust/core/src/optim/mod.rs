//! Optimizer updates and gradient utilities.
//!
//! Each `*_step` kernel updates every tensor of a parameter group in one call: fused (each
//! element of a parameter, its gradient and its state is read once and written once), in
//! place, split over the threads in chunks when the group is large, and compiled for AVX2
//! when the CPU has it. The update rules are PyTorch's (`torch.optim.SGD`, `Adam`/`AdamW`,
//! `RMSprop`, `Adagrad`) in the same order of operations, except that Adam multiplies by
//! `1 / sqrt(1 - beta2^t)` where PyTorch divides by `sqrt(1 - beta2^t)`: the square root and
//! the divisions bound the speed, and this saves one division per element for a difference of
//! at most a rounding. Hyperparameters and per-tensor scalars (bias corrections, decayed
//! learning rates) are computed in `f64` and rounded once to the element type.
//!
//! Every kernel checks all of its input before it writes anything, so an error leaves the
//! parameters and the state untouched.
//!
//! The gradient utilities compute global norms over many arrays (accumulated in `f64`, in a
//! fixed order, so the result does not depend on the number of threads), and scale or clamp
//! many arrays in place.
//!
//! ```
//! use ferrograd_core::optim::{adam_step, Adam, AdamSlot};
//! let (mut p, g) = (vec![1.0f64, -2.0], vec![0.5, 0.5]);
//! let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
//! let slot = AdamSlot { param: &mut p, grad: &g, exp_avg: &mut m, exp_avg_sq: &mut v,
//!                       max_exp_avg_sq: None, step: 1.0 };
//! adam_step(&Adam { lr: 0.1, ..Adam::default() }, vec![slot]).unwrap();
//! // The first Adam step moves each weight by about lr against the sign of its gradient.
//! assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] + 2.1).abs() < 1e-6);
//! ```

mod adam;
mod nadam_radam;
mod norms;
mod penalty;
mod rmsprop_adagrad;
mod sgd;

pub use adam::{adam_step, Adam, AdamSlot};
pub use nadam_radam::{nadam_step, radam_rect, radam_step, Nadam, NadamSlot, Radam, RadamSlot};
pub use norms::{clamp_inplace, power_sum, scale_inplace, total_norm};
pub use penalty::{penalty, penalty_backward, Penalty};
pub use rmsprop_adagrad::{adagrad_step, rmsprop_step, Adagrad, AdagradSlot, Rmsprop, RmspropSlot};
pub use sgd::{sgd_step, Sgd, SgdSlot};

use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{worth_parallel, PAR_CHUNK};
use crate::runtime::team;

// ------------------------------------------------------------------------------ the driver

/// A run of elements of one or more aligned buffers that can be updated on its own.
trait Piece: Send + Sized {
    fn len(&self) -> usize;
    /// The first `mid` elements and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
    /// The update itself; `#[inline(always)]` in every implementation so that [`run_piece`]
    /// compiles it for each instruction set.
    fn run(self);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<P: Piece>(p: P) {
    p.run()
}

/// Runs a piece with 256-bit vectors when the CPU has AVX2 (chosen at run time), else with
/// the baseline instructions. The loops use only IEEE operations that round the same at any
/// width (never contracted into FMA), so both paths give bit-identical results.
fn run_piece<P: Piece>(p: P) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { run_avx2(p) };
            return;
        }
    }
    p.run()
}

/// Runs every piece: one after another for small totals, otherwise cut into chunks of
/// `PAR_CHUNK` elements and spread over the pool (so a group of many small tensors and a group
/// of one huge tensor both keep every thread busy).
fn drive<P: Piece>(pieces: Vec<P>) {
    let total: usize = pieces.iter().map(Piece::len).sum();
    if !worth_parallel(total) {
        pieces.into_iter().for_each(run_piece);
        return;
    }
    let mut work = Vec::with_capacity(total / PAR_CHUNK + pieces.len());
    for mut p in pieces {
        while p.len() > PAR_CHUNK {
            let (a, b) = p.split_at(PAR_CHUNK);
            work.push(a);
            p = b;
        }
        work.push(p);
    }
    team::for_each(work, run_piece);
}

fn split_opt<T>(s: Option<&mut [T]>, mid: usize) -> (Option<&mut [T]>, Option<&mut [T]>) {
    match s {
        Some(s) => {
            let (a, b) = s.split_at_mut(mid);
            (Some(a), Some(b))
        }
        None => (None, None),
    }
}

/// Checks that a state buffer has as many elements as its parameter.
fn check_len(func: &str, what: &str, i: usize, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(crate::error::Error::Shape(format!(
            "{func}: {what}[{i}] has {got} elements but params[{i}] has {want}"
        )));
    }
    Ok(())
}

/// `x >= lo`, false for NaN.
#[inline]
pub(crate) fn at_least(x: f64, lo: f64) -> bool {
    x >= lo
}

/// `x > lo`, false for NaN.
#[inline]
pub(crate) fn above(x: f64, lo: f64) -> bool {
    x > lo
}

/// `a` when it is NaN or not below `b`, else `b` (`torch.maximum`: NaN wins).
#[inline(always)]
fn nan_max<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || a >= b {
        a
    } else {
        b
    }
}

/// PyTorch's `lerp(start, end, weight)`: exact at both ends.
#[inline(always)]
fn lerp<T: Real>(start: T, end: T, weight: T, half: T) -> T {
    if weight.abs() < half {
        start + weight * (end - start)
    } else {
        end - (end - start) * (T::one() - weight)
    }
}

/// `-1` when maximizing (the gradient is negated), else `1`.
fn sign<T: Real>(maximize: bool) -> T {
    if maximize {
        -T::one()
    } else {
        T::one()
    }
}

/// How weight decay enters an Adam-like update: not at all, added to the gradient (L2), or
/// applied to the weight first (decoupled).
const WD_NONE: u8 = 0;
const WD_L2: u8 = 1;
const WD_DECOUPLED: u8 = 2;

/// A smooth test signal of `n` values.
#[cfg(test)]
fn seq(n: usize, a: f64, b: f64) -> Vec<f64> {
    (0..n).map(|i| ((i as f64) * a + b).sin()).collect()
}
