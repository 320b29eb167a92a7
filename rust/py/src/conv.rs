//! Bindings of the convolution and pooling kernels (the `ferrograd._core` functions behind
//! `ferrograd.ops.conv2d`, `max_pool2d`, `avg_pool2d` and their gradients). Sizes arrive as
//! lists already normalised by `ferrograd.ops`; they are checked again here.

use ferrograd_core::conv::{self, Conv2dDims, Conv2dSpec, Pool2dDims, Pool2dSpec};
use ferrograd_core::shape::{checked_numel, fmt_shape};
use numpy::PyUntypedArrayMethods;
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrays::{borrow, borrow_as, common_float, data, out, shape};
use crate::errors::{run, shape_error, value_error, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

/// Work buffers of at least this many elements are tried up front (see [`ensure_scratch`]).
const CHECK_ROOM: usize = 1 << 24;

/// The convolution's per-thread work buffer (the im2col columns of a block of items) comes
/// from a reused pool that grows in place and cannot fail softly, unlike results (which the
/// kernels allocate through `ferrograd_core::buf`): a size the allocator cannot give is a
/// `MemoryError` here, before the kernel runs.
fn ensure_scratch<T>(func: &str, most: usize) -> BindResult<()> {
    if most >= CHECK_ROOM {
        Vec::<T>::new().try_reserve_exact(most).map_err(|_| {
            PyMemoryError::new_err(format!(
                "{func}: cannot allocate {most} elements ({} bytes)",
                most.saturating_mul(std::mem::size_of::<T>())
            ))
        })?;
    }
    Ok(())
}

/// `v` as `N` sizes. A negative value is no size and is refused here, worded by `min` (1 for
/// strides, 0 for paddings); a zero where `min` is 1 is refused by the kernel's dims check.
fn sizes<const N: usize>(func: &str, name: &str, v: &[i64], min: i64) -> BindResult<[usize; N]> {
    if v.len() != N {
        return Err(value_error(format!(
            "{func}: {name} must have {N} values, got {v:?}"
        )));
    }
    if let Some(bad) = v.iter().find(|&&x| x < 0) {
        let what = if min > 0 { "positive" } else { "non-negative" };
        return Err(value_error(format!(
            "{func}: {name} must be {what}, got {bad} in {v:?}"
        )));
    }
    let mut out = [0usize; N];
    for (o, &x) in out.iter_mut().zip(v) {
        *o = usize::try_from(x).map_err(|_| value_error(format!("{func}: bad {name}")))?;
    }
    Ok(out)
}

fn conv_spec(
    func: &str,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> BindResult<Conv2dSpec> {
    let (padding, padding_end) = match padding.len() {
        4 => {
            let p = sizes::<4>(func, "padding", padding, 0)?;
            ([p[0], p[2]], [p[1], p[3]])
        }
        _ => {
            let p = sizes::<2>(func, "padding", padding, 0)?;
            (p, p)
        }
    };
    // A zero is refused by `Conv2dDims::new`, with the same message.
    if groups < 0 {
        return Err(value_error(format!(
            "{func}: groups must be positive, got {groups}"
        )));
    }
    Ok(Conv2dSpec {
        stride: sizes(func, "stride", stride, 1)?,
        padding,
        padding_end,
        dilation: sizes(func, "dilation", dilation, 1)?,
        groups: groups as usize,
    })
}

/// 2-D convolution of `input` (N, C_in, H, W) with `weight` (C_out, C_in / groups, kH, kW).
/// `padding` is (pad_h, pad_w) or (top, bottom, left, right).
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=vec![1, 1], padding=vec![0, 0], dilation=vec![1, 1], groups=1))]
#[allow(clippy::too_many_arguments)]
pub fn conv2d<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    weight: &Arr<'py>,
    bias: Option<&Arr<'py>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
) -> BindResult<Arr<'py>> {
    let spec = conv_spec("conv2d", &stride, &padding, &dilation, groups)?;
    if let Some(b) = bias {
        common_float("conv2d", &[("input", input), ("bias", b)])?;
    }
    with_float!("conv2d", [("input", input), ("weight", weight)], |T| {
        let (x, w) = (borrow::<T>(input)?, borrow::<T>(weight)?);
        let b = bias.map(borrow::<T>).transpose()?;
        let (sx, sw) = (shape(&x), shape(&w));
        let sb = b.as_ref().map(|b| shape(b));
        let d = Conv2dDims::new("conv2d", &sx, &sw, sb.as_deref(), spec)?;
        ensure_scratch::<T>("conv2d", d.col_len())?;
        let (dx, dw) = (data(&x)?, data(&w)?);
        let db = b.as_ref().map(|b| data(b)).transpose()?;
        let v = run(py, || conv::conv2d(&dx, &dw, db.as_deref(), &d))?;
        out(py, v, &d.out_shape())
    })
}

/// Gradients of `conv2d`: `(grad_input, grad_weight, grad_bias)`; `grad_input` is None when
/// `input_grad` is false.
#[pyfunction]
#[pyo3(signature = (grad_output, input, weight, stride=vec![1, 1], padding=vec![0, 0], dilation=vec![1, 1], groups=1, input_grad=true))]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input: &Arr<'py>,
    weight: &Arr<'py>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
    input_grad: bool,
) -> BindResult<Bound<'py, PyTuple>> {
    let func = "conv2d_backward";
    let spec = conv_spec(func, &stride, &padding, &dilation, groups)?;
    with_float!(
        func,
        [
            ("grad_output", grad_output),
            ("input", input),
            ("weight", weight)
        ],
        |T| {
            let (g, x, w) = (
                borrow::<T>(grad_output)?,
                borrow::<T>(input)?,
                borrow::<T>(weight)?,
            );
            let (sg, sx, sw) = (shape(&g), shape(&x), shape(&w));
            let d = Conv2dDims::new(func, &sx, &sw, None, spec)?;
            d.check_grad_output(func, &sg)?;
            ensure_scratch::<T>(func, d.col_len())?;
            let (dg, dx, dw) = (data(&g)?, data(&x)?, data(&w)?);
            let (gx, gw, gb) = run(py, || conv::conv2d_backward(&dg, &dx, &dw, &d, input_grad))?;
            let gx = if input_grad {
                out(py, gx, &sx)?
            } else {
                py.None().into_bound(py)
            };
            Ok(PyTuple::new(
                py,
                [gx, out(py, gw, &sw)?, out(py, gb, &[d.c_out])?],
            )?)
        }
    )
}

fn pool_spec(
    func: &str,
    kernel_size: &[i64],
    stride: Option<&[i64]>,
    padding: &[i64],
    dilation: &[i64],
    ceil_mode: bool,
) -> BindResult<Pool2dSpec> {
    let kernel = sizes(func, "kernel_size", kernel_size, 1)?;
    Ok(Pool2dSpec {
        kernel,
        stride: match stride {
            Some(s) => sizes(func, "stride", s, 1)?,
            None => kernel,
        },
        padding: sizes(func, "padding", padding, 0)?,
        dilation: sizes(func, "dilation", dilation, 1)?,
        ceil_mode,
    })
}

/// Max pooling over the last two axes of `input` (N, C, H, W) or (C, H, W). Returns
/// `(output, indices)` with int64 indices into each input plane (`y * W + x`).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=vec![0, 0], dilation=vec![1, 1], ceil_mode=false))]
pub fn max_pool2d<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    kernel_size: Vec<i64>,
    stride: Option<Vec<i64>>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    ceil_mode: bool,
) -> BindResult<Bound<'py, PyTuple>> {
    let func = "max_pool2d";
    let spec = pool_spec(
        func,
        &kernel_size,
        stride.as_deref(),
        &padding,
        &dilation,
        ceil_mode,
    )?;
    with_float!(func, [("input", input)], |T| {
        let x = borrow::<T>(input)?;
        let sx = shape(&x);
        let d = Pool2dDims::new(func, &sx, spec)?;
        let so = d.out_shape(&sx);
        let dx = data(&x)?;
        let (v, idx) = run(py, || conv::max_pool2d(&dx, &d))?;
        Ok(PyTuple::new(py, [out(py, v, &so)?, out(py, idx, &so)?])?)
    })
}

/// Gradient of `max_pool2d` from its `indices`, for an input of shape `input_shape`.
#[pyfunction]
pub fn max_pool2d_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    indices: &Arr<'py>,
    input_shape: Vec<usize>,
) -> BindResult<Arr<'py>> {
    let func = "max_pool2d_backward";
    let idx = borrow_as::<i64>(func, "indices", "an int64 array", indices)?;
    with_float!(func, [("grad_output", grad_output)], |T| {
        let g = borrow::<T>(grad_output)?;
        let (sg, si) = (shape(&g), idx.shape().to_vec());
        let nd = input_shape.len();
        if sg != si
            || !(nd == 3 || nd == 4)
            || sg.len() != nd
            || sg[..nd - 2] != input_shape[..nd - 2]
        {
            return Err(shape_error(format!(
                "{func}: grad_output {}, indices {} and input shape {} do not fit; expected \
                 (N, C, H_out, W_out), the same, and (N, C, H, W)",
                fmt_shape(&sg),
                fmt_shape(&si),
                fmt_shape(&input_shape)
            )));
        }
        checked_numel(&input_shape)
            .filter(|&n| n <= isize::MAX as usize / 8)
            .ok_or_else(|| {
                shape_error(format!(
                    "{func}: input shape {} is too big",
                    fmt_shape(&input_shape)
                ))
            })?;
        let planes = sg[..nd - 2].iter().product::<usize>();
        let (in_plane, out_plane) = (
            input_shape[nd - 2] * input_shape[nd - 1],
            sg[nd - 2] * sg[nd - 1],
        );
        let (dg, di) = (data(&g)?, data(&idx)?);
        let v = run(py, || {
            conv::max_pool2d_backward(&dg, &di, planes, in_plane, out_plane)
        })?;
        out(py, v, &input_shape)
    })
}

/// `divisor_override` as a size; a zero is refused by the kernel, with the same message.
fn divisor(func: &str, divisor_override: Option<i64>) -> BindResult<Option<usize>> {
    match divisor_override {
        Some(v) if v < 0 => Err(value_error(format!(
            "{func}: divisor_override must be positive, got {v}"
        ))),
        v => Ok(v.map(|v| v as usize)),
    }
}

/// Average pooling over the last two axes of `input` (N, C, H, W) or (C, H, W).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=vec![0, 0], ceil_mode=false, count_include_pad=true, divisor_override=None))]
#[allow(clippy::too_many_arguments)]
pub fn avg_pool2d<'py>(
    py: Python<'py>,
    input: &Arr<'py>,
    kernel_size: Vec<i64>,
    stride: Option<Vec<i64>>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> BindResult<Arr<'py>> {
    let func = "avg_pool2d";
    let spec = pool_spec(
        func,
        &kernel_size,
        stride.as_deref(),
        &padding,
        &[1, 1],
        ceil_mode,
    )?;
    let div = divisor(func, divisor_override)?;
    with_float!(func, [("input", input)], |T| {
        let x = borrow::<T>(input)?;
        let sx = shape(&x);
        let d = Pool2dDims::new(func, &sx, spec)?;
        let so = d.out_shape(&sx);
        let dx = data(&x)?;
        let v = run(py, || conv::avg_pool2d(&dx, &d, count_include_pad, div))?;
        out(py, v, &so)
    })
}

/// Gradient of `avg_pool2d` for an input of shape `input_shape`.
#[pyfunction]
#[pyo3(signature = (grad_output, input_shape, kernel_size, stride=None, padding=vec![0, 0], ceil_mode=false, count_include_pad=true, divisor_override=None))]
#[allow(clippy::too_many_arguments)]
pub fn avg_pool2d_backward<'py>(
    py: Python<'py>,
    grad_output: &Arr<'py>,
    input_shape: Vec<usize>,
    kernel_size: Vec<i64>,
    stride: Option<Vec<i64>>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> BindResult<Arr<'py>> {
    let func = "avg_pool2d_backward";
    let spec = pool_spec(
        func,
        &kernel_size,
        stride.as_deref(),
        &padding,
        &[1, 1],
        ceil_mode,
    )?;
    let div = divisor(func, divisor_override)?;
    with_float!(func, [("grad_output", grad_output)], |T| {
        let g = borrow::<T>(grad_output)?;
        let sg = shape(&g);
        let d = Pool2dDims::new(func, &input_shape, spec)?;
        d.check_grad_output(func, &input_shape, &sg)?;
        checked_numel(&input_shape)
            .filter(|&n| n <= isize::MAX as usize / 8)
            .ok_or_else(|| {
                shape_error(format!(
                    "{func}: input shape {} is too big",
                    fmt_shape(&input_shape)
                ))
            })?;
        let dg = data(&g)?;
        let v = run(py, || {
            conv::avg_pool2d_backward(&dg, &d, count_include_pad, div)
        })?;
        out(py, v, &input_shape)
    })
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d_backward, m)?)?;
    Ok(())
}
