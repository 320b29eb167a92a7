//! SGD with momentum, dampening and Nesterov (`torch.optim.SGD`).

use super::*;
use crate::error::Result;
use crate::real::Real;
use crate::value_err;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
