"""Helpers shared by the tests: tolerances per dtype and hypothesis array strategies."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOATS = (np.float32, np.float64)
EPS = {np.dtype(np.float32): float(np.finfo(np.float32).eps), np.dtype(np.float64): 1e-12}
LAYOUTS = ("c", "strided", "fortran", "reversed")


def assert_close(
    actual: Any, expected: Any, dtype: Any, reduce_len: int = 1, atol: float | None = None
) -> None:
    """Compares against a float64 reference with a tolerance for ``dtype``.

    float64: 1e-12 relative (the computation is exact up to rounding). float32: a few ulps,
    scaled by ``reduce_len`` (the number of terms summed into each output).
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    dt = np.dtype(dtype)
    assert actual.dtype == dt, f"dtype {actual.dtype} != {dt}"
    if dt == np.float64:
        rtol = 1e-12 * max(1, reduce_len)
        tol_abs = 1e-12 * max(1, reduce_len) if atol is None else atol
    else:
        rtol = 8 * EPS[dt] * max(1.0, float(np.sqrt(reduce_len)) * 4)
        tol_abs = 8 * EPS[dt] * max(1, reduce_len) if atol is None else atol
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=tol_abs)


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 5) -> Any:
    """Array shapes including size-0 and size-1 axes."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def arrays(dtype: Any, shape: Any, lo: float = -3.0, hi: float = 3.0) -> Any:
    """Finite float arrays of ``dtype`` and ``shape`` with values in [lo, hi]."""
    return hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=np.dtype(dtype).itemsize * 8))


def non_contiguous(x: np.ndarray) -> np.ndarray:
    """The same values as ``x`` in a non-contiguous view (every other element of a bigger array)."""
    big = np.zeros((*x.shape[:-1], 2 * x.shape[-1]) if x.ndim else (2,), dtype=x.dtype)
    if x.ndim == 0:
        return x
    big[..., ::2] = x
    view = big[..., ::2]
    assert view.size <= 1 or not view.flags.c_contiguous or x.shape[-1] <= 1
    return view


def with_layout(x: np.ndarray, layout: str) -> np.ndarray:
    """The values of ``x`` in another memory layout: ``"c"`` (as is), ``"strided"`` (every other
    element of a bigger buffer), ``"fortran"`` (column-major) or ``"reversed"`` (negative
    strides along the last axis)."""
    if layout == "c":
        return x
    if layout == "strided":
        return non_contiguous(x)
    if layout == "fortran":
        return x.copy(order="F")
    if layout == "reversed":
        if x.ndim == 0:
            return x
        return np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    raise ValueError(f"unknown layout {layout!r}")


def layouts() -> Any:
    """One of :data:`LAYOUTS`."""
    return st.sampled_from(LAYOUTS)


def sum_atol(dtype: Any, reduce_len: int, magnitude: float) -> float:
    """Absolute tolerance for a sum of ``reduce_len`` terms of size up to ``magnitude``
    (cancellation can make the result small while the rounding error is not)."""
    dt = np.dtype(dtype)
    n = max(1, reduce_len)
    return (8 * EPS[dt] if dt == np.float32 else 1e-12) * n * max(1.0, magnitude)
