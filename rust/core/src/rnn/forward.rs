//! The forward pass of one layer in one direction.
//!
//! Each block of batch rows steps through time on its own thread: one product gives the
//! step's pre-activations, `[x_t, h, 1] @ [W_ih^T; W_hh^T; b_ih + b_hh]`, then one fused
//! pass computes gates and state updates. The GRU, whose `b_hn` sits inside the reset gate,
//! instead projects the input of every step in one product first and multiplies `h W_hh^T`
//! into a scratch block at each step.

use super::blocks::{batch_blocks, over_blocks, Shared};
use super::gates::{forward_step, start_rows, StepFwd};
use super::{check, position, Cell, Forward, Run};
use crate::buf;
use crate::error::Result;
use crate::gemm::{gemm_strided, Strided};
use crate::loss::classification::FastMath;
use crate::runtime::scratch::{give_back, take_scratch};

/// The bias of the input projection: `b_ih`, plus `b_hh` but for the GRU.
fn projection_bias<T: FastMath>(run: &Run<'_, T>) -> Result<Option<Vec<T>>> {
    let w = run.w;
    Ok(match (w.b_ih, w.b_hh) {
        (Some(a), Some(b)) if run.cell != Cell::Gru => Some(buf::collect(
            a.len(),
            a.iter().zip(b).map(|(&u, &v)| u + v),
        )?),
        (None, Some(b)) if run.cell != Cell::Gru => Some(buf::copied(b)?),
        (Some(a), _) => Some(buf::copied(a)?),
        (None, _) => None,
    })
}

/// `[W_ih^T; W_hh^T]`, and the row `bias` under them when given: the ((input + hidden
/// [+ 1]) x gates * hidden) row-major right operand of the fused product
/// `[x_t, h, 1] @ [W_ih^T; W_hh^T; bias]`.
fn stacked_weights<T: FastMath>(run: &Run<'_, T>, g: usize, bias: Option<&[T]>) -> Result<Vec<T>> {
    let (input, h) = (run.d.input, run.d.hidden);
    let rows = input + h + usize::from(bias.is_some());
    let mut w = buf::zeros(rows * g)?;
    for (src, width, first) in [(run.w.w_ih, input, 0), (run.w.w_hh, h, input)] {
        for (j, row) in src.chunks_exact(width.max(1)).enumerate() {
            for (k, &v) in row.iter().enumerate() {
                w[(first + k) * g + j] = v;
            }
        }
    }
    if let Some(b) = bias {
        w[(input + h) * g..].copy_from_slice(b);
    }
    Ok(w)
}

/// Runs one layer in one direction over the sequence `x` from the states `h0` (and `c0`).
pub fn forward<T: FastMath>(run: &Run<'_, T>) -> Result<Forward<T>> {
    check("rnn_forward", run)?;
    let Run {
        cell,
        d,
        x,
        h0,
        c0,
        w,
        reverse,
    } = *run;
    let (n, h, steps) = (d.batch, d.hidden, d.steps);
    let g = cell.gates() * h;
    let (sw, vw) = (cell.state_width() * h, cell.saved_width() * h);
    let gru = cell == Cell::Gru;
    let bias = projection_bias(run)?;
    let tn = steps * n;
    // The GRU's input projection of every step in one product, in a reused buffer (every
    // element is written). The other cells fold it into each step's product.
    let mut xp_buf = take_scratch::<T>(if gru { tn * g } else { 0 });
    let xp = &mut xp_buf[..if gru { tn * g } else { 0 }];
    if gru {
        if let Some(b) = &bias {
            for row in xp.chunks_exact_mut(g.max(1)) {
                row.copy_from_slice(b);
            }
        }
        let xv = Strided::rows(x, d.input);
        let wv = Strided::transposed(w.w_ih, d.input);
        gemm_strided(xp, (tn, d.input, g), xv, wv, bias.is_some(), true)?;
    }
    // Every element of both is written by the steps.
    let mut states = buf::with_capacity(tn * sw)?;
    let mut saved = buf::with_capacity(tn * vw)?;
    // SAFETY: f32/f64 elements; each step writes all of its rows of both (forward_step).
    unsafe {
        states.set_len(tn * sw);
        saved.set_len(tn * vw);
    }
    let b_hh = match (gru, w.b_hh) {
        (true, Some(b)) => buf::copied(b)?,
        (true, None) => buf::zeros(g)?,
        (false, _) => Vec::new(),
    };
    let c0 = c0.unwrap_or_default();
    // The right operand of each step's product, laid out once: W_hh^T for the GRU,
    // [W_ih^T; W_hh^T] for the others (row-major right operands multiply faster).
    let (w_t, depth) = if gru {
        let mut w_t = buf::zeros(g * h)?;
        for (j, row) in w.w_hh.chunks_exact(h.max(1)).enumerate() {
            for (k, &v) in row.iter().enumerate() {
                w_t[k * g + j] = v;
            }
        }
        (w_t, h)
    } else {
        // the biases ride along as the last row, multiplied by a column of ones
        let depth = d.input + h + usize::from(bias.is_some());
        (stacked_weights(run, g, bias.as_deref())?, depth)
    };
    let w_step = Strided::rows(&w_t, g);
    let blocks = batch_blocks(&d, g);
    let alone = blocks.len() == 1;
    let (xp_s, st_s, sv_s) = (
        Shared::new(xp),
        Shared::new(&mut states),
        Shared::new(&mut saved),
    );
    over_blocks(blocks, |(b0, rows)| -> Result<()> {
        // GRU: h W_hh^T; others: the step's pre-activations and the stacked [x_t, h] rows.
        let mut hp = buf::zeros(rows * g)?;
        let mut lhs = buf::zeros(if gru { 0 } else { rows * depth })?;
        if !gru && bias.is_some() {
            for row in lhs.chunks_exact_mut(depth) {
                row[depth - 1] = T::one();
            }
        }
        for step in 0..steps {
            let t = position(steps, step, reverse);
            let cur = t * n + b0;
            // SAFETY: every block touches only its own rows of each buffer, and the rows of
            // the step before (read) are not those of this step (written).
            let (state, sv) = unsafe {
                (
                    st_s.part(cur * sw, rows * sw),
                    sv_s.part(cur * vw, rows * vw),
                )
            };
            let prev = (step > 0).then(|| -> &[T] {
                let p = position(steps, step - 1, reverse);
                // SAFETY: as above.
                unsafe { st_s.part((p * n + b0) * sw, rows * sw) }
            });
            let (prev_h, prev_c) = start_rows(prev, (h0, c0), (b0, rows), h, sw);
            let pre: &[T] = if gru {
                let hv = Strided::rows(prev_h.data, prev_h.stride);
                gemm_strided(&mut hp, (rows, h, g), hv, w_step, false, alone)?;
                // SAFETY: as above.
                unsafe { xp_s.part(cur * g, rows * g) }
            } else {
                let xs = &x[cur * d.input..(cur + rows) * d.input];
                for (r, row) in lhs.chunks_exact_mut(depth).enumerate() {
                    let (xr, hr) = row.split_at_mut(d.input);
                    xr.copy_from_slice(&xs[r * d.input..(r + 1) * d.input]);
                    let from = r * prev_h.stride;
                    hr[..h].copy_from_slice(&prev_h.data[from..from + h]);
                }
                let lv = Strided::rows(&lhs, depth);
                gemm_strided(&mut hp, (rows, depth, g), lv, w_step, false, alone)?;
                &hp
            };
            forward_step(StepFwd {
                cell,
                hidden: h,
                rows,
                pre,
                hp: if gru { &hp } else { &[] },
                b_hh: &b_hh,
                prev: if cell == Cell::Lstm { prev_c } else { prev_h },
                state,
                saved: sv,
            });
        }
        Ok(())
    })?;
    give_back(xp_buf);
    Ok(Forward { states, saved })
}
