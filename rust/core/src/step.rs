//! A captured training step: forward through a chain of layers, the loss, the backward pass
//! and the parameter update, in one call with no Python in between.
//!
//! The chain is a [`Plan`] (what `ferrograd.compile` builds from a `Sequential` model); the
//! parameters stay in the caller's buffers and are updated in place by the caller's update
//! function (an optimizer step over all of them), so the model and the optimizer state end
//! up exactly where eager steps would put them.

use crate::activation::{self, Activation};
use crate::buf;
use crate::conv::{self, Conv2dDims, Conv2dSpec, Pool2dDims, Pool2dSpec};
use crate::error::Result;
use crate::gemm;
use crate::loss::classification::{self, ClassOptions, ClassTarget, FastMath, View};
use crate::loss::regression::{self, RegressionLoss};
use crate::loss::Reduction;
use crate::norm;
use crate::shape::fmt_shape;
use crate::{shape_err, value_err};

/// One layer of a captured model.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// `x @ weight^T + bias`; parameters `weight` (out, in) then `bias` (out,) if present.
    Linear {
        in_f: usize,
        out_f: usize,
        bias: bool,
    },
    /// An elementwise activation.
    Act(Activation),
    /// Merges every axis after the first.
    Flatten,
    /// 2-D convolution; parameters `weight` (c_out, c_in / groups, kh, kw) then `bias`.
    Conv2d {
        c_in: usize,
        c_out: usize,
        kernel: [usize; 2],
        spec: Conv2dSpec,
        bias: bool,
    },
    /// 2-D max pooling.
    MaxPool2d(Pool2dSpec),
    /// 2-D average pooling.
    AvgPool2d {
        spec: Pool2dSpec,
        count_include_pad: bool,
    },
    /// Batch norm over channel axis 1 of an (N, C, *spatial) input; parameters `weight` and
    /// `bias` (C,) when `affine`; buffers `running_mean` and `running_var` (C,) when `track`.
    /// `training` normalises with the batch statistics (and, with `track`, updates the
    /// running ones with `momentum`); otherwise with the running statistics (the batch ones
    /// when there are none).
    BatchNorm {
        channels: usize,
        /// The input ranks the layer takes (2 or 3 for `BatchNorm1d`, 4 for `BatchNorm2d`).
        ranks: [usize; 2],
        eps: f64,
        momentum: f64,
        affine: bool,
        track: bool,
        training: bool,
    },
    /// Layer norm over the trailing axes `shape`; parameters `weight` then `bias` (of that
    /// shape) when present.
    LayerNorm {
        shape: Vec<usize>,
        eps: f64,
        weight: bool,
        bias: bool,
    },
    /// Training-mode dropout: the input times a mask buffer of its shape (0, or the
    /// `1 / (1 - p)` scale of kept elements), drawn by the caller for every step.
    Dropout,
}

impl Layer {
    /// Number of parameter buffers the layer owns.
    pub fn n_params(&self) -> usize {
        match self {
            Layer::Linear { bias, .. } | Layer::Conv2d { bias, .. } => 1 + usize::from(*bias),
            Layer::BatchNorm { affine, .. } => 2 * usize::from(*affine),
            Layer::LayerNorm { weight, bias, .. } => usize::from(*weight) + usize::from(*bias),
            _ => 0,
        }
    }

    /// Number of non-parameter buffers the layer reads (running statistics, dropout masks).
    pub fn n_buffers(&self) -> usize {
        match self {
            Layer::BatchNorm { track, .. } => 2 * usize::from(*track),
            Layer::Dropout => 1,
            _ => 0,
        }
    }

    /// The shape of the layer's output for an input of shape `shape`.
    pub fn out_shape(&self, shape: &[usize]) -> Result<Vec<usize>> {
        Ok(match self {
            Layer::Linear { in_f, out_f, .. } => {
                if shape.len() != 2 || shape[1] != *in_f {
                    return shape_err!(
                        "compiled step: Linear({in_f}, {out_f}) got input of shape {}",
                        fmt_shape(shape)
                    );
                }
                vec![shape[0], *out_f]
            }
            Layer::Flatten => {
                let n = shape.first().copied().unwrap_or(1);
                let len: usize = shape.iter().product();
                vec![n, len.checked_div(n).unwrap_or(0)]
            }
            Layer::Conv2d {
                c_in,
                c_out,
                kernel,
                spec,
                bias,
            } => {
                let wshape = [*c_out, *c_in / spec.groups.max(1), kernel[0], kernel[1]];
                let bshape = [*c_out];
                let b = bias.then_some(&bshape[..]);
                let dims = Conv2dDims::new("compiled step: Conv2d", shape, &wshape, b, *spec)?;
                dims.out_shape().to_vec()
            }
            Layer::MaxPool2d(spec) | Layer::AvgPool2d { spec, .. } => {
                let dims = Pool2dDims::new("compiled step: pooling", shape, *spec)?;
                pool_out_shape(shape, &dims)
            }
            Layer::BatchNorm {
                channels, ranks, ..
            } => {
                check_channels(*channels, *ranks, shape)?;
                shape.to_vec()
            }
            Layer::LayerNorm { shape: ns, .. } => {
                layer_rows(ns, shape)?;
                shape.to_vec()
            }
            Layer::Act(_) | Layer::Dropout => shape.to_vec(),
        })
    }
}

/// Checks a batch-norm input: (N, C, *spatial) with C = `channels` and a rank in `ranks`.
fn check_channels(channels: usize, ranks: [usize; 2], shape: &[usize]) -> Result<()> {
    if shape.len() < 2.max(ranks[0]) || shape.len() > ranks[1] || shape[1] != channels {
        return shape_err!(
            "compiled step: BatchNorm of {channels} channels got input of shape {}",
            fmt_shape(shape)
        );
    }
    Ok(())
}

/// (rows, values per row) of a layer-norm input whose trailing axes must be `ns`.
fn layer_rows(ns: &[usize], shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < ns.len() || shape[shape.len() - ns.len()..] != *ns {
        return shape_err!(
            "compiled step: LayerNorm over {} got input of shape {}",
            fmt_shape(ns),
            fmt_shape(shape)
        );
    }
    let d: usize = ns.iter().product();
    let rows: usize = shape[..shape.len() - ns.len()].iter().product();
    Ok((rows, d))
}

/// The loss at the end of the chain (mean reduction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossSpec {
    /// Cross-entropy of logits against class indices.
    CrossEntropy { label_smoothing: f64 },
    /// A pointwise regression loss against targets of the output's shape.
    Regression(RegressionLoss),
}

/// The targets of one step, each with its shape (checked against the model's output).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a, T> {
    /// Class indices, one per sample: the output's shape without the class axis.
    Labels(&'a [i64], &'a [usize]),
    /// Values of the output's shape: regression targets, or class probabilities for the
    /// cross-entropy.
    Values(&'a [T], &'a [usize]),
}

impl<T> Target<'_, T> {
    /// Checks that the data fill the shape.
    fn check(&self) -> Result<()> {
        let (len, shape) = match self {
            Target::Labels(d, s) => (d.len(), *s),
            Target::Values(d, s) => (d.len(), *s),
        };
        if shape.iter().product::<usize>() != len {
            return shape_err!(
                "compiled step: target has shape {} but {len} elements",
                fmt_shape(shape)
            );
        }
        Ok(())
    }
}

/// Options of one captured step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOptions {
    /// Also return the model's output (the loss's input).
    pub keep_output: bool,
    /// Skip the update when the loss is NaN or infinite, leaving every buffer as it was.
    pub skip_non_finite: bool,
}

/// What one captured step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome<T> {
    /// The loss before the update.
    pub loss: T,
    /// The model's output and its shape, when asked for.
    pub output: Option<(Vec<T>, Vec<usize>)>,
    /// Whether the update ran (false only with `skip_non_finite` and a non-finite loss).
    pub applied: bool,
}

/// A captured model: the layers in order and the loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub layers: Vec<Layer>,
    pub loss: LossSpec,
}

/// What a layer keeps from the forward pass for its backward.
enum Saved<T> {
    None,
    Pool {
        dims: Pool2dDims,
        indices: Vec<i64>,
    },
    AvgPool {
        dims: Pool2dDims,
    },
    Conv {
        dims: Conv2dDims,
    },
    /// Per-channel or per-row statistics of a normalisation (mean, invstd); for batch norm,
    /// whether they are batch statistics, and the updated running statistics.
    Norm {
        mean: Vec<T>,
        invstd: Vec<T>,
        batch: bool,
        running: Option<(Vec<T>, Vec<T>)>,
    },
}

impl Plan {
    /// Number of parameter buffers the plan expects, in order.
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(Layer::n_params).sum()
    }

    /// Number of buffers (running statistics, dropout masks) the plan expects, in order.
    pub fn n_buffers(&self) -> usize {
        self.layers.iter().map(Layer::n_buffers).sum()
    }

    /// The input shape of every layer, then the output shape, for an input of shape
    /// `x_shape` (for example to draw dropout masks of the right shapes).
    pub fn shapes(&self, x_shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        let mut out = vec![x_shape.to_vec()];
        for layer in &self.layers {
            let next = layer.out_shape(&out[out.len() - 1])?;
            out.push(next);
        }
        Ok(out)
    }

    /// Runs forward, loss, backward, then `update(params, grads)` once; returns the loss.
    ///
    /// `params` are the parameter buffers in plan order; the gradients handed to `update`
    /// line up with them.
    pub fn step<T: FastMath, U>(
        &self,
        x: &[T],
        x_shape: &[usize],
        target: Target<'_, T>,
        params: &mut [&mut [T]],
        update: U,
    ) -> Result<T>
    where
        U: FnOnce(&mut [&mut [T]], &[Vec<T>]) -> Result<()>,
    {
        let outcome = self.step_with(x, x_shape, target, params, update, StepOptions::default())?;
        Ok(outcome.loss)
    }

    /// [`Plan::step`] with options: keep the model's output, or leave the parameters as they
    /// are when the loss is not finite.
    pub fn step_with<T: FastMath, U>(
        &self,
        x: &[T],
        x_shape: &[usize],
        target: Target<'_, T>,
        params: &mut [&mut [T]],
        update: U,
        options: StepOptions,
    ) -> Result<StepOutcome<T>>
    where
        U: FnOnce(&mut [&mut [T]], &[Vec<T>]) -> Result<()>,
    {
        self.step_buffers(x, x_shape, target, params, &mut [], update, options)
    }

    /// [`Plan::step_with`] for plans with buffers: `buffers` holds, in layer order, the
    /// running mean and variance of each batch norm that tracks them (updated in place in
    /// training, once the loss is computed) and the mask of each dropout.
    #[allow(clippy::too_many_arguments)]
    pub fn step_buffers<T: FastMath, U>(
        &self,
        x: &[T],
        x_shape: &[usize],
        target: Target<'_, T>,
        params: &mut [&mut [T]],
        buffers: &mut [&mut [T]],
        update: U,
        options: StepOptions,
    ) -> Result<StepOutcome<T>>
    where
        U: FnOnce(&mut [&mut [T]], &[Vec<T>]) -> Result<()>,
    {
        if buffers.len() != self.n_buffers() {
            return value_err!(
                "compiled step: the plan has {} buffers, got {}",
                self.n_buffers(),
                buffers.len()
            );
        }
        if params.len() != self.n_params() {
            return value_err!(
                "compiled step: the plan has {} parameter buffers, got {}",
                self.n_params(),
                params.len()
            );
        }
        if x_shape.iter().product::<usize>() != x.len() || x_shape.is_empty() {
            return shape_err!("compiled step: input has shape {}", fmt_shape(x_shape));
        }
        // Forward, keeping each layer's input.
        let mut inputs: Vec<(Vec<T>, Vec<usize>)> = Vec::with_capacity(self.layers.len());
        let mut saved: Vec<Saved<T>> = Vec::with_capacity(self.layers.len());
        let mut cur = buf::copied(x)?;
        let mut shape = x_shape.to_vec();
        let mut pi = 0;
        let mut bi = 0;
        for layer in &self.layers {
            let (out, out_shape, keep) =
                forward(layer, &cur, &shape, &params[pi..], &buffers[bi..])?;
            pi += layer.n_params();
            bi += layer.n_buffers();
            inputs.push((std::mem::replace(&mut cur, out), shape));
            shape = out_shape;
            saved.push(keep);
        }
        let (loss, mut g) = self.loss_and_grad(&cur, &shape, target)?;
        // The running statistics change once the forward and the loss have succeeded (even
        // when the update is then skipped, as in an eager step).
        let mut bi = 0;
        for (layer, keep) in self.layers.iter().zip(&mut saved) {
            if let Saved::Norm { running, .. } = keep {
                if let Some((rm, rv)) = running.take() {
                    buffers[bi].copy_from_slice(&rm);
                    buffers[bi + 1].copy_from_slice(&rv);
                }
            }
            bi += layer.n_buffers();
        }
        let output = options.keep_output.then(|| (cur.clone(), shape.clone()));
        if options.skip_non_finite && !loss.is_finite() {
            return Ok(StepOutcome {
                loss,
                output,
                applied: false,
            });
        }
        // Backward, collecting parameter gradients in plan order.
        let mut grads: Vec<Vec<T>> = vec![Vec::new(); params.len()];
        for (li, layer) in self.layers.iter().enumerate().rev() {
            pi -= layer.n_params();
            bi -= layer.n_buffers();
            let (xin, xshape) = &inputs[li];
            let need_input_grad = li > 0;
            g = backward(
                layer,
                &g,
                xin,
                xshape,
                &saved[li],
                &params[pi..],
                &buffers[bi..],
                &mut grads[pi..],
                need_input_grad,
            )?;
        }
        update(params, &grads)?;
        Ok(StepOutcome {
            loss,
            output,
            applied: true,
        })
    }

    fn loss_and_grad<T: FastMath>(
        &self,
        out: &[T],
        shape: &[usize],
        target: Target<'_, T>,
    ) -> Result<(T, Vec<T>)> {
        target.check()?;
        let one = [T::one()];
        let g_view = View::new(&one, &[]);
        match (self.loss, target) {
            (LossSpec::CrossEntropy { label_smoothing }, target) => {
                let target = match target {
                    Target::Labels(labels, tshape) => ClassTarget::Index(View::new(labels, tshape)),
                    Target::Values(probs, tshape) => ClassTarget::Prob(View::new(probs, tshape)),
                };
                let mut opts = ClassOptions::new(Reduction::Mean);
                opts.label_smoothing = label_smoothing;
                let (loss, _, grad) = classification::cross_entropy_with_grad(
                    g_view,
                    View::new(out, shape),
                    target,
                    &opts,
                )?;
                Ok((loss[0], grad))
            }
            (LossSpec::Regression(kind), Target::Values(t, tshape)) => {
                let loss = regression::loss(kind, out, shape, t, tshape, Reduction::Mean)?;
                let grad = regression::loss_backward(
                    kind,
                    &one,
                    &[],
                    out,
                    shape,
                    t,
                    tshape,
                    Reduction::Mean,
                )?;
                Ok((loss[0], grad))
            }
            _ => value_err!("compiled step: the targets do not match the loss"),
        }
    }
}

type Forward<T> = (Vec<T>, Vec<usize>, Saved<T>);

fn forward<T: FastMath>(
    layer: &Layer,
    x: &[T],
    shape: &[usize],
    params: &[&mut [T]],
    buffers: &[&mut [T]],
) -> Result<Forward<T>> {
    Ok(match layer {
        Layer::Linear { in_f, out_f, bias } => {
            if shape.len() != 2 || shape[1] != *in_f {
                return shape_err!(
                    "compiled step: Linear({in_f}, {out_f}) got input of shape {}",
                    fmt_shape(shape)
                );
            }
            let b = if *bias { Some(&*params[1]) } else { None };
            let y = gemm::linear(x, params[0], b, shape[0], *in_f, *out_f)?;
            (y, vec![shape[0], *out_f], Saved::None)
        }
        Layer::Act(a) => (activation::forward(*a, x)?, shape.to_vec(), Saved::None),
        Layer::Flatten => {
            let n = shape.first().copied().unwrap_or(1);
            let rest = x.len().checked_div(n).unwrap_or(0);
            (buf::copied(x)?, vec![n, rest], Saved::None)
        }
        Layer::Conv2d {
            c_out,
            kernel,
            spec,
            bias,
            c_in,
        } => {
            let wshape = [*c_out, *c_in / spec.groups.max(1), kernel[0], kernel[1]];
            let bshape = [*c_out];
            let blen = bias.then_some(&bshape[..]);
            let dims = Conv2dDims::new("compiled step: Conv2d", shape, &wshape, blen, *spec)?;
            let b = if *bias { Some(&*params[1]) } else { None };
            let y = conv::conv2d(x, params[0], b, &dims)?;
            (y, dims.out_shape().to_vec(), Saved::Conv { dims })
        }
        Layer::MaxPool2d(spec) => {
            let dims = Pool2dDims::new("compiled step: MaxPool2d", shape, *spec)?;
            let (y, indices) = conv::max_pool2d(x, &dims)?;
            let out = pool_out_shape(shape, &dims);
            (y, out, Saved::Pool { dims, indices })
        }
        Layer::AvgPool2d {
            spec,
            count_include_pad,
        } => {
            let dims = Pool2dDims::new("compiled step: AvgPool2d", shape, *spec)?;
            let y = conv::avg_pool2d(x, &dims, *count_include_pad, None)?;
            let out = pool_out_shape(shape, &dims);
            (y, out, Saved::AvgPool { dims })
        }
        Layer::BatchNorm {
            channels,
            ranks,
            eps,
            momentum,
            affine,
            track,
            training,
        } => {
            check_channels(*channels, *ranks, shape)?;
            let (w, b) = if *affine {
                (Some(&*params[0]), Some(&*params[1]))
            } else {
                (None, None)
            };
            if *training || !*track {
                let running = (*training && *track).then(|| (&*buffers[0], &*buffers[1]));
                let r = norm::batch_norm_train(x, shape, w, b, running, *momentum, *eps)?;
                let running = r.running_mean.zip(r.running_var);
                let keep = Saved::Norm {
                    mean: r.mean,
                    invstd: r.invstd,
                    batch: true,
                    running,
                };
                (r.output, shape.to_vec(), keep)
            } else {
                let (rm, rv) = (&*buffers[0], &*buffers[1]);
                let (y, invstd) = norm::batch_norm_eval(x, shape, rm, rv, w, b, *eps)?;
                let keep = Saved::Norm {
                    mean: rm.to_vec(),
                    invstd,
                    batch: false,
                    running: None,
                };
                (y, shape.to_vec(), keep)
            }
        }
        Layer::LayerNorm {
            shape: ns,
            eps,
            weight,
            bias,
        } => {
            let (rows, d) = layer_rows(ns, shape)?;
            let w = weight.then(|| &*params[0]);
            let b = bias.then(|| &*params[usize::from(*weight)]);
            let r = norm::layer_norm(x, rows, d, w, b, *eps)?;
            let keep = Saved::Norm {
                mean: r.mean,
                invstd: r.invstd,
                batch: true,
                running: None,
            };
            (r.output, shape.to_vec(), keep)
        }
        Layer::Dropout => {
            let mask = &*buffers[0];
            if mask.len() != x.len() {
                return shape_err!(
                    "compiled step: a dropout mask has {} elements for an input of shape {}",
                    mask.len(),
                    fmt_shape(shape)
                );
            }
            let y = x.iter().zip(mask).map(|(&v, &m)| v * m).collect();
            (y, shape.to_vec(), Saved::None)
        }
    })
}

fn pool_out_shape(shape: &[usize], d: &Pool2dDims) -> Vec<usize> {
    let mut out = shape.to_vec();
    let nd = out.len();
    out[nd - 2] = d.oh;
    out[nd - 1] = d.ow;
    out
}

#[allow(clippy::too_many_arguments)]
fn backward<T: FastMath>(
    layer: &Layer,
    g: &[T],
    x: &[T],
    shape: &[usize],
    saved: &Saved<T>,
    params: &[&mut [T]],
    buffers: &[&mut [T]],
    grads: &mut [Vec<T>],
    need_input_grad: bool,
) -> Result<Vec<T>> {
    Ok(match (layer, saved) {
        (Layer::Linear { in_f, out_f, bias }, _) => {
            let (gx, gw, gb) = gemm::linear_backward_opt(
                g,
                x,
                params[0],
                shape[0],
                *in_f,
                *out_f,
                need_input_grad,
            )?;
            grads[0] = gw;
            if *bias {
                grads[1] = gb;
            }
            gx
        }
        (Layer::Act(a), _) => {
            if need_input_grad {
                activation::backward(*a, g, x)?
            } else {
                Vec::new()
            }
        }
        (Layer::Flatten, _) => buf::copied(g)?,
        (Layer::Conv2d { bias, .. }, Saved::Conv { dims }) => {
            let (gx, gw, gb) = conv::conv2d_backward(g, x, params[0], dims, need_input_grad)?;
            grads[0] = gw;
            if *bias {
                grads[1] = gb;
            }
            gx
        }
        (Layer::MaxPool2d(_), Saved::Pool { dims, indices }) => {
            conv::max_pool2d_backward(g, indices, dims.planes, dims.h * dims.w, dims.oh * dims.ow)?
        }
        (
            Layer::AvgPool2d {
                count_include_pad, ..
            },
            Saved::AvgPool { dims },
        ) => conv::avg_pool2d_backward(g, dims, *count_include_pad, None)?,
        (
            Layer::BatchNorm { affine, .. },
            Saved::Norm {
                mean,
                invstd,
                batch,
                ..
            },
        ) => {
            let w = affine.then(|| &*params[0]);
            let r =
                norm::batch_norm_backward(g, shape, x, shape, (mean, invstd), w, *batch, *affine)?;
            if *affine {
                grads[0] = r.weight.unwrap_or_default();
                grads[1] = r.bias.unwrap_or_default();
            }
            r.input
        }
        (
            Layer::LayerNorm {
                shape: ns,
                weight,
                bias,
                ..
            },
            Saved::Norm { mean, invstd, .. },
        ) => {
            let (rows, d) = layer_rows(ns, shape)?;
            let w = weight.then(|| &*params[0]);
            let need = *weight || *bias;
            let r = norm::layer_norm_backward(g, x, rows, d, mean, invstd, w, need)?;
            if *weight {
                grads[0] = r.weight.unwrap_or_default();
            }
            if *bias {
                grads[usize::from(*weight)] = r.bias.unwrap_or_default();
            }
            r.input
        }
        (Layer::Dropout, _) => g.iter().zip(&*buffers[0]).map(|(&v, &m)| v * m).collect(),
        _ => return value_err!("compiled step: internal: layer and saved state differ"),
    })
}

#[cfg(test)]
mod tests;
