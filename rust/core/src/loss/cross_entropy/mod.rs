//! `cross_entropy` (log-softmax and negative log-likelihood fused, class-index or
//! class-probability targets, class weights, `ignore_index`, label smoothing): checks, the
//! choice of strategy per block of rows, and the reductions.

mod narrow;
mod wide;

use crate::buf;
use crate::error::Result;
use crate::loss::class_input::*;
use crate::loss::fastmath::*;
use crate::loss::simd::exp512;
use crate::loss::Reduction;
use crate::real::Real;
use crate::runtime::parallel::{worth_parallel, PAR_CHUNK};
use crate::runtime::stream::{fence, STREAM_MIN_BYTES};
use crate::shape::fmt_shape;
use crate::{shape_err, value_err};
use narrow::*;
use wide::*;

/// Cross-entropy of one batch element of a spatial input: `x` is `(C, inner)` with one
/// position per column, so [`ce_cols`] reads and writes it in place, `TP` columns at a time.
#[inline(always)]
pub(crate) fn ce_spatial<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    mut grad: Option<&mut [T]>,
    loss: &mut [T],
    coef: Option<Coef<'_, T>>,
) {
    let inner = loss.len();
    let mut j0 = 0;
    while j0 < inner {
        let n = TP.min(inner - j0);
        let cols = match tgt {
            Rows::Index(lab) => Cols::Index(&lab[j0..j0 + n]),
            Rows::Prob(t) => Cols::Prob(&t[j0..], inner),
        };
        let g = grad.as_deref_mut().map(|g| (&mut g[j0..], inner));
        let cf = coef.map(|cf| cf.slice(j0, n));
        ce_cols::<T, FMA>(
            p,
            &x[j0..],
            inner,
            n,
            cols,
            g,
            Some(&mut loss[j0..j0 + n]),
            cf,
        );
        j0 += n;
    }
}

/// One block of cross-entropy work: consecutive rows (`inner == 1`) or one batch element of a
/// spatial input (`inner > 1`, `loss` given).
#[inline(always)]
pub(crate) fn ce_block<T: FastMath, const FMA: bool>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    inner: usize,
    grad: Option<&mut [T]>,
    loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    if inner > 1 {
        if let Some(l) = loss {
            ce_spatial::<T, FMA>(p, x, tgt, grad, l, coef);
        }
    } else if p.classes >= WIDE {
        match (grad, coef) {
            (Some(g), Some(cf)) if p.stream => {
                ce_rows_wide_streaming::<T, FMA>(p, x, tgt, g, loss, cf)
            }
            (g, cf) => ce_rows_wide::<T, FMA>(p, x, tgt, g, loss, cf),
        }
    } else {
        ce_rows_narrow::<T, FMA>(p, x, tgt, grad, loss, coef);
    }
}

/// Defines `$name`: [`ce_block`] (FMA build) compiled for the CPU features `$features`.
macro_rules! ce_block_for {
    ($(#[$doc:meta])* $name:ident, $features:literal) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name<T: FastMath>(
            p: &Plan<'_, T>,
            x: &[T],
            tgt: Rows<'_, T>,
            inner: usize,
            grad: Option<&mut [T]>,
            loss: Option<&mut [T]>,
            coef: Option<Coef<'_, T>>,
        ) {
            ce_block::<T, true>(p, x, tgt, inner, grad, loss, coef)
        }
    };
}

ce_block_for!(
    /// [`ce_block`] compiled for AVX2 and FMA when the CPU has them (8 f32 lanes instead of 4,
    /// fused multiply-adds in the polynomials).
    ce_block_avx2,
    "avx2,fma"
);
ce_block_for!(
    /// [`ce_block`] compiled for AVX-512 (16 f32 lanes).
    ce_block_avx512,
    "avx512f,avx512dq,avx512vl,avx2,fma"
);

/// Runs [`ce_block`] with the best instruction set available, then a fence when the gradient
/// was streamed, so the block's writes are complete before the team reports it done.
pub(crate) fn ce_block_dispatch<T: FastMath>(
    p: &Plan<'_, T>,
    x: &[T],
    tgt: Rows<'_, T>,
    inner: usize,
    grad: Option<&mut [T]>,
    loss: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) {
    #[cfg(target_arch = "x86_64")]
    if exp512::available() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { ce_block_avx512(p, x, tgt, inner, grad, loss, coef) };
    } else if avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { ce_block_avx2(p, x, tgt, inner, grad, loss, coef) };
    } else {
        ce_block::<T, false>(p, x, tgt, inner, grad, loss, coef);
    }
    #[cfg(not(target_arch = "x86_64"))]
    ce_block::<T, false>(p, x, tgt, inner, grad, loss, coef);
    if p.stream {
        fence();
    }
}

/// Everything `cross_entropy` and its gradient share: checked arguments and the plan.
pub(crate) struct Prepared<'a, T> {
    lay: ClassLayout,
    plan: Plan<'a, T>,
    target: Rows<'a, T>,
    /// Divisor of the mean.
    denom: T,
}

pub(crate) fn prepare_ce<'a, T: Real>(
    func: &str,
    input: &View<'a, T>,
    target: &ClassTarget<'a, T>,
    o: &ClassOptions<'a, T>,
) -> Result<Prepared<'a, T>> {
    let lay = ClassLayout::new(func, input.shape)?;
    let c = lay.classes;
    check_class_weight(func, o.weight, c)?;
    let eps = o.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return value_err!("{func}: label_smoothing must be between 0.0 and 1.0, got {eps}");
    }
    let (rows, denom) = match target {
        ClassTarget::Index(t) => {
            check_index_target(func, t, input.shape, &lay)?;
            let wsum = scan_labels(func, t, c, o.ignore_index, o.weight)?;
            (Rows::Index(t.data), wsum)
        }
        ClassTarget::Prob(t) => {
            if t.shape != input.shape || t.data.len() != input.data.len() {
                return shape_err!(
                    "{func}: class-probability target has shape {}, but input has shape {}; \
                     they must be equal (class-index targets need an integer dtype)",
                    fmt_shape(t.shape),
                    fmt_shape(input.shape)
                );
            }
            if o.ignore_index >= 0 {
                return value_err!(
                    "{func}: ignore_index ({}) is not supported for class-probability targets",
                    o.ignore_index
                );
            }
            (Rows::Prob(t.data), T::from_usize_(lay.rows()))
        }
    };
    let weight_sum = match o.weight {
        Some(w) => w.iter().fold(T::zero(), |a, &v| a + v),
        None => T::from_usize_(c),
    };
    let eps_t = T::c(eps);
    let spread = if c == 0 {
        T::zero()
    } else {
        eps_t / T::from_usize_(c)
    };
    let plan = Plan {
        classes: c,
        weight: o.weight,
        weight_sum,
        keep: T::one() - eps_t,
        spread,
        smoothing: eps > 0.0,
        ignore: o.ignore_index,
        stream: false,
        after: &[],
    };
    Ok(Prepared {
        lay,
        plan,
        target: rows,
        denom,
    })
}

/// Computes the gradient (into `grad`, with `coef`) and the losses of every row: into `loss`
/// when given, and returns their sum when `total` (else 0).
pub(crate) fn ce_run<T: FastMath>(
    pr: &Prepared<'_, T>,
    x: &[T],
    loss: Option<&mut [T]>,
    total: bool,
    grad: Option<&mut [T]>,
    coef: Option<Coef<'_, T>>,
) -> f64 {
    let (c, inner, rows) = (pr.plan.classes, pr.lay.inner, pr.lay.rows());
    if c == 0 || rows == 0 {
        // No classes: every loss is an empty sum (0) and there is no gradient to write.
        if let Some(l) = loss {
            l.fill(T::zero());
        }
        return 0.0;
    }
    let plan = Plan {
        stream: inner == 1
            && grad
                .as_ref()
                .is_some_and(|g| std::mem::size_of_val(*g) >= STREAM_MIN_BYTES),
        ..pr.plan
    };
    let p = &plan;
    let par = worth_parallel(x.len());
    let want_loss = loss.is_some() || total;
    // Contiguous rows: blocks of about PAR_CHUNK elements. Spatial: one batch element each.
    // Wide rows go several to a block (when there are enough for every thread to get some),
    // so the streaming kernel can overlap one row's stores with the next row's arithmetic.
    // Narrow rows go in whole tiles of 16 (see `narrow512`), so that every block but the last
    // is all tiles and each tile's gradient starts on a cache line when the result does.
    let (rows_per, spatial) = if inner == 1 && c < WIDE {
        ((PAR_CHUNK / c).next_multiple_of(16), false)
    } else if inner == 1 {
        ((PAR_CHUNK / c).max((rows / 16).clamp(1, 8)), false)
    } else {
        (inner, true)
    };
    let blocks = rows.div_ceil(rows_per);
    let partial = map_blocks(
        blocks,
        par,
        (rows_per * c, rows_per),
        grad,
        loss,
        |b, g, l| {
            let r0 = b * rows_per;
            let nr = rows_per.min(rows - r0);
            let xs = &x[r0 * c..(r0 + nr) * c];
            let p = &Plan {
                after: x.get((r0 + nr) * c..(r0 + nr + 1) * c).unwrap_or(&[]),
                ..*p
            };
            let tgt = pr.target.slice(r0, nr, c);
            let cf = coef.map(|cf| cf.slice(r0, nr));
            let mut local = Vec::new();
            let l = match l {
                Some(l) => Some(l),
                None if want_loss || spatial => {
                    local.resize(nr, T::zero());
                    Some(&mut local[..])
                }
                None => None,
            };
            match l {
                Some(l) => {
                    ce_block_dispatch(p, xs, tgt, inner, g, Some(&mut l[..]), cf);
                    if total {
                        sum_f64(l)
                    } else {
                        0.0
                    }
                }
                None => {
                    ce_block_dispatch(p, xs, tgt, inner, g, None, cf);
                    0.0
                }
            }
        },
    );
    partial.iter().sum()
}

/// `cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)` as
/// PyTorch's `torch.nn.functional.cross_entropy`: log-softmax over the class axis fused with
/// the negative log-likelihood of the target.
///
/// The mean of class-index targets divides by the summed weights of the targets that are not
/// ignored (their count without weights), for the smoothing term too; the mean of
/// probability targets divides by the number of rows `N * d1 * ... * dk`. Returns the loss
/// (one element for mean/sum) and its shape.
pub fn cross_entropy<T: FastMath>(
    input: View<'_, T>,
    target: ClassTarget<'_, T>,
    opts: &ClassOptions<'_, T>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let pr = prepare_ce("cross_entropy", &input, &target, opts)?;
    let r = opts.reduction;
    let mut per = buf::zeros(if r == Reduction::None {
        pr.lay.rows()
    } else {
        0
    })?;
    let rows_out = (r == Reduction::None).then_some(&mut per[..]);
    let total = ce_run(&pr, input.data, rows_out, r != Reduction::None, None, None);
    Ok(finish_loss(r, per, total, pr.denom, &pr.lay.row_shape))
}

pub(crate) fn ce_coef<'a, T: Real>(
    func: &str,
    pr: &Prepared<'_, T>,
    grad_output: &View<'a, T>,
    r: Reduction,
) -> Result<Coef<'a, T>> {
    check_grad(func, r, grad_output, &pr.lay.row_shape)?;
    Ok(match r {
        Reduction::None => Coef::Each(grad_output.data),
        _ => Coef::All(grad_output.data[0] * grad_scale(r, pr.denom)),
    })
}

/// Gradient of [`cross_entropy`] with respect to `input`, given the gradient of the loss
/// (`grad_output`: one element for mean/sum, the loss's shape for none).
pub fn cross_entropy_backward<T: FastMath>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: ClassTarget<'_, T>,
    opts: &ClassOptions<'_, T>,
) -> Result<Vec<T>> {
    let func = "cross_entropy_backward";
    let pr = prepare_ce(func, &input, &target, opts)?;
    let coef = ce_coef(func, &pr, &grad_output, opts.reduction)?;
    // SAFETY: `ce_run` writes the gradient of every row (zeros for ignored ones).
    let (grad, _) = unsafe {
        filled(input.data.len(), |g| {
            ce_run(&pr, input.data, None, false, Some(g), Some(coef))
        })
    }?;
    Ok(grad)
}

/// [`cross_entropy`] and [`cross_entropy_backward`] in one pass over the input: returns the
/// loss, its shape, and the gradient for `grad_output`.
pub fn cross_entropy_with_grad<T: FastMath>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: ClassTarget<'_, T>,
    opts: &ClassOptions<'_, T>,
) -> Result<(Vec<T>, Vec<usize>, Vec<T>)> {
    let func = "cross_entropy_with_grad";
    let pr = prepare_ce(func, &input, &target, opts)?;
    let coef = ce_coef(func, &pr, &grad_output, opts.reduction)?;
    let r = opts.reduction;
    let mut per = buf::zeros(if r == Reduction::None {
        pr.lay.rows()
    } else {
        0
    })?;
    let rows_out = (r == Reduction::None).then_some(&mut per[..]);
    // SAFETY: `ce_run` writes the gradient of every row (zeros for ignored ones).
    let (grad, total) = unsafe {
        filled(input.data.len(), |g| {
            ce_run(
                &pr,
                input.data,
                rows_out,
                r != Reduction::None,
                Some(g),
                Some(coef),
            )
        })
    }?;
    let (loss, shape) = finish_loss(r, per, total, pr.denom, &pr.lay.row_shape);
    Ok((loss, shape, grad))
}
