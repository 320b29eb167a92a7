//! Bindings of the regression part of `ferrograd.functional`: `mse_loss`, `l1_loss`,
//! `huber_loss`, `smooth_l1_loss` and their gradients with respect to `input`.

use ferrograd_core::loss::regression::{self as core, RegressionLoss};
use ferrograd_core::loss::Reduction;
use pyo3::prelude::*;

use crate::arrays::{borrow, data, out, shape};
use crate::errors::{run, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

fn forward<'py>(
    py: Python<'py>,
    kind: RegressionLoss,
    input: &Arr<'py>,
    target: &Arr<'py>,
    reduction: &str,
) -> BindResult<Arr<'py>> {
    let name = kind.name();
    let r = super::reduction(name, reduction, false)?;
    with_float!(name, [("input", input), ("target", target)], |T| {
        let (x, t) = (borrow::<T>(input)?, borrow::<T>(target)?);
        let (sx, st) = (shape(&x), shape(&t));
        let (dx, dt) = (data(&x)?, data(&t)?);
        let v = run(py, || core::loss(kind, &dx, &sx, &dt, &st, r))?;
        out(py, v, if r == Reduction::None { &sx } else { &[] })
    })
}

fn backward<'py>(
    py: Python<'py>,
    kind: RegressionLoss,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    target: &Arr<'py>,
    reduction: &str,
) -> BindResult<Arr<'py>> {
    let name = format!("{}_backward", kind.name());
    let r = super::reduction(&name, reduction, false)?;
    with_float!(
        &name,
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
                core::loss_backward(kind, &dg, &sg, &dx, &sx, &dt, &st, r)
            })?;
            out(py, v, &sx)
        }
    )
}

macro_rules! regression_bindings {
    ($($fwd:ident, $bwd:ident, ($($arg:ident = $def:expr),*) => $kind:expr;)+) => {$(
        #[doc = concat!("`", stringify!($fwd), "` (see `ferrograd.functional`).")]
        #[pyfunction]
        #[pyo3(signature = (input, target, reduction="mean" $(, $arg = $def)*))]
        pub fn $fwd<'py>(
            py: Python<'py>,
            input: &Arr<'py>,
            target: &Arr<'py>,
            reduction: &str,
            $($arg: f64,)*
        ) -> BindResult<Arr<'py>> {
            forward(py, $kind, input, target, reduction)
        }

        #[doc = concat!("Gradient of `", stringify!($fwd), "` with respect to `input`.")]
        #[pyfunction]
        #[pyo3(signature = (grad_output, input, target, reduction="mean" $(, $arg = $def)*))]
        pub fn $bwd<'py>(
            py: Python<'py>,
            grad_output: &Arr<'py>,
            input: &Arr<'py>,
            target: &Arr<'py>,
            reduction: &str,
            $($arg: f64,)*
        ) -> BindResult<Arr<'py>> {
            backward(py, $kind, grad_output, input, target, reduction)
        }
    )+};
}

regression_bindings! {
    mse_loss, mse_loss_backward, () => RegressionLoss::Mse;
    l1_loss, l1_loss_backward, () => RegressionLoss::L1;
    huber_loss, huber_loss_backward, (delta = 1.0) => RegressionLoss::Huber { delta };
    smooth_l1_loss, smooth_l1_loss_backward, (beta = 1.0) => RegressionLoss::SmoothL1 { beta };
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add_all {
        ($($f:ident),+ $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )+ };
    }
    add_all!(
        mse_loss,
        mse_loss_backward,
        l1_loss,
        l1_loss_backward,
        huber_loss,
        huber_loss_backward,
        smooth_l1_loss,
        smooth_l1_loss_backward,
    );
    Ok(())
}
