//! Losses, each with its gradient next to it. Every loss computes per-element (or per-sample)
//! values in one fused pass and applies a [`Reduction`]; every `*_backward` takes the gradient
//! of the reduced loss (a scalar for mean/sum, an array for none) and returns d loss / d input.

mod bce;
mod class_input;
pub mod classification;
pub mod contrastive;
mod cross_entropy;
pub mod distribution;
pub(crate) mod fastmath;
pub mod margin;
mod nll;
pub mod regression;
pub(crate) mod simd;

use crate::error::Result;
use crate::real::Real;
use crate::reduce::sum_slice;
use crate::value_err;

/// How per-element losses are combined, as PyTorch's `reduction` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Keep every per-element loss.
    None,
    /// Average over the elements (or as the loss defines, e.g. weighted means).
    Mean,
    /// Add the elements.
    Sum,
    /// Sum divided by the batch size (first axis); used by `kl_div`.
    BatchMean,
}

impl Reduction {
    /// Parses PyTorch's spelling; `allow_batchmean` is true only for losses that accept it.
    pub fn parse(func: &str, s: &str, allow_batchmean: bool) -> Result<Self> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            "batchmean" if allow_batchmean => Ok(Reduction::BatchMean),
            _ => {
                let allowed = if allow_batchmean {
                    "'none', 'mean', 'sum' or 'batchmean'"
                } else {
                    "'none', 'mean' or 'sum'"
                };
                value_err!("{func}: reduction must be {allowed}, got '{s}'")
            }
        }
    }

    /// Reduces per-element losses: `None` keeps them, `Mean` divides the sum by their count,
    /// `BatchMean` by `batch`.
    pub fn apply<T: Real>(self, per: Vec<T>, batch: usize) -> Vec<T> {
        match self {
            Reduction::None => per,
            Reduction::Sum => vec![sum_slice(&per)],
            Reduction::Mean => vec![sum_slice(&per) / T::from_usize_(per.len())],
            Reduction::BatchMean => vec![sum_slice(&per) / T::from_usize_(batch)],
        }
    }

    /// The factor each element's gradient gets from the reduction (1/count for Mean).
    pub fn scale<T: Real>(self, count: usize, batch: usize) -> T {
        match self {
            Reduction::None | Reduction::Sum => T::one(),
            Reduction::Mean => T::one() / T::from_usize_(count),
            Reduction::BatchMean => T::one() / T::from_usize_(batch),
        }
    }
}

/// Checks that `grad_output` fits the reduction: one element for mean/sum, `n` for none.
pub fn check_grad_output(func: &str, r: Reduction, got: usize, n: usize) -> Result<()> {
    let want = if r == Reduction::None { n } else { 1 };
    if got != want {
        return crate::shape_err!(
            "{func}: grad_output has {got} elements, expected {want} for this reduction"
        );
    }
    Ok(())
}
