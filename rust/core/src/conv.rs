//! 2-D convolution and pooling over NCHW arrays, forward and backward, with PyTorch's
//! semantics.
//!
//! Convolution is im2col + GEMM: the receptive fields of a block of batch items are unrolled
//! into a column matrix of `C_in * kH * kW` rows and `items * H_out * W_out` columns, and each
//! group's weight (C_out / groups rows) multiplies its slice of rows. The backward pass
//! multiplies by the transposes (read through strides) and folds the columns back (col2im).
//! Blocks of batch items run on different threads for large inputs.
//!
//! ```
//! use ferrograd_core::conv::{conv2d, Conv2dDims, Conv2dSpec};
//! // One 3x3 image of ones, one 2x2 kernel of ones: every output is 4.
//! let d = Conv2dDims::new("conv2d", &[1, 1, 3, 3], &[1, 1, 2, 2], None, Conv2dSpec::default())
//!     .unwrap();
//! assert_eq!((d.oh, d.ow), (2, 2));
//! let y = conv2d(&[1.0f64; 9], &[1.0; 4], None, &d).unwrap();
//! assert_eq!(y, vec![4.0; 4]);
//! ```

use crate::buf;
use crate::error::Result;
use crate::gemm::{gemm_strided, Strided};
use crate::real::Real;
use crate::runtime::parallel::for_each_row_costing;
use crate::runtime::scratch::with_scratch;
use crate::runtime::team;
use crate::shape::{checked_numel, fmt_shape};
use crate::{shape_err, value_err};

/// Convolutions of at least this many multiply-adds split the batch over threads.
const PAR_MIN_MACS: usize = 1 << 18;

/// Elements of column matrix one block of batch items may use (more items go to more blocks).
const COL_BUDGET: usize = 1 << 21;

/// Blocks a large batch is cut into (fewer when items are few): enough to keep several threads
/// busy, and the same for any thread count.
const BATCH_BLOCKS: usize = 8;

/// Settings of a 2-D convolution; every pair is (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dSpec {
    /// Step between receptive fields.
    pub stride: [usize; 2],
    /// Implicit zeros before the input (top, left).
    pub padding: [usize; 2],
    /// Implicit zeros after the input (bottom, right); equal to `padding` except for
    /// "same" padding of a kernel with an odd total padding.
    pub padding_end: [usize; 2],
    /// Spacing between kernel elements.
    pub dilation: [usize; 2],
    /// Number of blocked connections from input to output channels.
    pub groups: usize,
}

impl Conv2dSpec {
    /// A spec with symmetric padding.
    pub fn new(
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Self {
        Conv2dSpec {
            stride,
            padding,
            padding_end: padding,
            dilation,
            groups,
        }
    }
}

impl Default for Conv2dSpec {
    /// Stride 1, no padding, no dilation, one group.
    fn default() -> Self {
        Conv2dSpec::new([1, 1], [0, 0], [1, 1], 1)
    }
}

/// The checked sizes of a convolution: input (n, c_in, h, w), weight
/// (c_out, c_in / groups, kh, kw) and output (n, c_out, oh, ow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dDims {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub spec: Conv2dSpec,
}

fn fmt_pair(p: [usize; 2]) -> String {
    format!("({}, {})", p[0], p[1])
}

impl Conv2dDims {
    /// Checks the shapes of `input`, `weight` and (when given) the length of the bias against
    /// `spec`, and computes the output size. `func` names the caller in error messages.
    pub fn new(
        func: &str,
        input: &[usize],
        weight: &[usize],
        bias: Option<usize>,
        spec: Conv2dSpec,
    ) -> Result<Self> {
        let s = spec;
        if input.len() != 4 {
            return shape_err!(
                "{func}: input has shape {}, expected 4 axes (N, C_in, H, W)",
                fmt_shape(input)
            );
        }
        if weight.len() != 4 {
            return shape_err!(
                "{func}: weight has shape {}, expected 4 axes (C_out, C_in / groups, kH, kW)",
                fmt_shape(weight)
            );
        }
        for (name, v) in [("stride", s.stride), ("dilation", s.dilation)] {
            if v.contains(&0) {
                return value_err!("{func}: {name} must be positive, got {}", fmt_pair(v));
            }
        }
        if s.groups == 0 {
            return value_err!("{func}: groups must be positive, got 0");
        }
        let (n, c_in, h, w) = (input[0], input[1], input[2], input[3]);
        let (c_out, c_per_group, kh, kw) = (weight[0], weight[1], weight[2], weight[3]);
        if c_in == 0 || h == 0 || w == 0 {
            return shape_err!(
                "{func}: input has shape {}; its channel and spatial sizes must be non-zero",
                fmt_shape(input)
            );
        }
        if weight.contains(&0) {
            return shape_err!(
                "{func}: weight has shape {}; every size must be non-zero",
                fmt_shape(weight)
            );
        }
        if c_per_group.checked_mul(s.groups) != Some(c_in) {
            return shape_err!(
                "{func}: input has {c_in} channels (shape {}), but weight of shape {} with \
                 groups={} expects weight.shape[1] * groups = {} channels",
                fmt_shape(input),
                fmt_shape(weight),
                s.groups,
                c_per_group.saturating_mul(s.groups)
            );
        }
        if c_out % s.groups != 0 {
            return shape_err!(
                "{func}: weight has {c_out} output channels (shape {}), which is not \
                 divisible by groups={}",
                fmt_shape(weight),
                s.groups
            );
        }
        if let Some(len) = bias {
            if len != c_out {
                return shape_err!(
                    "{func}: bias has {len} elements, expected one per output channel ({c_out})"
                );
            }
        }
        let mut out = [0usize; 2];
        for (ax, axis) in ["height", "width"].into_iter().enumerate() {
            let (size, k) = ([h, w][ax], [kh, kw][ax]);
            let padded = size
                .checked_add(s.padding[ax])
                .and_then(|v| v.checked_add(s.padding_end[ax]));
            let span = (k - 1)
                .checked_mul(s.dilation[ax])
                .and_then(|v| v.checked_add(1));
            let (Some(padded), Some(span)) = (padded, span) else {
                return shape_err!(
                    "{func}: padding {} or dilation {} is too large",
                    fmt_pair(s.padding),
                    fmt_pair(s.dilation)
                );
            };
            if padded < span {
                return shape_err!(
                    "{func}: the padded input {axis} ({padded}) is smaller than the dilated \
                     kernel {axis} ({span}): input {}, weight {}, padding {}, dilation {}; the \
                     output would be empty",
                    fmt_shape(input),
                    fmt_shape(weight),
                    fmt_pair(s.padding),
                    fmt_pair(s.dilation)
                );
            }
            out[ax] = (padded - span) / s.stride[ax] + 1;
        }
        let d = Conv2dDims {
            n,
            c_in,
            h,
            w,
            c_out,
            kh,
            kw,
            oh: out[0],
            ow: out[1],
            spec,
        };
        let sizes = [
            checked_numel(&[n, c_out, out[0], out[1]]),
            checked_numel(&[c_in, kh, kw, out[0], out[1]]),
            checked_numel(input),
            checked_numel(weight),
        ];
        if sizes
            .iter()
            .any(|v| v.is_none_or(|v| v > isize::MAX as usize / 8))
        {
            return shape_err!(
                "{func}: input {} and weight {} give an output or workspace too big for memory",
                fmt_shape(input),
                fmt_shape(weight)
            );
        }
        Ok(d)
    }

    /// Shape of the output, (N, C_out, H_out, W_out).
    pub fn out_shape(&self) -> [usize; 4] {
        [self.n, self.c_out, self.oh, self.ow]
    }

    /// Elements of one item's column matrix (`C_in * kH * kW * H_out * W_out`).
    pub fn col_len(&self) -> usize {
        self.c_in * self.kh * self.kw * self.oh * self.ow
    }

    fn in_item(&self) -> usize {
        self.c_in * self.h * self.w
    }
    fn out_item(&self) -> usize {
        self.c_out * self.oh * self.ow
    }
    fn k_group(&self) -> usize {
        self.c_in / self.spec.groups * self.kh * self.kw
    }
    fn weight_len(&self) -> usize {
        self.c_out * self.k_group()
    }

    fn check_lens(&self, func: &str, x: usize, w: usize, bias: Option<usize>) -> Result<()> {
        let want = [self.n * self.in_item(), self.weight_len()];
        if x != want[0] || w != want[1] || bias.is_some_and(|b| b != self.c_out) {
            return shape_err!(
                "{func}: input, weight and bias hold {x}, {w} and {bias:?} elements; expected \
                 {}, {} and {} for {self:?}",
                want[0],
                want[1],
                self.c_out
            );
        }
        Ok(())
    }

    /// How the batch is cut into blocks: items per block, and whether blocks run in parallel
    /// (otherwise the GEMMs may split over threads themselves). The cut depends on the sizes
    /// alone, never on the thread count, so the weight gradient (summed block by block) comes
    /// out the same bit for bit however many threads there are.
    fn plan(&self) -> (usize, bool) {
        let cap = (COL_BUDGET / self.col_len().max(1)).max(1);
        let macs = self
            .n
            .saturating_mul(self.out_item())
            .saturating_mul(self.k_group());
        if self.n > 1 && macs >= PAR_MIN_MACS {
            let per = self.n.div_ceil(BATCH_BLOCKS).min(cap);
            (per, team::threads() > 1 && per < self.n)
        } else {
            (self.n.clamp(1, cap), false)
        }
    }
}

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
fn im2col<T: Real>(x: &[T], d: &Conv2dDims, items: usize, col: &mut [T]) {
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
                for (o, &v) in dst.iter_mut().zip(src) {
                    *o = v;
                }
            } else {
                for (o, &v) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                    *o = v;
                }
            }
        }
        clear_borders(block, ow, p.ys, p.xs);
    });
}

/// Adds the columns of `col` back onto the input positions they were read from (the adjoint
/// of [`im2col`]).
///
/// Entries of `col` that fall in the padding are overwritten (with zeros).
fn col2im<T: Real>(col: &mut [T], d: &Conv2dDims, items: usize, gx: &mut [T]) {
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
fn pieces<T>(mut buf: &mut [T], len: usize, count: usize) -> Vec<&mut [T]> {
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
fn weight_view<'a, T>(w: &'a [T], d: &Conv2dDims, g: usize, transpose: bool) -> Strided<'a, T> {
    let (kg, cog) = (d.k_group(), d.c_out / d.spec.groups);
    let data = &w[g * cog * kg..(g + 1) * cog * kg];
    if transpose {
        Strided {
            data,
            rs: 1,
            cs: kg,
        }
    } else {
        Strided {
            data,
            rs: kg,
            cs: 1,
        }
    }
}

/// A `rows x cols` row-major block of `buf` starting at row `first`.
fn rows_view<T>(buf: &[T], first: usize, rows: usize, cols: usize) -> Strided<'_, T> {
    Strided {
        data: &buf[first * cols..(first + rows) * cols],
        rs: cols,
        cs: 1,
    }
}

/// Forward pass of `items` batch items: `x` holds their inputs, `out` their outputs.
fn forward_block<T: Real>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    d: &Conv2dDims,
    items: usize,
    out: &mut [T],
    threads: bool,
) -> Result<()> {
    let (l, kg, groups) = (d.oh * d.ow, d.k_group(), d.spec.groups);
    let cog = d.c_out / groups;
    let bl = items * l;
    with_scratch(d.c_in * d.kh * d.kw * bl, |col: &mut [T]| {
        im2col(x, d, items, col);
        let col: &[T] = col;
        // dst (C_out x items * L) = [dst +] weight_g @ col_g for each group.
        let product = |dst: &mut [T], accumulate: bool| -> Result<()> {
            for g in 0..groups {
                gemm_strided(
                    &mut dst[g * cog * bl..(g + 1) * cog * bl],
                    (cog, kg, bl),
                    weight_view(w, d, g, false),
                    rows_view(col, g * kg, kg, bl),
                    accumulate,
                    threads,
                )?;
            }
            Ok(())
        };
        if items == 1 {
            // One item's (C_out x L) product is already in the output's layout.
            if let Some(b) = bias {
                for (row, &v) in out.chunks_mut(l).zip(b) {
                    row.fill(v);
                }
            }
            return product(out, bias.is_some());
        }
        with_scratch(d.c_out * bl, |tmp: &mut [T]| {
            product(tmp, false)?;
            // (C_out, items, L) -> (items, C_out, L), adding the bias on the way.
            for (b, item) in out.chunks_mut(d.out_item()).enumerate() {
                for (co, row) in item.chunks_mut(l).enumerate() {
                    let src = &tmp[co * bl + b * l..co * bl + (b + 1) * l];
                    let add = bias.map_or(T::zero(), |bv| bv[co]);
                    for (o, &v) in row.iter_mut().zip(src) {
                        *o = v + add;
                    }
                }
            }
            Ok(())
        })
    })
}

/// Runs `f(block, first_item, items, piece)` over the batch cut into blocks, in parallel
/// when `parallel`; `f` gets `threads = !parallel`.
fn over_blocks<T: Send, R: Send>(
    buf: &mut [T],
    item_len: usize,
    n: usize,
    (per, parallel): (usize, bool),
    f: impl Fn(usize, usize, &mut [T], bool) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let count = n.div_ceil(per);
    let blocks = pieces(buf, per * item_len, count);
    let run = |(c, piece): (usize, &mut [T])| {
        let first = c * per;
        f(first, per.min(n - first), piece, !parallel)
    };
    if parallel {
        team::map(blocks.into_iter().enumerate().collect(), run)
            .into_iter()
            .collect()
    } else {
        blocks.into_iter().enumerate().map(run).collect()
    }
}

/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of `x` (N, C_in, H, W) with
/// `w` (C_out, C_in / groups, kH, kW) plus an optional `bias` (C_out). Returns
/// (N, C_out, H_out, W_out) in C order.
pub fn conv2d<T: Real>(x: &[T], w: &[T], bias: Option<&[T]>, d: &Conv2dDims) -> Result<Vec<T>> {
    d.check_lens("conv2d", x.len(), w.len(), bias.map(<[T]>::len))?;
    let (xi, oi) = (d.in_item(), d.out_item());
    let mut out = buf::zeros(d.n * oi)?;
    over_blocks(&mut out, oi, d.n, d.plan(), |first, items, o, threads| {
        let xs = &x[first * xi..(first + items) * xi];
        forward_block(xs, w, bias, d, items, o, threads)
    })?;
    Ok(out)
}

/// Backward pass of `items` batch items: adds their weight and bias gradients to `gw`, `gb`
/// and writes their input gradient to `gx` (unless it is empty).
#[allow(clippy::too_many_arguments)]
fn backward_block<T: Real>(
    g: &[T],
    x: &[T],
    w: &[T],
    d: &Conv2dDims,
    items: usize,
    gx: &mut [T],
    gw: &mut [T],
    gb: &mut [T],
    threads: bool,
) -> Result<()> {
    let (l, bl) = (d.oh * d.ow, items * d.oh * d.ow);
    if items == 1 {
        return backward_gathered(g, x, w, d, items, gx, gw, gb, threads);
    }
    // grad_output as (C_out, items * L).
    with_scratch(d.c_out * bl, |t: &mut [T]| {
        for (b, item) in g.chunks(d.out_item()).enumerate() {
            for (co, row) in item.chunks(l).enumerate() {
                t[co * bl + b * l..co * bl + (b + 1) * l].copy_from_slice(row);
            }
        }
        backward_gathered(t, x, w, d, items, gx, gw, gb, threads)
    })
}

/// [`backward_block`] with the output gradient `gt` as (C_out, items * L).
#[allow(clippy::too_many_arguments)]
fn backward_gathered<T: Real>(
    gt: &[T],
    x: &[T],
    w: &[T],
    d: &Conv2dDims,
    items: usize,
    gx: &mut [T],
    gw: &mut [T],
    gb: &mut [T],
    threads: bool,
) -> Result<()> {
    let (l, kg, groups) = (d.oh * d.ow, d.k_group(), d.spec.groups);
    let cog = d.c_out / groups;
    let bl = items * l;
    for (acc, row) in gb.iter_mut().zip(gt.chunks(bl)) {
        *acc = *acc + row.iter().copied().sum::<T>();
    }
    with_scratch(d.c_in * d.kh * d.kw * bl, |col: &mut [T]| {
        im2col(x, d, items, col);
        // grad_w_g (cog x kg) += g_g (cog x bl) @ col_g^T (bl x kg), computed as its
        // transpose col_g (kg x bl) @ g_g^T (bl x cog): the long reduction then runs along
        // rows of both.
        with_scratch(kg * cog, |gwt: &mut [T]| -> Result<()> {
            for grp in 0..groups {
                let gg = &gt[grp * cog * bl..(grp + 1) * cog * bl];
                gemm_strided(
                    gwt,
                    (kg, bl, cog),
                    rows_view(col, grp * kg, kg, bl),
                    Strided {
                        data: gg,
                        rs: 1,
                        cs: bl,
                    },
                    false,
                    threads,
                )?;
                let gwg = &mut gw[grp * cog * kg..(grp + 1) * cog * kg];
                for (k, row) in gwt.chunks(cog).enumerate() {
                    for (co, &v) in row.iter().enumerate() {
                        let t = &mut gwg[co * kg + k];
                        *t = *t + v;
                    }
                }
            }
            Ok(())
        })?;
        if gx.is_empty() {
            return Ok(());
        }
        for grp in 0..groups {
            // grad_col_g (kg x bl) = w_g^T (kg x cog) @ g_g (cog x bl), into the column buffer.
            gemm_strided(
                &mut col[grp * kg * bl..(grp + 1) * kg * bl],
                (kg, cog, bl),
                weight_view(w, d, grp, true),
                rows_view(gt, grp * cog, cog, bl),
                false,
                threads,
            )?;
        }
        col2im(col, d, items, gx);
        Ok(())
    })
}

/// Gradients of [`conv2d`]: `(grad_input, grad_weight, grad_bias)`. With `input_grad` false
/// the input gradient is skipped and returned empty.
pub fn conv2d_backward<T: Real>(
    g: &[T],
    x: &[T],
    w: &[T],
    d: &Conv2dDims,
    input_grad: bool,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    d.check_lens("conv2d_backward", x.len(), w.len(), None)?;
    let (xi, oi) = (d.in_item(), d.out_item());
    if g.len() != d.n * oi {
        return shape_err!(
            "conv2d_backward: grad_output holds {} elements, expected {} for an output of \
             shape {}",
            g.len(),
            d.n * oi,
            fmt_shape(&d.out_shape())
        );
    }
    let mut gx = buf::zeros(if input_grad { d.n * xi } else { 0 })?;
    let (wl, co) = (d.weight_len(), d.c_out);
    let plan = d.plan();
    let item_len = if input_grad { xi } else { 0 };
    let mut gw = buf::zeros(wl)?;
    let mut gb = buf::zeros(co)?;
    if plan.1 {
        // Each block sums into its own buffers; the sums are added in block order, so the
        // result does not depend on scheduling.
        let parts = over_blocks(
            &mut gx,
            item_len,
            d.n,
            plan,
            |first, items, gxb, threads| {
                let (mut pw, mut pb) = (buf::zeros(wl)?, buf::zeros(co)?);
                let gs = &g[first * oi..(first + items) * oi];
                let xs = &x[first * xi..(first + items) * xi];
                backward_block(gs, xs, w, d, items, gxb, &mut pw, &mut pb, threads)?;
                Ok((pw, pb))
            },
        )?;
        for (pw, pb) in parts {
            gw.iter_mut().zip(pw).for_each(|(a, v)| *a = *a + v);
            gb.iter_mut().zip(pb).for_each(|(a, v)| *a = *a + v);
        }
    } else {
        let count = d.n.div_ceil(plan.0);
        for (c, gxb) in pieces(&mut gx, plan.0 * item_len, count)
            .into_iter()
            .enumerate()
        {
            let first = c * plan.0;
            let items = plan.0.min(d.n - first);
            let gs = &g[first * oi..(first + items) * oi];
            let xs = &x[first * xi..(first + items) * xi];
            backward_block(gs, xs, w, d, items, gxb, &mut gw, &mut gb, true)?;
        }
    }
    Ok((gx, gw, gb))
}

// ------------------------------------------------------------------------------- pooling

/// Settings of a 2-D pooling window; every pair is (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dSpec {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (windows may then start in the padding at
    /// the end, but never entirely past it).
    pub ceil_mode: bool,
}

/// The checked sizes of a pooling: `planes` (N * C) planes of h x w in, oh x ow out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dDims {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub spec: Pool2dSpec,
}

/// PyTorch's pooling output size along one axis (before checking that it is positive).
fn pool_out(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> i128 {
    let (size, k, s, p, d) = (size as i128, k as i128, s as i128, p as i128, d as i128);
    let num = size + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    // The last window must start inside the input or its leading padding.
    if ceil && (out - 1) * s >= size + p {
        out -= 1;
    }
    out
}

impl Pool2dDims {
    /// Checks an input of shape (N, C, H, W) or (C, H, W) against `spec`; `func` names the
    /// caller in error messages.
    pub fn new(func: &str, input: &[usize], spec: Pool2dSpec) -> Result<Self> {
        let s = spec;
        if input.len() != 3 && input.len() != 4 {
            return shape_err!(
                "{func}: input has shape {}, expected (N, C, H, W) or (C, H, W)",
                fmt_shape(input)
            );
        }
        let nd = input.len();
        if input[nd - 3..].contains(&0) {
            return shape_err!(
                "{func}: input has shape {}; its channel and spatial sizes must be non-zero",
                fmt_shape(input)
            );
        }
        for (name, v) in [
            ("kernel_size", s.kernel),
            ("stride", s.stride),
            ("dilation", s.dilation),
        ] {
            if v.contains(&0) {
                return value_err!("{func}: {name} must be positive, got {}", fmt_pair(v));
            }
        }
        if s.padding[0] > s.kernel[0] / 2 || s.padding[1] > s.kernel[1] / 2 {
            return value_err!(
                "{func}: padding should be at most half of kernel_size, got padding {} and \
                 kernel_size {}",
                fmt_pair(s.padding),
                fmt_pair(s.kernel)
            );
        }
        let (h, w) = (input[nd - 2], input[nd - 1]);
        let Some(planes) = checked_numel(&input[..nd - 2]) else {
            return shape_err!("{func}: input shape {} is too big", fmt_shape(input));
        };
        let oh = pool_out(
            h,
            s.kernel[0],
            s.stride[0],
            s.padding[0],
            s.dilation[0],
            s.ceil_mode,
        );
        let ow = pool_out(
            w,
            s.kernel[1],
            s.stride[1],
            s.padding[1],
            s.dilation[1],
            s.ceil_mode,
        );
        if oh < 1 || ow < 1 {
            return shape_err!(
                "{func}: output size would be ({oh}, {ow}) for input {} with kernel_size {}, \
                 stride {}, padding {} and dilation {}; the output must not be empty",
                fmt_shape(input),
                fmt_pair(s.kernel),
                fmt_pair(s.stride),
                fmt_pair(s.padding),
                fmt_pair(s.dilation)
            );
        }
        let (oh, ow) = (oh as usize, ow as usize);
        if checked_numel(&[planes, oh, ow]).is_none_or(|v| v > isize::MAX as usize / 8) {
            return shape_err!("{func}: the output is too big for an array");
        }
        Ok(Pool2dDims {
            planes,
            h,
            w,
            oh,
            ow,
            spec,
        })
    }

    fn check_in(&self, func: &str, len: usize) -> Result<()> {
        if len != self.planes * self.h * self.w {
            return shape_err!(
                "{func}: input holds {len} elements, expected {} planes of {}x{}",
                self.planes,
                self.h,
                self.w
            );
        }
        Ok(())
    }

    fn check_out(&self, func: &str, len: usize) -> Result<()> {
        if len != self.planes * self.oh * self.ow {
            return shape_err!(
                "{func}: grad_output holds {len} elements, expected {} planes of {}x{}",
                self.planes,
                self.oh,
                self.ow
            );
        }
        Ok(())
    }

    /// Element operations per plane: one per output and window element.
    fn plane_work(&self) -> usize {
        (self.oh * self.ow).saturating_mul(self.spec.kernel[0] * self.spec.kernel[1])
    }

    /// Window of output (oy, ox) along one axis: first position (may be negative), step.
    fn start(&self, ax: usize, o: usize) -> isize {
        (o * self.spec.stride[ax]) as isize - self.spec.padding[ax] as isize
    }
}

pub fn max_pool2d<T: Real>(x: &[T], d: &Pool2dDims) -> Result<(Vec<T>, Vec<i64>)> {
    d.check_in("max_pool2d", x.len())?;
    let (l, plane) = (d.oh * d.ow, d.h * d.w);
    let mut pairs = buf::filled(d.planes * l, (T::zero(), 0i64))?;
    let [kh, kw] = d.spec.kernel;
    let [dh, dw] = d.spec.dilation;
    let [sh, sw] = d.spec.stride;
    // Without padding, and with every window inside the input, no position needs a check.
    let inside = d.spec.padding == [0, 0]
        && (d.oh.saturating_sub(1) * sh + (kh - 1) * dh) < d.h
        && (d.ow.saturating_sub(1) * sw + (kw - 1) * dw) < d.w;
    for_each_row_costing(&mut pairs, l, d.plane_work(), |p, o| {
        let src = &x[p * plane..(p + 1) * plane];
        if inside && [kh, kw, dh, dw] == [2, 2, 1, 1] {
            // The common 2 x 2 window without data-dependent branches: which element wins
            // is unpredictable with real data, and mispredictions would cost several times
            // the comparisons.
            for (oy, row) in o.chunks_mut(d.ow).enumerate() {
                for (ox, slot) in row.iter_mut().enumerate() {
                    let k = oy * sh * d.w + ox * sw;
                    let corner = max_of_four(src[k], src[k + 1], src[k + d.w], src[k + d.w + 1]);
                    let at = k + [0, 1, d.w, d.w + 1][corner];
                    *slot = (src[at], at as i64);
                }
            }
            return;
        }
        if inside {
            for (oy, row) in o.chunks_mut(d.ow).enumerate() {
                for (ox, slot) in row.iter_mut().enumerate() {
                    let first = oy * sh * d.w + ox * sw;
                    let (mut best, mut at) = (src[first], first);
                    for i in 0..kh {
                        let line = first + i * dh * d.w;
                        for j in 0..kw {
                            let k = line + j * dw;
                            let v = src[k];
                            // Selects, not a branch: with real data which element wins is
                            // unpredictable, and mispredictions would cost more than the
                            // comparisons.
                            let take = (v > best) | v.is_nan();
                            best = if take { v } else { best };
                            at = if take { k } else { at };
                        }
                    }
                    *slot = (best, at as i64);
                }
            }
            return;
        }
        for oy in 0..d.oh {
            let y0 = d.start(0, oy);
            for ox in 0..d.ow {
                let x0 = d.start(1, ox);
                let (mut best, mut at) = (T::neg_infinity(), -1i64);
                for i in 0..kh {
                    let y = y0 + (i * dh) as isize;
                    if y < 0 || y >= d.h as isize {
                        continue;
                    }
                    for j in 0..kw {
                        let xx = x0 + (j * dw) as isize;
                        if xx < 0 || xx >= d.w as isize {
                            continue;
                        }
                        let k = y as usize * d.w + xx as usize;
                        let v = src[k];
                        if at < 0 || v > best || v.is_nan() {
                            best = v;
                            at = k as i64;
                        }
                    }
                }
                o[oy * d.ow + ox] = (best, at);
            }
        }
    });
    let (mut values, mut indices) = (
        buf::with_capacity(pairs.len())?,
        buf::with_capacity(pairs.len())?,
    );
    for (v, i) in pairs {
        values.push(v);
        indices.push(i);
    }
    Ok((values, indices))
}

/// Which element of a 2 x 2 window `a b / c e` (0 to 3, in window order) a scan in window
/// order keeps: the first of equal maxima, or the last NaN (as PyTorch). Without NaN (the
/// predictable case), arithmetic on the comparisons picks it.
#[inline(always)]
fn max_of_four<T: Real>(a: T, b: T, c: T, e: T) -> usize {
    if a.is_nan() | b.is_nan() | c.is_nan() | e.is_nan() {
        return if e.is_nan() {
            3
        } else if c.is_nan() {
            2
        } else {
            b.is_nan() as usize
        };
    }
    let m = a.max(b).max(c).max(e);
    let (is_a, is_b, is_c) = ((a == m) as u8, (b == m) as u8, (c == m) as u8);
    // a if it is the maximum, else b if it is, else c if it is, else e.
    ((1 - is_a) * (1 + (1 - is_b) * (1 + (1 - is_c)))) as usize
}

/// Gradient of [`max_pool2d`] from its indices: each output's gradient goes to the input
/// element it took. `planes` planes of `in_plane` input and `out_plane` output elements.
pub fn max_pool2d_backward<T: Real>(
    g: &[T],
    indices: &[i64],
    planes: usize,
    in_plane: usize,
    out_plane: usize,
) -> Result<Vec<T>> {
    let want = planes.checked_mul(out_plane);
    if want != Some(g.len()) || indices.len() != g.len() {
        return shape_err!(
            "max_pool2d_backward: grad_output and indices hold {} and {} elements, expected \
             {planes} planes of {out_plane}",
            g.len(),
            indices.len()
        );
    }
    if let Some(k) = indices.iter().position(|&i| i < -1 || i >= in_plane as i64) {
        return value_err!(
            "max_pool2d_backward: indices holds {} at flat position {k}, outside an input \
             plane of {in_plane} elements",
            indices[k]
        );
    }
    let Some(total) = planes.checked_mul(in_plane) else {
        return shape_err!("max_pool2d_backward: the input is too big for an array");
    };
    let mut gx = buf::zeros(total)?;
    for_each_row_costing(&mut gx, in_plane, out_plane.max(in_plane), |p, gp| {
        let (gs, is) = (
            &g[p * out_plane..(p + 1) * out_plane],
            &indices[p * out_plane..(p + 1) * out_plane],
        );
        for (&v, &i) in gs.iter().zip(is) {
            if i >= 0 {
                gp[i as usize] = gp[i as usize] + v;
            }
        }
    });
    Ok(gx)
}

/// Bounds of one average-pooling window along an axis: `(start, end, padded_len)` with
/// start/end clipped to the input and `padded_len` the window size within the padded input.
fn avg_window(start: isize, k: usize, size: usize, pad: usize) -> (usize, usize, usize) {
    let end = (start + k as isize).min((size + pad) as isize);
    let padded = (end - start) as usize;
    let (s, e) = (
        start.max(0) as usize,
        end.min(size as isize).max(0) as usize,
    );
    (s, e.max(s), padded)
}

fn avg_divisor(
    (h0, h1, ph): (usize, usize, usize),
    (w0, w1, pw): (usize, usize, usize),
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> usize {
    match divisor_override {
        Some(v) => v,
        None if count_include_pad => ph * pw,
        None => (h1 - h0) * (w1 - w0),
    }
}

fn check_avg(func: &str, d: &Pool2dDims, divisor_override: Option<usize>) -> Result<()> {
    if d.spec.dilation != [1, 1] {
        return value_err!(
            "{func}: dilation is not supported, got {}",
            fmt_pair(d.spec.dilation)
        );
    }
    if divisor_override == Some(0) {
        return value_err!("{func}: divisor_override must be non-zero");
    }
    Ok(())
}

/// Average pooling with PyTorch's semantics: `count_include_pad` divides by the window
/// size within the padded input, otherwise by the number of input elements in it;
/// `divisor_override` replaces either divisor.
pub fn avg_pool2d<T: Real>(
    x: &[T],
    d: &Pool2dDims,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Vec<T>> {
    check_avg("avg_pool2d", d, divisor_override)?;
    d.check_in("avg_pool2d", x.len())?;
    let (l, plane) = (d.oh * d.ow, d.h * d.w);
    let mut out = buf::zeros(d.planes * l)?;
    let [kh, kw] = d.spec.kernel;
    for_each_row_costing(&mut out, l, d.plane_work(), |p, o| {
        let src = &x[p * plane..(p + 1) * plane];
        for oy in 0..d.oh {
            let wy = avg_window(d.start(0, oy), kh, d.h, d.spec.padding[0]);
            for ox in 0..d.ow {
                let wx = avg_window(d.start(1, ox), kw, d.w, d.spec.padding[1]);
                let mut acc = T::zero();
                for y in wy.0..wy.1 {
                    acc = acc
                        + src[y * d.w + wx.0..y * d.w + wx.1]
                            .iter()
                            .copied()
                            .sum::<T>();
                }
                let div = avg_divisor(wy, wx, count_include_pad, divisor_override);
                o[oy * d.ow + ox] = acc / T::from_usize_(div);
            }
        }
    });
    Ok(out)
}

/// Gradient of [`avg_pool2d`]: each output's gradient, divided by its divisor, spread over
/// its window.
pub fn avg_pool2d_backward<T: Real>(
    g: &[T],
    d: &Pool2dDims,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Vec<T>> {
    check_avg("avg_pool2d_backward", d, divisor_override)?;
    d.check_out("avg_pool2d_backward", g.len())?;
    let (l, plane) = (d.oh * d.ow, d.h * d.w);
    let mut gx = buf::zeros(d.planes * plane)?;
    let [kh, kw] = d.spec.kernel;
    for_each_row_costing(&mut gx, plane, d.plane_work(), |p, gp| {
        let gs = &g[p * l..(p + 1) * l];
        for oy in 0..d.oh {
            let wy = avg_window(d.start(0, oy), kh, d.h, d.spec.padding[0]);
            for ox in 0..d.ow {
                let wx = avg_window(d.start(1, ox), kw, d.w, d.spec.padding[1]);
                let div = avg_divisor(wy, wx, count_include_pad, divisor_override);
                let v = gs[oy * d.ow + ox] / T::from_usize_(div);
                for y in wy.0..wy.1 {
                    for t in &mut gp[y * d.w + wx.0..y * d.w + wx.1] {
                        *t = *t + v;
                    }
                }
            }
        }
    });
    Ok(gx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition of the convolution, for comparison.
    fn naive(x: &[f64], w: &[f64], b: Option<&[f64]>, d: &Conv2dDims) -> Vec<f64> {
        let s = &d.spec;
        let cpg = d.c_in / s.groups;
        let cog = d.c_out / s.groups;
        let mut out = vec![0.0; d.n * d.out_item()];
        for n in 0..d.n {
            for co in 0..d.c_out {
                let g = co / cog;
                for oy in 0..d.oh {
                    for ox in 0..d.ow {
                        let mut acc = b.map_or(0.0, |b| b[co]);
                        for ci in 0..cpg {
                            let c = g * cpg + ci;
                            for i in 0..d.kh {
                                for j in 0..d.kw {
                                    let y = (oy * s.stride[0] + i * s.dilation[0]) as isize
                                        - s.padding[0] as isize;
                                    let xx = (ox * s.stride[1] + j * s.dilation[1]) as isize
                                        - s.padding[1] as isize;
                                    if y < 0 || xx < 0 || y >= d.h as isize || xx >= d.w as isize {
                                        continue;
                                    }
                                    let xv = x
                                        [((n * d.c_in + c) * d.h + y as usize) * d.w + xx as usize];
                                    let wv = w[((co * cpg + ci) * d.kh + i) * d.kw + j];
                                    acc += xv * wv;
                                }
                            }
                        }
                        out[((n * d.c_out + co) * d.oh + oy) * d.ow + ox] = acc;
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: f64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64) * 0.37 + seed).sin()).collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn matches_naive_with_every_setting() {
        let cases = [
            (
                [2, 4, 5, 6],
                [6, 2, 3, 2],
                Conv2dSpec::new([2, 1], [1, 2], [1, 2], 2),
            ),
            (
                [3, 1, 7, 7],
                [4, 1, 3, 3],
                Conv2dSpec::new([1, 1], [1, 1], [1, 1], 1),
            ),
            (
                [5, 3, 4, 4],
                [3, 1, 1, 2],
                Conv2dSpec::new([3, 2], [0, 1], [1, 1], 3),
            ),
        ];
        for (xs, ws, spec) in cases {
            let d = Conv2dDims::new("t", &xs, &ws, Some(ws[0]), spec).unwrap();
            let x = values(xs.iter().product(), 0.1);
            let w = values(ws.iter().product(), 0.7);
            let b = values(ws[0], 1.3);
            let y = conv2d(&x, &w, Some(&b), &d).unwrap();
            for (a, e) in y.iter().zip(naive(&x, &w, Some(&b), &d)) {
                assert!((a - e).abs() < 1e-12, "{a} vs {e}");
            }
        }
    }

    #[test]
    fn large_batches_split_over_threads_give_the_same_result() {
        let spec = Conv2dSpec::new([1, 1], [1, 1], [1, 1], 2);
        let (xs, ws) = ([37, 4, 12, 12], [8, 2, 3, 3]);
        let d = Conv2dDims::new("t", &xs, &ws, Some(8), spec).unwrap();
        let x = values(xs.iter().product(), 0.3);
        let w = values(ws.iter().product(), 0.5);
        let b = values(8, 0.8);
        let y = conv2d(&x, &w, Some(&b), &d).unwrap();
        for (a, e) in y.iter().zip(naive(&x, &w, Some(&b), &d)) {
            assert!((a - e).abs() < 1e-12, "{a} vs {e}");
        }
        let g = values(y.len(), 1.1);
        let (gx, gw, _) = conv2d_backward(&g, &x, &w, &d, true).unwrap();
        let y0 = conv2d(&x, &w, None, &d).unwrap();
        let lhs = dot(&g, &y0);
        assert!((dot(&gx, &x) - lhs).abs() < 1e-9 * lhs.abs().max(1.0));
        assert!((dot(&gw, &w) - lhs).abs() < 1e-9 * lhs.abs().max(1.0));
    }

    #[test]
    fn backward_is_the_adjoint_of_forward() {
        // <g, conv(x, w)> is linear in x and in w, so its gradients satisfy
        // <gx, x> = <g, conv(x, w)> (without bias) and <gw, w> likewise.
        let spec = Conv2dSpec::new([2, 1], [1, 0], [1, 2], 2);
        let (xs, ws) = ([3, 4, 6, 5], [4, 2, 2, 2]);
        let d = Conv2dDims::new("t", &xs, &ws, None, spec).unwrap();
        let x = values(xs.iter().product(), 0.2);
        let w = values(ws.iter().product(), 0.9);
        let y = conv2d(&x, &w, None, &d).unwrap();
        let g = values(y.len(), 2.0);
        let (gx, gw, gb) = conv2d_backward(&g, &x, &w, &d, true).unwrap();
        let lhs = dot(&g, &y);
        assert!((dot(&gx, &x) - lhs).abs() < 1e-10);
        assert!((dot(&gw, &w) - lhs).abs() < 1e-10);
        let per_channel = d.oh * d.ow;
        for (co, &v) in gb.iter().enumerate() {
            let want: f64 = (0..d.n)
                .map(|n| {
                    let at = (n * d.c_out + co) * per_channel;
                    g[at..at + per_channel].iter().sum::<f64>()
                })
                .sum();
            assert!((v - want).abs() < 1e-12);
        }
        let (gx2, gw2, _) = conv2d_backward(&g, &x, &w, &d, false).unwrap();
        assert!(gx2.is_empty());
        assert_eq!(gw, gw2);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let spec = Conv2dSpec::default();
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 2, 3, 3], None, spec).is_err());
        assert!(Conv2dDims::new("t", &[1, 3, 2, 2], &[2, 3, 3, 3], None, spec).is_err());
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], Some(3), spec).is_err());
        let zero = Conv2dSpec::new([0, 1], [0, 0], [1, 1], 1);
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], None, zero).is_err());
        let huge = Conv2dSpec::new([1, 1], [usize::MAX, 0], [1, 1], 1);
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], None, huge).is_err());
        let d = Conv2dDims::new("t", &[1, 1, 3, 3], &[1, 1, 2, 2], None, spec).unwrap();
        assert!(conv2d(&[0.0f32; 8], &[0.0; 4], None, &d).is_err());
    }

    #[test]
    fn empty_batch_gives_empty_output_and_zero_gradients() {
        let d = Conv2dDims::new(
            "t",
            &[0, 2, 3, 3],
            &[4, 2, 2, 2],
            Some(4),
            Conv2dSpec::default(),
        )
        .unwrap();
        assert!(conv2d(&[], &[1.0f64; 32], Some(&[1.0; 4]), &d)
            .unwrap()
            .is_empty());
        let (gx, gw, gb) = conv2d_backward(&[], &[], &[1.0f64; 32], &d, true).unwrap();
        assert!(gx.is_empty());
        assert_eq!((gw, gb), (vec![0.0; 32], vec![0.0; 4]));
    }

    fn pool_spec(k: usize, s: usize, p: usize, ceil_mode: bool) -> Pool2dSpec {
        Pool2dSpec {
            kernel: [k, k],
            stride: [s, s],
            padding: [p, p],
            dilation: [1, 1],
            ceil_mode,
        }
    }

    #[test]
    fn max_pool_picks_maxima_and_routes_gradients() {
        let x: Vec<f64> = (0..16).map(|v| v as f64).collect();
        let d = Pool2dDims::new("t", &[1, 4, 4], pool_spec(2, 2, 0, false)).unwrap();
        let (y, idx) = max_pool2d(&x, &d).unwrap();
        assert_eq!(y, vec![5.0, 7.0, 13.0, 15.0]);
        assert_eq!(idx, vec![5, 7, 13, 15]);
        let gx = max_pool2d_backward(&[1.0, 2.0, 3.0, 4.0], &idx, 1, 16, 4).unwrap();
        assert_eq!(gx[5], 1.0);
        assert_eq!(gx[15], 4.0);
        assert_eq!(gx.iter().sum::<f64>(), 10.0);
        assert!(max_pool2d_backward(&[1.0], &[16], 1, 16, 1).is_err());
    }

    #[test]
    fn avg_pool_divisors_follow_pytorch() {
        let x = vec![1.0f64; 9];
        let d = Pool2dDims::new("t", &[1, 1, 3, 3], pool_spec(2, 2, 1, false)).unwrap();
        assert_eq!((d.oh, d.ow), (2, 2));
        assert_eq!(
            avg_pool2d(&x, &d, true, None).unwrap(),
            vec![0.25, 0.5, 0.5, 1.0]
        );
        assert_eq!(avg_pool2d(&x, &d, false, None).unwrap(), vec![1.0; 4]);
        assert_eq!(
            avg_pool2d(&x, &d, true, Some(1)).unwrap(),
            vec![1.0, 2.0, 2.0, 4.0]
        );
        // ceil_mode: a 2x2 input with kernel 3, stride 2 gives one window clipped to the input.
        let c = Pool2dDims::new("t", &[1, 1, 2, 2], pool_spec(3, 2, 0, true)).unwrap();
        assert_eq!((c.oh, c.ow), (1, 1));
        assert_eq!(
            avg_pool2d(&[1.0f64, 2.0, 3.0, 4.0], &c, true, None).unwrap(),
            vec![2.5]
        );
        let g = avg_pool2d_backward(&[4.0f64; 4], &d, true, None).unwrap();
        assert_eq!(g.iter().sum::<f64>(), 9.0);
    }

    #[test]
    fn bad_pools_are_errors() {
        assert!(Pool2dDims::new("t", &[1, 1, 4, 4], pool_spec(2, 2, 2, false)).is_err());
        assert!(Pool2dDims::new("t", &[1, 1, 1, 1], pool_spec(2, 2, 0, false)).is_err());
        assert!(Pool2dDims::new("t", &[1, 4, 4], pool_spec(0, 1, 0, false)).is_err());
        assert!(Pool2dDims::new("t", &[4, 4], pool_spec(2, 1, 0, false)).is_err());
        let d = Pool2dDims::new("t", &[1, 1, 4, 4], pool_spec(2, 2, 0, false)).unwrap();
        assert!(avg_pool2d(&[0.0f32; 16], &d, true, Some(0)).is_err());
        assert!(max_pool2d(&[0.0f32; 15], &d).is_err());
    }
}
