//! Weight penalties (L1, L2) added to a loss, and their gradients.

use super::power_sum;
use crate::buf;
use crate::error::Result;
use crate::real::Real;

/// A weight penalty added to a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Penalty {
    /// `sum |w|`
    L1,
    /// `sum w²`
    L2,
}

/// The value of the penalty over every element of every array, in `f64`.
pub fn penalty<T: Real>(arrays: &[&[T]], kind: Penalty) -> f64 {
    match kind {
        Penalty::L1 => power_sum(arrays, 1.0),
        Penalty::L2 => power_sum(arrays, 2.0),
    }
}

/// `grad_output` times the derivative of the penalty at `x`: `sign(x)` (0 at 0) for L1,
/// `2x` for L2.
pub fn penalty_backward<T: Real>(x: &[T], kind: Penalty, grad_output: f64) -> Result<Vec<T>> {
    let mut out = buf::zeros(x.len())?;
    match kind {
        Penalty::L1 => {
            let g = T::c(grad_output);
            crate::runtime::parallel::fill_indexed(&mut out, move |i| {
                let v = x[i];
                if v > T::zero() {
                    g
                } else if v < T::zero() {
                    -g
                } else {
                    v * g // 0 (or NaN for NaN)
                }
            });
        }
        Penalty::L2 => {
            let g = T::c(2.0 * grad_output);
            crate::runtime::parallel::fill_indexed(&mut out, move |i| g * x[i]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_and_its_gradient() {
        assert_eq!(
            penalty_backward(&[2.0f64, 0.0, -1.0], Penalty::L1, 3.0).unwrap(),
            vec![3.0, 0.0, -3.0]
        );
        assert_eq!(penalty(&[&[2.0f64, -1.0][..]], Penalty::L2), 5.0);
    }
}
