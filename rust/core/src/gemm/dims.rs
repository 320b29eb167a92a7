//! Shapes of matrix products: the dims of a (batched) `a @ b` and of `linear`, from the
//! operands' shapes, with the checks and messages of both.

use crate::error::Result;
use crate::shape::{fmt_shape, numel};
use crate::shape_err;

/// Shape of a (possibly batched) product `a @ b`: `batch` matrices of m x k times k x n.
/// An operand that is not `batched` is one matrix shared by every item of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_batched: bool,
    pub b_batched: bool,
}

impl MatmulDims {
    /// The dims of `a @ b` for operands of shapes `sa` and `sb`: (m, k) or (batch, m, k) times
    /// (k, n) or (batch, k, n); a batch of 1 is shared by every item of the other's batch.
    pub fn of(sa: &[usize], sb: &[usize]) -> Result<Self> {
        let bad = || {
            shape_err!(
                "matmul: a has shape {} and b has shape {}; expected (m, k) or (batch, m, k) \
                 for a and (k, n) or (batch, k, n) for b with matching k and batch",
                fmt_shape(sa),
                fmt_shape(sb)
            )
        };
        let split = |s: &[usize]| -> Option<(usize, usize, usize, bool)> {
            match s.len() {
                2 => Some((1, s[0], s[1], false)),
                3 => Some((s[0], s[1], s[2], true)),
                _ => None,
            }
        };
        let (Some((ba, m, k, mut a_batched)), Some((bb, k2, n, mut b_batched))) =
            (split(sa), split(sb))
        else {
            return bad();
        };
        if k != k2 {
            return bad();
        }
        let batch = match (a_batched, b_batched) {
            (true, true) if ba == bb => ba,
            (true, true) if ba == 1 => {
                a_batched = false;
                bb
            }
            (true, true) if bb == 1 => {
                b_batched = false;
                ba
            }
            (true, true) => return bad(),
            (true, false) => ba,
            (false, true) => bb,
            (false, false) => 1,
        };
        Ok(MatmulDims {
            batch,
            m,
            k,
            n,
            a_batched,
            b_batched,
        })
    }

    /// The shape of `a @ b` (2-D when both operands are, else batched), from the operands'.
    pub fn out_shape(&self, sa: &[usize], sb: &[usize]) -> Vec<usize> {
        if sa.len() == 2 && sb.len() == 2 {
            vec![self.m, self.n]
        } else {
            vec![self.batch, self.m, self.n]
        }
    }

    /// Checks that the gradient of `a @ b` has the shape of the product.
    pub fn check_grad(&self, sg: &[usize], sa: &[usize], sb: &[usize]) -> Result<()> {
        let want = self.out_shape(sa, sb);
        if sg != want {
            return shape_err!(
                "matmul_backward: grad_output has shape {}, expected {}",
                fmt_shape(sg),
                fmt_shape(&want)
            );
        }
        Ok(())
    }

    pub(super) fn check(&self, a: usize, b: usize) -> Result<()> {
        let want_a = if self.a_batched { self.batch } else { 1 } * self.m * self.k;
        let want_b = if self.b_batched { self.batch } else { 1 } * self.k * self.n;
        if a != want_a || b != want_b {
            return shape_err!(
                "matmul: operands hold {a} and {b} elements, expected {want_a} and {want_b} \
                 for {self:?}"
            );
        }
        Ok(())
    }
}

/// `(m, k, n)` of [`linear`] for an input of shape (..., k) (`m` is the product of its
/// leading axes), a weight of shape (n, k) and, when given, a bias of shape (n,).
pub fn linear_dims(
    op: &str,
    sx: &[usize],
    sw: &[usize],
    sb: Option<&[usize]>,
) -> Result<(usize, usize, usize)> {
    if sw.len() != 2 || sx.last() != Some(&sw[1]) {
        return shape_err!(
            "{op}: input has shape {} and weight {}; expected (..., in) and (out, in)",
            fmt_shape(sx),
            fmt_shape(sw)
        );
    }
    let n = sw[0];
    if let Some(sb) = sb.filter(|sb| *sb != [n]) {
        return shape_err!("{op}: bias has shape {}, expected ({n},)", fmt_shape(sb));
    }
    Ok((numel(&sx[..sx.len() - 1]), sw[1], n))
}

/// The shape of the output of [`linear`]: the input's leading axes, then `n`.
pub fn linear_out_shape(sx: &[usize], n: usize) -> Vec<usize> {
    let mut so = sx[..sx.len().saturating_sub(1)].to_vec();
    so.push(n);
    so
}

/// `(m, k, n)` of [`linear_backward`], checking also that `grad_output` has the output's shape.
pub fn linear_backward_dims(
    sg: &[usize],
    sx: &[usize],
    sw: &[usize],
) -> Result<(usize, usize, usize)> {
    let (m, k, n) = linear_dims("linear_backward", sx, sw, None)?;
    let want = linear_out_shape(sx, n);
    if sg != want {
        return shape_err!(
            "linear_backward: grad_output has shape {}, expected {}",
            fmt_shape(sg),
            fmt_shape(&want)
        );
    }
    Ok((m, k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_dims_take_any_leading_axes() {
        assert_eq!(
            linear_dims("linear", &[2, 5, 3], &[4, 3], Some(&[4])).unwrap(),
            (10, 3, 4)
        );
        assert_eq!(linear_out_shape(&[2, 5, 3], 4), vec![2, 5, 4]);
        assert_eq!(
            linear_dims("linear", &[3], &[4, 3], None).unwrap(),
            (1, 3, 4)
        );
        assert_eq!(linear_out_shape(&[3], 4), vec![4]);
        let e = linear_dims("linear", &[2, 3], &[4, 2], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input has shape (2, 3) and weight (4, 2)"),
            "{e}"
        );
        assert!(linear_dims("linear", &[], &[4, 3], None).is_err());
        let e = linear_dims("linear", &[2, 3], &[4, 3], Some(&[3])).unwrap_err();
        assert!(
            e.to_string().contains("bias has shape (3,), expected (4,)"),
            "{e}"
        );
        let e = linear_backward_dims(&[2, 3], &[2, 3], &[4, 3]).unwrap_err();
        assert!(
            e.to_string()
                .contains("grad_output has shape (2, 3), expected (2, 4)"),
            "{e}"
        );
    }

    #[test]
    fn matmul_dims_follow_the_operand_shapes() {
        let d = MatmulDims::of(&[2, 3], &[3, 4]).unwrap();
        assert_eq!((d.batch, d.m, d.k, d.n), (1, 2, 3, 4));
        assert_eq!(d.out_shape(&[2, 3], &[3, 4]), vec![2, 4]);
        let d = MatmulDims::of(&[1, 2, 3], &[5, 3, 4]).unwrap();
        assert_eq!((d.batch, d.a_batched, d.b_batched), (5, false, true));
        assert_eq!(d.out_shape(&[1, 2, 3], &[5, 3, 4]), vec![5, 2, 4]);
        let e = MatmulDims::of(&[2, 3], &[4, 5]).unwrap_err().to_string();
        assert!(
            e.contains("a has shape (2, 3) and b has shape (4, 5)"),
            "{e}"
        );
        assert!(MatmulDims::of(&[2, 2, 3], &[3, 3, 4]).is_err());
        assert!(MatmulDims::of(&[3], &[3, 4]).is_err());
        let e = d.check_grad(&[5, 2], &[1, 2, 3], &[5, 3, 4]).unwrap_err();
        assert!(
            e.to_string().contains("shape (5, 2), expected (5, 2, 4)"),
            "{e}"
        );
    }
}
