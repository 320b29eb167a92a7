//! Bindings of the margin part of `ferrograd.functional`: `hinge_loss`,
//! `hinge_embedding_loss`, `soft_margin_loss`, `multi_margin_loss` and their gradients.
//! Targets of the ±1 losses come as float arrays of the input's dtype, labels as int64.

use ferrograd_core::loss::margin::{self as core, Arr, MultiMargin};
use pyo3::prelude::*;

use crate::arrays::{borrow, borrow_as, data, out, shape};
use crate::errors::{run, BindResult};
use crate::with_float;

type Any<'py> = Bound<'py, PyAny>;

/// The NumPy name of the float type `T`.
fn float_name<T>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "float32"
    } else {
        "float64"
    }
}

/// Forward and backward bindings of a loss `f(input, target, <scalar args>)` whose target is a
/// float array of the input's dtype.
macro_rules! pointwise_bindings {
    ($fwd:ident, $bwd:ident, ($($arg:ident: $ty:ty = $def:tt),*)) => {
        #[doc = concat!("`", stringify!($fwd), "` (see `ferrograd.functional`).")]
        #[pyfunction]
        #[pyo3(signature = (input, target, $($arg = $def,)* reduction = "mean"))]
        pub fn $fwd<'py>(
            py: Python<'py>,
            input: &Any<'py>,
            target: &Any<'py>,
            $($arg: $ty,)*
            reduction: &str,
        ) -> BindResult<Any<'py>> {
            let name = stringify!($fwd);
            let r = super::reduction(name, reduction, false)?;
            with_float!(name, [("input", input), ("target", target)], |T| {
                let (x, t) = (borrow::<T>(input)?, borrow::<T>(target)?);
                let (sx, st) = (shape(&x), shape(&t));
                let (dx, dt) = (data(&x)?, data(&t)?);
                let (v, s) = run(py, || {
                    core::$fwd(Arr::new(&dx, &sx), Arr::new(&dt, &st), $($arg,)* r)
                })?;
                out(py, v, &s)
            })
        }

        #[doc = concat!("Gradient of `", stringify!($fwd), "` with respect to `input`.")]
        #[pyfunction]
        #[pyo3(signature = (grad_output, input, target, $($arg = $def,)* reduction = "mean"))]
        pub fn $bwd<'py>(
            py: Python<'py>,
            grad_output: &Any<'py>,
            input: &Any<'py>,
            target: &Any<'py>,
            $($arg: $ty,)*
            reduction: &str,
        ) -> BindResult<Any<'py>> {
            let name = stringify!($bwd);
            let r = super::reduction(name, reduction, false)?;
            with_float!(
                name,
                [("grad_output", grad_output), ("input", input), ("target", target)],
                |T| {
                    let (g, x) = (borrow::<T>(grad_output)?, borrow::<T>(input)?);
                    let t = borrow::<T>(target)?;
                    let (sg, sx, st) = (shape(&g), shape(&x), shape(&t));
                    let (dg, dx, dt) = (data(&g)?, data(&x)?, data(&t)?);
                    let v = run(py, || {
                        core::$bwd(
                            Arr::new(&dg, &sg),
                            Arr::new(&dx, &sx),
                            Arr::new(&dt, &st),
                            $($arg,)*
                            r,
                        )
                    })?;
                    out(py, v, &sx)
                }
            )
        }
    };
}

pointwise_bindings!(hinge_loss, hinge_loss_backward, (margin: f64 = 1.0));
pointwise_bindings!(
    hinge_embedding_loss,
    hinge_embedding_loss_backward,
    (margin: f64 = 1.0)
);
pointwise_bindings!(soft_margin_loss, soft_margin_loss_backward, ());

/// `multi_margin_loss` (see `ferrograd.functional`); `target` is an int64 array.
#[pyfunction]
#[pyo3(signature = (input, target, p=1, margin=1.0, weight=None, reduction="mean"))]
pub fn multi_margin_loss<'py>(
    py: Python<'py>,
    input: &Any<'py>,
    target: &Any<'py>,
    p: i64,
    margin: f64,
    weight: Option<&Any<'py>>,
    reduction: &str,
) -> BindResult<Any<'py>> {
    let name = "multi_margin_loss";
    let r = super::reduction(name, reduction, false)?;
    let y = borrow_as::<i64>(name, "target", "an int64 array", target)?;
    let (sy, dy) = (shape(&y), data(&y)?);
    with_float!(name, [("input", input)], |T| {
        let x = borrow::<T>(input)?;
        let (sx, dx) = (shape(&x), data(&x)?);
        let want = format!("a {} array like input", float_name::<T>());
        let w = weight
            .map(|w| borrow_as::<T>(name, "weight", &want, w))
            .transpose()?;
        let dw = w.as_ref().map(data).transpose()?;
        let o = MultiMargin {
            p,
            margin,
            weight: dw.as_deref(),
            reduction: r,
        };
        let (v, s) = run(py, || {
            core::multi_margin_loss(Arr::new(&dx, &sx), Arr::new(&dy, &sy), &o)
        })?;
        out(py, v, &s)
    })
}

/// Gradient of `multi_margin_loss` with respect to `input`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, target, p=1, margin=1.0, weight=None, reduction="mean"))]
#[allow(clippy::too_many_arguments)]
pub fn multi_margin_loss_backward<'py>(
    py: Python<'py>,
    grad_output: &Any<'py>,
    input: &Any<'py>,
    target: &Any<'py>,
    p: i64,
    margin: f64,
    weight: Option<&Any<'py>>,
    reduction: &str,
) -> BindResult<Any<'py>> {
    let name = "multi_margin_loss_backward";
    let r = super::reduction(name, reduction, false)?;
    let y = borrow_as::<i64>(name, "target", "an int64 array", target)?;
    let (sy, dy) = (shape(&y), data(&y)?);
    with_float!(
        name,
        [("grad_output", grad_output), ("input", input)],
        |T| {
            let (g, x) = (borrow::<T>(grad_output)?, borrow::<T>(input)?);
            let (sg, sx) = (shape(&g), shape(&x));
            let (dg, dx) = (data(&g)?, data(&x)?);
            let want = format!("a {} array like input", float_name::<T>());
            let w = weight
                .map(|w| borrow_as::<T>(name, "weight", &want, w))
                .transpose()?;
            let dw = w.as_ref().map(data).transpose()?;
            let o = MultiMargin {
                p,
                margin,
                weight: dw.as_deref(),
                reduction: r,
            };
            let v = run(py, || {
                core::multi_margin_loss_backward(
                    Arr::new(&dg, &sg),
                    Arr::new(&dx, &sx),
                    Arr::new(&dy, &sy),
                    &o,
                )
            })?;
            out(py, v, &sx)
        }
    )
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hinge_loss, m)?)?;
    m.add_function(wrap_pyfunction!(hinge_loss_backward, m)?)?;
    m.add_function(wrap_pyfunction!(hinge_embedding_loss, m)?)?;
    m.add_function(wrap_pyfunction!(hinge_embedding_loss_backward, m)?)?;
    m.add_function(wrap_pyfunction!(soft_margin_loss, m)?)?;
    m.add_function(wrap_pyfunction!(soft_margin_loss_backward, m)?)?;
    m.add_function(wrap_pyfunction!(multi_margin_loss, m)?)?;
    m.add_function(wrap_pyfunction!(multi_margin_loss_backward, m)?)?;
    Ok(())
}
