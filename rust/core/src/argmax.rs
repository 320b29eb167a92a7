//! `argmax` and `argmin` along one axis (or over the flattened array), with NumPy's rules:
//! the first occurrence wins a tie, and a NaN counts as the extreme (the first NaN wins).
//! Indices are `i64`, as NumPy's `intp` and PyTorch's `long`. They have no gradient.

use crate::buf;
use crate::error::Result;
use crate::parallel::{for_each_row_costing, map_chunks, map_indexed, PAR_CHUNK};
use crate::real::Real;
use crate::shape::{fmt_shape, normalize_axes, numel};
use crate::shape_err;

/// Which extreme to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgOp {
    Max,
    Min,
}

impl ArgOp {
    /// The public name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            ArgOp::Max => "argmax",
            ArgOp::Min => "argmin",
        }
    }
}

/// True when `v` takes the place of the current best `best` (a NaN best is never replaced).
#[inline(always)]
fn beats<T: Real>(op: ArgOp, v: T, best: T) -> bool {
    if best.is_nan() {
        return false;
    }
    v.is_nan()
        || match op {
            ArgOp::Max => v > best,
            ArgOp::Min => v < best,
        }
}

/// Position of the extreme of a non-empty slice.
fn arg_slice<T: Real>(op: ArgOp, x: &[T]) -> usize {
    let mut at = 0;
    let mut best = x[0];
    for (i, &v) in x.iter().enumerate().skip(1) {
        if beats(op, v, best) {
            at = i;
            best = v;
            if v.is_nan() {
                break;
            }
        }
    }
    at
}

/// Position of the extreme of a long slice: chunk winners found on the threads, then
/// combined in chunk order (so the first occurrence still wins).
fn arg_long<T: Real>(op: ArgOp, x: &[T]) -> usize {
    let parts = map_chunks(x, |c| {
        let i = arg_slice(op, c);
        (i, c[i])
    });
    let (mut at, mut best) = (parts[0].0, parts[0].1);
    for (c, &(i, v)) in parts.iter().enumerate().skip(1) {
        if beats(op, v, best) {
            at = c * PAR_CHUNK + i;
            best = v;
        }
    }
    at
}

/// Indices of the extremes of `x` (shape `shape`) along `axis` (`None`: over the flattened
/// array), and the result's shape (`keepdims` keeps the reduced axis, or every axis for
/// `None`, with length 1).
pub fn arg_reduce<T: Real>(
    op: ArgOp,
    x: &[T],
    shape: &[usize],
    axis: Option<isize>,
    keepdims: bool,
) -> Result<(Vec<i64>, Vec<usize>)> {
    let name = op.name();
    let (outer, n, inner, out_shape) = match axis {
        None => {
            let keep = if keepdims {
                vec![1; shape.len()]
            } else {
                vec![]
            };
            (1, numel(shape), 1, keep)
        }
        Some(a) => {
            let ax = normalize_axes(name, Some(&[a]), shape.len())?[0];
            let mut s = shape.to_vec();
            if keepdims {
                s[ax] = 1;
            } else {
                s.remove(ax);
            }
            (numel(&shape[..ax]), shape[ax], numel(&shape[ax + 1..]), s)
        }
    };
    if n == 0 {
        return shape_err!(
            "{name}: attempt to get {name} of an empty sequence (shape {}, axis {})",
            fmt_shape(shape),
            axis.map_or("None".to_string(), |a| a.to_string())
        );
    }
    let mut out = buf::zeros::<i64>(outer * inner)?;
    if out.is_empty() {
        return Ok((out, out_shape));
    }
    if inner == 1 {
        if outer == 1 {
            out[0] = arg_long(op, x) as i64;
        } else {
            let found = map_indexed(outer, n, |o| arg_slice(op, &x[o * n..(o + 1) * n]) as i64);
            out.copy_from_slice(&found);
        }
    } else {
        // The reduced axis is strided: each output row (one per outer index) keeps the best
        // index so far of each of its `inner` lanes and sweeps the slices in order.
        for_each_row_costing(&mut out, inner, n * inner, |o, row| {
            let base = o * n * inner;
            for k in 1..n {
                let slice = &x[base + k * inner..base + (k + 1) * inner];
                for (i, (best, &v)) in row.iter_mut().zip(slice).enumerate() {
                    let cur = x[base + (*best as usize) * inner + i];
                    if beats(op, v, cur) {
                        *best = k as i64;
                    }
                }
            }
        });
    }
    Ok((out, out_shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_occurrence_and_first_nan_win() {
        let x = [1.0f64, 3.0, 3.0, f64::NAN, 0.0, f64::NAN];
        assert_eq!(
            arg_reduce(ArgOp::Max, &x, &[6], None, false).unwrap().0,
            vec![3]
        );
        let y = [2.0f32, 0.0, 5.0, 0.0];
        let (i, s) = arg_reduce(ArgOp::Min, &y, &[4], None, true).unwrap();
        assert_eq!((i, s), (vec![1], vec![1]));
    }

    #[test]
    fn along_an_inner_axis() {
        // (2, 3, 2): reduce axis 1.
        let x = [
            1.0f64,
            9.0,
            4.0,
            9.0,
            4.0,
            0.0, //
            f64::NAN,
            1.0,
            2.0,
            1.0,
            2.0,
            7.0,
        ];
        let (i, s) = arg_reduce(ArgOp::Max, &x, &[2, 3, 2], Some(1), false).unwrap();
        assert_eq!(s, vec![2, 2]);
        assert_eq!(i, vec![1, 0, 0, 2]);
        let (i, s) = arg_reduce(ArgOp::Min, &x, &[2, 3, 2], Some(-2), true).unwrap();
        assert_eq!(s, vec![2, 1, 2]);
        assert_eq!(i, vec![0, 2, 0, 0]);
    }

    #[test]
    fn long_rows_and_empty_axes() {
        let mut x = vec![0.0f32; 100_000];
        x[70_000] = 2.0;
        x[90_000] = 2.0;
        assert_eq!(
            arg_reduce(ArgOp::Max, &x, &[100_000], Some(0), false)
                .unwrap()
                .0,
            vec![70_000]
        );
        assert!(arg_reduce::<f64>(ArgOp::Max, &[], &[2, 0], Some(1), false).is_err());
        let (i, s) = arg_reduce::<f64>(ArgOp::Max, &[], &[0, 2], Some(1), false).unwrap();
        assert!(i.is_empty() && s == vec![0]);
    }
}
