//! Normalisation kernels, each with its backward next to it.
//!
//! * Batch norm ([`batch`]) sees its input as (N, C, S): `S` is the product of the spatial
//!   axes (1 for an (N, C) input). Statistics are per channel, over the `N * S` values of
//!   that channel.
//! * Layer norm ([`layer`]) sees its input as (R, D): each of the R rows of
//!   `D = prod(normalized_shape)` values is normalised on its own, then scaled and shifted
//!   elementwise.
//!
//! Statistics and parameter-gradient sums ([`sums`]) accumulate in f64 (for f32 inputs too), in
//! an order that depends only on the shapes, never on the number of threads, so results are
//! reproducible from run to run.

mod batch;
mod layer;
mod sums;

pub use batch::*;
pub use layer::*;

use crate::error::Result;
use crate::shape_err;

/// Checks that a per-channel (or per-feature) argument has `want` elements.
pub(crate) fn check_len<T>(
    op: &str,
    name: &str,
    v: Option<&[T]>,
    want: usize,
    what: &str,
) -> Result<()> {
    match v {
        Some(v) if v.len() != want => {
            shape_err!(
                "{op}: {name} has {} elements, but the input has {want} {what}",
                v.len()
            )
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
