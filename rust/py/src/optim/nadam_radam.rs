//! Bindings of the fused NAdam and RAdam steps.

use super::*;

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
) -> BindResult<R> {
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
) -> BindResult<Vec<f64>> {
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
    check_count(func, "mu_products", mu_products.len(), params.len())?;
    let want = group_float(func, params.first(), "params")?;
    let (p, g, m, v) = (&params, &grads, &exp_avgs, &exp_avg_sqs);
    with_float!(float: want, |T| {
        adam_like_impl::<T, _>(py, func, want, p, g, m, v, &steps, |slots| {
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
    })
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
) -> BindResult<()> {
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
    let want = group_float(func, params.first(), "params")?;
    let (p, g, m, v) = (&params, &grads, &exp_avgs, &exp_avg_sqs);
    with_float!(float: want, |T| {
        adam_like_impl::<T, _>(py, func, want, p, g, m, v, &steps, |slots| {
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
    })
}
