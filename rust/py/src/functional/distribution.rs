//! Bindings of the distribution part of `ferrograd.functional`: `entropy`,
//! `cross_entropy_dist`, `kl_div` and their gradients.

use ferrograd_core::loss::distribution as core;
use ferrograd_core::loss::Reduction;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrays::{borrow, data, out, shape};
use crate::errors::{run, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

/// Entropy `-sum p log p` along `dim` (in units of `base`; natural log when None).
#[pyfunction]
#[pyo3(signature = (p, dim=-1, base=None))]
pub fn entropy<'py>(
    py: Python<'py>,
    p: &Arr<'py>,
    dim: isize,
    base: Option<f64>,
) -> BindResult<Arr<'py>> {
    with_float!("entropy", [("p", p)], |T| {
        let p = borrow::<T>(p)?;
        let (sp, dp) = (shape(&p), data(&p)?);
        let (v, s) = run(py, || core::entropy(&dp, &sp, dim, base))?;
        out(py, v, &s)
    })
}

/// Gradient of `entropy` with respect to `p`.
#[pyfunction]
#[pyo3(signature = (grad_output, p, dim=-1, base=None))]
pub fn entropy_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    p: &Arr<'py>,
    dim: isize,
    base: Option<f64>,
) -> BindResult<Arr<'py>> {
    with_float!(
        "entropy_backward",
        [("grad_output", grad_output), ("p", p)],
        |T| {
            let (g, p) = (borrow::<T>(grad_output)?, borrow::<T>(p)?);
            let (sg, sp) = (shape(&g), shape(&p));
            let (dg, dp) = (data(&g)?, data(&p)?);
            let v = run(py, || core::entropy_backward(&dg, &sg, &dp, &sp, dim, base))?;
            out(py, v, &sp)
        }
    )
}

/// Cross-entropy `H(p, q) = -sum p log q` along `dim` (in units of `base`).
#[pyfunction]
#[pyo3(signature = (p, q, dim=-1, base=None))]
pub fn cross_entropy_dist<'py>(
    py: Python<'py>,
    p: &Arr<'py>,
    q: &Arr<'py>,
    dim: isize,
    base: Option<f64>,
) -> BindResult<Arr<'py>> {
    with_float!("cross_entropy_dist", [("p", p), ("q", q)], |T| {
        let (p, q) = (borrow::<T>(p)?, borrow::<T>(q)?);
        let (sp, sq) = (shape(&p), shape(&q));
        let (dp, dq) = (data(&p)?, data(&q)?);
        let (v, s) = run(py, || {
            core::cross_entropy_dist(&dp, &sp, &dq, &sq, dim, base)
        })?;
        out(py, v, &s)
    })
}

/// Gradients of `cross_entropy_dist` with respect to `p` and `q`.
#[pyfunction]
#[pyo3(signature = (grad_output, p, q, dim=-1, base=None))]
pub fn cross_entropy_dist_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    p: &Arr<'py>,
    q: &Arr<'py>,
    dim: isize,
    base: Option<f64>,
) -> BindResult<Bound<'py, PyTuple>> {
    let name = "cross_entropy_dist_backward";
    with_float!(
        name,
        [("grad_output", grad_output), ("p", p), ("q", q)],
        |T| {
            let (g, p, q) = (borrow::<T>(grad_output)?, borrow::<T>(p)?, borrow::<T>(q)?);
            let (sg, sp, sq) = (shape(&g), shape(&p), shape(&q));
            let (dg, dp, dq) = (data(&g)?, data(&p)?, data(&q)?);
            let (gp, gq) = run(py, || {
                core::cross_entropy_dist_backward(&dg, &sg, &dp, &sp, &dq, &sq, dim, base)
            })?;
            Ok(PyTuple::new(py, [out(py, gp, &sp)?, out(py, gq, &sq)?])?)
        }
    )
}

/// `torch.nn.functional.kl_div`: `input` holds log-probabilities.
#[pyfunction]
#[pyo3(signature = (input, target, reduction="mean", log_target=false))]
pub fn kl_div<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    reduction: &str,
    log_target: bool,
) -> BindResult<Arr<'py>> {
    let r = super::reduction("kl_div", reduction, true)?;
    with_float!("kl_div", [("input", input), ("target", target)], |T| {
        let (x, t) = (borrow::<T>(input)?, borrow::<T>(target)?);
        let (sx, st) = (shape(&x), shape(&t));
        let (dx, dt) = (data(&x)?, data(&t)?);
        let v = run(py, || core::kl_div(&dx, &sx, &dt, &st, r, log_target))?;
        out(py, v, if r == Reduction::None { &sx } else { &[] })
    })
}

/// Gradient of `kl_div` with respect to `input`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, reduction="mean", log_target=false))]
pub fn kl_div_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    reduction: &str,
    log_target: bool,
) -> BindResult<Arr<'py>> {
    let name = "kl_div_backward";
    let r = super::reduction(name, reduction, true)?;
    with_float!(
        name,
        [
            ("grad_output", grad_output),
            ("input", input),
            ("target", target)
        ],
        |T| {
            let (g, x, t) = (
                borrow::<T>(grad_output)?,
                borrow::<T>(input)?,
                borrow::<T>(target)?,
            );
            let (sg, sx, st) = (shape(&g), shape(&x), shape(&t));
            let (dg, dx, dt) = (data(&g)?, data(&x)?, data(&t)?);
            let v = run(py, || {
                core::kl_div_backward(&dg, &sg, &dx, &sx, &dt, &st, r, log_target)
            })?;
            out(py, v, &sx)
        }
    )
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add_all {
        ($($f:ident),+ $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )+ };
    }
    add_all!(
        entropy,
        entropy_backward,
        cross_entropy_dist,
        cross_entropy_dist_backward,
        kl_div,
        kl_div_backward,
    );
    Ok(())
}
