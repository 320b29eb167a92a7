//! Bindings of the optim kernels: fused in-place optimizer steps over lists of arrays, global
//! gradient norms, in-place scaling and clamping, and weight penalties.
//!
//! Every step function takes the parameters of one group as a list of arrays plus one list per
//! kind of state, all of the parameters' dtype and shapes. Parameters and state are updated in
//! place (they must be writeable and C-contiguous); gradients may be any layout (copied once
//! when not contiguous). Everything is checked before anything is written.

use std::borrow::Cow;

use ferrograd_core::optim::{self, Penalty};
use ferrograd_core::Real;
use numpy::{
    BorrowError, Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::arrays::{data, float_of, out, Float};
use crate::errors::{dtype_error, run, shape_error, value_error};

type Obj<'py> = Bound<'py, PyAny>;

fn dtype_name(f: Float) -> &'static str {
    match f {
        Float::F32 => "float32",
        Float::F64 => "float64",
    }
}

/// The float type of the first parameter (float64 for an empty list: nothing to do).
fn group_float(func: &str, first: Option<&Obj<'_>>, arg: &str) -> PyResult<Float> {
    match first {
        Some(a) => float_of(func, &format!("{arg}[0]"), a),
        None => Ok(Float::F64),
    }
}

/// Checks that a state list has one entry per parameter.
fn check_count(func: &str, arg: &str, got: usize, want: usize) -> PyResult<()> {
    if got != want {
        return Err(value_error(format!(
            "{func}: {want} params but {got} {arg}"
        )));
    }
    Ok(())
}

/// `obj` as an array of `T`, or a `DTypeError` naming it.
fn typed<'a, 'py, T: Element>(
    func: &str,
    arg: &str,
    i: usize,
    obj: &'a Obj<'py>,
    want: Float,
) -> PyResult<&'a Bound<'py, PyArrayDyn<T>>> {
    match obj.cast::<PyArrayDyn<T>>() {
        Ok(a) => Ok(a),
        Err(_) => {
            let what = match float_of(func, arg, obj) {
                Ok(f) => dtype_name(f).to_string(),
                Err(_) => obj
                    .getattr("dtype")
                    .map(|d| d.to_string())
                    .unwrap_or_else(|_| obj.get_type().to_string()),
            };
            Err(dtype_error(format!(
                "{func}: {arg}[{i}] is {what} but params are {}",
                dtype_name(want)
            )))
        }
    }
}

/// Checks that `got` (the shape of `arg[i]`) equals the shape of `params[i]`.
fn check_shape(func: &str, arg: &str, i: usize, got: &[usize], want: &[usize]) -> PyResult<()> {
    if got != want {
        return Err(shape_error(format!(
            "{func}: {arg}[{i}] has shape {got:?} but params[{i}] has shape {want:?}"
        )));
    }
    Ok(())
}

/// Borrows every array of `objs` for writing; each must have the matching shape in `shapes`
/// (when given), be writeable, C-contiguous and distinct from every other array of the call.
pub(crate) fn borrow_mut_list<'py, T: Element>(
    func: &str,
    arg: &str,
    objs: &[Obj<'py>],
    shapes: Option<&[Vec<usize>]>,
    want: Float,
) -> PyResult<Vec<PyReadwriteArrayDyn<'py, T>>> {
    let mut out = Vec::with_capacity(objs.len());
    for (i, obj) in objs.iter().enumerate() {
        let a = typed::<T>(func, arg, i, obj, want)?;
        if let Some(shapes) = shapes {
            check_shape(func, arg, i, a.shape(), &shapes[i])?;
        }
        if !a.is_c_contiguous() {
            return Err(value_error(format!(
                "{func}: {arg}[{i}] must be C-contiguous to be updated in place"
            )));
        }
        let rw = a.try_readwrite().map_err(|e| {
            let why = if matches!(e, BorrowError::NotWriteable) {
                "is read-only"
            } else {
                "shares memory with another array of this call (every parameter, gradient and \
                 state buffer must be a distinct array)"
            };
            value_error(format!("{func}: {arg}[{i}] {why}"))
        })?;
        out.push(rw);
    }
    Ok(out)
}

/// Borrows every array of `objs` for reading, checking dtype and shape.
fn borrow_list<'py, T: Element>(
    func: &str,
    arg: &str,
    objs: &[Obj<'py>],
    shapes: &[Vec<usize>],
    want: Float,
) -> PyResult<Vec<PyReadonlyArrayDyn<'py, T>>> {
    let mut out = Vec::with_capacity(objs.len());
    for (i, obj) in objs.iter().enumerate() {
        let a = typed::<T>(func, arg, i, obj, want)?;
        check_shape(func, arg, i, a.shape(), &shapes[i])?;
        let ro = a.try_readonly().map_err(|_| {
            value_error(format!(
                "{func}: {arg}[{i}] shares memory with an array this call updates"
            ))
        })?;
        out.push(ro);
    }
    Ok(out)
}

/// Mutable slices of borrowed arrays (contiguity was checked when borrowing).
fn slices_mut<'a, T: Element>(
    func: &str,
    arg: &str,
    guards: &'a mut [PyReadwriteArrayDyn<'_, T>],
) -> PyResult<Vec<&'a mut [T]>> {
    guards
        .iter_mut()
        .enumerate()
        .map(|(i, g)| {
            g.as_slice_mut()
                .map_err(|_| value_error(format!("{func}: {arg}[{i}] must be C-contiguous")))
        })
        .collect()
}

/// Optional per-parameter state: a list of mutable slices or nothing.
fn opt_slices<'a, T: Element>(
    func: &str,
    arg: &str,
    guards: &'a mut Option<Vec<PyReadwriteArrayDyn<'_, T>>>,
    n: usize,
) -> PyResult<Vec<Option<&'a mut [T]>>> {
    match guards {
        Some(g) => Ok(slices_mut(func, arg, g)?.into_iter().map(Some).collect()),
        None => Ok((0..n).map(|_| None).collect()),
    }
}

/// The parameters (borrowed for writing) and their gradients (read, copied when strided).
struct Group<'py, T: Element> {
    params: Vec<PyReadwriteArrayDyn<'py, T>>,
    grads: Vec<PyReadonlyArrayDyn<'py, T>>,
    shapes: Vec<Vec<usize>>,
}

impl<'py, T: Element + Copy> Group<'py, T> {
    fn new(func: &str, params: &[Obj<'py>], grads: &[Obj<'py>], want: Float) -> PyResult<Self> {
        check_count(func, "grads", grads.len(), params.len())?;
        let params = borrow_mut_list::<T>(func, "params", params, None, want)?;
        let shapes: Vec<Vec<usize>> = params.iter().map(|p| p.shape().to_vec()).collect();
        let grads = borrow_list::<T>(func, "grads", grads, &shapes, want)?;
        Ok(Group {
            params,
            grads,
            shapes,
        })
    }

    fn state(
        &self,
        func: &str,
        arg: &str,
        objs: &[Obj<'py>],
        want: Float,
    ) -> PyResult<Vec<PyReadwriteArrayDyn<'py, T>>> {
        check_count(func, arg, objs.len(), self.params.len())?;
        borrow_mut_list::<T>(func, arg, objs, Some(&self.shapes), want)
    }

    fn opt_state(
        &self,
        func: &str,
        arg: &str,
        objs: Option<&[Obj<'py>]>,
        want: Float,
    ) -> PyResult<Option<Vec<PyReadwriteArrayDyn<'py, T>>>> {
        objs.map(|o| self.state(func, arg, o, want)).transpose()
    }
}

fn grad_data<'a, T: Element + Copy>(
    grads: &'a [PyReadonlyArrayDyn<'_, T>],
) -> PyResult<Vec<Cow<'a, [T]>>> {
    grads.iter().map(data).collect()
}

fn check_steps(func: &str, steps: &[f64], n: usize) -> PyResult<()> {
    check_count(func, "steps", steps.len(), n)
}

// ------------------------------------------------------------------------------ SGD

#[allow(clippy::too_many_arguments)]
fn sgd_impl<'py, T: Element + Real>(
    py: Python<'py>,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    momentum_buffers: Option<&[Obj<'py>]>,
    fresh: &[bool],
    hp: &optim::Sgd,
) -> PyResult<()> {
    let func = "sgd_step";
    let mut g = Group::<T>::new(func, params, grads, want)?;
    let mut bufs = g.opt_state(func, "momentum_buffers", momentum_buffers, want)?;
    if bufs.is_some() {
        check_count(func, "fresh flags", fresh.len(), g.params.len())?;
    }
    let n = g.params.len();
    let gd = grad_data(&g.grads)?;
    let ps = slices_mut(func, "params", &mut g.params)?;
    let bs = opt_slices(func, "momentum_buffers", &mut bufs, n)?;
    let slots: Vec<_> = ps
        .into_iter()
        .zip(&gd)
        .zip(bs)
        .enumerate()
        .map(|(i, ((param, grad), momentum_buffer))| optim::SgdSlot {
            param,
            grad,
            momentum_buffer,
            fresh_buffer: fresh.get(i).copied().unwrap_or(false),
        })
        .collect();
    run(py, || optim::sgd_step(hp, slots))
}

/// One SGD step over a parameter group, in place (PyTorch's `torch.optim.SGD` rule).
///
/// `momentum_buffers` (one per parameter) is needed when momentum is non-zero; `fresh[i]`
/// marks a buffer without history, which this step sets to the gradient.
#[pyfunction]
#[pyo3(signature = (params, grads, momentum_buffers, fresh, *, lr, momentum, dampening, weight_decay, nesterov, maximize))]
#[allow(clippy::too_many_arguments)]
pub fn sgd_step<'py>(
    py: Python<'py>,
    params: Vec<Obj<'py>>,
    grads: Vec<Obj<'py>>,
    momentum_buffers: Option<Vec<Obj<'py>>>,
    fresh: Vec<bool>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<()> {
    let hp = optim::Sgd {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
    };
    hp.validate().map_err(crate::errors::to_py)?;
    let want = group_float("sgd_step", params.first(), "params")?;
    let mb = momentum_buffers.as_deref();
    match want {
        Float::F32 => sgd_impl::<f32>(py, want, &params, &grads, mb, &fresh, &hp),
        Float::F64 => sgd_impl::<f64>(py, want, &params, &grads, mb, &fresh, &hp),
    }
}

// ------------------------------------------------------------------------------ Adam

#[allow(clippy::too_many_arguments)]
fn adam_impl<'py, T: Element + Real>(
    py: Python<'py>,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    exp_avgs: &[Obj<'py>],
    exp_avg_sqs: &[Obj<'py>],
    max_exp_avg_sqs: Option<&[Obj<'py>]>,
    steps: &[f64],
    hp: &optim::Adam,
) -> PyResult<()> {
    let func = "adam_step";
    let mut g = Group::<T>::new(func, params, grads, want)?;
    check_steps(func, steps, g.params.len())?;
    let mut m = g.state(func, "exp_avgs", exp_avgs, want)?;
    let mut v = g.state(func, "exp_avg_sqs", exp_avg_sqs, want)?;
    let mut x = g.opt_state(func, "max_exp_avg_sqs", max_exp_avg_sqs, want)?;
    let n = g.params.len();
    let gd = grad_data(&g.grads)?;
    let ps = slices_mut(func, "params", &mut g.params)?;
    let ms = slices_mut(func, "exp_avgs", &mut m)?;
    let vs = slices_mut(func, "exp_avg_sqs", &mut v)?;
    let xs = opt_slices(func, "max_exp_avg_sqs", &mut x, n)?;
    let slots: Vec<_> = ps
        .into_iter()
        .zip(&gd)
        .zip(ms.into_iter().zip(vs))
        .zip(xs.into_iter().zip(steps))
        .map(
            |(((param, grad), (exp_avg, exp_avg_sq)), (max_exp_avg_sq, &step))| optim::AdamSlot {
                param,
                grad,
                exp_avg,
                exp_avg_sq,
                max_exp_avg_sq,
                step,
            },
        )
        .collect();
    run(py, || optim::adam_step(hp, slots))
}

/// One Adam/AdamW step over a parameter group, in place (PyTorch's `torch.optim.Adam` rule;
/// `decoupled_weight_decay=True` is `torch.optim.AdamW`).
///
/// `steps[i]` is the number of this update for parameter `i` (1 on its first), which sets
/// its bias corrections. `max_exp_avg_sqs` is needed with `amsgrad`.
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay))]
#[allow(clippy::too_many_arguments)]
pub fn adam_step<'py>(
    py: Python<'py>,
    params: Vec<Obj<'py>>,
    grads: Vec<Obj<'py>>,
    exp_avgs: Vec<Obj<'py>>,
    exp_avg_sqs: Vec<Obj<'py>>,
    max_exp_avg_sqs: Option<Vec<Obj<'py>>>,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> PyResult<()> {
    let hp = optim::Adam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        decoupled_weight_decay,
    };
    hp.validate().map_err(crate::errors::to_py)?;
    let want = group_float("adam_step", params.first(), "params")?;
    let x = max_exp_avg_sqs.as_deref();
    match want {
        Float::F32 => adam_impl::<f32>(
            py,
            want,
            &params,
            &grads,
            &exp_avgs,
            &exp_avg_sqs,
            x,
            &steps,
            &hp,
        ),
        Float::F64 => adam_impl::<f64>(
            py,
            want,
            &params,
            &grads,
            &exp_avgs,
            &exp_avg_sqs,
            x,
            &steps,
            &hp,
        ),
    }
}

// ------------------------------------------------------------------------------ RMSprop

#[allow(clippy::too_many_arguments)]
fn rmsprop_impl<'py, T: Element + Real>(
    py: Python<'py>,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    square_avgs: &[Obj<'py>],
    grad_avgs: Option<&[Obj<'py>]>,
    momentum_buffers: Option<&[Obj<'py>]>,
    hp: &optim::Rmsprop,
) -> PyResult<()> {
    let func = "rmsprop_step";
    let mut g = Group::<T>::new(func, params, grads, want)?;
    let mut sq = g.state(func, "square_avgs", square_avgs, want)?;
    let mut ga = g.opt_state(func, "grad_avgs", grad_avgs, want)?;
    let mut mb = g.opt_state(func, "momentum_buffers", momentum_buffers, want)?;
    let n = g.params.len();
    let gd = grad_data(&g.grads)?;
    let ps = slices_mut(func, "params", &mut g.params)?;
    let sqs = slices_mut(func, "square_avgs", &mut sq)?;
    let gas = opt_slices(func, "grad_avgs", &mut ga, n)?;
    let mbs = opt_slices(func, "momentum_buffers", &mut mb, n)?;
    let slots: Vec<_> = ps
        .into_iter()
        .zip(&gd)
        .zip(sqs)
        .zip(gas.into_iter().zip(mbs))
        .map(
            |(((param, grad), square_avg), (grad_avg, momentum_buffer))| optim::RmspropSlot {
                param,
                grad,
                square_avg,
                grad_avg,
                momentum_buffer,
            },
        )
        .collect();
    run(py, || optim::rmsprop_step(hp, slots))
}

/// One RMSprop step over a parameter group, in place (PyTorch's `torch.optim.RMSprop` rule).
///
/// `grad_avgs` is needed when `centered`, `momentum_buffers` when `momentum > 0`.
#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha, eps, weight_decay, momentum, centered, maximize))]
#[allow(clippy::too_many_arguments)]
pub fn rmsprop_step<'py>(
    py: Python<'py>,
    params: Vec<Obj<'py>>,
    grads: Vec<Obj<'py>>,
    square_avgs: Vec<Obj<'py>>,
    grad_avgs: Option<Vec<Obj<'py>>>,
    momentum_buffers: Option<Vec<Obj<'py>>>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    let hp = optim::Rmsprop {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    };
    hp.validate().map_err(crate::errors::to_py)?;
    let want = group_float("rmsprop_step", params.first(), "params")?;
    let (ga, mb) = (grad_avgs.as_deref(), momentum_buffers.as_deref());
    match want {
        Float::F32 => rmsprop_impl::<f32>(py, want, &params, &grads, &square_avgs, ga, mb, &hp),
        Float::F64 => rmsprop_impl::<f64>(py, want, &params, &grads, &square_avgs, ga, mb, &hp),
    }
}

// ------------------------------------------------------------------------------ NAdam / RAdam

/// The per-parameter buffers of NAdam and RAdam, borrowed and checked.
#[allow(clippy::too_many_arguments)]
fn adam_like_impl<'py, T: Element + Real, R: Send>(
    py: Python<'py>,
    func: &str,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    exp_avgs: &[Obj<'py>],
    exp_avg_sqs: &[Obj<'py>],
    steps: &[f64],
    kernel: impl FnOnce(Vec<AdamLikeSlot<'_, T>>) -> ferrograd_core::Result<R> + Send,
) -> PyResult<R> {
    let mut g = Group::<T>::new(func, params, grads, want)?;
    check_steps(func, steps, g.params.len())?;
    let mut m = g.state(func, "exp_avgs", exp_avgs, want)?;
    let mut v = g.state(func, "exp_avg_sqs", exp_avg_sqs, want)?;
    let gd = grad_data(&g.grads)?;
    let ps = slices_mut(func, "params", &mut g.params)?;
    let ms = slices_mut(func, "exp_avgs", &mut m)?;
    let vs = slices_mut(func, "exp_avg_sqs", &mut v)?;
    let slots: Vec<_> = ps
        .into_iter()
        .zip(&gd)
        .zip(ms.into_iter().zip(vs))
        .zip(steps)
        .map(
            |(((param, grad), (exp_avg, exp_avg_sq)), &step)| AdamLikeSlot {
                param,
                grad,
                exp_avg,
                exp_avg_sq,
                step,
            },
        )
        .collect();
    run(py, || kernel(slots))
}

/// A parameter with its gradient, moments and step number.
struct AdamLikeSlot<'a, T> {
    param: &'a mut [T],
    grad: &'a [T],
    exp_avg: &'a mut [T],
    exp_avg_sq: &'a mut [T],
    step: f64,
}

/// One NAdam step over a parameter group, in place (PyTorch's `torch.optim.NAdam` rule).
///
/// `steps[i]` is the number of this update for parameter `i` (1 on its first) and
/// `mu_products[i]` the product of its earlier momentum coefficients (1 before the first).
/// Returns the new products, to be kept as each parameter's `mu_product` state.
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, steps, mu_products, *, lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize))]
#[allow(clippy::too_many_arguments)]
pub fn nadam_step<'py>(
    py: Python<'py>,
    params: Vec<Obj<'py>>,
    grads: Vec<Obj<'py>>,
    exp_avgs: Vec<Obj<'py>>,
    exp_avg_sqs: Vec<Obj<'py>>,
    steps: Vec<f64>,
    mu_products: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<Vec<f64>> {
    let func = "nadam_step";
    let hp = optim::Nadam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        momentum_decay,
        decoupled_weight_decay,
        maximize,
    };
    hp.validate().map_err(crate::errors::to_py)?;
    check_count(func, "mu_products", mu_products.len(), params.len())?;
    let want = group_float(func, params.first(), "params")?;
    let (p, g, m, v) = (&params, &grads, &exp_avgs, &exp_avg_sqs);
    macro_rules! go {
        ($T:ty) => {
            adam_like_impl::<$T, _>(py, func, want, p, g, m, v, &steps, |slots| {
                let slots = slots
                    .into_iter()
                    .zip(&mu_products)
                    .map(|(s, &mu_product)| optim::NadamSlot {
                        param: s.param,
                        grad: s.grad,
                        exp_avg: s.exp_avg,
                        exp_avg_sq: s.exp_avg_sq,
                        step: s.step,
                        mu_product,
                    })
                    .collect();
                optim::nadam_step(&hp, slots)
            })
        };
    }
    match want {
        Float::F32 => go!(f32),
        Float::F64 => go!(f64),
    }
}

/// One RAdam step over a parameter group, in place (PyTorch's `torch.optim.RAdam` rule).
///
/// `steps[i]` is the number of this update for parameter `i` (1 on its first).
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize))]
#[allow(clippy::too_many_arguments)]
pub fn radam_step<'py>(
    py: Python<'py>,
    params: Vec<Obj<'py>>,
    grads: Vec<Obj<'py>>,
    exp_avgs: Vec<Obj<'py>>,
    exp_avg_sqs: Vec<Obj<'py>>,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> PyResult<()> {
    let func = "radam_step";
    let hp = optim::Radam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        decoupled_weight_decay,
        maximize,
    };
    hp.validate().map_err(crate::errors::to_py)?;
    let want = group_float(func, params.first(), "params")?;
    let (p, g, m, v) = (&params, &grads, &exp_avgs, &exp_avg_sqs);
    macro_rules! go {
        ($T:ty) => {
            adam_like_impl::<$T, _>(py, func, want, p, g, m, v, &steps, |slots| {
                let slots = slots
                    .into_iter()
                    .map(|s| optim::RadamSlot {
                        param: s.param,
                        grad: s.grad,
                        exp_avg: s.exp_avg,
                        exp_avg_sq: s.exp_avg_sq,
                        step: s.step,
                    })
                    .collect();
                optim::radam_step(&hp, slots)
            })
        };
    }
    match want {
        Float::F32 => go!(f32),
        Float::F64 => go!(f64),
    }
}

// ------------------------------------------------------------------------------ Adagrad

fn adagrad_impl<'py, T: Element + Real>(
    py: Python<'py>,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    state_sums: &[Obj<'py>],
    steps: &[f64],
    hp: &optim::Adagrad,
) -> PyResult<()> {
    let func = "adagrad_step";
    let mut g = Group::<T>::new(func, params, grads, want)?;
    check_steps(func, steps, g.params.len())?;
    let mut s = g.state(func, "state_sums", state_sums, want)?;
    let gd = grad_data(&g.grads)?;
    let ps = slices_mut(func, "params", &mut g.params)?;
    let ss = slices_mut(func, "state_sums", &mut s)?;
    let slots: Vec<_> = ps
        .into_iter()
        .zip(&gd)
        .zip(ss.into_iter().zip(steps))
        .map(|((param, grad), (state_sum, &step))| optim::AdagradSlot {
            param,
            grad,
            state_sum,
            step,
        })
        .collect();
    run(py, || optim::adagrad_step(hp, slots))
}

/// One Adagrad step over a parameter group, in place (PyTorch's `torch.optim.Adagrad` rule).
///
/// `steps[i]` is the number of this update for parameter `i` (1 on its first).
#[pyfunction]
#[pyo3(signature = (params, grads, state_sums, steps, *, lr, lr_decay, weight_decay, eps, maximize))]
#[allow(clippy::too_many_arguments)]
pub fn adagrad_step<'py>(
    py: Python<'py>,
    params: Vec<Obj<'py>>,
    grads: Vec<Obj<'py>>,
    state_sums: Vec<Obj<'py>>,
    steps: Vec<f64>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    let hp = optim::Adagrad {
        lr,
        lr_decay,
        weight_decay,
        eps,
        maximize,
    };
    hp.validate().map_err(crate::errors::to_py)?;
    let want = group_float("adagrad_step", params.first(), "params")?;
    match want {
        Float::F32 => adagrad_impl::<f32>(py, want, &params, &grads, &state_sums, &steps, &hp),
        Float::F64 => adagrad_impl::<f64>(py, want, &params, &grads, &state_sums, &steps, &hp),
    }
}

// ------------------------------------------------------------------------------ norms

/// Splits `arrays` by float type (float32 ones, float64 ones), naming any other dtype.
fn by_float<'a, 'py>(
    func: &str,
    arrays: &'a [Obj<'py>],
) -> PyResult<(Vec<&'a Obj<'py>>, Vec<&'a Obj<'py>>)> {
    let (mut a32, mut a64) = (Vec::new(), Vec::new());
    for (i, a) in arrays.iter().enumerate() {
        match float_of(func, &format!("arrays[{i}]"), a)? {
            Float::F32 => a32.push(a),
            Float::F64 => a64.push(a),
        }
    }
    Ok((a32, a64))
}

/// `f` on the data of `arrays` (all of type `T`), with the GIL released.
fn reduce<T: Element + Real>(
    py: Python<'_>,
    arrays: &[&Obj<'_>],
    f: impl FnOnce(&[&[T]]) -> ferrograd_core::Result<f64> + Send,
) -> PyResult<f64> {
    let guards = arrays
        .iter()
        .map(|a| Ok(a.cast::<PyArrayDyn<T>>()?.try_readonly()?))
        .collect::<PyResult<Vec<_>>>()?;
    let owned: Vec<Cow<[T]>> = guards.iter().map(data).collect::<PyResult<_>>()?;
    let refs: Vec<&[T]> = owned.iter().map(|c| c.as_ref()).collect();
    run(py, || f(&refs))
}

/// The `norm_type`-norm of all elements of all `arrays` taken as one vector (`inf`: the
/// largest absolute value), computed in float64. Arrays may mix float32 and float64.
#[pyfunction]
pub fn total_norm<'py>(py: Python<'py>, arrays: Vec<Obj<'py>>, norm_type: f64) -> PyResult<f64> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(value_error(format!(
            "total_norm: norm_type must be positive or inf, got {norm_type}"
        )));
    }
    let (a32, a64) = by_float("total_norm", &arrays)?;
    if norm_type == f64::INFINITY {
        let m32 = reduce::<f32>(py, &a32, |r| optim::total_norm(r, f64::INFINITY))?;
        let m64 = reduce::<f64>(py, &a64, |r| optim::total_norm(r, f64::INFINITY))?;
        return Ok(if m32.is_nan() || m64.is_nan() {
            f64::NAN
        } else {
            m32.max(m64)
        });
    }
    let s32 = reduce::<f32>(py, &a32, |r| Ok(optim::power_sum(r, norm_type)))?;
    let s64 = reduce::<f64>(py, &a64, |r| Ok(optim::power_sum(r, norm_type)))?;
    let s = s32 + s64;
    Ok(if norm_type == 1.0 {
        s
    } else if norm_type == 2.0 {
        s.sqrt()
    } else {
        s.powf(1.0 / norm_type)
    })
}

fn inplace<'py, T: Element + Real>(
    py: Python<'py>,
    func: &str,
    want: Float,
    arrays: &[&Obj<'py>],
    f: impl FnOnce(Vec<&mut [T]>) -> ferrograd_core::Result<()> + Send,
) -> PyResult<()> {
    let objs: Vec<Obj<'py>> = arrays.iter().map(|a| (*a).clone()).collect();
    let mut guards = borrow_mut_list::<T>(func, "arrays", &objs, None, want)?;
    let slices = slices_mut(func, "arrays", &mut guards)?;
    run(py, || f(slices))
}

/// Multiplies every element of every array by `factor`, in place (float32 and float64 arrays,
/// writeable, C-contiguous, each given once).
#[pyfunction]
pub fn scale_inplace<'py>(py: Python<'py>, arrays: Vec<Obj<'py>>, factor: f64) -> PyResult<()> {
    let func = "scale_inplace";
    let (a32, a64) = by_float(func, &arrays)?;
    inplace::<f32>(py, func, Float::F32, &a32, |s| {
        optim::scale_inplace(s, factor);
        Ok(())
    })?;
    inplace::<f64>(py, func, Float::F64, &a64, |s| {
        optim::scale_inplace(s, factor);
        Ok(())
    })
}

/// Clamps every element of every array to `[min, max]` in place (NaN stays NaN).
#[pyfunction]
#[pyo3(name = "clamp_inplace", signature = (arrays, min, max))]
pub fn clamp_inplace_py<'py>(
    py: Python<'py>,
    arrays: Vec<Obj<'py>>,
    min: f64,
    max: f64,
) -> PyResult<()> {
    let func = "clamp_inplace";
    if min.is_nan() || max.is_nan() || min > max {
        return Err(value_error(format!(
            "{func}: need min <= max, got min={min}, max={max}"
        )));
    }
    let (a32, a64) = by_float(func, &arrays)?;
    inplace::<f32>(py, func, Float::F32, &a32, |s| {
        optim::clamp_inplace(s, min, max)
    })?;
    inplace::<f64>(py, func, Float::F64, &a64, |s| {
        optim::clamp_inplace(s, min, max)
    })
}

// ------------------------------------------------------------------------------ penalties

fn penalty_kind(func: &str, kind: &str) -> PyResult<Penalty> {
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
pub fn weight_penalty<'py>(py: Python<'py>, arrays: Vec<Obj<'py>>, kind: &str) -> PyResult<f64> {
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
) -> PyResult<Obj<'py>> {
    let func = "weight_penalty_backward";
    let k = penalty_kind(func, kind)?;
    match float_of(func, "x", x)? {
        Float::F32 => penalty_grad::<f32>(py, grad_output, x, k),
        Float::F64 => penalty_grad::<f64>(py, grad_output, x, k),
    }
}

fn penalty_grad<'py, T: Element + Real>(
    py: Python<'py>,
    grad_output: f64,
    x: &Obj<'py>,
    k: Penalty,
) -> PyResult<Obj<'py>> {
    let a = x.cast::<PyArrayDyn<T>>()?.try_readonly()?;
    let shape = a.shape().to_vec();
    let d = data(&a)?;
    let v = run(py, || optim::penalty_backward(&d, k, grad_output))?;
    out(py, v, &shape)
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(adagrad_step, m)?)?;
    m.add_function(wrap_pyfunction!(nadam_step, m)?)?;
    m.add_function(wrap_pyfunction!(radam_step, m)?)?;
    m.add_function(wrap_pyfunction!(total_norm, m)?)?;
    m.add_function(wrap_pyfunction!(scale_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(clamp_inplace_py, m)?)?;
    m.add_function(wrap_pyfunction!(weight_penalty, m)?)?;
    m.add_function(wrap_pyfunction!(weight_penalty_backward, m)?)?;
    Ok(())
}
