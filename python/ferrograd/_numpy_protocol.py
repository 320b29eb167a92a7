"""What NumPy functions do with a :class:`~ferrograd.Tensor` (``__array_ufunc__`` and
``__array_function__``).

A NumPy function with a differentiable ferrograd counterpart runs that counterpart, so
``np.exp(t)``, ``np.add(a, t)``, ``np.sum(t, axis=0)`` or ``np.concatenate([t, u])`` give a
Tensor and keep the graph. Any other NumPy function runs on the plain data; if a Tensor that
requires a gradient went in and a float array would come out, the call is refused: the array
would carry no gradient, and every layer before it would silently stop learning. Results that
carry no gradient anyway (shapes, booleans, indices) come back as NumPy gives them.

Examples
--------
>>> import numpy as np, ferrograd as fg
>>> t = fg.tensor(np.array([0.0, 1.0]), requires_grad=True)
>>> type(np.exp(t)).__name__, bool(np.all(np.isfinite(t)))
('Tensor', True)
>>> try:
...     np.sin(t)
... except fg.DTypeError as e:
...     print(str(e)[:60])
np.sin of a Tensor that requires grad would return a plain a
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .exceptions import DTypeError

#: Suggestions for common NumPy functions without a direct counterpart.
_HINTS = {
    "maximum": "ferrograd.functional.relu (max with 0) or ferrograd.where",
    "minimum": "ferrograd.where",
    "square": "t * t",
    "reciprocal": "1 / t",
    "dot": "t @ u (Tensor.__matmul__)",
}


def _tensor_module() -> Any:
    # (`from . import tensor` would give the function ferrograd.tensor, not the module)
    return importlib.import_module(".tensor", __package__)


def _is_tensor(x: Any) -> bool:
    return isinstance(x, _tensor_module().Tensor)


def _needs_grad(values: Any) -> bool:
    """True when gradients are being recorded and a Tensor that requires one is among
    ``values`` (lists and tuples too)."""
    return _tensor_module().is_grad_enabled() and _holds_grad(values)


def _holds_grad(values: Any) -> bool:
    for v in values:
        if _is_tensor(v) and v.requires_grad:
            return True
        if isinstance(v, (list, tuple)) and _holds_grad(v):
            return True
    return False


def _plain(x: Any) -> Any:
    """``x`` with every Tensor replaced by its data (in lists, tuples and dicts too)."""
    if _is_tensor(x):
        return x.data
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _has_floats(result: Any) -> bool:
    if isinstance(result, (np.ndarray, np.generic)):
        return result.dtype.kind in "fc"
    if isinstance(result, (list, tuple)):
        return any(_has_floats(r) for r in result)
    return isinstance(result, float)


def _refuse(name: str) -> DTypeError:
    hint = _HINTS.get(name)
    if hint:
        instead = f"use {hint} instead"
    else:
        instead = f"ferrograd has no differentiable {name}: build it from ferrograd operations"
    return DTypeError(
        f"np.{name} of a Tensor that requires grad would return a plain array without a "
        f"gradient, and the layers before it would not learn; {instead}, or call "
        f"np.{name}(t.detach()) if no gradient is wanted"
    )


def _ufunc_table() -> dict[Any, Callable[..., Any]]:
    T = _tensor_module()
    from .autograd import NUMPY

    def power(a: Any, b: Any) -> Any:
        if not _is_tensor(a) or _is_tensor(b) or np.ndim(b) != 0:
            return NotImplemented
        return T.pow(a, b)

    return {
        **NUMPY,
        np.positive: lambda a: a,
        np.square: lambda a: T.mul(a, a),
        np.power: power,
    }


_UFUNCS: dict[Any, Callable[..., Any]] = {}


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tensor.__array_ufunc__``: the ferrograd counterpart, or NumPy on the data."""
    if not _UFUNCS:
        _UFUNCS.update(_ufunc_table())
    fn = _UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
    if fn is not None:
        result = fn(*inputs)
        if result is not NotImplemented:
            return result
    grad = _needs_grad(inputs) or _needs_grad(kwargs.get("out", ()))
    result = getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))
    if grad and _has_floats(result):
        raise _refuse(ufunc.__name__)
    return result


def _function_table() -> dict[Any, Callable[..., Any]]:
    T = _tensor_module()

    def reduction(op: Callable[..., Any]) -> Callable[..., Any]:
        def run(a: Any, axis: Any = None, *, keepdims: bool = False) -> Any:
            return op(a if _is_tensor(a) else T.Tensor(a), axis=axis, keepdims=keepdims)

        return run

    return {
        np.sum: reduction(T.sum),
        np.mean: reduction(T.mean),
        np.max: reduction(T.max),
        np.reshape: lambda a, shape: T.reshape(a, shape),
        np.transpose: lambda a, axes=None: T.transpose(a, axes),
        np.concatenate: lambda arrays, axis=0: (
            NotImplemented if axis is None else T.concat(arrays, axis)
        ),
        np.stack: lambda arrays, axis=0: T.stack(arrays, axis),
        np.where: lambda condition, x, y: T.where(condition, x, y),
        np.clip: lambda a, a_min=None, a_max=None: T.clamp(a, a_min, a_max),
    }


_FUNCTIONS: dict[Any, Callable[..., Any]] = {}


def _takes(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether the counterpart takes these arguments (not ``dtype=``, ``out=``, ...)."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tensor.__array_function__``: the ferrograd counterpart, or NumPy on the data."""
    if not _FUNCTIONS:
        _FUNCTIONS.update(_function_table())
    fn = _FUNCTIONS.get(func)
    if fn is not None and _takes(fn, args, kwargs):
        result = fn(*args, **kwargs)
        if result is not NotImplemented:
            return result
    grad = _needs_grad(args) or _needs_grad(list(kwargs.values()))
    result = func(*_plain(args), **_plain(kwargs))
    if grad and _has_floats(result):
        raise _refuse(func.__name__)
    return result
