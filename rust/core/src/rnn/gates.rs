//! The elementwise part of one recurrent step over a block of batch rows, forward and
//! backward: gate activations, the cell and state updates, and the gradients of the gate
//! pre-activations (with running sums of them for the bias gradients).
//!
//! Sigmoid and tanh are branch-free on the shared fast exponential, so the loops vectorise;
//! they are compiled for AVX-512 and for AVX2 + FMA too, and the best build the CPU runs is
//! picked at run time.

use super::Cell;
use crate::activation::TANH_SMALL;
use crate::loss::classification::FastMath;
#[cfg(target_arch = "x86_64")]
use crate::loss::fastmath::avx2_fma;
use crate::loss::fastmath::horner;
#[cfg(target_arch = "x86_64")]
use crate::loss::simd::exp512;

/// `sigmoid(x)` to full relative precision on both sides, from `exp(-|x|)`; NaN stays NaN.
#[inline(always)]
pub(crate) fn sigmoid<T: FastMath, const FMA: bool>(x: T) -> T {
    let e = (-x.abs()).exp_nonpos_with::<FMA>();
    let big = T::one() / (T::one() + e);
    let small = e * big;
    if x < T::zero() {
        small
    } else {
        big
    }
}

/// `tanh(x)`: `(1 - e) / (1 + e)` with `e = exp(-2|x|)`, or the polynomial of
/// [`TANH_SMALL`] near 0 where that would cancel; both are computed and one selected.
#[inline(always)]
pub(crate) fn tanh<T: FastMath, const FMA: bool>(x: T) -> T {
    let one = T::one();
    let a = x.abs();
    let e = (T::c(-2.0) * a).exp_nonpos_with::<FMA>();
    let far = (one - e) / (one + e);
    let coef = TANH_SMALL.map(T::c);
    let near = a * horner::<T, FMA, 8>(x * x, &coef);
    let t = if a < T::c(0.25) { near } else { far };
    t.copysign(x)
}

/// Rows of a matrix in a slice: row `b` starts at `data[b * stride]`.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a, T> {
    pub data: &'a [T],
    pub stride: usize,
}

/// The h and (LSTM) c rows a block's step starts from: those of the step before, `prev` (the
/// block's rows of `states`, `state_width` values each), or for the first step the block's
/// rows of `h0` and `c0` (empty when absent).
pub(super) fn start_rows<'a, T>(
    prev: Option<&'a [T]>,
    (h0, c0): (&'a [T], &'a [T]),
    (b0, rows): (usize, usize),
    hidden: usize,
    state_width: usize,
) -> (Rows<'a, T>, Rows<'a, T>) {
    match prev {
        Some(r) => (
            Rows {
                data: r,
                stride: state_width,
            },
            Rows {
                data: &r[hidden.min(r.len())..],
                stride: state_width,
            },
        ),
        None => {
            let block = b0 * hidden..(b0 + rows) * hidden;
            (
                Rows {
                    data: &h0[block.clone()],
                    stride: hidden,
                },
                Rows {
                    data: c0.get(block).unwrap_or_default(),
                    stride: hidden,
                },
            )
        }
    }
}

/// One forward step over `rows` batch rows.
pub(super) struct StepFwd<'a, T> {
    pub cell: Cell,
    pub hidden: usize,
    pub rows: usize,
    /// (rows, gates * hidden): `x W_ih^T` plus the biases, plus `h W_hh^T` but for the GRU.
    pub pre: &'a [T],
    /// GRU: (rows, 3 * hidden), `h W_hh^T` without bias; empty otherwise.
    pub hp: &'a [T],
    /// GRU: `b_hh` (zeros when the layer has none); empty otherwise.
    pub b_hh: &'a [T],
    /// The state the step starts from: c for the LSTM, h for the GRU (unused otherwise).
    pub prev: Rows<'a, T>,
    /// (rows, state_width * hidden): the new states.
    pub state: &'a mut [T],
    /// (rows, saved_width * hidden): what the backward pass needs.
    pub saved: &'a mut [T],
}

/// One backward step over `rows` batch rows.
pub(super) struct StepBwd<'a, T> {
    pub cell: Cell,
    pub hidden: usize,
    pub rows: usize,
    /// (rows, state_width * hidden): the gradient of the step's states from the loss.
    pub gs: &'a [T],
    /// (rows, state_width * hidden): the step's states.
    pub state: &'a [T],
    /// (rows, saved_width * hidden): what the forward step saved.
    pub saved: &'a [T],
    /// The state the step started from: c for the LSTM, h for the GRU (unused otherwise).
    pub prev: Rows<'a, T>,
    /// (rows, hidden): the gradient of the new h from the later steps.
    pub dh: &'a [T],
    /// LSTM: (rows, hidden), the gradient of the new c from the later steps, replaced by that
    /// of the c the step started from; empty otherwise.
    pub dc: &'a mut [T],
    /// (rows, gates * hidden): the gradient of the input projection.
    pub d_xp: &'a mut [T],
    /// GRU: (rows, 3 * hidden), the gradient of `h W_hh^T + b_hh`; empty otherwise.
    pub d_hp: &'a mut [T],
    /// GRU: (rows, hidden), the direct part of the gradient of the h the step started from
    /// (`dh * z`); empty otherwise.
    pub dh_direct: &'a mut [T],
    /// (gates * hidden): column sums of `d_xp`, added to.
    pub db: &'a mut [T],
    /// GRU: (3 * hidden): column sums of `d_hp`, added to; empty otherwise.
    pub db_hp: &'a mut [T],
}

// The row functions take every array as its own slice argument: the compiler then knows
// they do not overlap and vectorises the loops over the units.

/// LSTM forward over one row: pre-activations `p*` in, new h and c, and the gates, out.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_row<T: FastMath, const FMA: bool>(
    (pi, pf, pg, po): (&[T], &[T], &[T], &[T]),
    cp: &[T],
    hn: &mut [T],
    cn: &mut [T],
    (si, sf, sg, so): (&mut [T], &mut [T], &mut [T], &mut [T]),
) {
    let h = hn.len();
    let (pi, pf, pg, po, cp) = (&pi[..h], &pf[..h], &pg[..h], &po[..h], &cp[..h]);
    let (cn, si, sf, sg, so) = (
        &mut cn[..h],
        &mut si[..h],
        &mut sf[..h],
        &mut sg[..h],
        &mut so[..h],
    );
    for k in 0..h {
        let i = sigmoid::<T, FMA>(pi[k]);
        let f = sigmoid::<T, FMA>(pf[k]);
        let gg = tanh::<T, FMA>(pg[k]);
        let o = sigmoid::<T, FMA>(po[k]);
        let c = f * cp[k] + i * gg;
        hn[k] = o * tanh::<T, FMA>(c);
        cn[k] = c;
        si[k] = i;
        sf[k] = f;
        sg[k] = gg;
        so[k] = o;
    }
}

/// GRU forward over one row: input part `x*`, recurrent part `h*` and its bias `b*` in,
/// the new h and the saved r, z, n and `W_hn h + b_hn` out.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_row<T: FastMath, const FMA: bool>(
    (xr, xz, xn): (&[T], &[T], &[T]),
    (hr, hz, hn): (&[T], &[T], &[T]),
    (br, bz, bn): (&[T], &[T], &[T]),
    hprev: &[T],
    out: &mut [T],
    (sr, sz, sn, shn): (&mut [T], &mut [T], &mut [T], &mut [T]),
) {
    let h = out.len();
    let (xr, xz, xn, hr, hz, hn) = (&xr[..h], &xz[..h], &xn[..h], &hr[..h], &hz[..h], &hn[..h]);
    let (br, bz, bn, hprev) = (&br[..h], &bz[..h], &bn[..h], &hprev[..h]);
    let (sr, sz, sn, shn) = (&mut sr[..h], &mut sz[..h], &mut sn[..h], &mut shn[..h]);
    for k in 0..h {
        let r = sigmoid::<T, FMA>(xr[k] + hr[k] + br[k]);
        let z = sigmoid::<T, FMA>(xz[k] + hz[k] + bz[k]);
        let hv = hn[k] + bn[k];
        let n = tanh::<T, FMA>(xn[k] + r * hv);
        out[k] = (T::one() - z) * n + z * hprev[k];
        sr[k] = r;
        sz[k] = z;
        sn[k] = n;
        shn[k] = hv;
    }
}

/// Elman forward over one row.
#[inline(always)]
fn elman_row<T: FastMath, const FMA: bool>(relu: bool, pre: &[T], out: &mut [T]) {
    let pre = &pre[..out.len()];
    if relu {
        for (o, &p) in out.iter_mut().zip(pre) {
            *o = p.max(T::zero());
        }
    } else {
        for (o, &p) in out.iter_mut().zip(pre) {
            *o = tanh::<T, FMA>(p);
        }
    }
}

/// Splits a row of `4 h` values into its four gates.
#[inline(always)]
fn four<T>(row: &[T], h: usize) -> (&[T], &[T], &[T], &[T]) {
    (
        &row[..h],
        &row[h..2 * h],
        &row[2 * h..3 * h],
        &row[3 * h..4 * h],
    )
}

/// Splits a row of `3 h` values into its three gates.
#[inline(always)]
fn three<T>(row: &[T], h: usize) -> (&[T], &[T], &[T]) {
    (&row[..h], &row[h..2 * h], &row[2 * h..3 * h])
}

/// Splits a mutable row of `4 h` values into its four parts.
#[inline(always)]
fn four_mut<T>(row: &mut [T], h: usize) -> (&mut [T], &mut [T], &mut [T], &mut [T]) {
    let (a, rest) = row.split_at_mut(h);
    let (b, rest) = rest.split_at_mut(h);
    let (c, d) = rest.split_at_mut(h);
    (a, b, c, d)
}

/// LSTM backward over one row: the gradients of the gate pre-activations `d*` from those of
/// the new h (`dh`, `gh`) and c (`dc`, `gc`); `dc` becomes that of the c before.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_back_row<T: FastMath, const FMA: bool>(
    (dh, gh, gc): (&[T], &[T], &[T]),
    c: &[T],
    cp: &[T],
    (vi, vf, vg, vo): (&[T], &[T], &[T], &[T]),
    dc: &mut [T],
    (di, df, dg, d_o): (&mut [T], &mut [T], &mut [T], &mut [T]),
) {
    let one = T::one();
    let h = dc.len();
    let (dh, gh, gc, c, cp) = (&dh[..h], &gh[..h], &gc[..h], &c[..h], &cp[..h]);
    let (vi, vf, vg, vo) = (&vi[..h], &vf[..h], &vg[..h], &vo[..h]);
    let (di, df, dg, d_o) = (&mut di[..h], &mut df[..h], &mut dg[..h], &mut d_o[..h]);
    for k in 0..h {
        let dhv = dh[k] + gh[k];
        let (i, f, gg, o) = (vi[k], vf[k], vg[k], vo[k]);
        let tc = tanh::<T, FMA>(c[k]);
        let dcv = dc[k] + gc[k] + dhv * o * (one - tc * tc);
        di[k] = dcv * gg * i * (one - i);
        df[k] = dcv * cp[k] * f * (one - f);
        dg[k] = dcv * i * (one - gg * gg);
        d_o[k] = dhv * tc * o * (one - o);
        dc[k] = dcv * f;
    }
}

/// GRU backward over one row: the gradients of the input part `x*` and of the recurrent
/// part `p*` of each gate, and the direct part of the gradient of the h before.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_back_row<T: FastMath>(
    (dh, gh): (&[T], &[T]),
    hprev: &[T],
    (vr, vz, vn, vhn): (&[T], &[T], &[T], &[T]),
    (xr, xz, xn): (&mut [T], &mut [T], &mut [T]),
    (pr, pz, pn): (&mut [T], &mut [T], &mut [T]),
    direct: &mut [T],
) {
    let one = T::one();
    let h = direct.len();
    let (dh, gh, hprev) = (&dh[..h], &gh[..h], &hprev[..h]);
    let (vr, vz, vn, vhn) = (&vr[..h], &vz[..h], &vn[..h], &vhn[..h]);
    let (xr, xz, xn) = (&mut xr[..h], &mut xz[..h], &mut xn[..h]);
    let (pr, pz, pn) = (&mut pr[..h], &mut pz[..h], &mut pn[..h]);
    for k in 0..h {
        let dhv = dh[k] + gh[k];
        let (r, z, n, hn) = (vr[k], vz[k], vn[k], vhn[k]);
        let dn = dhv * (one - z) * (one - n * n);
        let dz = dhv * (hprev[k] - n) * z * (one - z);
        let dr = dn * hn * r * (one - r);
        xr[k] = dr;
        xz[k] = dz;
        xn[k] = dn;
        pr[k] = dr;
        pz[k] = dz;
        pn[k] = dn * r;
        direct[k] = dhv * z;
    }
}

/// Elman backward over one row.
#[inline(always)]
fn elman_back_row<T: FastMath>(relu: bool, (dh, gh): (&[T], &[T]), y: &[T], dx: &mut [T]) {
    let h = dx.len();
    let (dh, gh, y) = (&dh[..h], &gh[..h], &y[..h]);
    for k in 0..h {
        let dhv = dh[k] + gh[k];
        dx[k] = if relu {
            if y[k] > T::zero() {
                dhv
            } else {
                T::zero()
            }
        } else {
            dhv * (T::one() - y[k] * y[k])
        };
    }
}

/// `acc += v`, element by element.
#[inline(always)]
fn add_to<T: FastMath>(acc: &mut [T], v: &[T]) {
    for (a, &x) in acc.iter_mut().zip(v) {
        *a = *a + x;
    }
}

/// Splits a mutable row of `3 h` values into its three gates.
#[inline(always)]
fn three_mut<T>(row: &mut [T], h: usize) -> (&mut [T], &mut [T], &mut [T]) {
    let (a, rest) = row.split_at_mut(h);
    let (b, c) = rest.split_at_mut(h);
    (a, b, c)
}

// The kernels over a block of rows. Each takes its arrays as arguments of its own, so that
// in the builds below the compiler knows they do not overlap and vectorises the loops over
// the units (it does not when they come out of one struct).

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_fwd<T: FastMath, const FMA: bool>(
    h: usize,
    pre: &[T],
    prev: &[T],
    prev_stride: usize,
    state: &mut [T],
    saved: &mut [T],
) {
    let rows = pre.chunks_exact(4 * h).zip(state.chunks_exact_mut(2 * h));
    for (b, ((p, o), v)) in rows.zip(saved.chunks_exact_mut(4 * h)).enumerate() {
        let (hn, cn) = o.split_at_mut(h);
        let cp = &prev[b * prev_stride..b * prev_stride + h];
        lstm_row::<T, FMA>(four(p, h), cp, hn, cn, four_mut(v, h));
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_fwd<T: FastMath, const FMA: bool>(
    h: usize,
    pre: &[T],
    hp: &[T],
    b_hh: &[T],
    prev: &[T],
    prev_stride: usize,
    state: &mut [T],
    saved: &mut [T],
) {
    let rows = pre.chunks_exact(3 * h).zip(hp.chunks_exact(3 * h));
    let outs = state.chunks_exact_mut(h).zip(saved.chunks_exact_mut(4 * h));
    for (b, ((p, q), (o, v))) in rows.zip(outs).enumerate() {
        let hprev = &prev[b * prev_stride..b * prev_stride + h];
        gru_row::<T, FMA>(
            three(p, h),
            three(q, h),
            three(b_hh, h),
            hprev,
            o,
            four_mut(v, h),
        );
    }
}

#[inline(always)]
fn elman_fwd<T: FastMath, const FMA: bool>(relu: bool, pre: &[T], state: &mut [T]) {
    elman_row::<T, FMA>(relu, pre, state);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_bwd<T: FastMath, const FMA: bool>(
    h: usize,
    gs: &[T],
    state: &[T],
    saved: &[T],
    prev: &[T],
    prev_stride: usize,
    dh: &[T],
    dc: &mut [T],
    d_xp: &mut [T],
    db: &mut [T],
) {
    let ins = gs.chunks_exact(2 * h).zip(state.chunks_exact(2 * h));
    let ins = ins.zip(saved.chunks_exact(4 * h)).zip(dh.chunks_exact(h));
    let outs = dc.chunks_exact_mut(h).zip(d_xp.chunks_exact_mut(4 * h));
    for (b, ((((gr, st), sv), dhr), (dcr, dx))) in ins.zip(outs).enumerate() {
        let cp = &prev[b * prev_stride..b * prev_stride + h];
        let (gh, gc) = gr.split_at(h);
        lstm_back_row::<T, FMA>(
            (dhr, gh, gc),
            &st[h..],
            cp,
            four(sv, h),
            dcr,
            four_mut(dx, h),
        );
        add_to(db, dx);
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_bwd<T: FastMath, const FMA: bool>(
    h: usize,
    gs: &[T],
    saved: &[T],
    prev: &[T],
    prev_stride: usize,
    dh: &[T],
    d_xp: &mut [T],
    d_hp: &mut [T],
    direct: &mut [T],
    (db, db_hp): (&mut [T], &mut [T]),
) {
    let ins = gs
        .chunks_exact(h)
        .zip(saved.chunks_exact(4 * h))
        .zip(dh.chunks_exact(h));
    let outs = d_xp
        .chunks_exact_mut(3 * h)
        .zip(d_hp.chunks_exact_mut(3 * h));
    let outs = outs.zip(direct.chunks_exact_mut(h));
    for (b, (((gr, sv), dhr), ((dx, dp), dd))) in ins.zip(outs).enumerate() {
        let hprev = &prev[b * prev_stride..b * prev_stride + h];
        gru_back_row(
            (dhr, gr),
            hprev,
            four(sv, h),
            three_mut(dx, h),
            three_mut(dp, h),
            dd,
        );
        add_to(db, dx);
        add_to(db_hp, dp);
    }
}

#[inline(always)]
fn elman_bwd<T: FastMath, const FMA: bool>(
    relu: bool,
    h: usize,
    gs: &[T],
    state: &[T],
    dh: &[T],
    d_xp: &mut [T],
    db: &mut [T],
) {
    let ins = gs
        .chunks_exact(h)
        .zip(state.chunks_exact(h))
        .zip(dh.chunks_exact(h));
    for (((gr, st), dhr), dx) in ins.zip(d_xp.chunks_exact_mut(h)) {
        elman_back_row(relu, (dhr, gr), st, dx);
        add_to(db, dx);
    }
}

/// Defines `$avx512` and `$avx2`: `$kernel` (FMA build) compiled for AVX-512 and for AVX2.
macro_rules! simd_builds {
    ($kernel:ident, $avx512:ident, $avx2:ident, ($($arg:ident: $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        unsafe fn $avx512<T: FastMath>($($arg: $ty),*) {
            $kernel::<T, true>($($arg),*)
        }
        #[allow(clippy::too_many_arguments)]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2<T: FastMath>($($arg: $ty),*) {
            $kernel::<T, true>($($arg),*)
        }
    };
}

/// Runs `$kernel` with the best build for the CPU, and returns.
macro_rules! dispatch {
    ($kernel:ident, $avx512:ident, $avx2:ident, $($arg:expr),*) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if exp512::available() {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { $avx512($($arg),*) };
            }
            if avx2_fma() {
                // SAFETY: as above.
                return unsafe { $avx2($($arg),*) };
            }
        }
        $kernel::<_, false>($($arg),*)
    }};
}

simd_builds!(lstm_fwd, lstm_fwd_avx512, lstm_fwd_avx2, (
    h: usize, pre: &[T], prev: &[T], prev_stride: usize, state: &mut [T], saved: &mut [T]
));
simd_builds!(gru_fwd, gru_fwd_avx512, gru_fwd_avx2, (
    h: usize, pre: &[T], hp: &[T], b_hh: &[T], prev: &[T], prev_stride: usize,
    state: &mut [T], saved: &mut [T]
));
simd_builds!(elman_fwd, elman_fwd_avx512, elman_fwd_avx2, (
    relu: bool, pre: &[T], state: &mut [T]
));
simd_builds!(lstm_bwd, lstm_bwd_avx512, lstm_bwd_avx2, (
    h: usize, gs: &[T], state: &[T], saved: &[T], prev: &[T], prev_stride: usize,
    dh: &[T], dc: &mut [T], d_xp: &mut [T], db: &mut [T]
));
simd_builds!(gru_bwd, gru_bwd_avx512, gru_bwd_avx2, (
    h: usize, gs: &[T], saved: &[T], prev: &[T], prev_stride: usize, dh: &[T],
    d_xp: &mut [T], d_hp: &mut [T], direct: &mut [T], dbs: (&mut [T], &mut [T])
));
simd_builds!(elman_bwd, elman_bwd_avx512, elman_bwd_avx2, (
    relu: bool, h: usize, gs: &[T], state: &[T], dh: &[T], d_xp: &mut [T], db: &mut [T]
));

/// The forward step's gates, cell and state updates, with the best build for the CPU.
pub(super) fn forward_step<T: FastMath>(s: StepFwd<'_, T>) {
    let (h, rows) = (s.hidden, s.rows);
    if h == 0 || rows == 0 {
        return;
    }
    let (pre, state, saved) = (s.pre, s.state, s.saved);
    let (prev, stride) = (s.prev.data, s.prev.stride);
    match s.cell {
        Cell::RnnTanh | Cell::RnnRelu => {
            let relu = s.cell == Cell::RnnRelu;
            dispatch!(
                elman_fwd,
                elman_fwd_avx512,
                elman_fwd_avx2,
                relu,
                pre,
                state
            )
        }
        Cell::Lstm => dispatch!(
            lstm_fwd,
            lstm_fwd_avx512,
            lstm_fwd_avx2,
            h,
            pre,
            prev,
            stride,
            state,
            saved
        ),
        Cell::Gru => dispatch!(
            gru_fwd,
            gru_fwd_avx512,
            gru_fwd_avx2,
            h,
            pre,
            s.hp,
            s.b_hh,
            prev,
            stride,
            state,
            saved
        ),
    }
}

/// The backward step's gradients of the gate pre-activations, with the best build for the CPU.
pub(super) fn backward_step<T: FastMath>(s: StepBwd<'_, T>) {
    let (h, rows) = (s.hidden, s.rows);
    if h == 0 || rows == 0 {
        return;
    }
    let (prev, stride) = (s.prev.data, s.prev.stride);
    match s.cell {
        Cell::RnnTanh | Cell::RnnRelu => {
            let relu = s.cell == Cell::RnnRelu;
            dispatch!(
                elman_bwd,
                elman_bwd_avx512,
                elman_bwd_avx2,
                relu,
                h,
                s.gs,
                s.state,
                s.dh,
                s.d_xp,
                s.db
            )
        }
        Cell::Lstm => dispatch!(
            lstm_bwd,
            lstm_bwd_avx512,
            lstm_bwd_avx2,
            h,
            s.gs,
            s.state,
            s.saved,
            prev,
            stride,
            s.dh,
            s.dc,
            s.d_xp,
            s.db
        ),
        Cell::Gru => dispatch!(
            gru_bwd,
            gru_bwd_avx512,
            gru_bwd_avx2,
            h,
            s.gs,
            s.saved,
            prev,
            stride,
            s.dh,
            s.d_xp,
            s.d_hp,
            s.dh_direct,
            (s.db, s.db_hp)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points over [-40, 40], denser near 0, and the edges of the polynomial's range.
    fn points() -> Vec<f64> {
        let mut v: Vec<f64> = (-4000..=4000).map(|i| i as f64 * 0.01).collect();
        v.extend((-300..=300).map(|i| (i as f64 * 0.05).exp2() * 1e-6));
        v.extend([0.25, -0.25, 0.249_999_999, 1e-300, -1e-300, 0.0, -0.0]);
        v
    }

    fn check<T: FastMath + Into<f64>>(from: impl Fn(f64) -> T, rel: f64) {
        for x in points() {
            let xt = from(x);
            let xv: f64 = xt.into();
            let (s, t) = (1.0 / (1.0 + (-xv).exp()), xv.tanh());
            for fast in [
                sigmoid::<T, false>(xt).into(),
                sigmoid::<T, true>(xt).into(),
            ] {
                assert!(
                    (fast - s).abs() <= rel * s.abs(),
                    "sigmoid({xv}) = {fast}, not {s}"
                );
            }
            for fast in [tanh::<T, false>(xt).into(), tanh::<T, true>(xt).into()] {
                assert!(
                    (fast - t).abs() <= rel * t.abs(),
                    "tanh({xv}) = {fast}, not {t}"
                );
                assert_eq!(fast.is_sign_negative(), t.is_sign_negative(), "tanh({xv})");
            }
        }
    }

    #[test]
    fn fast_sigmoid_and_tanh_are_accurate() {
        check::<f64>(|x| x, 4e-16 * 4.0);
        check::<f32>(|x| x as f32, 4.0 * f32::EPSILON as f64);
    }

    #[test]
    fn fast_sigmoid_and_tanh_at_the_edges() {
        for fma in [false, true] {
            type Map = fn(f64) -> f64;
            let (s, t): (Map, Map) = if fma {
                (sigmoid::<f64, true>, tanh::<f64, true>)
            } else {
                (sigmoid::<f64, false>, tanh::<f64, false>)
            };
            assert_eq!(s(f64::INFINITY), 1.0);
            assert_eq!(s(f64::NEG_INFINITY), 0.0);
            assert!(s(f64::NAN).is_nan());
            assert_eq!(t(f64::INFINITY), 1.0);
            assert_eq!(t(f64::NEG_INFINITY), -1.0);
            assert!(t(f64::NAN).is_nan());
            assert_eq!(s(-800.0), 0.0);
        }
        assert_eq!(sigmoid::<f32, false>(-200.0), 0.0);
        assert_eq!(tanh::<f32, true>(100.0), 1.0);
    }
}
