//! Bindings of the norm kernels: batch norm (training and evaluation), layer norm and
//! embedding, each with its backward (behind `ferrograd.functional.batch_norm`, `layer_norm`
//! and `embedding`).
//!
//! Every float argument has the input's dtype (float32 or float64); embedding indices arrive
//! as int64 arrays (the Python layer converts other integer dtypes).

use ferrograd_core::norm as core;
use ferrograd_core::shape::{check_grad_shape, fmt_shape};
use numpy::Element;
use pyo3::prelude::*;

use crate::arrays::{borrow, borrow_as, borrow_opt, data, data_opt, ensure_room, out, shape, In};
use crate::errors::{run, shape_error, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;
type Grads<'py> = (Arr<'py>, Option<Arr<'py>>, Option<Arr<'py>>);
/// `(output, mean, invstd, new_running_mean, new_running_var)` of a training batch norm.
type TrainOut<'py> = (
    Arr<'py>,
    Arr<'py>,
    Arr<'py>,
    Option<Arr<'py>>,
    Option<Arr<'py>>,
);

/// Checks that an optional per-channel argument is 1-D.
fn check_1d<T: Element>(func: &str, name: &str, a: &Option<In<'_, T>>) -> BindResult<()> {
    match a.as_ref().map(shape) {
        Some(s) if s.len() != 1 => Err(shape_error(format!(
            "{func}: {name} must be 1-D, got shape {}",
            fmt_shape(&s)
        ))),
        _ => Ok(()),
    }
}

/// Training-mode batch norm over (N, C, *spatial); returns `(output, mean, invstd,
/// new_running_mean, new_running_var)` (the last two None without running statistics).
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (input, weight=None, bias=None, running_mean=None, running_var=None,
                    momentum=0.1, eps=1e-5))]
pub fn batch_norm_train<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    bias: Option<&Arr<'py>>,
    running_mean: Option<&Arr<'py>>,
    running_var: Option<&Arr<'py>>,
    momentum: f64,
    eps: f64,
) -> BindResult<TrainOut<'py>> {
    let func = "batch_norm";
    if running_mean.is_some() != running_var.is_some() {
        return Err(shape_error(format!(
            "{func}: give both running_mean and running_var, or neither"
        )));
    }
    with_float!(func, [("input", input)], |T| {
        let x = borrow::<T>(input)?;
        let w = borrow_opt::<T>(func, "weight", input, weight)?;
        let b = borrow_opt::<T>(func, "bias", input, bias)?;
        let rm = borrow_opt::<T>(func, "running_mean", input, running_mean)?;
        let rv = borrow_opt::<T>(func, "running_var", input, running_var)?;
        for (name, a) in [
            ("weight", &w),
            ("bias", &b),
            ("running_mean", &rm),
            ("running_var", &rv),
        ] {
            check_1d(func, name, a)?;
        }
        let sx = shape(&x);
        let (dx, dw, db, drm, drv) = (
            data(&x)?,
            data_opt(&w)?,
            data_opt(&b)?,
            data_opt(&rm)?,
            data_opt(&rv)?,
        );
        let running = drm.as_deref().zip(drv.as_deref());
        let r = run(py, || {
            core::batch_norm_train(
                &dx,
                &sx,
                dw.as_deref(),
                db.as_deref(),
                running,
                momentum,
                eps,
            )
        })?;
        let c = [r.mean.len()];
        let new_rm = r.running_mean.map(|v| out(py, v, &c)).transpose()?;
        let new_rv = r.running_var.map(|v| out(py, v, &c)).transpose()?;
        Ok((
            out(py, r.output, &sx)?,
            out(py, r.mean, &c)?,
            out(py, r.invstd, &c)?,
            new_rm,
            new_rv,
        ))
    })
}

/// Evaluation-mode batch norm with running statistics; returns `(output, invstd)`.
#[pyfunction]
#[pyo3(signature = (input, running_mean, running_var, weight=None, bias=None, eps=1e-5))]
pub fn batch_norm_eval<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    running_mean: &Arr<'py>,
    running_var: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    bias: Option<&Arr<'py>>,
    eps: f64,
) -> BindResult<(Arr<'py>, Arr<'py>)> {
    let func = "batch_norm";
    with_float!(
        func,
        [
            ("input", input),
            ("running_mean", running_mean),
            ("running_var", running_var)
        ],
        |T| {
            let x = borrow::<T>(input)?;
            let rm = Some(borrow::<T>(running_mean)?);
            let rv = Some(borrow::<T>(running_var)?);
            let w = borrow_opt::<T>(func, "weight", input, weight)?;
            let b = borrow_opt::<T>(func, "bias", input, bias)?;
            for (name, a) in [
                ("weight", &w),
                ("bias", &b),
                ("running_mean", &rm),
                ("running_var", &rv),
            ] {
                check_1d(func, name, a)?;
            }
            let sx = shape(&x);
            let (dx, dw, db) = (data(&x)?, data_opt(&w)?, data_opt(&b)?);
            let (drm, drv) = (data_opt(&rm)?, data_opt(&rv)?);
            let (y, invstd) = run(py, || {
                core::batch_norm_eval(
                    &dx,
                    &sx,
                    drm.as_deref().unwrap_or_default(),
                    drv.as_deref().unwrap_or_default(),
                    dw.as_deref(),
                    db.as_deref(),
                    eps,
                )
            })?;
            let c = [invstd.len()];
            Ok((out(py, y, &sx)?, out(py, invstd, &c)?))
        }
    )
}

/// Gradient of batch norm from `mean` and `invstd` per channel (the saved batch statistics
/// when `training`, else the running mean and the invstd of `batch_norm_eval`); returns
/// `(grad_input, grad_weight, grad_bias)`, the last two None unless `param_grads`.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (grad_output, input, mean, invstd, weight=None, training=true,
                    param_grads=true))]
pub fn batch_norm_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    mean: &Arr<'py>,
    invstd: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    training: bool,
    param_grads: bool,
) -> BindResult<Grads<'py>> {
    let func = "batch_norm_backward";
    with_float!(
        func,
        [
            ("input", input),
            ("grad_output", grad_output),
            ("mean", mean),
            ("invstd", invstd)
        ],
        |T| {
            let (x, g) = (borrow::<T>(input)?, borrow::<T>(grad_output)?);
            let (m, k) = (borrow::<T>(mean)?, borrow::<T>(invstd)?);
            let w = borrow_opt::<T>(func, "weight", input, weight)?;
            check_1d(func, "weight", &w)?;
            let (sx, sg) = (shape(&x), shape(&g));
            let (dx, dg, dm, dk, dw) = (data(&x)?, data(&g)?, data(&m)?, data(&k)?, data_opt(&w)?);
            let r = run(py, || {
                core::batch_norm_backward(
                    &dg,
                    &sg,
                    &dx,
                    &sx,
                    (&dm, &dk),
                    dw.as_deref(),
                    training,
                    param_grads,
                )
            })?;
            let c = [dm.len()];
            let gw = r.weight.map(|v| out(py, v, &c)).transpose()?;
            let gb = r.bias.map(|v| out(py, v, &c)).transpose()?;
            Ok((out(py, r.input, &sx)?, gw, gb))
        }
    )
}

/// Layer norm over the trailing `normalized_shape` axes; returns `(output, mean, invstd)`
/// with the statistics of shape `input.shape[:-len(normalized_shape)]`.
#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight=None, bias=None, eps=1e-5))]
pub fn layer_norm<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    normalized_shape: Vec<usize>,
    weight: Option<&Arr<'py>>,
    bias: Option<&Arr<'py>>,
    eps: f64,
) -> BindResult<(Arr<'py>, Arr<'py>, Arr<'py>)> {
    let func = "layer_norm";
    with_float!(func, [("input", input)], |T| {
        let x = borrow::<T>(input)?;
        let w = borrow_opt::<T>(func, "weight", input, weight)?;
        let b = borrow_opt::<T>(func, "bias", input, bias)?;
        let sx = shape(&x);
        let (rows, d, lead) = core::layer_split(func, &sx, &normalized_shape)?;
        core::check_affine_shape(
            func,
            "weight",
            w.as_ref().map(shape).as_deref(),
            &normalized_shape,
        )?;
        core::check_affine_shape(
            func,
            "bias",
            b.as_ref().map(shape).as_deref(),
            &normalized_shape,
        )?;
        let (dx, dw, db) = (data(&x)?, data_opt(&w)?, data_opt(&b)?);
        let r = run(py, || {
            core::layer_norm(&dx, rows, d, dw.as_deref(), db.as_deref(), eps)
        })?;
        Ok((
            out(py, r.output, &sx)?,
            out(py, r.mean, &lead)?,
            out(py, r.invstd, &lead)?,
        ))
    })
}

/// Gradient of layer norm from its saved `mean` and `invstd`; returns `(grad_input,
/// grad_weight, grad_bias)`, the last two None unless `param_grads`.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (grad_output, input, normalized_shape, mean, invstd, weight=None,
                    param_grads=true))]
pub fn layer_norm_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    normalized_shape: Vec<usize>,
    mean: &Arr<'py>,
    invstd: &Arr<'py>,
    weight: Option<&Arr<'py>>,
    param_grads: bool,
) -> BindResult<Grads<'py>> {
    let func = "layer_norm_backward";
    with_float!(
        func,
        [
            ("input", input),
            ("grad_output", grad_output),
            ("mean", mean),
            ("invstd", invstd)
        ],
        |T| {
            let (x, g) = (borrow::<T>(input)?, borrow::<T>(grad_output)?);
            let (m, k) = (borrow::<T>(mean)?, borrow::<T>(invstd)?);
            let w = borrow_opt::<T>(func, "weight", input, weight)?;
            let (sx, sg) = (shape(&x), shape(&g));
            check_grad_shape(func, &sg, &sx)?;
            let (rows, d, _) = core::layer_split(func, &sx, &normalized_shape)?;
            core::check_affine_shape(
                func,
                "weight",
                w.as_ref().map(shape).as_deref(),
                &normalized_shape,
            )?;
            let (dx, dg, dm, dk, dw) = (data(&x)?, data(&g)?, data(&m)?, data(&k)?, data_opt(&w)?);
            let r = run(py, || {
                core::layer_norm_backward(&dg, &dx, rows, d, &dm, &dk, dw.as_deref(), param_grads)
            })?;
            let gw = r
                .weight
                .map(|v| out(py, v, &normalized_shape))
                .transpose()?;
            let gb = r.bias.map(|v| out(py, v, &normalized_shape)).transpose()?;
            Ok((out(py, r.input, &sx)?, gw, gb))
        }
    )
}

/// (num_embeddings, embedding_dim) of a 2-D table.
fn table_dims(func: &str, sw: &[usize]) -> BindResult<(usize, usize)> {
    match sw {
        [v, d] => Ok((*v, *d)),
        _ => Err(shape_error(format!(
            "{func}: weight must be 2-D (num_embeddings, embedding_dim), got shape {}",
            fmt_shape(sw)
        ))),
    }
}

/// Embedding lookup: rows of `weight` at the int64 indices `input`; the output has shape
/// `input.shape + (embedding_dim,)`.
#[pyfunction]
pub fn embedding<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    weight: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    let func = "embedding";
    let idx = borrow_as::<i64>(func, "input", "an int64 array of indices", input)?;
    with_float!(func, [("weight", weight)], |T| {
        let w = borrow::<T>(weight)?;
        let (si, sw) = (shape(&idx), shape(&w));
        let (num, dim) = table_dims(func, &sw)?;
        let so: Vec<usize> = si.iter().copied().chain([dim]).collect();
        ensure_room::<T>(func, &[&so])?;
        let (di, dw) = (data(&idx)?, data(&w)?);
        let v = run(py, || {
            ferrograd_core::embedding::embedding(&di, &si, &dw, num, dim)
        })?;
        out(py, v, &so)
    })
}

/// Gradient of `embedding` with respect to the (num_embeddings, embedding_dim) table: rows of
/// `grad_output` added at their indices; the `padding_idx` row gets none.
#[pyfunction]
#[pyo3(signature = (grad_output, input, num_embeddings, padding_idx=None))]
pub fn embedding_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    num_embeddings: usize,
    padding_idx: Option<usize>,
) -> BindResult<Arr<'py>> {
    let func = "embedding_backward";
    let idx = borrow_as::<i64>(func, "input", "an int64 array of indices", input)?;
    with_float!(func, [("grad_output", grad_output)], |T| {
        let g = borrow::<T>(grad_output)?;
        let (si, sg) = (shape(&idx), shape(&g));
        if sg.len() != si.len() + 1 || sg[..si.len()] != si[..] {
            return Err(shape_error(format!(
                "{func}: grad_output must have shape input.shape + (embedding_dim,) = \
                 {} + (d,), got {}",
                fmt_shape(&si),
                fmt_shape(&sg)
            )));
        }
        let dim = sg[si.len()];
        let so = [num_embeddings, dim];
        ensure_room::<T>(func, &[&so])?;
        let (di, dg) = (data(&idx)?, data(&g)?);
        let v = run(py, || {
            ferrograd_core::embedding::embedding_backward(
                &dg,
                &di,
                &si,
                num_embeddings,
                dim,
                padding_idx,
            )
        })?;
        out(py, v, &so)
    })
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_norm_train, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_eval, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_backward, m)?)?;
    m.add_function(wrap_pyfunction!(layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(layer_norm_backward, m)?)?;
    m.add_function(wrap_pyfunction!(embedding, m)?)?;
    m.add_function(wrap_pyfunction!(embedding_backward, m)?)?;
    Ok(())
}
