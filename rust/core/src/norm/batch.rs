//! Batch norm (training and evaluation) and its backward, over an (N, C, *spatial) input.

use super::check_len;
use super::sums::*;
use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::shape::{check_grad_shape, fmt_shape, numel};
use crate::{shape_err, value_err};

/// (N, C, S) of a batch-norm input: batch, channels, and the product of the spatial axes.
pub fn batch_dims(op: &str, len: usize, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if shape.len() < 2 {
        return shape_err!(
            "{op}: input must have shape (N, C) or (N, C, *spatial), got shape {}",
            fmt_shape(shape)
        );
    }
    if numel(shape) != len {
        return shape_err!(
            "{op}: input has {len} elements but shape {} holds {}",
            fmt_shape(shape),
            numel(shape)
        );
    }
    Ok((shape[0], shape[1], numel(&shape[2..])))
}

/// What a training-mode batch norm returns.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormTrain<T> {
    /// The normalised, scaled and shifted input.
    pub output: Vec<T>,
    /// Batch mean per channel (saved for the backward).
    pub mean: Vec<T>,
    /// `1 / sqrt(var + eps)` per channel, with the biased batch variance (saved for the
    /// backward).
    pub invstd: Vec<T>,
    /// Updated running mean, when running statistics were given.
    pub running_mean: Option<Vec<T>>,
    /// Updated running variance (from the unbiased batch variance), when given.
    pub running_var: Option<Vec<T>>,
}

/// Writes `(x - mean[ch]) * scale[ch] + shift[ch]` for every channel.
fn apply_channels<T: Real>(
    x: &[T],
    (c, s): (usize, usize),
    mean: &[T],
    scale: &[T],
    shift: &[T],
) -> Result<Vec<T>> {
    let coef: Vec<[T; 4]> = (0..c)
        .map(|ch| [mean[ch], scale[ch], shift[ch], T::zero()])
        .collect();
    let mut out = buf::zeros(x.len())?;
    map_channels(&mut out, (x, x), (c, s), &coef, |v, _, k| {
        (v - k[0]) * k[1] + k[2]
    });
    Ok(out)
}

/// `weight * invstd` and `bias` per channel (1 and 0 where absent).
fn scale_shift<T: Real>(
    invstd: &[T],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
) -> (Vec<T>, Vec<T>) {
    let scale = invstd
        .iter()
        .enumerate()
        .map(|(ch, &k)| weight.map_or(k, |w| w[ch] * k))
        .collect();
    let shift = match bias {
        Some(b) => b.to_vec(),
        None => vec![T::zero(); invstd.len()],
    };
    (scale, shift)
}

/// Batch norm in training mode over an (N, C, *spatial) input.
///
/// Normalises each channel with the batch mean and the biased batch variance:
/// `y = (x - mean) / sqrt(var + eps) * weight + bias`. When `running` = (mean, var) is given,
/// returns them updated as `(1 - momentum) * running + momentum * batch`, with the unbiased
/// batch variance (`var * M / (M - 1)`, `M = N * S`). Needs more than one value per channel.
pub fn batch_norm_train<T: Real>(
    x: &[T],
    shape: &[usize],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    running: Option<(&[T], &[T])>,
    momentum: f64,
    eps: f64,
) -> Result<BatchNormTrain<T>> {
    let op = "batch_norm";
    let (n, c, s) = batch_dims(op, x.len(), shape)?;
    check_len(op, "weight", weight, c, "channels")?;
    check_len(op, "bias", bias, c, "channels")?;
    check_len(op, "running_mean", running.map(|r| r.0), c, "channels")?;
    check_len(op, "running_var", running.map(|r| r.1), c, "channels")?;
    let m = n * s;
    if c > 0 && m <= 1 {
        return value_err!(
            "{op}: expected more than 1 value per channel when training, got input of shape {}",
            fmt_shape(shape)
        );
    }
    let mf = m as f64;
    let w = c * s;
    let (sums, _) = channel_sums(
        n,
        c,
        s,
        |_, off| [sum64(&x[off..off + s]), 0.0],
        |i, lo, a, _| {
            let xs = &x[i * w + lo..i * w + lo + a.len()];
            for (a, &v) in a.iter_mut().zip(xs) {
                *a += wide(v);
            }
        },
    );
    let mean64: Vec<f64> = sums.iter().map(|v| v / mf).collect();
    let mcol = if s < SEGMENT_MIN {
        per_column(&mean64, s)
    } else {
        Vec::new()
    };
    let (sq, _) = channel_sums(
        n,
        c,
        s,
        |ch, off| [sqdev64(&x[off..off + s], mean64[ch]), 0.0],
        |i, lo, a, _| {
            let xs = &x[i * w + lo..i * w + lo + a.len()];
            for ((a, &v), &m) in a.iter_mut().zip(xs).zip(&mcol[lo..]) {
                let d = wide(v) - m;
                *a += d * d;
            }
        },
    );
    let var64: Vec<f64> = sq.iter().map(|v| v / mf).collect();
    let mean: Vec<T> = mean64.iter().map(|&v| T::c(v)).collect();
    let invstd: Vec<T> = var64
        .iter()
        .map(|&v| T::c(1.0 / (v + eps).sqrt()))
        .collect();
    let (scale, shift) = scale_shift(&invstd, weight, bias);
    let output = apply_channels(x, (c, s), &mean, &scale, &shift)?;
    let (running_mean, running_var) = match running {
        None => (None, None),
        Some((rm, rv)) => {
            let unbias = mf / (mf - 1.0);
            let upd = |r: T, b: f64| T::c((1.0 - momentum) * wide(r) + momentum * b);
            let rm2 = rm.iter().zip(&mean64).map(|(&r, &b)| upd(r, b)).collect();
            let rv2 = rv
                .iter()
                .zip(&var64)
                .map(|(&r, &b)| upd(r, b * unbias))
                .collect();
            (Some(rm2), Some(rv2))
        }
    };
    Ok(BatchNormTrain {
        output,
        mean,
        invstd,
        running_mean,
        running_var,
    })
}

/// Batch norm in evaluation mode: normalises with the given running statistics,
/// `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`.
///
/// Returns the output and the `invstd` it used (for [`batch_norm_backward`]).
pub fn batch_norm_eval<T: Real>(
    x: &[T],
    shape: &[usize],
    running_mean: &[T],
    running_var: &[T],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    eps: f64,
) -> Result<(Vec<T>, Vec<T>)> {
    let op = "batch_norm";
    let (_, c, s) = batch_dims(op, x.len(), shape)?;
    check_len(op, "running_mean", Some(running_mean), c, "channels")?;
    check_len(op, "running_var", Some(running_var), c, "channels")?;
    check_len(op, "weight", weight, c, "channels")?;
    check_len(op, "bias", bias, c, "channels")?;
    let invstd: Vec<T> = running_var
        .iter()
        .map(|&v| T::c(1.0 / (wide(v) + eps).sqrt()))
        .collect();
    let (scale, shift) = scale_shift(&invstd, weight, bias);
    let out = apply_channels(x, (c, s), running_mean, &scale, &shift)?;
    Ok((out, invstd))
}

/// Gradients of a normalisation layer: input, and weight and bias when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct NormGrads<T> {
    /// Gradient with respect to the input.
    pub input: Vec<T>,
    /// Gradient with respect to the weight (`sum(g * x_hat)`), when asked for.
    pub weight: Option<Vec<T>>,
    /// Gradient with respect to the bias (`sum(g)`), when asked for.
    pub bias: Option<Vec<T>>,
}

/// Gradient of batch norm.
///
/// `stats` = (mean, invstd) per channel: the saved batch statistics when `training`, else the
/// running mean and the `invstd` from [`batch_norm_eval`]. In training the statistics depend on
/// the input, so `dx = weight * invstd * (g - mean(g) - x_hat * mean(g * x_hat))`; in
/// evaluation `dx = g * weight * invstd`. `param_grads` asks for the weight and bias gradients.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: Real>(
    g: &[T],
    g_shape: &[usize],
    x: &[T],
    shape: &[usize],
    stats: (&[T], &[T]),
    weight: Option<&[T]>,
    training: bool,
    param_grads: bool,
) -> Result<NormGrads<T>> {
    let op = "batch_norm_backward";
    let (n, c, s) = batch_dims(op, x.len(), shape)?;
    check_grad_shape(op, g_shape, shape)?;
    if g.len() != x.len() {
        return shape_err!(
            "{op}: grad_output has {} elements but the input of shape {} has {}",
            g.len(),
            fmt_shape(shape),
            x.len()
        );
    }
    let (mean, invstd) = stats;
    check_len(op, "mean", Some(mean), c, "channels")?;
    check_len(op, "invstd", Some(invstd), c, "channels")?;
    check_len(op, "weight", weight, c, "channels")?;
    let (sum_g, sum_gx) = if training || param_grads {
        let w = c * s;
        let mean64: Vec<f64> = mean.iter().map(|&m| wide(m)).collect();
        let mcol = if s < SEGMENT_MIN {
            per_column(&mean64, s)
        } else {
            Vec::new()
        };
        channel_sums(
            n,
            c,
            s,
            |ch, off| grad_sums64(&g[off..off + s], &x[off..off + s], mean64[ch]),
            |i, lo, a, b| {
                let r = i * w + lo..i * w + lo + a.len();
                let (gs, xs) = (&g[r.clone()], &x[r]);
                for (((a, b), (&gv, &xv)), &m) in a
                    .iter_mut()
                    .zip(b.iter_mut())
                    .zip(gs.iter().zip(xs))
                    .zip(&mcol[lo..])
                {
                    let gv = wide(gv);
                    *a += gv;
                    *b += gv * (wide(xv) - m);
                }
            },
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let (scale, _) = scale_shift(invstd, weight, None);
    let mut dx = buf::zeros(x.len())?;
    if training {
        let mf = (n * s) as f64;
        // dx = scale * (g - sum_g / M - (x - mean) * invstd^2 * sum_gx / M)
        let coef: Vec<[T; 4]> = (0..c)
            .map(|ch| {
                let k = wide(invstd[ch]);
                [
                    mean[ch],
                    T::c(sum_g[ch] / mf),
                    T::c(k * k * sum_gx[ch] / mf),
                    scale[ch],
                ]
            })
            .collect();
        map_channels(&mut dx, (x, g), (c, s), &coef, |xv, gv, k| {
            k[3] * (gv - k[1] - (xv - k[0]) * k[2])
        });
    } else {
        let z = T::zero();
        let coef: Vec<[T; 4]> = scale.iter().map(|&k| [k, z, z, z]).collect();
        map_channels(&mut dx, (x, g), (c, s), &coef, |_, gv, k| gv * k[0]);
    }
    let (gw, gb) = if param_grads {
        let gw = sum_gx
            .iter()
            .zip(invstd)
            .map(|(&v, &k)| T::c(v * wide(k)))
            .collect();
        let gb = sum_g.iter().map(|&v| T::c(v)).collect();
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

// ------------------------------------------------------------------------------ layer norm
