//! A plain float64 reference of the recurrent kernels for the tests: loops over steps, rows
//! and units, dot products written out, the standard library's `exp` and `tanh`.

use super::{Cell, Run};

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `(row of a) . (row of b)`.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| u * v).sum()
}

/// The step read at position `step`.
fn at(steps: usize, step: usize, reverse: bool) -> usize {
    if reverse {
        steps - 1 - step
    } else {
        step
    }
}

/// `(states, saved)` laid out as [`super::forward`] returns them.
pub(super) fn forward(run: &Run<'_, f64>) -> (Vec<f64>, Vec<f64>) {
    let (cell, d, w) = (run.cell, run.d, run.w);
    let (n, h, ni) = (d.batch, d.hidden, d.input);
    let g = cell.gates() * h;
    let (sw, vw) = (cell.state_width() * h, cell.saved_width() * h);
    let mut states = vec![0.0; d.steps * n * sw];
    let mut saved = vec![0.0; d.steps * n * vw];
    let mut hs = run.h0.to_vec();
    let mut cs = run.c0.map_or(vec![], <[f64]>::to_vec);
    for step in 0..d.steps {
        let t = at(d.steps, step, run.reverse);
        for b in 0..n {
            let xr = &run.x[(t * n + b) * ni..(t * n + b + 1) * ni];
            let hr = &hs[b * h..(b + 1) * h];
            // the input and the recurrent part of every gate row
            let xi: Vec<f64> = (0..g)
                .map(|j| dot(&w.w_ih[j * ni..(j + 1) * ni], xr) + w.b_ih.map_or(0.0, |v| v[j]))
                .collect();
            let hi: Vec<f64> = (0..g)
                .map(|j| dot(&w.w_hh[j * h..(j + 1) * h], hr) + w.b_hh.map_or(0.0, |v| v[j]))
                .collect();
            let row = t * n + b;
            for k in 0..h {
                let s = &mut states[row * sw..(row + 1) * sw];
                let v = &mut saved[row * vw..(row + 1) * vw];
                match cell {
                    Cell::RnnTanh => s[k] = (xi[k] + hi[k]).tanh(),
                    Cell::RnnRelu => s[k] = (xi[k] + hi[k]).max(0.0),
                    Cell::Lstm => {
                        let i = sig(xi[k] + hi[k]);
                        let f = sig(xi[h + k] + hi[h + k]);
                        let gg = (xi[2 * h + k] + hi[2 * h + k]).tanh();
                        let o = sig(xi[3 * h + k] + hi[3 * h + k]);
                        let c = f * cs[b * h + k] + i * gg;
                        s[k] = o * c.tanh();
                        s[h + k] = c;
                        v[k] = i;
                        v[h + k] = f;
                        v[2 * h + k] = gg;
                        v[3 * h + k] = o;
                    }
                    Cell::Gru => {
                        let r = sig(xi[k] + hi[k]);
                        let z = sig(xi[h + k] + hi[h + k]);
                        let nn = (xi[2 * h + k] + r * hi[2 * h + k]).tanh();
                        s[k] = (1.0 - z) * nn + z * hr[k];
                        v[k] = r;
                        v[h + k] = z;
                        v[2 * h + k] = nn;
                        v[3 * h + k] = hi[2 * h + k];
                    }
                }
            }
        }
        for b in 0..n {
            let s = &states[(t * n + b) * sw..(t * n + b + 1) * sw];
            hs[b * h..(b + 1) * h].copy_from_slice(&s[..h]);
            if cell == Cell::Lstm {
                cs[b * h..(b + 1) * h].copy_from_slice(&s[h..]);
            }
        }
    }
    (states, saved)
}

/// `[dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh]` (dc0 empty but for the LSTM) by
/// backpropagation through time, one unit at a time.
pub(super) fn backward(run: &Run<'_, f64>, gs: &[f64]) -> Vec<Vec<f64>> {
    let (cell, d, w) = (run.cell, run.d, run.w);
    let (n, h, ni) = (d.batch, d.hidden, d.input);
    let g = cell.gates() * h;
    let (sw, vw) = (cell.state_width() * h, cell.saved_width() * h);
    let (states, saved) = forward(run);
    let mut dx = vec![0.0; d.steps * n * ni];
    let mut dw_ih = vec![0.0; g * ni];
    let mut dw_hh = vec![0.0; g * h];
    let mut db_ih = vec![0.0; g];
    let mut db_hh = vec![0.0; g];
    let mut dh = vec![0.0; n * h];
    let mut dc = vec![0.0; n * h];
    for step in (0..d.steps).rev() {
        let t = at(d.steps, step, run.reverse);
        let mut dh_prev = vec![0.0; n * h];
        for b in 0..n {
            let row = t * n + b;
            let (hp, cp): (&[f64], &[f64]) = if step > 0 {
                let p = at(d.steps, step - 1, run.reverse);
                let s = &states[(p * n + b) * sw..(p * n + b + 1) * sw];
                (&s[..h], &s[h..])
            } else {
                (
                    &run.h0[b * h..(b + 1) * h],
                    run.c0.map_or(&[][..], |c| &c[b * h..(b + 1) * h]),
                )
            };
            let s = &states[row * sw..(row + 1) * sw];
            let v = &saved[row * vw..(row + 1) * vw];
            let gr = &gs[row * sw..(row + 1) * sw];
            // gradients of the input part and of the recurrent part of each gate row
            let mut di = vec![0.0; g];
            let mut dr = vec![0.0; g];
            for k in 0..h {
                let dhv = dh[b * h + k] + gr[k];
                match cell {
                    Cell::RnnTanh => di[k] = dhv * (1.0 - s[k] * s[k]),
                    Cell::RnnRelu => di[k] = if s[k] > 0.0 { dhv } else { 0.0 },
                    Cell::Lstm => {
                        let (i, f, gg, o) = (v[k], v[h + k], v[2 * h + k], v[3 * h + k]);
                        let tc = s[h + k].tanh();
                        let dcv = dc[b * h + k] + gr[h + k] + dhv * o * (1.0 - tc * tc);
                        di[k] = dcv * gg * i * (1.0 - i);
                        di[h + k] = dcv * cp[k] * f * (1.0 - f);
                        di[2 * h + k] = dcv * i * (1.0 - gg * gg);
                        di[3 * h + k] = dhv * tc * o * (1.0 - o);
                        dc[b * h + k] = dcv * f;
                    }
                    Cell::Gru => {
                        let (r, z, nn, hn) = (v[k], v[h + k], v[2 * h + k], v[3 * h + k]);
                        let dn = dhv * (1.0 - z) * (1.0 - nn * nn);
                        di[k] = dn * hn * r * (1.0 - r);
                        di[h + k] = dhv * (hp[k] - nn) * z * (1.0 - z);
                        di[2 * h + k] = dn;
                        dh_prev[b * h + k] += dhv * z;
                    }
                }
            }
            dr.copy_from_slice(&di);
            if cell == Cell::Gru {
                for k in 0..h {
                    dr[2 * h + k] = di[2 * h + k] * v[k];
                }
            }
            let xr = &run.x[row * ni..(row + 1) * ni];
            for j in 0..g {
                db_ih[j] += di[j];
                db_hh[j] += dr[j];
                for q in 0..ni {
                    dw_ih[j * ni + q] += di[j] * xr[q];
                    dx[row * ni + q] += di[j] * w.w_ih[j * ni + q];
                }
                for q in 0..h {
                    dw_hh[j * h + q] += dr[j] * hp[q];
                    dh_prev[b * h + q] += dr[j] * w.w_hh[j * h + q];
                }
            }
        }
        dh = dh_prev;
    }
    if cell != Cell::Lstm {
        dc.clear();
    }
    vec![dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh]
}
