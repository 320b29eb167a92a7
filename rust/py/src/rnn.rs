//! Bindings of the recurrent kernels (behind `ferrograd.nn.RNN`, `LSTM` and `GRU`): one
//! layer in one direction over a whole sequence, forward and backward.
//!
//! Every float argument has the input's dtype (float32 or float64). `mode` is `"RNN_TANH"`,
//! `"RNN_RELU"`, `"LSTM"` or `"GRU"`; the input is (steps, batch, input), states are
//! (batch, hidden) and the weights use PyTorch's layouts.

use ferrograd_core::rnn::{self as core, Cell, Run, SeqDims, Weights};
use ferrograd_core::shape::fmt_shape;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::borrow::Cow;

use crate::arrays::{borrow, borrow_opt, common_float, data, out, shape, In};
use crate::errors::{run, shape_error, value_error, BindResult};
use crate::with_float;

type Arr<'py> = Bound<'py, PyAny>;

/// The borrowed arguments of one run, checked against each other.
struct Args<'py, T: numpy::Element> {
    cell: Cell,
    d: SeqDims,
    x: In<'py, T>,
    h0: In<'py, T>,
    c0: Option<In<'py, T>>,
    w_ih: In<'py, T>,
    w_hh: In<'py, T>,
    b_ih: Option<In<'py, T>>,
    b_hh: Option<In<'py, T>>,
}

#[allow(clippy::too_many_arguments)]
fn args<'py, T: numpy::Element>(
    func: &str,
    mode: &str,
    input: &Arr<'py>,
    h0: &Arr<'py>,
    weight_ih: &Arr<'py>,
    weight_hh: &Arr<'py>,
    bias_ih: Option<&Arr<'py>>,
    bias_hh: Option<&Arr<'py>>,
    c0: Option<&Arr<'py>>,
) -> BindResult<Args<'py, T>> {
    let cell = Cell::parse(func, mode)?;
    common_float(
        func,
        &[
            ("input", input),
            ("h0", h0),
            ("weight_ih", weight_ih),
            ("weight_hh", weight_hh),
        ],
    )?;
    let a = Args {
        cell,
        d: SeqDims {
            steps: 0,
            batch: 0,
            input: 0,
            hidden: 0,
        },
        x: borrow::<T>(input)?,
        h0: borrow::<T>(h0)?,
        c0: borrow_opt::<T>(func, "c0", input, c0)?,
        w_ih: borrow::<T>(weight_ih)?,
        w_hh: borrow::<T>(weight_hh)?,
        b_ih: borrow_opt::<T>(func, "bias_ih", input, bias_ih)?,
        b_hh: borrow_opt::<T>(func, "bias_hh", input, bias_hh)?,
    };
    let (sx, sh, swi, swh) = (shape(&a.x), shape(&a.h0), shape(&a.w_ih), shape(&a.w_hh));
    let bad = |what: String| -> BindResult<Args<'py, T>> {
        Err(shape_error(format!(
            "{func}: {what} (input {}, h0 {}, weight_ih {}, weight_hh {})",
            fmt_shape(&sx),
            fmt_shape(&sh),
            fmt_shape(&swi),
            fmt_shape(&swh)
        )))
    };
    if sx.len() != 3 || sh.len() != 2 || swi.len() != 2 || swh.len() != 2 {
        return bad("expected input (steps, batch, in), h0 (batch, hidden), weights 2-D".into());
    }
    let (steps, batch, input_size, hidden) = (sx[0], sx[1], sx[2], sh[1]);
    let gates = cell.gates().checked_mul(hidden);
    if sh[0] != batch || Some(swh[0]) != gates || swh[1] != hidden {
        return bad(format!(
            "expected h0 (batch, hidden) and weight_hh ({} * hidden, hidden)",
            cell.gates()
        ));
    }
    if swi != [swh[0], input_size] {
        return bad(format!(
            "expected weight_ih of shape ({}, {input_size})",
            swh[0]
        ));
    }
    for (name, b) in [("bias_ih", &a.b_ih), ("bias_hh", &a.b_hh)] {
        if let Some(b) = b {
            if shape(b) != [swh[0]] {
                return bad(format!(
                    "{name} has shape {}, expected ({},)",
                    fmt_shape(&shape(b)),
                    swh[0]
                ));
            }
        }
    }
    match (&a.c0, cell) {
        (Some(c), Cell::Lstm) if shape(c) == sh => {}
        (None, Cell::Lstm) => return bad("the LSTM needs c0 of h0's shape".into()),
        (Some(c), Cell::Lstm) => {
            return bad(format!(
                "c0 has shape {}, expected h0's",
                fmt_shape(&shape(c))
            ));
        }
        (Some(_), _) => return bad(format!("only the LSTM takes c0, not {mode}")),
        (None, _) => {}
    }
    Ok(Args {
        d: SeqDims {
            steps,
            batch,
            input: input_size,
            hidden,
        },
        ..a
    })
}

/// Slices of the borrowed arguments (copied once when not contiguous).
struct Data<'a, T: Clone> {
    x: Cow<'a, [T]>,
    h0: Cow<'a, [T]>,
    c0: Option<Cow<'a, [T]>>,
    w_ih: Cow<'a, [T]>,
    w_hh: Cow<'a, [T]>,
    b_ih: Option<Cow<'a, [T]>>,
    b_hh: Option<Cow<'a, [T]>>,
}

impl<'py, T: numpy::Element + Copy> Args<'py, T> {
    fn data(&self) -> BindResult<Data<'_, T>> {
        Ok(Data {
            x: data(&self.x)?,
            h0: data(&self.h0)?,
            c0: self.c0.as_ref().map(data).transpose()?,
            w_ih: data(&self.w_ih)?,
            w_hh: data(&self.w_hh)?,
            b_ih: self.b_ih.as_ref().map(data).transpose()?,
            b_hh: self.b_hh.as_ref().map(data).transpose()?,
        })
    }
}

impl<T: Clone> Data<'_, T> {
    fn run(&self, cell: Cell, d: SeqDims, reverse: bool) -> Run<'_, T> {
        Run {
            cell,
            d,
            x: &self.x,
            h0: &self.h0,
            c0: self.c0.as_deref(),
            w: Weights {
                w_ih: &self.w_ih,
                w_hh: &self.w_hh,
                b_ih: self.b_ih.as_deref(),
                b_hh: self.b_hh.as_deref(),
            },
            reverse,
        }
    }
}

/// One layer in one direction over the sequence; returns `(states, saved)`: states is
/// (steps, batch, hidden), or (steps, batch, 2 * hidden) with h then c for the LSTM; saved
/// holds what `rnn_backward` needs.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (mode, input, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, c0=None,
                    reverse=false))]
pub fn rnn_forward<'py>(
    py: Python<'py>,
    mode: &str,
    input: &Arr<'py>,
    h0: &Arr<'py>,
    weight_ih: &Arr<'py>,
    weight_hh: &Arr<'py>,
    bias_ih: Option<&Arr<'py>>,
    bias_hh: Option<&Arr<'py>>,
    c0: Option<&Arr<'py>>,
    reverse: bool,
) -> BindResult<(Arr<'py>, Arr<'py>)> {
    let func = "rnn_forward";
    with_float!(func, [("input", input)], |T| {
        let a = args::<T>(
            func, mode, input, h0, weight_ih, weight_hh, bias_ih, bias_hh, c0,
        )?;
        let (cell, d) = (a.cell, a.d);
        let dd = a.data()?;
        let f = run(py, || core::forward(&dd.run(cell, d, reverse)))?;
        let h = d.hidden;
        Ok((
            out(py, f.states, &[d.steps, d.batch, cell.state_width() * h])?,
            out(py, f.saved, &[d.steps, d.batch, cell.saved_width() * h])?,
        ))
    })
}

/// Gradients of `rnn_forward` given the gradient of its states; returns `(grad_input,
/// grad_h0, grad_c0, grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh)` with None
/// for what does not exist (grad_input too unless `need_input_grad`).
///
/// `grad_states` is (steps, batch, width), or (len(grad_steps), batch, width) holding the
/// steps at the positions `grad_steps` lists (the others have zero gradient); `width` is that
/// of the states, or `hidden` for the h part of the LSTM's states alone.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (mode, grad_states, input, h0, weight_ih, weight_hh, states, saved,
                    bias_ih=None, bias_hh=None, c0=None, reverse=false, need_input_grad=true,
                    grad_steps=None))]
pub fn rnn_backward<'py>(
    py: Python<'py>,
    mode: &str,
    grad_states: &Arr<'py>,
    input: &Arr<'py>,
    h0: &Arr<'py>,
    weight_ih: &Arr<'py>,
    weight_hh: &Arr<'py>,
    states: &Arr<'py>,
    saved: &Arr<'py>,
    bias_ih: Option<&Arr<'py>>,
    bias_hh: Option<&Arr<'py>>,
    c0: Option<&Arr<'py>>,
    reverse: bool,
    need_input_grad: bool,
    grad_steps: Option<Vec<i64>>,
) -> BindResult<Bound<'py, PyTuple>> {
    let func = "rnn_backward";
    let grad_steps = grad_steps
        .map(|v| {
            v.into_iter()
                .map(|t| usize::try_from(t).map_err(|_| t))
                .collect::<Result<Vec<usize>, i64>>()
        })
        .transpose()
        .map_err(|t| value_error(format!("{func}: grad_steps holds the negative step {t}")))?;
    with_float!(
        func,
        [
            ("input", input),
            ("grad_states", grad_states),
            ("states", states),
            ("saved", saved)
        ],
        |T| {
            let a = args::<T>(
                func, mode, input, h0, weight_ih, weight_hh, bias_ih, bias_hh, c0,
            )?;
            let (cell, d) = (a.cell, a.d);
            let (g, s, v) = (
                borrow::<T>(grad_states)?,
                borrow::<T>(states)?,
                borrow::<T>(saved)?,
            );
            let want_s = [d.steps, d.batch, cell.state_width() * d.hidden];
            let want_v = [d.steps, d.batch, cell.saved_width() * d.hidden];
            let sg = shape(&g);
            let given = grad_steps.as_ref().map_or(d.steps, Vec::len);
            let width = sg.get(2).copied().unwrap_or(0);
            if sg.len() != 3
                || sg[..2] != [given, d.batch]
                || !(width == want_s[2] || width == d.hidden)
            {
                return Err(shape_error(format!(
                    "{func}: grad_states has shape {}, expected {} or ({given}, {}, {})",
                    fmt_shape(&sg),
                    fmt_shape(&[given, d.batch, want_s[2]]),
                    d.batch,
                    d.hidden
                )));
            }
            for (name, arr, want) in [("states", &s, &want_s), ("saved", &v, &want_v)] {
                if shape(arr) != want {
                    return Err(shape_error(format!(
                        "{func}: {name} has shape {}, expected {}",
                        fmt_shape(&shape(arr)),
                        fmt_shape(want)
                    )));
                }
            }
            let dd = a.data()?;
            let (dg, ds, dv) = (data(&g)?, data(&s)?, data(&v)?);
            let gr = run(py, || {
                let grad = core::StateGrad {
                    data: &dg,
                    width,
                    steps: grad_steps.as_deref(),
                };
                core::backward_with(&dd.run(cell, d, reverse), &grad, &ds, &dv, need_input_grad)
            })?;
            let sx = [d.steps, d.batch, d.input];
            let sh = [d.batch, d.hidden];
            let rows = cell.gates() * d.hidden;
            let opt = |v: Option<Vec<T>>, s: &[usize]| -> BindResult<Option<Arr<'py>>> {
                v.map(|v| out(py, v, s)).transpose()
            };
            let items: [Option<Arr<'py>>; 7] = [
                opt(gr.dx, &sx)?,
                Some(out(py, gr.dh0, &sh)?),
                opt(gr.dc0, &sh)?,
                Some(out(py, gr.dw_ih, &[rows, d.input])?),
                Some(out(py, gr.dw_hh, &[rows, d.hidden])?),
                opt(gr.db_ih, &[rows])?,
                opt(gr.db_hh, &[rows])?,
            ];
            Ok(PyTuple::new(py, items)?)
        }
    )
}

/// Registers this file's functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rnn_forward, m)?)?;
    m.add_function(wrap_pyfunction!(rnn_backward, m)?)?;
    Ok(())
}
