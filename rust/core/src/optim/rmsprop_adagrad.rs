//! RMSprop and Adagrad (`torch.optim.RMSprop`, `torch.optim.Adagrad`).

use super::*;
use crate::error::Result;
use crate::real::Real;
use crate::value_err;

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
