//! Reductions over axes (sum, mean, max, min) and their gradients.

use crate::buf;
use crate::error::Result;
use crate::parallel::{for_each_row, map_chunks, map_indexed, PAR_CHUNK};
use crate::real::Real;
use crate::shape::{fmt_shape, normalize_axes, numel, reduced_shape, RowWalk};
use crate::shape_err;

/// Sum of a slice: eight independent lanes (so it vectorises) combined pairwise, which keeps
/// the rounding error close to NumPy's pairwise summation.
pub fn sum_slice<T: Real>(x: &[T]) -> T {
    const BLOCK: usize = 1024;
    if x.len() > PAR_CHUNK {
        // Chunk sums added in chunk order: the result depends on the length alone, never on
        // the thread count or scheduling.
        let parts = map_chunks(x, sum_slice);
        return parts.into_iter().fold(T::zero(), |a, b| a + b);
    }
    if x.len() > BLOCK {
        let mid = (x.len() / 2 / 8) * 8;
        return sum_slice(&x[..mid]) + sum_slice(&x[mid..]);
    }
    let mut lanes = [T::zero(); 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lanes[k] = lanes[k] + c[k];
        }
    }
    let mut s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for &v in rest {
        s = s + v;
    }
    s
}

/// NaN-propagating maximum of a non-empty slice.
pub fn max_slice<T: Real>(x: &[T]) -> T {
    let mut m = T::neg_infinity();
    for &v in x {
        if v > m || v.is_nan() {
            m = v;
            if v.is_nan() {
                return v;
            }
        }
    }
    m
}

/// NaN-propagating minimum of a non-empty slice.
pub fn min_slice<T: Real>(x: &[T]) -> T {
    let mut m = T::infinity();
    for &v in x {
        if v < m || v.is_nan() {
            m = v;
            if v.is_nan() {
                return v;
            }
        }
    }
    m
}

/// The reductions `sum`, `mean`, `max` and `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
}

impl ReduceOp {
    fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }

    /// `max` or `min`: no identity, and the gradient goes to the extreme elements.
    fn is_extreme(self) -> bool {
        matches!(self, ReduceOp::Max | ReduceOp::Min)
    }
}

/// Where a reduction goes: output shapes with and without kept axes, and elements per output.
struct Plan {
    keep_shape: Vec<usize>,
    out_shape: Vec<usize>,
    count: usize,
}

fn plan(
    op: &str,
    shape: &[usize],
    axes: Option<&[isize]>,
    keepdims: bool,
) -> Result<(Plan, Vec<usize>)> {
    let axes = normalize_axes(op, axes, shape.len())?;
    let keep_shape = reduced_shape(shape, &axes, true);
    let out_shape = reduced_shape(shape, &axes, keepdims);
    let count = axes.iter().map(|&a| shape[a]).product();
    Ok((
        Plan {
            keep_shape,
            out_shape,
            count,
        },
        axes,
    ))
}

/// The error NumPy raises for the maximum (or minimum) of an empty reduction.
fn no_identity<R>(op: &str, which: ReduceOp, shape: &[usize]) -> Result<R> {
    let ufunc = if which == ReduceOp::Min {
        "minimum"
    } else {
        "maximum"
    };
    shape_err!(
        "{op}: zero-size array (shape {}) to reduction operation {ufunc} which has no identity",
        fmt_shape(shape)
    )
}

/// Reduces `x` (shape `shape`) over `axes` (`None`: all). Returns the result and its shape.
pub fn reduce<T: Real>(
    op: ReduceOp,
    x: &[T],
    shape: &[usize],
    axes: Option<&[isize]>,
    keepdims: bool,
) -> Result<(Vec<T>, Vec<usize>)> {
    let name = op.name();
    let (p, _) = plan(name, shape, axes, keepdims)?;
    if op.is_extreme() && p.count == 0 {
        return no_identity(name, op, shape);
    }
    let n_out = numel(&p.keep_shape);
    let init = match op {
        ReduceOp::Max => T::neg_infinity(),
        ReduceOp::Min => T::infinity(),
        _ => T::zero(),
    };
    let mut out = buf::filled(n_out, init)?;
    if x.is_empty() {
        if op == ReduceOp::Mean {
            out.iter_mut().for_each(|v| *v = T::nan());
        }
        return Ok((out, p.out_shape));
    }
    let walk = RowWalk::new(shape, &[shape, &p.keep_shape]);
    let st = walk.inner_strides[1];
    let row_of = |r: usize| {
        let o = walk.offset(r, 0);
        &x[o..o + walk.inner]
    };
    if st == 0 {
        // Each row reduces to one output element.
        let fold = |row: &[T]| match op {
            ReduceOp::Max => max_slice(row),
            ReduceOp::Min => min_slice(row),
            _ => sum_slice(row),
        };
        let per_row = map_indexed(walk.rows, walk.inner, |r| fold(row_of(r)));
        for (r, v) in per_row.into_iter().enumerate() {
            let o = walk.offset(r, 1);
            out[o] = combine(op, out[o], v);
        }
    } else {
        // Rows map onto output rows elementwise.
        for r in 0..walk.rows {
            let o = walk.offset(r, 1);
            for (j, &v) in row_of(r).iter().enumerate() {
                let t = &mut out[o + j * st];
                *t = combine(op, *t, v);
            }
        }
    }
    if op == ReduceOp::Mean {
        let c = T::from_usize_(p.count);
        out.iter_mut().for_each(|v| *v = *v / c);
    }
    Ok((out, p.out_shape))
}

#[inline(always)]
fn combine<T: Real>(op: ReduceOp, acc: T, v: T) -> T {
    match op {
        ReduceOp::Max => {
            if v > acc || v.is_nan() || acc.is_nan() {
                if acc.is_nan() {
                    acc
                } else {
                    v
                }
            } else {
                acc
            }
        }
        ReduceOp::Min => {
            if acc.is_nan() {
                acc
            } else if v < acc || v.is_nan() {
                v
            } else {
                acc
            }
        }
        _ => acc + v,
    }
}

/// Gradient of a reduction: `grad_output` spread back over `x`'s shape. For `max`, each
/// output's gradient is shared equally among the elements equal to the maximum (`min`: the
/// minimum).
pub fn reduce_backward<T: Real>(
    op: ReduceOp,
    g: &[T],
    gshape: &[usize],
    x: &[T],
    shape: &[usize],
    axes: Option<&[isize]>,
    keepdims: bool,
) -> Result<Vec<T>> {
    let name = op.name();
    let (p, _) = plan(name, shape, axes, keepdims)?;
    if op.is_extreme() && p.count == 0 {
        return no_identity(&format!("{name}_backward"), op, shape);
    }
    if gshape != p.out_shape.as_slice() {
        return shape_err!(
            "{name}_backward: grad_output has shape {}, but {name} gives shape {}",
            fmt_shape(gshape),
            fmt_shape(&p.out_shape)
        );
    }
    let n = numel(shape);
    let mut out = buf::zeros(n)?;
    if n == 0 {
        return Ok(out);
    }
    let walk = RowWalk::new(shape, &[shape, &p.keep_shape]);
    let st = walk.inner_strides[1];
    let inner = walk.inner;
    match op {
        ReduceOp::Sum | ReduceOp::Mean => {
            let scale = if op == ReduceOp::Mean {
                T::one() / T::from_usize_(p.count)
            } else {
                T::one()
            };
            for_each_row(&mut out, inner, |r, row| {
                let o = walk.offset(r, 1);
                for (j, v) in row.iter_mut().enumerate() {
                    *v = g[o + j * st] * scale;
                }
            });
        }
        ReduceOp::Max | ReduceOp::Min => {
            let (m, _) = reduce(op, x, shape, axes, true)?;
            let mut ties = buf::zeros(m.len())?;
            for r in 0..walk.rows {
                let (ox, o) = (walk.offset(r, 0), walk.offset(r, 1));
                for (j, &v) in x[ox..ox + inner].iter().enumerate() {
                    if v == m[o + j * st] {
                        ties[o + j * st] = ties[o + j * st] + T::one();
                    }
                }
            }
            for_each_row(&mut out, inner, |r, row| {
                let (ox, o) = (walk.offset(r, 0), walk.offset(r, 1));
                for (j, v) in row.iter_mut().enumerate() {
                    let k = o + j * st;
                    *v = if x[ox + j] == m[k] {
                        g[k] / ties[k]
                    } else {
                        T::zero()
                    };
                }
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_mean_max_over_axes() {
        let x: Vec<f64> = (0..6).map(|v| v as f64).collect();
        let (s, sh) = reduce(ReduceOp::Sum, &x, &[2, 3], Some(&[0]), false).unwrap();
        assert_eq!((s, sh), (vec![3.0, 5.0, 7.0], vec![3]));
        let (m, sh) = reduce(ReduceOp::Mean, &x, &[2, 3], Some(&[1]), true).unwrap();
        assert_eq!((m, sh), (vec![1.0, 4.0], vec![2, 1]));
        let (mx, sh) = reduce(ReduceOp::Max, &x, &[2, 3], None, false).unwrap();
        assert_eq!((mx, sh), (vec![5.0], vec![]));
    }

    #[test]
    fn max_of_empty_is_an_error_and_ties_share_gradient() {
        assert!(reduce::<f32>(ReduceOp::Max, &[], &[0], None, false).is_err());
        let empty = reduce_backward::<f32>(ReduceOp::Max, &[], &[], &[], &[0], None, false);
        assert!(empty.is_err());
        let x = [1.0f64, 3.0, 3.0];
        let g = reduce_backward(ReduceOp::Max, &[1.0], &[], &x, &[3], None, false).unwrap();
        assert_eq!(g, vec![0.0, 0.5, 0.5]);
    }

    #[test]
    fn min_mirrors_max() {
        let x = [3.0f64, 1.0, 1.0, 2.0, f64::NAN, 0.0];
        let (m, _) = reduce(ReduceOp::Min, &x, &[2, 3], Some(&[1]), false).unwrap();
        assert_eq!(m[0], 1.0);
        assert!(m[1].is_nan());
        let (m, _) = reduce(ReduceOp::Min, &x, &[2, 3], Some(&[0]), false).unwrap();
        assert!(m[1].is_nan() && m[0] == 2.0 && m[2] == 0.0);
        let g = reduce_backward(ReduceOp::Min, &[1.0], &[], &x[..3], &[3], None, false).unwrap();
        assert_eq!(g, vec![0.0, 0.5, 0.5]);
        let err = reduce::<f32>(ReduceOp::Min, &[], &[0], None, false).unwrap_err();
        assert!(err.to_string().contains("minimum"), "{err}");
    }

    #[test]
    fn long_sums_are_accurate() {
        let x = vec![0.1f32; 1_000_000];
        let s = sum_slice(&x) as f64;
        assert!((s - 100_000.0).abs() < 1.0, "{s}");
    }
}
