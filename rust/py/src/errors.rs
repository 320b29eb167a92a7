//! The one bridge from kernel results to Python: release the GIL, run, map errors.
//!
//! [`BindError`] holds either a kernel error or a Python exception, and converts from both, so
//! a binding returning [`BindResult`] uses `?` on kernel results and on PyO3 calls alike; PyO3
//! raises it as the matching `ferrograd` exception.

use ferrograd_core::Error;
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;

pyo3::import_exception!(ferrograd.exceptions, ShapeError);
pyo3::import_exception!(ferrograd.exceptions, DTypeError);
pyo3::import_exception!(ferrograd.exceptions, ArgumentError);

/// Converts a kernel error to the matching `ferrograd` exception.
pub fn to_py(err: Error) -> PyErr {
    match err {
        Error::Shape(m) => ShapeError::new_err(m),
        Error::DType(m) => DTypeError::new_err(m),
        Error::Value(m) => ArgumentError::new_err(m),
        Error::Memory(m) => PyMemoryError::new_err(m),
    }
}

/// The error of a binding: a kernel error or a Python exception (see the module docs).
#[derive(Debug)]
pub struct BindError(PyErr);

/// What a binding returns; `?` works on `ferrograd_core::Result` and `PyResult` alike.
pub type BindResult<T> = Result<T, BindError>;

impl From<Error> for BindError {
    fn from(err: Error) -> Self {
        BindError(to_py(err))
    }
}

impl From<PyErr> for BindError {
    fn from(err: PyErr) -> Self {
        BindError(err)
    }
}

impl<'a, 'py> From<pyo3::CastError<'a, 'py>> for BindError {
    fn from(err: pyo3::CastError<'a, 'py>) -> Self {
        BindError(err.into())
    }
}

impl From<numpy::BorrowError> for BindError {
    fn from(err: numpy::BorrowError) -> Self {
        BindError(err.into())
    }
}

impl From<BindError> for PyErr {
    fn from(err: BindError) -> Self {
        err.0
    }
}

/// Runs `f` with the GIL released and turns its error into a Python exception.
pub fn run<T: Send, F: FnOnce() -> ferrograd_core::Result<T> + Send>(
    py: Python<'_>,
    f: F,
) -> BindResult<T> {
    Ok(py.detach(f)?)
}

/// A `DTypeError` with the given message.
pub fn dtype_error(msg: String) -> BindError {
    BindError(DTypeError::new_err(msg))
}

/// An `ArgumentError` (a `ValueError`) with the given message.
pub fn value_error(msg: String) -> BindError {
    BindError(ArgumentError::new_err(msg))
}

/// A `ShapeError` with the given message.
pub fn shape_error(msg: String) -> BindError {
    BindError(ShapeError::new_err(msg))
}
