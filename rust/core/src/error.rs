//! The one error type of the kernels. The bindings map each variant to a Python exception.

use std::fmt;

/// What went wrong, with a message that names the argument and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Shapes that do not fit together (maps to `ferrograd.ShapeError`).
    Shape(String),
    /// An unsupported element type (maps to `ferrograd.DTypeError`).
    DType(String),
    /// A value outside its domain, such as a label out of range (maps to
    /// `ferrograd.ArgumentError`, a `ValueError`).
    Value(String),
    /// Memory the allocator could not provide (maps to `MemoryError`); see [`crate::buf`].
    Memory(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(m) | Error::DType(m) | Error::Value(m) | Error::Memory(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for Error {}

/// Result of every fallible kernel.
pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for a shape error with a formatted message.
#[macro_export]
macro_rules! shape_err {
    ($($arg:tt)*) => { Err($crate::error::Error::Shape(format!($($arg)*))) };
}

/// Shorthand for a value error with a formatted message.
#[macro_export]
macro_rules! value_err {
    ($($arg:tt)*) => { Err($crate::error::Error::Value(format!($($arg)*))) };
}
