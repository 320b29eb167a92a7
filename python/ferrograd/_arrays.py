"""Turning user input into arrays the Rust core accepts, with NumPy's type promotion.

The core computes in float32 and float64. An operation's result type is whatever NumPy's own
ufunc would give for the same inputs (so ``float32 + python float`` stays float32 and ``exp`` of
an int64 array is float64); if NumPy would give anything else (an integer, bool, float16 or
complex result) the call raises :class:`~ferrograd.DTypeError` instead of silently changing the
meaning.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .exceptions import ArgumentError, DTypeError, ShapeError

FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))
_REAL_KINDS = frozenset("biuf")  # bool, signed and unsigned integers, floats
_SCALARS = (bool, int, float)
_cache: dict[tuple[Any, ...], np.dtype[Any]] = {}


def as_array(func: str, name: str, x: Any) -> Any:
    """Returns ``x`` as an ndarray, or a Python scalar unchanged (for weak promotion)."""
    if isinstance(x, np.ndarray):
        return x
    if type(x) in _SCALARS:
        return x
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and hasattr(x, "requires_grad"):
        return data  # a ferrograd.Tensor
    try:
        arr = np.asarray(x)
    except ValueError as e:
        raise ShapeError(f"{func}: {name} is not a rectangular array: {e}") from None
    except TypeError as e:
        raise DTypeError(f"{func}: {name} cannot be converted to an array: {e}") from None
    if arr.dtype == object:
        raise DTypeError(f"{func}: {name} has no numeric dtype (got objects of {type(x)!r})")
    return arr


def _probe(x: Any) -> Any:
    return np.empty((), x.dtype) if isinstance(x, np.ndarray) else x


def _key(x: Any) -> Any:
    return x.dtype if isinstance(x, np.ndarray) else type(x)


def result_dtype(func: str, ufunc: Callable[..., Any], *xs: Any) -> np.dtype[Any]:
    """The float dtype NumPy's ``ufunc`` gives for ``xs``, or a DTypeError."""
    key = (ufunc, *map(_key, xs))
    dt = _cache.get(key)
    if dt is None:
        try:
            with np.errstate(all="ignore"):
                dt = np.asarray(ufunc(*map(_probe, xs))).dtype
        except (TypeError, ValueError, OverflowError) as e:
            # The probe runs on dummy values, so any failure is about the input types.
            raise DTypeError(f"{func}: unsupported input types: {e}") from None
        _cache[key] = dt
    if dt not in FLOAT_TYPES:
        kinds = ", ".join(str(_key(x)) for x in xs)
        raise DTypeError(
            f"{func}: inputs of type {kinds} give {dt} in NumPy, but ferrograd computes in "
            f"float32 or float64; convert with .astype(np.float32) or .astype(np.float64)"
        )
    return dt


def c_readable(x: np.ndarray) -> bool:
    """False for column-major arrays: the core reads a contiguous buffer as C-ordered (and
    copies other strided arrays itself), so those must be copied to C order first."""
    return bool(x.flags.c_contiguous or not x.flags.f_contiguous)


def cast(x: Any, dt: np.dtype[Any]) -> np.ndarray:
    """``x`` as an array of dtype ``dt`` the core can read (no copy when it already is one)."""
    if isinstance(x, np.ndarray) and x.dtype == dt and c_readable(x):
        return x
    src = x if isinstance(x, np.ndarray) else np.asarray(x)
    if src.dtype.kind not in _REAL_KINDS:
        raise DTypeError(f"expected real numbers to convert to {dt}, got dtype {src.dtype}")
    return np.asarray(src, dtype=dt, order="C")


def as_float(func: str, name: str, x: Any, dt: np.dtype[Any]) -> np.ndarray:
    """A secondary argument (such as ``grad_output``) as an array of dtype ``dt``.

    Booleans, integers and floats are converted; anything else is a DTypeError.
    """
    arr = np.asarray(as_array(func, name, x))
    if arr.dtype.kind not in _REAL_KINDS:
        raise DTypeError(f"{func}: {name} must hold real numbers, got dtype {arr.dtype}")
    return cast(arr, dt)


def prepare(func: str, ufunc: Callable[..., Any], **named: Any) -> list[np.ndarray]:
    """Converts the named inputs, resolves their common float dtype and casts them to it."""
    vals = list(named.values())
    first = vals[0]
    # Fast path: float arrays of one dtype need no conversion or promotion.
    if type(first) is np.ndarray and first.dtype in FLOAT_TYPES:
        dt = first.dtype
        for v in vals:  # a loop, not all(<generator>): this runs for every op
            if type(v) is not np.ndarray or v.dtype != dt or not c_readable(v):
                break
        else:
            return vals
    xs = [as_array(func, name, v) for name, v in named.items()]
    for name, x in zip(named, xs):
        if isinstance(x, np.ndarray) and x.dtype.kind not in "biufc":
            raise DTypeError(
                f"{func}: {name} has dtype {x.dtype}, but ferrograd computes on numbers "
                "(float32 or float64; booleans and integers are converted)"
            )
    dt = result_dtype(func, ufunc, *xs)
    return [cast(x, dt) for x in xs]


def normalize_axis(func: str, axis: Any) -> list[int] | None:
    """``None``, an int or a sequence of ints, as a list for the core (None: all axes)."""
    if axis is None:
        return None
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise DTypeError(f"{func}: axis must be an int or a tuple of ints, got {axis!r}")
        out.append(check_axis_range(func, int(a)))
    return out


def check_axis_range(func: str, axis: int) -> int:
    """``axis`` unchanged, or a ShapeError when it is too large for any array."""
    if not -(2**62) <= axis < 2**62:
        raise ShapeError(f"{func}: axis {axis} is out of bounds")
    return axis


def narrow_float(where: str, arr: np.ndarray, dt: np.dtype[Any]) -> np.ndarray:
    """A copy of ``arr`` as ``dt``; an ArgumentError if a finite value overflows to inf (a
    float64 checkpoint loaded into float32 parameters, say). ``where`` starts the message."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(arr, dtype=dt, copy=True, order="C")
    if out.dtype.kind == "f" and arr.dtype.kind in "fiu" and out.dtype.itemsize < 8:
        overflow = np.isinf(out) & np.isfinite(arr)
        if overflow.any():
            at = tuple(int(i) for i in np.argwhere(overflow)[0])
            raise ArgumentError(
                f"{where}: value {arr[at].item()!r} at index {at} does not fit in {dt} (its "
                f"largest value is {np.finfo(dt).max:.4g}); convert the model to float64 with "
                ".double() to keep it"
            )
    return out


def as_int64(func: str, name: str, x: Any, what: str = "integers") -> np.ndarray:
    """``x`` (integers of any dtype) as a C-ordered int64 array; other dtypes are a DTypeError.

    Unsigned values above the int64 range are an ArgumentError rather than wrapping around to
    negative ones (a label of ``2**64 - 100`` would otherwise read as ``ignore_index``).
    """
    arr = np.asarray(as_array(func, name, x))
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{func}: {name} must hold {what}, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size:
        too_big = arr > np.uint64(np.iinfo(np.int64).max)
        if too_big.any():
            at = tuple(int(i) for i in np.argwhere(too_big)[0])
            raise ArgumentError(
                f"{func}: {name} has the value {int(arr[at])} at index {at}, above the largest "
                f"int64 ({np.iinfo(np.int64).max})"
            )
    return cast(arr, np.dtype(np.int64))
