"""The distribution part of :mod:`ferrograd.functional`: entropy, cross-entropy between
distributions, and KL divergence.

:func:`entropy` and :func:`cross_entropy_dist` treat the slices along ``dim`` as discrete
distributions (used as given, not renormalised; negative entries are a ``ValueError``) and
return one value per distribution, with ``dim`` removed. They use ``0 log 0 = 0``. :func:`kl_div`
follows ``torch.nn.functional.kl_div``: ``input`` holds log-probabilities and the result is
pointwise, then reduced.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> float(F.entropy(np.array([0.5, 0.5]), base=2))
1.0
>>> p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
>>> kl = F.kl_div(np.log(q), p, reduction="sum")
>>> bool(np.isclose(kl, F.cross_entropy_dist(p, q) - F.entropy(p)))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from .._arrays import as_array, cast, prepare
from ..exceptions import DTypeError

ArrayLike = Any

__all__ = [
    "cross_entropy_dist",
    "cross_entropy_dist_backward",
    "entropy",
    "entropy_backward",
    "kl_div",
    "kl_div_backward",
]

_KL_REDUCTIONS = ("none", "mean", "sum", "batchmean")


def _base(func: str, base: Any) -> float | None:
    if base is None:
        return None
    if isinstance(base, np.ndarray) and base.ndim == 0:
        base = base[()]
    if isinstance(base, (bool, np.bool_)) or not isinstance(
        base, (int, float, np.integer, np.floating)
    ):
        raise DTypeError(f"{func}: base must be None or a real number, got {base!r}")
    return float(base)


def _grad(func: str, grad_output: ArrayLike, x: np.ndarray) -> np.ndarray:
    return cast(as_array(func, "grad_output", grad_output), x.dtype)


def entropy(p: ArrayLike, dim: int = -1, base: float | None = None) -> np.ndarray:
    """Shannon entropy ``H(p) = -sum(p * log(p))`` of each distribution along ``dim``.

    Parameters
    ----------
    p : array_like
        Non-negative probabilities; the slices along ``dim`` are the distributions.
    dim : int
        The axis holding each distribution.
    base : float, optional
        Base of the logarithm (2 gives bits); natural logarithm (nats) when None.

    Returns
    -------
    ndarray
        ``p``'s shape without ``dim`` (0-d for a 1-D ``p``).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.entropy(np.array([[1.0, 0.0], [0.5, 0.5]]), base=2).tolist()
    [0.0, 1.0]
    """
    (p_,) = prepare("entropy", np.log, p=p)
    return _core.entropy(p_, _check.dim("entropy", "dim", dim, p_.ndim), _base("entropy", base))


def entropy_backward(
    grad_output: ArrayLike, p: ArrayLike, dim: int = -1, base: float | None = None
) -> np.ndarray:
    """Gradient of :func:`entropy` with respect to ``p``: ``-(log(p) + 1) / log(base)`` times
    the ``grad_output`` of each distribution (``+inf`` where ``p == 0``).

    ``grad_output`` has :func:`entropy`'s result shape.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.entropy_backward(1.0, np.array([1.0, 1.0])).tolist()
    [-1.0, -1.0]
    """
    func = "entropy_backward"
    (p_,) = prepare(func, np.log, p=p)
    return _core.entropy_backward(
        _grad(func, grad_output, p_), p_, _check.dim(func, "dim", dim, p_.ndim), _base(func, base)
    )


def cross_entropy_dist(
    p: ArrayLike, q: ArrayLike, dim: int = -1, base: float | None = None
) -> np.ndarray:
    """Cross-entropy ``H(p, q) = -sum(p * log(q))`` between distributions along ``dim``.

    Terms with ``p == 0`` are 0; the result is ``inf`` where ``q == 0 < p``.

    Parameters
    ----------
    p, q : array_like
        Non-negative probabilities of the same shape.
    dim : int
        The axis holding each distribution.
    base : float, optional
        Base of the logarithm; natural logarithm when None.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> float(F.cross_entropy_dist(np.array([1.0, 0.0]), np.array([0.5, 0.5]), base=2))
    1.0
    """
    func = "cross_entropy_dist"
    p_, q_ = prepare(func, np.true_divide, p=p, q=q)
    return _core.cross_entropy_dist(
        p_, q_, _check.dim(func, "dim", dim, p_.ndim), _base(func, base)
    )


def cross_entropy_dist_backward(
    grad_output: ArrayLike,
    p: ArrayLike,
    q: ArrayLike,
    dim: int = -1,
    base: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`cross_entropy_dist`: ``(-log(q), -p / q) / log(base)`` times the
    ``grad_output`` of each distribution (the ``q`` gradient is 0 where ``p == 0``).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> gp, gq = F.cross_entropy_dist_backward(1.0, np.array([0.5, 0.5]), np.array([1.0, 0.5]))
    >>> gq.tolist()
    [-0.5, -1.0]
    """
    func = "cross_entropy_dist_backward"
    p_, q_ = prepare(func, np.true_divide, p=p, q=q)
    g = _grad(func, grad_output, p_)
    gp, gq = _core.cross_entropy_dist_backward(
        g, p_, q_, _check.dim(func, "dim", dim, p_.ndim), _base(func, base)
    )
    return gp, gq


def kl_div(
    input: ArrayLike, target: ArrayLike, reduction: str = "mean", log_target: bool = False
) -> np.ndarray:
    """Kullback-Leibler divergence as ``torch.nn.functional.kl_div``.

    Pointwise ``target * (log(target) - input)``, 0 where ``target == 0`` (or, with
    ``log_target``, ``exp(target) * (target - input)``), then reduced. With ``input = log(q)``
    and ``target = p``, the ``'sum'`` of one distribution is ``KL(p || q)``.

    Parameters
    ----------
    input : array_like
        Log-probabilities.
    target : array_like
        Probabilities (log-probabilities when ``log_target``), of ``input``'s shape.
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        ``'mean'`` divides the sum by the number of elements, ``'batchmean'`` by
        ``input.shape[0]`` (the mathematical KL per sample).
    log_target : bool
        Whether ``target`` holds log-probabilities.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> p = np.array([[0.5, 0.5]])
    >>> float(F.kl_div(np.log(p), p, reduction="batchmean"))
    0.0
    """
    func = "kl_div"
    x, t = prepare(func, np.true_divide, input=input, target=target)
    return _core.kl_div(
        x,
        t,
        _check.reduction(func, reduction, _KL_REDUCTIONS),
        _check.flag(func, "log_target", log_target),
    )


def kl_div_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    log_target: bool = False,
) -> np.ndarray:
    """Gradient of :func:`kl_div` with respect to ``input``: ``-target`` (``-exp(target)``
    with ``log_target``) times ``grad_output`` and the reduction's factor.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.kl_div_backward(1.0, np.zeros((2, 2)), np.full((2, 2), 0.5), "batchmean").tolist()
    [[-0.25, -0.25], [-0.25, -0.25]]
    """
    func = "kl_div_backward"
    x, t = prepare(func, np.true_divide, input=input, target=target)
    g = _grad(func, grad_output, x)
    return _core.kl_div_backward(
        g,
        x,
        t,
        _check.reduction(func, reduction, _KL_REDUCTIONS),
        _check.flag(func, "log_target", log_target),
    )
