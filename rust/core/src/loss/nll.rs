//! `nll_loss` and its gradient (PyTorch's semantics).

use crate::buf;
use crate::error::Result;
use crate::loss::class_input::*;
use crate::loss::Reduction;
use crate::real::Real;
use crate::runtime::parallel::{worth_parallel, PAR_CHUNK};

pub(crate) fn prepare_nll<T: Real>(
    func: &str,
    input: &View<'_, T>,
    target: &View<'_, i64>,
    o: &ClassOptions<'_, T>,
) -> Result<(ClassLayout, T)> {
    let lay = ClassLayout::new(func, input.shape)?;
    check_class_weight(func, o.weight, lay.classes)?;
    check_index_target(func, target, input.shape, &lay)?;
    let denom = scan_labels(func, target, lay.classes, o.ignore_index, o.weight)?;
    Ok((lay, denom))
}

/// `nll_loss(input, target, weight, ignore_index, reduction)` as PyTorch's: `input` holds
/// log-probabilities, the loss of a row is `-weight[y] * input[y]` (0 when ignored), and the
/// mean divides by the summed weights of the targets that are not ignored.
pub fn nll_loss<T: Real>(
    input: View<'_, T>,
    target: View<'_, i64>,
    opts: &ClassOptions<'_, T>,
) -> Result<(Vec<T>, Vec<usize>)> {
    let (lay, denom) = prepare_nll("nll_loss", &input, &target, opts)?;
    let (c, inner) = (lay.classes, lay.inner);
    let x = input.data;
    let lab = target.data;
    let mut per = buf::zeros(lay.rows())?;
    let ignore = opts.ignore_index;
    let w = |y: usize| opts.weight.map_or(T::one(), |w| w[y]);
    crate::runtime::parallel::fill_indexed(&mut per, |r| {
        let y = lab[r];
        if y == ignore {
            return T::zero();
        }
        let y = y as usize;
        let (n, i) = (r / inner, r % inner);
        -(w(y) * x[(n * c + y) * inner + i])
    });
    let shape = if opts.reduction == Reduction::None {
        lay.row_shape.clone()
    } else {
        vec![]
    };
    Ok((reduce_rows(opts.reduction, per, denom), shape))
}

/// Gradient of [`nll_loss`] with respect to `input`: `-a * weight[y]` at each row's label
/// (`a` the row's share of `grad_output`), 0 elsewhere and in ignored rows.
pub fn nll_loss_backward<T: Real>(
    grad_output: View<'_, T>,
    input: View<'_, T>,
    target: View<'_, i64>,
    opts: &ClassOptions<'_, T>,
) -> Result<Vec<T>> {
    let func = "nll_loss_backward";
    let (lay, denom) = prepare_nll(func, &input, &target, opts)?;
    check_grad(func, opts.reduction, &grad_output, &lay.row_shape)?;
    let coef = match opts.reduction {
        Reduction::None => Coef::Each(grad_output.data),
        r => Coef::All(grad_output.data[0] * grad_scale(r, denom)),
    };
    let (c, inner) = (lay.classes, lay.inner);
    let mut grad = buf::zeros(input.data.len())?;
    if grad.is_empty() {
        return Ok(grad);
    }
    let lab = target.data;
    let ignore = opts.ignore_index;
    let w = |y: usize| opts.weight.map_or(T::one(), |w| w[y]);
    // Blocks of whole batch elements (several per block when they are small).
    let per_n = c * inner;
    let n_per = (PAR_CHUNK / per_n).max(1);
    let blocks = lay.batch.div_ceil(n_per);
    let par = worth_parallel(grad.len());
    map_blocks(
        blocks,
        par,
        (n_per * per_n, 0),
        Some(&mut grad),
        None,
        |b, g, _| {
            let g = g.unwrap_or_default();
            for (dn, gb) in g.chunks_mut(per_n).enumerate() {
                let n = b * n_per + dn;
                for i in 0..inner {
                    let r = n * inner + i;
                    let y = lab[r];
                    if y != ignore {
                        let y = y as usize;
                        gb[y * inner + i] = -(coef.at(r) * w(y));
                    }
                }
            }
            0.0
        },
    );
    Ok(grad)
}
