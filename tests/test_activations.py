"""Activations of ferrograd.functional and their gradients, against the float64 references."""

from __future__ import annotations

from typing import Any, Callable

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from helpers import FLOATS, arrays, assert_close, non_contiguous, shapes
from hypothesis import given
from hypothesis import strategies as st

# name -> (reference, gradient reference, strategy of keyword arguments)
NO_KWARGS = st.just({})
ACTIVATIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any], Any]] = {
    "relu": (R.relu_ref, R.relu_grad_ref, NO_KWARGS),
    "leaky_relu": (
        R.leaky_relu_ref,
        R.leaky_relu_grad_ref,
        st.fixed_dictionaries({}, optional={"negative_slope": st.floats(-2.0, 2.0)}),
    ),
    "sigmoid": (R.sigmoid_ref, R.sigmoid_grad_ref, NO_KWARGS),
    "tanh": (R.tanh_ref, R.tanh_grad_ref, NO_KWARGS),
    "gelu": (
        R.gelu_ref,
        R.gelu_grad_ref,
        st.fixed_dictionaries({}, optional={"approximate": st.sampled_from(["none", "tanh"])}),
    ),
    "elu": (
        R.elu_ref,
        R.elu_grad_ref,
        st.fixed_dictionaries({}, optional={"alpha": st.floats(0.0, 3.0)}),
    ),
    "silu": (R.silu_ref, R.silu_grad_ref, NO_KWARGS),
    "softplus": (
        R.softplus_ref,
        R.softplus_grad_ref,
        st.fixed_dictionaries(
            {},
            optional={
                "beta": st.sampled_from([0.5, 1.0, 2.0, -1.0]),
                "threshold": st.sampled_from([1.0, 20.0, 1e9]),
            },
        ),
    ),
}
NAMES = sorted(ACTIVATIONS)


def fns(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return getattr(F, name), getattr(F, f"{name}_backward")


# ------------------------------------------------------------------ against the references


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_elementwise_matches_reference(name: str, dtype: Any, data: Any) -> None:
    ref, grad_ref, kwargs_st = ACTIVATIONS[name]
    fwd, bwd = fns(name)
    shape = data.draw(shapes(max_dims=3), label="shape")
    x = data.draw(arrays(dtype, shape, -4.0, 4.0), label="x")
    g = data.draw(arrays(dtype, shape), label="grad_output")
    kw = data.draw(kwargs_st, label="kwargs")
    assert_close(fwd(x, **kw), ref(x, **kw), dtype)
    assert_close(bwd(g, x, **kw), grad_ref(g, x, **kw), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("log", [False, True])
@given(data=st.data())
def test_softmax_matches_reference(log: bool, dtype: Any, data: Any) -> None:
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = data.draw(arrays(dtype, shape, -20.0, 20.0), label="x")
    g = data.draw(arrays(dtype, shape), label="grad_output")
    n = shape[dim]
    if log:
        got, grad = F.log_softmax(x, dim), F.log_softmax_backward(g, x, dim)
        want, grad_want = R.log_softmax_dim_ref(x, dim), R.log_softmax_dim_grad_ref(g, x, dim)
        atol = None if dtype == np.float64 else 1e-5 * max(1.0, float(np.max(np.abs(want))))
    else:
        got, grad = F.softmax(x, dim=dim), F.softmax_backward(g, x, dim=dim)
        want, grad_want = R.softmax_dim_ref(x, dim), R.softmax_dim_grad_ref(g, x, dim)
        atol = None
    assert_close(got, want, dtype, reduce_len=n, atol=atol)
    assert_close(grad, grad_want, dtype, reduce_len=n, atol=None if dtype == np.float64 else 1e-5)


def test_softmax_dtype_argument() -> None:
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float64)
    y = F.softmax(x, dim=1, dtype=np.float32)
    assert y.dtype == np.float32
    assert_close(y, R.softmax_dim_ref(x.astype(np.float32), 1), np.float32, reduce_len=3)
    gx = F.log_softmax_backward(np.ones_like(x), x, dtype="float32")
    assert gx.dtype == np.float64
    with pytest.raises(ferrograd.DTypeError, match="dtype"):
        F.softmax(x, dtype=np.int32)


# ------------------------------------------------------------------ finite differences


def away_from_kinks(x: np.ndarray, name: str, kw: dict[str, Any]) -> np.ndarray:
    """Moves points off the kinks (0 for relu-like, the threshold of softplus)."""
    x = np.where(np.abs(x) < 1e-3, 0.5, x)
    if name == "softplus":
        beta, th = kw.get("beta", 1.0), kw.get("threshold", 20.0)
        x = np.where(np.abs(x * beta - th) < 1e-3, x + 0.1, x)
    return x


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_backward_by_finite_differences(name: str, data: Any) -> None:
    _, _, kwargs_st = ACTIVATIONS[name]
    fwd, bwd = fns(name)
    shape = data.draw(shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), label="shape")
    kw = data.draw(kwargs_st, label="kwargs")
    x = away_from_kinks(data.draw(arrays(np.float64, shape), label="x"), name, kw)
    ferrograd.check_backward(
        lambda v: fwd(v, **kw), lambda g, v: bwd(g, v, **kw), [x], atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize("log", [False, True])
@given(data=st.data())
def test_softmax_backward_by_finite_differences(log: bool, data: Any) -> None:
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = data.draw(arrays(np.float64, shape), label="x")
    fwd, bwd = (F.log_softmax, F.log_softmax_backward) if log else (F.softmax, F.softmax_backward)
    ferrograd.check_backward(
        lambda v: fwd(v, dim), lambda g, v: bwd(g, v, dim), [x], atol=1e-6, rtol=1e-5
    )


# ------------------------------------------------------------------ conventions and extremes


def test_kinks_follow_pytorch() -> None:
    zero, one = np.zeros(1), np.ones(1)
    assert F.relu_backward(one, zero).tolist() == [0.0]
    assert F.leaky_relu_backward(one, zero, negative_slope=0.3).tolist() == [0.3]
    assert F.elu_backward(one, zero, alpha=2.5).tolist() == [2.5]
    assert F.sigmoid_backward(one, zero).tolist() == [0.25]
    assert F.tanh_backward(one, zero).tolist() == [1.0]
    assert F.gelu_backward(one, zero).tolist() == [0.5]
    assert F.gelu_backward(one, zero, approximate="tanh").tolist() == [0.5]
    assert F.silu_backward(one, zero).tolist() == [0.5]
    # softplus is linear strictly above the threshold only.
    assert F.softplus(np.array([20.0, 20.5])).tolist()[1] == 20.5
    assert F.softplus_backward(np.ones(2), np.array([20.0, 20.5])).tolist()[1] == 1.0


def test_defaults_match_pytorch() -> None:
    x = np.array([-2.0, 3.0])
    assert F.leaky_relu(x).tolist() == [-0.02, 3.0]
    assert F.elu(x).tolist() == pytest.approx([np.expm1(-2.0), 3.0])
    assert F.softplus(np.array([21.0])).tolist() == [21.0]
    assert_close(F.gelu(x), R.gelu_ref(x), np.float64)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_give_finite_results(name: str, dtype: Any) -> None:
    fwd, bwd = fns(name)
    x = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], dtype=dtype)
    kwargs = [{}]
    if name == "softplus":
        kwargs = [{}, {"beta": 3.0, "threshold": 1e30}, {"beta": -2.0}]
    if name == "gelu":
        kwargs = [{}, {"approximate": "tanh"}]
    for kw in kwargs:
        y, d = fwd(x, **kw), bwd(np.ones_like(x), x, **kw)
        assert y.dtype == d.dtype == dtype
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(d)), (kw, y, d)


@pytest.mark.parametrize("dtype", FLOATS)
def test_asymptotes(dtype: Any) -> None:
    x = np.array([-1e4, 1e4], dtype=dtype)
    assert F.sigmoid(x).tolist() == [0.0, 1.0]
    assert F.tanh(x).tolist() == [-1.0, 1.0]
    assert F.softplus(x, threshold=1e30).tolist() == [0.0, 1e4]
    assert F.gelu(x).tolist() == [0.0, 1e4]
    assert F.gelu(x, approximate="tanh").tolist() == [0.0, 1e4]
    assert F.silu(x).tolist() == [0.0, 1e4]
    assert F.elu(x).tolist() == [-1.0, 1e4]
    assert F.log_softmax(x).tolist() == [-2e4, 0.0]
    assert F.softmax(x).tolist() == [0.0, 1.0]
    assert F.sigmoid_backward(np.ones_like(x), x).tolist() == [0.0, 0.0]
    assert F.softplus_backward(np.ones_like(x), x, threshold=1e30).tolist() == [0.0, 1.0]
    assert F.log_softmax_backward(np.array([1.0, 0.0], dtype), x).tolist() == [1.0, -1.0]


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(name: str) -> None:
    fwd, bwd = fns(name)
    x = np.array([np.nan, 1.0])
    assert np.isnan(fwd(x)[0]) and fwd(x)[1] == fwd(np.array([1.0]))[0]
    assert np.isnan(bwd(np.ones(2), x)[0])
    assert np.isnan(F.softmax(x)).all()


def test_gelu_is_accurate_across_the_line() -> None:
    # The exact GELU needs erfc with relative accuracy, also in the lower tail where x Phi(x)
    # is tiny; check densely, across every piece of the approximation.
    x = np.linspace(-25.0, 25.0, 20_001)
    x = x[x != 0]
    got, want = F.gelu(x), R.gelu_ref(x)
    assert np.max(np.abs(got - want) / np.abs(want)) < 1e-12
    g = np.ones_like(x)
    assert_close(F.gelu_backward(g, x), R.gelu_grad_ref(g, x), np.float64)


def test_gelu_tail_is_accurate() -> None:
    # x Phi(x) for very negative x is tiny but not zero; relative accuracy holds in the tail.
    x = np.array([-5.0, -10.0, -20.0])
    assert_close(F.gelu(x), R.gelu_ref(x), np.float64)
    assert_close(F.gelu_backward(np.ones(3), x), R.gelu_grad_ref(np.ones(3), x), np.float64)


# ------------------------------------------------------------------ layouts, dtypes, errors


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_inputs(name: str) -> None:
    fwd, bwd = fns(name)
    x = np.random.default_rng(1).standard_normal((4, 6))
    g = np.random.default_rng(2).standard_normal((4, 6))
    for view, gview in [(non_contiguous(x), non_contiguous(g)), (x.T, g.T), (x[::-1], g[::-1])]:
        xc, gc = np.ascontiguousarray(view), np.ascontiguousarray(gview)
        np.testing.assert_array_equal(fwd(view), fwd(xc))
        np.testing.assert_array_equal(bwd(gview, view), bwd(gc, xc))
    np.testing.assert_array_equal(F.softmax(x.T, 0), F.softmax(np.ascontiguousarray(x.T), 0))


@pytest.mark.parametrize("name", NAMES)
def test_integers_promote_like_numpy(name: str) -> None:
    fwd, bwd = fns(name)
    for dt in (np.int64, np.int32, np.int16):
        x = np.array([-2, 0, 3], dtype=dt)
        y = fwd(x)
        assert y.dtype == np.exp(x).dtype  # int16 -> float32, wider ints -> float64
        np.testing.assert_array_equal(y, fwd(x.astype(y.dtype)))
        assert bwd(np.ones(x.shape, dtype=np.int64), x).dtype == y.dtype
    assert fwd([1, 2]).dtype == np.float64
    assert fwd(2.0).shape == ()
    assert fwd(np.float32(2.0)).dtype == np.float32
    # NumPy computes exp of 8-bit integers in float16, which ferrograd does not support.
    with pytest.raises(ferrograd.DTypeError, match="float16"):
        fwd(np.array([1, 2], dtype=np.uint8))


@pytest.mark.parametrize("name", NAMES)
def test_wrong_dtypes_are_errors(name: str) -> None:
    fwd, bwd = fns(name)
    for bad in (np.array([1 + 1j]), np.array([True]), np.array(["a"]), np.array([1], np.float16)):
        with pytest.raises(ferrograd.DTypeError, match=name):
            fwd(bad)
    with pytest.raises(ferrograd.ShapeError, match=r"grad_output has shape \(3,\).*\(2,\)"):
        bwd(np.ones(3), np.ones(2))


def test_bad_arguments_are_errors() -> None:
    x = np.ones(3)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="approximate"):
        F.gelu_backward(x, x, approximate=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beta must be non-zero"):
        F.softplus(x, beta=0.0)
    with pytest.raises(ferrograd.DTypeError, match="negative_slope"):
        F.leaky_relu(x, negative_slope="big")  # type: ignore[arg-type]
    with pytest.raises(ferrograd.DTypeError, match="dim must be an int"):
        F.softmax(x, dim=0.5)  # type: ignore[arg-type]
    with pytest.raises(ferrograd.ShapeError, match="dim 1 is out of range for an input of 1"):
        F.log_softmax(x, dim=1)
    with pytest.raises(ferrograd.ShapeError, match="softmax_backward"):
        F.softmax_backward(np.ones(2), x)


def test_inplace() -> None:
    x = np.array([-1.0, 2.0], dtype=np.float32)
    out = F.relu(x, inplace=True)
    assert out is x and x.tolist() == [0.0, 2.0]
    y = np.array([-1.0, 2.0])
    assert F.leaky_relu(y, 0.5, inplace=True) is y and y.tolist() == [-0.5, 2.0]
    z = np.array([[0.0, -1.0, 1.0]])[:, ::2]
    F.elu(z, inplace=True)
    assert z.tolist() == [[0.0, 1.0]]
    with pytest.raises(ferrograd.DTypeError, match="inplace"):
        F.silu([1.0, 2.0], inplace=True)
    with pytest.raises(ferrograd.DTypeError, match="inplace"):
        F.relu(np.array([1, 2]), inplace=True)


def test_empty_inputs() -> None:
    for name in NAMES:
        fwd, bwd = fns(name)
        assert fwd(np.zeros((0, 3))).shape == (0, 3)
        assert bwd(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("name", NAMES)
def test_large_inputs_run_in_parallel_chunks(name: str) -> None:
    fwd, bwd = fns(name)
    ref, grad_ref, _ = ACTIVATIONS[name]
    rng = np.random.default_rng(4)
    x, g = rng.uniform(-4, 4, 100_003), rng.standard_normal(100_003)
    assert_close(fwd(x), ref(x), np.float64)
    assert_close(bwd(g, x), grad_ref(g, x), np.float64)
