//! Binding of the fused Adam / AdamW step.

use super::*;

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
) -> BindResult<()> {
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
) -> BindResult<()> {
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
    let want = group_float("adam_step", params.first(), "params")?;
    let (m, v, x) = (&exp_avgs, &exp_avg_sqs, max_exp_avg_sqs.as_deref());
    with_float!(float: want, |T| {
        adam_impl::<T>(py, want, &params, &grads, m, v, x, &steps, &hp)
    })
}
