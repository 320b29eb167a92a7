//! Margin losses and their gradients: `hinge_loss` (binary hinge), `hinge_embedding_loss`,
//! `soft_margin_loss` and `multi_margin_loss`, with PyTorch's semantics.
//!
//! Every forward returns the reduced loss and its shape (`[]` for mean/sum); every backward
//! takes `grad_output` (one element for mean/sum, the loss's shape for none) and returns the
//! gradient with respect to `input`. NaN inputs give NaN losses and NaN gradients.

use super::Reduction;
use crate::activation::sigmoid;
use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{fill_indexed, for_each_row};
use crate::shape::{check_same_shape, fmt_index, fmt_shape, numel};
use crate::{shape_err, value_err};
use std::marker::PhantomData;

/// A read-only array: row-major data with its shape.
#[derive(Debug, Clone, Copy)]
pub struct Arr<'a, T> {
    /// The elements in C order.
    pub data: &'a [T],
    /// The shape; its product is `data.len()`.
    pub shape: &'a [usize],
}

impl<'a, T> Arr<'a, T> {
    /// Pairs `data` with `shape`.
    pub fn new(data: &'a [T], shape: &'a [usize]) -> Self {
        Arr { data, shape }
    }

    /// Checks that the data holds as many elements as the shape says.
    pub(crate) fn check(&self, func: &str, name: &str) -> Result<()> {
        if self.data.len() != numel(self.shape) {
            return shape_err!(
                "{func}: {name} holds {} elements but has shape {}",
                self.data.len(),
                fmt_shape(self.shape)
            );
        }
        Ok(())
    }
}

/// Converts a user-given constant to `T`, saturating to ±inf outside `T`'s range (never panics).
pub(crate) fn to_real<T: Real>(v: f64) -> T {
    <T as num_traits::NumCast>::from(v).unwrap_or_else(|| {
        if v > 0.0 {
            T::infinity()
        } else {
            T::neg_infinity()
        }
    })
}

/// `max(z, 0)`, propagating NaN (unlike `Float::max`).
#[inline(always)]
pub(crate) fn relu<T: Real>(z: T) -> T {
    if z < T::zero() {
        T::zero()
    } else {
        z
    }
}

/// Derivative of `max(z, 0)` as PyTorch's `clamp_min` defines it: 1 where `z >= 0`
/// (the kink included), 0 below, NaN for NaN.
#[inline(always)]
pub(crate) fn relu_grad<T: Real>(z: T) -> T {
    gate(z, T::one())
}

/// `v` where `z >= 0` (PyTorch's `clamp_min` gradient mask, the kink included), 0 below it,
/// NaN for NaN.
#[inline(always)]
pub(crate) fn gate<T: Real>(z: T, v: T) -> T {
    if z >= T::zero() {
        v
    } else if z.is_nan() {
        z
    } else {
        T::zero()
    }
}

/// Checks that every target is exactly -1 or +1; the error names the first one that is not.
pub(crate) fn check_signs<T: Real>(func: &str, target: Arr<'_, T>) -> Result<()> {
    let one = T::one();
    if let Some(i) = target.data.iter().position(|&t| t != one && t != -one) {
        return value_err!(
            "{func}: target must hold only -1 or 1, got {} at index {}",
            target.data[i],
            fmt_index(i, target.shape)
        );
    }
    Ok(())
}

/// Checks `grad_output` against the loss's shape: one element for mean/sum, `out` for none.
pub(crate) fn check_grad<T>(
    func: &str,
    r: Reduction,
    grad: Arr<'_, T>,
    out: &[usize],
) -> Result<()> {
    grad.check(func, "grad_output")?;
    let ok = if r == Reduction::None {
        grad.shape == out
    } else {
        grad.data.len() == 1
    };
    if !ok {
        let want = if r == Reduction::None {
            fmt_shape(out)
        } else {
            "a single element".to_string()
        };
        return shape_err!(
            "{func}: grad_output has shape {}, expected {want} for this reduction",
            fmt_shape(grad.shape)
        );
    }
    Ok(())
}

/// The shape of a reduced loss: `per` for none, `[]` otherwise.
pub(crate) fn out_shape(r: Reduction, per: &[usize]) -> Vec<usize> {
    if r == Reduction::None {
        per.to_vec()
    } else {
        Vec::new()
    }
}

/// The gradient weight of loss element `i`: `grad_output[i]` for none, else the single
/// `grad_output` value times the reduction's scale.
pub(crate) fn grad_weights<T: Real>(r: Reduction, g: &[T], n: usize) -> impl Fn(usize) -> T + '_ {
    let scale: T = r.scale(n, n);
    let single = if r == Reduction::None {
        None
    } else {
        Some(g[0] * scale)
    };
    move |i| single.unwrap_or_else(|| g[i])
}

/// An elementwise loss `f(x, t)` with derivative `df(x, t)` with respect to `x`.
struct Pointwise<T, F, D> {
    name: &'static str,
    f: F,
    df: D,
    signs: bool,
    _t: PhantomData<T>,
}

impl<T: Real, F: Fn(T, T) -> T + Sync, D: Fn(T, T) -> T + Sync> Pointwise<T, F, D> {
    fn validate(&self, func: &str, input: Arr<'_, T>, target: Arr<'_, T>) -> Result<()> {
        input.check(func, "input")?;
        target.check(func, "target")?;
        check_same_shape(func, ("input", input.shape), ("target", target.shape))?;
        if self.signs {
            check_signs(func, target)?;
        }
        Ok(())
    }

    fn forward(
        &self,
        input: Arr<'_, T>,
        target: Arr<'_, T>,
        r: Reduction,
    ) -> Result<(Vec<T>, Vec<usize>)> {
        self.validate(self.name, input, target)?;
        let (x, t) = (input.data, target.data);
        let mut per = buf::zeros(x.len())?;
        fill_indexed(&mut per, |i| (self.f)(x[i], t[i]));
        Ok((r.apply(per, x.len()), out_shape(r, input.shape)))
    }

    fn backward(
        &self,
        grad: Arr<'_, T>,
        input: Arr<'_, T>,
        target: Arr<'_, T>,
        r: Reduction,
    ) -> Result<Vec<T>> {
        let func = format!("{}_backward", self.name);
        self.validate(&func, input, target)?;
        check_grad(&func, r, grad, input.shape)?;
        let (x, t) = (input.data, target.data);
        let w = grad_weights(r, grad.data, x.len());
        let mut out = buf::zeros(x.len())?;
        fill_indexed(&mut out, |i| w(i) * (self.df)(x[i], t[i]));
        Ok(out)
    }
}

fn hinge<T: Real>(margin: T) -> Pointwise<T, impl Fn(T, T) -> T + Sync, impl Fn(T, T) -> T + Sync> {
    Pointwise {
        name: "hinge_loss",
        f: move |x: T, t: T| relu(margin - t * x),
        df: move |x: T, t: T| gate(margin - t * x, -t),
        signs: true,
        _t: PhantomData,
    }
}

/// Binary hinge loss `max(0, margin - target * input)` per element, targets in {-1, +1}.
pub fn hinge_loss<T: Real>(
    input: Arr<'_, T>,
    target: Arr<'_, T>,
    margin: f64,
    r: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    hinge(to_real::<T>(margin)).forward(input, target, r)
}

/// Gradient of [`hinge_loss`] with respect to `input`: `-target` where
/// `margin - target * input >= 0`, else 0, times `grad_output` (and 1/n for mean).
pub fn hinge_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    input: Arr<'_, T>,
    target: Arr<'_, T>,
    margin: f64,
    r: Reduction,
) -> Result<Vec<T>> {
    hinge(to_real::<T>(margin)).backward(grad, input, target, r)
}

fn hinge_embedding<T: Real>(
    margin: T,
) -> Pointwise<T, impl Fn(T, T) -> T + Sync, impl Fn(T, T) -> T + Sync> {
    Pointwise {
        name: "hinge_embedding_loss",
        f: move |x: T, t: T| {
            if t == T::one() {
                x
            } else {
                relu(margin - x)
            }
        },
        df: move |x: T, t: T| {
            if t == T::one() {
                T::one()
            } else {
                gate(margin - x, -T::one())
            }
        },
        signs: true,
        _t: PhantomData,
    }
}

/// PyTorch's `hinge_embedding_loss`: `input` where target is 1, `max(0, margin - input)` where
/// it is -1.
pub fn hinge_embedding_loss<T: Real>(
    input: Arr<'_, T>,
    target: Arr<'_, T>,
    margin: f64,
    r: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    hinge_embedding(to_real::<T>(margin)).forward(input, target, r)
}

/// Gradient of [`hinge_embedding_loss`] with respect to `input`.
pub fn hinge_embedding_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    input: Arr<'_, T>,
    target: Arr<'_, T>,
    margin: f64,
    r: Reduction,
) -> Result<Vec<T>> {
    hinge_embedding(to_real::<T>(margin)).backward(grad, input, target, r)
}

/// `log(1 + exp(z))` without overflow.
#[inline(always)]
fn softplus<T: Real>(z: T) -> T {
    if z > T::zero() {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn soft_margin<T: Real>() -> Pointwise<T, impl Fn(T, T) -> T + Sync, impl Fn(T, T) -> T + Sync> {
    Pointwise {
        name: "soft_margin_loss",
        f: |x: T, t: T| softplus(-t * x),
        df: |x: T, t: T| -t * sigmoid(-t * x),
        signs: false,
        _t: PhantomData,
    }
}

/// PyTorch's `soft_margin_loss`: `log(1 + exp(-target * input))` per element, computed
/// without overflow (PyTorch's own kernel overflows to inf for large `-target * input`).
pub fn soft_margin_loss<T: Real>(
    input: Arr<'_, T>,
    target: Arr<'_, T>,
    r: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    soft_margin().forward(input, target, r)
}

/// Gradient of [`soft_margin_loss`]: `-target * sigmoid(-target * input)`.
pub fn soft_margin_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    input: Arr<'_, T>,
    target: Arr<'_, T>,
    r: Reduction,
) -> Result<Vec<T>> {
    soft_margin().backward(grad, input, target, r)
}

/// Options of [`multi_margin_loss`], as PyTorch's arguments.
#[derive(Debug, Clone, Copy)]
pub struct MultiMargin<'a, T> {
    /// The exponent of each hinge term: 1 or 2.
    pub p: i64,
    /// The margin.
    pub margin: f64,
    /// A weight per class (C values), applied by the sample's target class.
    pub weight: Option<&'a [T]>,
    /// How the per-sample losses are combined.
    pub reduction: Reduction,
}

/// The (samples, classes) layout of a multi-margin problem, checked.
struct Frames {
    n: usize,
    c: usize,
    out: Vec<usize>,
}

fn multi_margin_frames<T: Real>(
    func: &str,
    input: Arr<'_, T>,
    target: Arr<'_, i64>,
    o: &MultiMargin<'_, T>,
) -> Result<Frames> {
    input.check(func, "input")?;
    target.check(func, "target")?;
    if o.p != 1 && o.p != 2 {
        return value_err!("{func}: p must be 1 or 2, got {}", o.p);
    }
    let (n, c) = match input.shape.len() {
        0 => (1, 1),
        1 => (1, input.shape[0]),
        2 => (input.shape[0], input.shape[1]),
        _ => {
            return shape_err!(
                "{func}: input must have shape (N, C) or (C,), got {}",
                fmt_shape(input.shape)
            )
        }
    };
    if c == 0 {
        return shape_err!(
            "{func}: input has shape {}, which has no classes",
            fmt_shape(input.shape)
        );
    }
    if target.shape.len() > 1 || target.data.len() != n {
        return shape_err!(
            "{func}: target has shape {} but input has shape {}; expected {} label(s)",
            fmt_shape(target.shape),
            fmt_shape(input.shape),
            n
        );
    }
    if let Some(w) = o.weight {
        if w.len() != c {
            return shape_err!(
                "{func}: weight has {} elements but input has {c} classes",
                w.len()
            );
        }
    }
    if let Some(i) = target
        .data
        .iter()
        .position(|&y| y < 0 || y as u64 >= c as u64)
    {
        return value_err!(
            "{func}: target has label {} at index {i}, but input has {c} classes",
            target.data[i]
        );
    }
    let out = if o.reduction == Reduction::None && !target.shape.is_empty() {
        vec![n]
    } else {
        Vec::new()
    };
    Ok(Frames { n, c, out })
}

/// PyTorch's `multi_margin_loss` on (N, C) scores (or one sample of C scores): per sample,
/// `sum over i != y of weight[y] * max(0, margin - x[y] + x[i])^p / C`; mean over samples.
pub fn multi_margin_loss<T: Real>(
    input: Arr<'_, T>,
    target: Arr<'_, i64>,
    o: &MultiMargin<'_, T>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let f = multi_margin_frames("multi_margin_loss", input, target, o)?;
    let (c, x, y) = (f.c, input.data, target.data);
    let margin: T = to_real(o.margin);
    let inv_c = T::one() / T::from_usize_(c);
    let mut per = buf::zeros(f.n)?;
    fill_indexed(&mut per, |s| {
        let row = &x[s * c..(s + 1) * c];
        let yi = y[s] as usize;
        let xy = row[yi];
        let mut sum = T::zero();
        for (i, &xi) in row.iter().enumerate() {
            if i == yi {
                continue;
            }
            let h = relu(margin - xy + xi);
            sum = sum + if o.p == 1 { h } else { h * h };
        }
        let w = o.weight.map_or(T::one(), |w| w[yi]);
        sum * w * inv_c
    });
    Ok((o.reduction.apply(per, f.n), f.out))
}

/// Gradient of [`multi_margin_loss`] with respect to `input`.
pub fn multi_margin_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    input: Arr<'_, T>,
    target: Arr<'_, i64>,
    o: &MultiMargin<'_, T>,
) -> Result<Vec<T>> {
    let func = "multi_margin_loss_backward";
    let f = multi_margin_frames(func, input, target, o)?;
    let per_shape: Vec<usize> = if target.shape.is_empty() {
        Vec::new()
    } else {
        vec![f.n]
    };
    check_grad(func, o.reduction, grad, &out_shape(o.reduction, &per_shape))?;
    let (c, x, y) = (f.c, input.data, target.data);
    let margin: T = to_real(o.margin);
    let inv_c = T::one() / T::from_usize_(c);
    let gw = grad_weights(o.reduction, grad.data, f.n);
    let mut out = buf::zeros(x.len())?;
    for_each_row(&mut out, c, |s, g| {
        let row = &x[s * c..(s + 1) * c];
        let yi = y[s] as usize;
        let xy = row[yi];
        let w = o.weight.map_or(T::one(), |w| w[yi]);
        let k = gw(s) * w * inv_c;
        let mut gy = T::zero();
        for (i, (gi, &xi)) in g.iter_mut().zip(row).enumerate() {
            if i == yi {
                continue;
            }
            let z = margin - xy + xi;
            // PyTorch's kernel counts a term only where z > 0 (none at the kink).
            let h = if z > T::zero() {
                if o.p == 1 {
                    k
                } else {
                    k * (z + z)
                }
            } else if z.is_nan() {
                z
            } else {
                T::zero()
            };
            *gi = h;
            gy = gy - h;
        }
        g[yi] = gy;
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a<'a>(d: &'a [f64], s: &'a [usize]) -> Arr<'a, f64> {
        Arr::new(d, s)
    }

    #[test]
    fn hinge_at_known_points() {
        let x = [0.5, -2.0, 3.0];
        let t = [1.0, 1.0, -1.0];
        let (v, s) = hinge_loss(a(&x, &[3]), a(&t, &[3]), 1.0, Reduction::None).unwrap();
        assert_eq!((v, s), (vec![0.5, 3.0, 4.0], vec![3]));
        let (m, s) = hinge_loss(a(&x, &[3]), a(&t, &[3]), 1.0, Reduction::Mean).unwrap();
        assert_eq!((m, s), (vec![2.5], vec![]));
    }

    #[test]
    fn hinge_rejects_bad_targets_by_index() {
        let x = [0.0; 4];
        let t = [1.0, -1.0, 1.0, 0.0];
        let e = hinge_loss(a(&x, &[2, 2]), a(&t, &[2, 2]), 1.0, Reduction::Sum).unwrap_err();
        assert!(e.to_string().contains("got 0 at index (1, 1)"), "{e}");
    }

    #[test]
    fn soft_margin_is_finite_for_large_inputs() {
        let x = [-1e30, 1e30];
        let t = [1.0, 1.0];
        let (v, _) = soft_margin_loss(a(&x, &[2]), a(&t, &[2]), Reduction::None).unwrap();
        assert_eq!(v, vec![1e30, 0.0]);
    }

    #[test]
    fn multi_margin_checks_labels() {
        let x = [0.0; 6];
        let y = [0i64, 3];
        let o = MultiMargin {
            p: 1,
            margin: 1.0,
            weight: None,
            reduction: Reduction::Mean,
        };
        let e = multi_margin_loss(a(&x, &[2, 3]), Arr::new(&y, &[2]), &o).unwrap_err();
        assert!(e.to_string().contains("label 3 at index 1"), "{e}");
    }

    #[test]
    fn multi_margin_by_hand() {
        // scores (1, 0, 0), label 0, margin 1: z = 0 for both others -> loss 0.
        // label 1: z = 1 - 0 + 1 = 2 and 1 - 0 + 0 = 1 -> (2 + 1) / 3 = 1.
        let x = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let y = [0i64, 1];
        let o = MultiMargin {
            p: 1,
            margin: 1.0,
            weight: None,
            reduction: Reduction::None,
        };
        let (v, s) = multi_margin_loss(a(&x, &[2, 3]), Arr::new(&y, &[2]), &o).unwrap();
        assert_eq!((v, s), (vec![0.0, 1.0], vec![2]));
    }

    #[test]
    fn fmt_index_unravels() {
        assert_eq!(fmt_index(5, &[2, 3]), "(1, 2)");
        assert_eq!(fmt_index(4, &[7]), "4");
        assert_eq!(fmt_index(0, &[]), "()");
    }
}
