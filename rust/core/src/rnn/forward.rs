//! The forward pass of one layer in one direction.
//!
//! The input projection of every step is one product, `x W_ih^T` plus the biases (both of
//! them, but for the GRU whose `b_hn` sits inside the reset gate). Then each block of batch
//! rows steps through time: `h W_hh^T` added into that projection (into a scratch block for
//! the GRU), then one fused pass of gates and state updates. The previous state is read in
//! place from `states`, never copied.

use super::blocks::{batch_blocks, over_blocks, Shared};
use super::gates::{forward_step, Rows, StepFwd};
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
    // the input projection, in a reused buffer (every element is written)
    let tn = steps * n;
    let mut xp_buf = take_scratch::<T>(tn * g);
    let xp = &mut xp_buf[..tn * g];
    if let Some(b) = &bias {
        for row in xp.chunks_exact_mut(g.max(1)) {
            row.copy_from_slice(b);
        }
    }
    let xv = Strided {
        data: x,
        rs: d.input,
        cs: 1,
    };
    let wv = Strided {
        data: w.w_ih,
        rs: 1,
        cs: d.input,
    };
    gemm_strided(xp, (tn, d.input, g), xv, wv, bias.is_some(), true)?;
    let mut states = buf::zeros(steps * n * sw)?;
    let mut saved = buf::zeros(steps * n * vw)?;
    let b_hh = match (gru, w.b_hh) {
        (true, Some(b)) => buf::copied(b)?,
        (true, None) => buf::zeros(g)?,
        (false, _) => Vec::new(),
    };
    let c0 = c0.unwrap_or_default();
    // h W_hh^T, with W_hh^T laid out once: a row-major right operand multiplies faster
    let mut w_t = buf::zeros(g * h)?;
    for (j, row) in w.w_hh.chunks_exact(h.max(1)).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            w_t[k * g + j] = v;
        }
    }
    let w_hh_t = Strided {
        data: &w_t,
        rs: g,
        cs: 1,
    };
    let blocks = batch_blocks(&d, g);
    let alone = blocks.len() == 1;
    let (xp_s, st_s, sv_s) = (
        Shared::new(xp),
        Shared::new(&mut states),
        Shared::new(&mut saved),
    );
    over_blocks(blocks, |(b0, rows)| -> Result<()> {
        let mut hp = buf::zeros(if gru { rows * g } else { 0 })?;
        for step in 0..steps {
            let t = position(steps, step, reverse);
            let cur = t * n + b0;
            // SAFETY: every block touches only its own rows of each buffer, and the rows of
            // the step before (read) are not those of this step (written).
            let (pre, state, sv) = unsafe {
                (
                    xp_s.part(cur * g, rows * g),
                    st_s.part(cur * sw, rows * sw),
                    sv_s.part(cur * vw, rows * vw),
                )
            };
            let (prev_h, prev_c) = if step > 0 {
                let p = position(steps, step - 1, reverse);
                // SAFETY: as above.
                let r: &[T] = unsafe { st_s.part((p * n + b0) * sw, rows * sw) };
                (
                    Rows {
                        data: r,
                        stride: sw,
                    },
                    Rows {
                        data: &r[h.min(r.len())..],
                        stride: sw,
                    },
                )
            } else {
                let block = b0 * h..(b0 + rows) * h;
                (
                    Rows {
                        data: &h0[block.clone()],
                        stride: h,
                    },
                    Rows {
                        data: c0.get(block).unwrap_or_default(),
                        stride: h,
                    },
                )
            };
            let hv = Strided {
                data: prev_h.data,
                rs: prev_h.stride,
                cs: 1,
            };
            if gru {
                gemm_strided(&mut hp, (rows, h, g), hv, w_hh_t, false, alone)?;
            } else {
                gemm_strided(pre, (rows, h, g), hv, w_hh_t, true, alone)?;
            }
            forward_step(StepFwd {
                cell,
                hidden: h,
                rows,
                pre,
                hp: &hp,
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
