//! Measures on discrete distributions along one axis: entropy `H(p) = -sum p log p`,
//! cross-entropy `H(p, q) = -sum p log q`, and PyTorch's pointwise `kl_div`, each with its
//! gradient. The convention `0 log 0 = 0` holds throughout: a zero probability contributes
//! nothing.
//!
//! ```
//! use ferrograd_core::loss::distribution::entropy;
//! let (h, shape) = entropy(&[0.5f64, 0.5], &[2], -1, Some(2.0)).unwrap();
//! assert_eq!((h, shape), (vec![1.0], vec![]));
//! ```

use super::regression::{batch_of, check_loss_grad, reduce_indexed, sum_indexed, sum_range};
use super::Reduction;
use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{
    fill_indexed, first_position, for_each_row, worth_parallel, PAR_CHUNK,
};
use crate::runtime::team;
use crate::shape::{check_same_shape, fmt_shape, normalize_axes};
use crate::softmax::split_axis;
use crate::{shape_err, value_err};

/// `ln(base)` for a logarithm base (`None`: natural logarithm).
fn log_base(func: &str, base: Option<f64>) -> Result<Option<f64>> {
    match base {
        None => Ok(None),
        Some(b) if b.is_finite() && b > 0.0 && b != 1.0 => Ok(Some(b.ln())),
        Some(b) => value_err!("{func}: base must be positive, finite and not 1, got {b}"),
    }
}

/// `x[idx]` written with the multi-index of flat position `i` in `shape`.
fn at(name: &str, i: usize, shape: &[usize]) -> String {
    if shape.is_empty() {
        return name.to_string();
    }
    let mut idx = vec![0; shape.len()];
    let mut rem = i;
    for (d, &s) in shape.iter().enumerate().rev() {
        idx[d] = rem % s.max(1);
        rem /= s.max(1);
    }
    let parts: Vec<String> = idx.iter().map(|v| v.to_string()).collect();
    format!("{name}[{}]", parts.join(", "))
}

/// A `ValueError` if `x` holds a negative value (NaN passes and propagates).
fn check_probabilities<T: Real>(func: &str, name: &str, x: &[T], shape: &[usize]) -> Result<()> {
    let bad = first_position(x, |&v| v < T::zero());
    match bad {
        Some(i) => value_err!(
            "{func}: {name} must hold probabilities (non-negative), but {} = {}",
            at(name, i, shape),
            x[i]
        ),
        None => Ok(()),
    }
}

/// Where a distribution axis sits in an array: (outer, n, inner) around it, and the shape
/// of the result with the axis removed.
struct AxisPlan {
    n: usize,
    inner: usize,
    out_len: usize,
    out_shape: Vec<usize>,
}

impl AxisPlan {
    fn new(func: &str, shape: &[usize], axis: isize) -> Result<Self> {
        let (outer, n, inner) = split_axis(func, shape, axis)?;
        let out_shape = if shape.is_empty() {
            vec![]
        } else {
            let ax = normalize_axes(func, Some(&[axis]), shape.len())?[0];
            let mut s = shape.to_vec();
            s.remove(ax);
            s
        };
        Ok(AxisPlan {
            n,
            inner,
            out_len: outer * inner,
            out_shape,
        })
    }

    /// `out[i] = f(i, g[j])` for every input position `i`, where `j` is the reduced output
    /// (distribution) that `i` belongs to; walks rows so that no index is divided per element.
    fn fill_spread<T: Real, F: Fn(usize, T) -> T + Sync>(&self, out: &mut [T], g: &[T], f: F) {
        let (n, inner) = (self.n, self.inner);
        if self.out_len == 1 {
            let g0 = g[0];
            fill_indexed(out, |i| f(i, g0));
        } else if inner == 1 {
            // Each row of length n is one distribution.
            for_each_row(out, n, |o, row| {
                let (gj, base) = (g[o], o * n);
                for (k, v) in row.iter_mut().enumerate() {
                    *v = f(base + k, gj);
                }
            });
        } else {
            // Row r = (o, k) of length inner meets the outputs o * inner .. (o + 1) * inner.
            for_each_row(out, inner, |r, row| {
                let (o, base) = (r / n, r * inner);
                let gs = &g[o * inner..(o + 1) * inner];
                for (i, (v, &gj)) in row.iter_mut().zip(gs).enumerate() {
                    *v = f(base + i, gj);
                }
            });
        }
    }

    /// `out[j] = sum_k term(input index of (j, k))` for every output `j`.
    fn reduce<T: Real, F: Fn(usize) -> T + Sync>(&self, term: F) -> Result<Vec<T>> {
        let (n, inner) = (self.n, self.inner);
        if self.out_len == 1 {
            return Ok(vec![sum_indexed(n, term)]);
        }
        let row = |j: usize| {
            let base = (j / inner) * n * inner + j % inner;
            sum_range(0, n, &|k| term(base + k * inner))
        };
        let mut out = buf::zeros(self.out_len)?;
        if worth_parallel(self.out_len * n) {
            let per = (PAR_CHUNK / n.max(1)).max(1);
            let groups = out.chunks_mut(per).enumerate().collect();
            team::for_each(groups, |(c, group): (usize, &mut [T])| {
                for (i, o) in group.iter_mut().enumerate() {
                    *o = row(c * per + i);
                }
            });
        } else {
            for (j, o) in out.iter_mut().enumerate() {
                *o = row(j);
            }
        }
        Ok(out)
    }

    /// Checks that `grad_output` has the reduced shape (any single element for a 0-d result).
    fn check_grad(&self, func: &str, gshape: &[usize], glen: usize) -> Result<()> {
        let ok = gshape == self.out_shape.as_slice() || (self.out_shape.is_empty() && glen == 1);
        if !ok {
            return shape_err!(
                "{func}: grad_output has shape {}, expected {} (the input's shape without dim)",
                fmt_shape(gshape),
                fmt_shape(&self.out_shape)
            );
        }
        Ok(())
    }
}

/// Divides every element by `ln(base)` when a base is given.
fn in_base<T: Real>(mut v: Vec<T>, ln_b: Option<f64>) -> Vec<T> {
    if let Some(lb) = ln_b {
        let lb = T::c(lb);
        v.iter_mut().for_each(|x| *x = *x / lb);
    }
    v
}

/// Entropy `-sum p log p` of the distributions along `axis` (in units of `base`; natural log
/// when `None`). Returns the values and their shape (`shape` without `axis`).
pub fn entropy<T: Real>(
    p: &[T],
    shape: &[usize],
    axis: isize,
    base: Option<f64>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let func = "entropy";
    let ln_b = log_base(func, base)?;
    let plan = AxisPlan::new(func, shape, axis)?;
    check_probabilities(func, "p", p, shape)?;
    let zero = T::zero();
    let h = plan.reduce(|i| {
        let v = p[i];
        if v == zero {
            zero
        } else {
            -v * v.ln()
        }
    })?;
    Ok((in_base(h, ln_b), plan.out_shape))
}

/// Gradient of [`entropy`] with respect to `p`: `-(log p + 1) / ln(base)` times the
/// `grad_output` of `p`'s distribution (`+inf` at `p = 0`).
pub fn entropy_backward<T: Real>(
    g: &[T],
    gshape: &[usize],
    p: &[T],
    shape: &[usize],
    axis: isize,
    base: Option<f64>,
) -> Result<Vec<T>> {
    let func = "entropy_backward";
    let ln_b = log_base(func, base)?;
    let plan = AxisPlan::new(func, shape, axis)?;
    plan.check_grad(func, gshape, g.len())?;
    check_probabilities(func, "p", p, shape)?;
    let g = in_base(buf::copied(g)?, ln_b);
    let mut out = buf::zeros(p.len())?;
    plan.fill_spread(&mut out, &g, |i, gj| -(p[i].ln() + T::one()) * gj);
    Ok(out)
}

/// Cross-entropy `H(p, q) = -sum p log q` along `axis` (in units of `base`): `+inf` where
/// `q = 0 < p`, and terms with `p = 0` are 0. Returns the values and their shape.
pub fn cross_entropy_dist<T: Real>(
    p: &[T],
    pshape: &[usize],
    q: &[T],
    qshape: &[usize],
    axis: isize,
    base: Option<f64>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let func = "cross_entropy_dist";
    check_same_shape(func, ("p", pshape), ("q", qshape))?;
    let ln_b = log_base(func, base)?;
    let plan = AxisPlan::new(func, pshape, axis)?;
    check_probabilities(func, "p", p, pshape)?;
    check_probabilities(func, "q", q, qshape)?;
    let zero = T::zero();
    let h = plan.reduce(|i| {
        let (a, b) = (p[i], q[i]);
        if a == zero {
            // 0 log q = 0 for every q >= 0; a NaN q still propagates.
            if b.is_nan() {
                b
            } else {
                zero
            }
        } else {
            -a * b.ln()
        }
    })?;
    Ok((in_base(h, ln_b), plan.out_shape))
}

/// Gradients of [`cross_entropy_dist`]: `(-log q, -p / q) / ln(base)` times the
/// `grad_output` of each distribution (`d/dq` is 0 where `p = 0`).
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_dist_backward<T: Real>(
    g: &[T],
    gshape: &[usize],
    p: &[T],
    pshape: &[usize],
    q: &[T],
    qshape: &[usize],
    axis: isize,
    base: Option<f64>,
) -> Result<(Vec<T>, Vec<T>)> {
    let func = "cross_entropy_dist_backward";
    check_same_shape(func, ("p", pshape), ("q", qshape))?;
    let ln_b = log_base(func, base)?;
    let plan = AxisPlan::new(func, pshape, axis)?;
    plan.check_grad(func, gshape, g.len())?;
    check_probabilities(func, "p", p, pshape)?;
    check_probabilities(func, "q", q, qshape)?;
    // grad_output over ln(base), once per distribution rather than per element.
    let g = in_base(buf::copied(g)?, ln_b);
    let zero = T::zero();
    let mut gp = buf::zeros(p.len())?;
    let mut gq = buf::zeros(q.len())?;
    plan.fill_spread(&mut gp, &g, |i, gj| -q[i].ln() * gj);
    plan.fill_spread(&mut gq, &g, |i, gj| {
        let (a, b) = (p[i], q[i]);
        if a == zero && !b.is_nan() {
            zero
        } else {
            -(a / b) * gj
        }
    });
    Ok((gp, gq))
}

/// `torch.nn.functional.kl_div`: pointwise `target * (log target - input)` (or
/// `exp(target) * (target - input)` when `log_target`), 0 where the target probability is 0,
/// reduced by `reduction` (`BatchMean` divides the sum by the first axis' length).
pub fn kl_div<T: Real>(
    input: &[T],
    ishape: &[usize],
    target: &[T],
    tshape: &[usize],
    reduction: Reduction,
    log_target: bool,
) -> Result<Vec<T>> {
    check_same_shape("kl_div", ("input", ishape), ("target", tshape))?;
    let (n, batch) = (input.len(), batch_of(ishape));
    let zero = T::zero();
    // A zero target probability contributes 0 whatever the input, unless the input is NaN.
    let zero_term = |x: T| if x.is_nan() { x } else { zero };
    if log_target {
        reduce_indexed(reduction, n, batch, |i| {
            let (x, t) = (input[i], target[i]);
            let e = t.exp();
            if e == zero {
                zero_term(x)
            } else {
                e * (t - x)
            }
        })
    } else {
        reduce_indexed(reduction, n, batch, |i| {
            let (x, t) = (input[i], target[i]);
            if t == zero {
                zero_term(x)
            } else {
                t * (t.ln() - x)
            }
        })
    }
}

/// Gradient of [`kl_div`] with respect to `input`: `-target` (or `-exp(target)`) times
/// `grad_output` and the reduction's factor.
#[allow(clippy::too_many_arguments)]
pub fn kl_div_backward<T: Real>(
    g: &[T],
    gshape: &[usize],
    input: &[T],
    ishape: &[usize],
    target: &[T],
    tshape: &[usize],
    reduction: Reduction,
    log_target: bool,
) -> Result<Vec<T>> {
    let func = "kl_div_backward";
    check_same_shape(func, ("input", ishape), ("target", tshape))?;
    let n = input.len();
    check_loss_grad(func, reduction, gshape, g.len(), ishape, n)?;
    let scale: T = reduction.scale(n, batch_of(ishape));
    let none = reduction == Reduction::None;
    let gi = |i: usize| if none { g[i] } else { g[0] * scale };
    let zero = T::zero();
    let mut out = buf::zeros(n)?;
    if log_target {
        fill_indexed(&mut out, |i| {
            let e = target[i].exp();
            if e == zero {
                zero
            } else {
                -e * gi(i)
            }
        });
    } else {
        fill_indexed(&mut out, |i| {
            let t = target[i];
            if t == zero {
                zero
            } else {
                -t * gi(i)
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_coin_and_die_in_bits() {
        let (h, s) = entropy(&[0.5f64, 0.5], &[2], -1, Some(2.0)).unwrap();
        assert_eq!((h, s), (vec![1.0], vec![]));
        let die = [1.0f64 / 6.0; 6];
        let (h, _) = entropy(&die, &[6], 0, Some(2.0)).unwrap();
        assert!((h[0] - 6f64.log2()).abs() < 1e-15);
    }

    #[test]
    fn entropy_along_first_axis_and_zero_probabilities() {
        // Columns are distributions: [1, 0] and [0.5, 0.5].
        let p = [1.0f64, 0.5, 0.0, 0.5];
        let (h, s) = entropy(&p, &[2, 2], 0, None).unwrap();
        assert_eq!(s, vec![2]);
        assert_eq!(h[0], 0.0);
        assert!((h[1] - 2f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn kl_is_cross_entropy_minus_entropy() {
        let p = [0.2f64, 0.3, 0.5, 0.0];
        let q = [0.1f64, 0.6, 0.2, 0.1];
        let logq: Vec<f64> = q.iter().map(|v| v.ln()).collect();
        let kl = kl_div(&logq, &[4], &p, &[4], Reduction::Sum, false).unwrap()[0];
        let h = entropy(&p, &[4], -1, None).unwrap().0[0];
        let hpq = cross_entropy_dist(&p, &[4], &q, &[4], -1, None).unwrap().0[0];
        assert!((kl - (hpq - h)).abs() < 1e-15 && kl > 0.0);
        let logp: Vec<f64> = p.iter().map(|v| v.ln()).collect();
        let kl_pp = kl_div(&logp, &[4], &p, &[4], Reduction::Sum, false).unwrap()[0];
        assert_eq!(kl_pp, 0.0);
        let kl_log = kl_div(&logq, &[4], &logp, &[4], Reduction::Sum, true).unwrap()[0];
        assert!((kl_log - kl).abs() < 1e-15);
    }

    #[test]
    fn batchmean_divides_by_the_first_axis() {
        let x = [0.0f64; 6];
        let t = [0.5f64; 6];
        let s = kl_div(&x, &[2, 3], &t, &[2, 3], Reduction::Sum, false).unwrap()[0];
        let b = kl_div(&x, &[2, 3], &t, &[2, 3], Reduction::BatchMean, false).unwrap()[0];
        assert!((b - s / 2.0).abs() < 1e-15);
        let g = kl_div_backward(
            &[1.0],
            &[],
            &x,
            &[2, 3],
            &t,
            &[2, 3],
            Reduction::BatchMean,
            false,
        );
        assert_eq!(g.unwrap(), vec![-0.25; 6]);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(entropy(&[0.5f64, -0.5], &[2], -1, None).is_err());
        assert!(entropy(&[0.5f64, 0.5], &[2], -1, Some(1.0)).is_err());
        assert!(entropy(&[0.5f64, 0.5], &[2], 1, None).is_err());
        assert!(cross_entropy_dist(&[0.5f64; 2], &[2], &[0.5; 3], &[3], -1, None).is_err());
        assert!(kl_div(
            &[0.5f64; 2],
            &[2],
            &[0.5; 2],
            &[1, 2],
            Reduction::Sum,
            false
        )
        .is_err());
        let e = entropy_backward(&[1.0f64; 2], &[2], &[0.5; 2], &[2], -1, None);
        assert!(e.is_err());
    }
}
