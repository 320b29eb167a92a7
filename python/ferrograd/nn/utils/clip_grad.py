"""Gradient clipping: by global norm and by value, in place, computed in Rust.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> from ferrograd.nn.utils import clip_grad_norm_
>>> w = nn.Parameter(np.zeros(2))
>>> w.grad = np.array([3.0, 4.0])
>>> clip_grad_norm_([w], max_norm=1.0)
5.0
>>> np.round(w.grad, 6).tolist()
[0.6, 0.8]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Union

import numpy as np

from ... import _check, _core
from ...exceptions import ArgumentError, DTypeError, FerrogradError, ShapeError
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

Params = Union[Tensor, Iterable[Tensor]]


def _grads(func: str, parameters: Params) -> list[np.ndarray]:
    """The gradients of the distinct parameters that have one, made contiguous and writeable
    (a copy replaces ``p.grad`` when needed). Every gradient is checked (real numbers of its
    parameter's shape) before any is replaced."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    found: list[tuple[Tensor, np.ndarray]] = []
    seen: set[int] = set()
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise DTypeError(f"{func}: parameters[{i}] must be a Tensor, got {type(p).__name__}")
        if id(p) in seen or p.grad is None:
            continue
        seen.add(id(p))
        g = p.grad
        if not isinstance(g, np.ndarray):
            raise DTypeError(
                f"{func}: the gradient of parameters[{i}] must be a NumPy array, got "
                f"{type(g).__name__}"
            )
        if g.dtype not in (np.float32, np.float64):
            if g.dtype.kind not in "biuf":
                raise DTypeError(
                    f"{func}: the gradient of parameters[{i}] must hold real numbers, got dtype "
                    f"{g.dtype}"
                )
            g = g.astype(p.dtype)
        if g.shape != p.shape:
            raise ShapeError(
                f"{func}: the gradient of parameters[{i}] has shape {g.shape}, but the "
                f"parameter has shape {p.shape}"
            )
        found.append((p, g))
    out: list[np.ndarray] = []
    for p, g in found:
        if not (g.flags.c_contiguous and g.flags.writeable):
            g = np.array(g, order="C", copy=True)
        p.grad = g
        out.append(g)
    return out


def clip_grad_norm_(
    parameters: Params,
    max_norm: float,
    norm_type: Union[float, str] = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scales all gradients together so that their global norm is at most ``max_norm``.

    The norm is taken over every gradient element of every parameter as one vector (in
    float64). When it exceeds ``max_norm`` each gradient is multiplied in place by
    ``max_norm / (total_norm + 1e-6)`` (PyTorch's formula); otherwise the gradients are left
    as they are.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``.grad`` to clip (those without a gradient are ignored).
    max_norm : float
        Largest allowed norm.
    norm_type : float or "inf"
        Order of the norm (default 2; ``inf`` is the largest absolute value).
    error_if_nonfinite : bool
        Raise if the total norm is NaN or infinite instead of scaling by it.

    Returns
    -------
    float
        The global norm of the gradients before clipping.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> w = nn.Parameter(np.zeros(2))
    >>> w.grad = np.array([0.3, 0.4])
    >>> clip_grad_norm_([w], max_norm=1.0)   # below max_norm: unchanged
    0.5
    """
    func = "clip_grad_norm_"
    if isinstance(norm_type, str):
        if norm_type != "inf":
            raise ArgumentError(
                f"{func}: norm_type must be a positive number or 'inf', got {norm_type!r}"
            )
        order = math.inf
    else:
        order = _check.real(func, "norm_type", norm_type, 0.0, low_open=True, finite=False)
    max_norm = _check.real(func, "max_norm", max_norm, finite=False)
    error_if_nonfinite = _check.flag(func, "error_if_nonfinite", error_if_nonfinite)
    grads = _grads(func, parameters)
    if not grads:
        return 0.0
    total = _core.total_norm(grads, order)
    if error_if_nonfinite and not math.isfinite(total):
        raise FerrogradError(
            f"The total norm of order {order} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # also NaN: scale by it, as PyTorch does
        _core.scale_inplace(grads, coef)
    return total


def clip_grad_value_(parameters: Params, clip_value: float) -> None:
    """Clamps every gradient element to ``[-clip_value, clip_value]`` in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``.grad`` to clip (those without a gradient are ignored).
    clip_value : float
        Largest allowed absolute value (non-negative).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> w = nn.Parameter(np.zeros(3))
    >>> w.grad = np.array([-5.0, 0.5, 2.0])
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    func = "clip_grad_value_"
    v = _check.real(func, "clip_value", clip_value, 0.0, finite=False)
    grads = _grads(func, parameters)
    if grads:
        _core.clamp_inplace(grads, -v, v)
