//! The element types the kernels work on: `f32` and `f64`.

use crate::buf::Zeroable;
use crate::runtime::scratch::Scratch;
use num_traits::Float;
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// A floating-point element type (`f32` or `f64`).
pub trait Real:
    Float
    + Sum
    + Debug
    + Display
    + Send
    + Sync
    + Default
    + Scratch
    + Zeroable
    + num_traits::FromPrimitive
{
    /// Converts a constant written as `f64`.
    #[inline(always)]
    fn c(v: f64) -> Self {
        <Self as num_traits::NumCast>::from(v).unwrap()
    }
    /// Converts a count or index.
    #[inline(always)]
    fn from_usize_(v: usize) -> Self {
        <Self as num_traits::NumCast>::from(v).unwrap()
    }
}

impl Real for f32 {}
impl Real for f64 {}
