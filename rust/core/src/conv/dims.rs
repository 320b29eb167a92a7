//! The shapes of a 2-D convolution: its settings, the checked sizes of one call, and how the
//! batch is cut into blocks.

use super::fmt_pair;
use crate::error::Result;
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

impl Conv2dDims {
    /// Checks the shapes of `input`, `weight` and (when given) the bias against `spec`, and
    /// computes the output size. `func` names the caller in error messages.
    pub fn new(
        func: &str,
        input: &[usize],
        weight: &[usize],
        bias: Option<&[usize]>,
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
        if let Some(bias) = bias {
            let [len] = *bias else {
                return shape_err!(
                    "{func}: bias has shape {}, expected (C_out,)",
                    fmt_shape(bias)
                );
            };
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

    /// Checks that a gradient of the output has the output's shape.
    pub fn check_grad_output(&self, func: &str, grad_shape: &[usize]) -> Result<()> {
        let want = self.out_shape();
        if grad_shape != want {
            return shape_err!(
                "{func}: grad_output has shape {}, expected the output shape {}",
                fmt_shape(grad_shape),
                fmt_shape(&want)
            );
        }
        Ok(())
    }

    /// Elements of one item's column matrix (`C_in * kH * kW * H_out * W_out`).
    pub fn col_len(&self) -> usize {
        self.c_in * self.kh * self.kw * self.oh * self.ow
    }

    pub(super) fn in_item(&self) -> usize {
        self.c_in * self.h * self.w
    }
    pub(super) fn out_item(&self) -> usize {
        self.c_out * self.oh * self.ow
    }
    pub(super) fn k_group(&self) -> usize {
        self.c_in / self.spec.groups * self.kh * self.kw
    }
    pub(super) fn weight_len(&self) -> usize {
        self.c_out * self.k_group()
    }

    pub(super) fn check_lens(
        &self,
        func: &str,
        x: usize,
        w: usize,
        bias: Option<usize>,
    ) -> Result<()> {
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
    pub(super) fn plan(&self) -> (usize, bool) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::conv2d;

    #[test]
    fn bad_shapes_are_errors() {
        let spec = Conv2dSpec::default();
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 2, 3, 3], None, spec).is_err());
        assert!(Conv2dDims::new("t", &[1, 3, 2, 2], &[2, 3, 3, 3], None, spec).is_err());
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], Some(&[3]), spec).is_err());
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], Some(&[2, 1]), spec).is_err());
        let zero = Conv2dSpec::new([0, 1], [0, 0], [1, 1], 1);
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], None, zero).is_err());
        let huge = Conv2dSpec::new([1, 1], [usize::MAX, 0], [1, 1], 1);
        assert!(Conv2dDims::new("t", &[1, 3, 4, 4], &[2, 3, 3, 3], None, huge).is_err());
        let d = Conv2dDims::new("t", &[1, 1, 3, 3], &[1, 1, 2, 2], None, spec).unwrap();
        assert!(conv2d(&[0.0f32; 8], &[0.0; 4], None, &d).is_err());
        assert!(d.check_grad_output("t", &[1, 1, 2, 2]).is_ok());
        assert!(d.check_grad_output("t", &[1, 1, 3, 3]).is_err());
    }
}
