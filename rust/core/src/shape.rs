//! Shapes, NumPy broadcasting, and a row-by-row walk over a broadcast result.

use crate::error::Result;
use crate::shape_err;

/// Number of elements of a shape (1 for a 0-d shape).
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements of a shape, or `None` when it exceeds `isize::MAX` (no array can have
/// that many, and [`numel`] would overflow).
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= isize::MAX as usize)
}

/// Formats a shape as NumPy prints it: `(2, 3)`, `(5,)`, `()`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The broadcast shape of `a` and `b` under NumPy's rules.
///
/// `op` names the operation in the error message.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let nd = a.len().max(b.len());
    let mut out = vec![0; nd];
    for i in 0..nd {
        let da = if i < nd - a.len() {
            1
        } else {
            a[i - (nd - a.len())]
        };
        let db = if i < nd - b.len() {
            1
        } else {
            b[i - (nd - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return shape_err!(
                "{op}: operands could not be broadcast together with shapes {} and {}",
                fmt_shape(a),
                fmt_shape(b)
            );
        };
    }
    if checked_numel(&out).is_none() {
        return shape_err!(
            "{op}: shapes {} and {} broadcast to {}, which is too big for an array",
            fmt_shape(a),
            fmt_shape(b),
            fmt_shape(&out)
        );
    }
    Ok(out)
}

/// True when `shape` broadcasts to `out` (used to check gradient targets).
pub fn broadcasts_to(shape: &[usize], out: &[usize]) -> bool {
    if shape.len() > out.len() {
        return false;
    }
    let off = out.len() - shape.len();
    shape
        .iter()
        .enumerate()
        .all(|(i, &d)| d == out[i + off] || d == 1)
}

/// Contiguous (C-order) element strides of `shape` as seen from the right-aligned `out` shape:
/// 0 along every axis where `shape` is broadcast.
fn strides_in(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let off = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i + off] = if shape[i] == 1 { 0 } else { acc };
        acc *= shape[i];
    }
    strides
}

/// A walk over a C-ordered output, one row (its last, collapsed axis) at a time, that gives
/// the offset of each row's start in every broadcast input and each input's stride along the
/// row (0 or 1 after collapsing, or larger for plain strided layouts).
#[derive(Debug, Clone)]
pub struct RowWalk {
    outer_shape: Vec<usize>,
    outer_strides: Vec<Vec<usize>>,
    /// Length of each row.
    pub inner: usize,
    /// Each input's element stride along a row.
    pub inner_strides: Vec<usize>,
    /// Number of rows.
    pub rows: usize,
}

impl RowWalk {
    /// Plans the walk over `out` for inputs of the given shapes (each must broadcast to `out`).
    pub fn new(out: &[usize], inputs: &[&[usize]]) -> Self {
        let mut shape: Vec<usize> = out.to_vec();
        let mut strides: Vec<Vec<usize>> = inputs.iter().map(|s| strides_in(s, out)).collect();
        // Drop axes of length 1, then merge neighbours that are contiguous for every input.
        let keep: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] != 1).collect();
        shape = keep.iter().map(|&i| shape[i]).collect();
        for s in strides.iter_mut() {
            *s = keep.iter().map(|&i| s[i]).collect();
        }
        let mut i = shape.len();
        while i >= 2 {
            let (a, b) = (i - 2, i - 1);
            if strides.iter().all(|s| s[a] == s[b] * shape[b]) {
                // The merged axis keeps the inner axis's stride.
                shape[b] *= shape[a];
                shape.remove(a);
                for s in strides.iter_mut() {
                    s.remove(a);
                }
            }
            i -= 1;
        }
        if shape.is_empty() {
            shape.push(1);
            for s in strides.iter_mut() {
                s.push(0);
            }
        }
        let inner = *shape.last().unwrap();
        let inner_strides = strides.iter().map(|s| *s.last().unwrap()).collect();
        shape.pop();
        for s in strides.iter_mut() {
            s.pop();
        }
        let rows = if numel(out) == 0 { 0 } else { numel(&shape) };
        RowWalk {
            outer_shape: shape,
            outer_strides: strides,
            inner,
            inner_strides,
            rows,
        }
    }

    /// Offset of row `row`'s first element in input `k`.
    #[inline]
    pub fn offset(&self, row: usize, k: usize) -> usize {
        let mut rem = row;
        let mut off = 0;
        let st = &self.outer_strides[k];
        for d in (0..self.outer_shape.len()).rev() {
            let n = self.outer_shape[d];
            off += (rem % n) * st[d];
            rem /= n;
        }
        off
    }
}

/// Resolves possibly negative `axes` against `ndim`, rejecting out-of-range and repeated ones.
/// `None` means every axis.
pub fn normalize_axes(op: &str, axes: Option<&[isize]>, ndim: usize) -> Result<Vec<usize>> {
    let Some(axes) = axes else {
        return Ok((0..ndim).collect());
    };
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = ndim as isize;
        let r = if a < 0 { a + n } else { a };
        if r < 0 || r >= n {
            return shape_err!("{op}: axis {a} is out of bounds for array of dimension {ndim}");
        }
        let r = r as usize;
        if out.contains(&r) {
            return shape_err!("{op}: duplicate value in axis: {a}");
        }
        out.push(r);
    }
    out.sort_unstable();
    Ok(out)
}

/// The shape after reducing `axes` with `keepdims`.
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdims {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

/// `index` (a flat position in C order) as a multi-index of `shape`, as NumPy prints one:
/// `(1, 2)`, a plain `4` for a 1-D shape, `()` for a 0-d one.
pub fn fmt_index(index: usize, shape: &[usize]) -> String {
    if shape.len() <= 1 {
        return if shape.is_empty() {
            "()".to_string()
        } else {
            format!("{index}")
        };
    }
    let mut rest = index;
    let mut parts = vec![0usize; shape.len()];
    for (p, &s) in parts.iter_mut().zip(shape).rev() {
        if s > 0 {
            *p = rest % s;
            rest /= s;
        }
    }
    let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
    format!("({})", parts.join(", "))
}

/// Checks that two arrays have the same shape; the error names both (`a` and `b` are their
/// argument names).
pub fn check_same_shape(
    func: &str,
    (a, ashape): (&str, &[usize]),
    (b, bshape): (&str, &[usize]),
) -> Result<()> {
    if ashape != bshape {
        return shape_err!(
            "{func}: {a} has shape {} but {b} has shape {}; they must be equal",
            fmt_shape(ashape),
            fmt_shape(bshape)
        );
    }
    Ok(())
}

/// Checks that `grad_output` has the shape of `input`, as the gradient of an elementwise or
/// normalising op needs; the error names both shapes.
pub fn check_grad_shape(func: &str, grad_shape: &[usize], input_shape: &[usize]) -> Result<()> {
    if grad_shape != input_shape {
        return shape_err!(
            "{func}: grad_output has shape {} but input has shape {}",
            fmt_shape(grad_shape),
            fmt_shape(input_shape)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grad_shape_must_match_input() {
        assert!(check_grad_shape("f", &[2, 3], &[2, 3]).is_ok());
        let err = check_grad_shape("f", &[3, 2], &[2, 3])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f: grad_output has shape (3, 2) but input has shape (2, 3)"),
            "{err}"
        );
    }

    #[test]
    fn broadcast_rules() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(),
            vec![2, 4, 3]
        );
        assert_eq!(broadcast_shapes("t", &[], &[3]).unwrap(), vec![3]);
        assert_eq!(broadcast_shapes("t", &[0, 1], &[1, 5]).unwrap(), vec![0, 5]);
        assert!(broadcast_shapes("t", &[2], &[3]).is_err());
        let big = 1usize << 40;
        assert!(broadcast_shapes("t", &[big, 1], &[1, big]).is_err());
        assert_eq!(checked_numel(&[big, big, 0]), Some(0));
    }

    #[test]
    fn walk_collapses_contiguous_axes() {
        let w = RowWalk::new(&[2, 3, 4], &[&[2, 3, 4], &[2, 3, 4]]);
        assert_eq!((w.rows, w.inner), (1, 24));
        let w = RowWalk::new(&[2, 3], &[&[2, 3], &[3]]);
        assert_eq!((w.rows, w.inner), (2, 3));
        assert_eq!(w.offset(1, 0), 3);
        assert_eq!(w.offset(1, 1), 0);
        let w = RowWalk::new(&[4, 3], &[&[4, 3], &[4, 1]]);
        assert_eq!(w.inner_strides, vec![1, 0]);
        assert_eq!(w.offset(2, 1), 2);
    }

    #[test]
    fn axes_are_checked() {
        assert_eq!(normalize_axes("t", Some(&[-1, 0]), 3).unwrap(), vec![0, 2]);
        assert!(normalize_axes("t", Some(&[3]), 3).is_err());
        assert!(normalize_axes("t", Some(&[1, -2]), 3).is_err());
    }
}
