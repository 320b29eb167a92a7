//! Gradient utilities over many arrays: global norms, and scaling or clamping in place.

use super::{above, drive, Piece};
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{worth_parallel, PAR_CHUNK};
use crate::runtime::team;
use crate::value_err;

/// The pieces of a reduction over many arrays: the same `PAR_CHUNK` cut whatever the number of
/// threads, so partial sums combine in the same order every time.
fn read_pieces<'a, T>(arrays: &[&'a [T]]) -> Vec<&'a [T]> {
    arrays.iter().flat_map(|a| a.chunks(PAR_CHUNK)).collect()
}

/// `f` on every piece, in order (in parallel when the total is large).
fn map_pieces<T: Real, F: Fn(&[T]) -> f64 + Sync>(arrays: &[&[T]], f: F) -> Vec<f64> {
    let pieces = read_pieces(arrays);
    let total: usize = arrays.iter().map(|a| a.len()).sum();
    if worth_parallel(total) {
        team::map(pieces, &f)
    } else {
        pieces.iter().map(|p| f(p)).collect()
    }
}

/// Sum of `h(x)` over a slice in `f64`, with eight running sums (fast and accurate).
#[inline(always)]
fn sum_f64<T: Real, H: Fn(f64) -> f64>(xs: &[T], h: H) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += h(x.to_f64().unwrap_or(f64::NAN));
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in rest {
        s += h(x.to_f64().unwrap_or(f64::NAN));
    }
    s
}

/// Largest `|x|` (NaN if any element is NaN; 0 for no elements).
fn max_abs<T: Real>(xs: &[T]) -> f64 {
    let mut m = 0.0f64;
    for &x in xs {
        let a = x.to_f64().unwrap_or(f64::NAN).abs();
        if a.is_nan() {
            return f64::NAN;
        }
        if a > m {
            m = a;
        }
    }
    m
}

/// `sum |x|^p` over every element of every array, accumulated in `f64`.
pub fn power_sum<T: Real>(arrays: &[&[T]], p: f64) -> f64 {
    let parts = if p == 1.0 {
        map_pieces(arrays, |s| sum_f64(s, f64::abs))
    } else if p == 2.0 {
        map_pieces(arrays, |s| sum_f64(s, |x| x * x))
    } else {
        map_pieces(arrays, |s| sum_f64(s, |x| x.abs().powf(p)))
    };
    parts.iter().sum()
}

/// The `norm_type`-norm of all elements of all arrays taken as one vector
/// (`(sum |x|^p)^(1/p)`; the largest `|x|` for `p = inf`), computed in `f64`.
pub fn total_norm<T: Real>(arrays: &[&[T]], norm_type: f64) -> Result<f64> {
    if norm_type == f64::INFINITY {
        let parts = map_pieces(arrays, max_abs);
        return Ok(parts.iter().fold(0.0, |m: f64, &x| {
            if m.is_nan() || x.is_nan() {
                f64::NAN
            } else {
                m.max(x)
            }
        }));
    }
    if !above(norm_type, 0.0) || norm_type.is_infinite() {
        return value_err!("total_norm: norm_type must be positive or inf, got {norm_type}");
    }
    let s = power_sum(arrays, norm_type);
    Ok(if norm_type == 1.0 {
        s
    } else if norm_type == 2.0 {
        s.sqrt()
    } else {
        s.powf(1.0 / norm_type)
    })
}

/// Applies `f` to every element of every array in place (in parallel for large totals).
fn map_inplace<T: Real, F: Fn(T) -> T + Sync + Send + Copy>(arrays: Vec<&mut [T]>, f: F) {
    struct P<'a, T, F> {
        x: &'a mut [T],
        f: F,
    }
    impl<T: Real, F: Fn(T) -> T + Sync + Send + Copy> Piece for P<'_, T, F> {
        fn len(&self) -> usize {
            self.x.len()
        }
        fn split_at(self, mid: usize) -> (Self, Self) {
            let (a, b) = self.x.split_at_mut(mid);
            (P { x: a, f: self.f }, P { x: b, f: self.f })
        }
        #[inline(always)]
        fn run(self) {
            for x in self.x.iter_mut() {
                *x = (self.f)(*x);
            }
        }
    }
    drive(arrays.into_iter().map(|x| P { x, f }).collect());
}

/// Multiplies every element of every array by `factor`, in place.
pub fn scale_inplace<T: Real>(arrays: Vec<&mut [T]>, factor: f64) {
    let c = T::c(factor);
    map_inplace(arrays, move |x| x * c);
}

/// Clamps every element of every array to `[lo, hi]` in place; NaN stays NaN.
pub fn clamp_inplace<T: Real>(arrays: Vec<&mut [T]>, lo: f64, hi: f64) -> Result<()> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return value_err!("clamp_inplace: need lo <= hi, got lo={lo}, hi={hi}");
    }
    let (lo, hi) = (T::c(lo), T::c(hi));
    map_inplace(arrays, move |x| {
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_and_inplace_ops() {
        let a = vec![3.0f32, -4.0];
        let b = vec![12.0f32];
        assert_eq!(total_norm(&[&a, &b], 2.0).unwrap(), 13.0);
        assert_eq!(total_norm(&[&a, &b], 1.0).unwrap(), 19.0);
        assert_eq!(total_norm(&[&a, &b], f64::INFINITY).unwrap(), 12.0);
        assert!(total_norm(&[&a], 0.0).is_err());
        let nan = vec![f32::NAN, 1.0];
        assert!(total_norm(&[&a, &nan], f64::INFINITY).unwrap().is_nan());
        let big: Vec<f64> = (0..200_000).map(|i| (i % 7) as f64 - 3.0).collect();
        let want: f64 = big.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((total_norm(&[&big], 2.0).unwrap() - want).abs() < 1e-9 * want);
        let mut x = vec![1.0f64, -2.0, f64::NAN];
        clamp_inplace(vec![&mut x], -1.5, 0.5).unwrap();
        assert_eq!(&x[..2], &[0.5, -1.5]);
        assert!(x[2].is_nan());
        scale_inplace(vec![&mut x[..2]], 2.0);
        assert_eq!(&x[..2], &[1.0, -3.0]);
    }
}
