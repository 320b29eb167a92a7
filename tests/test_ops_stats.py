"""abs, log1p, clamp, min, argmax/argmin, var and std of ferrograd.ops against the float64
references in reference.py, forward and backward, and each backward by finite differences.

Shapes come from hypothesis (size-0 and size-1 axes, 0-d arrays) in float32 and float64 and
in several memory layouts.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import reference as R
from ferrograd import ops
from ferrograd.exceptions import ArgumentError, DTypeError, ShapeError
from helpers import FLOATS, arrays, assert_close, layouts, shapes, sum_atol, with_layout
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = st.sampled_from(FLOATS)


def _numeric_grad(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, g: np.ndarray) -> Any:
    """d/dx of sum(g * f(x)) by central differences (float64)."""
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    h = 1e-6
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        out[i] = np.sum(g * (f(xp) - f(xm))) / (2 * h)
    return out


def _check_fd(f: Callable[[np.ndarray], Any], grad: np.ndarray, x: np.ndarray, g: Any) -> None:
    num = _numeric_grad(lambda v: np.asarray(f(v)), x, np.asarray(g, dtype=np.float64))
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- unary


@pytest.mark.parametrize("op,lo,hi", [("abs", -3.0, 3.0), ("log1p", -0.875, 3.0)])
@given(data=st.data())
def test_unary_forward_and_backward(op: str, lo: float, hi: float, data: Any) -> None:
    dtype = data.draw(DTYPES)
    shape = data.draw(shapes(max_side=4))
    x = with_layout(data.draw(arrays(dtype, shape, lo, hi)), data.draw(layouts()))
    g = data.draw(arrays(dtype, shape))
    assert_close(getattr(ops, op)(x), R.unary_ref(op, x), dtype, reduce_len=2)
    grad = getattr(ops, f"{op}_backward")(g, x)
    assert_close(grad, R.unary_grad_ref(op, g, x), dtype, reduce_len=2)


def test_unary_finite_differences_and_edges() -> None:
    x = np.array([[-1.5, 0.3], [2.0, -0.7]])
    g = np.array([[1.0, -2.0], [0.5, 3.0]])
    _check_fd(ops.abs, ops.abs_backward(g, x), x, g)
    _check_fd(ops.log1p, ops.log1p_backward(g, x + 1.0), x + 1.0, g)
    # PyTorch: the gradient of |x| is 0 at 0 and at NaN.
    e = np.array([0.0, -0.0, np.nan, -2.0])
    np.testing.assert_array_equal(ops.abs_backward(np.ones(4), e), [0.0, 0.0, 0.0, -1.0])
    assert float(ops.log1p(np.array(1e-20))) == 1e-20
    assert ops.log1p(np.float32(-1.0)) == -np.inf
    assert ops.abs(np.float32(-2.0)).dtype == np.float32
    with pytest.raises(ShapeError):
        ops.abs_backward(np.ones(3), np.ones(4))
    with pytest.raises(DTypeError):
        ops.abs(np.array([1, -2]))  # NumPy keeps integers; ferrograd computes on floats


# ----------------------------------------------------------------------------- clamp

BOUNDS = [(-1.0, 1.0), (None, 0.5), (-0.25, None), (1.0, -1.0), (0.0, 0.0)]


@pytest.mark.parametrize("lo,hi", BOUNDS)
@given(data=st.data())
def test_clamp_forward_and_backward(lo: Any, hi: Any, data: Any) -> None:
    dtype = data.draw(DTYPES)
    shape = data.draw(shapes(max_side=4))
    x = data.draw(arrays(dtype, shape))
    # Exact hits on the bounds, where the gradient passes (as PyTorch).
    x = np.where(np.arange(x.size).reshape(x.shape) % 3 == 0, dtype(lo or 0.0), x).astype(dtype)
    x = with_layout(x, data.draw(layouts()))
    g = data.draw(arrays(dtype, shape))
    assert_close(ops.clamp(x, lo, hi), R.clamp_ref(x, lo, hi), dtype)
    assert_close(ops.clamp_backward(g, x, lo, hi), R.clamp_grad_ref(g, x, lo, hi), dtype)


def test_clamp_examples_and_errors() -> None:
    x = np.array([-2.0, -1.0, 0.5, 1.0, 3.0, np.nan])
    np.testing.assert_array_equal(ops.clamp(x, -1, 1), [-1.0, -1.0, 0.5, 1.0, 1.0, np.nan])
    np.testing.assert_array_equal(ops.clamp_backward(np.ones(6), x, -1, 1), [0, 1, 1, 1, 0, 0])
    # min > max: max everywhere (NaN stays), no gradient; a NaN bound gives NaN.
    np.testing.assert_array_equal(ops.clamp(x, 2, 1), [1, 1, 1, 1, 1, np.nan])
    np.testing.assert_array_equal(ops.clamp_backward(np.ones(6), x, 2, 1), np.zeros(6))
    assert np.isnan(ops.clamp(x, min=np.nan)).all()
    xs = np.array([-0.8, 0.2, 0.9])
    g = np.array([1.0, 2.0, 3.0])
    _check_fd(lambda v: ops.clamp(v, -0.5, 0.5), ops.clamp_backward(g, xs, -0.5, 0.5), xs, g)
    with pytest.raises(ArgumentError, match="clamp: at least one"):
        ops.clamp(x)
    with pytest.raises(ArgumentError, match="clamp_backward: at least one"):
        ops.clamp_backward(np.ones(6), x)
    with pytest.raises(DTypeError, match="clamp: min"):
        ops.clamp(x, min="1")
    with pytest.raises(DTypeError, match="clamp: max"):
        ops.clamp(x, max=np.ones(3))


# ----------------------------------------------------------------------------- min


@st.composite
def axes_for(draw: Any, ndim: int) -> Any:
    kind = draw(st.sampled_from(("none", "int", "tuple")))
    if kind == "none" or (kind == "int" and ndim == 0):
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return draw(hnp.valid_tuple_axes(ndim))


def _count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    items = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in items], dtype=np.int64))


@given(data=st.data())
def test_min_forward_and_backward(data: Any) -> None:
    dtype = data.draw(DTYPES)
    # Few distinct values: ties are common.
    x = data.draw(
        hnp.arrays(
            dtype, data.draw(shapes(max_side=4)), elements=st.sampled_from([-1.0, 0.0, 2.0, 0.5])
        )
    )
    x = with_layout(x, data.draw(layouts()))
    axis, keepdims = data.draw(axes_for(x.ndim)), data.draw(st.booleans())
    if _count(x.shape, axis) == 0:
        with pytest.raises(ShapeError, match="minimum which has no identity"):
            ops.min(x, axis=axis, keepdims=keepdims)
        return
    ref = R.reduce_ref("min", x, axis, keepdims)
    assert_close(ops.min(x, axis=axis, keepdims=keepdims), ref, dtype)
    np.testing.assert_array_equal(
        ops.min(x, axis=axis, keepdims=keepdims), np.min(x, axis=axis, keepdims=keepdims)
    )
    g = data.draw(arrays(dtype, ref.shape))
    got = ops.min_backward(g, x, axis=axis, keepdims=keepdims)
    assert_close(got, R.reduce_grad_ref("min", g, x, axis, keepdims), dtype)


def test_min_ties_nan_and_finite_differences() -> None:
    x = np.array([[1.0, -5.0, -5.0, 2.0], [3.0, 3.0, 3.0, 3.0], [np.nan, 0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(ops.min(x, axis=1), [-5.0, 3.0, np.nan])
    g = ops.min_backward(np.array([6.0, 4.0, 1.0]), x, axis=1)
    np.testing.assert_array_equal(g, [[0, 3, 3, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    xs = np.array([[0.3, -0.2, 0.9], [0.1, 0.7, -0.4]])
    gs = np.array([2.0, -1.0, 0.5])
    _check_fd(lambda v: ops.min(v, axis=0), ops.min_backward(gs, xs, axis=0), xs, gs)


# ----------------------------------------------------------------------------- argmax, argmin


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@given(data=st.data())
def test_arg_reductions(op: str, data: Any) -> None:
    dtype = data.draw(DTYPES)
    values = st.sampled_from([-1.0, 0.0, 2.0, 0.5, np.nan])
    x = data.draw(hnp.arrays(dtype, data.draw(shapes(max_side=4)), elements=values))
    x = with_layout(x, data.draw(layouts()))
    axis = None if x.ndim == 0 else data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    keepdims = data.draw(st.booleans())
    n = x.size if axis is None else x.shape[axis]
    if n == 0:
        with pytest.raises(ShapeError, match="empty sequence"):
            getattr(ops, op)(x, axis=axis, keepdims=keepdims)
        return
    got = getattr(ops, op)(x, axis=axis, keepdims=keepdims)
    want = getattr(np, op)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, R.arg_ref(op, x, axis, keepdims))


def test_arg_reductions_large_and_errors() -> None:
    x = np.zeros(200_000, dtype=np.float32)
    x[150_000] = x[170_000] = 1.0
    x[190_000] = -1.0
    assert int(ops.argmax(x)) == 150_000 and int(ops.argmin(x)) == 190_000
    big = np.tile(np.arange(5.0), (40_000, 1)).T.copy()  # (5, 40000): axis 0 strided
    np.testing.assert_array_equal(ops.argmax(big, axis=0), np.full(40_000, 4))
    assert int(ops.argmax(np.array([1, 7, 7]))) == 1  # integers compared as float64
    with pytest.raises(ShapeError, match="out of bounds"):
        ops.argmax(np.ones((2, 3)), axis=2)
    with pytest.raises(DTypeError, match="argmin: axis"):
        ops.argmin(np.ones((2, 3)), axis=(0, 1))


# ----------------------------------------------------------------------------- var, std


@pytest.mark.parametrize("op", ["var", "std"])
@given(data=st.data())
def test_var_std_forward_and_backward(op: str, data: Any) -> None:
    dtype = data.draw(DTYPES)
    x = data.draw(arrays(dtype, data.draw(shapes(max_side=4)), -2.0, 2.0))
    x = with_layout(x, data.draw(layouts()))
    axis, keepdims = data.draw(axes_for(x.ndim)), data.draw(st.booleans())
    correction = data.draw(st.sampled_from([0, 1, 2, 0.5]))
    n = _count(x.shape, axis)
    ref = getattr(R, f"{op}_ref")(x, axis, correction, keepdims)
    with np.errstate(all="ignore"):
        out = getattr(ops, op)(x, axis=axis, correction=correction, keepdims=keepdims)
    assert out.shape == ref.shape and out.dtype == dtype
    if n - correction <= 0:
        # inf, or NaN for 0 / 0 (one element, or an empty reduction), as PyTorch.
        np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        return
    tol = 4 * n if op == "var" else 8 * n
    assert_close(out, ref, dtype, reduce_len=tol, atol=sum_atol(dtype, tol, 4.0))
    if op == "std" and np.any(ref < 1e-3):
        return  # the gradient of std is ill-conditioned near 0
    g = data.draw(arrays(dtype, ref.shape))
    got = getattr(ops, f"{op}_backward")(g, x, axis=axis, correction=correction, keepdims=keepdims)
    want = getattr(R, f"{op}_grad_ref")(g, x, axis, correction, keepdims)
    assert_close(got, want, dtype, reduce_len=tol, atol=sum_atol(dtype, tol, 8.0))


def test_var_std_examples_edges_and_finite_differences() -> None:
    x = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(ops.var(x, axis=1), np.var(x, axis=1, ddof=1), rtol=1e-15)
    np.testing.assert_allclose(ops.std(x, axis=0, correction=0), np.std(x, axis=0), rtol=1e-15)
    np.testing.assert_allclose(ops.var(x, axis=(0, 1)), np.var(x, ddof=1), rtol=1e-15)
    # A large mean does not cancel the variance (two passes).
    np.testing.assert_allclose(ops.var(np.array([1e9 + 1, 1e9 + 2, 1e9 + 3])), 1.0, rtol=1e-12)
    g = np.array([0.5, -2.0])
    xs = np.array([[0.3, -0.2, 0.9], [0.1, 0.7, -0.4]])
    for fwd, bwd in ((ops.var, ops.var_backward), (ops.std, ops.std_backward)):
        for c in (0, 1, 2):
            _check_fd(
                lambda v, f=fwd, c=c: f(v, axis=1, correction=c),
                bwd(g, xs, axis=1, correction=c),
                xs,
                g,
            )
        _check_fd(lambda v, f=fwd: f(v), bwd(1.0, xs), xs, 1.0)
    # std of a constant: 0 with gradient 0 (PyTorch masks it).
    np.testing.assert_array_equal(ops.std_backward(1.0, np.full(3, 2.0)), np.zeros(3))
    # N - correction <= 0, PyTorch's two paths.
    with np.errstate(all="ignore"):
        assert np.isnan(ops.var(np.float64(3.0)))
        assert float(ops.var(np.float64(3.0), correction=0)) == 0.0
        a = np.array([[1.0, 2.0], [3.0, 4.0]])
        assert float(ops.var(a, correction=4)) == np.inf
        np.testing.assert_array_equal(
            ops.var_backward(1.0, a, correction=5), np.full((2, 2), np.inf)
        )
        np.testing.assert_array_equal(
            ops.var_backward(np.ones(2), a, axis=1, correction=3), [[1.0, -1.0], [1.0, -1.0]]
        )
    with pytest.raises(ArgumentError, match="var: correction"):
        ops.var(x, correction=np.nan)
    with pytest.raises(DTypeError, match="std: correction"):
        ops.std(x, correction="1")
    with pytest.raises(ShapeError, match="grad_output"):
        ops.var_backward(np.ones(3), x, axis=1)
