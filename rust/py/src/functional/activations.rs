//! Bindings of the activations part of `ferrograd.functional`: `relu`, `leaky_relu`,
//! `sigmoid`, `tanh`, `gelu`, `elu`, `silu`, `softplus` and their gradients, plus the
//! gradients of softmax and log-softmax taken from the input (the forwards are `ops`' kernels).

use ferrograd_core::activation::{self, Activation, GeluApprox};
use ferrograd_core::shape::check_grad_shape;
use pyo3::prelude::*;

use crate::arrays::{borrow, data, out, shape};
use crate::errors::{run, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

fn forward<'py>(py: Python<'py>, act: Activation, input: &Arr<'py>) -> BindResult<Arr<'py>> {
    with_float!(act.name(), [("input", input)], |T| {
        let x = borrow::<T>(input)?;
        let (sx, dx) = (shape(&x), data(&x)?);
        let v = run(py, || activation::forward(act, &dx))?;
        out(py, v, &sx)
    })
}

fn backward<'py>(
    py: Python<'py>,
    act: Activation,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    let name = format!("{}_backward", act.name());
    with_float!(
        &name,
        [("grad_output", grad_output), ("input", input)],
        |T| {
            let (g, x) = (borrow::<T>(grad_output)?, borrow::<T>(input)?);
            let (sg, sx) = (shape(&g), shape(&x));
            check_grad_shape(&name, &sg, &sx)?;
            let (dg, dx) = (data(&g)?, data(&x)?);
            let v = run(py, || activation::backward(act, &dg, &dx))?;
            out(py, v, &sx)
        }
    )
}

/// `max(input, 0)`.
#[pyfunction]
pub fn relu<'py>(py: Python<'py>, input: &Arr<'py>) -> BindResult<Arr<'py>> {
    forward(py, Activation::Relu, input)
}

/// Gradient of `relu` (0 at 0).
#[pyfunction]
pub fn relu_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    backward(py, Activation::Relu, grad_output, input)
}

/// `input` where positive, `negative_slope * input` elsewhere.
#[pyfunction]
#[pyo3(signature = (input, negative_slope=0.01))]
pub fn leaky_relu<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    negative_slope: f64,
) -> BindResult<Arr<'py>> {
    forward(py, Activation::LeakyRelu { negative_slope }, input)
}

/// Gradient of `leaky_relu` (`negative_slope` at 0).
#[pyfunction]
#[pyo3(signature = (grad_output, input, negative_slope=0.01))]
pub fn leaky_relu_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    negative_slope: f64,
) -> BindResult<Arr<'py>> {
    backward(
        py,
        Activation::LeakyRelu { negative_slope },
        grad_output,
        input,
    )
}

/// Logistic sigmoid, stable for large `|input|`.
#[pyfunction]
pub fn sigmoid<'py>(py: Python<'py>, input: &Arr<'py>) -> BindResult<Arr<'py>> {
    forward(py, Activation::Sigmoid, input)
}

/// Gradient of `sigmoid`.
#[pyfunction]
pub fn sigmoid_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    backward(py, Activation::Sigmoid, grad_output, input)
}

/// Hyperbolic tangent.
#[pyfunction]
pub fn tanh<'py>(py: Python<'py>, input: &Arr<'py>) -> BindResult<Arr<'py>> {
    forward(py, Activation::Tanh, input)
}

/// Gradient of `tanh`.
#[pyfunction]
pub fn tanh_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    backward(py, Activation::Tanh, grad_output, input)
}

fn gelu_kind(func: &str, approximate: &str) -> BindResult<Activation> {
    let approximate = GeluApprox::parse(func, approximate)?;
    Ok(Activation::Gelu { approximate })
}

/// GELU, exact (`approximate="none"`) or with the tanh approximation.
#[pyfunction]
#[pyo3(signature = (input, approximate="none"))]
pub fn gelu<'py>(py: Python<'py>, input: &Arr<'py>, approximate: &str) -> BindResult<Arr<'py>> {
    forward(py, gelu_kind("gelu", approximate)?, input)
}

/// Gradient of `gelu`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, approximate="none"))]
pub fn gelu_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    approximate: &str,
) -> BindResult<Arr<'py>> {
    backward(
        py,
        gelu_kind("gelu_backward", approximate)?,
        grad_output,
        input,
    )
}

/// ELU: `input` where positive, `alpha * (exp(input) - 1)` elsewhere.
#[pyfunction]
#[pyo3(signature = (input, alpha=1.0))]
pub fn elu<'py>(py: Python<'py>, input: &Arr<'py>, alpha: f64) -> BindResult<Arr<'py>> {
    forward(py, Activation::Elu { alpha }, input)
}

/// Gradient of `elu` (`alpha` at 0).
#[pyfunction]
#[pyo3(signature = (grad_output, input, alpha=1.0))]
pub fn elu_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    alpha: f64,
) -> BindResult<Arr<'py>> {
    backward(py, Activation::Elu { alpha }, grad_output, input)
}

/// SiLU (swish): `input * sigmoid(input)`.
#[pyfunction]
pub fn silu<'py>(py: Python<'py>, input: &Arr<'py>) -> BindResult<Arr<'py>> {
    forward(py, Activation::Silu, input)
}

/// Gradient of `silu`.
#[pyfunction]
pub fn silu_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    backward(py, Activation::Silu, grad_output, input)
}

/// Softplus: `log(1 + exp(beta * input)) / beta`, linear where `beta * input > threshold`.
#[pyfunction]
#[pyo3(signature = (input, beta=1.0, threshold=20.0))]
pub fn softplus<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    beta: f64,
    threshold: f64,
) -> BindResult<Arr<'py>> {
    forward(py, Activation::Softplus { beta, threshold }, input)
}

/// Gradient of `softplus`.
#[pyfunction]
#[pyo3(signature = (grad_output, input, beta=1.0, threshold=20.0))]
pub fn softplus_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    beta: f64,
    threshold: f64,
) -> BindResult<Arr<'py>> {
    backward(
        py,
        Activation::Softplus { beta, threshold },
        grad_output,
        input,
    )
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add_all {
        ($($f:ident),+ $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )+ };
    }
    add_all!(
        relu,
        relu_backward,
        leaky_relu,
        leaky_relu_backward,
        sigmoid,
        sigmoid_backward,
        tanh,
        tanh_backward,
        gelu,
        gelu_backward,
        elu,
        elu_backward,
        silu,
        silu_backward,
        softplus,
        softplus_backward,
    );
    Ok(())
}
