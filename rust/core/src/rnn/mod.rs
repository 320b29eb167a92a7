//! Recurrent layers: one layer in one direction over a whole sequence, forward and backward
//! (backpropagation through time), for the Elman cell (tanh or ReLU), LSTM and GRU.
//!
//! Weights use PyTorch's layouts and gate order: `w_ih` is (gates * hidden, input), `w_hh` is
//! (gates * hidden, hidden), LSTM gates are i, f, g, o and GRU gates r, z, n with
//! `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`. Arrays are row-major: the input is
//! (steps, batch, input), states are (batch, hidden).
//!
//! The forward pass returns `states`, (steps, batch, width * hidden) with `width` 1, or 2 for
//! the LSTM (h_t then c_t), the state after reading `x[t]` at position `t` in either direction;
//! and `saved`, the gate activations the backward pass needs (empty for the Elman cell).
//!
//! ```
//! use ferrograd_core::rnn::{forward, Cell, Run, SeqDims, Weights};
//! let run = Run {
//!     cell: Cell::RnnRelu,
//!     d: SeqDims { steps: 2, batch: 1, input: 1, hidden: 1 },
//!     x: &[1.0f64, -1.0],
//!     h0: &[0.0],
//!     c0: None,
//!     w: Weights { w_ih: &[1.0], w_hh: &[0.0], b_ih: None, b_hh: None },
//!     reverse: false,
//! };
//! assert_eq!(forward(&run).unwrap().states, vec![1.0, 0.0]);
//! ```

mod backward;
mod blocks;
mod forward;
mod gates;
#[cfg(test)]
mod naive;

pub use backward::{backward, backward_with};
pub use forward::forward;

use crate::error::Result;
use crate::shape::{checked_numel, fmt_shape};
use crate::{shape_err, value_err};

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnTanh,
    /// `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnRelu,
    /// Long short-term memory, gates i, f, g, o.
    Lstm,
    /// Gated recurrent unit, gates r, z, n.
    Gru,
}

impl Cell {
    /// Parses PyTorch's mode names: `RNN_TANH`, `RNN_RELU`, `LSTM`, `GRU`.
    pub fn parse(func: &str, mode: &str) -> Result<Self> {
        match mode {
            "RNN_TANH" => Ok(Cell::RnnTanh),
            "RNN_RELU" => Ok(Cell::RnnRelu),
            "LSTM" => Ok(Cell::Lstm),
            "GRU" => Ok(Cell::Gru),
            _ => value_err!(
                "{func}: mode must be 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU', got '{mode}'"
            ),
        }
    }

    /// Weight rows per hidden unit.
    pub fn gates(self) -> usize {
        match self {
            Cell::RnnTanh | Cell::RnnRelu => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// Values per step and batch row in `states`, in units of `hidden`.
    pub fn state_width(self) -> usize {
        if self == Cell::Lstm {
            2
        } else {
            1
        }
    }

    /// Values per step and batch row in `saved`, in units of `hidden`.
    pub fn saved_width(self) -> usize {
        match self {
            Cell::RnnTanh | Cell::RnnRelu => 0,
            Cell::Lstm | Cell::Gru => 4,
        }
    }
}

/// Sizes of one run: sequence length, batch, input features, hidden features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqDims {
    pub steps: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
}

/// The parameters of one layer in one direction.
#[derive(Debug)]
pub struct Weights<'a, T> {
    pub w_ih: &'a [T],
    pub w_hh: &'a [T],
    pub b_ih: Option<&'a [T]>,
    pub b_hh: Option<&'a [T]>,
}

/// One layer in one direction: the cell, sizes, input sequence, initial states, parameters
/// and whether to read the sequence from its end.
#[derive(Debug)]
pub struct Run<'a, T> {
    pub cell: Cell,
    pub d: SeqDims,
    /// (steps, batch, input).
    pub x: &'a [T],
    /// (batch, hidden).
    pub h0: &'a [T],
    /// (batch, hidden), LSTM only.
    pub c0: Option<&'a [T]>,
    pub w: Weights<'a, T>,
    pub reverse: bool,
}

// Copy without requiring `T: Copy` (the fields are references).
impl<T> Clone for Weights<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Weights<'_, T> {}
impl<T> Clone for Run<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Run<'_, T> {}

/// Result of [`forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct Forward<T> {
    /// (steps, batch, state_width * hidden): h_t (and c_t for the LSTM).
    pub states: Vec<T>,
    /// (steps, batch, saved_width * hidden): LSTM i, f, g, o; GRU r, z, n, W_hn h + b_hn.
    pub saved: Vec<T>,
}

/// The gradient of the states of [`forward`] in compact form, for [`backward_with`].
///
/// `data` holds, for each step given, (batch, width) values: the first `width` values of each
/// batch row of the step's states (`width` is `state_width * hidden`, or `hidden` for the h
/// part of the LSTM's states alone, the c part's gradient being zero). `steps` lists the step
/// positions given, each once, in any order; the others have zero gradient. None gives every
/// step in order.
#[derive(Clone, Copy, Debug)]
pub struct StateGrad<'a, T> {
    pub data: &'a [T],
    pub width: usize,
    pub steps: Option<&'a [usize]>,
}

/// Result of [`backward`].
#[derive(Clone, Debug, PartialEq)]
pub struct Grads<T> {
    /// (steps, batch, input), when asked for.
    pub dx: Option<Vec<T>>,
    /// (batch, hidden).
    pub dh0: Vec<T>,
    /// (batch, hidden), LSTM only.
    pub dc0: Option<Vec<T>>,
    pub dw_ih: Vec<T>,
    pub dw_hh: Vec<T>,
    pub db_ih: Option<Vec<T>>,
    pub db_hh: Option<Vec<T>>,
}

/// `numel` of a shape, or a shape error when it overflows.
fn count(func: &str, shape: &[usize]) -> Result<usize> {
    match checked_numel(shape) {
        Some(n) => Ok(n),
        None => shape_err!("{func}: sizes {} overflow", fmt_shape(shape)),
    }
}

fn check_len<T>(func: &str, name: &str, a: &[T], want: usize) -> Result<()> {
    if a.len() != want {
        return shape_err!("{func}: {name} holds {} elements, expected {want}", a.len());
    }
    Ok(())
}

/// Checks every argument's length against the sizes.
fn check<T>(func: &str, run: &Run<'_, T>) -> Result<()> {
    let Run {
        cell,
        d,
        x,
        h0,
        c0,
        w,
        ..
    } = *run;
    let g = count(func, &[cell.gates(), d.hidden])?;
    count(
        func,
        &[
            d.steps,
            d.batch,
            cell.state_width().max(cell.saved_width()),
            d.hidden,
        ],
    )?;
    count(func, &[d.steps, d.batch, g])?;
    check_len(func, "input", x, count(func, &[d.steps, d.batch, d.input])?)?;
    check_len(func, "h0", h0, count(func, &[d.batch, d.hidden])?)?;
    check_len(func, "weight_ih", w.w_ih, count(func, &[g, d.input])?)?;
    check_len(func, "weight_hh", w.w_hh, count(func, &[g, d.hidden])?)?;
    if let Some(b) = w.b_ih {
        check_len(func, "bias_ih", b, g)?;
    }
    if let Some(b) = w.b_hh {
        check_len(func, "bias_hh", b, g)?;
    }
    match (cell, c0) {
        (Cell::Lstm, Some(c)) => check_len(func, "c0", c, d.batch * d.hidden),
        (Cell::Lstm, None) => shape_err!("{func}: the LSTM needs c0"),
        (_, Some(_)) => shape_err!("{func}: only the LSTM takes c0"),
        (_, None) => Ok(()),
    }
}

/// The step at position `step` of the run (counting from the end when `reverse`).
#[inline]
fn position(steps: usize, step: usize, reverse: bool) -> usize {
    if reverse {
        steps - 1 - step
    } else {
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CELLS: [Cell; 4] = [Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru];

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    struct Case {
        cell: Cell,
        d: SeqDims,
        x: Vec<f64>,
        h0: Vec<f64>,
        c0: Option<Vec<f64>>,
        params: Vec<Vec<f64>>, // w_ih, w_hh, b_ih, b_hh
    }

    impl Case {
        fn new(cell: Cell) -> Self {
            let d = SeqDims {
                steps: 3,
                batch: 2,
                input: 3,
                hidden: 2,
            };
            Case::with(cell, d, 0, 1.0)
        }

        /// Inputs, states and weights of `d`'s sizes from the seeds `first + 1..=first + 7`,
        /// the weights and biases scaled by `scale`.
        fn with(cell: Cell, d: SeqDims, first: u64, scale: f64) -> Self {
            let g = cell.gates() * d.hidden;
            let scaled = |len, seed| -> Vec<f64> {
                values(len, first + seed)
                    .iter()
                    .map(|v| v * scale)
                    .collect()
            };
            Case {
                cell,
                d,
                x: values(d.steps * d.batch * d.input, first + 1),
                h0: values(d.batch * d.hidden, first + 2),
                c0: (cell == Cell::Lstm).then(|| values(d.batch * d.hidden, first + 3)),
                params: vec![
                    scaled(g * d.input, 4),
                    scaled(g * d.hidden, 5),
                    scaled(g, 6),
                    scaled(g, 7),
                ],
            }
        }

        fn run(&self, reverse: bool) -> Run<'_, f64> {
            Run {
                cell: self.cell,
                d: self.d,
                x: &self.x,
                h0: &self.h0,
                c0: self.c0.as_deref(),
                w: Weights {
                    w_ih: &self.params[0],
                    w_hh: &self.params[1],
                    b_ih: Some(&self.params[2]),
                    b_hh: Some(&self.params[3]),
                },
                reverse,
            }
        }

        /// sum(states * weights) for a fixed weighting.
        fn loss(&self, reverse: bool, gw: &[f64]) -> f64 {
            let states = forward(&self.run(reverse)).unwrap().states;
            states.iter().zip(gw).map(|(a, b)| a * b).sum()
        }
    }

    /// The argument `which` of a case: x, h0, c0, w_ih, w_hh, b_ih, b_hh.
    fn arg(case: &mut Case, which: usize) -> &mut Vec<f64> {
        match which {
            0 => &mut case.x,
            1 => &mut case.h0,
            2 => case.c0.as_mut().unwrap(),
            k => &mut case.params[k - 3],
        }
    }

    /// Central differences of `loss` with respect to every element of one argument.
    fn numeric(case: &mut Case, which: usize, reverse: bool, gw: &[f64]) -> Vec<f64> {
        let eps = 1e-6;
        let len = arg(case, which).len();
        let mut out = vec![0.0; len];
        for (j, o) in out.iter_mut().enumerate() {
            let orig = arg(case, which)[j];
            arg(case, which)[j] = orig + eps;
            let up = case.loss(reverse, gw);
            arg(case, which)[j] = orig - eps;
            let down = case.loss(reverse, gw);
            arg(case, which)[j] = orig;
            *o = (up - down) / (2.0 * eps);
        }
        out
    }

    #[test]
    fn backward_matches_finite_differences() {
        for cell in CELLS {
            for reverse in [false, true] {
                let mut case = Case::new(cell);
                let run = case.run(reverse);
                let fwd = forward(&run).unwrap();
                let gw = values(fwd.states.len(), 9);
                let gr = backward(&run, &gw, &fwd.states, &fwd.saved, true).unwrap();
                let analytic: Vec<Option<Vec<f64>>> = vec![
                    gr.dx,
                    Some(gr.dh0),
                    gr.dc0,
                    Some(gr.dw_ih),
                    Some(gr.dw_hh),
                    gr.db_ih,
                    gr.db_hh,
                ];
                for (which, a) in analytic.into_iter().enumerate() {
                    let Some(a) = a else {
                        assert!(which == 2 && cell != Cell::Lstm);
                        continue;
                    };
                    let num = numeric(&mut case, which, reverse, &gw);
                    assert_eq!(a.len(), num.len());
                    for (j, (u, v)) in a.iter().zip(&num).enumerate() {
                        assert!(
                            (u - v).abs() < 1e-7 + 1e-5 * v.abs(),
                            "{cell:?} reverse={reverse} arg {which}[{j}]: {u} vs {v}"
                        );
                    }
                }
            }
        }
    }

    /// A case large enough for the batch to run in several blocks (given two threads), with
    /// weights small enough that the gates do not saturate.
    fn large_case(cell: Cell) -> Case {
        let d = SeqDims {
            steps: 7,
            batch: 37,
            input: 5,
            hidden: 64,
        };
        Case::with(cell, d, 10, 0.2)
    }

    fn assert_near(what: &str, got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (j, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= tol * (1.0 + b.abs()),
                "{what}[{j}]: {a} vs {b}"
            );
        }
    }

    fn grads_list<T: Copy + Into<f64>>(gr: Grads<T>) -> Vec<Vec<f64>> {
        let conv = |v: Option<Vec<T>>| v.unwrap_or_default().into_iter().map(Into::into).collect();
        vec![
            conv(gr.dx),
            conv(Some(gr.dh0)),
            conv(gr.dc0),
            conv(Some(gr.dw_ih)),
            conv(Some(gr.dw_hh)),
            conv(gr.db_ih),
            conv(gr.db_hh),
        ]
    }

    #[test]
    fn blocks_match_the_naive_reference_in_both_precisions() {
        for cell in CELLS {
            for reverse in [false, true] {
                let case = large_case(cell);
                let run = case.run(reverse);
                let (states, saved) = naive::forward(&run);
                let gs = values(states.len(), 18);
                let want = naive::backward(&run, &gs);
                let what = format!("{cell:?} reverse={reverse}");

                let fwd = forward(&run).unwrap();
                assert_near(&format!("{what} states"), &fwd.states, &states, 1e-12);
                assert_near(&format!("{what} saved"), &fwd.saved, &saved, 1e-12);
                let gr = backward(&run, &gs, &fwd.states, &fwd.saved, true).unwrap();
                for (k, (a, b)) in grads_list(gr).iter().zip(&want).enumerate() {
                    assert_near(&format!("{what} grad {k}"), a, b, 1e-11);
                }

                // float32: the same numbers within float32 rounding
                let f = |v: &[f64]| -> Vec<f32> { v.iter().map(|&u| u as f32).collect() };
                let (x, h0, c0) = (f(&case.x), f(&case.h0), case.c0.as_deref().map(f));
                let p: Vec<Vec<f32>> = case.params.iter().map(|v| f(v)).collect();
                let run32 = Run {
                    cell,
                    d: case.d,
                    x: &x,
                    h0: &h0,
                    c0: c0.as_deref(),
                    w: Weights {
                        w_ih: &p[0],
                        w_hh: &p[1],
                        b_ih: Some(&p[2]),
                        b_hh: Some(&p[3]),
                    },
                    reverse,
                };
                let fwd = forward(&run32).unwrap();
                let up = |v: &[f32]| -> Vec<f64> { v.iter().map(|&u| u as f64).collect() };
                assert_near(
                    &format!("{what} f32 states"),
                    &up(&fwd.states),
                    &states,
                    1e-5,
                );
                let gr = backward(&run32, &f(&gs), &fwd.states, &fwd.saved, true).unwrap();
                for (k, (a, b)) in grads_list(gr).iter().zip(&want).enumerate() {
                    assert_near(&format!("{what} f32 grad {k}"), a, b, 1e-3);
                }
            }
        }
    }

    #[test]
    fn compact_state_gradients_match_the_dense_ones() {
        for cell in CELLS {
            for reverse in [false, true] {
                let case = large_case(cell);
                let run = case.run(reverse);
                let fwd = forward(&run).unwrap();
                let (n, h, steps) = (case.d.batch, case.d.hidden, case.d.steps);
                let sw = cell.state_width() * h;
                // steps 5 and 1 (in that order) with only the h part (and the full width)
                for width in [h, sw] {
                    let picked = [5usize, 1];
                    let data = values(picked.len() * n * width, 21);
                    let mut dense = vec![0.0; steps * n * sw];
                    for (j, &t) in picked.iter().enumerate() {
                        for b in 0..n {
                            let src = &data[(j * n + b) * width..(j * n + b + 1) * width];
                            let at = (t * n + b) * sw;
                            dense[at..at + width].copy_from_slice(src);
                        }
                    }
                    let want = backward(&run, &dense, &fwd.states, &fwd.saved, true).unwrap();
                    let grad = StateGrad {
                        data: &data,
                        width,
                        steps: Some(&picked),
                    };
                    let got = backward_with(&run, &grad, &fwd.states, &fwd.saved, true).unwrap();
                    let what = format!("{cell:?} reverse={reverse} width={width}");
                    for (k, (a, b)) in grads_list(got).iter().zip(&grads_list(want)).enumerate() {
                        assert_near(&format!("{what} grad {k}"), a, b, 1e-13);
                    }
                }
                // every step, h part only
                let data = values(steps * n * h, 22);
                let mut dense = vec![0.0; steps * n * sw];
                for (row, src) in dense.chunks_exact_mut(sw).zip(data.chunks_exact(h)) {
                    row[..h].copy_from_slice(src);
                }
                let want = backward(&run, &dense, &fwd.states, &fwd.saved, false).unwrap();
                let grad = StateGrad {
                    data: &data,
                    width: h,
                    steps: None,
                };
                let got = backward_with(&run, &grad, &fwd.states, &fwd.saved, false).unwrap();
                for (k, (a, b)) in grads_list(got).iter().zip(&grads_list(want)).enumerate() {
                    assert_near(&format!("{cell:?} all steps h only grad {k}"), a, b, 1e-13);
                }
            }
        }
    }

    #[test]
    fn bad_compact_gradients_are_errors() {
        let case = Case::new(Cell::Lstm);
        let run = case.run(false);
        let fwd = forward(&run).unwrap();
        let (n, h) = (case.d.batch, case.d.hidden);
        let data = vec![0.0; 2 * n * h];
        let bad = |steps: &[usize], width: usize, len: usize| {
            let grad = StateGrad {
                data: &data[..len],
                width,
                steps: Some(steps),
            };
            backward_with(&run, &grad, &fwd.states, &fwd.saved, true).is_err()
        };
        assert!(bad(&[0, 3], h, 2 * n * h)); // past the end
        assert!(bad(&[1, 1], h, 2 * n * h)); // twice
        assert!(bad(&[0, 1], h, 2 * n * h - 1)); // short
        assert!(bad(&[0, 1], h + 1, 2 * n * h)); // width
        assert!(!bad(&[2, 0], h, 2 * n * h));
    }

    #[test]
    fn reverse_reads_the_sequence_from_the_end() {
        let case = Case::new(Cell::Gru);
        let rev = forward(&case.run(true)).unwrap();
        let (n, h) = (case.d.batch, case.d.hidden);
        // the state at the last position is the first one computed: from h0 and x[T-1] alone
        let mut single = Case::new(Cell::Gru);
        single.d.steps = 1;
        single.x = case.x[(case.d.steps - 1) * n * case.d.input..].to_vec();
        let one = forward(&single.run(false)).unwrap();
        let last = (case.d.steps - 1) * n * h;
        assert_eq!(&rev.states[last..], &one.states[..]);
    }

    #[test]
    fn no_grad_for_the_input_unless_asked() {
        let case = Case::new(Cell::Lstm);
        let run = case.run(false);
        let fwd = forward(&run).unwrap();
        let gw = vec![1.0; fwd.states.len()];
        let gr = backward(&run, &gw, &fwd.states, &fwd.saved, false).unwrap();
        assert!(gr.dx.is_none() && gr.dc0.is_some());
    }

    #[test]
    fn bad_sizes_are_errors_not_panics() {
        let case = Case::new(Cell::Lstm);
        let good = case.run(false);
        let x_short = Run {
            x: &case.x[1..],
            ..good
        };
        assert!(forward(&x_short).is_err());
        assert!(forward(&Run { c0: None, ..good }).is_err());
        assert!(forward(&Run {
            cell: Cell::Gru,
            ..good
        })
        .is_err());
        let huge = SeqDims {
            steps: usize::MAX,
            ..good.d
        };
        assert!(forward(&Run { d: huge, ..good }).is_err());
        let fwd = forward(&good).unwrap();
        let short = vec![0.0; fwd.states.len() - 1];
        assert!(backward(&good, &short, &fwd.states, &fwd.saved, true).is_err());
        assert!(backward(&good, &fwd.states, &fwd.states, &short, true).is_err());
        assert!(Cell::parse("f", "rnn").is_err());
    }

    #[test]
    fn empty_batch_and_sequence_work() {
        for cell in CELLS {
            let g = cell.gates() * 3;
            let (wi, wh) = (vec![0.5; g * 2], vec![0.5; g * 3]);
            let run = Run {
                cell,
                d: SeqDims {
                    steps: 0,
                    batch: 0,
                    input: 2,
                    hidden: 3,
                },
                x: &[],
                h0: &[],
                c0: (cell == Cell::Lstm).then_some(&[][..]),
                w: Weights {
                    w_ih: &wi[..],
                    w_hh: &wh[..],
                    b_ih: None,
                    b_hh: None,
                },
                reverse: false,
            };
            let f = forward(&run).unwrap();
            assert!(f.states.is_empty());
            let gr = backward(&run, &[], &f.states, &f.saved, true).unwrap();
            assert_eq!(gr.dw_ih, vec![0.0; g * 2]);
        }
    }
}
