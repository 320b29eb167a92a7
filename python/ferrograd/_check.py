"""Checks of settings (sizes, rates, probabilities, flags, choices) with uniform messages.

Every check names the function, the argument, what was expected and what came, and raises
:class:`~ferrograd.DTypeError` for a value of the wrong kind (a string for a size, a float for
a count) and :class:`~ferrograd.ArgumentError` for a value of the right kind out of range.

Examples
--------
>>> count("Linear", "in_features", 3)
3
>>> count("Linear", "in_features", 2.5)
Traceback (most recent call last):
...
ferrograd.exceptions.DTypeError: Linear: in_features must be an int, got 2.5 (float)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .exceptions import ArgumentError, DTypeError, ShapeError

#: Largest size of one axis (in_features, hidden_size, channels, ...): far beyond any array
#: that fits in memory, but small enough that products of a few stay exact.
MAX_SIZE = 2**40

#: Largest number of stacked layers (an RNN's num_layers): each is a set of parameters.
MAX_LAYERS = 2**16


def _kind(value: Any) -> str:
    return type(value).__name__


def count(func: str, name: str, value: Any, low: int = 0, high: int = MAX_SIZE) -> int:
    """``value`` as an int in ``[low, high]``: Python or NumPy integers only (no bools,
    floats or strings, which would otherwise be truncated or concatenated silently)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DTypeError(f"{func}: {name} must be an int, got {value!r} ({_kind(value)})")
    v = int(value)
    if not low <= v <= high:
        if v < low:
            want = {0: "a non-negative int", 1: "a positive int"}.get(low, f"at least {low}")
        else:
            want = f"at most {high}"
        raise ArgumentError(f"{func}: {name} must be {want}, got {v}")
    return v


def positive(func: str, name: str, value: Any, high: int = MAX_SIZE) -> int:
    """``value`` as an int in ``[1, high]``."""
    return count(func, name, value, 1, high)


def real(
    func: str,
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a float in the interval from ``low`` to ``high`` (ends closed unless
    ``low_open`` / ``high_open``); NaN is refused, and so is inf when ``finite``."""
    if type(value) is float and low < value < high and (not finite or -math.inf < value < math.inf):
        return value  # the common case, checked on every optimizer step: kept cheap
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise DTypeError(f"{func}: {name} must be a real number, got {value!r} ({_kind(value)})")
    v = float(value)
    below = v <= low if low_open else v < low
    above = v >= high if high_open else v > high
    if math.isnan(v) or (finite and math.isinf(v)) or below or above:
        raise ArgumentError(
            f"{func}: {name} must be {_interval(low, high, low_open, high_open, finite)}, "
            f"got {value!r}"
        )
    return v


def _interval(low: float, high: float, low_open: bool, high_open: bool, finite: bool) -> str:
    if low == -math.inf and high == math.inf:
        return "a finite number" if finite else "a number (not NaN)"
    if high == math.inf:
        return f"{'greater than' if low_open else 'at least'} {low:g}"
    if low == -math.inf:
        return f"{'less than' if high_open else 'at most'} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def probability(func: str, name: str, value: Any) -> float:
    """``value`` as a float in [0, 1]."""
    return real(func, name, value, 0.0, 1.0)


def flag(func: str, name: str, value: Any) -> bool:
    """``value`` as a bool: ``True``/``False`` (or NumPy's), not a truthy string or number."""
    if value is True or value is False:
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{func}: {name} must be True or False, got {value!r} ({_kind(value)})")
    return bool(value)


def choice(func: str, name: str, value: Any, options: Sequence[str]) -> str:
    """``value``, one of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ArgumentError(f"{func}: {name} must be one of {listed}, got {value!r}")
    return value


def pair(
    func: str, name: str, value: Any, low: float, high: float, *, high_open: bool = False
) -> tuple[float, float]:
    """A pair of reals, each between ``low`` and ``high`` (like Adam's ``betas``)."""
    if isinstance(value, np.ndarray):
        value = tuple(value.tolist())
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise DTypeError(
            f"{func}: {name} must be a pair of numbers, got {value!r} ({_kind(value)})"
        )
    a = real(func, f"{name}[0]", value[0], low, high, high_open=high_open)
    b = real(func, f"{name}[1]", value[1], low, high, high_open=high_open)
    return a, b


def dims(func: str, name: str, value: Any, low: int = 1) -> tuple[int, ...]:
    """An int or a non-empty sequence of ints, each in ``[low, MAX_SIZE]`` (a shape)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (count(func, name, value, low),)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or not value:
        raise DTypeError(
            f"{func}: {name} must be an int or a non-empty sequence of ints, got {value!r} "
            f"({_kind(value)})"
        )
    return tuple(count(func, f"{name}[{i}]", v, low) for i, v in enumerate(value))


def axis(func: str, name: str, value: Any) -> int:
    """An axis index (any int; checked against the array's rank where it is used)."""
    return count(func, name, value, -MAX_SIZE, MAX_SIZE)


def any_dtype(func: str, dtype: Any) -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype, or a DTypeError naming ``func``."""
    try:
        return np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{func}: dtype must be a NumPy dtype, got {dtype!r}") from None


def param_dtype(func: str, dtype: Any) -> np.dtype[Any]:
    """The dtype of new parameters: ``dtype`` (float32 or float64), or the default dtype."""
    if dtype is None:
        from .tensor import get_default_dtype

        return get_default_dtype()
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = np.dtype(object)  # not a dtype at all: refused below
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"{func}: dtype must be float32 or float64, got {dtype!r}")
    return dt


def dim(func: str, name: str, value: Any, ndim: int) -> int:
    """An axis of an array of ``ndim`` axes (negative counts from the end; a 0-d array has
    one, as in PyTorch); out of range is a ShapeError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DTypeError(f"{func}: {name} must be an int, got {value!r} ({_kind(value)})")
    n = max(ndim, 1)
    if not -n <= value < n:
        raise ShapeError(
            f"{func}: {name} {int(value)} is out of range for an input of {ndim} dimension(s) "
            f"(expected {-n} to {n - 1})"
        )
    return int(value)


def number(func: str, name: str, value: Any) -> float:
    """A real number (a 0-d array too), infinities and NaN included, as a float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise DTypeError(f"{func}: {name} must be a real number, got {value!r}")
    return float(value)


REDUCTIONS = ("none", "mean", "sum")


def reduction(func: str, value: Any, options: Sequence[str] = REDUCTIONS) -> str:
    """A loss's ``reduction``: one of ``options``."""
    if not isinstance(value, str) or value not in options:
        names = ", ".join(repr(o) for o in options[:-1]) + f" or {options[-1]!r}"
        raise ArgumentError(f"{func}: reduction must be {names}, got {value!r}")
    return value


#: The reductions of the loss modules; KLDivLoss adds "batchmean".
MODULE_REDUCTIONS = ("none", "mean", "sum")


def module_reduction(cls: str, value: Any, batchmean: bool = False) -> str:
    """A loss module's ``reduction``: one of ``MODULE_REDUCTIONS`` (and "batchmean" when
    ``batchmean``), checked when the module is built."""
    options = MODULE_REDUCTIONS + (("batchmean",) if batchmean else ())
    return choice(cls, "reduction", value, options)


def adam_group(
    func: str, group: dict[str, Any], reals: Sequence[str] = (), flags: Sequence[str] = ()
) -> None:
    """Checks and converts, in place, the hyperparameters of an Adam-family parameter group:
    ``lr`` (at least 0, inf allowed), ``betas`` (each in [0, 1)), ``eps`` and
    ``weight_decay`` (finite, at least 0), then each of ``reals`` (finite, at least 0) and
    each of ``flags`` (a bool, False when missing)."""
    group["lr"] = real(func, "lr", group["lr"], 0.0, finite=False)
    group["betas"] = pair(func, "betas", group["betas"], 0.0, 1.0, high_open=True)
    group["eps"] = real(func, "eps", group["eps"], 0.0)
    group["weight_decay"] = real(func, "weight_decay", group["weight_decay"], 0.0)
    for key in reals:
        group[key] = real(func, key, group[key], 0.0)
    for key in flags:
        group[key] = flag(func, key, group.get(key, False))


def int64(func: str, name: str, value: Any) -> int:
    """``value`` (a Python or NumPy integer, or a 0-d integer array) as an int in the int64
    range (like ``ignore_index``)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return count(func, name, value, -(2**63), 2**63 - 1)


def int_arg(func: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DTypeError(f"{func}: {name} must be an int, got {value!r}")
    v = int(value)
    if v < minimum:
        what = "positive" if minimum > 0 else "non-negative"
        raise ArgumentError(f"{func}: {name} must be {what}, got {value!r}")
    if v >= 2**62:
        raise ArgumentError(f"{func}: {name} {value!r} is too large")
    return v


def int_pair(func: str, name: str, value: Any, minimum: int) -> list[int]:
    """An int or a pair of ints (height, width) as a list of two ints of at least ``minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ArgumentError(f"{func}: {name} must be an int or a pair of ints, got {value!r}")
        items = value
    elif isinstance(value, np.ndarray) and value.shape == (2,):
        items = value.tolist()
    else:
        items = (value, value)
    try:
        return [int_arg(func, name, v, minimum) for v in items]
    except DTypeError:
        raise DTypeError(
            f"{func}: {name} must be an int or a pair of ints, got {value!r}"
        ) from None
    except ValueError:
        what = "positive" if minimum > 0 else "non-negative"
        raise ArgumentError(f"{func}: {name} must be {what} and not huge, got {value!r}") from None


def dim_keepdim(func: str, dim: Any, keepdim: Any, kw: dict[str, Any]) -> tuple[Any, bool]:
    """``dim`` and ``keepdim``, also given as NumPy's ``axis`` and ``keepdims``."""
    for k in kw:
        if k not in ("axis", "keepdims"):
            raise TypeError(f"{func}() got an unexpected keyword argument '{k}'")
    if "axis" in kw:
        if dim is not None:
            raise TypeError(f"{func}: got both 'dim' and 'axis'")
        dim = kw["axis"]
    if "keepdims" in kw:
        keepdim = kw["keepdims"]
    return dim, flag(func, "keepdim", keepdim)
