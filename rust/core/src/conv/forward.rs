//! The forward pass of a 2-D convolution: im2col + one GEMM per group, blocks of batch items
//! on different threads.

use super::im2col::{im2col, pieces, rows_view, weight_view};
use super::Conv2dDims;
use crate::buf;
use crate::error::Result;
use crate::gemm::gemm_strided;
use crate::real::Real;
use crate::runtime::scratch::with_scratch;
use crate::runtime::team;

/// Forward pass of `items` batch items: `x` holds their inputs, `out` their outputs.
fn forward_block<T: Real>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    d: &Conv2dDims,
    items: usize,
    out: &mut [T],
    threads: bool,
) -> Result<()> {
    let (l, kg, groups) = (d.oh * d.ow, d.k_group(), d.spec.groups);
    let cog = d.c_out / groups;
    let bl = items * l;
    with_scratch(d.c_in * d.kh * d.kw * bl, |col: &mut [T]| {
        im2col(x, d, items, col);
        let col: &[T] = col;
        // dst (C_out x items * L) = [dst +] weight_g @ col_g for each group.
        let product = |dst: &mut [T], accumulate: bool| -> Result<()> {
            for g in 0..groups {
                gemm_strided(
                    &mut dst[g * cog * bl..(g + 1) * cog * bl],
                    (cog, kg, bl),
                    weight_view(w, d, g, false),
                    rows_view(col, g * kg, kg, bl),
                    accumulate,
                    threads,
                )?;
            }
            Ok(())
        };
        if items == 1 {
            // One item's (C_out x L) product is already in the output's layout.
            if let Some(b) = bias {
                for (row, &v) in out.chunks_mut(l).zip(b) {
                    row.fill(v);
                }
            }
            return product(out, bias.is_some());
        }
        with_scratch(d.c_out * bl, |tmp: &mut [T]| {
            product(tmp, false)?;
            // (C_out, items, L) -> (items, C_out, L), adding the bias on the way.
            for (b, item) in out.chunks_mut(d.out_item()).enumerate() {
                for (co, row) in item.chunks_mut(l).enumerate() {
                    let src = &tmp[co * bl + b * l..co * bl + (b + 1) * l];
                    let add = bias.map_or(T::zero(), |bv| bv[co]);
                    for (o, &v) in row.iter_mut().zip(src) {
                        *o = v + add;
                    }
                }
            }
            Ok(())
        })
    })
}

/// Runs `f(block, first_item, items, piece)` over the batch cut into blocks, in parallel
/// when `parallel`; `f` gets `threads = !parallel`.
pub(super) fn over_blocks<T: Send, R: Send>(
    buf: &mut [T],
    item_len: usize,
    n: usize,
    (per, parallel): (usize, bool),
    f: impl Fn(usize, usize, &mut [T], bool) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let count = n.div_ceil(per);
    let blocks = pieces(buf, per * item_len, count);
    let run = |(c, piece): (usize, &mut [T])| {
        let first = c * per;
        f(first, per.min(n - first), piece, !parallel)
    };
    if parallel {
        team::map(blocks.into_iter().enumerate().collect(), run)
            .into_iter()
            .collect()
    } else {
        blocks.into_iter().enumerate().map(run).collect()
    }
}

/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of `x` (N, C_in, H, W) with
/// `w` (C_out, C_in / groups, kH, kW) plus an optional `bias` (C_out). Returns
/// (N, C_out, H_out, W_out) in C order.
pub fn conv2d<T: Real>(x: &[T], w: &[T], bias: Option<&[T]>, d: &Conv2dDims) -> Result<Vec<T>> {
    d.check_lens("conv2d", x.len(), w.len(), bias.map(<[T]>::len))?;
    let (xi, oi) = (d.in_item(), d.out_item());
    let mut out = buf::zeros(d.n * oi)?;
    over_blocks(&mut out, oi, d.n, d.plan(), |first, items, o, threads| {
        let xs = &x[first * xi..(first + items) * xi];
        forward_block(xs, w, bias, d, items, o, threads)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{conv2d_backward, dot, values, Conv2dSpec};

    /// Direct definition of the convolution, for comparison.
    fn naive(x: &[f64], w: &[f64], b: Option<&[f64]>, d: &Conv2dDims) -> Vec<f64> {
        let s = &d.spec;
        let cpg = d.c_in / s.groups;
        let cog = d.c_out / s.groups;
        let mut out = vec![0.0; d.n * d.out_item()];
        for n in 0..d.n {
            for co in 0..d.c_out {
                let g = co / cog;
                for oy in 0..d.oh {
                    for ox in 0..d.ow {
                        let mut acc = b.map_or(0.0, |b| b[co]);
                        for ci in 0..cpg {
                            let c = g * cpg + ci;
                            for i in 0..d.kh {
                                for j in 0..d.kw {
                                    let y = (oy * s.stride[0] + i * s.dilation[0]) as isize
                                        - s.padding[0] as isize;
                                    let xx = (ox * s.stride[1] + j * s.dilation[1]) as isize
                                        - s.padding[1] as isize;
                                    if y < 0 || xx < 0 || y >= d.h as isize || xx >= d.w as isize {
                                        continue;
                                    }
                                    let xv = x
                                        [((n * d.c_in + c) * d.h + y as usize) * d.w + xx as usize];
                                    let wv = w[((co * cpg + ci) * d.kh + i) * d.kw + j];
                                    acc += xv * wv;
                                }
                            }
                        }
                        out[((n * d.c_out + co) * d.oh + oy) * d.ow + ox] = acc;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_with_every_setting() {
        let cases = [
            (
                [2, 4, 5, 6],
                [6, 2, 3, 2],
                Conv2dSpec::new([2, 1], [1, 2], [1, 2], 2),
            ),
            (
                [3, 1, 7, 7],
                [4, 1, 3, 3],
                Conv2dSpec::new([1, 1], [1, 1], [1, 1], 1),
            ),
            (
                [5, 3, 4, 4],
                [3, 1, 1, 2],
                Conv2dSpec::new([3, 2], [0, 1], [1, 1], 3),
            ),
        ];
        for (xs, ws, spec) in cases {
            let d = Conv2dDims::new("t", &xs, &ws, Some(&ws[..1]), spec).unwrap();
            let x = values(xs.iter().product(), 0.1);
            let w = values(ws.iter().product(), 0.7);
            let b = values(ws[0], 1.3);
            let y = conv2d(&x, &w, Some(&b), &d).unwrap();
            for (a, e) in y.iter().zip(naive(&x, &w, Some(&b), &d)) {
                assert!((a - e).abs() < 1e-12, "{a} vs {e}");
            }
        }
    }

    #[test]
    fn large_batches_split_over_threads_give_the_same_result() {
        let spec = Conv2dSpec::new([1, 1], [1, 1], [1, 1], 2);
        let (xs, ws) = ([37, 4, 12, 12], [8, 2, 3, 3]);
        let d = Conv2dDims::new("t", &xs, &ws, Some(&[8]), spec).unwrap();
        let x = values(xs.iter().product(), 0.3);
        let w = values(ws.iter().product(), 0.5);
        let b = values(8, 0.8);
        let y = conv2d(&x, &w, Some(&b), &d).unwrap();
        for (a, e) in y.iter().zip(naive(&x, &w, Some(&b), &d)) {
            assert!((a - e).abs() < 1e-12, "{a} vs {e}");
        }
        let g = values(y.len(), 1.1);
        let (gx, gw, _) = conv2d_backward(&g, &x, &w, &d, true).unwrap();
        let y0 = conv2d(&x, &w, None, &d).unwrap();
        let lhs = dot(&g, &y0);
        assert!((dot(&gx, &x) - lhs).abs() < 1e-9 * lhs.abs().max(1.0));
        assert!((dot(&gw, &w) - lhs).abs() < 1e-9 * lhs.abs().max(1.0));
    }
}
