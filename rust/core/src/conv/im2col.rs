//! Unrolling receptive fields into a column matrix (im2col), folding it back (col2im), and
//! strided views of weights and columns for the GEMMs.

use super::Conv2dDims;
use crate::gemm::Strided;
use crate::real::Real;

/// Output positions `o` in `0..out` whose input coordinate `o * stride + offset` lies in
/// `0..size`, as a half-open range.
fn valid_range(offset: isize, stride: usize, size: usize, out: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        ((-offset + s - 1) / s) as usize
    };
    let room = size as isize - offset;
    let hi = if room <= 0 {
        0
    } else {
        ((room + s - 1) / s) as usize
    };
    let hi = hi.min(out);
    (lo.min(hi), hi)
}

/// Where one kernel element (channel c, offset i, j) of one batch item reads its input: the
/// output rows `ys` and columns `xs` whose input position lies inside the image; output
/// (oy, ox) reads input (oy * stride_h + y_off, ox * stride_w + x_off).
struct Patch {
    /// Start of this item's H_out * W_out segment in the column matrix.
    col: usize,
    /// Start of the input plane.
    plane: usize,
    ys: (usize, usize),
    xs: (usize, usize),
    y_off: isize,
    x_off: isize,
}

/// Calls `f` for every (kernel element, batch item) of `items` items, in column-matrix order.
fn for_each_patch(d: &Conv2dDims, items: usize, mut f: impl FnMut(&Patch)) {
    let s = &d.spec;
    let l = d.oh * d.ow;
    for c in 0..d.c_in {
        for i in 0..d.kh {
            let y_off = (i * s.dilation[0]) as isize - s.padding[0] as isize;
            let ys = valid_range(y_off, s.stride[0], d.h, d.oh);
            for j in 0..d.kw {
                let x_off = (j * s.dilation[1]) as isize - s.padding[1] as isize;
                let xs = valid_range(x_off, s.stride[1], d.w, d.ow);
                let row = (c * d.kh + i) * d.kw + j;
                for b in 0..items {
                    f(&Patch {
                        col: (row * items + b) * l,
                        plane: (b * d.c_in + c) * d.h * d.w,
                        ys,
                        xs,
                        y_off,
                        x_off,
                    });
                }
            }
        }
    }
}

/// Unrolls the receptive fields of `items` batch items of `x` into `col`
/// (`C_in * kH * kW` rows of `items * H_out * W_out`). Every element is written, with zeros
/// where the window lies in the padding, so `col` may hold anything on entry.
pub(super) fn im2col<T: Real>(x: &[T], d: &Conv2dDims, items: usize, col: &mut [T]) {
    let (ow, w, l) = (d.ow, d.w, d.oh * d.ow);
    let [sh, sw] = d.spec.stride;
    let shifted = sh == 1 && sw == 1 && ow == w;
    for_each_patch(d, items, |p| {
        let block = &mut col[p.col..p.col + l];
        let (lo, hi) = p.xs;
        if lo == hi || p.ys.0 == p.ys.1 {
            block.fill(T::zero());
            return;
        }
        block[..p.ys.0 * ow].fill(T::zero());
        block[p.ys.1 * ow..].fill(T::zero());
        if shifted {
            // Input and output rows have the same length, so the valid block is one shifted
            // run; the positions it wraps onto (outside lo..hi) are reset to zero after.
            let (a, b) = (p.ys.0 * ow + lo, (p.ys.1 - 1) * ow + hi);
            let src0 = (p.plane as isize + a as isize + p.y_off * w as isize + p.x_off) as usize;
            block[a..b].copy_from_slice(&x[src0..src0 + (b - a)]);
            clear_borders(block, ow, p.ys, p.xs);
            return;
        }
        let x0 = (lo * sw) as isize + p.x_off;
        for oy in p.ys.0..p.ys.1 {
            let iy = ((oy * sh) as isize + p.y_off) as usize;
            let src = &x[p.plane + iy * w + x0 as usize..p.plane + (iy + 1) * w];
            let dst = &mut block[oy * ow + lo..oy * ow + hi];
            if sw == 1 {
                copy_run(dst, src);
            } else {
                for (o, &v) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                    *o = v;
                }
            }
        }
        clear_borders(block, ow, p.ys, p.xs);
    });
}

/// Copies `src[..dst.len()]` into `dst`. The rows of small images are a few elements long,
/// where a call of the library's `memcpy` per row (what a plain copy loop becomes) costs
/// several times the copy: short runs are moved in blocks of fixed size instead.
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    if n > 64 {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    while i + 8 <= n {
        let block: [T; 8] = src[i..i + 8].try_into().expect("8 elements");
        dst[i..i + 8].copy_from_slice(&block);
        i += 8;
    }
    if i + 4 <= n {
        let block: [T; 4] = src[i..i + 4].try_into().expect("4 elements");
        dst[i..i + 4].copy_from_slice(&block);
        i += 4;
    }
    if i + 2 <= n {
        let block: [T; 2] = src[i..i + 2].try_into().expect("2 elements");
        dst[i..i + 2].copy_from_slice(&block);
        i += 2;
    }
    if i < n {
        dst[i] = src[i];
    }
}

/// Adds the columns of `col` back onto the input positions they were read from (the adjoint
/// of [`im2col`]).
///
/// Entries of `col` that fall in the padding are overwritten (with zeros).
pub(super) fn col2im<T: Real>(col: &mut [T], d: &Conv2dDims, items: usize, gx: &mut [T]) {
    let (ow, w) = (d.ow, d.w);
    let [sh, sw] = d.spec.stride;
    let shifted = sh == 1 && sw == 1 && ow == w;
    for_each_patch(d, items, |p| {
        let (lo, hi) = p.xs;
        if lo == hi || p.ys.0 == p.ys.1 {
            return;
        }
        if shifted {
            // As in im2col: one shifted run, with the entries that wrap onto other input
            // positions zeroed first so they add nothing.
            clear_borders(&mut col[p.col..p.col + d.oh * ow], ow, p.ys, p.xs);
            let (a, b) = (p.ys.0 * ow + lo, (p.ys.1 - 1) * ow + hi);
            let dst0 = (p.plane as isize + a as isize + p.y_off * w as isize + p.x_off) as usize;
            for (o, &v) in gx[dst0..dst0 + (b - a)]
                .iter_mut()
                .zip(&col[p.col + a..p.col + b])
            {
                *o = *o + v;
            }
            return;
        }
        let x0 = (lo * sw) as isize + p.x_off;
        for oy in p.ys.0..p.ys.1 {
            let iy = ((oy * sh) as isize + p.y_off) as usize;
            let dst = &mut gx[p.plane + iy * w + x0 as usize..p.plane + (iy + 1) * w];
            let src = &col[p.col + oy * ow + lo..p.col + oy * ow + hi];
            if sw == 1 {
                for (o, &v) in dst.iter_mut().zip(src) {
                    *o = *o + v;
                }
            } else {
                for (o, &v) in dst.iter_mut().step_by(sw).zip(src) {
                    *o = *o + v;
                }
            }
        }
    });
}

/// Zeroes, in rows `ys` of a plane with rows of `ow`, the columns outside `xs`.
///
/// Column by column: the runs are a padding's width (one or two elements), and row-wise
/// fills would become a library call per row, costing more than the stores.
fn clear_borders<T: Real>(plane: &mut [T], ow: usize, ys: (usize, usize), xs: (usize, usize)) {
    let rows = &mut plane[ys.0 * ow..ys.1 * ow];
    for col in (0..xs.0).chain(xs.1..ow) {
        for v in rows.iter_mut().skip(col).step_by(ow) {
            *v = T::zero();
        }
    }
}

/// Cuts `buf` into `count` consecutive pieces of `len` elements (the last may be shorter).
pub(super) fn pieces<T>(mut buf: &mut [T], len: usize, count: usize) -> Vec<&mut [T]> {
    let mut v = Vec::with_capacity(count);
    for _ in 0..count {
        let take = len.min(buf.len());
        let (a, rest) = std::mem::take(&mut buf).split_at_mut(take);
        v.push(a);
        buf = rest;
    }
    v
}

/// Weight rows of group `g` as a (C_out/groups) x K_g matrix, or its transpose.
pub(super) fn weight_view<'a, T>(
    w: &'a [T],
    d: &Conv2dDims,
    g: usize,
    transpose: bool,
) -> Strided<'a, T> {
    let (kg, cog) = (d.k_group(), d.c_out / d.spec.groups);
    let data = &w[g * cog * kg..(g + 1) * cog * kg];
    if transpose {
        Strided::transposed(data, kg)
    } else {
        Strided::rows(data, kg)
    }
}

/// A `rows x cols` row-major block of `buf` starting at row `first`.
pub(super) fn rows_view<T>(buf: &[T], first: usize, rows: usize, cols: usize) -> Strided<'_, T> {
    Strided::rows(&buf[first * cols..(first + rows) * cols], cols)
}

#[cfg(test)]
mod tests {
    use super::copy_run;

    #[test]
    fn copy_run_copies_every_length() {
        let src: Vec<f32> = (0..100).map(|v| v as f32 + 0.5).collect();
        for n in 0..=90 {
            let mut dst = vec![-1.0f32; n + 3];
            copy_run(&mut dst[..n], &src[1..]);
            assert_eq!(&dst[..n], &src[1..n + 1], "length {n}");
            assert!(
                dst[n..].iter().all(|&v| v == -1.0),
                "length {n} wrote past its end"
            );
        }
    }
}
