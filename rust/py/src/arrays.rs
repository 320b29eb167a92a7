//! Borrowing NumPy arrays as slices, returning results as NumPy arrays, and choosing the
//! element type.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{
    Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use std::borrow::Cow;

use crate::errors::{dtype_error, shape_error, BindResult};
use ferrograd_core::buf;
use ferrograd_core::gemm::Strided;
use ferrograd_core::shape::{checked_numel, fmt_shape};

/// A read-only float array borrowed from Python.
pub type In<'py, T> = PyReadonlyArrayDyn<'py, T>;

/// The data of `a` in C order: borrowed when contiguous, copied once otherwise (a copy that
/// does not fit in memory, such as of a huge broadcast view, is a `MemoryError`).
pub fn data<'a, T: Element + Copy>(a: &'a In<'_, T>) -> BindResult<Cow<'a, [T]>> {
    // `as_slice` also accepts Fortran-ordered arrays, whose memory is not in C order.
    if a.is_c_contiguous() {
        if let Ok(s) = a.as_slice() {
            return Ok(Cow::Borrowed(s));
        }
    }
    let n = a.len();
    let v = buf::collect(n, a.as_array().iter().copied())?;
    Ok(Cow::Owned(v))
}

/// A 2-D array read in place through its strides, so a transpose or a column slice needs no
/// copy; `None` for other ranks and for negative or misaligned strides (the caller copies).
pub fn matrix_view<'a, T: Element>(a: &'a In<'_, T>) -> Option<Strided<'a, T>> {
    let (sh, st) = (a.shape(), a.strides());
    let size = std::mem::size_of::<T>() as isize;
    if sh.len() != 2 || st.iter().any(|&s| s < 0 || s % size != 0) {
        return None;
    }
    let (rs, cs) = ((st[0] / size) as usize, (st[1] / size) as usize);
    let len = if sh[0] == 0 || sh[1] == 0 {
        return Some(Strided { data: &[], rs, cs });
    } else {
        (sh[0] - 1) * rs + (sh[1] - 1) * cs + 1
    };
    // SAFETY: NumPy addresses element (i, j) at `data + i * rs + j * cs` for every index in
    // the shape, so these `len` elements are in the array's memory; the read-only borrow
    // keeps it alive and free of writers for the lifetime of the view.
    let data = unsafe { std::slice::from_raw_parts(a.data() as *const T, len) };
    Some(Strided { data, rs, cs })
}

/// The shape of `a`.
pub fn shape<T: Element>(a: &In<'_, T>) -> Vec<usize> {
    a.shape().to_vec()
}

/// Wraps a result buffer as a NumPy array of `shape` without copying.
pub fn out<'py, T: Element>(
    py: Python<'py>,
    v: Vec<T>,
    shape: &[usize],
) -> BindResult<Bound<'py, PyAny>> {
    let arr = ArrayD::from_shape_vec(IxDyn(shape), v)
        .map_err(|e| shape_error(format!("internal: result does not fit its shape: {e}")))?;
    Ok(arr.into_pyarray(py).into_any())
}

/// Checks, before anything is copied or computed, that arrays of each of `shapes` can exist:
/// sizes no array can have are a `ShapeError` (NumPy's "array is too big"). Memory that is
/// not there is found where it is allocated (`ferrograd_core::buf`), as a `MemoryError`.
pub fn ensure_room<T>(func: &str, shapes: &[&[usize]]) -> BindResult<()> {
    for s in shapes {
        checked_numel(s)
            .filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<T>())
            .ok_or_else(|| {
                shape_error(format!(
                    "{func}: an array of shape {} is too big",
                    fmt_shape(s)
                ))
            })?;
    }
    Ok(())
}

/// Borrows the optional array argument `name` as `T` after checking that it has the float type
/// of `input`.
pub fn borrow_opt<'py, T: Element>(
    func: &str,
    name: &str,
    input: &Bound<'py, PyAny>,
    obj: Option<&Bound<'py, PyAny>>,
) -> BindResult<Option<In<'py, T>>> {
    obj.map(|o| {
        common_float(func, &[("input", input), (name, o)])?;
        borrow::<T>(o)
    })
    .transpose()
}

/// The data of an optional array (see [`data`]).
pub fn data_opt<'a, T: Element + Copy>(
    a: &'a Option<In<'_, T>>,
) -> BindResult<Option<Cow<'a, [T]>>> {
    a.as_ref().map(data).transpose()
}

/// The dtype of `obj` as NumPy names it (its type's name when it has no dtype), for messages.
pub fn dtype_of(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| obj.get_type().to_string())
}

/// Borrows `obj` as an array of `T`, or a `DTypeError` saying that `arg` must be `want`.
pub fn borrow_as<'py, T: Element>(
    func: &str,
    arg: &str,
    want: &str,
    obj: &Bound<'py, PyAny>,
) -> BindResult<In<'py, T>> {
    borrow::<T>(obj).map_err(|_| {
        dtype_error(format!(
            "{func}: {arg} must be {want}, got {}",
            dtype_of(obj)
        ))
    })
}

/// Which float type an array holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Float {
    F32,
    F64,
}

/// The float type of `obj` (a NumPy array), or a `DTypeError` naming `arg` and `func`.
pub fn float_of(func: &str, arg: &str, obj: &Bound<'_, PyAny>) -> BindResult<Float> {
    if obj.cast::<PyArrayDyn<f32>>().is_ok() {
        Ok(Float::F32)
    } else if obj.cast::<PyArrayDyn<f64>>().is_ok() {
        Ok(Float::F64)
    } else {
        Err(dtype_error(format!(
            "{func}: {arg} must be a float32 or float64 array, got {}",
            dtype_of(obj)
        )))
    }
}

/// The float type shared by several arguments; a mismatch is a `DTypeError`.
pub fn common_float(func: &str, args: &[(&str, &Bound<'_, PyAny>)]) -> BindResult<Float> {
    let first = float_of(func, args[0].0, args[0].1)?;
    for (name, obj) in &args[1..] {
        let f = float_of(func, name, obj)?;
        if f != first {
            return Err(dtype_error(format!(
                "{func}: {name} is {} but {} is {}",
                f.name(),
                args[0].0,
                first.name()
            )));
        }
    }
    Ok(first)
}

impl Float {
    /// The NumPy name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Float::F32 => "float32",
            Float::F64 => "float64",
        }
    }
}

/// Borrows `obj` as a read-only array of `T` (the caller has checked the dtype).
pub fn borrow<'py, T: Element>(obj: &Bound<'py, PyAny>) -> BindResult<In<'py, T>> {
    let arr = obj.cast::<PyArrayDyn<T>>()?;
    Ok(arr.try_readonly()?)
}

/// Calls a generic body with `T` bound to the float type of the arguments (the NumPy arrays
/// given as `(name, object)` pairs, which must share it), or to a [`Float`] already known
/// (`with_float!(float: f, |T| { ... })`).
#[macro_export]
macro_rules! with_float {
    (float: $float:expr, |$T:ident| $body:block) => {{
        match $float {
            $crate::arrays::Float::F32 => {
                type $T = f32;
                $body
            }
            $crate::arrays::Float::F64 => {
                type $T = f64;
                $body
            }
        }
    }};
    ($func:expr, [$(($name:expr, $obj:expr)),+ $(,)?], |$T:ident| $body:block) => {{
        match $crate::arrays::common_float($func, &[$(($name, $obj)),+])? {
            $crate::arrays::Float::F32 => {
                type $T = f32;
                $body
            }
            $crate::arrays::Float::F64 => {
                type $T = f64;
                $body
            }
        }
    }};
}
