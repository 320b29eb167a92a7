//! Bindings of the fused RMSprop and Adagrad steps.

use super::*;

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
) -> BindResult<()> {
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
) -> BindResult<()> {
    let hp = optim::Rmsprop {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    };
    let want = group_float("rmsprop_step", params.first(), "params")?;
    let (ga, mb) = (grad_avgs.as_deref(), momentum_buffers.as_deref());
    with_float!(float: want, |T| {
        rmsprop_impl::<T>(py, want, &params, &grads, &square_avgs, ga, mb, &hp)
    })
}

fn adagrad_impl<'py, T: Element + Real>(
    py: Python<'py>,
    want: Float,
    params: &[Obj<'py>],
    grads: &[Obj<'py>],
    state_sums: &[Obj<'py>],
    steps: &[f64],
    hp: &optim::Adagrad,
) -> BindResult<()> {
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
) -> BindResult<()> {
    let hp = optim::Adagrad {
        lr,
        lr_decay,
        weight_decay,
        eps,
        maximize,
    };
    let want = group_float("adagrad_step", params.first(), "params")?;
    with_float!(float: want, |T| {
        adagrad_impl::<T>(py, want, &params, &grads, &state_sums, &steps, &hp)
    })
}
