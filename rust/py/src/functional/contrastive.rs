//! Bindings of the contrastive part of `ferrograd.functional`: `cosine_embedding_loss`,
//! `triplet_margin_loss`, `nt_xent_loss` and their gradients (a tuple, one per float input).

use ferrograd_core::loss::contrastive::{self as core, Triplet};
use ferrograd_core::loss::margin::Arr;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrays::{borrow, data, out, shape};
use crate::errors::{run, BindResult};
use crate::with_float;

type Any<'py> = Bound<'py, PyAny>;

/// `cosine_embedding_loss` (see `ferrograd.functional`); `target` has the inputs' dtype.
#[pyfunction]
#[pyo3(signature = (input1, input2, target, margin=0.0, reduction="mean"))]
pub fn cosine_embedding_loss<'py>(
    py: Python<'py>,
    input1: &Any<'py>,
    input2: &Any<'py>,
    target: &Any<'py>,
    margin: f64,
    reduction: &str,
) -> BindResult<Any<'py>> {
    let name = "cosine_embedding_loss";
    let r = super::reduction(name, reduction, false)?;
    with_float!(
        name,
        [("input1", input1), ("input2", input2), ("target", target)],
        |T| {
            let (a, b, t) = (
                borrow::<T>(input1)?,
                borrow::<T>(input2)?,
                borrow::<T>(target)?,
            );
            let (sa, sb, st) = (shape(&a), shape(&b), shape(&t));
            let (da, db, dt) = (data(&a)?, data(&b)?, data(&t)?);
            let (v, s) = run(py, || {
                core::cosine_embedding_loss(
                    Arr::new(&da, &sa),
                    Arr::new(&db, &sb),
                    Arr::new(&dt, &st),
                    margin,
                    r,
                )
            })?;
            out(py, v, &s)
        }
    )
}

/// Gradients of `cosine_embedding_loss` with respect to `input1` and `input2`.
#[pyfunction]
#[pyo3(signature = (grad_output, input1, input2, target, margin=0.0, reduction="mean"))]
pub fn cosine_embedding_loss_backward<'py>(
    py: Python<'py>,
    grad_output: &Any<'py>,
    input1: &Any<'py>,
    input2: &Any<'py>,
    target: &Any<'py>,
    margin: f64,
    reduction: &str,
) -> BindResult<Bound<'py, PyTuple>> {
    let name = "cosine_embedding_loss_backward";
    let r = super::reduction(name, reduction, false)?;
    with_float!(
        name,
        [
            ("grad_output", grad_output),
            ("input1", input1),
            ("input2", input2),
            ("target", target)
        ],
        |T| {
            let (g, t) = (borrow::<T>(grad_output)?, borrow::<T>(target)?);
            let (a, b) = (borrow::<T>(input1)?, borrow::<T>(input2)?);
            let (sg, sa, sb, st) = (shape(&g), shape(&a), shape(&b), shape(&t));
            let (dg, da, db, dt) = (data(&g)?, data(&a)?, data(&b)?, data(&t)?);
            let (g1, g2) = run(py, || {
                core::cosine_embedding_loss_backward(
                    Arr::new(&dg, &sg),
                    Arr::new(&da, &sa),
                    Arr::new(&db, &sb),
                    Arr::new(&dt, &st),
                    margin,
                    r,
                )
            })?;
            Ok(PyTuple::new(py, [out(py, g1, &sa)?, out(py, g2, &sb)?])?)
        }
    )
}

/// `triplet_margin_loss` (see `ferrograd.functional`).
#[pyfunction]
#[pyo3(signature = (
    anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=false,
    reduction="mean"
))]
#[allow(clippy::too_many_arguments)]
pub fn triplet_margin_loss<'py>(
    py: Python<'py>,
    anchor: &Any<'py>,
    positive: &Any<'py>,
    negative: &Any<'py>,
    margin: f64,
    p: f64,
    eps: f64,
    swap: bool,
    reduction: &str,
) -> BindResult<Any<'py>> {
    let name = "triplet_margin_loss";
    let o = Triplet {
        margin,
        p,
        eps,
        swap,
        reduction: super::reduction(name, reduction, false)?,
    };
    with_float!(
        name,
        [
            ("anchor", anchor),
            ("positive", positive),
            ("negative", negative)
        ],
        |T| {
            let (a, pp, n) = (
                borrow::<T>(anchor)?,
                borrow::<T>(positive)?,
                borrow::<T>(negative)?,
            );
            let (sa, sp, sn) = (shape(&a), shape(&pp), shape(&n));
            let (da, dp, dn) = (data(&a)?, data(&pp)?, data(&n)?);
            let (v, s) = run(py, || {
                core::triplet_margin_loss(
                    Arr::new(&da, &sa),
                    Arr::new(&dp, &sp),
                    Arr::new(&dn, &sn),
                    &o,
                )
            })?;
            out(py, v, &s)
        }
    )
}

/// Gradients of `triplet_margin_loss` with respect to anchor, positive and negative.
#[pyfunction]
#[pyo3(signature = (
    grad_output, anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=false,
    reduction="mean"
))]
#[allow(clippy::too_many_arguments)]
pub fn triplet_margin_loss_backward<'py>(
    py: Python<'py>,
    grad_output: &Any<'py>,
    anchor: &Any<'py>,
    positive: &Any<'py>,
    negative: &Any<'py>,
    margin: f64,
    p: f64,
    eps: f64,
    swap: bool,
    reduction: &str,
) -> BindResult<Bound<'py, PyTuple>> {
    let name = "triplet_margin_loss_backward";
    let o = Triplet {
        margin,
        p,
        eps,
        swap,
        reduction: super::reduction(name, reduction, false)?,
    };
    with_float!(
        name,
        [
            ("grad_output", grad_output),
            ("anchor", anchor),
            ("positive", positive),
            ("negative", negative)
        ],
        |T| {
            let g = borrow::<T>(grad_output)?;
            let (a, pp, n) = (
                borrow::<T>(anchor)?,
                borrow::<T>(positive)?,
                borrow::<T>(negative)?,
            );
            let (sg, sa, sp, sn) = (shape(&g), shape(&a), shape(&pp), shape(&n));
            let (dg, da, dp, dn) = (data(&g)?, data(&a)?, data(&pp)?, data(&n)?);
            let (ga, gp, gn) = run(py, || {
                core::triplet_margin_loss_backward(
                    Arr::new(&dg, &sg),
                    Arr::new(&da, &sa),
                    Arr::new(&dp, &sp),
                    Arr::new(&dn, &sn),
                    &o,
                )
            })?;
            Ok(PyTuple::new(
                py,
                [out(py, ga, &sa)?, out(py, gp, &sp)?, out(py, gn, &sn)?],
            )?)
        }
    )
}

/// `nt_xent_loss` (see `ferrograd.functional`).
#[pyfunction]
#[pyo3(signature = (z1, z2, temperature=0.5, reduction="mean"))]
pub fn nt_xent_loss<'py>(
    py: Python<'py>,
    z1: &Any<'py>,
    z2: &Any<'py>,
    temperature: f64,
    reduction: &str,
) -> BindResult<Any<'py>> {
    let name = "nt_xent_loss";
    let r = super::reduction(name, reduction, false)?;
    with_float!(name, [("z1", z1), ("z2", z2)], |T| {
        let (a, b) = (borrow::<T>(z1)?, borrow::<T>(z2)?);
        let (sa, sb) = (shape(&a), shape(&b));
        let (da, db) = (data(&a)?, data(&b)?);
        let (v, s) = run(py, || {
            core::nt_xent_loss(Arr::new(&da, &sa), Arr::new(&db, &sb), temperature, r)
        })?;
        out(py, v, &s)
    })
}

/// Gradients of `nt_xent_loss` with respect to `z1` and `z2`.
#[pyfunction]
#[pyo3(signature = (grad_output, z1, z2, temperature=0.5, reduction="mean"))]
pub fn nt_xent_loss_backward<'py>(
    py: Python<'py>,
    grad_output: &Any<'py>,
    z1: &Any<'py>,
    z2: &Any<'py>,
    temperature: f64,
    reduction: &str,
) -> BindResult<Bound<'py, PyTuple>> {
    let name = "nt_xent_loss_backward";
    let r = super::reduction(name, reduction, false)?;
    with_float!(
        name,
        [("grad_output", grad_output), ("z1", z1), ("z2", z2)],
        |T| {
            let (g, a, b) = (
                borrow::<T>(grad_output)?,
                borrow::<T>(z1)?,
                borrow::<T>(z2)?,
            );
            let (sg, sa, sb) = (shape(&g), shape(&a), shape(&b));
            let (dg, da, db) = (data(&g)?, data(&a)?, data(&b)?);
            let (g1, g2) = run(py, || {
                core::nt_xent_loss_backward(
                    Arr::new(&dg, &sg),
                    Arr::new(&da, &sa),
                    Arr::new(&db, &sb),
                    temperature,
                    r,
                )
            })?;
            Ok(PyTuple::new(py, [out(py, g1, &sa)?, out(py, g2, &sb)?])?)
        }
    )
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cosine_embedding_loss, m)?)?;
    m.add_function(wrap_pyfunction!(cosine_embedding_loss_backward, m)?)?;
    m.add_function(wrap_pyfunction!(triplet_margin_loss, m)?)?;
    m.add_function(wrap_pyfunction!(triplet_margin_loss_backward, m)?)?;
    m.add_function(wrap_pyfunction!(nt_xent_loss, m)?)?;
    m.add_function(wrap_pyfunction!(nt_xent_loss_backward, m)?)?;
    Ok(())
}
