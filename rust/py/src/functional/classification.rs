//! Bindings of the classification part of `ferrograd.functional`: `cross_entropy`,
//! `nll_loss`, `binary_cross_entropy`, `binary_cross_entropy_with_logits`, their gradients
//! with respect to `input`, and `cross_entropy_with_grad` (loss and gradient in one pass).
//!
//! Class-index targets arrive as int64 arrays (the Python layer converts other integer
//! dtypes); every float argument has the input's dtype.

use ferrograd_core::loss::classification::{
    self as core, ClassOptions, ClassTarget, FastMath, View,
};
use ferrograd_core::loss::Reduction;
use ferrograd_core::shape::fmt_shape;
use numpy::{Element, PyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrays::{borrow, borrow_opt, common_float, data, data_opt, dtype_of, out, shape, In};
use crate::errors::{dtype_error, run, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

/// True when `target` holds int64 class indices; a `DTypeError` for other non-float dtypes.
fn is_index_target(func: &str, target: &Arr<'_>) -> BindResult<bool> {
    if target.cast::<PyArrayDyn<i64>>().is_ok() {
        return Ok(true);
    }
    if target.cast::<PyArrayDyn<f32>>().is_ok() || target.cast::<PyArrayDyn<f64>>().is_ok() {
        return Ok(false);
    }
    Err(dtype_error(format!(
        "{func}: target must be an int64 array of class indices or a float array of class \
         probabilities, got {}",
        dtype_of(target)
    )))
}

/// The shape of an optional array (empty when absent).
fn shape_opt<T: Element>(a: &Option<In<'_, T>>) -> Vec<usize> {
    a.as_ref().map(shape).unwrap_or_default()
}

/// The arguments of a `cross_entropy`-like call after parsing.
struct CeArgs<'a, 'py> {
    func: &'a str,
    input: &'a Arr<'py>,
    target: &'a Arr<'py>,
    weight: Option<&'a Arr<'py>>,
    grad_output: Option<&'a Arr<'py>>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
}

/// Borrows the arrays of a cross-entropy call as `T` and runs `f` on them without the GIL.
fn ce_call<T, R, F>(py: Python<'_>, a: &CeArgs<'_, '_>, f: F) -> BindResult<R>
where
    T: FastMath + Element,
    R: Send,
    F: for<'v> FnOnce(
            Option<View<'v, T>>,
            View<'v, T>,
            ClassTarget<'v, T>,
            &ClassOptions<'v, T>,
        ) -> ferrograd_core::Result<R>
        + Send,
{
    let x = borrow::<T>(a.input)?;
    let w = borrow_opt::<T>(a.func, "weight", a.input, a.weight)?;
    let g = borrow_opt::<T>(a.func, "grad_output", a.input, a.grad_output)?;
    let index = is_index_target(a.func, a.target)?;
    let ti = if index {
        Some(borrow::<i64>(a.target)?)
    } else {
        None
    };
    let tp = if index {
        None
    } else {
        common_float(a.func, &[("input", a.input), ("target", a.target)])?;
        Some(borrow::<T>(a.target)?)
    };
    let (sx, sw, sg, sti, stp) = (
        shape(&x),
        shape_opt(&w),
        shape_opt(&g),
        shape_opt(&ti),
        shape_opt(&tp),
    );
    let (dx, dw, dg, dti, dtp) = (
        data(&x)?,
        data_opt(&w)?,
        data_opt(&g)?,
        data_opt(&ti)?,
        data_opt(&tp)?,
    );
    if dw.is_some() && sw.len() != 1 {
        return Err(crate::errors::shape_error(format!(
            "{}: weight must be 1-D with one value per class, got shape {}",
            a.func,
            fmt_shape(&sw)
        )));
    }
    let (ignore_index, reduction, label_smoothing) =
        (a.ignore_index, a.reduction, a.label_smoothing);
    run(py, || {
        let target = match (&dti, &dtp) {
            (Some(t), _) => ClassTarget::Index(View::new(t, &sti)),
            (_, Some(t)) => ClassTarget::Prob(View::new(t, &stp)),
            _ => {
                return Err(ferrograd_core::Error::Value(
                    "internal: the target was not borrowed".into(),
                ))
            }
        };
        let opts = ClassOptions {
            weight: dw.as_deref(),
            ignore_index,
            reduction,
            label_smoothing,
        };
        let gv = dg.as_deref().map(|d| View::new(d, &sg));
        f(gv, View::new(&dx, &sx), target, &opts)
    })
}

/// Cross-entropy of logits and class-index or class-probability targets.
#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0))]
pub fn cross_entropy<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    ignore_index: i64,
    reduction: &str,
    label_smoothing: f64,
) -> BindResult<Arr<'py>> {
    let func = "cross_entropy";
    let a = CeArgs {
        func,
        input,
        target,
        weight,
        grad_output: None,
        ignore_index,
        reduction: super::reduction(func, reduction, false)?,
        label_smoothing,
    };
    with_float!(func, [("input", input)], |T| {
        let (v, s) = ce_call::<T, _, _>(py, &a, |_, x, t, o| core::cross_entropy(x, t, o))?;
        out(py, v, &s)
    })
}

/// Gradient of `cross_entropy` with respect to `input`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0))]
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    ignore_index: i64,
    reduction: &str,
    label_smoothing: f64,
) -> BindResult<Arr<'py>> {
    let func = "cross_entropy_backward";
    let a = CeArgs {
        func,
        input,
        target,
        weight,
        grad_output: Some(grad_output),
        ignore_index,
        reduction: super::reduction(func, reduction, false)?,
        label_smoothing,
    };
    with_float!(func, [("input", input)], |T| {
        let v = ce_call::<T, _, _>(py, &a, |g, x, t, o| {
            core::cross_entropy_backward(g.ok_or_else(missing_grad)?, x, t, o)
        })?;
        out(py, v, &shape(&borrow::<T>(input)?))
    })
}

/// `cross_entropy` and its gradient for `grad_output` in one pass: `(loss, grad)`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0))]
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_with_grad<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    ignore_index: i64,
    reduction: &str,
    label_smoothing: f64,
) -> BindResult<Bound<'py, PyTuple>> {
    let func = "cross_entropy_with_grad";
    let a = CeArgs {
        func,
        input,
        target,
        weight,
        grad_output: Some(grad_output),
        ignore_index,
        reduction: super::reduction(func, reduction, false)?,
        label_smoothing,
    };
    with_float!(func, [("input", input)], |T| {
        let (v, s, g) = ce_call::<T, _, _>(py, &a, |g, x, t, o| {
            core::cross_entropy_with_grad(g.ok_or_else(missing_grad)?, x, t, o)
        })?;
        let sx = shape(&borrow::<T>(input)?);
        Ok(PyTuple::new(py, [out(py, v, &s)?, out(py, g, &sx)?])?)
    })
}

/// Borrows the arrays of an `nll_loss` call and runs `f` without the GIL.
fn nll_call<T, R, F>(py: Python<'_>, a: &CeArgs<'_, '_>, f: F) -> BindResult<R>
where
    T: Element + ferrograd_core::Real,
    R: Send,
    F: for<'v> FnOnce(
            Option<View<'v, T>>,
            View<'v, T>,
            View<'v, i64>,
            &ClassOptions<'v, T>,
        ) -> ferrograd_core::Result<R>
        + Send,
{
    if !is_index_target(a.func, a.target)? {
        return Err(dtype_error(format!(
            "{}: target must hold integer class indices, got a float array",
            a.func
        )));
    }
    let x = borrow::<T>(a.input)?;
    let t = borrow::<i64>(a.target)?;
    let w = borrow_opt::<T>(a.func, "weight", a.input, a.weight)?;
    let g = borrow_opt::<T>(a.func, "grad_output", a.input, a.grad_output)?;
    let (sx, st, sw, sg) = (shape(&x), shape(&t), shape_opt(&w), shape_opt(&g));
    let (dx, dt, dw, dg) = (data(&x)?, data(&t)?, data_opt(&w)?, data_opt(&g)?);
    if dw.is_some() && sw.len() != 1 {
        return Err(crate::errors::shape_error(format!(
            "{}: weight must be 1-D with one value per class, got shape {}",
            a.func,
            fmt_shape(&sw)
        )));
    }
    let (ignore_index, reduction) = (a.ignore_index, a.reduction);
    run(py, || {
        let opts = ClassOptions {
            weight: dw.as_deref(),
            ignore_index,
            reduction,
            label_smoothing: 0.0,
        };
        let gv = dg.as_deref().map(|d| View::new(d, &sg));
        f(gv, View::new(&dx, &sx), View::new(&dt, &st), &opts)
    })
}

/// Negative log-likelihood of log-probabilities and class-index targets.
#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, reduction="mean"))]
pub fn nll_loss<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    ignore_index: i64,
    reduction: &str,
) -> BindResult<Arr<'py>> {
    let func = "nll_loss";
    let a = CeArgs {
        func,
        input,
        target,
        weight,
        grad_output: None,
        ignore_index,
        reduction: super::reduction(func, reduction, false)?,
        label_smoothing: 0.0,
    };
    with_float!(func, [("input", input)], |T| {
        let (v, s) = nll_call::<T, _, _>(py, &a, |_, x, t, o| core::nll_loss(x, t, o))?;
        out(py, v, &s)
    })
}

/// Gradient of `nll_loss` with respect to `input`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, weight=None, ignore_index=-100, reduction="mean"))]
pub fn nll_loss_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    ignore_index: i64,
    reduction: &str,
) -> BindResult<Arr<'py>> {
    let func = "nll_loss_backward";
    let a = CeArgs {
        func,
        input,
        target,
        weight,
        grad_output: Some(grad_output),
        ignore_index,
        reduction: super::reduction(func, reduction, false)?,
        label_smoothing: 0.0,
    };
    with_float!(func, [("input", input)], |T| {
        let v = nll_call::<T, _, _>(py, &a, |g, x, t, o| {
            core::nll_loss_backward(g.ok_or_else(missing_grad)?, x, t, o)
        })?;
        out(py, v, &shape(&borrow::<T>(input)?))
    })
}

/// The arguments of a binary loss call after parsing.
struct BinArgs<'a, 'py> {
    func: &'a str,
    input: &'a Arr<'py>,
    target: &'a Arr<'py>,
    weight: Option<&'a Arr<'py>>,
    pos_weight: Option<&'a Arr<'py>>,
    grad_output: Option<&'a Arr<'py>>,
}

type BinViews<'v, T> = (
    Option<View<'v, T>>,
    View<'v, T>,
    View<'v, T>,
    Option<View<'v, T>>,
    Option<View<'v, T>>,
);

/// Borrows the arrays of a binary loss call and runs `f` without the GIL.
fn bin_call<T, R, F>(py: Python<'_>, a: &BinArgs<'_, '_>, f: F) -> BindResult<R>
where
    T: Element + ferrograd_core::Real,
    R: Send,
    F: for<'v> FnOnce(BinViews<'v, T>) -> ferrograd_core::Result<R> + Send,
{
    common_float(a.func, &[("input", a.input), ("target", a.target)])?;
    let x = borrow::<T>(a.input)?;
    let t = borrow::<T>(a.target)?;
    let w = borrow_opt::<T>(a.func, "weight", a.input, a.weight)?;
    let pw = borrow_opt::<T>(a.func, "pos_weight", a.input, a.pos_weight)?;
    let g = borrow_opt::<T>(a.func, "grad_output", a.input, a.grad_output)?;
    let (sx, st, sw, spw, sg) = (
        shape(&x),
        shape(&t),
        shape_opt(&w),
        shape_opt(&pw),
        shape_opt(&g),
    );
    let (dx, dt, dw, dpw, dg) = (
        data(&x)?,
        data(&t)?,
        data_opt(&w)?,
        data_opt(&pw)?,
        data_opt(&g)?,
    );
    run(py, || {
        f((
            dg.as_deref().map(|d| View::new(d, &sg)),
            View::new(&dx, &sx),
            View::new(&dt, &st),
            dw.as_deref().map(|d| View::new(d, &sw)),
            dpw.as_deref().map(|d| View::new(d, &spw)),
        ))
    })
}

/// Binary cross-entropy of probabilities.
#[pyfunction]
#[pyo3(signature = (input, target, weight=None, reduction="mean"))]
pub fn binary_cross_entropy<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    reduction: &str,
) -> BindResult<Arr<'py>> {
    let func = "binary_cross_entropy";
    let r = super::reduction(func, reduction, false)?;
    let a = BinArgs {
        func,
        input,
        target,
        weight,
        pos_weight: None,
        grad_output: None,
    };
    with_float!(func, [("input", input)], |T| {
        let (v, s) = bin_call::<T, _, _>(py, &a, |(_, x, t, w, _)| {
            core::binary_cross_entropy(x, t, w, r)
        })?;
        out(py, v, &s)
    })
}

/// Gradient of `binary_cross_entropy` with respect to `input`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, weight=None, reduction="mean"))]
pub fn binary_cross_entropy_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    reduction: &str,
) -> BindResult<Arr<'py>> {
    let func = "binary_cross_entropy_backward";
    let r = super::reduction(func, reduction, false)?;
    let a = BinArgs {
        func,
        input,
        target,
        weight,
        pos_weight: None,
        grad_output: Some(grad_output),
    };
    with_float!(func, [("input", input)], |T| {
        let v = bin_call::<T, _, _>(py, &a, |(g, x, t, w, _)| {
            core::binary_cross_entropy_backward(g.ok_or_else(missing_grad)?, x, t, w, r)
        })?;
        out(py, v, &shape(&borrow::<T>(input)?))
    })
}

/// Binary cross-entropy of logits (the stable log-sum-exp form), with `pos_weight`.
#[pyfunction]
#[pyo3(signature = (input, target, weight=None, reduction="mean", pos_weight=None))]
pub fn binary_cross_entropy_with_logits<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    reduction: &str,
    pos_weight: Option<&Arr<'py>>,
) -> BindResult<Arr<'py>> {
    let func = "binary_cross_entropy_with_logits";
    let r = super::reduction(func, reduction, false)?;
    let a = BinArgs {
        func,
        input,
        target,
        weight,
        pos_weight,
        grad_output: None,
    };
    with_float!(func, [("input", input)], |T| {
        let (v, s) = bin_call::<T, _, _>(py, &a, |(_, x, t, w, pw)| {
            core::binary_cross_entropy_with_logits(x, t, w, pw, r)
        })?;
        out(py, v, &s)
    })
}

/// Gradient of `binary_cross_entropy_with_logits` with respect to `input`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, weight=None, reduction="mean", pos_weight=None))]
pub fn binary_cross_entropy_with_logits_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    reduction: &str,
    pos_weight: Option<&Arr<'py>>,
) -> BindResult<Arr<'py>> {
    let func = "binary_cross_entropy_with_logits_backward";
    let r = super::reduction(func, reduction, false)?;
    let a = BinArgs {
        func,
        input,
        target,
        weight,
        pos_weight,
        grad_output: Some(grad_output),
    };
    with_float!(func, [("input", input)], |T| {
        let v = bin_call::<T, _, _>(py, &a, |(g, x, t, w, pw)| {
            let g = g.ok_or_else(missing_grad)?;
            core::binary_cross_entropy_with_logits_backward(g, x, t, w, pw, r)
        })?;
        out(py, v, &shape(&borrow::<T>(input)?))
    })
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(cross_entropy_backward, m)?)?;
    m.add_function(wrap_pyfunction!(cross_entropy_with_grad, m)?)?;
    m.add_function(wrap_pyfunction!(nll_loss, m)?)?;
    m.add_function(wrap_pyfunction!(nll_loss_backward, m)?)?;
    m.add_function(wrap_pyfunction!(binary_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(binary_cross_entropy_backward, m)?)?;
    m.add_function(wrap_pyfunction!(binary_cross_entropy_with_logits, m)?)?;
    m.add_function(wrap_pyfunction!(
        binary_cross_entropy_with_logits_backward,
        m
    )?)?;
    Ok(())
}

/// The error for a `grad_output` that every backward passes (never reached: kept so that no
/// path from Python can panic).
fn missing_grad() -> ferrograd_core::Error {
    ferrograd_core::Error::Value("internal: grad_output was not passed".into())
}
