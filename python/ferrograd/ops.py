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

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from ._arrays import as_array, cast, normalize_axis, prepare
from .exceptions import DTypeError, ShapeError

ArrayLike = Any

__all__ = [
    "add",
    "add_backward",
    "div",
    "div_backward",
    "exp",
    "exp_backward",
    "log",
    "log_backward",
    "log_softmax",
    "log_softmax_backward",
    "matmul",
    "matmul_backward",
    "max",
    "max_backward",
    "mean",
    "mean_backward",
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
    "sub",
    "sub_backward",
    "sum",
    "sum_backward",
    "sum_to_shape",
    "transpose",
    "transpose_backward",
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
    g_ = cast(as_array(name, "grad_output", g), a_.dtype)
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
    (x_,) = prepare("pow", lambda v: np.power(v, e), x=x)
    return _core.pow(x_, float(e))


def _unary_backward(name: str, ufunc: Any, g: ArrayLike, x: ArrayLike) -> np.ndarray:
    (x_,) = prepare(name, ufunc, x=x)
    g_ = cast(as_array(name, "grad_output", g), x_.dtype)
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


def pow_backward(grad_output: ArrayLike, x: ArrayLike, exponent: float) -> np.ndarray:
    """Gradient of :func:`pow`: ``grad_output * p * x**(p-1)`` (0 where ``p == 0``)."""
    e = _exponent("pow_backward", exponent)
    (x_,) = prepare("pow_backward", lambda v: np.power(v, e), x=x)
    g_ = cast(as_array("pow_backward", "grad_output", grad_output), x_.dtype)
    return _core.pow_backward(g_, x_, float(e))


# --------------------------------------------------------------------------- reductions


def _sum_probe(v: Any) -> Any:
    return np.sum(np.asarray(v))


def _mean_probe(v: Any) -> Any:
    return np.mean(np.asarray(v))


def _max_probe(v: Any) -> Any:
    return np.max(np.asarray(v))


def _reduce(name: str, ufunc: Any, x: ArrayLike, axis: Any, keepdims: bool) -> np.ndarray:
    (x_,) = prepare(name, ufunc, x=x)
    return getattr(_core, name)(x_, normalize_axis(name, axis), bool(keepdims))


def sum(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Sum over ``axis`` (None: every axis), as ``np.sum``."""
    return _reduce("sum", _sum_probe, x, axis, keepdims)


def mean(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Mean over ``axis`` (None: every axis), as ``np.mean`` (NaN for an empty reduction)."""
    return _reduce("mean", _mean_probe, x, axis, keepdims)


def max(x: ArrayLike, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis`` (None: every axis), as ``np.max``; NaN propagates."""
    return _reduce("max", _max_probe, x, axis, keepdims)


def _reduce_backward(
    name: str, ufunc: Any, g: ArrayLike, x: ArrayLike, axis: Any, keepdims: bool
) -> np.ndarray:
    (x_,) = prepare(name, ufunc, x=x)
    g_ = cast(as_array(name, "grad_output", g), x_.dtype)
    return getattr(_core, name)(g_, x_, normalize_axis(name, axis), bool(keepdims))


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


def sum_to_shape(grad: ArrayLike, shape: Sequence[int]) -> np.ndarray:
    """Sums ``grad`` over broadcast axes so it has ``shape``: the gradient of a broadcast."""
    (g,) = prepare("sum_to_shape", np.positive, grad=grad)
    return _core.sum_to_shape(g, [int(s) for s in shape])


# --------------------------------------------------------------------------- softmax


def _check_axis(func: str, axis: Any) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise DTypeError(f"{func}: axis must be an int, got {axis!r}")
    return int(axis)


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stable for large inputs."""
    (x_,) = prepare("softmax", np.exp, x=x)
    return _core.softmax(x_, _check_axis("softmax", axis))


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``, stable for large inputs."""
    (x_,) = prepare("log_softmax", np.exp, x=x)
    return _core.log_softmax(x_, _check_axis("log_softmax", axis))


def softmax_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: int = -1, *, output: ArrayLike | None = None
) -> np.ndarray:
    """Gradient of :func:`softmax`. Pass ``output=softmax(x)`` to skip recomputing it."""
    (x_,) = prepare("softmax_backward", np.exp, x=x)
    ax = _check_axis("softmax_backward", axis)
    y = _core.softmax(x_, ax) if output is None else cast(as_array("", "output", output), x_.dtype)
    g = cast(as_array("softmax_backward", "grad_output", grad_output), x_.dtype)
    return _core.softmax_backward(g, y, ax)


def log_softmax_backward(
    grad_output: ArrayLike, x: ArrayLike, axis: int = -1, *, output: ArrayLike | None = None
) -> np.ndarray:
    """Gradient of :func:`log_softmax`. Pass ``output=log_softmax(x)`` to skip recomputing."""
    (x_,) = prepare("log_softmax_backward", np.exp, x=x)
    ax = _check_axis("log_softmax_backward", axis)
    y = (
        _core.log_softmax(x_, ax)
        if output is None
        else cast(as_array("", "output", output), x_.dtype)
    )
    g = cast(as_array("log_softmax_backward", "grad_output", grad_output), x_.dtype)
    return _core.log_softmax_backward(g, y, ax)


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
            return np.ascontiguousarray(x).reshape(-1, *x.shape[-2:]), True
        return x.reshape(-1, *x.shape[-2:]), False

    def fit(
        self, grad: np.ndarray, shape2: tuple[int, ...], shape: tuple[int, ...], expanded: bool
    ) -> np.ndarray:
        """Brings a core gradient back to its operand's shape, summing expanded batch axes."""
        if expanded:
            grad = sum_to_shape(grad.reshape(*self.batch, *grad.shape[-2:]), shape2)
        return grad.reshape(shape)


def matmul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Matrix product with ``np.matmul``'s rules: 1-D, 2-D and batched (broadcast) operands."""
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
        if grad_output.dtype == a_.dtype:
            return _core.matmul_backward(grad_output, a_, b_)
    plan = _MatmulPlan(a_, b_)
    g = cast(as_array("matmul_backward", "grad_output", grad_output), a_.dtype)
    if g.shape != plan.out_shape:
        raise ShapeError(
            f"matmul_backward: grad_output has shape {g.shape}, but matmul of shapes "
            f"{a_.shape} and {b_.shape} gives {plan.out_shape}"
        )
    m, n = plan.a3.shape[-2], plan.b3.shape[-1]
    core_out = (m, n) if plan.a3.ndim == 2 and plan.b3.ndim == 2 else (-1, m, n)
    ga, gb = _core.matmul_backward(g.reshape(core_out), plan.a3, plan.b3)
    return plan.fit(ga, plan.a2_shape, a_.shape, plan.a_expanded), plan.fit(
        gb, plan.b2_shape, b_.shape, plan.b_expanded
    )


# --------------------------------------------------------------------------- views


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> np.ndarray:
    """Permutes axes (reverses them when ``axes`` is None); a view, no data moves."""
    x_ = as_array("transpose", "x", x)
    try:
        return np.transpose(x_, axes)
    except (ValueError, np.exceptions.AxisError) as e:
        raise ShapeError(f"transpose: {e}") from None


def transpose_backward(grad_output: ArrayLike, axes: Sequence[int] | None = None) -> np.ndarray:
    """Gradient of :func:`transpose`: the inverse permutation of ``grad_output``."""
    g = as_array("transpose_backward", "grad_output", grad_output)
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes))


def reshape(x: ArrayLike, shape: Sequence[int] | int) -> np.ndarray:
    """Gives ``x`` a new shape with the same number of elements (-1 infers one axis)."""
    x_ = as_array("reshape", "x", x)
    try:
        return np.reshape(x_, shape)
    except ValueError as e:
        raise ShapeError(f"reshape: {e}") from None


def reshape_backward(grad_output: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Gradient of :func:`reshape`: ``grad_output`` in ``x``'s shape."""
    g = as_array("reshape_backward", "grad_output", grad_output)
    return np.reshape(g, np.shape(x))
