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

use crate::buf;
use crate::error::Result;
use crate::parallel::{worth_parallel, PAR_CHUNK};
use crate::real::Real;
use crate::team;
use crate::value_err;

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

// ------------------------------------------------------------------------------ SGD

/// Hyperparameters of SGD (`torch.optim.SGD`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl Sgd {
    /// PyTorch's checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        if !at_least(self.lr, 0.0) {
            return value_err!("Invalid learning rate: {}", self.lr);
        }
        if !at_least(self.momentum, 0.0) {
            return value_err!("Invalid momentum value: {}", self.momentum);
        }
        if !at_least(self.weight_decay, 0.0) {
            return value_err!("Invalid weight_decay value: {}", self.weight_decay);
        }
        if self.dampening.is_nan() {
            return value_err!("Invalid dampening value: {}", self.dampening);
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return value_err!("Nesterov momentum requires a momentum and zero dampening");
        }
        Ok(())
    }
}

/// One parameter of an SGD step.
pub struct SgdSlot<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    /// Required when momentum is non-zero.
    pub momentum_buffer: Option<&'a mut [T]>,
    /// The buffer has no history yet: it is set to the gradient (PyTorch's first step).
    pub fresh_buffer: bool,
}

#[derive(Clone, Copy)]
struct SgdCoef<T> {
    sign: T,
    wd: T,
    has_wd: bool,
    momentum: T,
    /// `1 - dampening`
    keep: T,
    nesterov: bool,
    neg_lr: T,
    fresh: bool,
}

struct SgdPiece<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    buf: Option<&'a mut [T]>,
    k: SgdCoef<T>,
}

impl<T: Real> Piece for SgdPiece<'_, T> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at_mut(mid);
        let (g0, g1) = self.g.split_at(mid);
        let (b0, b1) = split_opt(self.buf, mid);
        let k = self.k;
        (
            SgdPiece {
                p: p0,
                g: g0,
                buf: b0,
                k,
            },
            SgdPiece {
                p: p1,
                g: g1,
                buf: b1,
                k,
            },
        )
    }
    #[inline(always)]
    fn run(self) {
        let k = self.k;
        let grad = |p: T, g: T| {
            let g = g * k.sign;
            if k.has_wd {
                g + k.wd * p
            } else {
                g
            }
        };
        match self.buf {
            None => {
                for (p, &g) in self.p.iter_mut().zip(self.g) {
                    let d = grad(*p, g);
                    *p = *p + k.neg_lr * d;
                }
            }
            Some(buf) => {
                for ((p, &g), b) in self.p.iter_mut().zip(self.g).zip(buf.iter_mut()) {
                    let d = grad(*p, g);
                    *b = if k.fresh {
                        d
                    } else {
                        *b * k.momentum + k.keep * d
                    };
                    let d = if k.nesterov { d + k.momentum * *b } else { *b };
                    *p = *p + k.neg_lr * d;
                }
            }
        }
    }
}

/// One SGD step over a parameter group, in place.
///
/// For each element: `g = ±grad + weight_decay * p`; with momentum `b = g` on the first step,
/// else `b = momentum * b + (1 - dampening) * g`, and `g = g + momentum * b` (Nesterov) or
/// `g = b`; then `p = p - lr * g`.
pub fn sgd_step<T: Real>(hp: &Sgd, slots: Vec<SgdSlot<'_, T>>) -> Result<()> {
    hp.validate()?;
    let func = "sgd_step";
    for (i, s) in slots.iter().enumerate() {
        let n = s.param.len();
        check_len(func, "grads", i, s.grad.len(), n)?;
        match &s.momentum_buffer {
            Some(b) => check_len(func, "momentum_buffers", i, b.len(), n)?,
            None if hp.momentum != 0.0 => {
                return value_err!(
                    "{func}: momentum is {} but params[{i}] has no momentum buffer",
                    hp.momentum
                )
            }
            None => {}
        }
    }
    let pieces = slots
        .into_iter()
        .map(|s| SgdPiece {
            p: s.param,
            g: s.grad,
            buf: if hp.momentum != 0.0 {
                s.momentum_buffer
            } else {
                None
            },
            k: SgdCoef {
                sign: sign(hp.maximize),
                wd: T::c(hp.weight_decay),
                has_wd: hp.weight_decay != 0.0,
                momentum: T::c(hp.momentum),
                keep: T::c(1.0 - hp.dampening),
                nesterov: hp.nesterov,
                neg_lr: T::c(-hp.lr),
                fresh: s.fresh_buffer,
            },
        })
        .collect();
    drive(pieces);
    Ok(())
}

// ------------------------------------------------------------------------------ Adam / AdamW

/// Hyperparameters of Adam (`torch.optim.Adam`); `decoupled_weight_decay` makes it AdamW.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled_weight_decay: bool,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
        }
    }
}

impl Adam {
    /// PyTorch's checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        if !at_least(self.lr, 0.0) {
            return value_err!("Invalid learning rate: {}", self.lr);
        }
        if !at_least(self.eps, 0.0) {
            return value_err!("Invalid epsilon value: {}", self.eps);
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return value_err!("Invalid beta parameter at index 0: {}", self.beta1);
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return value_err!("Invalid beta parameter at index 1: {}", self.beta2);
        }
        if !at_least(self.weight_decay, 0.0) {
            return value_err!("Invalid weight_decay value: {}", self.weight_decay);
        }
        Ok(())
    }
}

/// One parameter of an Adam step.
pub struct AdamSlot<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub exp_avg: &'a mut [T],
    pub exp_avg_sq: &'a mut [T],
    /// Required with `amsgrad`.
    pub max_exp_avg_sq: Option<&'a mut [T]>,
    /// The number of this step for this parameter (1 on its first update).
    pub step: f64,
}

const WD_NONE: u8 = 0;
const WD_L2: u8 = 1;
const WD_DECOUPLED: u8 = 2;

#[derive(Clone, Copy)]
struct AdamCoef<T> {
    sign: T,
    wd: T,
    /// `1 - lr * weight_decay` (AdamW)
    decay: T,
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    /// `1 / sqrt(1 - beta2^t)`
    inv_bc2_sqrt: T,
    eps: T,
    neg_step_size: T,
    mode: u8,
}

struct AdamPiece<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    vmax: Option<&'a mut [T]>,
    k: AdamCoef<T>,
}

/// Gradient with weight decay, and both moments, for one element.
#[inline(always)]
fn adam_moments<T: Real, const MODE: u8>(p: &mut T, g: T, m: &mut T, v: &mut T, k: &AdamCoef<T>) {
    let mut g = g * k.sign;
    if MODE == WD_L2 {
        g = g + k.wd * *p;
    } else if MODE == WD_DECOUPLED {
        *p = *p * k.decay;
    }
    *m = *m * k.beta1 + k.one_minus_beta1 * g;
    *v = *v * k.beta2 + k.one_minus_beta2 * g * g;
}

#[inline(always)]
fn adam_run<T: Real, const MODE: u8>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: Option<&mut [T]>,
    k: &AdamCoef<T>,
) {
    match vmax {
        None => {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                adam_moments::<T, MODE>(p, g, m, v, k);
                let denom = v.sqrt() * k.inv_bc2_sqrt + k.eps;
                *p = *p + k.neg_step_size * (*m / denom);
            }
        }
        Some(vmax) => {
            let it = p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut());
            for ((((p, &g), m), v), vm) in it.zip(vmax.iter_mut()) {
                adam_moments::<T, MODE>(p, g, m, v, k);
                *vm = nan_max(*vm, *v);
                let denom = vm.sqrt() * k.inv_bc2_sqrt + k.eps;
                *p = *p + k.neg_step_size * (*m / denom);
            }
        }
    }
}

impl<T: Real> Piece for AdamPiece<'_, T> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at_mut(mid);
        let (g0, g1) = self.g.split_at(mid);
        let (m0, m1) = self.m.split_at_mut(mid);
        let (v0, v1) = self.v.split_at_mut(mid);
        let (x0, x1) = split_opt(self.vmax, mid);
        let k = self.k;
        (
            AdamPiece {
                p: p0,
                g: g0,
                m: m0,
                v: v0,
                vmax: x0,
                k,
            },
            AdamPiece {
                p: p1,
                g: g1,
                m: m1,
                v: v1,
                vmax: x1,
                k,
            },
        )
    }
    #[inline(always)]
    fn run(self) {
        let k = self.k;
        match k.mode {
            WD_L2 => adam_run::<T, WD_L2>(self.p, self.g, self.m, self.v, self.vmax, &k),
            WD_DECOUPLED => {
                adam_run::<T, WD_DECOUPLED>(self.p, self.g, self.m, self.v, self.vmax, &k)
            }
            _ => adam_run::<T, WD_NONE>(self.p, self.g, self.m, self.v, self.vmax, &k),
        }
    }
}

/// One Adam (or AdamW) step over a parameter group, in place.
///
/// For each element, with `t` the parameter's step number: `g = ±grad` (plus
/// `weight_decay * p` for Adam, or `p *= 1 - lr * weight_decay` first for AdamW);
/// `m = beta1 * m + (1 - beta1) * g`; `v = beta2 * v + (1 - beta2) * g²`;
/// with amsgrad `vmax = max(vmax, v)` replaces `v` below;
/// `p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`.
pub fn adam_step<T: Real>(hp: &Adam, slots: Vec<AdamSlot<'_, T>>) -> Result<()> {
    hp.validate()?;
    let func = "adam_step";
    for (i, s) in slots.iter().enumerate() {
        let n = s.param.len();
        check_len(func, "grads", i, s.grad.len(), n)?;
        check_len(func, "exp_avgs", i, s.exp_avg.len(), n)?;
        check_len(func, "exp_avg_sqs", i, s.exp_avg_sq.len(), n)?;
        match &s.max_exp_avg_sq {
            Some(b) => check_len(func, "max_exp_avg_sqs", i, b.len(), n)?,
            None if hp.amsgrad => {
                return value_err!("{func}: amsgrad needs max_exp_avg_sqs, none for params[{i}]")
            }
            None => {}
        }
        if !at_least(s.step, 1.0) {
            return value_err!("{func}: steps[{i}] must be at least 1, got {}", s.step);
        }
    }
    let mode = if hp.weight_decay == 0.0 {
        WD_NONE
    } else if hp.decoupled_weight_decay {
        WD_DECOUPLED
    } else {
        WD_L2
    };
    let pieces = slots
        .into_iter()
        .map(|s| {
            let bc1 = 1.0 - hp.beta1.powf(s.step);
            let bc2 = 1.0 - hp.beta2.powf(s.step);
            AdamPiece {
                p: s.param,
                g: s.grad,
                m: s.exp_avg,
                v: s.exp_avg_sq,
                vmax: if hp.amsgrad { s.max_exp_avg_sq } else { None },
                k: AdamCoef {
                    sign: sign(hp.maximize),
                    wd: T::c(hp.weight_decay),
                    decay: T::c(1.0 - hp.lr * hp.weight_decay),
                    beta1: T::c(hp.beta1),
                    one_minus_beta1: T::c(1.0 - hp.beta1),
                    beta2: T::c(hp.beta2),
                    one_minus_beta2: T::c(1.0 - hp.beta2),
                    inv_bc2_sqrt: T::c(1.0 / bc2.sqrt()),
                    eps: T::c(hp.eps),
                    neg_step_size: T::c(-(hp.lr / bc1)),
                    mode,
                },
            }
        })
        .collect();
    drive(pieces);
    Ok(())
}

// ------------------------------------------------------------------------------ RMSprop

/// Hyperparameters of RMSprop (`torch.optim.RMSprop`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rmsprop {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

impl Default for Rmsprop {
    fn default() -> Self {
        Rmsprop {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

impl Rmsprop {
    /// PyTorch's checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        if !at_least(self.lr, 0.0) {
            return value_err!("Invalid learning rate: {}", self.lr);
        }
        if !at_least(self.eps, 0.0) {
            return value_err!("Invalid epsilon value: {}", self.eps);
        }
        if !at_least(self.momentum, 0.0) {
            return value_err!("Invalid momentum value: {}", self.momentum);
        }
        if !at_least(self.weight_decay, 0.0) {
            return value_err!("Invalid weight_decay value: {}", self.weight_decay);
        }
        if !at_least(self.alpha, 0.0) {
            return value_err!("Invalid alpha value: {}", self.alpha);
        }
        Ok(())
    }
}

/// One parameter of an RMSprop step.
pub struct RmspropSlot<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub square_avg: &'a mut [T],
    /// Required when centered.
    pub grad_avg: Option<&'a mut [T]>,
    /// Required when momentum is positive.
    pub momentum_buffer: Option<&'a mut [T]>,
}

#[derive(Clone, Copy)]
struct RmspropCoef<T> {
    sign: T,
    wd: T,
    has_wd: bool,
    alpha: T,
    one_minus_alpha: T,
    half: T,
    eps: T,
    momentum: T,
    neg_lr: T,
}

struct RmspropPiece<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    sq: &'a mut [T],
    ga: Option<&'a mut [T]>,
    buf: Option<&'a mut [T]>,
    k: RmspropCoef<T>,
}

impl<T: Real> Piece for RmspropPiece<'_, T> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at_mut(mid);
        let (g0, g1) = self.g.split_at(mid);
        let (s0, s1) = self.sq.split_at_mut(mid);
        let (a0, a1) = split_opt(self.ga, mid);
        let (b0, b1) = split_opt(self.buf, mid);
        let k = self.k;
        (
            RmspropPiece {
                p: p0,
                g: g0,
                sq: s0,
                ga: a0,
                buf: b0,
                k,
            },
            RmspropPiece {
                p: p1,
                g: g1,
                sq: s1,
                ga: a1,
                buf: b1,
                k,
            },
        )
    }
    #[inline(always)]
    fn run(self) {
        let k = self.k;
        let n = self.p.len();
        let mut ga = self.ga;
        let mut buf = self.buf;
        for i in 0..n {
            let p = self.p[i];
            let mut g = self.g[i] * k.sign;
            if k.has_wd {
                g = g + k.wd * p;
            }
            let sq = self.sq[i] * k.alpha + k.one_minus_alpha * g * g;
            self.sq[i] = sq;
            let avg = match ga.as_deref_mut() {
                Some(ga) => {
                    let a = lerp(ga[i], g, k.one_minus_alpha, k.half);
                    ga[i] = a;
                    (sq - a * a).sqrt()
                }
                None => sq.sqrt(),
            } + k.eps;
            self.p[i] = match buf.as_deref_mut() {
                Some(b) => {
                    let nb = b[i] * k.momentum + g / avg;
                    b[i] = nb;
                    p + k.neg_lr * nb
                }
                None => p + k.neg_lr * (g / avg),
            };
        }
    }
}

/// One RMSprop step over a parameter group, in place.
///
/// For each element: `g = ±grad + weight_decay * p`; `s = alpha * s + (1 - alpha) * g²`;
/// centered: `a = lerp(a, g, 1 - alpha)` and `d = sqrt(s - a²) + eps`, else
/// `d = sqrt(s) + eps`; with momentum `b = momentum * b + g / d` and `p = p - lr * b`, else
/// `p = p - lr * g / d`.
pub fn rmsprop_step<T: Real>(hp: &Rmsprop, slots: Vec<RmspropSlot<'_, T>>) -> Result<()> {
    hp.validate()?;
    let func = "rmsprop_step";
    for (i, s) in slots.iter().enumerate() {
        let n = s.param.len();
        check_len(func, "grads", i, s.grad.len(), n)?;
        check_len(func, "square_avgs", i, s.square_avg.len(), n)?;
        match &s.grad_avg {
            Some(b) => check_len(func, "grad_avgs", i, b.len(), n)?,
            None if hp.centered => {
                return value_err!("{func}: centered needs grad_avgs, none for params[{i}]")
            }
            None => {}
        }
        match &s.momentum_buffer {
            Some(b) => check_len(func, "momentum_buffers", i, b.len(), n)?,
            None if hp.momentum > 0.0 => {
                return value_err!(
                    "{func}: momentum is {} but params[{i}] has no momentum buffer",
                    hp.momentum
                )
            }
            None => {}
        }
    }
    let k = RmspropCoef {
        sign: sign(hp.maximize),
        wd: T::c(hp.weight_decay),
        has_wd: hp.weight_decay != 0.0,
        alpha: T::c(hp.alpha),
        one_minus_alpha: T::c(1.0 - hp.alpha),
        half: T::c(0.5),
        eps: T::c(hp.eps),
        momentum: T::c(hp.momentum),
        neg_lr: T::c(-hp.lr),
    };
    let pieces = slots
        .into_iter()
        .map(|s| RmspropPiece {
            p: s.param,
            g: s.grad,
            sq: s.square_avg,
            ga: if hp.centered { s.grad_avg } else { None },
            buf: if hp.momentum > 0.0 {
                s.momentum_buffer
            } else {
                None
            },
            k,
        })
        .collect();
    drive(pieces);
    Ok(())
}

// ------------------------------------------------------------------------------ Adagrad

/// Hyperparameters of Adagrad (`torch.optim.Adagrad`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl Adagrad {
    /// PyTorch's checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        if !at_least(self.lr, 0.0) {
            return value_err!("Invalid learning rate: {}", self.lr);
        }
        if !at_least(self.lr_decay, 0.0) {
            return value_err!("Invalid lr_decay value: {}", self.lr_decay);
        }
        if !at_least(self.weight_decay, 0.0) {
            return value_err!("Invalid weight_decay value: {}", self.weight_decay);
        }
        if !at_least(self.eps, 0.0) {
            return value_err!("Invalid epsilon value: {}", self.eps);
        }
        Ok(())
    }
}

/// One parameter of an Adagrad step.
pub struct AdagradSlot<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub state_sum: &'a mut [T],
    /// The number of this step for this parameter (1 on its first update).
    pub step: f64,
}

#[derive(Clone, Copy)]
struct AdagradCoef<T> {
    sign: T,
    wd: T,
    has_wd: bool,
    eps: T,
    neg_clr: T,
}

struct AdagradPiece<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    sum: &'a mut [T],
    k: AdagradCoef<T>,
}

impl<T: Real> Piece for AdagradPiece<'_, T> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at_mut(mid);
        let (g0, g1) = self.g.split_at(mid);
        let (s0, s1) = self.sum.split_at_mut(mid);
        let k = self.k;
        (
            AdagradPiece {
                p: p0,
                g: g0,
                sum: s0,
                k,
            },
            AdagradPiece {
                p: p1,
                g: g1,
                sum: s1,
                k,
            },
        )
    }
    #[inline(always)]
    fn run(self) {
        let k = self.k;
        for ((p, &g), s) in self.p.iter_mut().zip(self.g).zip(self.sum.iter_mut()) {
            let mut g = g * k.sign;
            if k.has_wd {
                g = g + k.wd * *p;
            }
            *s = *s + g * g;
            let std = s.sqrt() + k.eps;
            *p = *p + k.neg_clr * (g / std);
        }
    }
}

/// One Adagrad step over a parameter group, in place.
///
/// For each element, with `t` the parameter's step number: `g = ±grad + weight_decay * p`;
/// `clr = lr / (1 + (t - 1) * lr_decay)`; `s = s + g²`; `p = p - clr * g / (sqrt(s) + eps)`.
pub fn adagrad_step<T: Real>(hp: &Adagrad, slots: Vec<AdagradSlot<'_, T>>) -> Result<()> {
    hp.validate()?;
    let func = "adagrad_step";
    for (i, s) in slots.iter().enumerate() {
        let n = s.param.len();
        check_len(func, "grads", i, s.grad.len(), n)?;
        check_len(func, "state_sums", i, s.state_sum.len(), n)?;
        if !at_least(s.step, 1.0) {
            return value_err!("{func}: steps[{i}] must be at least 1, got {}", s.step);
        }
    }
    let pieces = slots
        .into_iter()
        .map(|s| {
            let clr = hp.lr / (1.0 + (s.step - 1.0) * hp.lr_decay);
            AdagradPiece {
                p: s.param,
                g: s.grad,
                sum: s.state_sum,
                k: AdagradCoef {
                    sign: sign(hp.maximize),
                    wd: T::c(hp.weight_decay),
                    has_wd: hp.weight_decay != 0.0,
                    eps: T::c(hp.eps),
                    neg_clr: T::c(-clr),
                },
            }
        })
        .collect();
    drive(pieces);
    Ok(())
}

// ------------------------------------------------------------------------------ NAdam / RAdam

/// Hyperparameters of NAdam (`torch.optim.NAdam`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nadam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Default for Nadam {
    fn default() -> Self {
        Nadam {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

/// PyTorch's checks shared by Adam's relatives, with its messages.
fn check_adam_like(lr: f64, eps: f64, beta1: f64, beta2: f64, weight_decay: f64) -> Result<()> {
    Adam {
        lr,
        eps,
        beta1,
        beta2,
        weight_decay,
        ..Adam::default()
    }
    .validate()
}

impl Nadam {
    /// PyTorch's checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        check_adam_like(self.lr, self.eps, self.beta1, self.beta2, self.weight_decay)?;
        if !at_least(self.momentum_decay, 0.0) {
            return value_err!("Invalid momentum_decay value: {}", self.momentum_decay);
        }
        Ok(())
    }
}

/// One parameter of a NAdam step.
pub struct NadamSlot<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub exp_avg: &'a mut [T],
    pub exp_avg_sq: &'a mut [T],
    /// The number of this step for this parameter (1 on its first update).
    pub step: f64,
    /// The product of the momentum coefficients `mu` of the earlier steps (1 before the first).
    pub mu_product: f64,
}

/// Per-tensor constants of an Adam-like update (NAdam, RAdam).
#[derive(Clone, Copy)]
struct AdamLikeCoef<T> {
    sign: T,
    wd: T,
    /// `1 - lr * weight_decay` (decoupled decay)
    decay: T,
    mode: u8,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    half: T,
    eps: T,
    /// NAdam: `1 - beta2^t`; RAdam: `sqrt(1 - beta2^t)`.
    bc2: T,
    /// NAdam: the gradient's coefficient; RAdam: `1 - beta1^t`.
    a: T,
    /// NAdam: the momentum's coefficient; RAdam: `lr`.
    b: T,
    /// RAdam: the rectification term, when the variance is tractable (`rho_t > 5`).
    rect: Option<T>,
}

struct AdamLikePiece<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    k: AdamLikeCoef<T>,
    nadam: bool,
}

/// The decayed gradient and both moments of one element (PyTorch's order: decay, `lerp` for
/// the first moment, `v * beta2 + (1 - beta2) * g * g` for the second).
#[inline(always)]
fn adam_like_moments<T: Real>(p: &mut T, g: T, m: &mut T, v: &mut T, k: &AdamLikeCoef<T>) -> T {
    let mut g = g * k.sign;
    if k.mode == WD_L2 {
        g = g + k.wd * *p;
    } else if k.mode == WD_DECOUPLED {
        *p = *p * k.decay;
    }
    *m = lerp(*m, g, k.one_minus_beta1, k.half);
    *v = *v * k.beta2 + k.one_minus_beta2 * g * g;
    g
}

impl<T: Real> Piece for AdamLikePiece<'_, T> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at_mut(mid);
        let (g0, g1) = self.g.split_at(mid);
        let (m0, m1) = self.m.split_at_mut(mid);
        let (v0, v1) = self.v.split_at_mut(mid);
        let (k, nadam) = (self.k, self.nadam);
        (
            AdamLikePiece {
                p: p0,
                g: g0,
                m: m0,
                v: v0,
                k,
                nadam,
            },
            AdamLikePiece {
                p: p1,
                g: g1,
                m: m1,
                v: v1,
                k,
                nadam,
            },
        )
    }
    #[inline(always)]
    fn run(self) {
        let k = self.k;
        let it = self.p.iter_mut().zip(self.g).zip(self.m.iter_mut());
        for (((p, &g), m), v) in it.zip(self.v.iter_mut()) {
            let g = adam_like_moments(p, g, m, v, &k);
            if self.nadam {
                let denom = (*v / k.bc2).sqrt() + k.eps;
                *p = *p + k.a * (g / denom);
                *p = *p + k.b * (*m / denom);
            } else {
                let step = (*m / k.a) * k.b;
                *p = *p
                    - match k.rect {
                        Some(r) => step * (k.bc2 / (v.sqrt() + k.eps)) * r,
                        None => step,
                    };
            }
        }
    }
}

fn wd_mode(weight_decay: f64, decoupled: bool) -> u8 {
    if weight_decay == 0.0 {
        WD_NONE
    } else if decoupled {
        WD_DECOUPLED
    } else {
        WD_L2
    }
}

#[allow(clippy::too_many_arguments)]
fn adam_like_coef<T: Real>(
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    maximize: bool,
    bc2: f64,
    a: f64,
    b: f64,
    rect: Option<f64>,
) -> AdamLikeCoef<T> {
    AdamLikeCoef {
        sign: sign(maximize),
        wd: T::c(weight_decay),
        decay: T::c(1.0 - lr * weight_decay),
        mode: wd_mode(weight_decay, decoupled),
        one_minus_beta1: T::c(1.0 - beta1),
        beta2: T::c(beta2),
        one_minus_beta2: T::c(1.0 - beta2),
        half: T::c(0.5),
        eps: T::c(eps),
        bc2: T::c(bc2),
        a: T::c(a),
        b: T::c(b),
        rect: rect.map(T::c),
    }
}

/// Checks the buffers and step number of one slot of an Adam-like step.
fn check_adam_like_slot(func: &str, i: usize, n: usize, lens: [usize; 3], step: f64) -> Result<()> {
    check_len(func, "grads", i, lens[0], n)?;
    check_len(func, "exp_avgs", i, lens[1], n)?;
    check_len(func, "exp_avg_sqs", i, lens[2], n)?;
    if !at_least(step, 1.0) {
        return value_err!("{func}: steps[{i}] must be at least 1, got {}", step);
    }
    Ok(())
}

/// One NAdam step over a parameter group, in place. Returns each parameter's new product of
/// momentum coefficients (its `mu_product` state after this step).
///
/// For each element, with `t` the parameter's step number and `psi` the momentum decay:
/// `g = ±grad` (plus `weight_decay * p`, or `p *= 1 - lr * weight_decay` first when
/// decoupled); `mu_t = beta1 (1 - 0.5 * 0.96^(t psi))`; `m = lerp(m, g, 1 - beta1)`;
/// `v = beta2 v + (1 - beta2) g²`; `d = sqrt(v / (1 - beta2^t)) + eps`;
/// `p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g / d`, then
/// `p -= lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m / d`.
pub fn nadam_step<T: Real>(hp: &Nadam, slots: Vec<NadamSlot<'_, T>>) -> Result<Vec<f64>> {
    hp.validate()?;
    let func = "nadam_step";
    for (i, s) in slots.iter().enumerate() {
        let lens = [s.grad.len(), s.exp_avg.len(), s.exp_avg_sq.len()];
        check_adam_like_slot(func, i, s.param.len(), lens, s.step)?;
        if !s.mu_product.is_finite() {
            return value_err!(
                "{func}: mu_products[{i}] must be finite, got {}",
                s.mu_product
            );
        }
    }
    let mut products = Vec::with_capacity(slots.len());
    let pieces = slots
        .into_iter()
        .map(|s| {
            let t = s.step;
            let mu = hp.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * hp.momentum_decay));
            let mu_next = hp.beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * hp.momentum_decay));
            let product = s.mu_product * mu;
            let product_next = product * mu_next;
            products.push(product);
            AdamLikePiece {
                p: s.param,
                g: s.grad,
                m: s.exp_avg,
                v: s.exp_avg_sq,
                k: adam_like_coef(
                    hp.lr,
                    hp.beta1,
                    hp.beta2,
                    hp.eps,
                    hp.weight_decay,
                    hp.decoupled_weight_decay,
                    hp.maximize,
                    1.0 - hp.beta2.powf(t),
                    -hp.lr * (1.0 - mu) / (1.0 - product),
                    (-hp.lr * mu_next) / (1.0 - product_next),
                    None,
                ),
                nadam: true,
            }
        })
        .collect();
    drive(pieces);
    Ok(products)
}

/// Hyperparameters of RAdam (`torch.optim.RAdam`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Radam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Default for Radam {
    fn default() -> Self {
        Radam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl Radam {
    /// PyTorch's checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        check_adam_like(self.lr, self.eps, self.beta1, self.beta2, self.weight_decay)
    }
}

/// One parameter of a RAdam step.
pub struct RadamSlot<'a, T> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub exp_avg: &'a mut [T],
    pub exp_avg_sq: &'a mut [T],
    /// The number of this step for this parameter (1 on its first update).
    pub step: f64,
}

/// The rectification term of RAdam at step `t`, or None while the variance of the adaptive
/// learning rate is intractable (`rho_t <= 5`).
pub fn radam_rect(beta2: f64, t: f64) -> Option<f64> {
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let bc2 = 1.0 - beta2.powf(t);
    let rho_t = rho_inf - 2.0 * t * beta2.powf(t) / bc2;
    (rho_t > 5.0).then(|| {
        ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .sqrt()
    })
}

/// One RAdam step over a parameter group, in place.
///
/// For each element, with `t` the parameter's step number: `g = ±grad` (weight decay as in
/// NAdam); `m = lerp(m, g, 1 - beta1)`; `v = beta2 v + (1 - beta2) g²`;
/// `rho_inf = 2 / (1 - beta2) - 1`, `rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)`; when
/// `rho_t > 5`: `p -= m / (1 - beta1^t) * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t` with
/// `r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))`, else
/// `p -= m / (1 - beta1^t) * lr`.
pub fn radam_step<T: Real>(hp: &Radam, slots: Vec<RadamSlot<'_, T>>) -> Result<()> {
    hp.validate()?;
    let func = "radam_step";
    for (i, s) in slots.iter().enumerate() {
        let lens = [s.grad.len(), s.exp_avg.len(), s.exp_avg_sq.len()];
        check_adam_like_slot(func, i, s.param.len(), lens, s.step)?;
    }
    let pieces = slots
        .into_iter()
        .map(|s| {
            let t = s.step;
            AdamLikePiece {
                p: s.param,
                g: s.grad,
                m: s.exp_avg,
                v: s.exp_avg_sq,
                k: adam_like_coef(
                    hp.lr,
                    hp.beta1,
                    hp.beta2,
                    hp.eps,
                    hp.weight_decay,
                    hp.decoupled_weight_decay,
                    hp.maximize,
                    (1.0 - hp.beta2.powf(t)).sqrt(),
                    1.0 - hp.beta1.powf(t),
                    hp.lr,
                    radam_rect(hp.beta2, t),
                ),
                nadam: false,
            }
        })
        .collect();
    drive(pieces);
    Ok(())
}

// ------------------------------------------------------------------------------ norms

/// The pieces of a reduction over many arrays: the same `PAR_CHUNK` cut whatever the number of
/// threads, so partial sums combine in the same order every time.
fn read_pieces<'a, T>(arrays: &[&'a [T]]) -> Vec<&'a [T]> {
    arrays.iter().flat_map(|a| a.chunks(PAR_CHUNK)).collect()
}

/// `f` on every piece, in order (in parallel when the total is large).
fn map_pieces<T: Real, F: Fn(&[T]) -> f64 + Sync>(arrays: &[&[T]], f: F) -> Vec<f64> {
    let pieces = read_pieces(arrays);
    let total: usize = arrays.iter().map(|a| a.len()).sum();
    if worth_parallel(total) {
        team::map(pieces, &f)
    } else {
        pieces.iter().map(|p| f(p)).collect()
    }
}

/// Sum of `h(x)` over a slice in `f64`, with eight running sums (fast and accurate).
#[inline(always)]
fn sum_f64<T: Real, H: Fn(f64) -> f64>(xs: &[T], h: H) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += h(x.to_f64().unwrap_or(f64::NAN));
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in rest {
        s += h(x.to_f64().unwrap_or(f64::NAN));
    }
    s
}

/// Largest `|x|` (NaN if any element is NaN; 0 for no elements).
fn max_abs<T: Real>(xs: &[T]) -> f64 {
    let mut m = 0.0f64;
    for &x in xs {
        let a = x.to_f64().unwrap_or(f64::NAN).abs();
        if a.is_nan() {
            return f64::NAN;
        }
        if a > m {
            m = a;
        }
    }
    m
}

/// `sum |x|^p` over every element of every array, accumulated in `f64`.
pub fn power_sum<T: Real>(arrays: &[&[T]], p: f64) -> f64 {
    let parts = if p == 1.0 {
        map_pieces(arrays, |s| sum_f64(s, f64::abs))
    } else if p == 2.0 {
        map_pieces(arrays, |s| sum_f64(s, |x| x * x))
    } else {
        map_pieces(arrays, |s| sum_f64(s, |x| x.abs().powf(p)))
    };
    parts.iter().sum()
}

/// The `norm_type`-norm of all elements of all arrays taken as one vector
/// (`(sum |x|^p)^(1/p)`; the largest `|x|` for `p = inf`), computed in `f64`.
pub fn total_norm<T: Real>(arrays: &[&[T]], norm_type: f64) -> Result<f64> {
    if norm_type == f64::INFINITY {
        let parts = map_pieces(arrays, max_abs);
        return Ok(parts.iter().fold(0.0, |m: f64, &x| {
            if m.is_nan() || x.is_nan() {
                f64::NAN
            } else {
                m.max(x)
            }
        }));
    }
    if !above(norm_type, 0.0) || norm_type.is_infinite() {
        return value_err!("total_norm: norm_type must be positive or inf, got {norm_type}");
    }
    let s = power_sum(arrays, norm_type);
    Ok(if norm_type == 1.0 {
        s
    } else if norm_type == 2.0 {
        s.sqrt()
    } else {
        s.powf(1.0 / norm_type)
    })
}

/// Applies `f` to every element of every array in place (in parallel for large totals).
fn map_inplace<T: Real, F: Fn(T) -> T + Sync + Send + Copy>(arrays: Vec<&mut [T]>, f: F) {
    struct P<'a, T, F> {
        x: &'a mut [T],
        f: F,
    }
    impl<T: Real, F: Fn(T) -> T + Sync + Send + Copy> Piece for P<'_, T, F> {
        fn len(&self) -> usize {
            self.x.len()
        }
        fn split_at(self, mid: usize) -> (Self, Self) {
            let (a, b) = self.x.split_at_mut(mid);
            (P { x: a, f: self.f }, P { x: b, f: self.f })
        }
        #[inline(always)]
        fn run(self) {
            for x in self.x.iter_mut() {
                *x = (self.f)(*x);
            }
        }
    }
    drive(arrays.into_iter().map(|x| P { x, f }).collect());
}

/// Multiplies every element of every array by `factor`, in place.
pub fn scale_inplace<T: Real>(arrays: Vec<&mut [T]>, factor: f64) {
    let c = T::c(factor);
    map_inplace(arrays, move |x| x * c);
}

/// Clamps every element of every array to `[lo, hi]` in place; NaN stays NaN.
pub fn clamp_inplace<T: Real>(arrays: Vec<&mut [T]>, lo: f64, hi: f64) -> Result<()> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return value_err!("clamp_inplace: need lo <= hi, got lo={lo}, hi={hi}");
    }
    let (lo, hi) = (T::c(lo), T::c(hi));
    map_inplace(arrays, move |x| {
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    });
    Ok(())
}

// ------------------------------------------------------------------------------ penalties

/// A weight penalty added to a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Penalty {
    /// `sum |w|`
    L1,
    /// `sum w²`
    L2,
}

/// The value of the penalty over every element of every array, in `f64`.
pub fn penalty<T: Real>(arrays: &[&[T]], kind: Penalty) -> f64 {
    match kind {
        Penalty::L1 => power_sum(arrays, 1.0),
        Penalty::L2 => power_sum(arrays, 2.0),
    }
}

/// `grad_output` times the derivative of the penalty at `x`: `sign(x)` (0 at 0) for L1,
/// `2x` for L2.
pub fn penalty_backward<T: Real>(x: &[T], kind: Penalty, grad_output: f64) -> Result<Vec<T>> {
    let mut out = buf::zeros(x.len())?;
    match kind {
        Penalty::L1 => {
            let g = T::c(grad_output);
            crate::parallel::fill_indexed(&mut out, |i| {
                let v = x[i];
                if v > T::zero() {
                    g
                } else if v < T::zero() {
                    -g
                } else {
                    v * g // 0 (or NaN for NaN)
                }
            });
        }
        Penalty::L2 => {
            let g = T::c(2.0 * grad_output);
            crate::parallel::fill_indexed(&mut out, |i| g * x[i]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: usize, a: f64, b: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64) * a + b).sin()).collect()
    }

    /// A straightforward Adam over plain vectors, step by step.
    #[allow(clippy::too_many_arguments)]
    fn adam_ref(
        p: &mut [f64],
        g: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        vmax: &mut [f64],
        t: f64,
        hp: &Adam,
    ) {
        for i in 0..p.len() {
            let mut gi = if hp.maximize { -g[i] } else { g[i] };
            if hp.decoupled_weight_decay {
                p[i] *= 1.0 - hp.lr * hp.weight_decay;
            } else {
                gi += hp.weight_decay * p[i];
            }
            m[i] = hp.beta1 * m[i] + (1.0 - hp.beta1) * gi;
            v[i] = hp.beta2 * v[i] + (1.0 - hp.beta2) * gi * gi;
            let mh = m[i] / (1.0 - hp.beta1.powf(t));
            vmax[i] = vmax[i].max(v[i]);
            let vv = if hp.amsgrad { vmax[i] } else { v[i] };
            let vh = vv / (1.0 - hp.beta2.powf(t));
            p[i] -= hp.lr * mh / (vh.sqrt() + hp.eps);
        }
    }

    #[test]
    fn adam_matches_reference_serial_and_parallel() {
        for &n in &[7usize, 100_003] {
            for hp in [
                Adam::default(),
                Adam {
                    amsgrad: true,
                    weight_decay: 0.1,
                    ..Adam::default()
                },
                Adam {
                    decoupled_weight_decay: true,
                    weight_decay: 0.1,
                    maximize: true,
                    ..Adam::default()
                },
            ] {
                let mut p = seq(n, 0.3, 0.1);
                let mut r = p.clone();
                let (mut m, mut v, mut x) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                let (mut rm, mut rv, mut rx) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                for t in 1..=5 {
                    let g = seq(n, 0.7, t as f64);
                    let slot = AdamSlot {
                        param: &mut p,
                        grad: &g,
                        exp_avg: &mut m,
                        exp_avg_sq: &mut v,
                        max_exp_avg_sq: Some(&mut x),
                        step: t as f64,
                    };
                    adam_step(&hp, vec![slot]).unwrap();
                    adam_ref(&mut r, &g, &mut rm, &mut rv, &mut rx, t as f64, &hp);
                }
                for (a, b) in p.iter().zip(&r) {
                    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn vector_and_baseline_paths_agree_bit_for_bit() {
        let n = 1003;
        let g: Vec<f32> = seq(n, 0.7, 0.2).iter().map(|&x| x as f32).collect();
        let p0: Vec<f32> = seq(n, 0.3, 0.1).iter().map(|&x| x as f32).collect();
        let k = AdamCoef {
            sign: 1.0f32,
            wd: 0.01,
            decay: 1.0,
            beta1: 0.9,
            one_minus_beta1: 0.1,
            beta2: 0.999,
            one_minus_beta2: 0.001,
            inv_bc2_sqrt: 1.7,
            eps: 1e-8,
            neg_step_size: -0.01,
            mode: WD_L2,
        };
        let mut out = Vec::new();
        for dispatched in [false, true] {
            let (mut p, mut m, mut v, mut x) = (p0.clone(), p0.clone(), g.clone(), g.clone());
            for x in v.iter_mut() {
                *x = *x * *x;
            }
            let piece = AdamPiece {
                p: &mut p,
                g: &g,
                m: &mut m,
                v: &mut v,
                vmax: Some(&mut x),
                k,
            };
            if dispatched {
                run_piece(piece);
            } else {
                piece.run();
            }
            out.push((p, m, v, x));
        }
        let bits = |a: &[f32]| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&out[0].0), bits(&out[1].0));
        assert_eq!(bits(&out[0].3), bits(&out[1].3));
    }

    #[test]
    fn sgd_momentum_first_step_copies_gradient() {
        let mut p = vec![1.0f32, 2.0];
        let g = vec![0.5f32, -1.0];
        let mut b = vec![9.0f32, 9.0];
        let hp = Sgd {
            lr: 0.1,
            momentum: 0.9,
            ..Sgd::default()
        };
        let slot = SgdSlot {
            param: &mut p,
            grad: &g,
            momentum_buffer: Some(&mut b),
            fresh_buffer: true,
        };
        sgd_step(&hp, vec![slot]).unwrap();
        assert_eq!(b, vec![0.5, -1.0]);
        assert_eq!(p, vec![1.0 - 0.1 * 0.5, 2.0 + 0.1]);
    }

    #[test]
    fn errors_leave_state_untouched() {
        let mut p = vec![1.0f64; 3];
        let g = vec![1.0f64; 2];
        let mut m = vec![0.0; 3];
        let mut v = vec![0.0; 3];
        let slot = AdamSlot {
            param: &mut p,
            grad: &g,
            exp_avg: &mut m,
            exp_avg_sq: &mut v,
            max_exp_avg_sq: None,
            step: 1.0,
        };
        let e = adam_step(&Adam::default(), vec![slot]).unwrap_err();
        assert!(e.to_string().contains("grads[0] has 2 elements"));
        assert_eq!(p, vec![1.0; 3]);
        let bad = Adam {
            lr: -1.0,
            ..Adam::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "Invalid learning rate: -1"
        );
        let bad = Sgd {
            nesterov: true,
            ..Sgd::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn norms_and_inplace_ops() {
        let a = vec![3.0f32, -4.0];
        let b = vec![12.0f32];
        assert_eq!(total_norm(&[&a, &b], 2.0).unwrap(), 13.0);
        assert_eq!(total_norm(&[&a, &b], 1.0).unwrap(), 19.0);
        assert_eq!(total_norm(&[&a, &b], f64::INFINITY).unwrap(), 12.0);
        assert!(total_norm(&[&a], 0.0).is_err());
        let nan = vec![f32::NAN, 1.0];
        assert!(total_norm(&[&a, &nan], f64::INFINITY).unwrap().is_nan());
        let big: Vec<f64> = (0..200_000).map(|i| (i % 7) as f64 - 3.0).collect();
        let want: f64 = big.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((total_norm(&[&big], 2.0).unwrap() - want).abs() < 1e-9 * want);
        let mut x = vec![1.0f64, -2.0, f64::NAN];
        clamp_inplace(vec![&mut x], -1.5, 0.5).unwrap();
        assert_eq!(&x[..2], &[0.5, -1.5]);
        assert!(x[2].is_nan());
        scale_inplace(vec![&mut x[..2]], 2.0);
        assert_eq!(&x[..2], &[1.0, -3.0]);
        assert_eq!(
            penalty_backward(&[2.0f64, 0.0, -1.0], Penalty::L1, 3.0).unwrap(),
            vec![3.0, 0.0, -3.0]
        );
        assert_eq!(penalty(&[&[2.0f64, -1.0][..]], Penalty::L2), 5.0);
    }

    #[test]
    fn nadam_and_radam_match_the_formulas() {
        for &n in &[5usize, 70_001] {
            for (wd, decoupled) in [(0.0, false), (0.1, false), (0.1, true)] {
                let hp = Nadam {
                    weight_decay: wd,
                    decoupled_weight_decay: decoupled,
                    ..Nadam::default()
                };
                let rp = Radam {
                    weight_decay: wd,
                    decoupled_weight_decay: decoupled,
                    lr: 0.01,
                    ..Radam::default()
                };
                let (mut p, mut q) = (seq(n, 0.3, 0.1), seq(n, 0.3, 0.1));
                let (mut r, mut rq) = (p.clone(), q.clone());
                let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
                let (mut qm, mut qv) = (vec![0.0; n], vec![0.0; n]);
                let (mut rm, mut rv, mut rqm, mut rqv) =
                    (m.clone(), v.clone(), m.clone(), v.clone());
                let (mut prod, mut rprod) = (1.0, 1.0);
                for t in 1..=8 {
                    let tf = t as f64;
                    let g = seq(n, 0.7, tf);
                    let slot = NadamSlot {
                        param: &mut p,
                        grad: &g,
                        exp_avg: &mut m,
                        exp_avg_sq: &mut v,
                        step: tf,
                        mu_product: prod,
                    };
                    prod = nadam_step(&hp, vec![slot]).unwrap()[0];
                    let slot = RadamSlot {
                        param: &mut q,
                        grad: &g,
                        exp_avg: &mut qm,
                        exp_avg_sq: &mut qv,
                        step: tf,
                    };
                    radam_step(&rp, vec![slot]).unwrap();
                    let mu = 0.9 * (1.0 - 0.5 * 0.96f64.powf(tf * 4e-3));
                    let mu1 = 0.9 * (1.0 - 0.5 * 0.96f64.powf((tf + 1.0) * 4e-3));
                    rprod *= mu;
                    let rho_inf = 2.0 / (1.0 - 0.999) - 1.0;
                    let b2t = 0.999f64.powf(tf);
                    let rho = rho_inf - 2.0 * tf * b2t / (1.0 - b2t);
                    for i in 0..n {
                        for (w, mm, vv, lr) in [
                            (&mut r[i], &mut rm[i], &mut rv[i], 2e-3),
                            (&mut rq[i], &mut rqm[i], &mut rqv[i], 0.01),
                        ] {
                            let mut gi = g[i];
                            if decoupled {
                                *w *= 1.0 - lr * wd;
                            } else {
                                gi += wd * *w;
                            }
                            *mm = 0.9 * *mm + 0.1 * gi;
                            *vv = 0.999 * *vv + 0.001 * gi * gi;
                            if lr == 2e-3 {
                                let d = (*vv / (1.0 - b2t)).sqrt() + 1e-8;
                                *w -= lr * (1.0 - mu) / (1.0 - rprod) * gi / d;
                                *w -= lr * mu1 / (1.0 - rprod * mu1) * *mm / d;
                            } else {
                                let mh = *mm / (1.0 - 0.9f64.powf(tf));
                                if rho > 5.0 {
                                    let l = (1.0 - b2t).sqrt() / (vv.sqrt() + 1e-8);
                                    let rt = ((rho - 4.0) * (rho - 2.0) * rho_inf
                                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
                                        .sqrt();
                                    *w -= lr * mh * rt * l;
                                } else {
                                    *w -= lr * mh;
                                }
                            }
                        }
                    }
                }
                assert!((prod - rprod).abs() < 1e-15);
                for (a, b) in p.iter().zip(&r).chain(q.iter().zip(&rq)) {
                    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
                }
            }
        }
        assert!(radam_rect(0.999, 5.0).is_none() && radam_rect(0.999, 6.0).is_some());
        let bad = Nadam {
            momentum_decay: -1.0,
            ..Nadam::default()
        };
        assert!(nadam_step::<f64>(&bad, vec![]).is_err());
    }
}
