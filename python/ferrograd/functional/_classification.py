"""The classification part of :mod:`ferrograd.functional`: cross-entropy, negative
log-likelihood and binary cross-entropy, with the names, arguments and semantics of
``torch.nn.functional``.

``input`` of :func:`cross_entropy` and :func:`nll_loss` has shape ``(C,)``, ``(N, C)`` or
``(N, C, d1, ..., dk)`` (the class axis is axis 1, or 0 when unbatched); class-index targets have
the input's shape without the class axis and any integer dtype, class-probability targets (for
:func:`cross_entropy`) are floats of the input's shape. ``reduction`` is ``'mean'`` (the
default), ``'sum'`` or ``'none'``; mean and sum give a 0-d array. Every ``<name>_backward(
grad_output, input, target, ...)`` returns the gradient with respect to ``input``, with
``grad_output`` a scalar for mean/sum and an array of the unreduced loss's shape for none.
Everything runs in Rust: log-softmax and the likelihood are fused into one pass over each row.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> logits = np.log(np.array([[0.228, 0.619, 0.153]]))
>>> round(float(F.cross_entropy(logits, np.array([1]))), 4)
0.4797
>>> F.cross_entropy_backward(1.0, logits, np.array([1])).round(3).tolist()
[[0.228, -0.381, 0.153]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from .._arrays import as_array, as_int64, cast, prepare
from ..exceptions import DTypeError

ArrayLike = Any

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "cross_entropy_with_grad",
    "nll_loss",
    "nll_loss_backward",
]


def _input(func: str, input: ArrayLike) -> np.ndarray:
    """``input`` as a float32 or float64 array (integers become float64, as ``np.exp`` does)."""
    (x,) = prepare(func, np.exp, input=input)
    return x


def _float_arg(func: str, name: str, value: ArrayLike, dtype: np.dtype[Any]) -> np.ndarray:
    arr = np.asarray(as_array(func, name, value))
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"{func}: {name} must hold real numbers, got dtype {arr.dtype}")
    return cast(arr, dtype)


def _optional(func: str, name: str, value: ArrayLike | None, dtype: np.dtype[Any]) -> Any:
    return None if value is None else _float_arg(func, name, value, dtype)


def _labels(func: str, target: ArrayLike) -> np.ndarray:
    """Class indices as an int64 array; non-integer dtypes are a DTypeError."""
    return as_int64(func, "target", target, "integer class indices")


def _class_target(func: str, target: ArrayLike, dtype: np.dtype[Any]) -> np.ndarray:
    """Class indices (int64) or class probabilities (cast to ``dtype``)."""
    t = np.asarray(as_array(func, "target", target))
    if t.dtype.kind == "f":
        return cast(t, dtype)
    if t.dtype.kind in "iu":
        return as_int64(func, "target", t)
    raise DTypeError(
        f"{func}: target must hold integer class indices or float class probabilities, "
        f"got dtype {t.dtype}"
    )


def _grad(func: str, grad_output: ArrayLike, dtype: np.dtype[Any]) -> np.ndarray:
    return _float_arg(func, "grad_output", grad_output, dtype)


# --------------------------------------------------------------------------- cross_entropy


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    """Cross-entropy between logits and targets, as ``torch.nn.functional.cross_entropy``.

    Log-softmax over the class axis and the negative log-likelihood are fused in one pass.

    Parameters
    ----------
    input : array_like
        Unnormalised scores (logits) of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``;
        float32 or float64 (integers become float64). The result has its dtype.
    target : array_like
        Class indices of any integer dtype with shape ``()``, ``(N,)`` or ``(N, d1, ..., dk)``,
        each in ``[0, C)`` or equal to ``ignore_index``; or class probabilities (floats) of the
        input's shape.
    weight : array_like, optional
        Non-negative weight of each class, shape ``(C,)``.
    ignore_index : int
        Class-index targets equal to it contribute neither loss nor gradient, and are left out
        of the mean's divisor. Not supported (must be negative) with probability targets.
    reduction : {'mean', 'sum', 'none'}
        For class indices the mean divides by the summed weights of the targets that are not
        ignored (their count without weights); for probabilities by ``N * d1 * ... * dk``.
    label_smoothing : float
        In ``[0, 1]``: the target becomes ``(1 - label_smoothing)`` times itself plus
        ``label_smoothing / C`` on every class.

    Returns
    -------
    ndarray
        0-d for mean and sum, shape ``()``, ``(N,)`` or ``(N, d1, ..., dk)`` for none.

    Raises
    ------
    ValueError
        A label outside ``[0, C)`` (naming the first and its index), a negative weight, or a
        label smoothing outside ``[0, 1]``.
    ShapeError
        A target or weight whose shape does not fit the input.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> x = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> F.cross_entropy(x, np.array([0, 2]), reduction="none").round(4).tolist()
    [0.2395, 1.0986]
    >>> F.cross_entropy(x, np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])).round(4).tolist()
    0.6691
    """
    func = "cross_entropy"
    x = _input(func, input)
    return _core.cross_entropy(
        x,
        _class_target(func, target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.int64(func, "ignore_index", ignore_index),
        _check.reduction(func, reduction),
        _check.number(func, "label_smoothing", label_smoothing),
    )


def cross_entropy_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to ``input``.

    Without weights or smoothing, each row's gradient is ``softmax(row) - onehot(label)``
    times the row's share of ``grad_output``.

    Parameters
    ----------
    grad_output : array_like
        Gradient of the loss: a scalar for mean and sum, the loss's shape for none.
    input, target, weight, ignore_index, reduction, label_smoothing
        As for :func:`cross_entropy`.

    Returns
    -------
    ndarray
        Of ``input``'s shape and dtype; ignored rows are zero.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.cross_entropy_backward(1.0, np.zeros((1, 2)), np.array([0]), reduction="sum").tolist()
    [[-0.5, 0.5]]
    """
    func = "cross_entropy_backward"
    x = _input(func, input)
    return _core.cross_entropy_backward(
        _grad(func, grad_output, x.dtype),
        x,
        _class_target(func, target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.int64(func, "ignore_index", ignore_index),
        _check.reduction(func, reduction),
        _check.number(func, "label_smoothing", label_smoothing),
    )


def _loss_shape(x: np.ndarray) -> tuple[int, ...]:
    return () if x.ndim <= 1 else (x.shape[0], *x.shape[2:])


def cross_entropy_with_grad(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    grad_output: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cross_entropy` and :func:`cross_entropy_backward` in one pass over ``input``.

    Reads the input once and computes each exponential once, so a training step that needs
    both the loss and its gradient saves a full pass over the logits.

    Parameters
    ----------
    input, target, weight, ignore_index, reduction, label_smoothing
        As for :func:`cross_entropy`.
    grad_output : array_like, optional
        Gradient of the loss (a scalar for mean and sum, the loss's shape for none); ones by
        default.

    Returns
    -------
    (ndarray, ndarray)
        The loss, as :func:`cross_entropy` returns it, and its gradient with respect to
        ``input``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> loss, grad = F.cross_entropy_with_grad(np.zeros((1, 2)), np.array([0]))
    >>> round(float(loss), 4), grad.tolist()
    (0.6931, [[-0.5, 0.5]])
    """
    func = "cross_entropy_with_grad"
    x = _input(func, input)
    red = _check.reduction(func, reduction)
    if grad_output is None:
        g = np.ones(_loss_shape(x) if red == "none" else (), dtype=x.dtype)
    else:
        g = _grad(func, grad_output, x.dtype)
    loss, grad = _core.cross_entropy_with_grad(
        g,
        x,
        _class_target(func, target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.int64(func, "ignore_index", ignore_index),
        red,
        _check.number(func, "label_smoothing", label_smoothing),
    )
    return loss, grad


# --------------------------------------------------------------------------- nll_loss


def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> np.ndarray:
    """Negative log-likelihood of log-probabilities, as ``torch.nn.functional.nll_loss``.

    The loss of a row is ``-weight[y] * input[y]`` for its label ``y`` (0 when ``y`` is
    ``ignore_index``).

    Parameters
    ----------
    input : array_like
        Log-probabilities of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    target : array_like
        Class indices of any integer dtype, shape ``()``, ``(N,)`` or ``(N, d1, ..., dk)``.
    weight : array_like, optional
        Non-negative weight of each class, shape ``(C,)``.
    ignore_index : int
        Label that contributes neither loss nor gradient.
    reduction : {'mean', 'sum', 'none'}
        The mean divides by the summed weights of the targets that are not ignored.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> logp = np.log(np.array([[0.228, 0.619, 0.153]]))
    >>> round(float(F.nll_loss(logp, np.array([1]))), 4)
    0.4797
    """
    func = "nll_loss"
    x = _input(func, input)
    return _core.nll_loss(
        x,
        _labels(func, target),
        _optional(func, "weight", weight, x.dtype),
        _check.int64(func, "ignore_index", ignore_index),
        _check.reduction(func, reduction),
    )


def nll_loss_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> np.ndarray:
    """Gradient of :func:`nll_loss` with respect to ``input``: ``-weight[y]`` times the row's
    share of ``grad_output`` at each row's label, 0 elsewhere.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.nll_loss_backward(1.0, np.zeros((2, 2)), np.array([1, 0])).tolist()
    [[0.0, -0.5], [-0.5, 0.0]]
    """
    func = "nll_loss_backward"
    x = _input(func, input)
    return _core.nll_loss_backward(
        _grad(func, grad_output, x.dtype),
        x,
        _labels(func, target),
        _optional(func, "weight", weight, x.dtype),
        _check.int64(func, "ignore_index", ignore_index),
        _check.reduction(func, reduction),
    )


# --------------------------------------------------------------------------- binary


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``.

    The loss of each element is ``-weight * (t * log(x) + (1 - t) * log(1 - x))`` with each
    log clamped at -100, so ``x`` of exactly 0 or 1 gives a finite loss.

    Parameters
    ----------
    input : array_like
        Probabilities in ``[0, 1]``.
    target : array_like
        Targets in ``[0, 1]`` of the input's shape.
    weight : array_like, optional
        Non-negative weights broadcast to the input's shape.
    reduction : {'mean', 'sum', 'none'}
        The mean divides by the number of elements.

    Raises
    ------
    ValueError
        An input or target value outside ``[0, 1]``, naming the first and its index.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> round(float(F.binary_cross_entropy(np.array([0.8, 0.1]), np.array([1.0, 0.0]))), 4)
    0.1643
    """
    func = "binary_cross_entropy"
    x = _input(func, input)
    return _core.binary_cross_entropy(
        x,
        _float_arg(func, "target", target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.reduction(func, reduction),
    )


def binary_cross_entropy_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy` with respect to ``input``:
    ``grad * weight * (x - t) / max(x * (1 - x), 1e-12)``, PyTorch's guarded form.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.binary_cross_entropy_backward(1.0, np.array([0.5]), np.array([1.0])).tolist()
    [-2.0]
    """
    func = "binary_cross_entropy_backward"
    x = _input(func, input)
    return _core.binary_cross_entropy_backward(
        _grad(func, grad_output, x.dtype),
        x,
        _float_arg(func, "target", target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.reduction(func, reduction),
    )


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> np.ndarray:
    """Binary cross-entropy of logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``.

    Computes ``weight * ((1 - t) * x - (1 + (pos_weight - 1) * t) * log(sigmoid(x)))`` in the
    stable log-sum-exp form, finite for any finite ``x``.

    Parameters
    ----------
    input : array_like
        Logits.
    target : array_like
        Targets (usually in ``[0, 1]``) of the input's shape.
    weight : array_like, optional
        Non-negative weights broadcast to the input's shape.
    reduction : {'mean', 'sum', 'none'}
        The mean divides by the number of elements.
    pos_weight : array_like, optional
        Non-negative weight of the positive term, broadcast to the input's shape: shape
        ``(C,)`` weighs the positives of each class (the last axis).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> round(float(F.binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0]))), 4)
    0.6931
    """
    func = "binary_cross_entropy_with_logits"
    x = _input(func, input)
    return _core.binary_cross_entropy_with_logits(
        x,
        _float_arg(func, "target", target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.reduction(func, reduction),
        _optional(func, "pos_weight", pos_weight, x.dtype),
    )


def binary_cross_entropy_with_logits_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` with respect to ``input``:
    ``grad * weight * ((pos_weight * t + 1 - t) * sigmoid(x) - pos_weight * t)``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.binary_cross_entropy_with_logits_backward(1.0, np.array([0.0]), np.array([1.0])).tolist()
    [-0.5]
    """
    func = "binary_cross_entropy_with_logits_backward"
    x = _input(func, input)
    return _core.binary_cross_entropy_with_logits_backward(
        _grad(func, grad_output, x.dtype),
        x,
        _float_arg(func, "target", target, x.dtype),
        _optional(func, "weight", weight, x.dtype),
        _check.reduction(func, reduction),
        _optional(func, "pos_weight", pos_weight, x.dtype),
    )
