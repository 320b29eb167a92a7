//! The backward pass of a 2-D convolution: gradients of the input (transposed GEMM + col2im),
//! of the weight and of the bias.

use super::forward::over_blocks;
use super::im2col::{col2im, im2col, pieces, rows_view, weight_view};
use super::Conv2dDims;
use crate::buf;
use crate::error::Result;
use crate::gemm::{gemm_strided, Strided};
use crate::real::Real;
use crate::runtime::scratch::with_scratch;
use crate::shape::fmt_shape;
use crate::shape_err;

/// Backward pass of `items` batch items: adds their weight and bias gradients to `gw`, `gb`
/// and writes their input gradient to `gx` (unless it is empty).
#[allow(clippy::too_many_arguments)]
fn backward_block<T: Real>(
    g: &[T],
    x: &[T],
    w: &[T],
    d: &Conv2dDims,
    items: usize,
    gx: &mut [T],
    gw: &mut [T],
    gb: &mut [T],
    threads: bool,
) -> Result<()> {
    let (l, bl) = (d.oh * d.ow, items * d.oh * d.ow);
    if items == 1 {
        return backward_gathered(g, x, w, d, items, gx, gw, gb, threads);
    }
    // grad_output as (C_out, items * L).
    with_scratch(d.c_out * bl, |t: &mut [T]| {
        for (b, item) in g.chunks(d.out_item()).enumerate() {
            for (co, row) in item.chunks(l).enumerate() {
                t[co * bl + b * l..co * bl + (b + 1) * l].copy_from_slice(row);
            }
        }
        backward_gathered(t, x, w, d, items, gx, gw, gb, threads)
    })
}

/// [`backward_block`] with the output gradient `gt` as (C_out, items * L).
#[allow(clippy::too_many_arguments)]
fn backward_gathered<T: Real>(
    gt: &[T],
    x: &[T],
    w: &[T],
    d: &Conv2dDims,
    items: usize,
    gx: &mut [T],
    gw: &mut [T],
    gb: &mut [T],
    threads: bool,
) -> Result<()> {
    let (l, kg, groups) = (d.oh * d.ow, d.k_group(), d.spec.groups);
    let cog = d.c_out / groups;
    let bl = items * l;
    for (acc, row) in gb.iter_mut().zip(gt.chunks(bl)) {
        *acc = *acc + row.iter().copied().sum::<T>();
    }
    with_scratch(d.c_in * d.kh * d.kw * bl, |col: &mut [T]| {
        im2col(x, d, items, col);
        // grad_w_g (cog x kg) += g_g (cog x bl) @ col_g^T (bl x kg), computed as its
        // transpose col_g (kg x bl) @ g_g^T (bl x cog): the long reduction then runs along
        // rows of both.
        with_scratch(kg * cog, |gwt: &mut [T]| -> Result<()> {
            for grp in 0..groups {
                let gg = &gt[grp * cog * bl..(grp + 1) * cog * bl];
                gemm_strided(
                    gwt,
                    (kg, bl, cog),
                    rows_view(col, grp * kg, kg, bl),
                    Strided::transposed(gg, bl),
                    false,
                    threads,
                )?;
                let gwg = &mut gw[grp * cog * kg..(grp + 1) * cog * kg];
                for (k, row) in gwt.chunks(cog).enumerate() {
                    for (co, &v) in row.iter().enumerate() {
                        let t = &mut gwg[co * kg + k];
                        *t = *t + v;
                    }
                }
            }
            Ok(())
        })?;
        if gx.is_empty() {
            return Ok(());
        }
        for grp in 0..groups {
            // grad_col_g (kg x bl) = w_g^T (kg x cog) @ g_g (cog x bl), into the column buffer.
            gemm_strided(
                &mut col[grp * kg * bl..(grp + 1) * kg * bl],
                (kg, cog, bl),
                weight_view(w, d, grp, true),
                rows_view(gt, grp * cog, cog, bl),
                false,
                threads,
            )?;
        }
        col2im(col, d, items, gx);
        Ok(())
    })
}

/// Gradients of [`conv2d`](super::conv2d): `(grad_input, grad_weight, grad_bias)`. With `input_grad` false
/// the input gradient is skipped and returned empty.
pub fn conv2d_backward<T: Real>(
    g: &[T],
    x: &[T],
    w: &[T],
    d: &Conv2dDims,
    input_grad: bool,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    d.check_lens("conv2d_backward", x.len(), w.len(), None)?;
    let (xi, oi) = (d.in_item(), d.out_item());
    if g.len() != d.n * oi {
        return shape_err!(
            "conv2d_backward: grad_output holds {} elements, expected {} for an output of \
             shape {}",
            g.len(),
            d.n * oi,
            fmt_shape(&d.out_shape())
        );
    }
    let mut gx = buf::zeros(if input_grad { d.n * xi } else { 0 })?;
    let (wl, co) = (d.weight_len(), d.c_out);
    let plan = d.plan();
    let item_len = if input_grad { xi } else { 0 };
    let mut gw = buf::zeros(wl)?;
    let mut gb = buf::zeros(co)?;
    if plan.1 {
        // Each block sums into its own buffers; the sums are added in block order, so the
        // result does not depend on scheduling.
        let parts = over_blocks(
            &mut gx,
            item_len,
            d.n,
            plan,
            |first, items, gxb, threads| {
                let (mut pw, mut pb) = (buf::zeros(wl)?, buf::zeros(co)?);
                let gs = &g[first * oi..(first + items) * oi];
                let xs = &x[first * xi..(first + items) * xi];
                backward_block(gs, xs, w, d, items, gxb, &mut pw, &mut pb, threads)?;
                Ok((pw, pb))
            },
        )?;
        for (pw, pb) in parts {
            gw.iter_mut().zip(pw).for_each(|(a, v)| *a = *a + v);
            gb.iter_mut().zip(pb).for_each(|(a, v)| *a = *a + v);
        }
    } else {
        let count = d.n.div_ceil(plan.0);
        for (c, gxb) in pieces(&mut gx, plan.0 * item_len, count)
            .into_iter()
            .enumerate()
        {
            let first = c * plan.0;
            let items = plan.0.min(d.n - first);
            let gs = &g[first * oi..(first + items) * oi];
            let xs = &x[first * xi..(first + items) * xi];
            backward_block(gs, xs, w, d, items, gxb, &mut gw, &mut gb, true)?;
        }
    }
    Ok((gx, gw, gb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{conv2d, dot, values, Conv2dSpec};

    #[test]
    fn backward_is_the_adjoint_of_forward() {
        // <g, conv(x, w)> is linear in x and in w, so its gradients satisfy
        // <gx, x> = <g, conv(x, w)> (without bias) and <gw, w> likewise.
        let spec = Conv2dSpec::new([2, 1], [1, 0], [1, 2], 2);
        let (xs, ws) = ([3, 4, 6, 5], [4, 2, 2, 2]);
        let d = Conv2dDims::new("t", &xs, &ws, None, spec).unwrap();
        let x = values(xs.iter().product(), 0.2);
        let w = values(ws.iter().product(), 0.9);
        let y = conv2d(&x, &w, None, &d).unwrap();
        let g = values(y.len(), 2.0);
        let (gx, gw, gb) = conv2d_backward(&g, &x, &w, &d, true).unwrap();
        let lhs = dot(&g, &y);
        assert!((dot(&gx, &x) - lhs).abs() < 1e-10);
        assert!((dot(&gw, &w) - lhs).abs() < 1e-10);
        let per_channel = d.oh * d.ow;
        for (co, &v) in gb.iter().enumerate() {
            let want: f64 = (0..d.n)
                .map(|n| {
                    let at = (n * d.c_out + co) * per_channel;
                    g[at..at + per_channel].iter().sum::<f64>()
                })
                .sum();
            assert!((v - want).abs() < 1e-12);
        }
        let (gx2, gw2, _) = conv2d_backward(&g, &x, &w, &d, false).unwrap();
        assert!(gx2.is_empty());
        assert_eq!(gw, gw2);
    }

    #[test]
    fn empty_batch_gives_empty_output_and_zero_gradients() {
        let d = Conv2dDims::new(
            "t",
            &[0, 2, 3, 3],
            &[4, 2, 2, 2],
            Some(&[4]),
            Conv2dSpec::default(),
        )
        .unwrap();
        assert!(conv2d(&[], &[1.0f64; 32], Some(&[1.0; 4]), &d)
            .unwrap()
            .is_empty());
        let (gx, gw, gb) = conv2d_backward(&[], &[], &[1.0f64; 32], &d, true).unwrap();
        assert!(gx.is_empty());
        assert_eq!((gw, gb), (vec![0.0; 32], vec![0.0; 4]));
    }
}
