//! `binary_cross_entropy` and `binary_cross_entropy_with_logits` with their gradients.

use crate::activation::sigmoid;
use crate::buf;
use crate::error::Result;
use crate::loss::class_input::*;
use crate::loss::Reduction;
use crate::real::Real;
use crate::runtime::parallel::for_each_row;
use crate::shape::{check_same_shape, fmt_index, RowWalk};
use crate::value_err;

/// Per-element work of a binary loss over `input`'s shape with broadcast `weight` and
/// `pos_weight` (absent ones read as 1): `f(x, t, w, pw, i)` for every flat index `i`.
pub(crate) fn binary_map<T: Real, F: Fn(T, T, T, T, usize) -> T + Sync>(
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

pub(crate) fn prepare_bce<T: Real>(
    func: &str,
    input: &View<'_, T>,
    target: &View<'_, T>,
    weight: Option<View<'_, T>>,
) -> Result<()> {
    check_same_shape(func, ("target", target.shape), ("input", input.shape))?;
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
pub(crate) fn clamp_log<T: Real>(v: T) -> T {
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
pub(crate) fn log_sigmoid<T: Real>(x: T) -> T {
    let m = if x < T::zero() { x } else { T::zero() };
    m - (-x.abs()).exp().ln_1p()
}

pub(crate) fn prepare_bce_logits<T: Real>(
    func: &str,
    input: &View<'_, T>,
    target: &View<'_, T>,
    weight: Option<View<'_, T>>,
    pos_weight: Option<View<'_, T>>,
) -> Result<()> {
    check_same_shape(func, ("target", target.shape), ("input", input.shape))?;
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
