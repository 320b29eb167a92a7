"""Finite-difference gradients, for checking every backward kernel in float64.

Examples
--------
>>> import numpy as np
>>> from ferrograd import ops, numerical_gradient
>>> x = np.array([0.5, 1.0, 2.0])
>>> g = numerical_gradient(lambda v: ops.exp(v), [x], np.ones(3))[0]
>>> bool(np.allclose(g, np.exp(x)))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from .exceptions import DTypeError, FerrogradError


def numerical_gradient(
    fn: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    grad_output: Any,
    eps: float = 1e-6,
) -> list[np.ndarray]:
    """Central-difference gradient of ``sum(fn(*inputs) * grad_output)`` for each input.

    Parameters
    ----------
    fn : callable
        Maps the inputs (float64 arrays) to an array.
    inputs : sequence of ndarray
        Points at which to differentiate; must be float64.
    grad_output : array_like
        Weights of the outputs (the vector of the vector-Jacobian product).
    eps : float
        Step of the central difference.
    """
    xs = [np.array(x, dtype=np.float64, copy=True) for x in inputs]
    for i, x in enumerate(inputs):
        if np.asarray(x).dtype != np.float64:
            raise DTypeError(
                f"numerical_gradient: input {i} must be float64 for finite differences"
            )
    g = np.asarray(grad_output, dtype=np.float64)
    grads = []
    for x in xs:
        flat = x.reshape(-1)
        grad = np.zeros_like(flat)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            up = np.sum(np.asarray(fn(*xs), dtype=np.float64) * g)
            flat[j] = orig - eps
            down = np.sum(np.asarray(fn(*xs), dtype=np.float64) * g)
            flat[j] = orig
            grad[j] = (up - down) / (2 * eps)
        grads.append(grad.reshape(x.shape))
    return grads


def check_backward(
    fn: Callable[..., Any],
    backward: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    grad_output: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> None:
    """Checks ``backward(grad_output, *inputs)`` against finite differences of ``fn``.

    ``backward`` returns one gradient or a tuple with one per input. Raises
    :class:`~ferrograd.FerrogradError` naming the worst element when they disagree.
    """
    xs = [np.asarray(x, dtype=np.float64) for x in inputs]
    out = np.asarray(fn(*xs))
    if grad_output is None:
        grad_output = np.random.default_rng(0).standard_normal(out.shape)
    analytic = backward(np.asarray(grad_output, dtype=np.float64), *xs)
    if not isinstance(analytic, (tuple, list)):
        analytic = (analytic,)
    numeric = numerical_gradient(fn, xs, grad_output, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        a = np.asarray(a, dtype=np.float64)
        if a.shape != n.shape:
            raise FerrogradError(
                f"check_backward: gradient {i} has shape {a.shape}, input has {n.shape}"
            )
        err = np.abs(a - n) - (atol + rtol * np.abs(n))
        if err.size and np.max(err) > 0:
            k = np.unravel_index(int(np.argmax(err)), err.shape)
            raise FerrogradError(
                f"check_backward: gradient {i} differs at index {tuple(int(v) for v in k)}: "
                f"analytic {a[k]!r}, numerical {n[k]!r}"
            )


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    grad_output: Any = None,
) -> bool:
    """Checks autograd against finite differences for every input that requires a gradient.

    Parameters
    ----------
    fn : callable
        Maps tensors to a tensor.
    inputs : sequence of Tensor or array_like
        Float64 tensors; plain arrays become tensors that require gradients.
    eps, atol, rtol : float
        Finite-difference step and tolerances (``|analytic - numeric| <= atol + rtol*|numeric|``).
    grad_output : array_like, optional
        Weights of the outputs; random (seeded) by default.

    Returns
    -------
    bool
        True; a mismatch raises :class:`~ferrograd.FerrogradError` naming the worst element.

    Examples
    --------
    >>> import numpy as np, ferrograd
    >>> ferrograd.gradcheck(lambda x: (x * x).sum(), [np.array([1.0, -2.0])])
    True
    """
    from .tensor import Tensor, no_grad

    ts = [
        x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float64), requires_grad=True)
        for x in inputs
    ]
    for i, t in enumerate(ts):
        if t.requires_grad and t.dtype != np.float64:
            raise DTypeError(f"gradcheck: input {i} must be float64, got {t.dtype}")
    out = fn(*ts)
    if grad_output is None:
        g = np.random.default_rng(0).standard_normal(out.shape)
    else:
        g = np.asarray(grad_output, dtype=np.float64)
    for t in ts:
        t.grad = None
    out.backward(g)
    with no_grad():
        for i, t in enumerate(ts):
            if not t.requires_grad:
                continue
            analytic = np.zeros(t.shape) if t.grad is None else np.asarray(t.grad, np.float64)
            saved = t.data
            flat = saved.astype(np.float64, copy=True).reshape(-1)
            numeric = np.zeros_like(flat)
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                t.data = flat.reshape(saved.shape)
                up = float(np.sum(fn(*ts).data * g))
                flat[j] = orig - eps
                t.data = flat.reshape(saved.shape)
                down = float(np.sum(fn(*ts).data * g))
                flat[j] = orig
                numeric[j] = (up - down) / (2 * eps)
            t.data = saved
            numeric = numeric.reshape(t.shape)
            err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
            if err.size and np.max(err) > 0:
                k = np.unravel_index(int(np.argmax(err)), err.shape)
                raise FerrogradError(
                    f"gradcheck: gradient of input {i} differs at index "
                    f"{tuple(int(v) for v in k)}: autograd {analytic[k]!r}, finite differences "
                    f"{numeric[k]!r} (tolerance {atol} + {rtol} * |numeric|)"
                )
    return True
