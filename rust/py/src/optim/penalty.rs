//! Bindings of the weight penalties (L1, L2) and their gradients.

use super::*;

fn penalty_kind(func: &str, kind: &str) -> BindResult<Penalty> {
    match kind {
        "l1" => Ok(Penalty::L1),
        "l2" => Ok(Penalty::L2),
        other => Err(value_error(format!(
            "{func}: kind must be 'l1' or 'l2', got {other:?}"
        ))),
    }
}

/// `sum |w|` (`kind="l1"`) or `sum w²` (`kind="l2"`) over every element of every array, in
/// float64.
#[pyfunction]
pub fn weight_penalty<'py>(py: Python<'py>, arrays: Vec<Obj<'py>>, kind: &str) -> BindResult<f64> {
    let k = penalty_kind("weight_penalty", kind)?;
    let (a32, a64) = by_float("weight_penalty", &arrays)?;
    let s32 = reduce::<f32>(py, &a32, |r| Ok(optim::penalty(r, k)))?;
    let s64 = reduce::<f64>(py, &a64, |r| Ok(optim::penalty(r, k)))?;
    Ok(s32 + s64)
}

/// `grad_output` times the derivative of the penalty at `x`: `sign(x)` for `"l1"` (0 at 0),
/// `2x` for `"l2"`; same dtype and shape as `x`.
#[pyfunction]
pub fn weight_penalty_backward<'py>(
    py: Python<'py>,
    grad_output: f64,
    x: &Obj<'py>,
    kind: &str,
) -> BindResult<Obj<'py>> {
    let func = "weight_penalty_backward";
    let k = penalty_kind(func, kind)?;
    with_float!(func, [("x", x)], |T| {
        penalty_grad::<T>(py, grad_output, x, k)
    })
}

fn penalty_grad<'py, T: Element + Real>(
    py: Python<'py>,
    grad_output: f64,
    x: &Obj<'py>,
    k: Penalty,
) -> BindResult<Obj<'py>> {
    let a = x.cast::<PyArrayDyn<T>>()?.try_readonly()?;
    let shape = a.shape().to_vec();
    let d = data(&a)?;
    let v = run(py, || optim::penalty_backward(&d, k, grad_output))?;
    out(py, v, &shape)
}
