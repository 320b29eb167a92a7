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

mod backward;
mod dims;
mod forward;
mod im2col;
mod pooling;

pub use backward::conv2d_backward;
pub use dims::{Conv2dDims, Conv2dSpec};
pub use forward::conv2d;
pub use pooling::{
    avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, Pool2dDims, Pool2dSpec,
};

fn fmt_pair(p: [usize; 2]) -> String {
    format!("({}, {})", p[0], p[1])
}

/// A smooth test signal of `len` values.
#[cfg(test)]
fn values(len: usize, seed: f64) -> Vec<f64> {
    (0..len).map(|i| ((i as f64) * 0.37 + seed).sin()).collect()
}

#[cfg(test)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
