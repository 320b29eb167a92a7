//! Sums in f64 over the rows, columns, channels and segments of a normalisation input, and the
//! per-channel elementwise maps; the order of every addition depends only on the shapes.

use crate::real::Real;
use crate::runtime::parallel::{worth_parallel, PAR_CHUNK};
use crate::runtime::team;

/// Matrices at least this wide have their column sums split over threads by blocks of
/// columns; narrower ones by chunks of rows, with partial sums per chunk.
pub(super) const COLUMN_SPLIT: usize = 256;

/// Columns per block when column sums are split by columns.
pub(super) const COLUMN_BLOCK: usize = 64;

/// Channels with at least this many values per sample (segments) are summed and mapped
/// segment by segment with per-channel coefficients; shorter ones row by row, as columns of
/// an (N, C * S) matrix, with coefficients repeated per column.
pub(super) const SEGMENT_MIN: usize = 16;

/// From this many channels on, segment sums are split over threads by blocks of channels;
/// fewer channels are split by chunks of rows.
pub(super) const CHANNEL_SPLIT: usize = 32;

/// Channels per block when segment sums are split by channels.
pub(super) const CHANNEL_BLOCK: usize = 16;

#[inline(always)]
pub(super) fn wide<T: Real>(v: T) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}

/// Independent accumulators in the f64 sums, so that they vectorise and pipeline.
pub(super) const LANES: usize = 8;

/// Pairwise total of the lanes.
#[inline(always)]
pub(super) fn lanes_total(l: &[f64; LANES]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// Sum of a slice in f64.
pub(super) fn sum64<T: Real>(x: &[T]) -> f64 {
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
pub(super) fn sqdev64<T: Real>(x: &[T], m: f64) -> f64 {
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
pub(super) fn grad_sums64<T: Real>(g: &[T], x: &[T], m: f64) -> [f64; 2] {
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
pub(super) fn row_grad_sums<T: Real>(g: &[T], x: &[T], w: &[T], m: T, k: T) -> (f64, f64) {
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
pub(super) fn column_sums<F>(n: usize, w: usize, f: F) -> (Vec<f64>, Vec<f64>)
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
pub(super) fn fold_channels(cols: &[f64], c: usize, s: usize) -> Vec<f64> {
    if s == 0 {
        return vec![0.0; c];
    }
    cols.chunks(s).map(|q| q.iter().sum()).collect()
}

/// Two f64 sums per channel of an (n, c, s) array with long segments: `seg(ch, off)` sums
/// the segment of channel `ch` that starts at `off`. As for [`column_sums`], the order of the
/// additions depends only on the shape.
pub(super) fn segment_sums<F>(n: usize, c: usize, s: usize, seg: F) -> (Vec<f64>, Vec<f64>)
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
pub(super) fn channel_sums<S, C>(
    n: usize,
    c: usize,
    s: usize,
    seg: S,
    cols: C,
) -> (Vec<f64>, Vec<f64>)
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
pub(super) fn per_column<V: Copy>(v: &[V], s: usize) -> Vec<V> {
    v.iter().flat_map(|&x| std::iter::repeat_n(x, s)).collect()
}

/// Writes `out[e] = h(x[e], g[e], coef[ch])` for every element `e` of an (n, c, s) array,
/// `ch` being the channel of `e` (up to four coefficients per channel; unused ones cost
/// nothing once `h` is inlined); in parallel for large arrays.
pub(super) fn map_channels<T: Real, H>(
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
