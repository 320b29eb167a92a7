//! Bindings of the activations part of `ferrograd.functional`.

use pyo3::prelude::*;

/// Registers this file's functions on the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
