//! Bindings of `ferrograd.functional`: activations and losses with their gradients.

use ferrograd_core::loss::Reduction;
use pyo3::prelude::*;

use crate::errors::BindResult;

mod activations;
mod classification;
mod contrastive;
mod distribution;
mod margin;
mod regression;

/// Parses a `reduction` argument (a `ValueError` names the allowed values).
pub fn reduction(func: &str, s: &str, allow_batchmean: bool) -> BindResult<Reduction> {
    Ok(Reduction::parse(func, s, allow_batchmean)?)
}

/// Registers every functional binding on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    activations::register(m)?;
    classification::register(m)?;
    contrastive::register(m)?;
    distribution::register(m)?;
    margin::register(m)?;
    regression::register(m)?;
    Ok(())
}
