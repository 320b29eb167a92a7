//! Bindings of the captured training step (`ferrograd.compile`): a plan object built once from
//! the model's layers, whose methods run forward, loss, backward and an optimizer update in one
//! call, updating the parameter and optimizer-state arrays in place.

use ferrograd_core::loss::classification::FastMath;
use ferrograd_core::loss::regression::RegressionLoss;
use ferrograd_core::optim::{self, AdagradSlot, AdamSlot, RmspropSlot, SgdSlot};
use ferrograd_core::step::{Layer, LossSpec, Plan, StepOptions, Target};
use numpy::{Element, PyArrayDyn, PyReadwriteArrayDyn};
use pyo3::prelude::*;

use crate::args::Wrap;
use crate::arrays::{borrow, data, float_of, out, shape, Float};
use crate::errors::{run, value_error, BindError, BindResult};
use crate::optim::borrow_mut_list;
use crate::with_float;

type Obj<'py> = Bound<'py, PyAny>;

fn bad(msg: String) -> BindError {
    value_error(msg)
}

fn parse_loss(name: &str, arg: f64) -> BindResult<LossSpec> {
    Ok(match name {
        "cross_entropy" => LossSpec::CrossEntropy {
            label_smoothing: arg,
        },
        "mse_loss" => LossSpec::Regression(RegressionLoss::Mse),
        "l1_loss" => LossSpec::Regression(RegressionLoss::L1),
        "huber_loss" => LossSpec::Regression(RegressionLoss::Huber { delta: arg }),
        "smooth_l1_loss" => LossSpec::Regression(RegressionLoss::SmoothL1 { beta: arg }),
        _ => return Err(bad(format!("StepPlan: unsupported loss '{name}'"))),
    })
}

/// A captured model (layers and loss) whose steps run entirely in Rust.
#[pyclass(frozen, module = "ferrograd._core")]
pub struct StepPlan {
    plan: Plan,
}

/// The optimizer update applied after the backward pass. `weight_decays`, when given, holds
/// one weight decay per parameter in place of `hp.weight_decay` (parameter groups that differ
/// in nothing else).
enum Update<'a, T> {
    Adam {
        hp: optim::Adam,
        m: Vec<&'a mut [T]>,
        v: Vec<&'a mut [T]>,
        vmax: Option<Vec<&'a mut [T]>>,
        steps: &'a [f64],
        weight_decays: Option<&'a [f64]>,
    },
    Sgd {
        hp: optim::Sgd,
        buf: Option<Vec<&'a mut [T]>>,
        fresh: &'a [bool],
        weight_decays: Option<&'a [f64]>,
    },
    Rmsprop {
        hp: optim::Rmsprop,
        square_avg: Vec<&'a mut [T]>,
        grad_avg: Option<Vec<&'a mut [T]>>,
        buf: Option<Vec<&'a mut [T]>>,
        weight_decays: Option<&'a [f64]>,
    },
    Adagrad {
        hp: optim::Adagrad,
        sums: Vec<&'a mut [T]>,
        steps: &'a [f64],
        weight_decays: Option<&'a [f64]>,
    },
    /// No update: the gradients are copied out (for an update after an allreduce).
    Copy { out: Vec<&'a mut [T]> },
}

/// The `i`-th entry of an optional list of slices, taken out of it.
fn take_opt<'a, T>(v: &mut Option<Vec<Option<&'a mut [T]>>>, i: usize) -> Option<&'a mut [T]> {
    v.as_mut().and_then(|v| v[i].take())
}

/// `slots` split by weight decay (in order of first appearance): one optimizer call per
/// distinct value, each element updated exactly as a single call would update it.
fn by_weight_decay<S>(
    slots: Vec<S>,
    weight_decays: Option<&[f64]>,
    default: f64,
) -> Vec<(f64, Vec<S>)> {
    let mut groups: Vec<(f64, Vec<S>)> = Vec::new();
    for (i, slot) in slots.into_iter().enumerate() {
        let wd = weight_decays.map_or(default, |w| w[i]);
        match groups.iter_mut().find(|(g, _)| g.to_bits() == wd.to_bits()) {
            Some((_, members)) => members.push(slot),
            None => groups.push((wd, vec![slot])),
        }
    }
    groups
}

impl<T: FastMath> Update<'_, T> {
    fn apply(self, params: &mut [&mut [T]], grads: &[Vec<T>]) -> ferrograd_core::Result<()> {
        match self {
            Update::Copy { out } => {
                for (dst, g) in out.into_iter().zip(grads) {
                    dst.copy_from_slice(g);
                }
                Ok(())
            }
            Update::Adam {
                hp,
                m,
                v,
                vmax,
                steps,
                weight_decays,
            } => {
                let mut vmax = vmax.map(|v| v.into_iter().map(Some).collect::<Vec<_>>());
                let slots = params
                    .iter_mut()
                    .zip(grads)
                    .zip(m.into_iter().zip(v))
                    .enumerate()
                    .map(|(i, ((p, g), (m, v)))| AdamSlot {
                        param: p,
                        grad: g,
                        exp_avg: m,
                        exp_avg_sq: v,
                        max_exp_avg_sq: vmax.as_mut().and_then(|vm| vm[i].take()),
                        step: steps[i],
                    })
                    .collect();
                for (weight_decay, group) in by_weight_decay(slots, weight_decays, hp.weight_decay)
                {
                    optim::adam_step(&optim::Adam { weight_decay, ..hp }, group)?;
                }
                Ok(())
            }
            Update::Sgd {
                hp,
                buf,
                fresh,
                weight_decays,
            } => {
                let mut buf = buf.map(|b| b.into_iter().map(Some).collect::<Vec<_>>());
                let slots = params
                    .iter_mut()
                    .zip(grads)
                    .enumerate()
                    .map(|(i, (p, g))| SgdSlot {
                        param: p,
                        grad: g,
                        momentum_buffer: buf.as_mut().and_then(|b| b[i].take()),
                        fresh_buffer: fresh.get(i).copied().unwrap_or(false),
                    })
                    .collect();
                for (weight_decay, group) in by_weight_decay(slots, weight_decays, hp.weight_decay)
                {
                    optim::sgd_step(&optim::Sgd { weight_decay, ..hp }, group)?;
                }
                Ok(())
            }
            Update::Rmsprop {
                hp,
                square_avg,
                grad_avg,
                buf,
                weight_decays,
            } => {
                let mut ga = grad_avg.map(|v| v.into_iter().map(Some).collect::<Vec<_>>());
                let mut bu = buf.map(|v| v.into_iter().map(Some).collect::<Vec<_>>());
                let slots = params
                    .iter_mut()
                    .zip(grads)
                    .zip(square_avg)
                    .enumerate()
                    .map(|(i, ((p, g), sq))| RmspropSlot {
                        param: p,
                        grad: g,
                        square_avg: sq,
                        grad_avg: take_opt(&mut ga, i),
                        momentum_buffer: take_opt(&mut bu, i),
                    })
                    .collect();
                for (weight_decay, group) in by_weight_decay(slots, weight_decays, hp.weight_decay)
                {
                    optim::rmsprop_step(&optim::Rmsprop { weight_decay, ..hp }, group)?;
                }
                Ok(())
            }
            Update::Adagrad {
                hp,
                sums,
                steps,
                weight_decays,
            } => {
                let slots = params
                    .iter_mut()
                    .zip(grads)
                    .zip(sums)
                    .enumerate()
                    .map(|(i, ((p, g), s))| AdagradSlot {
                        param: p,
                        grad: g,
                        state_sum: s,
                        step: steps[i],
                    })
                    .collect();
                for (weight_decay, group) in by_weight_decay(slots, weight_decays, hp.weight_decay)
                {
                    optim::adagrad_step(&optim::Adagrad { weight_decay, ..hp }, group)?;
                }
                Ok(())
            }
        }
    }
}

fn slices<'a, T: Element>(
    arrs: &'a mut [PyReadwriteArrayDyn<'_, T>],
) -> BindResult<Vec<&'a mut [T]>> {
    arrs.iter_mut()
        .map(|a| {
            a.as_slice_mut()
                .map_err(|_| bad("compiled step: a buffer is not C-contiguous".into()))
        })
        .collect()
}

/// State arrays of the update, borrowed for writing.
struct StateArrays<'py, T: Element> {
    a: Vec<PyReadwriteArrayDyn<'py, T>>,
    b: Vec<PyReadwriteArrayDyn<'py, T>>,
    c: Option<Vec<PyReadwriteArrayDyn<'py, T>>>,
}

enum OptArgs<'a, 'py> {
    Adam {
        hp: optim::Adam,
        exp_avgs: &'a [Obj<'py>],
        exp_avg_sqs: &'a [Obj<'py>],
        max_exp_avg_sqs: Option<&'a [Obj<'py>]>,
        steps: &'a [f64],
        weight_decays: Option<&'a [f64]>,
    },
    Sgd {
        hp: optim::Sgd,
        momentum_buffers: Option<&'a [Obj<'py>]>,
        fresh: &'a [bool],
        weight_decays: Option<&'a [f64]>,
    },
    Grads {
        grads: &'a [Obj<'py>],
    },
    Rmsprop {
        hp: optim::Rmsprop,
        square_avgs: &'a [Obj<'py>],
        grad_avgs: Option<&'a [Obj<'py>]>,
        momentum_buffers: Option<&'a [Obj<'py>]>,
        weight_decays: Option<&'a [f64]>,
    },
    Adagrad {
        hp: optim::Adagrad,
        sums: &'a [Obj<'py>],
        steps: &'a [f64],
        weight_decays: Option<&'a [f64]>,
    },
}

impl StepPlan {
    #[allow(clippy::too_many_arguments)]
    fn run_step<'py, T: FastMath + Element>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: &[Obj<'py>],
        buffers: &[Obj<'py>],
        opt: OptArgs<'_, 'py>,
        want: Float,
        options: StepOptions,
    ) -> BindResult<StepResult<'py>> {
        let func = "compiled step";
        if params.len() != self.plan.n_params() {
            return Err(bad(format!(
                "{func}: the model has {} parameter arrays, got {}",
                self.plan.n_params(),
                params.len()
            )));
        }
        if buffers.len() != self.plan.n_buffers() {
            return Err(bad(format!(
                "{func}: the model has {} buffers, got {}",
                self.plan.n_buffers(),
                buffers.len()
            )));
        }
        let xa = borrow::<T>(x)?;
        let (xs, xd) = (shape(&xa), data(&xa)?);
        let labels;
        let values;
        let values_data;
        let target_shape;
        let tgt = match self.plan.loss {
            LossSpec::CrossEntropy { .. } if target.cast::<PyArrayDyn<i64>>().is_ok() => {
                labels = borrow::<i64>(target)?;
                target_shape = shape(&labels);
                Target::Labels(
                    labels
                        .as_slice()
                        .map_err(|_| bad(format!("{func}: labels must be C-contiguous")))?,
                    &target_shape,
                )
            }
            // Regression targets, or class probabilities for the cross-entropy.
            LossSpec::CrossEntropy { .. } | LossSpec::Regression(_) => {
                values = borrow::<T>(target)?;
                values_data = data(&values)?;
                target_shape = shape(&values);
                Target::Values(&values_data[..], &target_shape)
            }
        };
        let shapes: Vec<Vec<usize>> = params
            .iter()
            .map(|p| p.getattr("shape").and_then(|s| s.extract::<Vec<usize>>()))
            .collect::<PyResult<_>>()?;
        let mut pa = borrow_mut_list::<T>(func, "params", params, None, want)?;
        let mut st: StateArrays<'py, T> = match &opt {
            OptArgs::Adam {
                exp_avgs,
                exp_avg_sqs,
                max_exp_avg_sqs,
                ..
            } => StateArrays {
                a: borrow_mut_list::<T>(func, "exp_avgs", exp_avgs, Some(&shapes), want)?,
                b: borrow_mut_list::<T>(func, "exp_avg_sqs", exp_avg_sqs, Some(&shapes), want)?,
                c: max_exp_avg_sqs
                    .map(|v| borrow_mut_list::<T>(func, "max_exp_avg_sqs", v, Some(&shapes), want))
                    .transpose()?,
            },
            OptArgs::Sgd {
                momentum_buffers, ..
            } => StateArrays {
                a: match momentum_buffers {
                    Some(v) => {
                        borrow_mut_list::<T>(func, "momentum_buffers", v, Some(&shapes), want)?
                    }
                    None => Vec::new(),
                },
                b: Vec::new(),
                c: None,
            },
            OptArgs::Grads { grads } => StateArrays {
                a: borrow_mut_list::<T>(func, "grads", grads, Some(&shapes), want)?,
                b: Vec::new(),
                c: None,
            },
            OptArgs::Rmsprop {
                square_avgs,
                grad_avgs,
                momentum_buffers,
                ..
            } => StateArrays {
                a: borrow_mut_list::<T>(func, "square_avgs", square_avgs, Some(&shapes), want)?,
                b: match momentum_buffers {
                    Some(v) => {
                        borrow_mut_list::<T>(func, "momentum_buffers", v, Some(&shapes), want)?
                    }
                    None => Vec::new(),
                },
                c: grad_avgs
                    .map(|v| borrow_mut_list::<T>(func, "grad_avgs", v, Some(&shapes), want))
                    .transpose()?,
            },
            OptArgs::Adagrad { sums, .. } => StateArrays {
                a: borrow_mut_list::<T>(func, "state_sums", sums, Some(&shapes), want)?,
                b: Vec::new(),
                c: None,
            },
        };
        let mut ba = borrow_mut_list::<T>(func, "buffers", buffers, None, want)?;
        let mut bs = slices(&mut ba)?;
        let mut ps = slices(&mut pa)?;
        let update = match opt {
            OptArgs::Adam {
                hp,
                steps,
                weight_decays,
                ..
            } => Update::Adam {
                hp,
                weight_decays,
                m: slices(&mut st.a)?,
                v: slices(&mut st.b)?,
                vmax: st.c.as_mut().map(|c| slices(c)).transpose()?,
                steps,
            },
            OptArgs::Sgd {
                hp,
                momentum_buffers,
                fresh,
                weight_decays,
            } => Update::Sgd {
                hp,
                buf: momentum_buffers.map(|_| slices(&mut st.a)).transpose()?,
                fresh,
                weight_decays,
            },
            OptArgs::Grads { .. } => Update::Copy {
                out: slices(&mut st.a)?,
            },
            OptArgs::Rmsprop {
                hp,
                momentum_buffers,
                weight_decays,
                ..
            } => Update::Rmsprop {
                hp,
                weight_decays,
                square_avg: slices(&mut st.a)?,
                grad_avg: st.c.as_mut().map(|c| slices(c)).transpose()?,
                buf: momentum_buffers.map(|_| slices(&mut st.b)).transpose()?,
            },
            OptArgs::Adagrad {
                hp,
                steps,
                weight_decays,
                ..
            } => Update::Adagrad {
                hp,
                steps,
                weight_decays,
                sums: slices(&mut st.a)?,
            },
        };
        let plan = &self.plan;
        let outcome = run(py, || {
            let apply = |p: &mut [&mut [T]], g: &[Vec<T>]| update.apply(p, g);
            plan.step_buffers(&xd, &xs, tgt, &mut ps, &mut bs, apply, options)
        })?;
        let loss = num_traits::ToPrimitive::to_f64(&outcome.loss).unwrap_or(f64::NAN);
        let output = match outcome.output {
            Some((values, shape)) => Some(out(py, values, &shape)?),
            None => None,
        };
        Ok((loss, output, outcome.applied))
    }
}

impl StepPlan {
    /// [`StepPlan::run_step`] with `T` the float type of `x`.
    #[allow(clippy::too_many_arguments)]
    fn dispatch<'py>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: &[Obj<'py>],
        buffers: Option<Vec<Obj<'py>>>,
        opt: OptArgs<'_, 'py>,
        options: StepOptions,
    ) -> BindResult<StepResult<'py>> {
        let want = float_of("compiled step", "x", x)?;
        let bufs = buffers.unwrap_or_default();
        with_float!(float: want, |T| {
            self.run_step::<T>(py, x, target, params, &bufs, opt, want, options)
        })
    }
}

/// The loss, the model's output (when asked for) and whether the update ran.
type StepResult<'py> = (f64, Option<Bound<'py, PyAny>>, bool);

#[pymethods]
impl StepPlan {
    /// Builds a plan from `(kind, ints, floats)` layer descriptions and a loss name.
    #[new]
    #[pyo3(signature = (layers, loss, loss_arg=0.0))]
    fn new(layers: Vec<Wrap<Layer>>, loss: &str, loss_arg: f64) -> BindResult<Self> {
        let layers = layers.into_iter().map(|Wrap(layer)| layer).collect();
        Ok(StepPlan {
            plan: Plan {
                layers,
                loss: parse_loss(loss, loss_arg)?,
            },
        })
    }

    /// Number of parameter arrays the plan expects, in order.
    #[getter]
    fn n_params(&self) -> usize {
        self.plan.n_params()
    }

    /// Number of buffers (running statistics, dropout masks) the plan expects, in order.
    #[getter]
    fn n_buffers(&self) -> usize {
        self.plan.n_buffers()
    }

    /// The input shape of every layer, then the output shape, for an input of shape `x_shape`.
    fn shapes(&self, x_shape: Vec<usize>) -> BindResult<Vec<Vec<usize>>> {
        Ok(self.plan.shapes(&x_shape)?)
    }

    /// One step with an RMSprop update; returns what [`StepPlan::adam`] returns.
    #[pyo3(signature = (x, target, params, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha, eps, weight_decay, momentum, centered, maximize, keep_output=false, skip_non_finite=false, weight_decays=None, buffers=None))]
    #[allow(clippy::too_many_arguments)]
    fn rmsprop<'py>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: Vec<Obj<'py>>,
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
        keep_output: bool,
        skip_non_finite: bool,
        weight_decays: Option<Vec<f64>>,
        buffers: Option<Vec<Obj<'py>>>,
    ) -> BindResult<StepResult<'py>> {
        let hp = optim::Rmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        };
        let n = params.len();
        let wrong = |v: &Option<Vec<Obj<'py>>>| v.as_ref().is_some_and(|v| v.len() != n);
        if square_avgs.len() != n || wrong(&grad_avgs) || wrong(&momentum_buffers) {
            return Err(bad(
                "compiled step: one RMSprop state entry per parameter is needed".into(),
            ));
        }
        if centered != grad_avgs.is_some() || (momentum > 0.0) != momentum_buffers.is_some() {
            return Err(bad(
                "compiled step: RMSprop needs grad_avgs exactly when centered and momentum \
                 buffers exactly when momentum > 0"
                    .into(),
            ));
        }
        check_weight_decays(
            weight_decays.as_deref(),
            n,
            hp.weight_decay,
            |weight_decay| optim::Rmsprop { weight_decay, ..hp }.validate(),
        )?;
        let opt = OptArgs::Rmsprop {
            hp,
            square_avgs: &square_avgs,
            grad_avgs: grad_avgs.as_deref(),
            momentum_buffers: momentum_buffers.as_deref(),
            weight_decays: weight_decays.as_deref(),
        };
        let options = StepOptions {
            keep_output,
            skip_non_finite,
        };
        self.dispatch(py, x, target, &params, buffers, opt, options)
    }

    /// One step with an Adagrad update; returns what [`StepPlan::adam`] returns.
    #[pyo3(signature = (x, target, params, state_sums, steps, *, lr, lr_decay, weight_decay, eps, maximize, keep_output=false, skip_non_finite=false, weight_decays=None, buffers=None))]
    #[allow(clippy::too_many_arguments)]
    fn adagrad<'py>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: Vec<Obj<'py>>,
        state_sums: Vec<Obj<'py>>,
        steps: Vec<f64>,
        lr: f64,
        lr_decay: f64,
        weight_decay: f64,
        eps: f64,
        maximize: bool,
        keep_output: bool,
        skip_non_finite: bool,
        weight_decays: Option<Vec<f64>>,
        buffers: Option<Vec<Obj<'py>>>,
    ) -> BindResult<StepResult<'py>> {
        let hp = optim::Adagrad {
            lr,
            lr_decay,
            weight_decay,
            eps,
            maximize,
        };
        let n = params.len();
        if state_sums.len() != n || steps.len() != n {
            return Err(bad(
                "compiled step: one Adagrad state entry per parameter is needed".into(),
            ));
        }
        if let Some(s) = steps.iter().find(|s| s.is_nan() || **s < 1.0) {
            return Err(bad(format!(
                "compiled step: Adagrad steps must be >= 1, got {s}"
            )));
        }
        check_weight_decays(
            weight_decays.as_deref(),
            n,
            hp.weight_decay,
            |weight_decay| optim::Adagrad { weight_decay, ..hp }.validate(),
        )?;
        let opt = OptArgs::Adagrad {
            hp,
            sums: &state_sums,
            steps: &steps,
            weight_decays: weight_decays.as_deref(),
        };
        let options = StepOptions {
            keep_output,
            skip_non_finite,
        };
        self.dispatch(py, x, target, &params, buffers, opt, options)
    }

    /// One step with an Adam (or AdamW) update; returns the loss before the update, the
    /// model's output (with `keep_output`) and whether the update ran.
    #[pyo3(signature = (x, target, params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, keep_output=false, skip_non_finite=false, weight_decays=None, buffers=None))]
    #[allow(clippy::too_many_arguments)]
    fn adam<'py>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: Vec<Obj<'py>>,
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
        keep_output: bool,
        skip_non_finite: bool,
        weight_decays: Option<Vec<f64>>,
        buffers: Option<Vec<Obj<'py>>>,
    ) -> BindResult<StepResult<'py>> {
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
        let n = params.len();
        if exp_avgs.len() != n || exp_avg_sqs.len() != n || steps.len() != n {
            return Err(bad(
                "compiled step: one Adam state entry per parameter is needed".into(),
            ));
        }
        check_weight_decays(
            weight_decays.as_deref(),
            n,
            hp.weight_decay,
            |weight_decay| optim::Adam { weight_decay, ..hp }.validate(),
        )?;
        let opt = OptArgs::Adam {
            hp,
            exp_avgs: &exp_avgs,
            exp_avg_sqs: &exp_avg_sqs,
            max_exp_avg_sqs: max_exp_avg_sqs.as_deref(),
            steps: &steps,
            weight_decays: weight_decays.as_deref(),
        };
        let options = StepOptions {
            keep_output,
            skip_non_finite,
        };
        self.dispatch(py, x, target, &params, buffers, opt, options)
    }

    /// One step with an SGD update; returns what [`StepPlan::adam`] returns.
    #[pyo3(signature = (x, target, params, momentum_buffers, fresh, *, lr, momentum, dampening, weight_decay, nesterov, maximize, keep_output=false, skip_non_finite=false, weight_decays=None, buffers=None))]
    #[allow(clippy::too_many_arguments)]
    fn sgd<'py>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: Vec<Obj<'py>>,
        momentum_buffers: Option<Vec<Obj<'py>>>,
        fresh: Vec<bool>,
        lr: f64,
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
        maximize: bool,
        keep_output: bool,
        skip_non_finite: bool,
        weight_decays: Option<Vec<f64>>,
        buffers: Option<Vec<Obj<'py>>>,
    ) -> BindResult<StepResult<'py>> {
        let hp = optim::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
        };
        if momentum_buffers
            .as_ref()
            .is_some_and(|b| b.len() != params.len())
        {
            return Err(bad(
                "compiled step: one momentum buffer per parameter is needed".into(),
            ));
        }
        check_weight_decays(
            weight_decays.as_deref(),
            params.len(),
            hp.weight_decay,
            |weight_decay| optim::Sgd { weight_decay, ..hp }.validate(),
        )?;
        let opt = OptArgs::Sgd {
            hp,
            momentum_buffers: momentum_buffers.as_deref(),
            fresh: &fresh,
            weight_decays: weight_decays.as_deref(),
        };
        let options = StepOptions {
            keep_output,
            skip_non_finite,
        };
        self.dispatch(py, x, target, &params, buffers, opt, options)
    }

    /// Forward, loss and backward without an update: the gradients are written into `grads`
    /// (one C-contiguous array per parameter, e.g. views into one flat buffer that an
    /// allreduce then averages). Returns what [`StepPlan::adam`] returns.
    #[pyo3(signature = (x, target, params, grads, *, keep_output=false, skip_non_finite=false, buffers=None))]
    #[allow(clippy::too_many_arguments)]
    fn gradients<'py>(
        &self,
        py: Python<'py>,
        x: &Obj<'py>,
        target: &Obj<'py>,
        params: Vec<Obj<'py>>,
        grads: Vec<Obj<'py>>,
        keep_output: bool,
        skip_non_finite: bool,
        buffers: Option<Vec<Obj<'py>>>,
    ) -> BindResult<StepResult<'py>> {
        if grads.len() != params.len() {
            return Err(bad(format!(
                "compiled step: one gradient array per parameter is needed, got {} for {}",
                grads.len(),
                params.len()
            )));
        }
        let opt = OptArgs::Grads { grads: &grads };
        let options = StepOptions {
            keep_output,
            skip_non_finite,
        };
        self.dispatch(py, x, target, &params, buffers, opt, options)
    }
}

/// Checks the update's hyperparameters (`check`, the kernel's own validation, given a weight
/// decay) with the shared weight decay and with each per-parameter one, and that there is one
/// per parameter, before anything runs: the update is split by weight decay, and a bad value
/// found half-way would leave it half done.
fn check_weight_decays(
    weight_decays: Option<&[f64]>,
    n: usize,
    shared: f64,
    check: impl Fn(f64) -> ferrograd_core::Result<()>,
) -> BindResult<()> {
    check(shared)?;
    let Some(w) = weight_decays else {
        return Ok(());
    };
    if w.len() != n {
        return Err(bad(format!(
            "compiled step: weight_decays needs one value per parameter ({n}), got {}",
            w.len()
        )));
    }
    for &wd in w {
        check(wd)?;
    }
    Ok(())
}

/// Registers the plan class on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StepPlan>()
}
