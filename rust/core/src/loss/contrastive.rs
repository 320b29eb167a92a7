//! Losses on pairs and groups of embeddings, and their gradients: `cosine_embedding_loss` and
//! `triplet_margin_loss` (PyTorch's semantics) and `nt_xent_loss` (SimCLR / InfoNCE).
//!
//! Each row of an input is one embedding; losses are per row (per anchor for `nt_xent_loss`)
//! and then reduced. Norms are computed with a scale factor, so large finite inputs do not
//! overflow where the loss itself is finite.

use super::margin::Arr;
use super::margin::{check_grad, check_signs, grad_weights, out_shape, relu, relu_grad, to_real};
use super::Reduction;
use crate::buf;
use crate::error::Result;
use crate::gemm::{matmul, MatmulDims};
use crate::real::Real;
use crate::runtime::parallel::{map_indexed, worth_parallel, PAR_CHUNK};
use crate::runtime::team;
use crate::shape::{check_same_shape, fmt_shape};
use crate::{shape_err, value_err};

/// `f(i)` for each of `n` rows costing `cost` element operations each, in parallel when the
/// total is large.
fn rows_map<R: Send, F: Fn(usize) -> R + Sync + Send>(n: usize, cost: usize, f: F) -> Vec<R> {
    map_indexed(n, cost, f)
}

/// Runs `f(row, [rows of each output])` over outputs split into rows of `d` elements; in
/// parallel when large, in runs of consecutive rows of about `PAR_CHUNK` elements.
fn for_each_row_n<T: Real, const K: usize, F: Fn(usize, [&mut [T]; K]) + Sync + Send>(
    outs: [&mut [T]; K],
    d: usize,
    f: F,
) {
    if d == 0 {
        return;
    }
    let n = outs[0].len() / d;
    let per = if worth_parallel(n * d * K) {
        (PAR_CHUNK / (d * K)).max(1)
    } else {
        n.max(1)
    };
    // Groups of `per` rows: for each group, the matching piece of every output.
    let mut groups: Vec<[&mut [T]; K]> = Vec::with_capacity(n.div_ceil(per));
    let mut iters: Vec<_> = outs.into_iter().map(|o| o.chunks_mut(per * d)).collect();
    for _ in 0..n.div_ceil(per) {
        groups.push(std::array::from_fn(|k| iters[k].next().unwrap_or_default()));
    }
    let run = |(g, group): (usize, [&mut [T]; K])| {
        let mut rows: [_; K] = group.map(|o| o.chunks_mut(d));
        for i in 0..per.min(n - g * per) {
            f(
                g * per + i,
                std::array::from_fn(|k| rows[k].next().unwrap_or_default()),
            );
        }
    };
    if groups.len() > 1 {
        team::for_each(groups.into_iter().enumerate().collect(), run);
    } else {
        groups.into_iter().enumerate().for_each(run);
    }
}

/// NaN-propagating maximum of `|f(k)|` over `k < d` (0 when empty).
#[inline]
fn max_abs<T: Real, F: Fn(usize) -> T>(d: usize, f: &F) -> T {
    let mut m = T::zero();
    for k in 0..d {
        let v = f(k).abs();
        if v > m {
            m = v;
        } else if v.is_nan() {
            return v;
        }
    }
    m
}

/// The factor a row is divided by before squaring: 1 (no scaling, PyTorch's arithmetic) unless
/// its largest magnitude is so large that a sum of squares could overflow, then that magnitude.
#[inline]
fn row_scale<T: Real>(row: &[T]) -> T {
    let m = max_abs(row.len(), &|k| row[k]);
    let big = T::max_value().sqrt() * T::epsilon();
    if m > big && m.is_finite() {
        m
    } else {
        T::one()
    }
}

// ------------------------------------------------------------------ cosine embedding

/// PyTorch's `EPSILON` in `cosine_embedding_loss`, added to each squared norm.
const COS_EPS: f64 = 1e-12;

/// The cosine of one pair of rows, with what its gradient needs: with `u = a / sa`,
/// `v = b / sb`, `cos = (u . v) / sqrt(A B)` where `A = |u|^2 + eps / sa^2` (so that
/// `A sa^2 = |a|^2 + eps`, PyTorch's denominator).
struct CosRow<T> {
    cos: T,
    sa: T,
    sb: T,
    a2: T,
    b2: T,
}

fn cos_row<T: Real>(a: &[T], b: &[T]) -> CosRow<T> {
    let (sa, sb) = (row_scale(a), row_scale(b));
    let eps: T = T::c(COS_EPS);
    let (ia, ib) = (T::one() / sa, T::one() / sb);
    let (mut s, mut a2, mut b2) = (T::zero(), T::zero(), T::zero());
    for (&x, &y) in a.iter().zip(b) {
        let (u, v) = (x * ia, y * ib);
        s = s + u * v;
        a2 = a2 + u * u;
        b2 = b2 + v * v;
    }
    let a2 = a2 + eps / (sa * sa);
    let b2 = b2 + eps / (sb * sb);
    CosRow {
        cos: s / (a2 * b2).sqrt(),
        sa,
        sb,
        a2,
        b2,
    }
}

/// Rows and row length of a cosine-embedding problem, checked.
fn cosine_layout<T: Real>(
    func: &str,
    x1: Arr<'_, T>,
    x2: Arr<'_, T>,
    target: Arr<'_, T>,
) -> Result<(usize, usize)> {
    x1.check(func, "input1")?;
    x2.check(func, "input2")?;
    target.check(func, "target")?;
    check_same_shape(func, ("input1", x1.shape), ("input2", x2.shape))?;
    let s = x1.shape;
    let ok = match target.shape.len() {
        0 => s.len() == 1,
        1 => s.len() == 2 && s[0] == target.shape[0],
        _ => false,
    };
    if !ok {
        return shape_err!(
            "{func}: target has shape {} and the inputs have shape {}; expected target (N,) \
             with inputs (N, D), or a 0-d target with inputs (D,)",
            fmt_shape(target.shape),
            fmt_shape(s)
        );
    }
    check_signs(func, target)?;
    Ok(if s.len() == 1 {
        (1, s[0])
    } else {
        (s[0], s[1])
    })
}

/// PyTorch's `cosine_embedding_loss`: per row, `1 - cos(x1, x2)` where target is 1 and
/// `max(0, cos(x1, x2) - margin)` where it is -1, with
/// `cos = x1 . x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))`.
pub fn cosine_embedding_loss<T: Real>(
    input1: Arr<'_, T>,
    input2: Arr<'_, T>,
    target: Arr<'_, T>,
    margin: f64,
    r: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    let (n, d) = cosine_layout("cosine_embedding_loss", input1, input2, target)?;
    let margin: T = to_real(margin);
    let (a, b, t) = (input1.data, input2.data, target.data);
    let per = rows_map(n, d, |i| {
        let c = cos_row(&a[i * d..(i + 1) * d], &b[i * d..(i + 1) * d]).cos;
        if t[i] == T::one() {
            T::one() - c
        } else {
            relu(c - margin)
        }
    });
    Ok((r.apply(per, n), out_shape(r, target.shape)))
}

/// Gradients of [`cosine_embedding_loss`] with respect to `input1` and `input2`.
pub fn cosine_embedding_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    input1: Arr<'_, T>,
    input2: Arr<'_, T>,
    target: Arr<'_, T>,
    margin: f64,
    r: Reduction,
) -> Result<(Vec<T>, Vec<T>)> {
    let func = "cosine_embedding_loss_backward";
    let (n, d) = cosine_layout(func, input1, input2, target)?;
    check_grad(func, r, grad, &out_shape(r, target.shape))?;
    let margin: T = to_real(margin);
    let (a, b, t) = (input1.data, input2.data, target.data);
    let w = grad_weights(r, grad.data, n);
    let mut g1 = buf::zeros(n * d)?;
    let mut g2 = buf::zeros(n * d)?;
    for_each_row_n([&mut g1[..], &mut g2[..]], d, |i, [r1, r2]| {
        let (ra, rb) = (&a[i * d..(i + 1) * d], &b[i * d..(i + 1) * d]);
        let c = cos_row(ra, rb);
        let dcos = if t[i] == T::one() {
            -T::one()
        } else {
            relu_grad(c.cos - margin)
        };
        let k = w(i) * dcos;
        if k == T::zero() {
            return;
        }
        // d cos / d a = (v / sqrt(A B) - cos u / A) / sa, and symmetrically for b.
        let inv_ab = T::one() / (c.a2 * c.b2).sqrt();
        let (ka, kb) = (k / c.sa, k / c.sb);
        let (ia, ib) = (T::one() / c.sa, T::one() / c.sb);
        let (ca, cb) = (c.cos / c.a2, c.cos / c.b2);
        for (((ga, gb), &x), &y) in r1.iter_mut().zip(r2.iter_mut()).zip(ra).zip(rb) {
            let (u, v) = (x * ia, y * ib);
            *ga = ka * (v * inv_ab - ca * u);
            *gb = kb * (u * inv_ab - cb * v);
        }
    });
    Ok((g1, g2))
}

// ------------------------------------------------------------------ triplet margin

/// Options of [`triplet_margin_loss`], as PyTorch's arguments.
#[derive(Debug, Clone, Copy)]
pub struct Triplet {
    /// The margin between the positive and the negative distance.
    pub margin: f64,
    /// The norm degree of the distances: any `p >= 0`, or infinity.
    pub p: f64,
    /// Added to every difference before taking its norm, as `pairwise_distance` does.
    pub eps: f64,
    /// Use `min(d(a, n), d(p, n))` as the negative distance.
    pub swap: bool,
    /// How the per-row losses are combined.
    pub reduction: Reduction,
}

/// A p-norm, specialised for the common degrees.
#[derive(Debug, Clone, Copy)]
enum PNorm<T> {
    Zero,
    One,
    Two,
    Inf,
    P(T),
}

impl<T: Real> PNorm<T> {
    fn new(func: &str, p: f64) -> Result<Self> {
        if p.is_nan() || p < 0.0 {
            return value_err!("{func}: p must be a non-negative number or inf, got {p}");
        }
        Ok(if p == 0.0 {
            PNorm::Zero
        } else if p == 1.0 {
            PNorm::One
        } else if p == 2.0 {
            PNorm::Two
        } else if p.is_infinite() {
            PNorm::Inf
        } else {
            PNorm::P(to_real(p))
        })
    }

    /// The norm of the `d` values `f(k)`, scaled by their largest magnitude so that no power
    /// overflows.
    fn norm<F: Fn(usize) -> T>(self, d: usize, f: F) -> T {
        match self {
            PNorm::Zero => T::from_usize_((0..d).filter(|&k| f(k) != T::zero()).count()),
            PNorm::One => (0..d).map(|k| f(k).abs()).fold(T::zero(), |s, v| s + v),
            PNorm::Inf => max_abs(d, &f),
            PNorm::Two | PNorm::P(_) => {
                let m = max_abs(d, &f);
                if m == T::zero() || !m.is_finite() {
                    return m;
                }
                let inv = T::one() / m;
                let mut s = T::zero();
                for k in 0..d {
                    let v = f(k).abs() * inv;
                    s = s + match self {
                        PNorm::P(p) => v.powf(p),
                        _ => v * v,
                    };
                }
                match self {
                    PNorm::P(p) => m * s.powf(T::one() / p),
                    _ => m * s.sqrt(),
                }
            }
        }
    }

    /// d norm / d x for one value `x` of a vector whose norm is `r`; `ties` is, for the
    /// infinity norm, how many values reach it (the gradient is shared among them). At a
    /// zero norm the gradient is 0, as PyTorch's.
    #[inline]
    fn grad(self, x: T, r: T, ties: T) -> T {
        let sgn = |v: T| {
            if v > T::zero() {
                T::one()
            } else if v < T::zero() {
                -T::one()
            } else {
                v // 0 or NaN
            }
        };
        match self {
            PNorm::Zero => T::zero(),
            PNorm::One => sgn(x),
            PNorm::Inf => {
                if x.abs() == r || x.is_nan() {
                    sgn(x) / ties
                } else {
                    T::zero()
                }
            }
            PNorm::Two => {
                if r == T::zero() {
                    T::zero()
                } else {
                    x / r
                }
            }
            PNorm::P(p) => {
                if r == T::zero() || x == T::zero() {
                    T::zero()
                } else {
                    sgn(x) * (x.abs() / r).powf(p - T::one())
                }
            }
        }
    }

    /// How many of the `d` values reach the infinity norm `r` (1 for the other norms).
    fn ties<F: Fn(usize) -> T>(self, d: usize, r: T, f: F) -> T {
        match self {
            PNorm::Inf => T::from_usize_((0..d).filter(|&k| f(k).abs() == r).count().max(1)),
            _ => T::one(),
        }
    }
}

/// NaN-propagating minimum, as `torch.minimum`.
#[inline]
fn min_nan<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else if b < a {
        b
    } else {
        a
    }
}

/// Rows and row length of a triplet problem, checked.
fn triplet_layout<T: Real>(
    func: &str,
    a: Arr<'_, T>,
    p: Arr<'_, T>,
    n: Arr<'_, T>,
) -> Result<(usize, usize)> {
    a.check(func, "anchor")?;
    p.check(func, "positive")?;
    n.check(func, "negative")?;
    check_same_shape(func, ("anchor", a.shape), ("positive", p.shape))?;
    check_same_shape(func, ("anchor", a.shape), ("negative", n.shape))?;
    let Some((&d, lead)) = a.shape.split_last() else {
        return shape_err!("{func}: the inputs must have at least one dimension, got shape ()");
    };
    Ok((lead.iter().product(), d))
}

/// The three distances of one triplet row: anchor-positive, anchor-negative and (with swap)
/// positive-negative.
struct TripletRow<T> {
    ap: T,
    an: T,
    pn: T,
}

fn triplet_row<T: Real>(
    norm: PNorm<T>,
    eps: T,
    swap: bool,
    (a, p, n): (&[T], &[T], &[T]),
) -> TripletRow<T> {
    let d = a.len();
    TripletRow {
        ap: norm.norm(d, |k| a[k] - p[k] + eps),
        an: norm.norm(d, |k| a[k] - n[k] + eps),
        pn: if swap {
            norm.norm(d, |k| p[k] - n[k] + eps)
        } else {
            T::nan()
        },
    }
}

/// PyTorch's `triplet_margin_loss`: per row, `max(0, margin + d(a, p) - d(a, n))` with
/// `d(x, y) = ||x - y + eps||_p` over the last axis; with `swap`, the negative distance is
/// `min(d(a, n), d(p, n))`.
pub fn triplet_margin_loss<T: Real>(
    anchor: Arr<'_, T>,
    positive: Arr<'_, T>,
    negative: Arr<'_, T>,
    o: &Triplet,
) -> Result<(Vec<T>, Vec<usize>)> {
    let func = "triplet_margin_loss";
    let (rows, d) = triplet_layout(func, anchor, positive, negative)?;
    let norm = PNorm::<T>::new(func, o.p)?;
    let (margin, eps): (T, T) = (to_real(o.margin), to_real(o.eps));
    let (a, p, n) = (anchor.data, positive.data, negative.data);
    let per = rows_map(rows, 3 * d, |i| {
        let s = i * d..(i + 1) * d;
        let t = triplet_row(norm, eps, o.swap, (&a[s.clone()], &p[s.clone()], &n[s]));
        let dn = if o.swap { min_nan(t.an, t.pn) } else { t.an };
        relu(margin + t.ap - dn)
    });
    let lead = &anchor.shape[..anchor.shape.len() - 1];
    Ok((o.reduction.apply(per, rows), out_shape(o.reduction, lead)))
}

/// Gradients of [`triplet_margin_loss`] with respect to anchor, positive and negative.
pub fn triplet_margin_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    anchor: Arr<'_, T>,
    positive: Arr<'_, T>,
    negative: Arr<'_, T>,
    o: &Triplet,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let func = "triplet_margin_loss_backward";
    let (rows, d) = triplet_layout(func, anchor, positive, negative)?;
    let norm = PNorm::<T>::new(func, o.p)?;
    let lead = &anchor.shape[..anchor.shape.len() - 1];
    check_grad(func, o.reduction, grad, &out_shape(o.reduction, lead))?;
    let (margin, eps): (T, T) = (to_real(o.margin), to_real(o.eps));
    let (a, p, n) = (anchor.data, positive.data, negative.data);
    let w = grad_weights(o.reduction, grad.data, rows);
    let len = rows * d;
    let mut ga = buf::zeros(len)?;
    let mut gp = buf::zeros(len)?;
    let mut gn = buf::zeros(len)?;
    let half = T::c(0.5);
    for_each_row_n(
        [&mut ga[..], &mut gp[..], &mut gn[..]],
        d,
        |i, [ra, rp, rn]| {
            let s = i * d..(i + 1) * d;
            let (a, p, n) = (&a[s.clone()], &p[s.clone()], &n[s]);
            let t = triplet_row(norm, eps, o.swap, (a, p, n));
            let dn = if o.swap { min_nan(t.an, t.pn) } else { t.an };
            let c = w(i) * relu_grad(margin + t.ap - dn);
            if c == T::zero() {
                return;
            }
            // torch.minimum sends the gradient to the smaller distance, half to each on a tie.
            let (wan, wpn) = if !o.swap || t.an < t.pn {
                (T::one(), T::zero())
            } else if t.an > t.pn {
                (T::zero(), T::one())
            } else {
                (half, half)
            };
            let dap = |k: usize| a[k] - p[k] + eps;
            let dan = |k: usize| a[k] - n[k] + eps;
            let dpn = |k: usize| p[k] - n[k] + eps;
            let tie_ap = norm.ties(d, t.ap, dap);
            let tie_an = norm.ties(d, t.an, dan);
            let tie_pn = if wpn != T::zero() {
                norm.ties(d, t.pn, dpn)
            } else {
                T::one()
            };
            for k in 0..d {
                let g_ap = c * norm.grad(dap(k), t.ap, tie_ap);
                let g_an = c * wan * norm.grad(dan(k), t.an, tie_an);
                let g_pn = if wpn != T::zero() {
                    c * wpn * norm.grad(dpn(k), t.pn, tie_pn)
                } else {
                    T::zero()
                };
                // L = margin + d(a, p) - d(a, n), or - d(p, n) under swap.
                ra[k] = g_ap - g_an;
                rp[k] = -g_ap - g_pn;
                rn[k] = g_an + g_pn;
            }
        },
    );
    Ok((ga, gp, gn))
}

// ------------------------------------------------------------------ NT-Xent

/// The floor of a row's norm when normalising, as `torch.nn.functional.normalize`'s default.
const NORM_EPS: f64 = 1e-12;

/// The shared part of the NT-Xent forward and backward pass.
struct NtXent<T> {
    /// Rows of both views (2N of them), L2-normalised.
    zn: Vec<T>,
    /// The norm of each row before normalising.
    norms: Vec<T>,
    /// Cosine similarities divided by the temperature, (2N, 2N), diagonal included.
    logits: Vec<T>,
    n2: usize,
    d: usize,
}

fn nt_xent_prepare<T: Real>(
    func: &str,
    z1: Arr<'_, T>,
    z2: Arr<'_, T>,
    temperature: f64,
) -> Result<NtXent<T>> {
    z1.check(func, "z1")?;
    z2.check(func, "z2")?;
    check_same_shape(func, ("z1", z1.shape), ("z2", z2.shape))?;
    if z1.shape.len() != 2 {
        return shape_err!(
            "{func}: z1 and z2 must have shape (N, D), got {}",
            fmt_shape(z1.shape)
        );
    }
    if temperature.is_nan() || temperature <= 0.0 {
        return value_err!("{func}: temperature must be positive, got {temperature}");
    }
    let (n, d) = (z1.shape[0], z1.shape[1]);
    let n2 = 2 * n;
    let row = |i: usize| {
        if i < n {
            &z1.data[i * d..(i + 1) * d]
        } else {
            &z2.data[(i - n) * d..(i - n + 1) * d]
        }
    };
    let norm_eps: T = T::c(NORM_EPS);
    let norms: Vec<T> = rows_map(n2, d, |i| {
        let r = row(i);
        PNorm::Two.norm(d, |k| r[k])
    });
    let mut zn = buf::zeros(n2 * d)?;
    for (i, out) in zn.chunks_mut(d.max(1)).enumerate().take(n2) {
        let denom = if norms[i] >= norm_eps {
            norms[i]
        } else {
            norm_eps
        };
        for (o, &v) in out.iter_mut().zip(row(i)) {
            *o = v / denom;
        }
    }
    // Similarities zn @ zn^T, on the gemm kernel.
    let mut znt = buf::zeros(n2 * d)?;
    for i in 0..n2 {
        for k in 0..d {
            znt[k * n2 + i] = zn[i * d + k];
        }
    }
    let dims = MatmulDims {
        batch: 1,
        m: n2,
        k: d,
        n: n2,
        a_batched: false,
        b_batched: false,
    };
    let mut logits = matmul(&zn, &znt, dims)?;
    let inv_t: T = to_real(1.0 / temperature);
    logits.iter_mut().for_each(|v| *v = *v * inv_t);
    Ok(NtXent {
        zn,
        norms,
        logits,
        n2,
        d,
    })
}

/// The index of the other view of row `i` among `n2` rows.
#[inline]
fn positive_of(i: usize, n2: usize) -> usize {
    let n = n2 / 2;
    if i < n {
        i + n
    } else {
        i - n
    }
}

/// Log-sum-exp of row `i` of the logits without its diagonal element.
fn lse_off_diagonal<T: Real>(row: &[T], i: usize) -> T {
    let mut m = T::neg_infinity();
    for (k, &v) in row.iter().enumerate() {
        if k != i && (v > m || v.is_nan()) {
            m = v;
        }
    }
    if !m.is_finite() {
        return m;
    }
    let mut s = T::zero();
    for (k, &v) in row.iter().enumerate() {
        if k != i {
            s = s + (v - m).exp();
        }
    }
    m + s.ln()
}

/// NT-Xent (SimCLR, InfoNCE) over the 2N rows of two views `z1`, `z2` of shape (N, D): rows
/// are L2-normalised, `s_ik = cos(z_i, z_k) / temperature`, and the loss of anchor `i` is
/// `-log(exp(s_ij) / sum over k != i of exp(s_ik))` where `j` is `i`'s other view.
/// Reductions run over the 2N anchors.
pub fn nt_xent_loss<T: Real>(
    z1: Arr<'_, T>,
    z2: Arr<'_, T>,
    temperature: f64,
    r: Reduction,
) -> Result<(Vec<T>, Vec<usize>)> {
    let s = nt_xent_prepare("nt_xent_loss", z1, z2, temperature)?;
    let n2 = s.n2;
    let per = rows_map(n2, n2, |i| {
        let row = &s.logits[i * n2..(i + 1) * n2];
        lse_off_diagonal(row, i) - row[positive_of(i, n2)]
    });
    Ok((r.apply(per, n2), out_shape(r, &[n2])))
}

/// Gradients of [`nt_xent_loss`] with respect to `z1` and `z2`.
pub fn nt_xent_loss_backward<T: Real>(
    grad: Arr<'_, T>,
    z1: Arr<'_, T>,
    z2: Arr<'_, T>,
    temperature: f64,
    r: Reduction,
) -> Result<(Vec<T>, Vec<T>)> {
    let func = "nt_xent_loss_backward";
    let s = nt_xent_prepare(func, z1, z2, temperature)?;
    let (n2, d) = (s.n2, s.d);
    check_grad(func, r, grad, &out_shape(r, &[n2]))?;
    let w = grad_weights(r, grad.data, n2);
    // G[i, k] = w_i (softmax_i(k) - [k is i's positive]), 0 on the diagonal.
    let NtXent {
        zn,
        norms,
        logits: mut gs,
        ..
    } = s;
    crate::runtime::parallel::for_each_row(&mut gs, n2.max(1), |i, row| {
        let mut m = T::neg_infinity();
        for (k, &v) in row.iter().enumerate() {
            if k != i && (v > m || v.is_nan()) {
                m = v;
            }
        }
        let mut sum = T::zero();
        for (k, v) in row.iter_mut().enumerate() {
            *v = if k == i { T::zero() } else { (*v - m).exp() };
            sum = sum + *v;
        }
        let scale = w(i) / sum;
        row.iter_mut().for_each(|v| *v = *v * scale);
        let pos = positive_of(i, n2);
        row[pos] = row[pos] - w(i);
    });
    // The similarity matrix is symmetric in zn, so d zn = (G + G^T) zn / temperature;
    // G + G^T is formed in place, tile by tile.
    const TILE: usize = 64;
    for bi in (0..n2).step_by(TILE) {
        for bk in (bi..n2).step_by(TILE) {
            for i in bi..(bi + TILE).min(n2) {
                let k0 = if bk == bi { i + 1 } else { bk };
                for k in k0..(bk + TILE).min(n2) {
                    let v = gs[i * n2 + k] + gs[k * n2 + i];
                    gs[i * n2 + k] = v;
                    gs[k * n2 + i] = v;
                }
            }
        }
    }
    let dims = MatmulDims {
        batch: 1,
        m: n2,
        k: n2,
        n: d,
        a_batched: false,
        b_batched: false,
    };
    let mut dzn = matmul(&gs, &zn, dims)?;
    let inv_t: T = to_real(1.0 / temperature);
    let norm_eps: T = T::c(NORM_EPS);
    // Through the normalisation zn = z / max(|z|, eps).
    crate::runtime::parallel::for_each_row(&mut dzn, d.max(1), |i, g| {
        let zi = &zn[i * d..(i + 1) * d];
        let r = norms[i];
        if r >= norm_eps {
            let dot = zi
                .iter()
                .zip(g.iter())
                .fold(T::zero(), |acc, (&z, &v)| acc + z * v);
            for (v, &z) in g.iter_mut().zip(zi) {
                *v = (*v - z * dot) * inv_t / r;
            }
        } else {
            for v in g.iter_mut() {
                *v = *v * inv_t / norm_eps;
            }
        }
    });
    let g2 = dzn.split_off(n2 / 2 * d);
    Ok((dzn, g2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_rows_is_one() {
        let a = [1.0f64, 2.0, 3.0, 1.0, 0.0, 0.0];
        let b = [2.0f64, 4.0, 6.0, 0.0, 1.0, 0.0];
        let t = [1.0f64, -1.0];
        let (v, s) = cosine_embedding_loss(
            Arr::new(&a, &[2, 3]),
            Arr::new(&b, &[2, 3]),
            Arr::new(&t, &[2]),
            0.0,
            Reduction::None,
        )
        .unwrap();
        assert_eq!(s, vec![2]);
        assert!(v[0].abs() < 1e-12 && v[1].abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn cosine_is_finite_for_huge_rows() {
        let a = [1e200f64, 1e200];
        let b = [1e200f64, -1e200];
        let t = [-1.0f64];
        let (v, _) = cosine_embedding_loss(
            Arr::new(&a, &[1, 2]),
            Arr::new(&b, &[1, 2]),
            Arr::new(&t, &[1]),
            -0.5,
            Reduction::Sum,
        )
        .unwrap();
        assert!((v[0] - 0.5).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn triplet_swap_uses_the_smaller_distance() {
        // d(a, p) = 1, d(a, n) = 3, d(p, n) = 2 and margin 2: without swap
        // max(0, 2 + 1 - 3) = 0; with swap max(0, 2 + 1 - 2) = 1.
        let a = [0.0f64];
        let p = [1.0f64];
        let n = [3.0f64];
        let mut o = Triplet {
            margin: 2.0,
            p: 2.0,
            eps: 0.0,
            swap: false,
            reduction: Reduction::Sum,
        };
        let run = |o: &Triplet| {
            triplet_margin_loss(
                Arr::new(&a, &[1, 1]),
                Arr::new(&p, &[1, 1]),
                Arr::new(&n, &[1, 1]),
                o,
            )
            .unwrap()
            .0[0]
        };
        assert_eq!(run(&o), 0.0);
        o.swap = true;
        assert_eq!(run(&o), 1.0);
    }

    #[test]
    fn p_norms() {
        let v = [3.0f64, -4.0];
        let f = |k: usize| v[k];
        assert_eq!(PNorm::<f64>::Two.norm(2, f), 5.0);
        assert_eq!(PNorm::<f64>::One.norm(2, f), 7.0);
        assert_eq!(PNorm::<f64>::Inf.norm(2, f), 4.0);
        assert_eq!(PNorm::<f64>::Zero.norm(2, f), 2.0);
        assert!((PNorm::P(3.0f64).norm(2, f) - 91f64.cbrt()).abs() < 1e-12);
        assert_eq!(
            PNorm::<f64>::Two.norm(2, |k| [1e300, 1e300][k]),
            1e300 * 2f64.sqrt()
        );
    }

    #[test]
    fn nt_xent_with_one_pair_is_zero() {
        let z1 = [1.0f64, 2.0];
        let z2 = [-3.0f64, 0.5];
        let (v, s) = nt_xent_loss(
            Arr::new(&z1, &[1, 2]),
            Arr::new(&z2, &[1, 2]),
            0.5,
            Reduction::None,
        )
        .unwrap();
        assert_eq!(s, vec![2]);
        assert!(v.iter().all(|x| x.abs() < 1e-12), "{v:?}");
    }

    #[test]
    fn nt_xent_rejects_bad_temperature() {
        let z = [1.0f64];
        let e = nt_xent_loss(
            Arr::new(&z, &[1, 1]),
            Arr::new(&z, &[1, 1]),
            0.0,
            Reduction::Mean,
        )
        .unwrap_err();
        assert!(e.to_string().contains("temperature"), "{e}");
    }
}
