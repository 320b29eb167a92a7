//! Layer norm and its backward: each row of `D = prod(normalized_shape)` values normalised on
//! its own, then scaled and shifted elementwise.

use super::sums::*;
use super::{check_len, NormGrads};
use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{for_each_row, worth_parallel, PAR_CHUNK};
use crate::runtime::team;
use crate::shape::fmt_shape;
use crate::shape_err;

/// One row of a layer-norm forward: (output row, input row) and (mean, invstd) slots.
type RowOut<'a, T> = ((&'a mut [T], &'a [T]), (&'a mut T, &'a mut T));

/// Consecutive rows of a layer-norm forward: outputs, inputs, means and inverse deviations.
type GroupOut<'a, T> = ((&'a mut [T], &'a [T]), (&'a mut [T], &'a mut [T]));

/// One row of a layer-norm backward: its index, the gradient row to fill, and the rows of
/// `grad_output` and the input.
type RowGrad<'a, T> = (usize, (&'a mut [T], (&'a [T], &'a [T])));

/// What layer norm returns: the output and the per-row statistics for the backward.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormForward<T> {
    /// The normalised (and scaled and shifted) input.
    pub output: Vec<T>,
    /// Mean of each row.
    pub mean: Vec<T>,
    /// `1 / sqrt(var + eps)` of each row, with the biased variance.
    pub invstd: Vec<T>,
}

/// Rows, values per row and the leading shape of a layer-norm input of shape `shape`,
/// checking that its trailing axes are `normalized_shape`.
pub fn layer_split(
    func: &str,
    shape: &[usize],
    normalized_shape: &[usize],
) -> Result<(usize, usize, Vec<usize>)> {
    let k = normalized_shape.len();
    if k == 0 || shape.len() < k || shape[shape.len() - k..] != *normalized_shape {
        return shape_err!(
            "{func}: normalized_shape {} must be non-empty and equal the trailing axes of the \
             input, got input of shape {}",
            fmt_shape(normalized_shape),
            fmt_shape(shape)
        );
    }
    let lead = shape[..shape.len() - k].to_vec();
    Ok((
        lead.iter().product(),
        normalized_shape.iter().product(),
        lead,
    ))
}

/// Checks that an elementwise-affine argument `name` of layer norm (when given) has shape
/// `normalized_shape`.
pub fn check_affine_shape(
    func: &str,
    name: &str,
    shape: Option<&[usize]>,
    normalized_shape: &[usize],
) -> Result<()> {
    match shape {
        Some(s) if s != normalized_shape => shape_err!(
            "{func}: {name} must have shape normalized_shape = {}, got {}",
            fmt_shape(normalized_shape),
            fmt_shape(s)
        ),
        _ => Ok(()),
    }
}

fn layer_dims(op: &str, len: usize, rows: usize, d: usize) -> Result<()> {
    if rows.checked_mul(d) != Some(len) {
        return shape_err!(
            "{op}: input has {len} elements, which is not {rows} rows of {d} normalised values"
        );
    }
    Ok(())
}

/// Layer norm of `rows` rows of `d` values: `y = (x - mean) / sqrt(var + eps) * weight + bias`
/// with the mean and biased variance of each row; `weight` and `bias` have `d` values.
pub fn layer_norm<T: Real>(
    x: &[T],
    rows: usize,
    d: usize,
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    eps: f64,
) -> Result<LayerNormForward<T>> {
    let op = "layer_norm";
    layer_dims(op, x.len(), rows, d)?;
    check_len(op, "weight", weight, d, "normalised values per row")?;
    check_len(op, "bias", bias, d, "normalised values per row")?;
    let mut output = buf::zeros(x.len())?;
    let mut mean = buf::zeros(rows)?;
    let mut invstd = buf::zeros(rows)?;
    if d == 0 {
        // Rows without values: the statistics are NaN, as the mean of nothing.
        mean.fill(T::nan());
        invstd.fill(T::nan());
        return Ok(LayerNormForward {
            output,
            mean,
            invstd,
        });
    }
    let df = d as f64;
    let (ones, zeros) = (vec![T::one(); d], vec![T::zero(); d]);
    let (wv, bv) = (weight.unwrap_or(&ones), bias.unwrap_or(&zeros));
    let body = |((yr, xr), (m, k)): RowOut<'_, T>| {
        let m64 = sum64(xr) / df;
        let k64 = 1.0 / (sqdev64(xr, m64) / df + eps).sqrt();
        let (mt, kt) = (T::c(m64), T::c(k64));
        *m = mt;
        *k = kt;
        for ((o, &v), (&wj, &bj)) in yr.iter_mut().zip(xr).zip(wv.iter().zip(bv)) {
            *o = (v - mt) * kt * wj + bj;
        }
    };
    if worth_parallel(x.len()) {
        // Groups of whole rows of about `PAR_CHUNK` values each.
        let per = (PAR_CHUNK / d).max(1);
        let groups = output
            .chunks_mut(per * d)
            .zip(x.chunks(per * d))
            .zip(mean.chunks_mut(per).zip(invstd.chunks_mut(per)))
            .collect();
        team::for_each(groups, |((yg, xg), (mg, kg)): GroupOut<'_, T>| {
            yg.chunks_mut(d)
                .zip(xg.chunks(d))
                .zip(mg.iter_mut().zip(kg.iter_mut()))
                .for_each(&body)
        });
    } else {
        output
            .chunks_mut(d)
            .zip(x.chunks(d))
            .zip(mean.iter_mut().zip(invstd.iter_mut()))
            .for_each(body);
    }
    Ok(LayerNormForward {
        output,
        mean,
        invstd,
    })
}

/// Gradient of [`layer_norm`], from its saved `mean` and `invstd` per row.
///
/// `dx = invstd * (gw - mean(gw) - x_hat * mean(gw * x_hat))` per row with `gw = g * weight`;
/// with `param_grads`, also `d weight = sum over rows of g * x_hat` and `d bias = sum of g`.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward<T: Real>(
    g: &[T],
    x: &[T],
    rows: usize,
    d: usize,
    mean: &[T],
    invstd: &[T],
    weight: Option<&[T]>,
    param_grads: bool,
) -> Result<NormGrads<T>> {
    let op = "layer_norm_backward";
    layer_dims(op, x.len(), rows, d)?;
    if g.len() != x.len() {
        return shape_err!(
            "{op}: grad_output has {} elements but the input has {}",
            g.len(),
            x.len()
        );
    }
    check_len(op, "mean", Some(mean), rows, "rows")?;
    check_len(op, "invstd", Some(invstd), rows, "rows")?;
    check_len(op, "weight", weight, d, "normalised values per row")?;
    let mut dx = buf::zeros(x.len())?;
    if d > 0 {
        let df = d as f64;
        let ones = vec![T::one(); d];
        let wv = weight.unwrap_or(&ones);
        let body = |(r, (o, (gr, xr))): RowGrad<'_, T>| {
            let (m, k) = (mean[r], invstd[r]);
            let (a, b) = row_grad_sums(gr, xr, wv, m, k);
            let (a, b) = (T::c(a / df), T::c(b / df));
            for ((o, (&gv, &xv)), &wj) in o.iter_mut().zip(gr.iter().zip(xr)).zip(wv) {
                *o = k * (gv * wj - a - (xv - m) * k * b);
            }
        };
        for_each_row(&mut dx, d, |r, o| {
            body((r, (o, (&g[r * d..(r + 1) * d], &x[r * d..(r + 1) * d]))))
        });
    }
    let (gw, gb) = if param_grads {
        let (sw, sb) = column_sums(rows, d, |i, lo, a, b| {
            let (m, k) = (mean[i], invstd[i]);
            let r = i * d + lo..i * d + lo + a.len();
            let (gs, xs) = (&g[r.clone()], &x[r]);
            for ((a, b), (&gv, &xv)) in a.iter_mut().zip(b.iter_mut()).zip(gs.iter().zip(xs)) {
                let gv = wide(gv);
                *a += gv * wide((xv - m) * k);
                *b += gv;
            }
        });
        let gw = sw.iter().map(|&v| T::c(v)).collect();
        let gb = sb.iter().map(|&v| T::c(v)).collect();
        (Some(gw), Some(gb))
    } else {
        (None, None)
    };
    Ok(NormGrads {
        input: dx,
        weight: gw,
        bias: gb,
    })
}
