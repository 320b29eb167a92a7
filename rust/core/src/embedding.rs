//! Embedding lookup and its gradient (`torch.nn.functional.embedding`): rows of a
//! `(num_embeddings, embedding_dim)` table gathered by index, and scattered back with
//! `padding_idx` rows left without gradient.

use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::{first_position, for_each_row, worth_parallel};
use crate::runtime::team;
use crate::shape::{fmt_shape, numel};
use crate::{shape_err, value_err};

/// Formats flat position `p` of an array of `shape` as its index tuple, e.g. `(1, 2)`.
fn position(p: usize, shape: &[usize]) -> String {
    let mut idx = vec![0usize; shape.len()];
    let mut rest = p;
    for (k, &dim) in shape.iter().enumerate().rev() {
        if dim > 0 {
            idx[k] = rest % dim;
            rest /= dim;
        }
    }
    fmt_shape(&idx)
}

/// Checks every index against `num` rows; the error names the first bad one and its position.
fn check_indices(op: &str, idx: &[i64], idx_shape: &[usize], num: usize) -> Result<()> {
    if numel(idx_shape) != idx.len() {
        return shape_err!(
            "{op}: input has {} indices but shape {} holds {}",
            idx.len(),
            fmt_shape(idx_shape),
            numel(idx_shape)
        );
    }
    let bad = |&v: &i64| v < 0 || v as u64 >= num as u64;
    let first = first_position(idx, bad);
    match first {
        Some(p) => value_err!(
            "{op}: index {} at position {} is out of range for {num} embeddings (valid: 0 to {})",
            idx[p],
            position(p, idx_shape),
            num as i64 - 1
        ),
        None => Ok(()),
    }
}

fn check_table(op: &str, len: usize, num: usize, dim: usize) -> Result<()> {
    if num.checked_mul(dim) != Some(len) {
        return shape_err!("{op}: weight has {len} elements, not ({num}, {dim})");
    }
    Ok(())
}

/// Embedding lookup: row `idx[p]` of the (num, dim) table `weight` for every position `p`;
/// the output has shape `idx_shape + (dim,)`. An index outside `0..num` is a value error
/// naming it and its position.
pub fn embedding<T: Real>(
    idx: &[i64],
    idx_shape: &[usize],
    weight: &[T],
    num: usize,
    dim: usize,
) -> Result<Vec<T>> {
    let op = "embedding";
    check_table(op, weight.len(), num, dim)?;
    check_indices(op, idx, idx_shape, num)?;
    let size = idx.len().checked_mul(dim).ok_or_else(|| {
        crate::Error::Shape(format!(
            "{op}: an output of {} rows of {dim} values is too big",
            idx.len()
        ))
    })?;
    let mut out = buf::zeros(size)?;
    if dim == 0 {
        return Ok(out);
    }
    let body = |(o, &i): (&mut [T], &i64)| {
        let r = i as usize * dim;
        o.copy_from_slice(&weight[r..r + dim]);
    };
    for_each_row(&mut out, dim, |r, o| body((o, &idx[r])));
    Ok(out)
}

/// Gradient of [`embedding`] with respect to the table: the rows of `g` (shape
/// `idx_shape + (dim,)`) added into row `idx[p]` of a (num, dim) zero table, in position order.
/// Rows at `padding_idx` get no gradient.
pub fn embedding_backward<T: Real>(
    g: &[T],
    idx: &[i64],
    idx_shape: &[usize],
    num: usize,
    dim: usize,
    padding_idx: Option<usize>,
) -> Result<Vec<T>> {
    let op = "embedding_backward";
    check_indices(op, idx, idx_shape, num)?;
    if Some(g.len()) != idx.len().checked_mul(dim) {
        return shape_err!(
            "{op}: grad_output has {} elements, expected {} ({} indices of {dim} values)",
            g.len(),
            idx.len() * dim,
            idx.len()
        );
    }
    let size = num
        .checked_mul(dim)
        .ok_or_else(|| crate::Error::Shape(format!("{op}: a ({num}, {dim}) table is too big")))?;
    let mut gw = buf::zeros(size)?;
    if dim == 0 || num == 0 {
        return Ok(gw);
    }
    let pad = padding_idx.map(|p| p as i64);
    // Each block of table rows scans all indices and adds the ones that land in it, so every
    // row sums its gradients in position order however the work is split.
    let block = |lo: usize, part: &mut [T]| {
        let hi = lo + part.len() / dim;
        for (p, &i) in idx.iter().enumerate() {
            let iu = i as usize;
            if iu < lo || iu >= hi || Some(i) == pad {
                continue;
            }
            let dst = &mut part[(iu - lo) * dim..(iu - lo + 1) * dim];
            for (a, &v) in dst.iter_mut().zip(&g[p * dim..(p + 1) * dim]) {
                *a = *a + v;
            }
        }
    };
    let threads = team::threads();
    if worth_parallel(g.len()) && threads > 1 && num > 1 {
        let rows_per = num.div_ceil(threads);
        let parts = gw.chunks_mut(rows_per * dim).enumerate().collect();
        team::for_each(parts, |(b, part): (usize, &mut [T])| {
            block(b * rows_per, part)
        });
    } else {
        block(0, &mut gw);
    }
    Ok(gw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_gathers_and_scatters() {
        let w: Vec<f64> = (0..6).map(|v| v as f64).collect(); // (3, 2)
        let idx = [2i64, 0, 2, 1];
        let y = embedding(&idx, &[2, 2], &w, 3, 2).unwrap();
        assert_eq!(y, vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0, 2.0, 3.0]);
        let g = [1.0f64; 8];
        let gw = embedding_backward(&g, &idx, &[2, 2], 3, 2, Some(1)).unwrap();
        assert_eq!(gw, vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    }

    #[test]
    fn embedding_names_a_bad_index_and_its_position() {
        let w = [0.0f32; 6];
        let e = embedding(&[0i64, 1, 2, 3], &[2, 2], &w, 3, 2).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("index 3") && msg.contains("(1, 1)"), "{msg}");
        assert!(embedding(&[-1i64], &[1], &w, 3, 2).is_err());
    }
}
