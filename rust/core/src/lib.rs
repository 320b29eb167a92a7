//! ferrograd-core: the numeric kernels of ferrograd, in plain Rust.
//!
//! Every kernel takes slices and shapes and returns new buffers or an [`Error`]; none touches
//! Python, and none panics on bad input. Each forward kernel has its backward next to it.
//!
//! ```
//! use ferrograd_core::elementwise::{binary, BinaryOp};
//! let (out, shape) = binary(BinaryOp::Add, &[1.0f64, 2.0], &[2], &[10.0], &[1]).unwrap();
//! assert_eq!((out, shape), (vec![11.0, 12.0], vec![2]));
//! ```

pub mod buf;
pub mod error;
pub mod parallel;
pub mod real;
pub mod reuse;
pub mod scratch;
pub mod shape;
pub mod stream;
pub mod team;

pub mod activation;
pub mod argmax;
pub mod conv;
pub mod elementwise;
pub mod gather;
pub mod gemm;
pub mod loss;
pub mod moments;
pub mod norm;
pub mod optim;
pub mod reduce;
pub mod rnn;
pub mod softmax;
pub mod step;

pub use error::{Error, Result};
pub use real::Real;
