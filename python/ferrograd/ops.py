"""NumPy-compatible tensor kernels computed in Rust, each with its backward.

Inputs are anything array-like; float32 and float64 keep their dtype and mixed inputs follow
NumPy's promotion. Every ``<op>_backward`` returns the gradient(s) with respect to the inputs of
``<op>``, already reduced to each input's shape.

Examples
--------
>>> import numpy as np
>>> from ferrograd import ops
>>> x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
>>> ops.add(x, np.float32(1.0)).tolist()
[[2.0, 3.0], [4.0, 5.0]]
>>> ops.sum(x, axis=0).tolist()
[4.0, 6.0]
>>> ga, gb = ops.mul_backward(np.ones((2, 2)), x, np.array([10.0, 20.0]))
>>> gb.tolist()
[4.0, 6.0]
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _check, _core
from ._arrays import (
    FLOAT_TYPES,
    as_array,
    as_float,
    as_int64,
    c_readable,
    cast,
    check_axis_range,
    normalize_axis,
    prepare,
)
from .exceptions import ArgumentError, DTypeError, ShapeError

ArrayLike = Any

__all__ = [
    "abs",
    "abs_backward",
    "add",
    "add_backward",
    "argmax",
    "argmin",
    "avg_pool2d",
    "avg_pool2d_backward",
    "clamp",
    "clamp_backward",
    "conv2d",
    "conv2d_backward",
    "div",
    "div_backward",
    "exp",
    "exp_backward",
    "linear",
    "linear_backward",
    "log",
    "log1p",
    "log1p_backward",
    "log_backward",
    "log_softmax",
    "log_softmax_backward",
    "matmul",
    "matmul_backward",
    "max",
    "max_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "mean",
    "mean_backward",
    "min",
    "min_backward",
    "mul",
    "mul_backward",
    "neg",
    "neg_backward",
    "pow",
    "pow_backward",
    "reshape",
    "reshape_backward",
    "softmax",
    "softmax_backward",
    "sqrt",
    "sqrt_backward",
    "std",
    "std_backward",
    "sub",
    "sub_backward",
    "sum",
    "sum_backward",
    "sum_to_shape",
    "transpose",
    "transpose_backward",
    "var",
    "var_backward",
]

# --------------------------------------------------------------------------- binary


def add(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``a + b`` with NumPy broadcasting."""
    return _core.add(*prepare("add", np.add, a=a, b=b))


def sub(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``a - b`` with NumPy broadcasting."""
    return _core.sub(*prepare("sub", np.subtract, a=a, b=b))


def mul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``a * b`` with NumPy broadcasting."""
    return _core.mul(*prepare("mul", np.multiply, a=a, b=b))


def div(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``a / b`` (true division) with NumPy broadcasting; integers promote like NumPy's."""
    return _core.div(*prepare("div", np.true_divide, a=a, b=b))


def _binary_backward(name: str, ufunc: Any, g: ArrayLike, a: ArrayLike, b: ArrayLike) -> Any:
    a_, b_ = prepare(name, ufunc, a=a, b=b)
    g_ = as_float(name, "grad_output", g, a_.dtype)
    return getattr(_core, name)(g_, a_, b_)


def add_backward(grad_output: ArrayLike, a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, ...]:
    """Gradients of :func:`add` with respect to ``a`` and ``b``."""
    return _binary_backward("add_backward", np.add, grad_output, a, b)


def sub_backward(grad_output: ArrayLike, a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, ...]:
    """Gradients of :func:`sub` with respect to ``a`` and ``b``."""
    return _binary_backward("sub_backward", np.subtract, grad_output, a, b)


def mul_backward(grad_output: ArrayLike, a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, ...]:
    """Gradients of :func:`mul` with respect to ``a`` and ``b``."""
    return _binary_backward("mul_backward", np.multiply, grad_output, a, b)


def div_backward(grad_output: ArrayLike, a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, ...]:
    """Gradients of :func:`div` with respect to ``a`` and ``b``."""
    return _binary_backward("div_backward", np.true_divide, grad_output, a, b)


# --------------------------------------------------------------------------- unary


def exp(x: ArrayLike) -> np.ndarray:
    """Elementwise ``e**x``."""
    return _core.exp(*prepare("exp", np.exp, x=x))


def log(x: ArrayLike) -> np.ndarray:
    """Elementwise natural logarithm (``-inf`` at 0 and NaN below, as NumPy)."""
    return _core.log(*prepare("log", np.log, x=x))


def sqrt(x: ArrayLike) -> np.ndarray:
    """Elementwise square root."""
    return _core.sqrt(*prepare("sqrt", np.sqrt, x=x))


def neg(x: ArrayLike) -> np.ndarray:
    """Elementwise ``-x``."""
    return _core.neg(*prepare("neg", np.negative, x=x))


def _real_abs(v: Any) -> Any:
    """``np.absolute`` for real input; complex input (whose modulus NumPy gives as a float)
    is refused, as ferrograd computes on real numbers."""
    if np.iscomplexobj(v):
        raise TypeError("complex input (ferrograd computes on real numbers)")
    return np.absolute(v)


def abs(x: ArrayLike) -> np.ndarray:
    """Elementwise ``|x|``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.abs(np.array([-1.5, 0.0, 2.0])).tolist()
    [1.5, 0.0, 2.0]
    """
    return _core.abs(*prepare("abs", _real_abs, x=x))


def log1p(x: ArrayLike) -> np.ndarray:
    """Elementwise ``ln(1 + x)``, accurate for small ``x`` (``-inf`` at -1, NaN below).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> float(ops.log1p(np.array(1e-20)))  # 1 + 1e-20 rounds to 1, log1p does not
    1e-20
    """
    return _core.log1p(*prepare("log1p", np.log1p, x=x))


def _bound(func: str, name: str, value: Any) -> float | None:
    """A bound of :func:`clamp`: None or a real scalar (inf and NaN allowed, as in PyTorch)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise DTypeError(f"{func}: {name} must be a real number or None, got {value!r}")
    return float(value)


def _bounds(func: str, min: Any, max: Any) -> tuple[float | None, float | None]:
    lo, hi = _bound(func, "min", min), _bound(func, "max", max)
    if lo is None and hi is None:
        raise ArgumentError(f"{func}: at least one of min and max must be given (not None)")
    return lo, hi


def clamp(x: ArrayLike, min: float | None = None, max: float | None = None) -> np.ndarray:
    """``x`` limited to ``[min, max]``, as ``torch.clamp`` (a bound may be left out, not both).

    ``min > max`` gives ``max`` everywhere; a NaN in ``x`` or a NaN bound gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.clamp(np.array([-2.0, 0.5, 3.0]), min=-1.0, max=1.0).tolist()
    [-1.0, 0.5, 1.0]
    """
    lo, hi = _bounds("clamp", min, max)
    (x_,) = prepare("clamp", np.positive, x=x)
    return _core.clamp(x_, lo, hi)


def _exponent(func: str, exponent: Any) -> Any:
    if isinstance(exponent, np.ndarray) and exponent.ndim == 0:
        exponent = exponent[()]
    if isinstance(exponent, (bool, np.bool_)) or not isinstance(
        exponent, (int, float, np.integer, np.floating)
    ):
        raise DTypeError(f"{func}: exponent must be a real scalar, got {type(exponent).__name__}")
    return exponent


def pow(x: ArrayLike, exponent: float) -> np.ndarray:
    """Elementwise ``x ** exponent`` for a scalar exponent."""
    e = _exponent("pow", exponent)
    x_, _ = prepare("pow", np.power, x=x, exponent=e)
    return _core.pow(x_, float(e))


def _unary_backward(name: str, ufunc: Any, g: ArrayLike, x: ArrayLike) -> np.ndarray:
    (x_,) = prepare(name, ufunc, x=x)
    g_ = as_float(name, "grad_output", g, x_.dtype)
    return getattr(_core, name)(g_, x_)


def exp_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`exp`: ``grad_output * exp(x)``."""
    return _unary_backward("exp_backward", np.exp, grad_output, x)


def log_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`log`: ``grad_output / x``."""
    return _unary_backward("log_backward", np.log, grad_output, x)


def sqrt_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`sqrt`: ``grad_output / (2 sqrt(x))``."""
    return _unary_backward("sqrt_backward", np.sqrt, grad_output, x)


def neg_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`neg`: ``-grad_output``."""
    return _unary_backward("neg_backward", np.negative, grad_output, x)


def abs_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`abs`: ``grad_output * sign(x)``, 0 at 0 (and at NaN, as PyTorch)."""
    return _unary_backward("abs_backward", _real_abs, grad_output, x)


def log1p_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`log1p`: ``grad_output / (1 + x)``."""
    return _unary_backward("log1p_backward", np.log1p, grad_output, x)


#: The elementwise ops of one array that have ``<name>_backward(grad_output, x)``, each with
#: the NumPy function it mirrors. :mod:`ferrograd.autograd` makes each a Tensor method with its
#: gradient (and the NumPy function, given a Tensor, runs it); the tests read this table too.
UNARY: dict[str, Any] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "neg": np.negative,
    "abs": np.abs,
    "log1p": np.log1p,
}


def clamp_backward(
    grad_output: ArrayLike, x: ArrayLike, min: float | None = None, max: float | None = None
) -> np.ndarray:
    """Gradient of :func:`clamp`: ``grad_output`` where ``min < x < max``, else 0.

    At a bound the gradient is 0, the minimum-norm subgradient PyTorch uses for scalar
    bounds (as for ``relu`` at 0 and ``hardtanh`` at its ends).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.clamp_backward(np.ones(3), np.array([-2.0, 0.5, 1.0]), min=-1.0, max=1.0).tolist()
    [0.0, 1.0, 0.0]
    """
    lo, hi = _bounds("clamp_backward", min, max)
    (x_,) = prepare("clamp_backward", np.positive, x=x)
    g_ = as_float("clamp_backward", "grad_output", grad_output, x_.dtype)
    return _core.clamp_backward(g_, x_, lo, hi)


def pow_backward(grad_output: ArrayLike, x: ArrayLike, exponent: float) -> np.ndarray:
    """Gradient of :func:`pow`: ``grad_output * p * x**(p-1)`` (0 where ``p == 0``)."""
    e = _exponent("pow_backward", exponent)
    x_, _ = prepare("pow_backward", np.power, x=x, exponent=e)
    g_ = as_float("pow_backward", "grad_output", grad_output, x_.dtype)
    return _core.pow_backward(g_, x_, float(e))


# --------------------------------------------------------------------------- reductions


def _sum_probe(v: Any) -> Any:
    return np.sum(np.asarray(v))


def _mean_probe(v: Any) -> Any:
    return np.mean(np.asarray(v))


def _max_probe(v: Any) -> Any:
    return np.max(np.asarray(v))


def _min_probe(v: Any) -> Any:
    return np.min(np.asarray(v))


def _reduce(name: str, ufunc: Any, x: ArrayLike, axis: Any, keepdims: bool) -> np.ndarray:
    (x_,) = prepare(name, ufunc, x=x)
    return getattr(_core, name)(
        x_, normalize_axis(name, axis), _check.flag(name, "keepdims", keepdims)
    )


def sum(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Sum over ``axis`` (None: every axis), as ``np.sum``."""
    return _reduce("sum", _sum_probe, x, axis, keepdims)


def mean(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Mean over ``axis`` (None: every axis), as ``np.mean`` (NaN for an empty reduction)."""
    return _reduce("mean", _mean_probe, x, axis, keepdims)


def max(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis`` (None: every axis), as ``np.max``; NaN propagates."""
    return _reduce("max", _max_probe, x, axis, keepdims)


def min(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Minimum over ``axis`` (None: every axis), as ``np.min``; NaN propagates.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.min(np.array([[3.0, 1.0], [2.0, 5.0]]), axis=1).tolist()
    [1.0, 2.0]
    """
    return _reduce("min", _min_probe, x, axis, keepdims)


def _arg(name: str, x: ArrayLike, axis: Any, keepdims: bool) -> np.ndarray:
    (x_,) = prepare(name, _mean_probe, x=x)
    ax = None if axis is None else _check_axis(name, axis)
    return getattr(_core, name)(x_, ax, _check.flag(name, "keepdims", keepdims))


def argmax(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """Indices (int64) of the maxima along ``axis``, as ``np.argmax``.

    ``axis=None`` gives the index into the flattened array. The first occurrence wins a tie
    and the first NaN counts as the maximum. Booleans and integers are compared as float64
    (exact for integers below 2**53 in magnitude). No gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.argmax(np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]]), axis=1).tolist()
    [1, 0]
    """
    return _arg("argmax", x, axis, keepdims)


def argmin(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """Indices (int64) of the minima along ``axis``, as ``np.argmin`` (see :func:`argmax`).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> int(ops.argmin(np.array([3.0, 1.0, 1.0])))
    1
    """
    return _arg("argmin", x, axis, keepdims)


def _correction(func: str, correction: Any) -> float:
    return _check.real(func, "correction", correction)


def _moment(name: str, x: ArrayLike, axis: Any, correction: Any, keepdims: bool) -> np.ndarray:
    (x_,) = prepare(name, _mean_probe, x=x)
    return getattr(_core, name)(
        x_,
        normalize_axis(name, axis),
        _correction(name, correction),
        _check.flag(name, "keepdims", keepdims),
    )


def var(
    x: ArrayLike,
    axis: int | Sequence[int] | None = None,
    correction: float = 1,
    keepdims: bool = False,
) -> Any:
    """Variance over ``axis`` (None: every axis), as ``torch.var``: the sum of squared
    deviations from the mean divided by ``max(0, N - correction)``.

    ``correction=1`` (default) is the unbiased estimate, ``0`` the biased one. When
    ``N - correction <= 0`` the result is inf (NaN for 0 / 0), as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> x = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]])
    >>> ops.var(x, axis=1).tolist(), ops.var(x, axis=1, correction=0).tolist()
    ([1.0, 0.0], [0.6666666666666666, 0.0])
    """
    return _moment("var", x, axis, correction, keepdims)


def std(
    x: ArrayLike,
    axis: int | Sequence[int] | None = None,
    correction: float = 1,
    keepdims: bool = False,
) -> Any:
    """Standard deviation over ``axis``, as ``torch.std``: the square root of :func:`var`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> float(ops.std(np.array([1.0, 3.0])))
    1.4142135623730951
    """
    return _moment("std", x, axis, correction, keepdims)


def _moment_backward(
    name: str, g: ArrayLike, x: ArrayLike, axis: Any, correction: Any, keepdims: bool
) -> np.ndarray:
    (x_,) = prepare(name, _mean_probe, x=x)
    g_ = as_float(name, "grad_output", g, x_.dtype)
    return getattr(_core, name)(
        g_,
        x_,
        normalize_axis(name, axis),
        _correction(name, correction),
        _check.flag(name, "keepdims", keepdims),
    )


def var_backward(
    grad_output: ArrayLike,
    x: ArrayLike,
    axis: Any = None,
    correction: float = 1,
    keepdims: bool = False,
) -> np.ndarray:
    """Gradient of :func:`var`: ``grad_output * 2 (x - mean) / (N - correction)``.

    Where ``N - correction <= 0`` PyTorch's edge cases are kept: over every axis
    (``axis=None``) the gradient is ``grad_output * inf``; over given axes the factor
    ``2 / (N - correction)`` is used as it is.
    """
    return _moment_backward("var_backward", grad_output, x, axis, correction, keepdims)


def std_backward(
    grad_output: ArrayLike,
    x: ArrayLike,
    axis: Any = None,
    correction: float = 1,
    keepdims: bool = False,
) -> np.ndarray:
    """Gradient of :func:`std`: :func:`var_backward` of ``grad_output / (2 std)``, with 0
    where ``std`` is 0 (as PyTorch)."""
    return _moment_backward("std_backward", grad_output, x, axis, correction, keepdims)


def _reduce_backward(
    name: str, ufunc: Any, g: ArrayLike, x: ArrayLike, axis: Any, keepdims: bool
) -> np.ndarray:
    (x_,) = prepare(name, ufunc, x=x)
    g_ = as_float(name, "grad_output", g, x_.dtype)
    return getattr(_core, name)(
        g_, x_, normalize_axis(name, axis), _check.flag(name, "keepdims", keepdims)
    )


def sum_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: Any = None, keepdims: bool = False
) -> np.ndarray:
    """Gradient of :func:`sum`: ``grad_output`` broadcast back to ``x``'s shape."""
    return _reduce_backward("sum_backward", _sum_probe, grad_output, x, axis, keepdims)


def mean_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: Any = None, keepdims: bool = False
) -> np.ndarray:
    """Gradient of :func:`mean`: ``grad_output / count`` broadcast back to ``x``'s shape."""
    return _reduce_backward("mean_backward", _mean_probe, grad_output, x, axis, keepdims)


def max_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: Any = None, keepdims: bool = False
) -> np.ndarray:
    """Gradient of :func:`max`, shared equally among tied maxima (as ``torch.amax``)."""
    return _reduce_backward("max_backward", _max_probe, grad_output, x, axis, keepdims)


def min_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: Any = None, keepdims: bool = False
) -> np.ndarray:
    """Gradient of :func:`min`, shared equally among tied minima (as ``torch.amin``)."""
    return _reduce_backward("min_backward", _min_probe, grad_output, x, axis, keepdims)


def sum_to_shape(grad: ArrayLike, shape: Sequence[int]) -> np.ndarray:
    """Sums ``grad`` over broadcast axes so it has ``shape``: the gradient of a broadcast."""
    (g,) = prepare("sum_to_shape", np.positive, grad=grad)
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        target = [operator.index(d) for d in dims]
    except TypeError:
        raise DTypeError(f"sum_to_shape: shape must be a sequence of ints, got {shape!r}") from None
    if any(not 0 <= d < 2**62 for d in target):
        raise ShapeError(f"sum_to_shape: shape {tuple(target)} has a negative or huge axis")
    return _core.sum_to_shape(g, target)


# --------------------------------------------------------------------------- softmax


def _check_axis(func: str, axis: Any) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise DTypeError(f"{func}: axis must be an int, got {axis!r}")
    return check_axis_range(func, int(axis))


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stable for large inputs."""
    (x_,) = prepare("softmax", np.exp, x=x)
    return _core.softmax(x_, _check_axis("softmax", axis))


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``, stable for large inputs."""
    (x_,) = prepare("log_softmax", np.exp, x=x)
    return _core.log_softmax(x_, _check_axis("log_softmax", axis))


def _softmax_grad(
    func: str, log: bool, grad_output: ArrayLike, x: ArrayLike, axis: int, output: Any
) -> np.ndarray:
    (x_,) = prepare(func, np.exp, x=x)
    ax = _check_axis(func, axis)
    if output is None:
        y = (_core.log_softmax if log else _core.softmax)(x_, ax)
    else:
        y = as_float(func, "output", output, x_.dtype)
        if y.shape != x_.shape:
            raise ShapeError(f"{func}: output has shape {y.shape}, but x has shape {x_.shape}")
    g = as_float(func, "grad_output", grad_output, x_.dtype)
    return (_core.log_softmax_backward if log else _core.softmax_backward)(g, y, ax)


def softmax_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: int = -1, *, output: ArrayLike | None = None
) -> np.ndarray:
    """Gradient of :func:`softmax`. Pass ``output=softmax(x)`` to skip recomputing it."""
    return _softmax_grad("softmax_backward", False, grad_output, x, axis, output)


def log_softmax_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: int = -1, *, output: ArrayLike | None = None
) -> np.ndarray:
    """Gradient of :func:`log_softmax`. Pass ``output=log_softmax(x)`` to skip recomputing."""
    return _softmax_grad("log_softmax_backward", True, grad_output, x, axis, output)


# --------------------------------------------------------------------------- matmul


def _matmul_probe(a: Any, b: Any) -> Any:
    return np.matmul(np.reshape(a, (1, 1)), np.reshape(b, (1, 1)))


class _MatmulPlan:
    """How NumPy's matmul rules map two operands onto the core's (batch, m, k, n) product."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"matmul: operands must have at least one dimension, got shapes "
                f"{a.shape} and {b.shape}"
            )
        self.a_shape, self.b_shape = a.shape, b.shape
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a2.shape[-1] != b2.shape[-2]:
            raise ShapeError(
                f"matmul: a has shape {a.shape} and b has shape {b.shape}; the last axis of a "
                f"({a2.shape[-1]}) must equal the second-to-last axis of b ({b2.shape[-2]})"
            )
        try:
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ShapeError(
                f"matmul: batch axes of shapes {a.shape} and {b.shape} do not broadcast"
            ) from None
        self.batch = batch
        self.a2_shape, self.b2_shape = a2.shape, b2.shape
        self.a3, self.a_expanded = self._as_core(a2, batch)
        self.b3, self.b_expanded = self._as_core(b2, batch)
        m, n = a2.shape[-2], b2.shape[-1]
        out = (*batch, m, n)
        if a.ndim == 1:
            out = out[:-2] + out[-1:]
        if b.ndim == 1:
            out = out[:-1]
        self.out_shape = out

    @staticmethod
    def _as_core(x: np.ndarray, batch: tuple[int, ...]) -> tuple[np.ndarray, bool]:
        """A 2-D operand (shared over the batch) or a 3-D one with the full flat batch."""
        if x.ndim == 2 or all(d == 1 for d in x.shape[:-2]):
            return x.reshape(x.shape[-2:]), False
        if x.shape[:-2] != batch:
            x = np.broadcast_to(x, (*batch, *x.shape[-2:]))
            return np.ascontiguousarray(x).reshape(math.prod(batch), *x.shape[-2:]), True
        return x.reshape(math.prod(batch), *x.shape[-2:]), False

    def fit(
        self, grad: np.ndarray, shape2: tuple[int, ...], shape: tuple[int, ...], expanded: bool
    ) -> np.ndarray:
        """Brings a core gradient back to its operand's shape, summing expanded batch axes."""
        if expanded:
            grad = sum_to_shape(grad.reshape(*self.batch, *grad.shape[-2:]), shape2)
        return grad.reshape(shape)


def matmul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Matrix product with ``np.matmul``'s rules: 1-D, 2-D and batched (broadcast) operands."""
    if (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.ndim == 2
        and b.ndim == 2
        and a.dtype == b.dtype
        and a.dtype in FLOAT_TYPES
    ):
        return _core.matmul(a, b)  # transposed and sliced views are read in place
    a_, b_ = prepare("matmul", _matmul_probe, a=a, b=b)
    if a_.ndim == 2 and b_.ndim == 2:
        return _core.matmul(a_, b_)
    plan = _MatmulPlan(a_, b_)
    out = _core.matmul(plan.a3, plan.b3)
    return out.reshape(plan.out_shape)


def matmul_backward(
    grad_output: ArrayLike, a: ArrayLike, b: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`matmul`: ``(grad @ b^T, a^T @ grad)`` reduced to each shape."""
    a_, b_ = prepare("matmul_backward", _matmul_probe, a=a, b=b)
    if a_.ndim == 2 and b_.ndim == 2 and type(grad_output) is np.ndarray:
        if grad_output.dtype == a_.dtype and c_readable(grad_output):
            return _core.matmul_backward(grad_output, a_, b_)
    plan = _MatmulPlan(a_, b_)
    g = as_float("matmul_backward", "grad_output", grad_output, a_.dtype)
    if g.shape != plan.out_shape:
        raise ShapeError(
            f"matmul_backward: grad_output has shape {g.shape}, but matmul of shapes "
            f"{a_.shape} and {b_.shape} gives {plan.out_shape}"
        )
    m, n = plan.a3.shape[-2], plan.b3.shape[-1]
    core_out = (m, n) if plan.a3.ndim == 2 and plan.b3.ndim == 2 else (math.prod(plan.batch), m, n)
    ga, gb = _core.matmul_backward(g.reshape(core_out), plan.a3, plan.b3)
    return plan.fit(ga, plan.a2_shape, a_.shape, plan.a_expanded), plan.fit(
        gb, plan.b2_shape, b_.shape, plan.b_expanded
    )


# --------------------------------------------------------------------------- views


def _permutation(func: str, axes: Sequence[int], ndim: int) -> list[int]:
    """``axes`` as non-negative ints, checked to be a permutation of ``range(ndim)``."""
    try:
        perm = [operator.index(a) for a in axes]
    except TypeError:
        raise DTypeError(f"{func}: axes must be a sequence of ints, got {axes!r}") from None
    perm = [a + ndim if a < 0 else a for a in perm]
    if sorted(perm) != list(range(ndim)):
        raise ShapeError(f"{func}: axes {axes!r} are not a permutation of {ndim} axes")
    return perm


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> np.ndarray:
    """Permutes axes (reverses them when ``axes`` is None); a view, no data moves."""
    x_ = np.asarray(as_array("transpose", "x", x))
    if axes is None:
        return np.transpose(x_)
    return np.transpose(x_, _permutation("transpose", axes, x_.ndim))


def transpose_backward(grad_output: ArrayLike, axes: Sequence[int] | None = None) -> np.ndarray:
    """Gradient of :func:`transpose`: the inverse permutation of ``grad_output``."""
    g = np.asarray(as_array("transpose_backward", "grad_output", grad_output))
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort(_permutation("transpose_backward", axes, g.ndim)))


def reshape(x: ArrayLike, shape: Sequence[int] | int) -> np.ndarray:
    """Gives ``x`` a new shape with the same number of elements (-1 infers one axis)."""
    x_ = as_array("reshape", "x", x)
    try:
        return np.reshape(x_, shape)
    except ValueError as e:
        raise ShapeError(f"reshape: {e}") from None
    except TypeError as e:
        raise DTypeError(f"reshape: shape must be an int or a sequence of ints: {e}") from None


def reshape_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`reshape`: ``grad_output`` in ``x``'s shape."""
    g = as_array("reshape_backward", "grad_output", grad_output)
    shape = np.shape(as_array("reshape_backward", "x", x))
    try:
        return np.reshape(g, shape)
    except ValueError:
        raise ShapeError(
            f"reshape_backward: grad_output of shape {np.shape(g)} does not fit x's shape {shape}"
        ) from None


# --------------------------------------------------------------------------- linear


def linear(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None) -> np.ndarray:
    """``x @ weight.T + bias`` with ``weight`` in PyTorch's (out, in) layout.

    The transpose is read through strides, never copied. ``x`` may have any leading axes.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.linear(np.ones((2, 3)), np.ones((4, 3)), np.arange(4.0)).tolist()[0]
    [3.0, 4.0, 5.0, 6.0]
    """
    x_, w_ = prepare("linear", _matmul_probe, x=x, weight=weight)
    b_ = None if bias is None else cast(as_array("linear", "bias", bias), x_.dtype)
    return _core.linear(x_, w_, b_)


def linear_backward(
    grad_output: ArrayLike, x: ArrayLike, weight: ArrayLike, input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of :func:`linear`: ``(grad_x, grad_weight, grad_bias)``.

    ``input_grad=False`` skips the input gradient's product and returns None in its place.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> gx, gw, gb = ops.linear_backward(np.ones((2, 1)), np.ones((2, 3)), np.ones((1, 3)),
    ...                                  input_grad=False)
    >>> gx is None, gw.tolist(), gb.tolist()
    (True, [[2.0, 2.0, 2.0]], [2.0])
    """
    func = "linear_backward"
    input_grad = _check.flag(func, "input_grad", input_grad)
    x_, w_ = prepare(func, _matmul_probe, x=x, weight=weight)
    g = cast(as_array(func, "grad_output", grad_output), x_.dtype)
    return _core.linear_backward(g, x_, w_, input_grad)


# --------------------------------------------------------------------------- convolution, pooling


def _rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a matrix of its last axis (``reshape(-1, n)`` fails for n = 0)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _conv_operands(func: str, input: ArrayLike, weight: ArrayLike) -> tuple[np.ndarray, ...]:
    x, w = prepare(func, _matmul_probe, input=input, weight=weight)
    if w.ndim != 4:
        raise ShapeError(
            f"{func}: weight has shape {w.shape}, expected 4 axes (C_out, C_in / groups, kH, kW)"
        )
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"{func}: input has shape {x.shape}, expected (N, C_in, H, W) or unbatched (C_in, H, W)"
        )
    return x, w


def _conv_channels(func: str, x: np.ndarray, w: np.ndarray, groups: int) -> None:
    """The input's channels fit the weight (checked here so that an unbatched input is
    reported with its own shape)."""
    want = w.shape[1] * groups
    if x.shape[-3] != want:
        raise ShapeError(
            f"{func}: input has {x.shape[-3]} channels (shape {x.shape}), but weight of shape "
            f"{w.shape} with groups={groups} expects weight.shape[1] * groups = {want} channels"
        )


def _conv_bias(func: str, bias: ArrayLike | None, w: np.ndarray) -> np.ndarray | None:
    """``bias``: None, or real numbers of shape (C_out,) as the weight's dtype."""
    if bias is None:
        return None
    b = as_float(func, "bias", bias, w.dtype)
    if b.shape != (w.shape[0],):
        raise ShapeError(
            f"{func}: bias has shape {b.shape}, expected ({w.shape[0]},) (one value per output "
            "channel)"
        )
    return b


def _conv_settings(
    func: str, weight: np.ndarray, stride: Any, padding: Any, dilation: Any, groups: Any
) -> tuple[list[int], list[int], list[int], int]:
    """Normalised (stride, padding, dilation, groups); padding is (pad_h, pad_w) or, for
    ``"same"`` with an odd total, (top, bottom, left, right)."""
    st = _check.int_pair(func, "stride", stride, 1)
    dil = _check.int_pair(func, "dilation", dilation, 1)
    if isinstance(padding, str):
        if padding == "valid":
            pad = [0, 0]
        elif padding == "same":
            if st != [1, 1]:
                raise ArgumentError(
                    f"{func}: padding='same' is not supported for strided convolutions"
                )
            totals = [d * (k - 1) for d, k in zip(dil, weight.shape[2:])]
            pad = [v for t in totals for v in (t // 2, t - t // 2)]
        else:
            raise ArgumentError(
                f"{func}: padding must be 'valid', 'same', an int or a pair of ints, got "
                f"{padding!r}"
            )
    else:
        pad = _check.int_pair(func, "padding", padding, 0)
    return st, pad, dil, _check.int_arg(func, "groups", groups, 1)


def conv2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D convolution (cross-correlation) over NCHW arrays, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : array_like
        (N, C_in, H, W), or unbatched (C_in, H, W).
    weight : array_like
        (C_out, C_in / groups, kH, kW).
    bias : array_like, optional
        (C_out,).
    stride, dilation : int or (int, int)
        Step between windows and spacing of kernel elements (positive).
    padding : int, (int, int), "valid" or "same"
        Implicit zeros on both sides of each spatial axis. ``"same"`` (stride 1 only) keeps
        the spatial size, putting the extra zero at the end when the total is odd.
    groups : int
        Input and output channels are split into this many independent groups.

    Returns
    -------
    ndarray
        (N, C_out, H_out, W_out) with ``H_out = (H + 2 pad - dilation (kH - 1) - 1) // stride
        + 1`` (likewise W_out), in the dtype of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> ops.conv2d(x, np.ones((1, 1, 2, 2)), stride=2).tolist()
    [[[[10.0, 18.0], [42.0, 50.0]]]]
    """
    x, w = _conv_operands("conv2d", input, weight)
    b = _conv_bias("conv2d", bias, w)
    st, pad, dil, g = _conv_settings("conv2d", w, stride, padding, dilation, groups)
    _conv_channels("conv2d", x, w, g)
    if x.ndim == 3:
        return _core.conv2d(x[None], w, b, st, pad, dil, g)[0]
    return _core.conv2d(x, w, b, st, pad, dil, g)


def conv2d_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    *,
    input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d`: ``(grad_input, grad_weight, grad_bias)``.

    The arguments after ``grad_output`` are those of :func:`conv2d` (``bias`` is checked as
    :func:`conv2d` checks it, so that the calls line up, but the gradients do not depend on
    it; ``grad_bias``, the sum of ``grad_output`` over N, H_out and W_out, is returned either
    way). ``input_grad=False`` skips the input gradient and returns None in its place.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((2, 1, 2, 2))
    >>> gx, gw, gb = ops.conv2d_backward(np.ones((1, 2, 2, 2)), x, w)
    >>> gx[0, 0].tolist(), gb.tolist()
    ([[2.0, 4.0, 2.0], [4.0, 8.0, 4.0], [2.0, 4.0, 2.0]], [4.0, 4.0])
    """
    func = "conv2d_backward"
    x, w = _conv_operands(func, input, weight)
    _conv_bias(func, bias, w)
    input_grad = _check.flag(func, "input_grad", input_grad)
    st, pad, dil, g = _conv_settings(func, w, stride, padding, dilation, groups)
    _conv_channels(func, x, w, g)
    go = as_float(func, "grad_output", grad_output, x.dtype)
    if x.ndim == 3:
        if go.ndim != 3:
            raise ShapeError(
                f"{func}: grad_output has shape {go.shape}, but the input is unbatched "
                f"{x.shape}; expected (C_out, H_out, W_out)"
            )
        gx, gw, gb = _core.conv2d_backward(go[None], x[None], w, st, pad, dil, g, input_grad)
        return (None if gx is None else gx[0]), gw, gb
    return _core.conv2d_backward(go, x, w, st, pad, dil, g, input_grad)


def _pool_settings(
    func: str, kernel_size: Any, stride: Any, padding: Any
) -> tuple[list[int], list[int], list[int]]:
    k = _check.int_pair(func, "kernel_size", kernel_size, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    s = k if no_stride else _check.int_pair(func, "stride", stride, 1)
    return k, s, _check.int_pair(func, "padding", padding, 0)


def _pool_input(func: str, probe: Any, input: ArrayLike) -> np.ndarray:
    (x,) = prepare(func, probe, input=input)
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"{func}: input has shape {x.shape}, expected (N, C, H, W) or unbatched (C, H, W)"
        )
    return x


def max_pool2d(
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over the last two axes, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    input : array_like
        (N, C, H, W) or (C, H, W).
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Step between windows; ``kernel_size`` by default.
    padding : int or (int, int)
        Implicit ``-inf`` on both sides, at most half the kernel size.
    dilation : int or (int, int)
        Spacing of window elements.
    ceil_mode : bool
        Round the output size up (a last, partial window) instead of down.
    return_indices : bool
        Also return the int64 index ``y * W + x`` of each maximum within its input plane.

    Returns
    -------
    ndarray, or (ndarray, ndarray) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.max_pool2d(np.arange(16.0).reshape(1, 4, 4), 2).tolist()
    [[[5.0, 7.0], [13.0, 15.0]]]
    """
    x = _pool_input("max_pool2d", _max_probe, input)
    k, s, p = _pool_settings("max_pool2d", kernel_size, stride, padding)
    d = _check.int_pair("max_pool2d", "dilation", dilation, 1)
    out, idx = _core.max_pool2d(x, k, s, p, d, _check.flag("max_pool2d", "ceil_mode", ceil_mode))
    return (out, idx) if _check.flag("max_pool2d", "return_indices", return_indices) else out


def max_pool2d_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    *,
    indices: ArrayLike | None = None,
) -> np.ndarray:
    """Gradient of :func:`max_pool2d`: each output's gradient goes to its maximum (the first
    one on ties), as in PyTorch.

    Pass the ``indices`` from ``max_pool2d(..., return_indices=True)`` to skip finding the
    maxima again.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.max_pool2d_backward(np.ones((1, 1, 1)), np.arange(4.0).reshape(1, 2, 2), 2).tolist()
    [[[0.0, 0.0], [0.0, 1.0]]]
    """
    func = "max_pool2d_backward"
    x = _pool_input(func, _max_probe, input)
    if indices is None:
        k, s, p = _pool_settings(func, kernel_size, stride, padding)
        d = _check.int_pair(func, "dilation", dilation, 1)
        _, idx = _core.max_pool2d(x, k, s, p, d, _check.flag(func, "ceil_mode", ceil_mode))
    else:
        idx = as_int64(func, "indices", indices)
    go = as_float(func, "grad_output", grad_output, x.dtype)
    return _core.max_pool2d_backward(go, idx, list(x.shape))


def _avg_settings(
    func: str, kernel_size: Any, stride: Any, padding: Any, divisor_override: Any
) -> tuple[list[int], list[int], list[int], int | None]:
    k, s, p = _pool_settings(func, kernel_size, stride, padding)
    div = None
    if divisor_override is not None:
        div = _check.int_arg(func, "divisor_override", divisor_override, 1)
    return k, s, p, div


def avg_pool2d(
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Average pooling over the last two axes, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    input : array_like
        (N, C, H, W) or (C, H, W).
    kernel_size, stride, padding, ceil_mode
        As in :func:`max_pool2d` (padding adds zeros).
    count_include_pad : bool
        Divide by the window size within the padded input (True) or by the number of input
        elements in the window (False).
    divisor_override : int, optional
        A fixed positive divisor instead.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 2).tolist()
    [[[2.5, 4.5], [10.5, 12.5]]]
    """
    x = _pool_input("avg_pool2d", _mean_probe, input)
    k, s, p, div = _avg_settings("avg_pool2d", kernel_size, stride, padding, divisor_override)
    ceil = _check.flag("avg_pool2d", "ceil_mode", ceil_mode)
    with_pad = _check.flag("avg_pool2d", "count_include_pad", count_include_pad)
    return _core.avg_pool2d(x, k, s, p, ceil, with_pad, div)


def avg_pool2d_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d`: each output's gradient over its divisor, spread over
    its window.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import ops
    >>> ops.avg_pool2d_backward(np.ones((1, 1, 1)), np.zeros((1, 2, 2)), 2).tolist()
    [[[0.25, 0.25], [0.25, 0.25]]]
    """
    func = "avg_pool2d_backward"
    x = _pool_input(func, _mean_probe, input)
    k, s, p, div = _avg_settings(func, kernel_size, stride, padding, divisor_override)
    go = as_float(func, "grad_output", grad_output, x.dtype)
    return _core.avg_pool2d_backward(
        go,
        list(x.shape),
        k,
        s,
        p,
        _check.flag(func, "ceil_mode", ceil_mode),
        _check.flag(func, "count_include_pad", count_include_pad),
        div,
    )
