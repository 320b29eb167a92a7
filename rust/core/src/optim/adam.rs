//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`).

use super::*;
use crate::error::Result;
use crate::real::Real;
use crate::value_err;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{seq, Sgd};

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
}
