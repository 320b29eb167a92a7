"""ferrograd.ops against the float64 references in reference.py, forward and backward.

Shapes come from hypothesis (broadcasting pairs, size-0 and size-1 axes, 0-d arrays) in
float32 and float64 and in several memory layouts; every backward is also checked by finite
differences.
"""

from __future__ import annotations

from typing import Any, Callable

import ferrograd
import numpy as np
import pytest
import reference as R
from ferrograd import ops
from ferrograd.exceptions import DTypeError, FerrogradError, ShapeError
from helpers import FLOATS, arrays, assert_close, layouts, shapes, sum_atol, with_layout
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = st.sampled_from(FLOATS)
BINARY = ("add", "sub", "mul", "div")
UNARY_RANGES = {"exp": (-3.0, 3.0), "log": (0.125, 3.0), "sqrt": (0.125, 3.0), "neg": (-3.0, 3.0)}
REDUCE = ("sum", "mean", "max")
EXPONENTS = (2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5)
_UFUNC = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide"}


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _mag(*xs: np.ndarray) -> float:
    """Product of the largest magnitudes of ``xs`` (the size of one summed term)."""
    out = 1.0
    for x in xs:
        out *= float(np.max(np.abs(np.asarray(x, dtype=np.float64)), initial=0.0))
    return out


def _away_from_zero(x: np.ndarray) -> np.ndarray:
    """Flips the sign of every other element of a positive array (keeps |x| >= its minimum)."""
    signs = np.where(np.arange(x.size) % 2 == 0, 1, -1).reshape(x.shape)
    return (x * signs).astype(x.dtype)


# ----------------------------------------------------------------------------- binary


@st.composite
def binary_cases(draw: Any, op: str) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    bs = draw(
        hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4
        )
    )
    sa, sb = bs.input_shapes
    a = draw(arrays(dtype, sa))
    b = (
        _away_from_zero(draw(arrays(dtype, sb, 0.5, 3.0)))
        if op == "div"
        else draw(arrays(dtype, sb))
    )
    g = draw(arrays(dtype, np.broadcast_shapes(sa, sb)))
    return dtype, with_layout(a, draw(layouts())), with_layout(b, draw(layouts())), g


@pytest.mark.parametrize("op", BINARY)
@given(data=st.data())
def test_binary_forward_and_backward(op: str, data: Any) -> None:
    dtype, a, b, g = data.draw(binary_cases(op))
    out = getattr(ops, op)(a, b)
    assert_close(out, R.binary_ref(op, a, b), dtype)
    ga, gb = getattr(ops, f"{op}_backward")(g, a, b)
    ra, rb = R.binary_grad_ref(op, g, a, b)
    # Each gradient sums g.size / x.size terms of size up to |g| times this (|b| >= 0.5 in div).
    factor = {"add": 1.0, "sub": 1.0, "mul": max(_mag(a), _mag(b)), "div": 4 * max(1.0, _mag(a))}
    scale = _mag(g) * factor[op]
    for grad, ref, x in ((ga, ra, a), (gb, rb, b)):
        n = g.size // max(1, x.size)
        assert_close(grad, ref, dtype, reduce_len=n, atol=sum_atol(dtype, n, scale))


def test_binary_examples() -> None:
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = np.array([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(ops.add(a, b), [[11, 22, 33], [14, 25, 36]])
    np.testing.assert_array_equal(ops.sub(b, a), [[9, 18, 27], [6, 15, 24]])
    np.testing.assert_array_equal(ops.mul(a, b[:, None][:2]), [[10, 20, 30], [80, 100, 120]])
    np.testing.assert_array_equal(ops.div(a, 2.0), a / 2)
    ga, gb = ops.div_backward(np.ones((2, 3)), a, b)
    np.testing.assert_allclose(ga, np.broadcast_to(1 / b, (2, 3)))
    np.testing.assert_allclose(gb, -(a / b**2).sum(axis=0))
    ga, gb = ops.sub_backward(np.full((2, 3), 2.0), a, np.float64(3.0))
    np.testing.assert_array_equal(ga, np.full((2, 3), 2.0))
    assert gb.shape == () and float(gb) == -12.0


def test_binary_zero_size_broadcast() -> None:
    a, b = np.zeros((0, 3)), np.ones((1, 3))
    assert ops.add(a, b).shape == (0, 3)
    ga, gb = ops.mul_backward(np.zeros((0, 3)), a, b)
    assert ga.shape == (0, 3)
    np.testing.assert_array_equal(gb, np.zeros((1, 3)))
    assert ops.mul(np.ones((2, 0)), np.ones((2, 1))).shape == (2, 0)


def test_binary_shape_mismatch() -> None:
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(2,\)"):
        ops.add(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ShapeError, match="grad_output"):
        ops.add_backward(np.zeros((3, 2)), np.zeros((2, 3)), np.zeros(3))


# ----------------------------------------------------------------------------- unary


@st.composite
def unary_cases(draw: Any, op: str) -> tuple[Any, np.ndarray, np.ndarray, float]:
    dtype = draw(DTYPES)
    shape = draw(shapes(max_side=4))
    p = draw(st.sampled_from(EXPONENTS)) if op == "pow" else 2.0
    if op == "pow" and p != int(p):
        lo, hi = 0.125, 3.0
    elif op == "pow" and p < 0:
        lo, hi = 0.5, 3.0
    else:
        lo, hi = UNARY_RANGES.get(op, (-3.0, 3.0))
    x = draw(arrays(dtype, shape, lo, hi))
    if op == "pow" and p < 0 and p == int(p):
        x = _away_from_zero(x)
    g = draw(arrays(dtype, shape))
    return dtype, with_layout(x, draw(layouts())), g, p


@pytest.mark.parametrize("op", [*UNARY_RANGES, "pow"])
@given(data=st.data())
def test_unary_forward_and_backward(op: str, data: Any) -> None:
    dtype, x, g, p = data.draw(unary_cases(op))
    if op == "pow":
        out, grad = ops.pow(x, p), ops.pow_backward(g, x, p)
    else:
        out, grad = getattr(ops, op)(x), getattr(ops, f"{op}_backward")(g, x)
    # Integer powers are repeated products: a few roundings each.
    assert_close(out, R.unary_ref(op, x, p), dtype, reduce_len=4)
    assert_close(grad, R.unary_grad_ref(op, g, x, p), dtype, reduce_len=4)


def test_unary_examples() -> None:
    x = np.array([0.25, 1.0, 4.0])
    np.testing.assert_allclose(ops.sqrt(x), [0.5, 1.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(ops.sqrt_backward(np.ones(3), x), [1.0, 0.5, 0.25], rtol=1e-15)
    np.testing.assert_allclose(ops.log(x), np.log(x), rtol=1e-15)
    np.testing.assert_allclose(ops.log_backward(np.full(3, 2.0), x), [8.0, 2.0, 0.5])
    np.testing.assert_array_equal(ops.neg(x), -x)
    np.testing.assert_allclose(ops.pow(x, -1), [4.0, 1.0, 0.25], rtol=1e-15)
    np.testing.assert_allclose(ops.pow_backward(np.ones(3), x, 3), 3 * x**2, rtol=1e-15)
    np.testing.assert_array_equal(ops.pow_backward(np.ones(3), x, 0), np.zeros(3))
    np.testing.assert_allclose(ops.exp_backward(np.ones(3), x), np.exp(x), rtol=1e-15)


def test_unary_grad_shape_mismatch() -> None:
    with pytest.raises(ShapeError):
        ops.exp_backward(np.ones(3), np.ones(4))
    with pytest.raises(ShapeError):
        ops.pow_backward(np.ones((3, 1)), np.ones(3), 2.0)


# ----------------------------------------------------------------------------- reductions


@st.composite
def axes_for(draw: Any, ndim: int) -> Any:
    """None, an int or a tuple of distinct (possibly negative) axes valid for ``ndim``."""
    kind = draw(st.sampled_from(("none", "int", "tuple")))
    if kind == "none" or (kind == "int" and ndim == 0):
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return draw(hnp.valid_tuple_axes(ndim))


@st.composite
def reduce_cases(draw: Any) -> tuple[Any, np.ndarray, Any, bool]:
    dtype = draw(DTYPES)
    x = draw(arrays(dtype, draw(shapes(max_side=4))))
    return dtype, with_layout(x, draw(layouts())), draw(axes_for(x.ndim)), draw(st.booleans())


def _reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return _size(shape)
    items = axis if isinstance(axis, tuple) else (axis,)
    return _size(tuple(shape[a] for a in items))


@pytest.mark.parametrize("op", REDUCE)
@given(data=st.data())
def test_reduce_forward_and_backward(op: str, data: Any) -> None:
    dtype, x, axis, keepdims = data.draw(reduce_cases())
    count = _reduced_count(x.shape, axis)
    fwd, bwd = getattr(ops, op), getattr(ops, f"{op}_backward")
    if op == "max" and count == 0:
        with pytest.raises(ShapeError, match="zero-size"):
            fwd(x, axis=axis, keepdims=keepdims)
        with pytest.raises(ValueError):
            np.max(x, axis=axis, keepdims=keepdims)
        return
    out = fwd(x, axis=axis, keepdims=keepdims)
    ref = R.reduce_ref(op, x, axis, keepdims)
    assert_close(out, ref, dtype, reduce_len=count, atol=sum_atol(dtype, count, _mag(x)))
    g = data.draw(arrays(dtype, ref.shape))
    assert_close(
        bwd(g, x, axis=axis, keepdims=keepdims), R.reduce_grad_ref(op, g, x, axis, keepdims), dtype
    )


def test_reduce_examples() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.sum(x, axis=(0, 2)), [60.0, 92.0, 124.0])
    np.testing.assert_array_equal(ops.sum(x, axis=-1, keepdims=True), x.sum(-1, keepdims=True))
    np.testing.assert_array_equal(ops.mean(x, axis=[2, 0]), x.mean(axis=(0, 2)))
    np.testing.assert_array_equal(ops.max(x, axis=1), x[:, 2, :])
    assert ops.sum(x).shape == () and float(ops.sum(x)) == 276.0
    np.testing.assert_array_equal(ops.sum(x, axis=()), x)
    np.testing.assert_array_equal(
        ops.mean_backward(np.ones(3), x, axis=(0, 2)), np.full(x.shape, 1 / 8)
    )


def test_max_gradient_is_shared_among_ties() -> None:
    x = np.array([[1.0, 5.0, 5.0, 2.0], [3.0, 3.0, 3.0, 3.0], [-1.0, -2.0, -1.0, -4.0]])
    g = ops.max_backward(np.array([6.0, 4.0, 1.0]), x, axis=1)
    np.testing.assert_array_equal(
        g, [[0.0, 3.0, 3.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.5, 0.0, 0.5, 0.0]]
    )
    g = ops.max_backward(np.float32(2.0), x.astype(np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.where(x == 5.0, 1.0, 0.0))


def test_empty_reductions_follow_numpy() -> None:
    e = np.zeros((0, 3))
    assert float(ops.sum(e)) == 0.0
    np.testing.assert_array_equal(ops.sum(e, axis=0), np.zeros(3))
    with np.errstate(all="ignore"):
        assert np.isnan(ops.mean(e))
        assert np.isnan(ops.mean(e, axis=0)).all() and ops.mean(e, axis=0).shape == (3,)
    assert ops.mean(e, axis=1).shape == (0,)
    assert ops.max(e, axis=1).shape == (0,)
    with pytest.raises(ShapeError):
        ops.max(e)
    with pytest.raises(ShapeError):
        ops.max(e, axis=0)


def test_reduce_0d() -> None:
    x = np.float64(2.5)
    for op in REDUCE:
        out = getattr(ops, op)(x)
        assert out.shape == () and float(out) == 2.5
        grad = getattr(ops, f"{op}_backward")(np.float64(3.0), x)
        assert grad.shape == () and float(grad) == 3.0


def test_reduce_grad_shape_mismatch() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ShapeError, match="grad_output"):
        ops.sum_backward(np.ones(2), x, axis=0)
    with pytest.raises(ShapeError, match="grad_output"):
        ops.max_backward(np.ones(3), x, axis=0, keepdims=True)


# ----------------------------------------------------------------------------- axes


@pytest.mark.parametrize("op", REDUCE)
def test_axis_normalisation(op: str) -> None:
    x = np.arange(60.0).reshape(3, 4, 5)
    f = getattr(ops, op)
    ref = getattr(np, op)
    np.testing.assert_allclose(f(x, axis=-1), ref(x, axis=2), rtol=1e-15)
    np.testing.assert_allclose(f(x, axis=(-1, 0)), ref(x, axis=(0, 2)), rtol=1e-15)
    np.testing.assert_allclose(f(x, axis=[1]), ref(x, axis=1), rtol=1e-15)
    np.testing.assert_allclose(f(x, axis=np.int64(-2)), ref(x, axis=1), rtol=1e-15)
    np.testing.assert_allclose(
        f(x, axis=(2, -3), keepdims=True), ref(x, axis=(0, 2), keepdims=True), rtol=1e-15
    )
    for bad in ((0, 0), (1, -2), [2, 2, 0]):
        with pytest.raises(ShapeError, match="duplicate"):
            f(x, axis=bad)
        with pytest.raises(ShapeError, match="duplicate"):
            getattr(ops, f"{op}_backward")(np.ones(3), x, axis=bad)
    for bad in (3, -4, (0, 3)):
        with pytest.raises(ShapeError, match="out of bounds"):
            f(x, axis=bad)
    for bad in (1.0, "0", (0, 1.5), True):
        with pytest.raises(DTypeError):
            f(x, axis=bad)


def test_softmax_axis_normalisation() -> None:
    x = np.arange(24.0).reshape(2, 3, 4) / 10
    np.testing.assert_allclose(ops.softmax(x, axis=-2), ops.softmax(x, axis=1), rtol=1e-15)
    np.testing.assert_allclose(ops.log_softmax(x, axis=-3), R.log_softmax_ref(x, 0), rtol=1e-13)
    with pytest.raises(ShapeError):
        ops.softmax(x, axis=3)
    with pytest.raises(ShapeError):
        ops.log_softmax_backward(np.ones_like(x), x, axis=-4)
    with pytest.raises(DTypeError):
        ops.softmax(x, axis=(0, 1))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- softmax


@st.composite
def softmax_cases(draw: Any) -> tuple[Any, np.ndarray, int, np.ndarray]:
    dtype = draw(DTYPES)
    shape = draw(shapes(min_dims=1, max_side=4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    x = draw(arrays(dtype, shape, -5.0, 5.0))
    g = draw(arrays(dtype, shape))
    return dtype, with_layout(x, draw(layouts())), axis, g


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_forward_and_backward(log: bool, data: Any) -> None:
    dtype, x, axis, g = data.draw(softmax_cases())
    fwd = ops.log_softmax if log else ops.softmax
    bwd = ops.log_softmax_backward if log else ops.softmax_backward
    out = fwd(x, axis=axis)
    grad = bwd(g, x, axis=axis)
    given_out = bwd(g, x, axis=axis, output=out)
    if x.size == 0:
        assert out.shape == grad.shape == x.shape and out.dtype == grad.dtype == dtype
        return
    n = x.shape[axis]
    ref = (R.log_softmax_ref if log else R.softmax_ref)(x, axis)
    assert_close(out, ref, dtype, reduce_len=n, atol=sum_atol(dtype, n, 5.0 if log else 1.0))
    ref_grad = (R.log_softmax_grad_ref if log else R.softmax_grad_ref)(g, x, axis)
    atol = sum_atol(dtype, n, _mag(g))
    assert_close(grad, ref_grad, dtype, reduce_len=n, atol=atol)
    assert_close(given_out, ref_grad, dtype, reduce_len=n, atol=atol)


def test_softmax_examples() -> None:
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]])
    y = ops.softmax(x)
    np.testing.assert_allclose(y.sum(axis=1), [1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(ops.log_softmax(x)[0], [-2.40760596, -1.40760596, -0.40760596])
    assert float(ops.softmax(np.float64(7.0))) == 1.0
    assert float(ops.log_softmax(np.float32(7.0), axis=0)) == 0.0
    # The rows of softmax's Jacobian sum to zero: a constant grad_output gives zero.
    np.testing.assert_allclose(ops.softmax_backward(np.ones((2, 3)), x), 0.0, atol=1e-15)


def test_softmax_of_large_and_infinite_inputs() -> None:
    # log_softmax keeps ln(sum) even when the maximum dwarfs it.
    for dtype, big in ((np.float32, 1e8), (np.float64, 1e300)):
        out = ops.log_softmax(np.array([big, big, big - 2 * abs(big)], dtype=dtype))
        np.testing.assert_allclose(out[:2], [-np.log(2)] * 2, rtol=1e-6)
    x32 = np.array([1e4, 1e4 + 1, 1e4 - 1], dtype=np.float32)
    shifted = ops.log_softmax(np.array([0.0, 1.0, -1.0], dtype=np.float32))
    np.testing.assert_allclose(ops.log_softmax(x32), shifted, atol=4e-7)
    # A +inf makes its row NaN (as the shifted formula does); a row of -inf is NaN too.
    x = np.array([[np.inf, 1.0, 2.0], [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    for fn in (ops.softmax, ops.log_softmax):
        y = fn(x)
        assert np.isnan(y[0]).all() and np.isnan(y[2]).all()
        assert np.isfinite(y[1, 1:]).all()
    assert ops.softmax(x)[1, 0] == 0.0 and ops.log_softmax(x)[1, 0] == -np.inf


def test_memory_layouts_give_the_same_numbers() -> None:
    """Column-major, strided and reversed inputs read in logical (C) order."""
    x = np.arange(1.0, 13.0).reshape(3, 4)
    y = np.linspace(0.5, 2.0, 12).reshape(3, 4)
    for layout in ("fortran", "strided", "reversed"):
        xl, yl = with_layout(x, layout), with_layout(y, layout)
        np.testing.assert_array_equal(ops.add(xl, yl), x + y)
        np.testing.assert_array_equal(ops.mul(xl, 2.0), x * 2)
        np.testing.assert_array_equal(ops.exp_backward(yl, xl), y * np.exp(x))
        np.testing.assert_array_equal(ops.sum(xl, axis=0), x.sum(axis=0))
        np.testing.assert_array_equal(ops.max(xl, axis=1), x.max(axis=1))
        np.testing.assert_allclose(ops.softmax(xl, axis=0), R.softmax_ref(x, 0), rtol=1e-14)
        np.testing.assert_allclose(ops.matmul(xl, yl.T), x @ y.T, rtol=1e-14)
        ga, gb = ops.matmul_backward(with_layout(x @ y.T, layout), xl, yl.T)
        np.testing.assert_allclose(ga, (x @ y.T) @ y, rtol=1e-14)
        np.testing.assert_allclose(gb, x.T @ (x @ y.T), rtol=1e-14)
        np.testing.assert_array_equal(ops.sum_to_shape(xl, (1, 4)), x.sum(0, keepdims=True))


def test_softmax_grad_shape_mismatch() -> None:
    with pytest.raises(ShapeError):
        ops.softmax_backward(np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(ShapeError):
        ops.log_softmax_backward(np.ones((2, 3)), np.ones((2, 3)), output=np.ones((3, 2)))
    with pytest.raises(ShapeError):
        ops.softmax_backward(np.ones((3, 2)), np.ones((2, 3)), output=np.ones((3, 2)))


# ----------------------------------------------------------------------------- matmul


@st.composite
def matmul_cases(draw: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    bs = draw(
        hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=2, min_side=0, max_side=3
        )
    )
    m, k, n = (draw(st.integers(0, 4)) for _ in range(3))
    sa = (k,) if draw(st.booleans()) else (*bs.input_shapes[0], m, k)
    sb = (k,) if draw(st.booleans()) else (*bs.input_shapes[1], k, n)
    a = with_layout(draw(arrays(dtype, sa)), draw(layouts()))
    b = with_layout(draw(arrays(dtype, sb)), draw(layouts()))
    return dtype, a, b


@given(data=st.data())
def test_matmul_forward_and_backward(data: Any) -> None:
    dtype, a, b = data.draw(matmul_cases())
    out = ops.matmul(a, b)
    ref = R.matmul_ref(a, b)
    k = a.shape[-1]
    assert_close(out, ref, dtype, reduce_len=k, atol=sum_atol(dtype, k, _mag(a, b)))
    np.testing.assert_array_equal(out.shape, np.matmul(a, b).shape)
    g = data.draw(arrays(dtype, ref.shape))
    ga, gb = ops.matmul_backward(g, a, b)
    ra, rb = R.matmul_grad_ref(g, a, b)
    # Terms summed into each gradient element: n (or m) times the batch broadcast factor.
    na = g.size * k // max(1, a.size)
    nb = g.size * k // max(1, b.size)
    assert_close(ga, ra, dtype, reduce_len=na, atol=sum_atol(dtype, na, _mag(g, b)))
    assert_close(gb, rb, dtype, reduce_len=nb, atol=sum_atol(dtype, nb, _mag(g, a)))


MATMUL_SHAPES = [
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((1, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 4)),
    ((2, 1, 2, 3), (1, 3, 3, 4)),
    ((4,), (2, 3, 4, 2)),
    ((2, 3, 2, 4), (4,)),
    ((2, 0), (0, 3)),
    ((3, 2, 0), (0, 4)),
    ((2, 0, 3), (2, 3, 4)),
    ((0, 2, 3), (3, 4)),
    ((2, 1, 3, 0), (3, 0, 4)),
    ((0,), (0,)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("sa", "sb"), MATMUL_SHAPES)
def test_matmul_numpy_rules(sa: tuple[int, ...], sb: tuple[int, ...], dtype: Any) -> None:
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    out = ops.matmul(a, b)
    want = np.matmul(a, b)
    assert out.shape == want.shape and out.dtype == want.dtype
    k = sa[-1]
    assert_close(out, R.matmul_ref(a, b), dtype, reduce_len=k, atol=sum_atol(dtype, k, 10.0))
    g = rng.standard_normal(want.shape).astype(dtype)
    ga, gb = ops.matmul_backward(g, a, b)
    ra, rb = R.matmul_grad_ref(g, a, b)
    assert_close(ga, ra, dtype, reduce_len=64, atol=sum_atol(dtype, 64, 10.0))
    assert_close(gb, rb, dtype, reduce_len=64, atol=sum_atol(dtype, 64, 10.0))


def test_matmul_k0_gives_zeros() -> None:
    out = ops.matmul(np.ones((3, 0)), np.ones((0, 2)))
    np.testing.assert_array_equal(out, np.zeros((3, 2)))
    ga, gb = ops.matmul_backward(np.ones((3, 2)), np.ones((3, 0)), np.ones((0, 2)))
    assert ga.shape == (3, 0) and gb.shape == (0, 2)
    assert float(ops.matmul(np.ones(0), np.ones(0))) == 0.0


def test_matmul_errors() -> None:
    with pytest.raises(ShapeError, match="matmul"):
        ops.matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ShapeError, match="do not broadcast"):
        ops.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 4)))
    with pytest.raises(ShapeError, match="at least one dimension"):
        ops.matmul(np.float64(2.0), np.ones(3))
    with pytest.raises(ShapeError, match="grad_output"):
        ops.matmul_backward(np.ones((2, 5)), np.ones((2, 3)), np.ones((3, 4)))


# ----------------------------------------------------------------------------- helpers/views


@given(
    data=st.data(),
    bs=hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=4, max_side=4),
)
def test_sum_to_shape(data: Any, bs: Any) -> None:
    (target,) = bs.input_shapes
    dtype = data.draw(DTYPES)
    g = data.draw(arrays(dtype, np.broadcast_shapes(target, bs.result_shape)))
    out = ops.sum_to_shape(g, target)
    n = g.size // max(1, _size(target))
    assert_close(out, R.unbroadcast(g, target), dtype, reduce_len=n, atol=sum_atol(dtype, n, 3.0))


def test_sum_to_shape_errors() -> None:
    with pytest.raises(ShapeError):
        ops.sum_to_shape(np.ones((2, 3)), (4,))
    with pytest.raises(FerrogradError):
        ops.sum_to_shape(np.ones((2, 3)), (-1,))


def test_transpose_and_reshape() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    t = ops.transpose(x, (2, 0, 1))
    np.testing.assert_array_equal(t, np.transpose(x, (2, 0, 1)))
    np.testing.assert_array_equal(ops.transpose_backward(t, (2, 0, 1)), x)
    np.testing.assert_array_equal(ops.transpose_backward(ops.transpose(x)), x)
    r = ops.reshape(x, (4, -1))
    assert r.shape == (4, 6)
    np.testing.assert_array_equal(ops.reshape_backward(r, x), x)
    with pytest.raises(ShapeError):
        ops.reshape(x, (5, -1))
    with pytest.raises(ShapeError):
        ops.transpose(x, (0, 1))
    with pytest.raises(ShapeError):
        ops.transpose_backward(t, (0, 0, 1))
    with pytest.raises(ShapeError):
        ops.reshape_backward(r, np.ones(5))


# ----------------------------------------------------------------------------- dtypes


def test_dtype_rules() -> None:
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    x64 = np.array([1.0, 2.0])
    i64 = np.array([1, 2])
    for op in BINARY:
        f = getattr(ops, op)
        assert f(x32, x32).dtype == np.float32
        assert f(x32, x64).dtype == np.float64
        assert f(x32, 2.0).dtype == np.float32
        assert f(3, x32).dtype == np.float32
        assert f(x32, np.float64(2.0)).dtype == getattr(np, _UFUNC[op])(x32, np.float64(2)).dtype
        assert f(x32, i64).dtype == np.float64
        assert f(x32, x32 > 1).dtype == np.float32
        if op != "div":
            with pytest.raises(DTypeError, match="int64"):
                f(i64, i64)
        with pytest.raises(DTypeError, match="float16"):
            f(x32.astype(np.float16), x32.astype(np.float16))
    assert ops.div(i64, i64).dtype == np.float64  # true division, as NumPy
    np.testing.assert_array_equal(ops.div(i64, i64), [1.0, 1.0])
    for op in UNARY_RANGES:
        f = getattr(ops, op)
        assert f(x32).dtype == np.float32
        assert f(x64).dtype == np.float64
    assert ops.exp(i64).dtype == np.float64
    np.testing.assert_allclose(ops.exp(i64), np.exp([1.0, 2.0]), rtol=1e-15)
    assert ops.pow(x32, 2).dtype == np.float32
    assert ops.pow(i64, 0.5).dtype == np.float64
    assert ops.mean(i64).dtype == np.float64 and float(ops.mean(i64)) == 1.5
    assert ops.sum(x32).dtype == np.float32
    assert ops.softmax(i64).dtype == np.float64
    assert ops.matmul(x32, x32).dtype == np.float32
    assert ops.matmul(x32, x64).dtype == np.float64
    for bad in (lambda: ops.neg(i64 > 1), lambda: ops.sum(i64), lambda: ops.max(i64)):
        with pytest.raises(DTypeError):
            bad()
    with pytest.raises(DTypeError, match="float16"):
        ops.exp(x32.astype(np.float16))
    with pytest.raises(DTypeError):
        ops.matmul(i64, i64)


def test_backward_dtypes_follow_inputs() -> None:
    x32 = np.array([[0.5, 2.0]], dtype=np.float32)
    g64 = np.ones((1, 2))
    ga, gb = ops.mul_backward(g64, x32, x32)
    assert ga.dtype == gb.dtype == np.float32
    ga, gb = ops.add_backward(g64, x32, x32.astype(np.float64))
    assert ga.dtype == gb.dtype == np.float64
    assert ops.log_backward(g64, x32).dtype == np.float32
    assert ops.sum_backward(np.float64(1.0), x32).dtype == np.float32
    assert ops.softmax_backward(g64, x32).dtype == np.float32
    ga, gb = ops.matmul_backward(np.ones((1, 1), np.float32), x32, x32.T)
    assert ga.dtype == gb.dtype == np.float32


def test_tensor_like_inputs() -> None:
    np.testing.assert_array_equal(ops.add([1.0, 2.0], (3.0, 4.0)), [4.0, 6.0])
    assert ops.mul(2.0, 3.0).shape == ()
    with pytest.raises(ShapeError):
        ops.exp([[1.0], [1.0, 2.0]])


# ----------------------------------------------------------------------------- large arrays


def test_large_arrays_take_the_parallel_paths() -> None:
    """Sizes past the kernels' parallel thresholds give the same numbers."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((300, 257))
    b = rng.standard_normal((300, 1))
    g = rng.standard_normal((300, 257))
    assert_close(ops.mul(a, b), a * b, np.float64)
    ga, gb = ops.div_backward(g, a, b + 5.0)
    ra, rb = R.binary_grad_ref("div", g, a, b + 5.0)
    assert_close(ga, ra, np.float64)
    assert_close(gb, rb, np.float64, reduce_len=257)
    assert_close(ops.exp(a), np.exp(a), np.float64)
    for axis in (None, 0, 1, (0, 1)):
        for op in REDUCE:
            ref = R.reduce_ref(op, a, axis)
            assert_close(getattr(ops, op)(a, axis=axis), ref, np.float64, reduce_len=300 * 257)
            gg = np.ones(np.shape(ref))
            assert_close(
                getattr(ops, f"{op}_backward")(gg, a, axis=axis),
                R.reduce_grad_ref(op, gg, a, axis),
                np.float64,
            )
    x32 = np.full(1_000_003, 0.1, dtype=np.float32)
    assert abs(float(ops.sum(x32)) - float(np.sum(x32.astype(np.float64)))) < 0.5
    for axis in (0, 1):
        assert_close(ops.softmax(a, axis), R.softmax_ref(a, axis), np.float64, reduce_len=300)
        assert_close(
            ops.log_softmax_backward(g, a, axis),
            R.log_softmax_grad_ref(g, a, axis),
            np.float64,
            reduce_len=300,
        )
    m = rng.standard_normal((4, 96, 80))
    w = rng.standard_normal((80, 70))
    out = ops.matmul(m, w)
    assert_close(out, R.matmul_ref(m, w), np.float64, reduce_len=80)
    gm, gw = ops.matmul_backward(np.ones_like(out), m, w)
    rm, rw = R.matmul_grad_ref(np.ones_like(out), m, w)
    assert_close(gm, rm, np.float64, reduce_len=70)
    assert_close(gw, rw, np.float64, reduce_len=4 * 96)
    m2 = rng.standard_normal((6, 40, 40))
    w2 = rng.standard_normal((6, 40, 40))
    assert_close(ops.matmul(m2, w2), R.matmul_ref(m2, w2), np.float64, reduce_len=40)
    ga2, gb2 = ops.matmul_backward(np.ones((6, 40, 40)), m2[:1], w2)
    ra2, rb2 = R.matmul_grad_ref(np.ones((6, 40, 40)), m2[:1], w2)
    assert_close(ga2, ra2, np.float64, reduce_len=240)
    assert_close(gb2, rb2, np.float64, reduce_len=40)


# ----------------------------------------------------------------------------- finite differences


def _rng_values(shape: tuple[int, ...], lo: float, hi: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _distinct(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values at least 0.1 apart (no ties for max, no kinks within a finite-difference step)."""
    n = _size(shape)
    return np.random.default_rng(seed).permutation(np.arange(n) * 0.1 - 1.0).reshape(shape)


def _fd_cases() -> list[tuple[str, Callable[..., Any], Callable[..., Any], list[np.ndarray]]]:
    cases: list[tuple[str, Callable[..., Any], Callable[..., Any], list[np.ndarray]]] = []
    pairs = [((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (2, 2)), ((3,), (3,))]
    for op in BINARY:
        for i, (sa, sb) in enumerate(pairs):
            a = _rng_values(sa, -2.0, 2.0, i)
            b = _rng_values(sb, 0.5, 2.0, i + 10)
            cases.append(
                (f"{op}-{sa}-{sb}", getattr(ops, op), getattr(ops, f"{op}_backward"), [a, b])
            )
    for op, (lo, hi) in UNARY_RANGES.items():
        x = _rng_values((2, 3), max(lo, 0.2), hi, 3)
        cases.append((op, getattr(ops, op), getattr(ops, f"{op}_backward"), [x]))
    for p in EXPONENTS:
        x = _rng_values((2, 3), 0.2, 2.0, 4)
        cases.append(
            (
                f"pow-{p}",
                lambda v, p=p: ops.pow(v, p),
                lambda g, v, p=p: ops.pow_backward(g, v, p),
                [x],
            )
        )
    for op in REDUCE:
        for axis, keepdims in ((None, False), (1, False), ((0, 2), True), (-1, True), ((), False)):
            x = _distinct((2, 3, 4), 5)
            cases.append(
                (
                    f"{op}-{axis}-{keepdims}",
                    lambda v, op=op, axis=axis, kd=keepdims: getattr(ops, op)(v, axis, kd),
                    lambda g, v, op=op, axis=axis, kd=keepdims: getattr(ops, f"{op}_backward")(
                        g, v, axis, kd
                    ),
                    [x],
                )
            )
    for name in ("softmax", "log_softmax"):
        for axis in (0, -1, 1):
            x = _rng_values((3, 4, 2), -2.0, 2.0, 6)
            cases.append(
                (
                    f"{name}-{axis}",
                    lambda v, name=name, axis=axis: getattr(ops, name)(v, axis),
                    lambda g, v, name=name, axis=axis: getattr(ops, f"{name}_backward")(g, v, axis),
                    [x],
                )
            )
    for i, (sa, sb) in enumerate(
        [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 1, 2, 3), (3, 3, 2)), ((3,), (3,))]
    ):
        a, b = _rng_values(sa, -1.0, 1.0, 20 + i), _rng_values(sb, -1.0, 1.0, 30 + i)
        cases.append((f"matmul-{sa}-{sb}", ops.matmul, ops.matmul_backward, [a, b]))
    x = _rng_values((2, 3, 4), -1.0, 1.0, 8)
    cases.append(
        (
            "transpose",
            lambda v: ops.transpose(v, (1, 2, 0)),
            lambda g, v: ops.transpose_backward(g, (1, 2, 0)),
            [x],
        )
    )
    cases.append(("reshape", lambda v: ops.reshape(v, (4, 6)), ops.reshape_backward, [x]))
    return cases


FD_CASES = _fd_cases()


@pytest.mark.parametrize(
    ("fn", "backward", "inputs"), [c[1:] for c in FD_CASES], ids=[c[0] for c in FD_CASES]
)
def test_backward_matches_finite_differences(
    fn: Callable[..., Any], backward: Callable[..., Any], inputs: list[np.ndarray]
) -> None:
    ferrograd.check_backward(fn, backward, inputs, atol=1e-6, rtol=1e-5)


def test_finite_differences_catch_a_wrong_gradient() -> None:
    x = _rng_values((2, 3), 0.5, 2.0, 9)
    with pytest.raises(FerrogradError, match="differs"):
        ferrograd.check_backward(ops.log, lambda g, v: ops.log_backward(g, v) * 1.01, [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "layout", ["transposed a", "transposed b", "both transposed", "sliced", "reversed", "broadcast"]
)
@pytest.mark.parametrize("mkn", [(7, 5, 3), (40, 33, 10), (129, 64, 1), (300, 70, 90)])
def test_matmul_reads_strided_views_in_place(dtype: Any, layout: str, mkn: tuple) -> None:
    # 2-D views go to the core with their strides (no copy); results must not depend on it.
    m, k, n = mkn
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout == "transposed a":
        a = np.ascontiguousarray(a.T).T
    elif layout == "transposed b":
        b = np.ascontiguousarray(b.T).T
    elif layout == "both transposed":
        a, b = np.asfortranarray(a), np.asfortranarray(b)
    elif layout == "sliced":
        a = rng.standard_normal((m, 2 * k + 1)).astype(dtype)[:, 1::2]
        b = rng.standard_normal((k + 3, n + 2)).astype(dtype)[2:-1, 1:-1]
    elif layout == "reversed":
        a = np.ascontiguousarray(a[::-1])[::-1]
        b = b[:, ::-1]
    else:
        b = np.broadcast_to(rng.standard_normal((1, n)).astype(dtype), (k, n))
    out = ops.matmul(a, b)
    assert out.dtype == dtype and out.shape == (m, n) and out.flags.c_contiguous
    assert_close(out, R.matmul_ref(a, b), dtype, reduce_len=k, atol=sum_atol(dtype, k, 10.0))
