//! The arguments of `cross_entropy` and `nll_loss` (views, targets, options, the layout of
//! rows), their checks, and the plan the cross-entropy kernels share (targets of a run of rows,
//! gradient coefficients).

use crate::buf;
use crate::error::Result;
use crate::loss::simd::exp512;
use crate::loss::{check_grad_output, Reduction};
use crate::real::Real;
use crate::runtime::parallel::{first_position, map_chunks};
use crate::runtime::team;
use crate::shape::{broadcasts_to, fmt_index, fmt_shape, numel};
use crate::{shape_err, value_err};

/// A read-only array: its elements in C order and its shape.
#[derive(Debug, Clone, Copy)]
pub struct View<'a, T> {
    /// The elements, C-contiguous.
    pub data: &'a [T],
    /// The shape.
    pub shape: &'a [usize],
}

impl<'a, T> View<'a, T> {
    /// Pairs elements with their shape.
    pub fn new(data: &'a [T], shape: &'a [usize]) -> Self {
        View { data, shape }
    }
}

/// The target of `cross_entropy`: class indices or class probabilities.
#[derive(Debug, Clone, Copy)]
pub enum ClassTarget<'a, T> {
    /// Class indices of shape `()`, `(N,)` or `(N, d1, ..., dk)`.
    Index(View<'a, i64>),
    /// Class probabilities of the input's shape.
    Prob(View<'a, T>),
}

/// The options of `cross_entropy` and `nll_loss` (PyTorch's keyword arguments).
#[derive(Debug, Clone, Copy)]
pub struct ClassOptions<'a, T> {
    /// Per-class weights of shape `(C,)`, or `None` for all ones.
    pub weight: Option<&'a [T]>,
    /// Label whose rows contribute neither loss nor gradient (class-index targets only).
    pub ignore_index: i64,
    /// How per-row losses are combined.
    pub reduction: Reduction,
    /// Label smoothing in `[0, 1]` (`cross_entropy` only).
    pub label_smoothing: f64,
}

impl<'a, T> ClassOptions<'a, T> {
    /// PyTorch's defaults (`weight=None, ignore_index=-100, label_smoothing=0.0`).
    pub fn new(reduction: Reduction) -> Self {
        ClassOptions {
            weight: None,
            ignore_index: -100,
            reduction,
            label_smoothing: 0.0,
        }
    }
}

/// How an input of shape `(C,)`, `(N, C)` or `(N, C, d1, ..., dk)` splits into rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassLayout {
    /// `N` (1 when unbatched).
    pub batch: usize,
    /// `C`.
    pub classes: usize,
    /// `d1 * ... * dk` (1 without spatial axes).
    pub inner: usize,
    /// Shape of the per-row loss (`()` when unbatched, else `(N, d1, ..., dk)`).
    pub row_shape: Vec<usize>,
}

impl ClassLayout {
    /// Reads the layout of an input `shape`.
    pub fn new(func: &str, shape: &[usize]) -> Result<Self> {
        match shape.len() {
            0 => shape_err!(
                "{func}: input must have shape (C,), (N, C) or (N, C, d1, ..., dk), got ()"
            ),
            1 => Ok(ClassLayout {
                batch: 1,
                classes: shape[0],
                inner: 1,
                row_shape: vec![],
            }),
            _ => {
                let mut row_shape = vec![shape[0]];
                row_shape.extend_from_slice(&shape[2..]);
                Ok(ClassLayout {
                    batch: shape[0],
                    classes: shape[1],
                    inner: numel(&shape[2..]),
                    row_shape,
                })
            }
        }
    }

    /// Number of rows (`N * d1 * ... * dk`).
    pub fn rows(&self) -> usize {
        self.batch * self.inner
    }
}

/// Position of the first element for which `bad` holds, searched in parallel when large.
pub(crate) fn first_bad<T: Sync, F: Fn(&T) -> bool + Sync + Send>(
    x: &[T],
    bad: F,
) -> Option<usize> {
    first_position(x, bad)
}

/// Checks class weights: shape `(C,)`, every value non-negative (NaN rejected too).
pub(crate) fn check_class_weight<T: Real>(
    func: &str,
    weight: Option<&[T]>,
    classes: usize,
) -> Result<()> {
    let Some(w) = weight else { return Ok(()) };
    if w.len() != classes {
        return shape_err!(
            "{func}: weight must have shape ({classes},), one value per class, got ({},)",
            w.len()
        );
    }
    if let Some(i) = first_bad(w, |v| v.is_nan() || *v < T::zero()) {
        return value_err!(
            "{func}: weight must be non-negative, got {} at index {i}",
            w[i]
        );
    }
    Ok(())
}

/// Checks `weight` (or `pos_weight`) of a binary loss: broadcastable to `shape`, non-negative.
pub(crate) fn check_broadcast_weight<T: Real>(
    func: &str,
    name: &str,
    w: Option<View<'_, T>>,
    shape: &[usize],
) -> Result<()> {
    let Some(w) = w else { return Ok(()) };
    if !broadcasts_to(w.shape, shape) || w.data.len() != numel(w.shape) {
        return shape_err!(
            "{func}: {name} of shape {} does not broadcast to the input's shape {}",
            fmt_shape(w.shape),
            fmt_shape(shape)
        );
    }
    if let Some(i) = first_bad(w.data, |v| v.is_nan() || *v < T::zero()) {
        return value_err!(
            "{func}: {name} must be non-negative, got {} at index {}",
            w.data[i],
            fmt_index(i, w.shape)
        );
    }
    Ok(())
}

/// Checks the shape of class-index targets against the layout.
pub(crate) fn check_index_target(
    func: &str,
    t: &View<'_, i64>,
    shape: &[usize],
    lay: &ClassLayout,
) -> Result<()> {
    if t.shape != lay.row_shape.as_slice() || t.data.len() != lay.rows() {
        return shape_err!(
            "{func}: target has shape {}, but input of shape {} needs class-index targets of \
             shape {}",
            fmt_shape(t.shape),
            fmt_shape(shape),
            fmt_shape(&lay.row_shape)
        );
    }
    Ok(())
}

/// Whether any label in `ch` other than `ignore` is outside `[0, c)`, and how many are not
/// `ignore`.
#[inline(always)]
pub(crate) fn count_kept(ch: &[i64], ignore: i64, c: u64) -> (bool, usize) {
    let (mut bad, mut n) = (false, 0usize);
    for &y in ch {
        let kept = y != ignore;
        // `y as u64 >= c` also catches y < 0.
        bad |= kept & (y as u64 >= c);
        n += kept as usize;
    }
    (bad, n)
}

/// [`count_kept`] compiled for AVX-512 (8 labels per step instead of 2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
pub(crate) fn count_kept_avx512(ch: &[i64], ignore: i64, c: u64) -> (bool, usize) {
    count_kept(ch, ignore, c)
}

/// [`count_kept`] with the widest vectors the CPU has.
pub(crate) fn count_kept_dispatch(ch: &[i64], ignore: i64, c: u64) -> (bool, usize) {
    #[cfg(target_arch = "x86_64")]
    if exp512::available() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { count_kept_avx512(ch, ignore, c) };
    }
    count_kept(ch, ignore, c)
}

/// Validates labels (each in `[0, C)` or equal to `ignore_index`) and returns the sum of the
/// weights of the labels that are not ignored (their count without weights), in one pass.
pub(crate) fn scan_labels<T: Real>(
    func: &str,
    t: &View<'_, i64>,
    classes: usize,
    ignore: i64,
    weight: Option<&[T]>,
) -> Result<T> {
    let c = classes as u64;
    // (any bad label, sum of weights) of a chunk; `y as u64 >= c` also catches y < 0.
    let scan = |ch: &[i64]| -> (bool, f64) {
        let mut bad = false;
        match weight {
            None => {
                let (bad, n) = count_kept_dispatch(ch, ignore, c);
                (bad, n as f64)
            }
            Some(w) => {
                let mut s = 0.0f64;
                for &y in ch {
                    if y != ignore {
                        match w.get(y as usize) {
                            Some(v) if y >= 0 => s += v.to_f64().unwrap_or(f64::NAN),
                            _ => bad = true,
                        }
                    }
                }
                (bad, s)
            }
        }
    };
    // Chunk by chunk in order, on the team or not: the weight sum depends on the length alone.
    let (bad, total) = map_chunks(t.data, scan)
        .iter()
        .fold((false, 0.0), |(b, s), &(pb, ps)| (b | pb, s + ps));
    if bad {
        let i = t
            .data
            .iter()
            .position(|&y| y != ignore && y as u64 >= c)
            .unwrap_or(0);
        let at = if t.shape.is_empty() {
            String::new()
        } else {
            format!(" at index {}", fmt_index(i, t.shape))
        };
        return value_err!(
            "{func}: target has label {}{at}, but input has {classes} classes",
            t.data[i]
        );
    }
    Ok(T::from_f64(total).unwrap_or_else(T::nan))
}

/// Checks `grad_output` against the reduction and the shape of the unreduced loss.
pub(crate) fn check_grad(
    func: &str,
    r: Reduction,
    g: &View<'_, impl Copy>,
    loss_shape: &[usize],
) -> Result<()> {
    check_grad_output(func, r, g.data.len(), numel(loss_shape))?;
    if r == Reduction::None && g.shape != loss_shape {
        return shape_err!(
            "{func}: grad_output has shape {}, expected {} (the shape of the unreduced loss)",
            fmt_shape(g.shape),
            fmt_shape(loss_shape)
        );
    }
    Ok(())
}

/// The factor `reduction` applies to each per-row gradient, given the mean's divisor.
pub(crate) fn grad_scale<T: Real>(r: Reduction, denom: T) -> T {
    match r {
        Reduction::Mean => T::one() / denom,
        _ => T::one(),
    }
}

/// Sum of `v` in f64 over chunks of `PAR_CHUNK`, in parallel when large; the order of the
/// additions depends on the length alone, never on the thread count.
pub(crate) fn total_f64<T: Real>(v: &[T]) -> f64 {
    map_chunks(v, sum_f64).iter().sum()
}

/// Sum of `v` in f64.
pub(crate) fn sum_f64<T: Real>(v: &[T]) -> f64 {
    // Eight independent sums, so the additions pipeline.
    let mut acc = [0.0f64; 8];
    let mut chunks = v.chunks_exact(8);
    for ch in &mut chunks {
        for (a, x) in acc.iter_mut().zip(ch) {
            *a += x.to_f64().unwrap_or(f64::NAN);
        }
    }
    let rest: f64 = chunks
        .remainder()
        .iter()
        .map(|x| x.to_f64().unwrap_or(f64::NAN))
        .sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + rest
}

/// Reduces per-element losses; `Mean` divides the sum by `denom`.
pub(crate) fn reduce_rows<T: Real>(r: Reduction, per: Vec<T>, denom: T) -> Vec<T> {
    let total = match r {
        Reduction::None => return per,
        _ => total_f64(&per),
    };
    finish_loss(r, Vec::new(), total, denom, &[]).0
}

/// The targets of a run of consecutive rows.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a, T> {
    Index(&'a [i64]),
    Prob(&'a [T]),
}

impl<'a, T> Rows<'a, T> {
    /// The targets of rows `start..start + len` of `c` classes.
    pub(crate) fn slice(&self, start: usize, len: usize, c: usize) -> Rows<'a, T> {
        match *self {
            Rows::Index(lab) => Rows::Index(&lab[start..start + len]),
            Rows::Prob(t) => Rows::Prob(&t[start * c..(start + len) * c]),
        }
    }
}

/// The gradient coefficient of each row: one value for all rows (mean/sum) or one per row.
#[derive(Clone, Copy)]
pub(crate) enum Coef<'a, T> {
    All(T),
    Each(&'a [T]),
}

impl<T: Copy> Coef<'_, T> {
    #[inline(always)]
    pub(crate) fn at(&self, r: usize) -> T {
        match self {
            Coef::All(v) => *v,
            Coef::Each(g) => g[r],
        }
    }

    /// The coefficients of rows `start..start + len`.
    pub(crate) fn slice(&self, start: usize, len: usize) -> Self {
        match self {
            Coef::All(v) => Coef::All(*v),
            Coef::Each(g) => Coef::Each(&g[start..start + len]),
        }
    }
}

/// What one cross-entropy call needs to know about every row.
#[derive(Clone, Copy)]
pub(crate) struct Plan<'a, T> {
    pub(crate) classes: usize,
    pub(crate) weight: Option<&'a [T]>,
    /// Sum of the class weights (`C` without weights).
    pub(crate) weight_sum: T,
    /// `1 - label_smoothing`.
    pub(crate) keep: T,
    /// `label_smoothing / C`.
    pub(crate) spread: T,
    pub(crate) smoothing: bool,
    pub(crate) ignore: i64,
    /// Write the gradient with streaming stores (it is too large to stay in cache).
    pub(crate) stream: bool,
    /// The row after the block being computed (empty for the last), loaded into cache ahead
    /// of time by the wide-row kernel.
    pub(crate) after: &'a [T],
}

impl<T: Real> Plan<'_, T> {
    #[inline(always)]
    pub(crate) fn w(&self, c: usize) -> T {
        match self.weight {
            Some(w) => w[c],
            None => T::one(),
        }
    }
}

/// A result of `n` elements written by `fill` into memory that is not cleared first: large
/// results usually land in a reused block (see [`crate::runtime::reuse`]), and clearing it would cost a
/// pass over memory. Returns the result and what `fill` returns.
///
/// # Safety
/// `fill` must write every element before reading it.
pub(crate) unsafe fn filled<T: Real, R>(
    n: usize,
    fill: impl FnOnce(&mut [T]) -> R,
) -> Result<(Vec<T>, R)> {
    let mut v: Vec<T> = buf::with_capacity(n)?;
    // SAFETY: the capacity holds `n` elements, any bit pattern is a valid float, and `fill`
    // writes every element before reading it.
    let r = fill(unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr(), n) });
    // SAFETY: all `n` elements are written.
    unsafe { v.set_len(n) };
    Ok((v, r))
}

/// Runs `f(block, grad_block, loss_block)` over consecutive blocks (`grad` has `gb` elements
/// per block, `loss` `lb`) and returns what each block returns, in block order. Parallel when
/// `par`; the order of the results never depends on the thread count.
pub(crate) fn map_blocks<T: Real, F>(
    blocks: usize,
    par: bool,
    (gb, lb): (usize, usize),
    grad: Option<&mut [T]>,
    loss: Option<&mut [T]>,
    f: F,
) -> Vec<f64>
where
    F: Fn(usize, Option<&mut [T]>, Option<&mut [T]>) -> f64 + Sync + Send,
{
    match (grad, loss) {
        (Some(g), Some(l)) if par => team::map(
            g.chunks_mut(gb).zip(l.chunks_mut(lb)).enumerate().collect(),
            |(b, (g, l))| f(b, Some(g), Some(l)),
        ),
        (Some(g), Some(l)) => g
            .chunks_mut(gb)
            .zip(l.chunks_mut(lb))
            .enumerate()
            .map(|(b, (g, l))| f(b, Some(g), Some(l)))
            .collect(),
        (Some(g), None) if par => team::map(g.chunks_mut(gb).enumerate().collect(), |(b, g)| {
            f(b, Some(g), None)
        }),
        (Some(g), None) => g
            .chunks_mut(gb)
            .enumerate()
            .map(|(b, g)| f(b, Some(g), None))
            .collect(),
        (None, Some(l)) if par => team::map(l.chunks_mut(lb).enumerate().collect(), |(b, l)| {
            f(b, None, Some(l))
        }),
        (None, Some(l)) => l
            .chunks_mut(lb)
            .enumerate()
            .map(|(b, l)| f(b, None, Some(l)))
            .collect(),
        (None, None) if par => team::map((0..blocks).collect(), |b| f(b, None, None)),
        (None, None) => (0..blocks).map(|b| f(b, None, None)).collect(),
    }
}

/// The loss and its shape from the row losses (`None`) or their total (mean/sum).
pub(crate) fn finish_loss<T: Real>(
    r: Reduction,
    per: Vec<T>,
    total: f64,
    denom: T,
    row_shape: &[usize],
) -> (Vec<T>, Vec<usize>) {
    match r {
        Reduction::None => (per, row_shape.to_vec()),
        Reduction::Sum => (vec![T::from_f64(total).unwrap_or_else(T::nan)], vec![]),
        _ => {
            let d = denom.to_f64().unwrap_or(f64::NAN);
            (vec![T::from_f64(total / d).unwrap_or_else(T::nan)], vec![])
        }
    }
}
