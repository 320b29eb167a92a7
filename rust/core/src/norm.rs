//! Normalisation and embedding kernels, each with its backward next to it.
//!
//! * Batch norm sees its input as (N, C, S): `S` is the product of the spatial axes (1 for an
//!   (N, C) input). Statistics are per channel, over the `N * S` values of that channel.
//! * Layer norm sees its input as (R, D): each of the R rows of `D = prod(normalized_shape)`
//!   values is normalised on its own, then scaled and shifted elementwise.
//! * Embedding gathers rows of a (V, D) table by int64 index; its backward scatter-adds rows.
//!
//! Statistics and parameter-gradient sums accumulate in f64 (for f32 inputs too), in an order
//! that depends only on the shapes, never on the number of threads, so results are
//! reproducible from run to run.

use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{for_each_row, worth_parallel, PAR_CHUNK};
use crate::runtime::team;
use crate::shape::{fmt_shape, numel};
use crate::{shape_err, value_err};

/// Matrices at least this wide have their column sums split over threads by blocks of
/// columns; narrower ones by chunks of rows, with partial sums per chunk.
const COLUMN_SPLIT: usize = 256;

/// Columns per block when column sums are split by columns.
const COLUMN_BLOCK: usize = 64;

/// Channels with at least this many values per sample (segments) are summed and mapped
/// segment by segment with per-channel coefficients; shorter ones row by row, as columns of
/// an (N, C * S) matrix, with coefficients repeated per column.
const SEGMENT_MIN: usize = 16;

/// From this many channels on, segment sums are split over threads by blocks of channels;
/// fewer channels are split by chunks of rows.
const CHANNEL_SPLIT: usize = 32;

/// Channels per block when segment sums are split by channels.
const CHANNEL_BLOCK: usize = 16;

#[inline(always)]
fn wide<T: Real>(v: T) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}

/// Independent accumulators in the f64 sums, so that they vectorise and pipeline.
const LANES: usize = 8;

/// Pairwise total of the lanes.
#[inline(always)]
fn lanes_total(l: &[f64; LANES]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// Sum of a slice in f64.
fn sum64<T: Real>(x: &[T]) -> f64 {
    let mut l = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for q in chunks {
        for (acc, &v) in l.iter_mut().zip(q) {
            *acc += wide(v);
        }
    }
    let mut s = lanes_total(&l);
    for &v in rest {
        s += wide(v);
    }
    s
}

/// Sum of squared deviations from `m`, in f64.
fn sqdev64<T: Real>(x: &[T], m: f64) -> f64 {
    let mut l = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for q in chunks {
        for (acc, &v) in l.iter_mut().zip(q) {
            let d = wide(v) - m;
            *acc += d * d;
        }
    }
    let mut s = lanes_total(&l);
    for &v in rest {
        let d = wide(v) - m;
        s += d * d;
    }
    s
}

/// `sum(g)` and `sum(g * (x - m))` in f64.
fn grad_sums64<T: Real>(g: &[T], x: &[T], m: f64) -> [f64; 2] {
    let (mut a, mut b) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (gc, xc) = (g.chunks_exact(LANES), x.chunks_exact(LANES));
    let (gr, xr) = (gc.remainder(), xc.remainder());
    for (gq, xq) in gc.zip(xc) {
        for ((a, b), (&gv, &xv)) in a.iter_mut().zip(b.iter_mut()).zip(gq.iter().zip(xq)) {
            let gv = wide(gv);
            *a += gv;
            *b += gv * (wide(xv) - m);
        }
    }
    let (mut sa, mut sb) = (lanes_total(&a), lanes_total(&b));
    for (&gv, &xv) in gr.iter().zip(xr) {
        let gv = wide(gv);
        sa += gv;
        sb += gv * (wide(xv) - m);
    }
    [sa, sb]
}

/// `sum(g * w)` and `sum(g * w * (x - m) * k)` over one layer-norm row, in f64.
fn row_grad_sums<T: Real>(g: &[T], x: &[T], w: &[T], m: T, k: T) -> (f64, f64) {
    let (mut a, mut b) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (gc, xc, wc) = (
        g.chunks_exact(LANES),
        x.chunks_exact(LANES),
        w.chunks_exact(LANES),
    );
    let (gr, xr, wr) = (gc.remainder(), xc.remainder(), wc.remainder());
    for ((gq, xq), wq) in gc.zip(xc).zip(wc) {
        for ((a, b), ((&gv, &xv), &wv)) in a
            .iter_mut()
            .zip(b.iter_mut())
            .zip(gq.iter().zip(xq).zip(wq))
        {
            let gw = wide(gv * wv);
            *a += gw;
            *b += gw * wide((xv - m) * k);
        }
    }
    let (mut sa, mut sb) = (lanes_total(&a), lanes_total(&b));
    for ((&gv, &xv), &wv) in gr.iter().zip(xr).zip(wr) {
        let gw = wide(gv * wv);
        sa += gw;
        sb += gw * wide((xv - m) * k);
    }
    (sa, sb)
}

/// Two f64 sums per column of a row-major (n, w) matrix: `f(i, lo, a, b)` adds the terms of
/// row `i`, columns `lo..lo + a.len()`, into `a` and `b`.
///
/// Each column is summed over the rows in order (or over fixed chunks of rows, then the chunk
/// sums in order), so the result depends only on (n, w), not on how many threads ran.
fn column_sums<F>(n: usize, w: usize, f: F) -> (Vec<f64>, Vec<f64>)
where
    F: Fn(usize, usize, &mut [f64], &mut [f64]) + Sync,
{
    if w == 0 {
        return (Vec::new(), Vec::new());
    }
    let par = worth_parallel(n.saturating_mul(w));
    if w >= COLUMN_SPLIT {
        let block = |bi: usize| {
            let lo = bi * COLUMN_BLOCK;
            let len = COLUMN_BLOCK.min(w - lo);
            let (mut a, mut b) = (vec![0.0f64; len], vec![0.0f64; len]);
            for i in 0..n {
                f(i, lo, &mut a, &mut b);
            }
            (a, b)
        };
        let nb = w.div_ceil(COLUMN_BLOCK);
        let parts: Vec<(Vec<f64>, Vec<f64>)> = if par {
            team::map((0..nb).collect(), block)
        } else {
            (0..nb).map(block).collect()
        };
        let (mut a, mut b) = (Vec::with_capacity(w), Vec::with_capacity(w));
        for (pa, pb) in parts {
            a.extend(pa);
            b.extend(pb);
        }
        (a, b)
    } else {
        let rows = (PAR_CHUNK / w).max(1);
        let chunk = |k: usize| {
            let (mut a, mut b) = (vec![0.0f64; w], vec![0.0f64; w]);
            for i in k * rows..((k + 1) * rows).min(n) {
                f(i, 0, &mut a, &mut b);
            }
            (a, b)
        };
        let nk = n.div_ceil(rows);
        let parts: Vec<(Vec<f64>, Vec<f64>)> = if par {
            team::map((0..nk).collect(), chunk)
        } else {
            (0..nk).map(chunk).collect()
        };
        let (mut a, mut b) = (vec![0.0f64; w], vec![0.0f64; w]);
        for (pa, pb) in parts {
            for (t, v) in a.iter_mut().zip(pa) {
                *t += v;
            }
            for (t, v) in b.iter_mut().zip(pb) {
                *t += v;
            }
        }
        (a, b)
    }
}

/// Totals per channel of per-column sums: channel `ch` owns columns `ch * s..(ch + 1) * s`.
fn fold_channels(cols: &[f64], c: usize, s: usize) -> Vec<f64> {
    if s == 0 {
        return vec![0.0; c];
    }
    cols.chunks(s).map(|q| q.iter().sum()).collect()
}

/// Two f64 sums per channel of an (n, c, s) array with long segments: `seg(ch, off)` sums
/// the segment of channel `ch` that starts at `off`. As for [`column_sums`], the order of the
/// additions depends only on the shape.
fn segment_sums<F>(n: usize, c: usize, s: usize, seg: F) -> (Vec<f64>, Vec<f64>)
where
    F: Fn(usize, usize) -> [f64; 2] + Sync,
{
    let par = worth_parallel(n.saturating_mul(c).saturating_mul(s));
    let unzip =
        |v: Vec<[f64; 2]>| -> (Vec<f64>, Vec<f64>) { v.into_iter().map(|p| (p[0], p[1])).unzip() };
    if c >= CHANNEL_SPLIT {
        let block = |bi: usize| {
            let lo = bi * CHANNEL_BLOCK;
            let hi = (lo + CHANNEL_BLOCK).min(c);
            let mut acc = vec![[0.0f64; 2]; hi - lo];
            for i in 0..n {
                for (ch, a) in (lo..hi).zip(acc.iter_mut()) {
                    let v = seg(ch, (i * c + ch) * s);
                    a[0] += v[0];
                    a[1] += v[1];
                }
            }
            acc
        };
        let nb = c.div_ceil(CHANNEL_BLOCK);
        let parts: Vec<Vec<[f64; 2]>> = if par {
            team::map((0..nb).collect(), block)
        } else {
            (0..nb).map(block).collect()
        };
        unzip(parts.concat())
    } else {
        let rows = (PAR_CHUNK / (c * s).max(1)).max(1);
        let chunk = |k: usize| {
            let mut acc = vec![[0.0f64; 2]; c];
            for i in k * rows..((k + 1) * rows).min(n) {
                for (ch, a) in acc.iter_mut().enumerate() {
                    let v = seg(ch, (i * c + ch) * s);
                    a[0] += v[0];
                    a[1] += v[1];
                }
            }
            acc
        };
        let nk = n.div_ceil(rows);
        let parts: Vec<Vec<[f64; 2]>> = if par {
            team::map((0..nk).collect(), chunk)
        } else {
            (0..nk).map(chunk).collect()
        };
        let mut total = vec![[0.0f64; 2]; c];
        for p in parts {
            for (t, v) in total.iter_mut().zip(p) {
                t[0] += v[0];
                t[1] += v[1];
            }
        }
        unzip(total)
    }
}

/// Two f64 sums per channel of an (n, c, s) array: by segments (`seg`, see [`segment_sums`])
/// when they are long, else by columns of the (n, c * s) matrix (`cols`, see
/// [`column_sums`]) folded into channels.
fn channel_sums<S, C>(n: usize, c: usize, s: usize, seg: S, cols: C) -> (Vec<f64>, Vec<f64>)
where
    S: Fn(usize, usize) -> [f64; 2] + Sync,
    C: Fn(usize, usize, &mut [f64], &mut [f64]) + Sync,
{
    if s >= SEGMENT_MIN {
        segment_sums(n, c, s, seg)
    } else {
        let (a, b) = column_sums(n, c * s, cols);
        (fold_channels(&a, c, s), fold_channels(&b, c, s))
    }
}

/// Each per-channel value repeated for the `s` columns of its channel.
fn per_column<V: Copy>(v: &[V], s: usize) -> Vec<V> {
    v.iter().flat_map(|&x| std::iter::repeat_n(x, s)).collect()
}

/// Writes `out[e] = h(x[e], g[e], coef[ch])` for every element `e` of an (n, c, s) array,
/// `ch` being the channel of `e` (up to four coefficients per channel; unused ones cost
/// nothing once `h` is inlined); in parallel for large arrays.
fn map_channels<T: Real, H>(
    out: &mut [T],
    (x, g): (&[T], &[T]),
    (c, s): (usize, usize),
    coef: &[[T; 4]],
    h: H,
) where
    H: Fn(T, T, [T; 4]) -> T + Sync,
{
    let w = c * s;
    if w == 0 || out.is_empty() {
        return;
    }
    let segments = s >= SEGMENT_MIN;
    // Short segments: one column of each coefficient per element of a row, so the inner loop
    // walks plain slices and vectorises.
    let cols: [Vec<T>; 4] = std::array::from_fn(|p| {
        if segments {
            Vec::new()
        } else {
            coef.iter()
                .flat_map(|k| std::iter::repeat_n(k[p], s))
                .collect()
        }
    });
    // Fills `o`, which starts at element `e` and ends at or before the end of its row (and,
    // with `segments`, of its segment).
    let piece = |e: usize, o: &mut [T]| {
        let n = o.len();
        let (xs, gs) = (&x[e..e + n], &g[e..e + n]);
        let j = e % w;
        if segments {
            let k = coef[j / s];
            for ((o, &xv), &gv) in o.iter_mut().zip(xs).zip(gs) {
                *o = h(xv, gv, k);
            }
        } else {
            let [c0, c1, c2, c3] = &cols;
            let ks = c0[j..j + n]
                .iter()
                .zip(&c1[j..j + n])
                .zip(c2[j..j + n].iter().zip(&c3[j..j + n]));
            for (((o, &xv), &gv), ((&k0, &k1), (&k2, &k3))) in o.iter_mut().zip(xs).zip(gs).zip(ks)
            {
                *o = h(xv, gv, [k0, k1, k2, k3]);
            }
        }
    };
    let unit = if segments { s } else { w };
    let body = |(ci, chunk): (usize, &mut [T])| {
        let mut e = ci * PAR_CHUNK;
        let mut rest = chunk;
        while !rest.is_empty() {
            let len = (unit - e % unit).min(rest.len());
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
            piece(e, head);
            e += len;
            rest = tail;
        }
    };
    if worth_parallel(out.len()) {
        team::for_each(out.chunks_mut(PAR_CHUNK).enumerate().collect(), body);
    } else {
        body((0, out));
    }
}

// ------------------------------------------------------------------------------ batch norm

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

/// Checks that a per-channel (or per-feature) argument has `want` elements.
fn check_len<T>(op: &str, name: &str, v: Option<&[T]>, want: usize, what: &str) -> Result<()> {
    match v {
        Some(v) if v.len() != want => {
            shape_err!(
                "{op}: {name} has {} elements, but the input has {want} {what}",
                v.len()
            )
        }
        _ => Ok(()),
    }
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
pub fn batch_norm_backward<T: Real>(
    g: &[T],
    x: &[T],
    shape: &[usize],
    stats: (&[T], &[T]),
    weight: Option<&[T]>,
    training: bool,
    param_grads: bool,
) -> Result<NormGrads<T>> {
    let op = "batch_norm_backward";
    let (n, c, s) = batch_dims(op, x.len(), shape)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn batch_norm_train_normalises_each_channel() {
        // (N=2, C=2, S=2)
        let x = [1.0f64, 3.0, 10.0, 10.0, 5.0, 7.0, 20.0, 40.0];
        let r = batch_norm_train(
            &x,
            &[2, 2, 2],
            None,
            None,
            Some((&[0.0; 2][..], &[1.0; 2][..])),
            0.1,
            0.0,
        )
        .unwrap();
        close(&r.mean, &[4.0, 20.0], 1e-12);
        // channel 0: values 1 3 5 7, biased var 5, unbiased 20/3
        close(&r.invstd, &[1.0 / 5f64.sqrt(), 1.0 / 150f64.sqrt()], 1e-12);
        close(r.running_mean.as_ref().unwrap(), &[0.4, 2.0], 1e-12);
        close(
            r.running_var.as_ref().unwrap(),
            &[0.9 + 0.1 * 20.0 / 3.0, 0.9 + 0.1 * 200.0],
            1e-12,
        );
        let y = &r.output;
        let s0: f64 = y[0] + y[1] + y[4] + y[5];
        assert!(s0.abs() < 1e-12);
    }

    #[test]
    fn batch_norm_needs_two_values_per_channel() {
        let e = batch_norm_train(&[1.0f32, 2.0], &[1, 2], None, None, None, 0.1, 1e-5);
        assert!(matches!(e, Err(crate::Error::Value(_))));
        let e = batch_norm_train(
            &[1.0f32; 4],
            &[2, 2],
            Some(&[1.0; 3][..]),
            None,
            None,
            0.1,
            1e-5,
        );
        assert!(matches!(e, Err(crate::Error::Shape(_))));
    }

    #[test]
    fn batch_norm_backward_matches_finite_differences() {
        let shape = [3usize, 2, 2];
        let x: Vec<f64> = (0..12)
            .map(|i| ((i * 7 % 5) as f64) * 0.3 - 0.2 * i as f64)
            .collect();
        let w = [1.5, -0.5];
        let g: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin()).collect();
        let loss = |x: &[f64]| -> f64 {
            let r = batch_norm_train(x, &shape, Some(&w[..]), None, None, 0.1, 1e-5).unwrap();
            r.output.iter().zip(&g).map(|(a, b)| a * b).sum()
        };
        let r = batch_norm_train(&x, &shape, Some(&w[..]), None, None, 0.1, 1e-5).unwrap();
        let grads = batch_norm_backward(
            &g,
            &x,
            &shape,
            (&r.mean, &r.invstd),
            Some(&w[..]),
            true,
            true,
        )
        .unwrap();
        let h = 1e-6;
        for i in 0..x.len() {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[i] += h;
            dn[i] -= h;
            let num = (loss(&up) - loss(&dn)) / (2.0 * h);
            assert!(
                (num - grads.input[i]).abs() < 1e-6,
                "{i}: {num} {}",
                grads.input[i]
            );
        }
        assert_eq!(grads.bias.unwrap().len(), 2);
    }

    #[test]
    fn large_batch_norm_is_independent_of_the_split() {
        // Large enough to run in parallel; the result must equal a plain two-pass reference.
        let (n, c, s) = (64usize, 40usize, 17usize);
        let x: Vec<f32> = (0..n * c * s)
            .map(|i| ((i * 31 % 97) as f32) * 0.01)
            .collect();
        let r = batch_norm_train(&x, &[n, c, s], None, None, None, 0.1, 1e-5).unwrap();
        for ch in [0usize, 17, 39] {
            let vals: Vec<f64> = (0..n)
                .flat_map(|i| {
                    x[(i * c + ch) * s..(i * c + ch + 1) * s]
                        .iter()
                        .map(|&v| v as f64)
                })
                .collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            assert!((r.mean[ch] as f64 - m).abs() < 1e-6);
        }
    }

    #[test]
    fn layer_norm_rows_and_backward() {
        let x = [1.0f64, 2.0, 3.0, 4.0, -1.0, 0.0, 1.0, 6.0];
        let w = [1.0, 2.0, 0.5, -1.0];
        let b = [0.0, 1.0, 0.0, 0.0];
        let f = layer_norm(&x, 2, 4, Some(&w[..]), Some(&b[..]), 1e-5).unwrap();
        close(&f.mean, &[2.5, 1.5], 1e-12);
        let g: Vec<f64> = (0..8).map(|i| (i as f64 * 0.7).cos()).collect();
        let grads =
            layer_norm_backward(&g, &x, 2, 4, &f.mean, &f.invstd, Some(&w[..]), true).unwrap();
        let loss = |x: &[f64]| -> f64 {
            let f = layer_norm(x, 2, 4, Some(&w[..]), Some(&b[..]), 1e-5).unwrap();
            f.output.iter().zip(&g).map(|(a, b)| a * b).sum()
        };
        let h = 1e-6;
        for i in 0..x.len() {
            let (mut up, mut dn) = (x.to_vec(), x.to_vec());
            up[i] += h;
            dn[i] -= h;
            let num = (loss(&up) - loss(&dn)) / (2.0 * h);
            assert!(
                (num - grads.input[i]).abs() < 1e-6,
                "{i}: {num} {}",
                grads.input[i]
            );
        }
        close(
            grads.bias.as_ref().unwrap(),
            &[g[0] + g[4], g[1] + g[5], g[2] + g[6], g[3] + g[7]],
            1e-12,
        );
    }
}
