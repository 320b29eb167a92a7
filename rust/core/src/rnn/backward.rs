//! The backward pass of one layer in one direction (backpropagation through time).
//!
//! Each block of batch rows walks the sequence from its end: one fused pass gives the
//! gradients of the gate pre-activations (and running sums of them for the biases), and one
//! small product carries the gradient of h to the step before. The weight gradients are then
//! one product each over all steps; that of `W_hh` reads the states the steps started from
//! in place in `states`.

use super::blocks::{batch_blocks, over_blocks, Shared};
use super::gates::{backward_step, start_rows, StepBwd};
use super::{check, check_len, position, Cell, Grads, Run, StateGrad};
use crate::buf;
use crate::error::Result;
use crate::gemm::{gemm_strided, Strided};
use crate::loss::classification::FastMath;
use crate::runtime::scratch::{give_back, take_scratch};
use crate::value_err;

/// What one block of rows gives back: its rows of dh0 and dc0, and its column sums of the
/// gradients of the input projection and (GRU) of `h W_hh^T + b_hh`.
struct BlockGrads<T> {
    dh0: Vec<T>,
    dc0: Vec<T>,
    db: Vec<T>,
    db_hp: Vec<T>,
}

/// Element-wise sum of the blocks' vectors picked by `part`.
fn summed<T: FastMath>(
    blocks: &[BlockGrads<T>],
    len: usize,
    part: impl Fn(&BlockGrads<T>) -> &[T],
) -> Result<Vec<T>> {
    let mut out = buf::zeros(len)?;
    for b in blocks {
        for (o, &v) in out.iter_mut().zip(part(b)) {
            *o = *o + v;
        }
    }
    Ok(out)
}

/// Gradients of [`forward`](super::forward) given `grad_states`, the gradient of its
/// `states` (h and, for the LSTM, c at every step). `states` and `saved` are what the forward
/// pass returned for the same run; `dx` is computed only when `need_dx`.
pub fn backward<T: FastMath>(
    run: &Run<'_, T>,
    grad_states: &[T],
    states: &[T],
    saved: &[T],
    need_dx: bool,
) -> Result<Grads<T>> {
    let sw = run.cell.state_width() * run.d.hidden;
    let grad = StateGrad {
        data: grad_states,
        width: sw,
        steps: None,
    };
    backward_with(run, &grad, states, saved, need_dx)
}

/// [`backward`] given the gradient of the states in the compact form of [`StateGrad`]: only
/// some steps, or only the h part of the LSTM's states (the rest is zero).
pub fn backward_with<T: FastMath>(
    run: &Run<'_, T>,
    grad: &StateGrad<'_, T>,
    states: &[T],
    saved: &[T],
    need_dx: bool,
) -> Result<Grads<T>> {
    let func = "rnn_backward";
    check(func, run)?;
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
    // the row of `grad.data` holding each step's gradient (None: zero)
    let slots = grad_slots(func, grad, steps, n, sw, h)?;
    let gw = grad.width;
    let direct = gw == sw && grad.steps.is_none();
    check_len(func, "states", states, steps * n * sw)?;
    check_len(func, "saved", saved, steps * n * vw)?;
    let (gru, lstm) = (cell == Cell::Gru, cell == Cell::Lstm);
    let c0 = c0.unwrap_or_default();

    // d loss / d (input projection) and, for the GRU, d loss / d (W_hh h + b_hh) at every
    // step (the same but for the GRU's n gate)
    // (reused buffers: the blocks write every element)
    let tn = steps * n;
    let mut dxp_buf = take_scratch::<T>(tn * g);
    let mut dhp_buf = take_scratch::<T>(if gru { tn * g } else { 0 });
    let d_xp = &mut dxp_buf[..tn * g];
    let d_hp = &mut dhp_buf[..if gru { tn * g } else { 0 }];
    let w_hh = Strided::rows(w.w_hh, h);
    let blocks = batch_blocks(&d, g);
    let alone = blocks.len() == 1;
    let (dxp_s, dhp_s) = (Shared::new(d_xp), Shared::new(d_hp));
    let parts = over_blocks(blocks, |(b0, rows)| -> Result<BlockGrads<T>> {
        let mut dh = buf::zeros(rows * h)?;
        let mut dh_next = buf::zeros(rows * h)?;
        let mut dc = buf::zeros(if lstm { rows * h } else { 0 })?;
        let mut db = buf::zeros(g)?;
        let mut db_hp = buf::zeros(if gru { g } else { 0 })?;
        // the step's gradient rows when they are not read in place: zeros, with the given
        // columns copied in for steps that have a gradient
        let mut gbuf = buf::zeros(if direct { 0 } else { rows * sw })?;
        let mut filled = false;
        for step in (0..steps).rev() {
            let t = position(steps, step, reverse);
            let cur = t * n + b0;
            let gs: &[T] = if direct {
                &grad.data[cur * sw..(cur + rows) * sw]
            } else {
                match slots[t] {
                    Some(j) => {
                        let src = &grad.data[(j * n + b0) * gw..(j * n + b0 + rows) * gw];
                        for (dst, row) in gbuf.chunks_exact_mut(sw).zip(src.chunks_exact(gw)) {
                            dst[..gw].copy_from_slice(row);
                        }
                        filled = true;
                    }
                    None if filled => {
                        gbuf.iter_mut().for_each(|v| *v = T::zero());
                        filled = false;
                    }
                    None => {}
                }
                &gbuf
            };
            let prev = (step > 0).then(|| {
                let p = position(steps, step - 1, reverse);
                &states[(p * n + b0) * sw..(p * n + b0 + rows) * sw]
            });
            let (prev_h, prev_c) = start_rows(prev, (h0, c0), (b0, rows), h, sw);
            // SAFETY: every block touches only its own rows of `d_xp` and `d_hp`.
            let (dx, dp) = unsafe {
                (
                    dxp_s.part(cur * g, rows * g),
                    dhp_s.part(
                        if gru { cur * g } else { 0 },
                        if gru { rows * g } else { 0 },
                    ),
                )
            };
            backward_step(StepBwd {
                cell,
                hidden: h,
                rows,
                gs,
                state: &states[cur * sw..(cur + rows) * sw],
                saved: &saved[cur * vw..(cur + rows) * vw],
                prev: if lstm { prev_c } else { prev_h },
                dh: &dh,
                dc: &mut dc,
                d_xp: dx,
                d_hp: dp,
                dh_direct: if gru { &mut dh_next } else { &mut [] },
                db: &mut db,
                db_hp: &mut db_hp,
            });
            // the gradient of the h this step started from: [dh * z +] d_hp @ W_hh
            let src: &[T] = if gru { dp } else { dx };
            let dv = Strided::rows(src, g);
            gemm_strided(&mut dh_next, (rows, g, h), dv, w_hh, gru, alone)?;
            std::mem::swap(&mut dh, &mut dh_next);
        }
        Ok(BlockGrads {
            dh0: dh,
            dc0: dc,
            db,
            db_hp,
        })
    })?;

    let (d_xp, d_hp): (&[T], &[T]) = (d_xp, d_hp);
    let mut dw_ih = buf::zeros(g * d.input)?;
    let dxp_t = Strided::transposed(d_xp, g);
    let xv = Strided::rows(x, d.input);
    gemm_strided(&mut dw_ih, (g, tn, d.input), dxp_t, xv, false, true)?;

    // W_hh's gradient: step t's gradient times the state it started from, the one of the
    // step before in reading order (h0 for the first step)
    let d_hp: &[T] = if gru { d_hp } else { d_xp };
    let mut dw_hh = buf::zeros(g * h)?;
    if steps > 0 && n > 0 {
        let pairs = (steps - 1) * n;
        let (grad_row, state_row) = if reverse { (0, n) } else { (n, 0) };
        let dv = Strided::transposed(&d_hp[grad_row * g..], g);
        let hv = Strided::rows(&states[state_row * sw..], sw);
        gemm_strided(&mut dw_hh, (g, pairs, h), dv, hv, false, true)?;
        let first = position(steps, 0, reverse);
        let dv = Strided::transposed(&d_hp[first * n * g..(first + 1) * n * g], g);
        let hv = Strided::rows(h0, h);
        gemm_strided(&mut dw_hh, (g, n, h), dv, hv, true, true)?;
    }
    let dx = if need_dx {
        let mut dx = buf::zeros(tn * d.input)?;
        let dv = Strided::rows(d_xp, g);
        let wv = Strided::rows(w.w_ih, d.input);
        gemm_strided(&mut dx, (tn, g, d.input), dv, wv, false, true)?;
        Some(dx)
    } else {
        None
    };

    // the blocks' rows of dh0 and dc0 in batch order, and their column sums added up
    let mut dh0 = buf::with_capacity(n * h)?;
    let mut dc0 = buf::with_capacity(if lstm { n * h } else { 0 })?;
    for p in &parts {
        dh0.extend_from_slice(&p.dh0);
        dc0.extend_from_slice(&p.dc0);
    }
    let db = summed(&parts, g, |p| &p.db)?;
    let db_hh = if gru {
        summed(&parts, g, |p| &p.db_hp)?
    } else {
        db.clone()
    };
    give_back(dxp_buf);
    give_back(dhp_buf);
    Ok(Grads {
        dx,
        dh0,
        dc0: lstm.then_some(dc0),
        dw_ih,
        dw_hh,
        db_ih: w.b_ih.map(|_| db),
        db_hh: w.b_hh.map(|_| db_hh),
    })
}

/// For each step position, the index of its gradient in `grad.steps` (its position when
/// `grad.steps` is None), or None when it has no gradient; checks the sizes and positions.
fn grad_slots<T>(
    func: &str,
    grad: &StateGrad<'_, T>,
    steps: usize,
    n: usize,
    sw: usize,
    h: usize,
) -> Result<Vec<Option<usize>>> {
    if grad.width != sw && grad.width != h {
        return value_err!(
            "{func}: grad_states has {} values per batch row, expected {sw} or {h}",
            grad.width
        );
    }
    let given = grad.steps.map_or(steps, <[usize]>::len);
    check_len(func, "grad_states", grad.data, given * n * grad.width)?;
    let Some(list) = grad.steps else {
        return Ok((0..steps).map(Some).collect());
    };
    let mut slots = vec![None; steps];
    for (j, &t) in list.iter().enumerate() {
        if t >= steps {
            return value_err!("{func}: grad_steps holds step {t}, but the sequence has {steps}");
        }
        if slots[t].replace(j).is_some() {
            return value_err!("{func}: grad_steps holds step {t} twice");
        }
    }
    Ok(slots)
}
