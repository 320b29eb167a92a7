"""Regression losses of ferrograd.functional and their gradients, against the references."""

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

REDUCTIONS = ("mean", "sum", "none")
# name -> (reference, gradient reference, strategy of keyword arguments)
LOSSES: dict[str, tuple[Callable[..., Any], Callable[..., Any], Any]] = {
    "mse_loss": (R.mse_loss_ref, R.mse_loss_grad_ref, st.just({})),
    "l1_loss": (R.l1_loss_ref, R.l1_loss_grad_ref, st.just({})),
    "huber_loss": (
        R.huber_loss_ref,
        R.huber_loss_grad_ref,
        st.fixed_dictionaries({}, optional={"delta": st.sampled_from([1.0, 0.25, 2.5])}),
    ),
    "smooth_l1_loss": (
        R.smooth_l1_loss_ref,
        R.smooth_l1_loss_grad_ref,
        st.fixed_dictionaries({}, optional={"beta": st.sampled_from([1.0, 0.0, 0.5, 3.0])}),
    ),
}
NAMES = sorted(LOSSES)


def fns(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return getattr(F, name), getattr(F, f"{name}_backward")


def grad_for(data: Any, dtype: Any, shape: tuple[int, ...], reduction: str) -> np.ndarray:
    """A grad_output of the right shape: the input's for none, 0-d otherwise."""
    return data.draw(arrays(dtype, shape if reduction == "none" else ()), label="grad_output")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_loss_matches_reference(name: str, dtype: Any, data: Any) -> None:
    ref, grad_ref, kwargs_st = LOSSES[name]
    fwd, bwd = fns(name)
    shape = data.draw(shapes(max_dims=3), label="shape")
    x = data.draw(arrays(dtype, shape, -5.0, 5.0), label="input")
    y = data.draw(arrays(dtype, shape, -5.0, 5.0), label="target")
    reduction = data.draw(st.sampled_from(REDUCTIONS), label="reduction")
    kw = data.draw(kwargs_st, label="kwargs")
    g = grad_for(data, dtype, shape, reduction)
    got = fwd(x, y, reduction=reduction, **kw)
    n = 1 if reduction == "none" else max(1, x.size)
    # float32 sums of up to n terms of size up to 100: absolute error scales with both.
    atol = None if dtype == np.float64 else 1e-6 * n * 100
    if reduction == "mean" and x.size == 0:
        assert got.shape == () and np.isnan(got)
    else:
        assert_close(got, ref(x, y, reduction, **kw), dtype, reduce_len=n, atol=atol)
    assert_close(bwd(g, x, y, reduction, **kw), grad_ref(g, x, y, reduction, **kw), dtype)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_backward_by_finite_differences(name: str, data: Any) -> None:
    _, _, kwargs_st = LOSSES[name]
    fwd, bwd = fns(name)
    shape = data.draw(shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), label="shape")
    x = data.draw(arrays(np.float64, shape), label="input")
    y = data.draw(arrays(np.float64, shape), label="target")
    reduction = data.draw(st.sampled_from(REDUCTIONS), label="reduction")
    kw = data.draw(kwargs_st, label="kwargs")
    # Stay away from the kinks: d = 0 and |d| = delta or beta.
    d = x - y
    for k in [0.0, *kw.values()]:
        d = np.where(np.abs(np.abs(d) - k) < 1e-3, d + 0.01, d)
    x = y + d
    ferrograd.check_backward(
        lambda v: fwd(v, y, reduction, **kw),
        lambda g, v: bwd(g, v, y, reduction, **kw),
        [x],
        grad_output=None if reduction == "none" else 0.7,
        atol=1e-6,
        rtol=1e-5,
    )


# ------------------------------------------------------------------ semantics


def test_pytorch_values_and_defaults() -> None:
    x = np.array([0.0, 0.5, 1.0, 3.0, -2.0])
    y = np.zeros(5)
    assert float(F.mse_loss(x, y)) == pytest.approx((0.25 + 1 + 9 + 4) / 5)
    assert float(F.l1_loss(x, y, reduction="sum")) == 6.5
    assert F.huber_loss(x, y, reduction="none").tolist() == [0.0, 0.125, 0.5, 2.5, 1.5]
    assert F.huber_loss(x, y, "none", delta=2.0).tolist() == [0.0, 0.125, 0.5, 4.0, 2.0]
    assert F.smooth_l1_loss(x, y, "none").tolist() == [0.0, 0.125, 0.5, 2.5, 1.5]
    assert F.smooth_l1_loss(x, y, "none", beta=2.0).tolist() == [0.0, 0.0625, 0.25, 2.0, 1.0]
    # huber = beta * smooth_l1 for delta == beta
    np.testing.assert_allclose(
        F.huber_loss(x, y, "none", delta=0.5), 0.5 * F.smooth_l1_loss(x, y, "none", beta=0.5)
    )
    # smooth L1 with beta 0 is L1, gradient included (sign(0) = 0)
    assert F.smooth_l1_loss(x, y, "sum", beta=0.0) == F.l1_loss(x, y, "sum")
    assert F.smooth_l1_loss_backward(1.0, x, y, "sum", beta=0.0).tolist() == [0, 1, 1, 1, -1]


def test_gradient_at_kinks() -> None:
    x = np.array([0.0, 1.0, -1.0])
    y = np.zeros(3)
    assert F.l1_loss_backward(1.0, x, y, "sum").tolist() == [0.0, 1.0, -1.0]
    assert F.huber_loss_backward(1.0, x, y, "sum").tolist() == [0.0, 1.0, -1.0]
    assert F.smooth_l1_loss_backward(1.0, x, y, "sum").tolist() == [0.0, 1.0, -1.0]
    assert F.mse_loss_backward(3.0, x, y, "mean").tolist() == [0.0, 2.0, -2.0]


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_and_dtypes(name: str) -> None:
    fwd, bwd = fns(name)
    for dt in FLOATS:
        x = np.ones((2, 3), dt)
        for r in ("mean", "sum"):
            out = fwd(x, x, reduction=r)
            assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == dt
            g = bwd(np.array(1.0), x, x, r)
            assert g.shape == (2, 3) and g.dtype == dt
        assert fwd(x, x, reduction="none").shape == (2, 3)
        assert fwd(np.float64(2.0), 1.0).shape == ()


@pytest.mark.parametrize("name", NAMES)
def test_extremes_and_nan(name: str) -> None:
    fwd, bwd = fns(name)
    x = np.array([1e4, -1e4, 3.0], dtype=np.float32)
    y = np.array([-1e4, 1e4, 3.0], dtype=np.float32)
    for r in REDUCTIONS:
        assert np.all(np.isfinite(fwd(x, y, r)))
        g = np.ones(3, np.float32) if r == "none" else 1.0
        assert np.all(np.isfinite(bwd(g, x, y, r)))
    xn = np.array([np.nan, 1.0])
    assert np.isnan(fwd(xn, np.zeros(2)))
    assert fwd(xn, np.zeros(2), "none")[1] == fwd(np.ones(1), np.zeros(1), "sum")
    assert np.isnan(bwd(1.0, xn, np.zeros(2))[0])


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_inputs(name: str) -> None:
    fwd, bwd = fns(name)
    rng = np.random.default_rng(3)
    x, y, g = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5)), rng.random((5, 4, 3))
    for r in REDUCTIONS:
        views = [(non_contiguous(x), non_contiguous(y)), (x.T, y.T), (x[:, ::-1], y[:, ::-1])]
        for xv, yv in views:
            xc, yc = np.ascontiguousarray(xv), np.ascontiguousarray(yv)
            assert_close(fwd(xv, yv, r), fwd(xc, yc, r), np.float64, reduce_len=x.size)
            gv = g.T.reshape(xv.shape) if r == "none" else 0.5
            np.testing.assert_array_equal(bwd(gv, xv, yv, r), bwd(gv, xc, yc, r))


@pytest.mark.parametrize("name", NAMES)
def test_integers_promote_like_numpy(name: str) -> None:
    fwd, bwd = fns(name)
    xi, yi = np.array([1, 2, 3]), np.array([0, 4, 3], dtype=np.int32)
    out = fwd(xi, yi)
    assert out.dtype == np.float64
    assert out == fwd(xi.astype(float), yi.astype(float))
    assert fwd(np.ones(3, np.float32), np.array([0, 1, 2], np.int8)).dtype == np.float32
    assert fwd(np.ones(3, np.float32), np.zeros(3, np.float64)).dtype == np.float64
    assert fwd([1.0, 2.0], [0, 0], "none").dtype == np.float64
    assert bwd(1, xi, yi).dtype == np.float64


@pytest.mark.parametrize("name", NAMES)
def test_errors(name: str) -> None:
    fwd, bwd = fns(name)
    x = np.ones((2, 3))
    with pytest.raises(ferrograd.ShapeError, match=rf"{name}: input has shape \(2, 3\) but target"):
        fwd(x, np.ones(3))
    with pytest.raises(ferrograd.ShapeError, match=r"\(3, 2\)"):
        bwd(1.0, x, np.ones((3, 2)))
    for bad in ("avg", "batchmean", None, "MEAN"):
        with pytest.raises(ValueError, match=f"{name}: reduction must be 'none', 'mean' or 'sum'"):
            fwd(x, x, reduction=bad)
        with pytest.raises(ValueError, match="reduction"):
            bwd(1.0, x, x, reduction=bad)
    with pytest.raises(ferrograd.DTypeError, match=name):
        fwd(np.array([1 + 2j]), np.array([1.0]))
    with pytest.raises(ferrograd.DTypeError, match=name):
        fwd(np.array(["a"]), np.array([1.0]))
    with pytest.raises(ferrograd.ShapeError, match="grad_output"):
        bwd(np.ones(2), x, x, "mean")
    with pytest.raises(ferrograd.ShapeError, match="grad_output"):
        bwd(np.ones((3, 2)), x, x, "none")


def test_parameter_errors() -> None:
    x = np.ones(2)
    for delta in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="huber_loss: delta must be positive"):
            F.huber_loss(x, x, delta=delta)
    with pytest.raises(ValueError, match="smooth_l1_loss_backward: beta must be non-negative"):
        F.smooth_l1_loss_backward(1.0, x, x, beta=-0.5)
    with pytest.raises(ferrograd.DTypeError, match="delta"):
        F.huber_loss(x, x, delta="1")  # type: ignore[arg-type]


def test_empty_mean_is_nan_and_sum_is_zero() -> None:
    e = np.zeros((0, 2))
    for name in NAMES:
        fwd, bwd = fns(name)
        assert np.isnan(fwd(e, e))
        assert fwd(e, e, "sum") == 0.0
        assert bwd(1.0, e, e).shape == (0, 2)


def test_large_inputs_use_several_chunks() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(200_001), rng.standard_normal(200_001)
    for name in NAMES:
        fwd, _ = fns(name)
        ref, _, _ = LOSSES[name]
        assert_close(fwd(x, y), ref(x, y), np.float64, reduce_len=20)
        xf, yf = x.astype(np.float32), y.astype(np.float32)
        np.testing.assert_allclose(fwd(xf, yf), ref(xf, yf), rtol=1e-5)
