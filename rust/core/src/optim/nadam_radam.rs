//! NAdam and RAdam (`torch.optim.NAdam`, `torch.optim.RAdam`): Adam's relatives that share
//! one fused update.

use super::*;
use crate::error::Result;
use crate::real::Real;
use crate::value_err;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::seq;

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
