//! Bindings of the tensor-op kernels (`ferrograd._core` functions behind `ferrograd.ops`).

use ferrograd_core::argmax::{arg_reduce, ArgOp};
use ferrograd_core::elementwise::{self, BinaryOp, UnaryOp};
use ferrograd_core::gemm::{self, MatmulDims};
use ferrograd_core::moments::{self, Moment};
use ferrograd_core::reduce::{self, ReduceOp};
use ferrograd_core::shape::broadcast_shapes;
use ferrograd_core::shape::fmt_shape;
use ferrograd_core::softmax as activation;
use numpy::PyUntypedArrayMethods;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::borrow::Cow;

use crate::arrays::{borrow, borrow_as, data, ensure_room, matrix_view, out, shape};
use crate::errors::{run, shape_error, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

fn binary_op<'py>(
    py: Python<'py>,
    op: BinaryOp,
    a: &Arr<'py>,
    b: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    with_float!(op.name(), [("a", a), ("b", b)], |T| {
        let (a, b) = (borrow::<T>(a)?, borrow::<T>(b)?);
        let (sa, sb) = (shape(&a), shape(&b));
        let so = broadcast_shapes(op.name(), &sa, &sb)?;
        ensure_room::<T>(op.name(), &[&sa, &sb, &so])?;
        let (da, db) = (data(&a)?, data(&b)?);
        let (v, s) = run(py, || elementwise::binary(op, &da, &sa, &db, &sb))?;
        out(py, v, &s)
    })
}

fn binary_grad<'py>(
    py: Python<'py>,
    op: BinaryOp,
    g: &Arr<'py>,
    a: &Arr<'py>,
    b: &Arr<'py>,
) -> BindResult<Bound<'py, PyTuple>> {
    let name = format!("{}_backward", op.name());
    with_float!(&name, [("grad_output", g), ("a", a), ("b", b)], |T| {
        let (g, a, b) = (borrow::<T>(g)?, borrow::<T>(a)?, borrow::<T>(b)?);
        let (sg, sa, sb) = (shape(&g), shape(&a), shape(&b));
        ensure_room::<T>(&name, &[&sg, &sa, &sb])?;
        let (dg, da, db) = (data(&g)?, data(&a)?, data(&b)?);
        let (ga, gb) = run(py, || {
            elementwise::binary_backward(op, &dg, &sg, &da, &sa, &db, &sb)
        })?;
        Ok(PyTuple::new(py, [out(py, ga, &sa)?, out(py, gb, &sb)?])?)
    })
}

macro_rules! binary_bindings {
    ($($fwd:ident, $bwd:ident, $op:expr);+ $(;)?) => {$(
        /// Elementwise with NumPy broadcasting (see `ferrograd.ops`).
        #[pyfunction]
        pub fn $fwd<'py>(py: Python<'py>, a: &Arr<'py>, b: &Arr<'py>) -> BindResult<Arr<'py>> {
            binary_op(py, $op, a, b)
        }
        /// Gradients with respect to both inputs, reduced to their shapes.
        #[pyfunction]
        pub fn $bwd<'py>(
            py: Python<'py>, grad_output: &Arr<'py>, a: &Arr<'py>, b: &Arr<'py>,
        ) -> BindResult<Bound<'py, PyTuple>> {
            binary_grad(py, $op, grad_output, a, b)
        }
    )+};
}

binary_bindings! {
    add, add_backward, BinaryOp::Add;
    sub, sub_backward, BinaryOp::Sub;
    mul, mul_backward, BinaryOp::Mul;
    div, div_backward, BinaryOp::Div;
}

fn unary_op<'py>(py: Python<'py>, name: &str, op: UnaryOp, x: &Arr<'py>) -> BindResult<Arr<'py>> {
    with_float!(name, [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        ensure_room::<T>(name, &[&sx])?;
        let dx = data(&x)?;
        let v = run(py, || elementwise::unary(op, &dx))?;
        out(py, v, &sx)
    })
}

fn unary_grad<'py>(
    py: Python<'py>,
    name: &str,
    op: UnaryOp,
    g: &Arr<'py>,
    x: &Arr<'py>,
) -> BindResult<Arr<'py>> {
    with_float!(name, [("grad_output", g), ("x", x)], |T| {
        let (g, x) = (borrow::<T>(g)?, borrow::<T>(x)?);
        let (sg, sx) = (shape(&g), shape(&x));
        if sg != sx {
            return Err(shape_error(format!(
                "{name}: grad_output has shape {} but x has shape {}",
                fmt_shape(&sg),
                fmt_shape(&sx)
            )));
        }
        ensure_room::<T>(name, &[&sx])?;
        let (dg, dx) = (data(&g)?, data(&x)?);
        let v = run(py, || elementwise::unary_backward(op, &dg, &dx))?;
        out(py, v, &sx)
    })
}

macro_rules! unary_bindings {
    ($($fwd:ident, $bwd:ident, $op:expr);+ $(;)?) => {$(
        /// Elementwise unary operation (see `ferrograd.ops`).
        #[pyfunction]
        pub fn $fwd<'py>(py: Python<'py>, x: &Arr<'py>) -> BindResult<Arr<'py>> {
            unary_op(py, stringify!($fwd), $op, x)
        }
        /// Gradient of the unary operation: `grad_output * f'(x)`.
        #[pyfunction]
        pub fn $bwd<'py>(py: Python<'py>, grad_output: &Arr<'py>, x: &Arr<'py>) -> BindResult<Arr<'py>> {
            unary_grad(py, stringify!($bwd), $op, grad_output, x)
        }
    )+};
}

unary_bindings! {
    exp, exp_backward, UnaryOp::Exp;
    log, log_backward, UnaryOp::Log;
    sqrt, sqrt_backward, UnaryOp::Sqrt;
    neg, neg_backward, UnaryOp::Neg;
    abs, abs_backward, UnaryOp::Abs;
    log1p, log1p_backward, UnaryOp::Log1p;
}

/// The bounds of `clamp` as a unary op; at least one is needed.
fn clamp_op(func: &str, min: Option<f64>, max: Option<f64>) -> BindResult<UnaryOp> {
    if min.is_none() && max.is_none() {
        return Err(crate::errors::value_error(format!(
            "{func}: at least one of min and max must be given"
        )));
    }
    Ok(UnaryOp::Clamp(min, max))
}

/// `x` limited to `[min, max]` (`torch.clamp`).
#[pyfunction]
#[pyo3(signature = (x, min=None, max=None))]
pub fn clamp<'py>(
    py: Python<'py>,
    x: &Arr<'py>,
    min: Option<f64>,
    max: Option<f64>,
) -> BindResult<Arr<'py>> {
    unary_op(py, "clamp", clamp_op("clamp", min, max)?, x)
}

/// Gradient of `clamp`: `grad_output` where `min < x < max`, else 0 (0 at the bounds).
#[pyfunction]
#[pyo3(signature = (grad_output, x, min=None, max=None))]
pub fn clamp_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    x: &Arr<'py>,
    min: Option<f64>,
    max: Option<f64>,
) -> BindResult<Arr<'py>> {
    let op = clamp_op("clamp_backward", min, max)?;
    unary_grad(py, "clamp_backward", op, grad_output, x)
}

/// A copy of `x` (C order) in memory from the extension's allocator: large copies are made
/// on the threads into reused blocks (see `ferrograd_core::runtime::reuse`).
#[pyfunction]
pub fn copy<'py>(py: Python<'py>, x: &Arr<'py>) -> BindResult<Arr<'py>> {
    with_float!("copy", [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        ensure_room::<T>("copy", &[&sx])?;
        // An array not in C order is gathered into a new vector already: that is the copy.
        let v = match data(&x)? {
            Cow::Borrowed(d) => run(py, || ferrograd_core::runtime::stream::copied(d))?,
            Cow::Owned(v) => v,
        };
        out(py, v, &sx)
    })
}

/// The rows `indices` of `x` (its first axis), one batch of a shuffled data loader: rows a
/// few places ahead are prefetched while each is copied.
#[pyfunction]
pub fn take_rows<'py>(py: Python<'py>, x: &Arr<'py>, indices: &Arr<'py>) -> BindResult<Arr<'py>> {
    let func = "take_rows";
    let idx = borrow_as::<i64>(func, "indices", "an int64 array", indices)?;
    let si = shape(&idx);
    if si.len() != 1 {
        return Err(shape_error(format!(
            "{func}: indices must be 1-D, got shape {}",
            fmt_shape(&si)
        )));
    }
    let rows = data(&idx)?;
    with_float!(func, [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        if sx.is_empty() {
            return Err(shape_error(format!(
                "{func}: x must have a first axis, got a 0-d array"
            )));
        }
        let mut so = sx.clone();
        so[0] = rows.len();
        ensure_room::<T>(func, &[&so])?;
        let row_len: usize = sx[1..].iter().product();
        let dx = data(&x)?;
        let v = run(py, || {
            ferrograd_core::gather::gather_rows(&dx, row_len, &rows)
        })?;
        out(py, v, &so)
    })
}

/// `x ** exponent` for a scalar exponent.
#[pyfunction]
pub fn pow<'py>(py: Python<'py>, x: &Arr<'py>, exponent: f64) -> BindResult<Arr<'py>> {
    unary_op(py, "pow", UnaryOp::Pow(exponent), x)
}

/// Gradient of `x ** exponent`.
#[pyfunction]
pub fn pow_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    x: &Arr<'py>,
    exponent: f64,
) -> BindResult<Arr<'py>> {
    unary_grad(py, "pow_backward", UnaryOp::Pow(exponent), grad_output, x)
}

fn reduce_op<'py>(
    py: Python<'py>,
    op: ReduceOp,
    name: &str,
    x: &Arr<'py>,
    axes: Option<Vec<isize>>,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    with_float!(name, [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        ensure_room::<T>(name, &[&sx])?;
        let dx = data(&x)?;
        let (v, s) = run(py, || {
            reduce::reduce(op, &dx, &sx, axes.as_deref(), keepdims)
        })?;
        out(py, v, &s)
    })
}

fn reduce_grad<'py>(
    py: Python<'py>,
    op: ReduceOp,
    name: &str,
    g: &Arr<'py>,
    x: &Arr<'py>,
    axes: Option<Vec<isize>>,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    with_float!(name, [("grad_output", g), ("x", x)], |T| {
        let (g, x) = (borrow::<T>(g)?, borrow::<T>(x)?);
        let (sg, sx) = (shape(&g), shape(&x));
        ensure_room::<T>(name, &[&sg, &sx])?;
        let (dg, dx) = (data(&g)?, data(&x)?);
        let v = run(py, || {
            reduce::reduce_backward(op, &dg, &sg, &dx, &sx, axes.as_deref(), keepdims)
        })?;
        out(py, v, &sx)
    })
}

macro_rules! reduce_bindings {
    ($($fwd:ident, $bwd:ident, $op:expr);+ $(;)?) => {$(
        /// Reduction over `axes` (None: all axes), NumPy semantics.
        #[pyfunction]
        #[pyo3(signature = (x, axes=None, keepdims=false))]
        pub fn $fwd<'py>(
            py: Python<'py>, x: &Arr<'py>, axes: Option<Vec<isize>>, keepdims: bool,
        ) -> BindResult<Arr<'py>> {
            reduce_op(py, $op, stringify!($fwd), x, axes, keepdims)
        }
        /// Gradient of the reduction, spread back over `x`'s shape.
        #[pyfunction]
        #[pyo3(signature = (grad_output, x, axes=None, keepdims=false))]
        pub fn $bwd<'py>(
            py: Python<'py>, grad_output: &Arr<'py>, x: &Arr<'py>,
            axes: Option<Vec<isize>>, keepdims: bool,
        ) -> BindResult<Arr<'py>> {
            reduce_grad(py, $op, stringify!($bwd), grad_output, x, axes, keepdims)
        }
    )+};
}

reduce_bindings! {
    sum, sum_backward, ReduceOp::Sum;
    mean, mean_backward, ReduceOp::Mean;
    max, max_backward, ReduceOp::Max;
    min, min_backward, ReduceOp::Min;
}

fn arg_op<'py>(
    py: Python<'py>,
    op: ArgOp,
    x: &Arr<'py>,
    axis: Option<isize>,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    with_float!(op.name(), [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        ensure_room::<T>(op.name(), &[&sx])?;
        let dx = data(&x)?;
        let (v, s) = run(py, || arg_reduce(op, &dx, &sx, axis, keepdims))?;
        out(py, v, &s)
    })
}

/// Indices (int64) of the maxima along `axis` (None: of the flattened array), NumPy's rules.
#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false))]
pub fn argmax<'py>(
    py: Python<'py>,
    x: &Arr<'py>,
    axis: Option<isize>,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    arg_op(py, ArgOp::Max, x, axis, keepdims)
}

/// Indices (int64) of the minima along `axis` (None: of the flattened array), NumPy's rules.
#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false))]
pub fn argmin<'py>(
    py: Python<'py>,
    x: &Arr<'py>,
    axis: Option<isize>,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    arg_op(py, ArgOp::Min, x, axis, keepdims)
}

fn moment_op<'py>(
    py: Python<'py>,
    op: Moment,
    x: &Arr<'py>,
    axes: Option<Vec<isize>>,
    correction: f64,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    with_float!(op.name(), [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        ensure_room::<T>(op.name(), &[&sx])?;
        let dx = data(&x)?;
        let (v, s) = run(py, || {
            moments::moment(op, &dx, &sx, axes.as_deref(), correction, keepdims)
        })?;
        out(py, v, &s)
    })
}

fn moment_grad<'py>(
    py: Python<'py>,
    op: Moment,
    g: &Arr<'py>,
    x: &Arr<'py>,
    axes: Option<Vec<isize>>,
    correction: f64,
    keepdims: bool,
) -> BindResult<Arr<'py>> {
    let name = format!("{}_backward", op.name());
    with_float!(&name, [("grad_output", g), ("x", x)], |T| {
        let (g, x) = (borrow::<T>(g)?, borrow::<T>(x)?);
        let (sg, sx) = (shape(&g), shape(&x));
        ensure_room::<T>(&name, &[&sg, &sx])?;
        let (dg, dx) = (data(&g)?, data(&x)?);
        let v = run(py, || {
            moments::moment_backward(
                op,
                &dg,
                &sg,
                &dx,
                &sx,
                axes.as_deref(),
                correction,
                keepdims,
            )
        })?;
        out(py, v, &sx)
    })
}

macro_rules! moment_bindings {
    ($($fwd:ident, $name:literal, $bwd:ident, $op:expr);+ $(;)?) => {$(
        /// Over `axes` (None: all), dividing by `max(0, N - correction)` (`torch.var`/`std`).
        #[pyfunction]
        #[pyo3(name = $name, signature = (x, axes=None, correction=1.0, keepdims=false))]
        pub fn $fwd<'py>(
            py: Python<'py>, x: &Arr<'py>, axes: Option<Vec<isize>>, correction: f64,
            keepdims: bool,
        ) -> BindResult<Arr<'py>> {
            moment_op(py, $op, x, axes, correction, keepdims)
        }
        /// Gradient with respect to `x`, as PyTorch computes it.
        #[pyfunction]
        #[pyo3(signature = (grad_output, x, axes=None, correction=1.0, keepdims=false))]
        pub fn $bwd<'py>(
            py: Python<'py>, grad_output: &Arr<'py>, x: &Arr<'py>, axes: Option<Vec<isize>>,
            correction: f64, keepdims: bool,
        ) -> BindResult<Arr<'py>> {
            moment_grad(py, $op, grad_output, x, axes, correction, keepdims)
        }
    )+};
}

moment_bindings! {
    var, "var", var_backward, Moment::Var;
    std_dev, "std", std_backward, Moment::Std;
}

/// Sums `grad` over broadcast axes down to `shape`.
#[pyfunction]
pub fn sum_to_shape<'py>(
    py: Python<'py>,
    grad: &Arr<'py>,
    shape_: Vec<usize>,
) -> BindResult<Arr<'py>> {
    with_float!("sum_to_shape", [("grad", grad)], |T| {
        let g = borrow::<T>(grad)?;
        let sg = shape(&g);
        ensure_room::<T>("sum_to_shape", &[&sg])?;
        let dg = data(&g)?;
        let v = run(py, || elementwise::sum_to_shape(&dg, &sg, &shape_))?;
        out(py, v, &shape_)
    })
}

fn softmax_op<'py>(py: Python<'py>, x: &Arr<'py>, axis: isize, log: bool) -> BindResult<Arr<'py>> {
    let name = if log { "log_softmax" } else { "softmax" };
    with_float!(name, [("x", x)], |T| {
        let x = borrow::<T>(x)?;
        let sx = shape(&x);
        ensure_room::<T>(name, &[&sx])?;
        let dx = data(&x)?;
        let v = run(py, || {
            if log {
                activation::log_softmax(&dx, &sx, axis)
            } else {
                activation::softmax(&dx, &sx, axis)
            }
        })?;
        out(py, v, &sx)
    })
}

fn softmax_grad<'py>(
    py: Python<'py>,
    g: &Arr<'py>,
    y: &Arr<'py>,
    axis: isize,
    log: bool,
) -> BindResult<Arr<'py>> {
    let name = if log {
        "log_softmax_backward"
    } else {
        "softmax_backward"
    };
    with_float!(name, [("grad_output", g), ("output", y)], |T| {
        let (g, y) = (borrow::<T>(g)?, borrow::<T>(y)?);
        let (sg, sy) = (shape(&g), shape(&y));
        if sg != sy {
            return Err(shape_error(format!(
                "{name}: grad_output has shape {} but the output has shape {}",
                fmt_shape(&sg),
                fmt_shape(&sy)
            )));
        }
        ensure_room::<T>(name, &[&sy])?;
        let (dg, dy) = (data(&g)?, data(&y)?);
        let v = run(py, || {
            activation::softmax_backward(&dg, &dy, &sy, axis, log)
        })?;
        out(py, v, &sy)
    })
}

/// Softmax along `axis`, numerically stable.
#[pyfunction]
#[pyo3(signature = (x, axis=-1))]
pub fn softmax<'py>(py: Python<'py>, x: &Arr<'py>, axis: isize) -> BindResult<Arr<'py>> {
    softmax_op(py, x, axis, false)
}

/// Log-softmax along `axis`, numerically stable.
#[pyfunction]
#[pyo3(signature = (x, axis=-1))]
pub fn log_softmax<'py>(py: Python<'py>, x: &Arr<'py>, axis: isize) -> BindResult<Arr<'py>> {
    softmax_op(py, x, axis, true)
}

/// Gradient of softmax, given grad_output and softmax's output.
#[pyfunction]
#[pyo3(signature = (grad_output, output, axis=-1))]
pub fn softmax_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    output: &Arr<'py>,
    axis: isize,
) -> BindResult<Arr<'py>> {
    softmax_grad(py, grad_output, output, axis, false)
}

/// Gradient of log-softmax, given grad_output and log-softmax's output.
#[pyfunction]
#[pyo3(signature = (grad_output, output, axis=-1))]
pub fn log_softmax_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    output: &Arr<'py>,
    axis: isize,
) -> BindResult<Arr<'py>> {
    softmax_grad(py, grad_output, output, axis, true)
}

/// Reads the (batch, m, k) x (batch, k, n) layout of two 2-D or 3-D operands.
/// Matrix product of 2-D or batched 3-D operands.
#[pyfunction]
pub fn matmul<'py>(py: Python<'py>, a: &Arr<'py>, b: &Arr<'py>) -> BindResult<Arr<'py>> {
    with_float!("matmul", [("a", a), ("b", b)], |T| {
        let (a, b) = (borrow::<T>(a)?, borrow::<T>(b)?);
        let (sa, sb) = (shape(&a), shape(&b));
        let d = MatmulDims::of(&sa, &sb)?;
        ensure_room::<T>("matmul", &[&sa, &sb, &[d.batch, d.m, d.n]])?;
        if sa.len() == 2 && sb.len() == 2 && !(a.is_c_contiguous() && b.is_c_contiguous()) {
            if let (Some(va), Some(vb)) = (matrix_view(&a), matrix_view(&b)) {
                let v = run(py, || gemm::matmul_strided(va, vb, (d.m, d.k, d.n)))?;
                return out(py, v, &[d.m, d.n]);
            }
        }
        let (da, db) = (data(&a)?, data(&b)?);
        let v = run(py, || gemm::matmul(&da, &db, d))?;
        out(py, v, &d.out_shape(&sa, &sb))
    })
}

/// Gradients of `a @ b` with respect to `a` and `b`.
#[pyfunction]
pub fn matmul_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    a: &Arr<'py>,
    b: &Arr<'py>,
) -> BindResult<Bound<'py, PyTuple>> {
    with_float!(
        "matmul_backward",
        [("grad_output", grad_output), ("a", a), ("b", b)],
        |T| {
            let (g, a, b) = (borrow::<T>(grad_output)?, borrow::<T>(a)?, borrow::<T>(b)?);
            let (sg, sa, sb) = (shape(&g), shape(&a), shape(&b));
            let d = MatmulDims::of(&sa, &sb)?;
            d.check_grad(&sg, &sa, &sb)?;
            ensure_room::<T>("matmul_backward", &[&sg, &sa, &sb])?;
            let (dg, da, db) = (data(&g)?, data(&a)?, data(&b)?);
            let (ga, gb) = run(py, || gemm::matmul_backward(&dg, &da, &db, d))?;
            Ok(PyTuple::new(py, [out(py, ga, &sa)?, out(py, gb, &sb)?])?)
        }
    )
}

/// `x @ weight^T + bias` for `x` (..., in), `weight` (out, in) (PyTorch's layout), `bias`
/// (out,); the result has shape (..., out).
#[pyfunction]
#[pyo3(signature = (x, weight, bias=None))]
pub fn linear<'py>(
    py: Python<'py>,
    x: &Arr<'py>,
    weight: &Arr<'py>,
    bias: Option<&Arr<'py>>,
) -> BindResult<Arr<'py>> {
    with_float!("linear", [("x", x), ("weight", weight)], |T| {
        let (x, w) = (borrow::<T>(x)?, borrow::<T>(weight)?);
        let b = bias.map(borrow::<T>).transpose()?;
        let (sx, sw, sb) = (shape(&x), shape(&w), b.as_ref().map(shape));
        let (m, k, n) = gemm::linear_dims("linear", &sx, &sw, sb.as_deref())?;
        let (dx, dw) = (data(&x)?, data(&w)?);
        let db = b.as_ref().map(|b| data(b)).transpose()?;
        let v = run(py, || gemm::linear(&dx, &dw, db.as_deref(), m, k, n))?;
        out(py, v, &gemm::linear_out_shape(&sx, n))
    })
}

/// Gradients of `linear`: `(grad_x, grad_weight, grad_bias)`; `grad_x` is None when
/// `input_grad` is false (its product is skipped).
#[pyfunction]
#[pyo3(signature = (grad_output, x, weight, input_grad=true))]
pub fn linear_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    x: &Arr<'py>,
    weight: &Arr<'py>,
    input_grad: bool,
) -> BindResult<Bound<'py, PyTuple>> {
    with_float!(
        "linear_backward",
        [("grad_output", grad_output), ("x", x), ("weight", weight)],
        |T| {
            let (g, x, w) = (
                borrow::<T>(grad_output)?,
                borrow::<T>(x)?,
                borrow::<T>(weight)?,
            );
            let (sg, sx, sw) = (shape(&g), shape(&x), shape(&w));
            let (m, k, n) = gemm::linear_backward_dims(&sg, &sx, &sw)?;
            let (dg, dx, dw) = (data(&g)?, data(&x)?, data(&w)?);
            let (gx, gw, gb) = run(py, || {
                gemm::linear_backward_opt(&dg, &dx, &dw, m, k, n, input_grad)
            })?;
            let gx = if input_grad {
                out(py, gx, &sx)?
            } else {
                py.None().into_bound(py)
            };
            let outs = [gx, out(py, gw, &sw)?, out(py, gb, &[n])?];
            Ok(PyTuple::new(py, outs)?)
        }
    )
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add_all {
        ($($f:ident),+ $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )+ };
    }
    add_all!(
        add,
        add_backward,
        sub,
        sub_backward,
        mul,
        mul_backward,
        div,
        div_backward,
        exp,
        exp_backward,
        log,
        log_backward,
        sqrt,
        sqrt_backward,
        neg,
        neg_backward,
        abs,
        abs_backward,
        log1p,
        log1p_backward,
        clamp,
        clamp_backward,
        copy,
        take_rows,
        pow,
        pow_backward,
        sum,
        sum_backward,
        mean,
        mean_backward,
        max,
        max_backward,
        min,
        min_backward,
        argmax,
        argmin,
        var,
        var_backward,
        std_dev,
        std_backward,
        sum_to_shape,
        softmax,
        softmax_backward,
        log_softmax,
        log_softmax_backward,
        matmul,
        matmul_backward,
        linear,
        linear_backward,
    );
    Ok(())
}
