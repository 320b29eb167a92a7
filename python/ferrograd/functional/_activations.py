"""The activations part of :mod:`ferrograd.functional`.

Each activation takes an array-like ``input`` (float32 or float64 keep their dtype, integers
promote as ``np.exp`` would) and returns a new array of its shape; each ``<name>_backward``
takes ``(grad_output, input, **same_kwargs)`` and returns ``grad_output * f'(input)``, with
PyTorch's conventions at the kinks (``relu'(0) = 0``, ``leaky_relu'(0) = negative_slope``,
``elu'(0) = alpha``).

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> F.leaky_relu(np.array([-2.0, 3.0]), negative_slope=0.5).tolist()
[-1.0, 3.0]
>>> F.relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0])).tolist()
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from .._arrays import as_array, cast, prepare
from ..exceptions import ArgumentError, DTypeError, ShapeError

ArrayLike = Any

__all__ = [
    "elu",
    "elu_backward",
    "gelu",
    "gelu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "log_softmax",
    "log_softmax_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "silu",
    "silu_backward",
    "softmax",
    "softmax_backward",
    "softplus",
    "softplus_backward",
    "tanh",
    "tanh_backward",
]


def _input(func: str, input: ArrayLike) -> np.ndarray:
    (x,) = prepare(func, np.exp, input=input)
    return x


def _grad(func: str, grad_output: ArrayLike, x: np.ndarray) -> np.ndarray:
    return cast(as_array(func, "grad_output", grad_output), x.dtype)


def _approximate(func: str, approximate: Any) -> str:
    if not isinstance(approximate, str):
        raise ArgumentError(f"{func}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def _finish(func: str, input: ArrayLike, result: np.ndarray, inplace: bool) -> np.ndarray:
    """Returns ``result``, or writes it into ``input`` and returns ``input`` when ``inplace``."""
    if not _check.flag(func, "inplace", inplace):
        return result
    if not isinstance(input, np.ndarray) or input.dtype != result.dtype:
        got = input.dtype if isinstance(input, np.ndarray) else type(input).__name__
        raise DTypeError(
            f"{func}: inplace=True needs input to be a float32 or float64 ndarray, got {got}"
        )
    if not input.flags.writeable:
        raise ArgumentError(f"{func}: inplace=True needs a writeable input array")
    np.copyto(input, result)
    return input


def relu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    """Rectified linear unit, ``max(input, 0)`` elementwise (NaN stays NaN).

    Parameters
    ----------
    input : array_like
        Any shape; integers promote to float64.
    inplace : bool
        Write the result into ``input`` (a float ndarray) and return it.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.relu(np.array([-1.0, 0.5])).tolist()
    [0.0, 0.5]
    """
    x = _input("relu", input)
    return _finish("relu", input, _core.relu(x), inplace)


def relu_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    """Gradient of :func:`relu`: ``grad_output`` where ``input > 0``, else 0 (0 at 0 too).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.relu_backward(np.array([2.0, 2.0]), np.array([-1.0, 1.0])).tolist()
    [0.0, 2.0]
    """
    x = _input("relu_backward", input)
    return _core.relu_backward(_grad("relu_backward", grad_output, x), x)


def leaky_relu(input: ArrayLike, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    """``input`` where positive, ``negative_slope * input`` elsewhere.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.leaky_relu(np.array([-10.0, 1.0])).tolist()
    [-0.1, 1.0]
    """
    x = _input("leaky_relu", input)
    s = _check.number("leaky_relu", "negative_slope", negative_slope)
    return _finish("leaky_relu", input, _core.leaky_relu(x, s), inplace)


def leaky_relu_backward(
    grad_output: ArrayLike, input: ArrayLike, negative_slope: float = 0.01
) -> np.ndarray:
    """Gradient of :func:`leaky_relu` (slope ``negative_slope`` at and below 0).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.leaky_relu_backward(np.ones(2), np.array([-1.0, 1.0]), 0.2).tolist()
    [0.2, 1.0]
    """
    func = "leaky_relu_backward"
    x = _input(func, input)
    s = _check.number(func, "negative_slope", negative_slope)
    return _core.leaky_relu_backward(_grad(func, grad_output, x), x, s)


def sigmoid(input: ArrayLike) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-input))``, finite for every finite input.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.sigmoid(np.array([0.0, -1e4])).tolist()
    [0.5, 0.0]
    """
    return _core.sigmoid(_input("sigmoid", input))


def sigmoid_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    """Gradient of :func:`sigmoid`: ``grad_output * s * (1 - s)``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.sigmoid_backward(np.ones(1), np.zeros(1)).tolist()
    [0.25]
    """
    x = _input("sigmoid_backward", input)
    return _core.sigmoid_backward(_grad("sigmoid_backward", grad_output, x), x)


def tanh(input: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent, elementwise.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.tanh(np.array([0.0])).tolist()
    [0.0]
    """
    return _core.tanh(_input("tanh", input))


def tanh_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    """Gradient of :func:`tanh`: ``grad_output * (1 - tanh(input)**2)``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.tanh_backward(np.ones(1), np.zeros(1)).tolist()
    [1.0]
    """
    x = _input("tanh_backward", input)
    return _core.tanh_backward(_grad("tanh_backward", grad_output, x), x)


def gelu(input: ArrayLike, approximate: str = "none") -> np.ndarray:
    """Gaussian error linear unit ``input * Phi(input)``.

    Parameters
    ----------
    input : array_like
        Any shape.
    approximate : {'none', 'tanh'}
        ``'none'`` uses the exact normal CDF ``Phi``; ``'tanh'`` uses
        ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3)))``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.gelu(np.array([0.0, 10.0])).tolist()
    [0.0, 10.0]
    """
    x = _input("gelu", input)
    return _core.gelu(x, _approximate("gelu", approximate))


def gelu_backward(
    grad_output: ArrayLike, input: ArrayLike, approximate: str = "none"
) -> np.ndarray:
    """Gradient of :func:`gelu`: ``grad_output * (Phi(x) + x phi(x))`` (or the tanh form's).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.gelu_backward(np.ones(1), np.zeros(1)).tolist()
    [0.5]
    """
    func = "gelu_backward"
    x = _input(func, input)
    return _core.gelu_backward(_grad(func, grad_output, x), x, _approximate(func, approximate))


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    """Exponential linear unit: ``input`` where positive, ``alpha * (exp(input) - 1)`` elsewhere.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.elu(np.array([2.0, -1e4]), alpha=0.5).tolist()
    [2.0, -0.5]
    """
    x = _input("elu", input)
    return _finish("elu", input, _core.elu(x, _check.number("elu", "alpha", alpha)), inplace)


def elu_backward(grad_output: ArrayLike, input: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    """Gradient of :func:`elu`: ``grad_output`` where positive, ``alpha * exp(input)`` times it
    elsewhere (``alpha`` at 0).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.elu_backward(np.ones(2), np.array([0.0, 1.0]), alpha=2.0).tolist()
    [2.0, 1.0]
    """
    func = "elu_backward"
    x = _input(func, input)
    return _core.elu_backward(_grad(func, grad_output, x), x, _check.number(func, "alpha", alpha))


def silu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    """Sigmoid linear unit (swish): ``input * sigmoid(input)``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.silu(np.array([0.0, -1e4])).tolist()
    [0.0, -0.0]
    """
    x = _input("silu", input)
    return _finish("silu", input, _core.silu(x), inplace)


def silu_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    """Gradient of :func:`silu`: ``grad_output * s (1 + x (1 - s))`` with ``s = sigmoid(x)``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.silu_backward(np.ones(1), np.zeros(1)).tolist()
    [0.5]
    """
    x = _input("silu_backward", input)
    return _core.silu_backward(_grad("silu_backward", grad_output, x), x)


def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """``log(1 + exp(beta * input)) / beta``; ``input`` itself where ``beta * input >
    threshold``. Finite for every finite input, whatever the threshold.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.softplus(np.array([0.0, 30.0])).round(6).tolist()
    [0.693147, 30.0]
    """
    func = "softplus"
    x = _input(func, input)
    return _core.softplus(
        x, _check.number(func, "beta", beta), _check.number(func, "threshold", threshold)
    )


def softplus_backward(
    grad_output: ArrayLike, input: ArrayLike, beta: float = 1.0, threshold: float = 20.0
) -> np.ndarray:
    """Gradient of :func:`softplus`: ``grad_output * sigmoid(beta * input)``, or
    ``grad_output`` where ``beta * input > threshold``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.softplus_backward(np.ones(1), np.zeros(1)).tolist()
    [0.5]
    """
    func = "softplus_backward"
    x = _input(func, input)
    g = _grad(func, grad_output, x)
    return _core.softplus_backward(
        g, x, _check.number(func, "beta", beta), _check.number(func, "threshold", threshold)
    )


def _softmax_input(func: str, input: ArrayLike, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """The prepared input, and the same cast to ``dtype`` (float32 or float64) if given."""
    x = _input(func, input)
    if dtype is None:
        return x, x
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{func}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"{func}: dtype must be float32 or float64, got {dt}")
    return x, x.astype(dt, copy=False)


def _output(func: str, output: ArrayLike, x: np.ndarray) -> np.ndarray:
    """The forward's result passed back to a backward, checked against the input."""
    y = cast(as_array(func, "output", output), x.dtype)
    if y.shape != x.shape:
        raise ShapeError(f"{func}: output has shape {y.shape}, but input has shape {x.shape}")
    return y


def softmax(input: ArrayLike, dim: int = -1, *, dtype: Any = None) -> np.ndarray:
    """Softmax along ``dim``: ``exp(x) / sum(exp(x))``, stable for large inputs.

    Parameters
    ----------
    input : array_like
        Any shape.
    dim : int
        The axis holding each distribution.
    dtype : {None, numpy.float32, numpy.float64}
        Cast ``input`` to this type first (the result has it).

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.softmax(np.array([[1e4, 1e4]])).tolist()
    [[0.5, 0.5]]
    """
    _, x = _softmax_input("softmax", input, dtype)
    return _core.softmax(x, _check.dim("softmax", "dim", dim, x.ndim))


def softmax_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    dim: int = -1,
    *,
    dtype: Any = None,
    output: ArrayLike | None = None,
) -> np.ndarray:
    """Gradient of :func:`softmax` with respect to ``input``: ``y * (g - sum(g * y))`` along
    ``dim`` with ``y = softmax(input)``; in ``input``'s (promoted) dtype.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.softmax_backward(np.array([1.0, 0.0]), np.zeros(2)).tolist()
    [0.25, -0.25]
    """
    func = "softmax_backward"
    x0, x = _softmax_input(func, input, dtype)
    d = _check.dim(func, "dim", dim, x.ndim)
    y = _core.softmax(x, d) if output is None else _output(func, output, x)
    return _core.softmax_backward(_grad(func, grad_output, x), y, d).astype(x0.dtype, copy=False)


def log_softmax(input: ArrayLike, dim: int = -1, *, dtype: Any = None) -> np.ndarray:
    """Log-softmax along ``dim``: ``x - log(sum(exp(x)))``, finite for finite inputs.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.log_softmax(np.array([0.0, 1e4])).tolist()
    [-10000.0, 0.0]
    """
    _, x = _softmax_input("log_softmax", input, dtype)
    return _core.log_softmax(x, _check.dim("log_softmax", "dim", dim, x.ndim))


def log_softmax_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    dim: int = -1,
    *,
    dtype: Any = None,
    output: ArrayLike | None = None,
) -> np.ndarray:
    """Gradient of :func:`log_softmax` with respect to ``input``: ``g - softmax(x) * sum(g)``
    along ``dim``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.log_softmax_backward(np.array([1.0, 0.0]), np.zeros(2)).tolist()
    [0.5, -0.5]
    """
    func = "log_softmax_backward"
    x0, x = _softmax_input(func, input, dtype)
    d = _check.dim(func, "dim", dim, x.ndim)
    y = _core.log_softmax(x, d) if output is None else _output(func, output, x)
    return _core.log_softmax_backward(_grad(func, grad_output, x), y, d).astype(
        x0.dtype, copy=False
    )
