//! Variance and standard deviation over axes with PyTorch's `correction` (`torch.var`,
//! `torch.std`), and their gradients.
//!
//! `var = sum((x - mean)²) / max(0, N - correction)` over the `N` reduced elements: two passes
//! (the mean, then the squared deviations), so a large mean does not cancel the result. When
//! `N - correction <= 0` the division gives inf (or NaN for 0 / 0), as in PyTorch.

use crate::buf;
use crate::error::Result;
use crate::parallel::{for_each_row, map_chunks, map_indexed, PAR_CHUNK};
use crate::real::Real;
use crate::reduce::{reduce, ReduceOp};
use crate::shape::{fmt_shape, normalize_axes, numel, reduced_shape, RowWalk};
use crate::shape_err;

/// Variance or standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Var,
    Std,
}

impl Moment {
    /// The public name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Moment::Var => "var",
            Moment::Std => "std",
        }
    }
}

/// `sum((v - m)²)` over a slice: eight lanes combined pairwise (as `reduce::sum_slice`), chunk
/// sums in chunk order for long slices (the result does not depend on the thread count).
fn sum_sq_dev<T: Real>(x: &[T], m: T) -> T {
    const BLOCK: usize = 1024;
    if x.len() > PAR_CHUNK {
        let parts = map_chunks(x, |c| sum_sq_dev(c, m));
        return parts.into_iter().fold(T::zero(), |a, b| a + b);
    }
    if x.len() > BLOCK {
        let mid = (x.len() / 2 / 8) * 8;
        return sum_sq_dev(&x[..mid], m) + sum_sq_dev(&x[mid..], m);
    }
    let mut lanes = [T::zero(); 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            let d = c[k] - m;
            lanes[k] = lanes[k] + d * d;
        }
    }
    let mut s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for &v in rest {
        let d = v - m;
        s = s + d * d;
    }
    s
}

/// The reduced axes, the result's shape with and without kept axes, and the count `N`.
struct Plan {
    keep_shape: Vec<usize>,
    out_shape: Vec<usize>,
    count: usize,
}

fn plan(
    name: &str,
    shape: &[usize],
    axes: Option<&[isize]>,
    correction: f64,
    keepdims: bool,
) -> Result<Plan> {
    if !correction.is_finite() {
        return crate::value_err!("{name}: correction must be a finite number, got {correction}");
    }
    let ax = normalize_axes(name, axes, shape.len())?;
    Ok(Plan {
        keep_shape: reduced_shape(shape, &ax, true),
        out_shape: reduced_shape(shape, &ax, keepdims),
        count: ax.iter().map(|&a| shape[a]).product(),
    })
}

/// Squared deviations summed per output (kept-axes layout), given the means.
fn sum_sq<T: Real>(x: &[T], shape: &[usize], keep_shape: &[usize], mean: &[T]) -> Result<Vec<T>> {
    let mut out = buf::zeros(mean.len())?;
    if x.is_empty() {
        return Ok(out);
    }
    let walk = RowWalk::new(shape, &[shape, keep_shape]);
    let st = walk.inner_strides[1];
    let row_of = |r: usize| {
        let o = walk.offset(r, 0);
        &x[o..o + walk.inner]
    };
    if st == 0 {
        let per_row = map_indexed(walk.rows, walk.inner, |r| {
            sum_sq_dev(row_of(r), mean[walk.offset(r, 1)])
        });
        for (r, v) in per_row.into_iter().enumerate() {
            let o = walk.offset(r, 1);
            out[o] = out[o] + v;
        }
    } else {
        for r in 0..walk.rows {
            let o = walk.offset(r, 1);
            for (j, &v) in row_of(r).iter().enumerate() {
                let d = v - mean[o + j * st];
                out[o + j * st] = out[o + j * st] + d * d;
            }
        }
    }
    Ok(out)
}

/// Variance (or standard deviation) of `x` over `axes` (`None`: all), dividing by
/// `max(0, N - correction)`. Returns the result and its shape.
pub fn moment<T: Real>(
    op: Moment,
    x: &[T],
    shape: &[usize],
    axes: Option<&[isize]>,
    correction: f64,
    keepdims: bool,
) -> Result<(Vec<T>, Vec<usize>)> {
    let p = plan(op.name(), shape, axes, correction, keepdims)?;
    let (mean, _) = reduce(ReduceOp::Mean, x, shape, axes, true)?;
    let mut out = sum_sq(x, shape, &p.keep_shape, &mean)?;
    let divisor = T::c((p.count as f64 - correction).max(0.0));
    for v in out.iter_mut() {
        // An empty reduction has a NaN mean and a NaN result.
        *v = if p.count == 0 { T::nan() } else { *v / divisor };
        if op == Moment::Std {
            *v = v.sqrt();
        }
    }
    Ok((out, p.out_shape))
}

/// Gradient of [`moment`]: `grad * 2 (x - mean) / (N - correction)` for `var`, and that with
/// `grad / (2 std)` in place of `grad` for `std` (0 where `std` is 0), as PyTorch computes it.
/// Where `N - correction <= 0`: over all axes (`axes` None) the gradient is `grad * inf`;
/// over given axes the factor `2 / (N - correction)` is used as it is (PyTorch's two paths).
#[allow(clippy::too_many_arguments)]
pub fn moment_backward<T: Real>(
    op: Moment,
    g: &[T],
    gshape: &[usize],
    x: &[T],
    shape: &[usize],
    axes: Option<&[isize]>,
    correction: f64,
    keepdims: bool,
) -> Result<Vec<T>> {
    let name = op.name();
    let p = plan(name, shape, axes, correction, keepdims)?;
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
    // The coefficient per output: grad, or grad / (2 std) for std.
    let coef: Vec<T> = match op {
        Moment::Var => buf::copied(g)?,
        Moment::Std => {
            let (s, _) = moment(Moment::Std, x, shape, axes, correction, true)?;
            let mut c = buf::zeros(s.len())?;
            for ((c, &s), &g) in c.iter_mut().zip(&s).zip(g) {
                *c = if s == T::zero() {
                    T::zero()
                } else {
                    g / (T::c(2.0) * s)
                };
            }
            c
        }
    };
    let dof = p.count as f64 - correction;
    let whole = axes.is_none() || shape.is_empty();
    if whole && dof <= 0.0 {
        let inf = T::infinity();
        out.iter_mut().for_each(|v| *v = coef[0] * inf);
        return Ok(out);
    }
    let factor = T::c(2.0 / dof);
    let (mean, _) = reduce(ReduceOp::Mean, x, shape, axes, true)?;
    let walk = RowWalk::new(shape, &[shape, &p.keep_shape]);
    let st = walk.inner_strides[1];
    for_each_row(&mut out, walk.inner, |r, row| {
        let (ox, o) = (walk.offset(r, 0), walk.offset(r, 1));
        for (j, v) in row.iter_mut().enumerate() {
            let k = o + j * st;
            *v = factor * coef[k] * (x[ox + j] - mean[k]);
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_and_std_with_corrections() {
        let x = [1.0f64, 2.0, 3.0, 4.0];
        let (v, s) = moment(Moment::Var, &x, &[2, 2], None, 1.0, false).unwrap();
        assert_eq!(s, Vec::<usize>::new());
        assert!((v[0] - 5.0 / 3.0).abs() < 1e-15);
        let (v, _) = moment(Moment::Var, &x, &[2, 2], Some(&[0]), 0.0, true).unwrap();
        assert_eq!(v, vec![1.0, 1.0]);
        let (sd, _) = moment(Moment::Std, &x, &[2, 2], Some(&[1]), 1.0, false).unwrap();
        assert!((sd[0] - 0.5f64.sqrt()).abs() < 1e-15);
        // N - correction <= 0: inf, or NaN for 0 / 0.
        let (v, _) = moment(Moment::Var, &x, &[2, 2], Some(&[1]), 2.0, false).unwrap();
        assert!(v.iter().all(|v| v.is_infinite()));
        let (v, _) = moment(Moment::Var, &[3.0f32], &[], None, 1.0, false).unwrap();
        assert!(v[0].is_nan());
    }

    #[test]
    fn gradients() {
        let x = [1.0f64, 2.0, 3.0, 4.0];
        let g = moment_backward(Moment::Var, &[1.0], &[], &x, &[4], None, 1.0, false).unwrap();
        let want: Vec<f64> = x.iter().map(|v| 2.0 * (v - 2.5) / 3.0).collect();
        assert_eq!(g, want);
        let g = moment_backward(Moment::Std, &[1.0], &[], &[2.0; 3], &[3], None, 1.0, false);
        assert_eq!(g.unwrap(), vec![0.0; 3]);
        let bad = moment_backward(Moment::Var, &[1.0, 1.0], &[2], &x, &[4], None, 1.0, false);
        assert!(bad.is_err());
        let inf = moment_backward(Moment::Var, &[1.0], &[], &x, &[4], None, 5.0, false).unwrap();
        assert!(inf.iter().all(|v| *v == f64::INFINITY));
    }
}
