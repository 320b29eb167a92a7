//! Softmax and log-softmax along one axis, and their gradients. The array is seen as
//! (outer, n, inner): `n` is the axis length, `inner` the product of later axes.

use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::for_each_row;
use crate::shape::{fmt_shape, normalize_axes};
use crate::shape_err;

/// Splits `shape` around `axis` into (outer, n, inner).
pub fn split_axis(op: &str, shape: &[usize], axis: isize) -> Result<(usize, usize, usize)> {
    if shape.is_empty() {
        // A 0-d array behaves like a single element along axis 0 or -1.
        if axis == 0 || axis == -1 {
            return Ok((1, 1, 1));
        }
        return shape_err!("{op}: axis {axis} is out of bounds for array of dimension 0");
    }
    let ax = normalize_axes(op, Some(&[axis]), shape.len())?[0];
    let outer = shape[..ax].iter().product();
    let inner = shape[ax + 1..].iter().product();
    Ok((outer, shape[ax], inner))
}

/// Softmax along one axis (log-softmax when `log`), numerically stable: the maximum is
/// subtracted before exponentiating.
fn softmax_impl<T: Real>(x: &[T], shape: &[usize], axis: isize, log: bool) -> Result<Vec<T>> {
    let op = if log { "log_softmax" } else { "softmax" };
    let (_, n, inner) = split_axis(op, shape, axis)?;
    let mut out = buf::copied(x)?;
    for_each_row(&mut out, n * inner, |_, blk| {
        let mut m = vec![T::neg_infinity(); inner];
        for k in 0..n {
            for (i, mi) in m.iter_mut().enumerate() {
                let v = blk[k * inner + i];
                if v > *mi || v.is_nan() {
                    *mi = v;
                }
            }
        }
        // A row of -inf would give NaN from (-inf) - (-inf); shift by 0 instead. A +inf
        // maximum stays, so its row is NaN, as in the unshifted formula.
        for mi in m.iter_mut() {
            if *mi == T::neg_infinity() {
                *mi = T::zero();
            }
        }
        let mut s = vec![T::zero(); inner];
        for k in 0..n {
            for i in 0..inner {
                let e = (blk[k * inner + i] - m[i]).exp();
                s[i] = s[i] + e;
                if !log {
                    blk[k * inner + i] = e;
                }
            }
        }
        if log {
            // (x - m) - ln(s), not x - (m + ln(s)): for large |m| the latter rounds ln(s) away.
            let ls: Vec<T> = s.iter().map(|&s| s.ln()).collect();
            for k in 0..n {
                for i in 0..inner {
                    blk[k * inner + i] = (blk[k * inner + i] - m[i]) - ls[i];
                }
            }
        } else {
            let inv: Vec<T> = s.iter().map(|&s| T::one() / s).collect();
            for k in 0..n {
                for i in 0..inner {
                    blk[k * inner + i] = blk[k * inner + i] * inv[i];
                }
            }
        }
    });
    Ok(out)
}

/// Softmax of `x` along `axis`.
pub fn softmax<T: Real>(x: &[T], shape: &[usize], axis: isize) -> Result<Vec<T>> {
    softmax_impl(x, shape, axis, false)
}

/// Log-softmax of `x` along `axis`.
pub fn log_softmax<T: Real>(x: &[T], shape: &[usize], axis: isize) -> Result<Vec<T>> {
    softmax_impl(x, shape, axis, true)
}

/// Gradient of softmax given its output `y`: `y * (g - sum(g * y))` along the axis.
/// Gradient of log-softmax given its output `y`: `g - exp(y) * sum(g)` along the axis.
pub fn softmax_backward<T: Real>(
    g: &[T],
    y: &[T],
    shape: &[usize],
    axis: isize,
    log: bool,
) -> Result<Vec<T>> {
    let op = if log {
        "log_softmax_backward"
    } else {
        "softmax_backward"
    };
    if g.len() != y.len() {
        return shape_err!(
            "{op}: grad_output has {} elements but the input of shape {} has {}",
            g.len(),
            fmt_shape(shape),
            y.len()
        );
    }
    let (_, n, inner) = split_axis(op, shape, axis)?;
    let block = n * inner;
    let mut out = buf::copied(g)?;
    if block == 0 {
        return Ok(out);
    }
    let body = |b: usize, blk: &mut [T]| {
        let yb = &y[b * block..(b + 1) * block];
        let mut s = vec![T::zero(); inner];
        for (gk, yk) in blk.chunks(inner).zip(yb.chunks(inner)) {
            for ((si, &gv), &yv) in s.iter_mut().zip(gk).zip(yk) {
                *si = *si + if log { gv } else { gv * yv };
            }
        }
        for (gk, yk) in blk.chunks_mut(inner).zip(yb.chunks(inner)) {
            for ((gv, &yv), &si) in gk.iter_mut().zip(yk).zip(&s) {
                *gv = if log {
                    *gv - yv.exp() * si
                } else {
                    yv * (*gv - si)
                };
            }
        }
    };
    for_each_row(&mut out, block, body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_are_stable() {
        let x = [1000.0f64, 1001.0, 1002.0, -5.0, 0.0, 5.0];
        let y = softmax(&x, &[2, 3], -1).unwrap();
        assert!((y[0] + y[1] + y[2] - 1.0).abs() < 1e-12);
        assert!(y.iter().all(|v| v.is_finite()));
        let ly = log_softmax(&x, &[2, 3], 1).unwrap();
        assert!((ly[2] - y[2].ln()).abs() < 1e-12);
    }

    #[test]
    fn log_softmax_keeps_precision_for_large_inputs() {
        let x = [1e8f32, 1e8];
        let ly = log_softmax(&x, &[2], 0).unwrap();
        assert!(
            ly.iter()
                .all(|&v| (v + std::f32::consts::LN_2).abs() < 1e-6),
            "{ly:?}"
        );
    }

    #[test]
    fn softmax_along_first_axis() {
        let x = [0.0f64, 1.0, 0.0, 1.0];
        let y = softmax(&x, &[2, 2], 0).unwrap();
        assert_eq!(y, vec![0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn infinite_rows_are_nan_like_the_formula() {
        let inf = f64::INFINITY;
        let x = [inf, 1.0, 2.0, -inf, -inf, -inf, -inf, 0.0, 1.0];
        for log in [false, true] {
            let y = softmax_impl(&x, &[3, 3], 1, log).unwrap();
            assert!(y[..6].iter().all(|v| v.is_nan()), "{y:?}");
            assert!(y[6..].iter().all(|v| !v.is_nan()), "{y:?}");
        }
    }
}
