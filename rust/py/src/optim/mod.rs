//! Bindings of the optim kernels: fused in-place optimizer steps over lists of arrays, global
//! gradient norms, in-place scaling and clamping, and weight penalties.
//!
//! Every step function takes the parameters of one group as a list of arrays plus one list per
//! kind of state, all of the parameters' dtype and shapes. Parameters and state are updated in
//! place (they must be writeable and C-contiguous); gradients may be any layout (copied once
//! when not contiguous). Everything is checked before anything is written.

mod adam;
mod nadam_radam;
mod norms;
mod penalty;
mod rmsprop_adagrad;
mod sgd;

use std::borrow::Cow;

use ferrograd_core::optim::{self, Penalty};
use ferrograd_core::shape::fmt_shape;
use ferrograd_core::Real;
use numpy::{
    BorrowError, Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::arrays::{data, dtype_of, float_of, out, Float};
use crate::errors::{dtype_error, run, shape_error, value_error, BindResult};
use crate::with_float;

type Obj<'py> = Bound<'py, PyAny>;

/// The float type of the first parameter (float64 for an empty list: nothing to do).
fn group_float(func: &str, first: Option<&Obj<'_>>, arg: &str) -> BindResult<Float> {
    match first {
        Some(a) => float_of(func, &format!("{arg}[0]"), a),
        None => Ok(Float::F64),
    }
}

/// Checks that a state list has one entry per parameter.
fn check_count(func: &str, arg: &str, got: usize, want: usize) -> BindResult<()> {
    if got != want {
        return Err(value_error(format!(
            "{func}: {want} params but {got} {arg}"
        )));
    }
    Ok(())
}

/// `obj` as an array of `T`, or a `DTypeError` naming it.
fn typed<'a, 'py, T: Element>(
    func: &str,
    arg: &str,
    i: usize,
    obj: &'a Obj<'py>,
    want: Float,
) -> BindResult<&'a Bound<'py, PyArrayDyn<T>>> {
    match obj.cast::<PyArrayDyn<T>>() {
        Ok(a) => Ok(a),
        Err(_) => {
            let what = match float_of(func, arg, obj) {
                Ok(f) => f.name().to_string(),
                Err(_) => dtype_of(obj),
            };
            Err(dtype_error(format!(
                "{func}: {arg}[{i}] is {what} but params are {}",
                want.name()
            )))
        }
    }
}

/// Checks that `got` (the shape of `arg[i]`) equals the shape of `params[i]`.
fn check_shape(func: &str, arg: &str, i: usize, got: &[usize], want: &[usize]) -> BindResult<()> {
    if got != want {
        return Err(shape_error(format!(
            "{func}: {arg}[{i}] has shape {} but params[{i}] has shape {}",
            fmt_shape(got),
            fmt_shape(want)
        )));
    }
    Ok(())
}

/// Borrows every array of `objs` for writing; each must have the matching shape in `shapes`
/// (when given), be writeable, C-contiguous and distinct from every other array of the call.
pub(crate) fn borrow_mut_list<'py, T: Element>(
    func: &str,
    arg: &str,
    objs: &[Obj<'py>],
    shapes: Option<&[Vec<usize>]>,
    want: Float,
) -> BindResult<Vec<PyReadwriteArrayDyn<'py, T>>> {
    let mut out = Vec::with_capacity(objs.len());
    for (i, obj) in objs.iter().enumerate() {
        let a = typed::<T>(func, arg, i, obj, want)?;
        if let Some(shapes) = shapes {
            check_shape(func, arg, i, a.shape(), &shapes[i])?;
        }
        if !a.is_c_contiguous() {
            return Err(value_error(format!(
                "{func}: {arg}[{i}] must be C-contiguous to be updated in place"
            )));
        }
        let rw = a.try_readwrite().map_err(|e| {
            let why = if matches!(e, BorrowError::NotWriteable) {
                "is read-only"
            } else {
                "shares memory with another array of this call (every parameter, gradient and \
                 state buffer must be a distinct array)"
            };
            value_error(format!("{func}: {arg}[{i}] {why}"))
        })?;
        out.push(rw);
    }
    Ok(out)
}

/// Borrows every array of `objs` for reading, checking dtype and shape.
fn borrow_list<'py, T: Element>(
    func: &str,
    arg: &str,
    objs: &[Obj<'py>],
    shapes: &[Vec<usize>],
    want: Float,
) -> BindResult<Vec<PyReadonlyArrayDyn<'py, T>>> {
    let mut out = Vec::with_capacity(objs.len());
    for (i, obj) in objs.iter().enumerate() {
        let a = typed::<T>(func, arg, i, obj, want)?;
        check_shape(func, arg, i, a.shape(), &shapes[i])?;
        let ro = a.try_readonly().map_err(|_| {
            value_error(format!(
                "{func}: {arg}[{i}] shares memory with an array this call updates"
            ))
        })?;
        out.push(ro);
    }
    Ok(out)
}

/// Mutable slices of borrowed arrays (contiguity was checked when borrowing).
fn slices_mut<'a, T: Element>(
    func: &str,
    arg: &str,
    guards: &'a mut [PyReadwriteArrayDyn<'_, T>],
) -> BindResult<Vec<&'a mut [T]>> {
    guards
        .iter_mut()
        .enumerate()
        .map(|(i, g)| {
            g.as_slice_mut()
                .map_err(|_| value_error(format!("{func}: {arg}[{i}] must be C-contiguous")))
        })
        .collect()
}

/// Optional per-parameter state: a list of mutable slices or nothing.
fn opt_slices<'a, T: Element>(
    func: &str,
    arg: &str,
    guards: &'a mut Option<Vec<PyReadwriteArrayDyn<'_, T>>>,
    n: usize,
) -> BindResult<Vec<Option<&'a mut [T]>>> {
    match guards {
        Some(g) => Ok(slices_mut(func, arg, g)?.into_iter().map(Some).collect()),
        None => Ok((0..n).map(|_| None).collect()),
    }
}

/// The parameters (borrowed for writing) and their gradients (read, copied when strided).
struct Group<'py, T: Element> {
    params: Vec<PyReadwriteArrayDyn<'py, T>>,
    grads: Vec<PyReadonlyArrayDyn<'py, T>>,
    shapes: Vec<Vec<usize>>,
}

impl<'py, T: Element + Copy> Group<'py, T> {
    fn new(func: &str, params: &[Obj<'py>], grads: &[Obj<'py>], want: Float) -> BindResult<Self> {
        check_count(func, "grads", grads.len(), params.len())?;
        let params = borrow_mut_list::<T>(func, "params", params, None, want)?;
        let shapes: Vec<Vec<usize>> = params.iter().map(|p| p.shape().to_vec()).collect();
        let grads = borrow_list::<T>(func, "grads", grads, &shapes, want)?;
        Ok(Group {
            params,
            grads,
            shapes,
        })
    }

    fn state(
        &self,
        func: &str,
        arg: &str,
        objs: &[Obj<'py>],
        want: Float,
    ) -> BindResult<Vec<PyReadwriteArrayDyn<'py, T>>> {
        check_count(func, arg, objs.len(), self.params.len())?;
        borrow_mut_list::<T>(func, arg, objs, Some(&self.shapes), want)
    }

    fn opt_state(
        &self,
        func: &str,
        arg: &str,
        objs: Option<&[Obj<'py>]>,
        want: Float,
    ) -> BindResult<Option<Vec<PyReadwriteArrayDyn<'py, T>>>> {
        objs.map(|o| self.state(func, arg, o, want)).transpose()
    }
}

fn grad_data<'a, T: Element + Copy>(
    grads: &'a [PyReadonlyArrayDyn<'_, T>],
) -> BindResult<Vec<Cow<'a, [T]>>> {
    grads.iter().map(data).collect()
}

fn check_steps(func: &str, steps: &[f64], n: usize) -> BindResult<()> {
    check_count(func, "steps", steps.len(), n)
}

/// Splits `arrays` by float type (float32 ones, float64 ones), naming any other dtype.
fn by_float<'a, 'py>(
    func: &str,
    arrays: &'a [Obj<'py>],
) -> BindResult<(Vec<&'a Obj<'py>>, Vec<&'a Obj<'py>>)> {
    let (mut a32, mut a64) = (Vec::new(), Vec::new());
    for (i, a) in arrays.iter().enumerate() {
        match float_of(func, &format!("arrays[{i}]"), a)? {
            Float::F32 => a32.push(a),
            Float::F64 => a64.push(a),
        }
    }
    Ok((a32, a64))
}

/// `f` on the data of `arrays` (all of type `T`), with the GIL released.
fn reduce<T: Element + Real>(
    py: Python<'_>,
    arrays: &[&Obj<'_>],
    f: impl FnOnce(&[&[T]]) -> ferrograd_core::Result<f64> + Send,
) -> BindResult<f64> {
    let guards = arrays
        .iter()
        .map(|a| Ok(a.cast::<PyArrayDyn<T>>()?.try_readonly()?))
        .collect::<BindResult<Vec<_>>>()?;
    let owned: Vec<Cow<[T]>> = guards.iter().map(data).collect::<BindResult<_>>()?;
    let refs: Vec<&[T]> = owned.iter().map(|c| c.as_ref()).collect();
    run(py, || f(&refs))
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sgd::sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(adam::adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_adagrad::rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_adagrad::adagrad_step, m)?)?;
    m.add_function(wrap_pyfunction!(nadam_radam::nadam_step, m)?)?;
    m.add_function(wrap_pyfunction!(nadam_radam::radam_step, m)?)?;
    m.add_function(wrap_pyfunction!(norms::total_norm, m)?)?;
    m.add_function(wrap_pyfunction!(norms::scale_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(norms::clamp_inplace_py, m)?)?;
    m.add_function(wrap_pyfunction!(penalty::weight_penalty, m)?)?;
    m.add_function(wrap_pyfunction!(penalty::weight_penalty_backward, m)?)?;
    Ok(())
}
