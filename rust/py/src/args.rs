//! Arguments converted while PyO3 extracts them, before a binding's body runs: a binding takes
//! `Wrap<T>` for a kernel type `T` that has no Python counterpart, and the conversion (with its
//! checks and messages) lives here, once.

use ferrograd_core::activation::{Activation, GeluApprox};
use ferrograd_core::conv::{Conv2dSpec, Pool2dSpec};
use ferrograd_core::step::Layer;
use pyo3::prelude::*;

use crate::errors::{value_error, BindResult};

/// A kernel type extracted from a Python object (see the module docs).
pub struct Wrap<T>(pub T);

/// A layer of a captured model from its `(kind, ints, floats)` description, as
/// `ferrograd.compile` writes it.
impl<'a, 'py> FromPyObject<'a, 'py> for Wrap<Layer> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let (kind, ints, floats): (String, Vec<i64>, Vec<f64>) = obj.extract()?;
        Ok(Wrap(parse_layer(&kind, &ints, &floats)?))
    }
}

fn ints<const N: usize>(kind: &str, v: &[i64]) -> BindResult<[usize; N]> {
    if v.len() != N || v.iter().any(|&x| x < 0) {
        return Err(value_error(format!(
            "StepPlan: layer '{kind}' needs {N} non-negative integers, got {v:?}"
        )));
    }
    let mut out = [0; N];
    for (o, &x) in out.iter_mut().zip(v) {
        *o = x as usize;
    }
    Ok(out)
}

fn float_arg(kind: &str, v: &[f64]) -> BindResult<f64> {
    v.first()
        .copied()
        .ok_or_else(|| value_error(format!("StepPlan: layer '{kind}' needs a float argument")))
}

fn parse_layer(kind: &str, i: &[i64], f: &[f64]) -> BindResult<Layer> {
    Ok(match kind {
        "linear" => {
            let [in_f, out_f, bias] = ints::<3>(kind, i)?;
            Layer::Linear {
                in_f,
                out_f,
                bias: bias != 0,
            }
        }
        "relu" => Layer::Act(Activation::Relu),
        "sigmoid" => Layer::Act(Activation::Sigmoid),
        "tanh" => Layer::Act(Activation::Tanh),
        "silu" => Layer::Act(Activation::Silu),
        "gelu" => Layer::Act(Activation::Gelu {
            approximate: if f.first().copied().unwrap_or(0.0) != 0.0 {
                GeluApprox::Tanh
            } else {
                GeluApprox::None
            },
        }),
        "leaky_relu" => Layer::Act(Activation::LeakyRelu {
            negative_slope: float_arg(kind, f)?,
        }),
        "elu" => Layer::Act(Activation::Elu {
            alpha: float_arg(kind, f)?,
        }),
        "flatten" => Layer::Flatten,
        "conv2d" => {
            let [c_in, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias] = ints::<12>(kind, i)?;
            Layer::Conv2d {
                c_in,
                c_out,
                kernel: [kh, kw],
                spec: Conv2dSpec::new([sh, sw], [ph, pw], [dh, dw], groups),
                bias: bias != 0,
            }
        }
        "max_pool2d" => {
            let [kh, kw, sh, sw, ph, pw, dh, dw, ceil] = ints::<9>(kind, i)?;
            Layer::MaxPool2d(Pool2dSpec {
                kernel: [kh, kw],
                stride: [sh, sw],
                padding: [ph, pw],
                dilation: [dh, dw],
                ceil_mode: ceil != 0,
            })
        }
        "avg_pool2d" => {
            let [kh, kw, sh, sw, ph, pw, ceil, include] = ints::<8>(kind, i)?;
            Layer::AvgPool2d {
                spec: Pool2dSpec {
                    kernel: [kh, kw],
                    stride: [sh, sw],
                    padding: [ph, pw],
                    dilation: [1, 1],
                    ceil_mode: ceil != 0,
                },
                count_include_pad: include != 0,
            }
        }
        "batch_norm" => {
            let [channels, affine, track, training, min_rank, max_rank] = ints::<6>(kind, i)?;
            let &[eps, momentum] = f else {
                return Err(value_error(format!(
                    "StepPlan: layer '{kind}' needs eps and momentum, got {f:?}"
                )));
            };
            Layer::BatchNorm {
                channels,
                ranks: [min_rank, max_rank],
                eps,
                momentum,
                affine: affine != 0,
                track: track != 0,
                training: training != 0,
            }
        }
        "layer_norm" => {
            if i.len() < 3 || i.iter().any(|&x| x < 0) {
                return Err(value_error(format!(
                    "StepPlan: layer '{kind}' needs weight, bias and a normalized shape, got {i:?}"
                )));
            }
            Layer::LayerNorm {
                shape: i[2..].iter().map(|&x| x as usize).collect(),
                eps: float_arg(kind, f)?,
                weight: i[0] != 0,
                bias: i[1] != 0,
            }
        }
        "dropout" => Layer::Dropout,
        _ => return Err(value_error(format!("StepPlan: unsupported layer '{kind}'"))),
    })
}
