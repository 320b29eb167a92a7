//! Binding of the fused SGD step.

use super::*;

#[allow(clippy::too_many_arguments)]
fn sgd_impl<'py, T: Element + Real>(
    py: Python<'py>,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    momentum_buffers: Option<&[Obj<'py>]>,
    fresh: &[bool],
    hp: &optim::Sgd,
) -> BindResult<()> {
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
) -> BindResult<()> {
    let hp = optim::Sgd {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
    };
    let want = group_float("sgd_step", params.first(), "params")?;
    let mb = momentum_buffers.as_deref();
    with_float!(float: want, |T| {
        sgd_impl::<T>(py, want, &params, &grads, mb, &fresh, &hp)
    })
}
