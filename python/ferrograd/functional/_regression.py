"""The regression part of :mod:`ferrograd.functional`: pointwise losses on
``d = input - target``.

``input`` and ``target`` must have the same shape (a :class:`~ferrograd.ShapeError` names both
otherwise). ``reduction`` is ``'mean'`` (the default), ``'sum'`` or ``'none'``; mean and sum give
a 0-d array, none an array of ``input``'s shape. Each ``<name>_backward(grad_output, input,
target, ...)`` returns the gradient with respect to ``input``; ``grad_output`` is a scalar for
mean/sum and an array of ``input``'s shape for none.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> x, y = np.array([1.0, 3.0]), np.array([0.0, 0.0])
>>> float(F.mse_loss(x, y))
5.0
>>> F.mse_loss_backward(1.0, x, y).tolist()
[1.0, 3.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from .._arrays import as_array, cast, prepare

ArrayLike = Any

__all__ = [
    "huber_loss",
    "huber_loss_backward",
    "l1_loss",
    "l1_loss_backward",
    "mse_loss",
    "mse_loss_backward",
    "smooth_l1_loss",
    "smooth_l1_loss_backward",
]


def _pair(func: str, input: ArrayLike, target: ArrayLike) -> list[np.ndarray]:
    return prepare(func, np.true_divide, input=input, target=target)


def _grad(func: str, grad_output: ArrayLike, x: np.ndarray) -> np.ndarray:
    return cast(as_array(func, "grad_output", grad_output), x.dtype)


def mse_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """Mean squared error: ``(input - target)**2``, reduced.

    Parameters
    ----------
    input, target : array_like
        Arrays of the same shape; integers promote as NumPy's division would.
    reduction : {'mean', 'sum', 'none'}
        How the per-element losses are combined.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> float(F.mse_loss(np.array([1.0, 2.0]), np.array([1.0, 0.0]), reduction="sum"))
    4.0
    """
    x, t = _pair("mse_loss", input, target)
    return _core.mse_loss(x, t, _check.reduction("mse_loss", reduction))


def mse_loss_backward(
    grad_output: ArrayLike, input: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> np.ndarray:
    """Gradient of :func:`mse_loss` with respect to ``input``: ``2 (input - target)`` times
    ``grad_output`` (divided by the element count for ``'mean'``).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.mse_loss_backward(1.0, np.array([1.0, 2.0]), np.zeros(2), "sum").tolist()
    [2.0, 4.0]
    """
    func = "mse_loss_backward"
    x, t = _pair(func, input, target)
    return _core.mse_loss_backward(
        _grad(func, grad_output, x), x, t, _check.reduction(func, reduction)
    )


def l1_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """Mean absolute error: ``|input - target|``, reduced.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> float(F.l1_loss(np.array([1.0, -3.0]), np.zeros(2)))
    2.0
    """
    x, t = _pair("l1_loss", input, target)
    return _core.l1_loss(x, t, _check.reduction("l1_loss", reduction))


def l1_loss_backward(
    grad_output: ArrayLike, input: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> np.ndarray:
    """Gradient of :func:`l1_loss`: ``sign(input - target)`` times ``grad_output`` (0 where
    ``input == target``).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.l1_loss_backward(1.0, np.array([1.0, 0.0, -2.0]), np.zeros(3), "sum").tolist()
    [1.0, 0.0, -1.0]
    """
    func = "l1_loss_backward"
    x, t = _pair(func, input, target)
    return _core.l1_loss_backward(
        _grad(func, grad_output, x), x, t, _check.reduction(func, reduction)
    )


def huber_loss(
    input: ArrayLike, target: ArrayLike, reduction: str = "mean", delta: float = 1.0
) -> np.ndarray:
    """Huber loss: ``d**2 / 2`` where ``|d| < delta``, ``delta (|d| - delta / 2)`` elsewhere.

    Parameters
    ----------
    input, target : array_like
        Arrays of the same shape.
    reduction : {'mean', 'sum', 'none'}
        How the per-element losses are combined.
    delta : float
        Where the loss turns from quadratic to linear; must be positive.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.huber_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    func = "huber_loss"
    x, t = _pair(func, input, target)
    return _core.huber_loss(
        x, t, _check.reduction(func, reduction), _check.number(func, "delta", delta)
    )


def huber_loss_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
) -> np.ndarray:
    """Gradient of :func:`huber_loss`: ``d`` clipped to ``[-delta, delta]`` times
    ``grad_output``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.huber_loss_backward(1.0, np.array([0.5, 3.0]), np.zeros(2), "sum").tolist()
    [0.5, 1.0]
    """
    func = "huber_loss_backward"
    x, t = _pair(func, input, target)
    g = _grad(func, grad_output, x)
    return _core.huber_loss_backward(
        g, x, t, _check.reduction(func, reduction), _check.number(func, "delta", delta)
    )


def smooth_l1_loss(
    input: ArrayLike, target: ArrayLike, reduction: str = "mean", beta: float = 1.0
) -> np.ndarray:
    """Smooth L1 loss: ``d**2 / (2 beta)`` where ``|d| < beta``, ``|d| - beta / 2`` elsewhere;
    plain L1 when ``beta == 0``.

    Parameters
    ----------
    input, target : array_like
        Arrays of the same shape.
    reduction : {'mean', 'sum', 'none'}
        How the per-element losses are combined.
    beta : float
        Where the loss turns from quadratic to linear; must be non-negative.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.smooth_l1_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    func = "smooth_l1_loss"
    x, t = _pair(func, input, target)
    return _core.smooth_l1_loss(
        x, t, _check.reduction(func, reduction), _check.number(func, "beta", beta)
    )


def smooth_l1_loss_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    beta: float = 1.0,
) -> np.ndarray:
    """Gradient of :func:`smooth_l1_loss`: ``d / beta`` clipped to ``[-1, 1]`` times
    ``grad_output`` (``sign(d)`` when ``beta == 0``).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.smooth_l1_loss_backward(1.0, np.array([0.5, 3.0]), np.zeros(2), "sum").tolist()
    [0.5, 1.0]
    """
    func = "smooth_l1_loss_backward"
    x, t = _pair(func, input, target)
    g = _grad(func, grad_output, x)
    return _core.smooth_l1_loss_backward(
        g, x, t, _check.reduction(func, reduction), _check.number(func, "beta", beta)
    )
