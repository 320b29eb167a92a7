//! Elementwise kernels: broadcasting binary ops, unary maps, and their gradients.

use crate::buf;
use crate::error::Result;
use crate::parallel::{for_each_chunk, for_each_row};
use crate::real::Real;
use crate::shape::{broadcast_shapes, broadcasts_to, fmt_shape, numel, RowWalk};
use crate::shape_err;

/// The four broadcasting arithmetic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    /// The public name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        }
    }
}

/// `out[i] = f(a[i], b[i])` over equal-length slices, in parallel when large.
fn zip_map<T: Real, F: Fn(T, T) -> T + Sync>(a: &[T], b: &[T], out: &mut [T], f: F) {
    let body = |o: &mut [T], x: &[T], y: &[T]| {
        for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
            *o = f(x, y);
        }
    };
    for_each_chunk(out, |s, o| body(o, &a[s..s + o.len()], &b[s..s + o.len()]));
}

/// `out[i] = f(x[i])`, in parallel when large.
pub fn map<T: Real, F: Fn(T) -> T + Sync>(x: &[T], f: F) -> Result<Vec<T>> {
    let mut out = buf::zeros(x.len())?;
    let body = |o: &mut [T], x: &[T]| {
        for (o, &x) in o.iter_mut().zip(x) {
            *o = f(x);
        }
    };
    for_each_chunk(&mut out, |s, o| body(o, &x[s..s + o.len()]));
    Ok(out)
}

fn broadcast_with<T: Real, F: Fn(T, T) -> T + Sync>(
    a: &[T],
    ashape: &[usize],
    b: &[T],
    bshape: &[usize],
    out_shape: &[usize],
    f: F,
) -> Result<Vec<T>> {
    let n = numel(out_shape);
    let mut out = buf::zeros(n)?;
    if ashape == out_shape && bshape == out_shape {
        zip_map(a, b, &mut out, f);
        return Ok(out);
    }
    let walk = RowWalk::new(out_shape, &[ashape, bshape]);
    let (sa, sb) = (walk.inner_strides[0], walk.inner_strides[1]);
    for_each_row(&mut out, walk.inner, |r, row| {
        let (oa, ob) = (walk.offset(r, 0), walk.offset(r, 1));
        match (sa, sb) {
            (1, 0) => {
                let (y, len) = (b[ob], row.len());
                for (o, &x) in row.iter_mut().zip(&a[oa..oa + len]) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let (x, len) = (a[oa], row.len());
                for (o, &y) in row.iter_mut().zip(&b[ob..ob + len]) {
                    *o = f(x, y);
                }
            }
            _ => {
                for (j, o) in row.iter_mut().enumerate() {
                    *o = f(a[oa + j * sa], b[ob + j * sb]);
                }
            }
        }
    });
    Ok(out)
}

/// `a op b` with NumPy broadcasting. Returns the result and its shape.
pub fn binary<T: Real>(
    op: BinaryOp,
    a: &[T],
    ashape: &[usize],
    b: &[T],
    bshape: &[usize],
) -> Result<(Vec<T>, Vec<usize>)> {
    let out_shape = broadcast_shapes(op.name(), ashape, bshape)?;
    let out = match op {
        BinaryOp::Add => broadcast_with(a, ashape, b, bshape, &out_shape, |x, y| x + y)?,
        BinaryOp::Sub => broadcast_with(a, ashape, b, bshape, &out_shape, |x, y| x - y)?,
        BinaryOp::Mul => broadcast_with(a, ashape, b, bshape, &out_shape, |x, y| x * y)?,
        BinaryOp::Div => broadcast_with(a, ashape, b, bshape, &out_shape, |x, y| x / y)?,
    };
    Ok((out, out_shape))
}

/// Sums `g` (of shape `gshape`) over the broadcast axes so that it has shape `target`:
/// the gradient of a broadcast input.
pub fn sum_to_shape<T: Real>(g: &[T], gshape: &[usize], target: &[usize]) -> Result<Vec<T>> {
    if !broadcasts_to(target, gshape) {
        return shape_err!(
            "sum_to_shape: shape {} does not broadcast to the gradient's shape {}",
            fmt_shape(target),
            fmt_shape(gshape)
        );
    }
    if target.iter().product::<usize>() == g.len() {
        return buf::copied(g);
    }
    let mut out = buf::zeros(numel(target))?;
    let walk = RowWalk::new(gshape, &[gshape, target]);
    let st = walk.inner_strides[1];
    for r in 0..walk.rows {
        let og = walk.offset(r, 0);
        let ot = walk.offset(r, 1);
        let row = &g[og..og + walk.inner];
        if st == 0 {
            out[ot] = out[ot] + crate::reduce::sum_slice(row);
        } else {
            for (j, &v) in row.iter().enumerate() {
                out[ot + j * st] = out[ot + j * st] + v;
            }
        }
    }
    Ok(out)
}

/// Gradients of `a op b` with respect to `a` and `b`, each reduced to its input's shape.
pub fn binary_backward<T: Real>(
    op: BinaryOp,
    g: &[T],
    gshape: &[usize],
    a: &[T],
    ashape: &[usize],
    b: &[T],
    bshape: &[usize],
) -> Result<(Vec<T>, Vec<T>)> {
    let name = op.name();
    let out_shape = broadcast_shapes(name, ashape, bshape)?;
    if out_shape != gshape {
        return shape_err!(
            "{name}_backward: grad_output has shape {}, but the result of {name} has shape {}",
            fmt_shape(gshape),
            fmt_shape(&out_shape)
        );
    }
    // Expand each input to the output's shape only when it is broadcast.
    let expand = |x: &[T], s: &[usize]| -> Result<Vec<T>> {
        if s == gshape {
            buf::copied(x)
        } else {
            broadcast_with(x, s, &[T::zero()], &[], gshape, |v, _| v)
        }
    };
    let (ga_full, gb_full) = match op {
        BinaryOp::Add => (buf::copied(g)?, buf::copied(g)?),
        BinaryOp::Sub => (buf::copied(g)?, map(g, |v| -v)?),
        BinaryOp::Mul => {
            let (ae, be) = (expand(a, ashape)?, expand(b, bshape)?);
            let mut ga = buf::zeros(g.len())?;
            let mut gb = buf::zeros(g.len())?;
            zip_map(g, &be, &mut ga, |g, y| g * y);
            zip_map(g, &ae, &mut gb, |g, x| g * x);
            (ga, gb)
        }
        BinaryOp::Div => {
            let (ae, be) = (expand(a, ashape)?, expand(b, bshape)?);
            let mut ga = buf::zeros(g.len())?;
            zip_map(g, &be, &mut ga, |g, y| g / y);
            // d(a/b)/db = -a/b^2 = -(g/b) * (a/b)
            let mut q = buf::zeros(g.len())?;
            zip_map(&ae, &be, &mut q, |x, y| x / y);
            let mut gb = buf::zeros(g.len())?;
            zip_map(&ga, &q, &mut gb, |gy, q| -(gy * q));
            (ga, gb)
        }
    };
    Ok((
        sum_to_shape(&ga_full, gshape, ashape)?,
        sum_to_shape(&gb_full, gshape, bshape)?,
    ))
}

/// The unary elementwise operations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    Exp,
    Log,
    Sqrt,
    Neg,
    /// `|x|`; its gradient is `sign(x)`, 0 at 0 (and at NaN, as PyTorch's `sign`).
    Abs,
    /// `ln(1 + x)`, accurate for small `x`.
    Log1p,
    /// `x ** p` for a scalar exponent `p`.
    Pow(f64),
    /// `min(max(x, lo), hi)` (`torch.clamp`; a missing bound is infinite). `lo > hi` gives
    /// `hi` everywhere; a NaN bound gives NaN. The gradient passes where `lo <= x <= hi`.
    Clamp(f64, f64),
}

/// Applies a unary operation elementwise.
pub fn unary<T: Real>(op: UnaryOp, x: &[T]) -> Result<Vec<T>> {
    match op {
        UnaryOp::Exp => map(x, |v| v.exp()),
        UnaryOp::Log => map(x, |v| v.ln()),
        UnaryOp::Sqrt => map(x, |v| v.sqrt()),
        UnaryOp::Neg => map(x, |v| -v),
        UnaryOp::Abs => map(x, |v| v.abs()),
        UnaryOp::Log1p => map(x, |v| v.ln_1p()),
        UnaryOp::Pow(p) => pow(x, p),
        UnaryOp::Clamp(lo, hi) => clamp(x, lo, hi),
    }
}

fn clamp<T: Real>(x: &[T], lo: f64, hi: f64) -> Result<Vec<T>> {
    if lo.is_nan() || hi.is_nan() {
        return buf::filled(x.len(), T::nan());
    }
    let (lo, hi) = (T::c(lo), T::c(hi));
    // NaN fails both comparisons and stays NaN.
    map(x, move |v| {
        let v = if v < lo { lo } else { v };
        if v > hi {
            hi
        } else {
            v
        }
    })
}

/// PyTorch's `sign` for the gradient of `abs`: -1, 0 or 1, and 0 for NaN.
#[inline(always)]
fn sign_or_zero<T: Real>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

fn pow<T: Real>(x: &[T], p: f64) -> Result<Vec<T>> {
    let pt = T::c(p);
    if p == 2.0 {
        map(x, |v| v * v)
    } else if p == 1.0 {
        buf::copied(x)
    } else if p == 0.5 {
        map(x, |v| v.sqrt())
    } else if p == p.trunc() && p.abs() <= i32::MAX as f64 {
        let k = p as i32;
        map(x, move |v| v.powi(k))
    } else {
        map(x, move |v| v.powf(pt))
    }
}

/// Gradient of a unary operation: `grad_output * d op(x) / dx`.
pub fn unary_backward<T: Real>(op: UnaryOp, g: &[T], x: &[T]) -> Result<Vec<T>> {
    if g.len() != x.len() {
        return shape_err!(
            "backward: grad_output has {} elements but the input has {}",
            g.len(),
            x.len()
        );
    }
    let mut out = buf::zeros(g.len())?;
    match op {
        UnaryOp::Exp => zip_map(g, x, &mut out, |g, x| g * x.exp()),
        UnaryOp::Log => zip_map(g, x, &mut out, |g, x| g / x),
        UnaryOp::Sqrt => zip_map(g, x, &mut out, |g, x| g / (T::c(2.0) * x.sqrt())),
        UnaryOp::Neg => return map(g, |g| -g),
        UnaryOp::Abs => zip_map(g, x, &mut out, |g, x| g * sign_or_zero(x)),
        UnaryOp::Log1p => zip_map(g, x, &mut out, |g, x| g / (T::one() + x)),
        UnaryOp::Clamp(lo, hi) => {
            // The bounds in the element type, as the forward pass compares them; NaN (input
            // or bound) fails the comparisons and gets no gradient.
            let (lo, hi) = (T::c(lo), T::c(hi));
            zip_map(g, x, &mut out, move |g, x| {
                if x >= lo && x <= hi {
                    g
                } else {
                    T::zero()
                }
            })
        }
        UnaryOp::Pow(p) => {
            if p == 0.0 {
                return Ok(out);
            }
            let pt = T::c(p);
            let pm1 = pow(x, p - 1.0)?;
            zip_map(g, &pm1, &mut out, |g, y| g * pt * y);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_broadcasts_rows_and_columns() {
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [10.0f64, 20.0, 30.0];
        let (out, s) = binary(BinaryOp::Add, &a, &[2, 3], &b, &[3]).unwrap();
        assert_eq!(s, vec![2, 3]);
        assert_eq!(out, vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let c = [100.0f64, 200.0];
        let (out, _) = binary(BinaryOp::Sub, &a, &[2, 3], &c, &[2, 1]).unwrap();
        assert_eq!(out, vec![-99.0, -98.0, -97.0, -196.0, -195.0, -194.0]);
    }

    #[test]
    fn mul_backward_reduces_to_input_shapes() {
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [2.0f64, 3.0, 4.0];
        let g = [1.0f64; 6];
        let (ga, gb) = binary_backward(BinaryOp::Mul, &g, &[2, 3], &a, &[2, 3], &b, &[3]).unwrap();
        assert_eq!(ga, vec![2.0, 3.0, 4.0, 2.0, 3.0, 4.0]);
        assert_eq!(gb, vec![5.0, 7.0, 9.0]);
    }

    #[test]
    fn backward_expands_a_0d_operand() {
        let (a, b, g) = ([2.0f64], [1.0f64, 2.0, 3.0, 4.0], [1.0f64; 4]);
        let (ga, gb) = binary_backward(BinaryOp::Mul, &g, &[2, 2], &a, &[], &b, &[2, 2]).unwrap();
        assert_eq!(ga, vec![10.0]);
        assert_eq!(gb, vec![2.0; 4]);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let a = [1.0f32; 6];
        assert!(binary(BinaryOp::Add, &a, &[2, 3], &a[..2], &[2]).is_err());
        assert!(sum_to_shape(&a, &[2, 3], &[4]).is_err());
    }
}
