"""Entropy, cross-entropy between distributions and kl_div, against the references and the
identities that tie them together."""

from __future__ import annotations

import math
from typing import Any

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from helpers import FLOATS, arrays, assert_close, non_contiguous, shapes
from hypothesis import given
from hypothesis import strategies as st

BASES = st.sampled_from([None, 2.0, 10.0, math.e, 0.5])
KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")


def draw_dim(data: Any, shape: tuple[int, ...]) -> int:
    if not shape:
        return data.draw(st.sampled_from([0, -1]), label="dim")
    return data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")


def normalized(x: np.ndarray, dim: int) -> np.ndarray:
    """Makes each slice along ``dim`` sum to one (rows of zeros become uniform)."""
    x = np.asarray(x, dtype=np.float64) + 1e-300
    return x / np.sum(x, axis=dim, keepdims=True)


def out_tol(dtype: Any, n: int) -> float | None:
    """Absolute tolerance for sums of ``n`` entropy-like terms (each at most ~7 in size)."""
    return None if dtype == np.float64 else 1e-6 * max(1, n) * 8


# ------------------------------------------------------------------ against the references


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_entropy_matches_reference(dtype: Any, data: Any) -> None:
    shape = data.draw(shapes(max_dims=3), label="shape")
    dim = draw_dim(data, shape)
    base = data.draw(BASES, label="base")
    p = data.draw(arrays(dtype, shape, 0.0, 1.0), label="p")
    n = shape[dim] if shape else 1
    h = F.entropy(p, dim=dim, base=base)
    assert_close(h, R.entropy_ref(p, dim, base), dtype, reduce_len=n, atol=out_tol(dtype, n))
    # The gradient is infinite at p = 0; check it where p > 0.
    p = np.where(p > 1e-3, p, dtype(0.5))
    g = data.draw(arrays(dtype, h.shape), label="grad_output")
    got = F.entropy_backward(g, p, dim=dim, base=base)
    assert_close(got, R.entropy_grad_ref(g, p, dim, base), dtype, atol=out_tol(dtype, 3))


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_cross_entropy_dist_matches_reference(dtype: Any, data: Any) -> None:
    shape = data.draw(shapes(max_dims=3), label="shape")
    dim = draw_dim(data, shape)
    base = data.draw(BASES, label="base")
    p = data.draw(arrays(dtype, shape, 0.0, 1.0), label="p")
    q = data.draw(arrays(dtype, shape, 2.0**-10, 1.0), label="q")
    n = shape[dim] if shape else 1
    h = F.cross_entropy_dist(p, q, dim=dim, base=base)
    want = R.cross_entropy_dist_ref(p, q, dim, base)
    assert_close(h, want, dtype, reduce_len=n, atol=out_tol(dtype, n))
    g = data.draw(arrays(dtype, h.shape), label="grad_output")
    gp, gq = F.cross_entropy_dist_backward(g, p, q, dim=dim, base=base)
    wp, wq = R.cross_entropy_dist_grad_ref(g, p, q, dim, base)
    assert_close(gp, wp, dtype, atol=out_tol(dtype, 8))
    assert_close(gq, wq, dtype, atol=out_tol(dtype, 8))


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_kl_div_matches_reference(dtype: Any, data: Any) -> None:
    shape = data.draw(shapes(max_dims=3), label="shape")
    reduction = data.draw(st.sampled_from(KL_REDUCTIONS), label="reduction")
    log_target = data.draw(st.booleans(), label="log_target")
    x = data.draw(arrays(dtype, shape, -8.0, 0.0), label="input")
    t = data.draw(arrays(dtype, shape, *((-8.0, 0.0) if log_target else (0.0, 1.0))), label="t")
    got = F.kl_div(x, t, reduction=reduction, log_target=log_target)
    n = 1 if reduction == "none" else max(1, x.size)
    if reduction == "mean" and x.size == 0:
        assert np.isnan(got)
    elif reduction == "batchmean" and x.ndim and x.shape[0] == 0:
        assert np.isnan(got)
    else:
        want = R.kl_div_ref(x, t, reduction, log_target)
        tol = out_tol(dtype, n)
        assert_close(got, want, dtype, reduce_len=n, atol=None if tol is None else 2 * tol)
    g = data.draw(arrays(dtype, shape if reduction == "none" else ()), label="grad_output")
    grad = F.kl_div_backward(g, x, t, reduction, log_target)
    if x.size:
        assert_close(grad, R.kl_div_grad_ref(g, x, t, reduction, log_target), dtype)


# ------------------------------------------------------------------ finite differences


@given(data=st.data())
def test_entropy_backward_by_finite_differences(data: Any) -> None:
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), label="shape")
    dim = draw_dim(data, shape)
    base = data.draw(BASES, label="base")
    p = data.draw(arrays(np.float64, shape, 0.05, 1.0), label="p")
    ferrograd.check_backward(
        lambda v: F.entropy(v, dim, base),
        lambda g, v: F.entropy_backward(g, v, dim, base),
        [p],
        atol=1e-6,
        rtol=1e-5,
    )


@given(data=st.data())
def test_cross_entropy_dist_backward_by_finite_differences(data: Any) -> None:
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), label="shape")
    dim = draw_dim(data, shape)
    base = data.draw(BASES, label="base")
    p = data.draw(arrays(np.float64, shape, 0.05, 1.0), label="p")
    q = data.draw(arrays(np.float64, shape, 0.05, 1.0), label="q")
    ferrograd.check_backward(
        lambda a, b: F.cross_entropy_dist(a, b, dim, base),
        lambda g, a, b: F.cross_entropy_dist_backward(g, a, b, dim, base),
        [p, q],
        atol=1e-6,
        rtol=1e-5,
    )


@given(data=st.data())
def test_kl_div_backward_by_finite_differences(data: Any) -> None:
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), label="shape")
    reduction = data.draw(st.sampled_from(KL_REDUCTIONS), label="reduction")
    log_target = data.draw(st.booleans(), label="log_target")
    x = data.draw(arrays(np.float64, shape, -5.0, 0.0), label="input")
    t = data.draw(arrays(np.float64, shape, *((-5.0, 0.0) if log_target else (0.0, 1.0))))
    ferrograd.check_backward(
        lambda v: F.kl_div(v, t, reduction, log_target),
        lambda g, v: F.kl_div_backward(g, v, t, reduction, log_target),
        [x],
        grad_output=None if reduction == "none" else 1.3,
        atol=1e-6,
        rtol=1e-5,
    )


# ------------------------------------------------------------------ identities


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_kl_is_cross_entropy_minus_entropy(dtype: Any, data: Any) -> None:
    n = data.draw(st.integers(1, 8), label="n")
    p = normalized(data.draw(arrays(np.float64, (n,), 0.0, 1.0), label="p"), -1).astype(dtype)
    q = normalized(data.draw(arrays(np.float64, (n,), 0.01, 1.0), label="q"), -1).astype(dtype)
    base = data.draw(BASES, label="base")
    kl_nats = float(F.kl_div(np.log(q), p, reduction="sum"))
    kl = kl_nats / (1.0 if base is None else math.log(base))
    diff = float(F.cross_entropy_dist(p, q, base=base) - F.entropy(p, base=base))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert abs(kl - diff) <= tol * max(1.0, abs(diff))
    assert kl_nats >= -tol * n  # Gibbs' inequality
    # the same with log-probability targets
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    kl_log = F.kl_div(np.log(q), logp, reduction="sum", log_target=True)
    assert abs(float(kl_log) - kl_nats) <= tol * 10


@given(data=st.data())
def test_kl_per_distribution_along_rows(data: Any) -> None:
    rows, n = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 6))
    p = normalized(data.draw(arrays(np.float64, (rows, n), 0.0, 1.0)), -1)
    q = normalized(data.draw(arrays(np.float64, (rows, n), 0.01, 1.0)), -1)
    per = np.sum(F.kl_div(np.log(q), p, reduction="none"), axis=-1)
    np.testing.assert_allclose(
        per, F.cross_entropy_dist(p, q) - F.entropy(p), rtol=1e-12, atol=1e-12
    )
    batchmean = F.kl_div(np.log(q), p, reduction="batchmean")
    np.testing.assert_allclose(batchmean, np.mean(per), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_kl_of_a_distribution_with_itself_is_zero(dtype: Any) -> None:
    p = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]], dtype=dtype)
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    assert F.kl_div(logp, p, reduction="sum") == 0.0
    assert F.kl_div(logp, logp, reduction="sum", log_target=True) == 0.0
    assert np.all(F.kl_div(logp, p, reduction="none") == 0.0)
    assert_close(F.cross_entropy_dist(p, p), F.entropy(p), dtype, reduce_len=4)


def test_fair_coin_and_fair_die() -> None:
    assert F.entropy(np.array([0.5, 0.5]), base=2) == 1.0
    assert F.entropy([0.5, 0.5], base=2).shape == ()
    assert F.entropy(np.full(6, 1 / 6), base=2) == pytest.approx(math.log2(6), rel=1e-15)
    assert F.entropy(np.full(6, 1 / 6)) == pytest.approx(math.log(6), rel=1e-15)
    assert F.entropy(np.full(6, 1 / 6, np.float32), base=2) == pytest.approx(math.log2(6), 1e-6)
    # a certain outcome carries no information
    assert F.entropy(np.array([0.0, 1.0, 0.0])) == 0.0


def test_zero_probability_conventions() -> None:
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.5, 0.0, 0.5])
    assert F.entropy(p) == pytest.approx(math.log(2))
    assert F.cross_entropy_dist(p, q) == np.inf  # q = 0 < p
    assert F.cross_entropy_dist(q, q) == F.entropy(q)  # 0 log 0 = 0
    gp, gq = F.cross_entropy_dist_backward(1.0, p, np.array([0.5, 0.25, 0.25]))
    assert gq[2] == 0.0 and gp.tolist() == pytest.approx([math.log(2), math.log(4), math.log(4)])
    assert F.entropy_backward(1.0, np.array([0.0, 1.0])).tolist() == [np.inf, -1.0]
    # kl_div: a zero target contributes 0 even against log(0) = -inf
    x = np.array([-np.inf, np.log(0.5), np.log(0.5)])
    t = np.array([0.0, 0.5, 0.5])
    assert F.kl_div(x, t, reduction="sum") == 0.0
    assert F.kl_div(x, np.array([-np.inf, x[1], x[2]]), "sum", log_target=True) == 0.0
    assert F.kl_div_backward(1.0, x, t, "sum").tolist() == [0.0, -0.5, -0.5]


def test_kl_div_reductions_follow_pytorch() -> None:
    x = np.log(np.full((2, 3), 0.25))
    t = np.full((2, 3), 0.5)
    per = 0.5 * (np.log(0.5) - np.log(0.25))
    assert F.kl_div(x, t, "none") == pytest.approx(np.full((2, 3), per))
    assert F.kl_div(x, t) == pytest.approx(per)  # mean over all 6 elements
    assert F.kl_div(x, t, "sum") == pytest.approx(6 * per)
    assert F.kl_div(x, t, "batchmean") == pytest.approx(3 * per)
    assert F.kl_div(np.float64(-1.0), 0.5, "batchmean") == F.kl_div(np.float64(-1.0), 0.5, "sum")
    g = F.kl_div_backward(1.0, x, t, "batchmean")
    assert g == pytest.approx(np.full((2, 3), -0.25))
    assert F.kl_div_backward(1.0, x, t).tolist() == pytest.approx(np.full((2, 3), -0.5 / 6))


# ------------------------------------------------------------------ extremes, NaN, layouts


@pytest.mark.parametrize("dtype", FLOATS)
def test_extreme_inputs(dtype: Any) -> None:
    x = np.array([-1e4, 1e4, 0.0, -3.0, 1e4], dtype=dtype)
    t = np.array([-1e4, 0.0, -1e4, -50.0, -1e4], dtype=dtype)  # log-probabilities
    for r in KL_REDUCTIONS:
        out = F.kl_div(x, t, r, log_target=True)
        g = F.kl_div_backward(np.ones(5, dtype) if r == "none" else 1.0, x, t, r, True)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(g)), (r, out, g)
    assert F.kl_div(x, t, "none", log_target=True)[[0, 2, 4]].tolist() == [0.0, 0.0, 0.0]
    finite_t = np.array([0.0, 1.0, 1e-30, 0.5, 0.25], dtype=dtype)
    assert np.isfinite(F.kl_div(x, finite_t, "sum"))
    # entropy of tiny probabilities stays finite
    assert np.isfinite(F.entropy(np.array([1e-38, 1.0], dtype)))


def test_nan_propagates() -> None:
    p = np.array([[np.nan, 0.5], [0.5, 0.5]])
    h = F.entropy(p)
    assert np.isnan(h[0]) and h[1] == pytest.approx(math.log(2))
    assert np.isnan(F.cross_entropy_dist(np.array([0.0, 1.0]), np.array([np.nan, 1.0])))
    assert np.isnan(F.kl_div(np.array([np.nan, 0.0]), np.array([0.0, 1.0]), "sum"))
    assert np.isnan(F.kl_div(np.array([0.0]), np.array([np.nan]), "sum"))


def test_non_contiguous_inputs() -> None:
    rng = np.random.default_rng(5)
    p, q = rng.random((3, 4, 5)), rng.random((3, 4, 5)) + 0.01
    x = np.log(q)
    views = [
        (non_contiguous(p), non_contiguous(q), non_contiguous(x)),
        (p.T, q.T, x.T),
        (p[:, ::-1], q[:, ::-1], x[:, ::-1]),
    ]
    for pv, qv, xv in views:
        pc, qc, xc = (np.ascontiguousarray(v) for v in (pv, qv, xv))
        for dim in (0, 1, -1):
            np.testing.assert_array_equal(F.entropy(pv, dim), F.entropy(pc, dim))
            np.testing.assert_array_equal(
                F.cross_entropy_dist(pv, qv, dim), F.cross_entropy_dist(pc, qc, dim)
            )
            g = np.ones(F.entropy(pc, dim).shape)
            np.testing.assert_array_equal(
                F.entropy_backward(g, pv, dim), F.entropy_backward(g, pc, dim)
            )
        for r in KL_REDUCTIONS:
            assert_close(F.kl_div(xv, pv, r), F.kl_div(xc, pc, r), np.float64, reduce_len=60)
            np.testing.assert_array_equal(
                F.kl_div_backward(0.5 if r != "none" else pv, xv, pv, r),
                F.kl_div_backward(0.5 if r != "none" else pc, xc, pc, r),
            )


def test_integers_and_lists_promote_like_numpy() -> None:
    assert F.entropy([1, 0]).dtype == np.float64
    assert F.entropy(np.array([1, 1], np.int16)).dtype == np.float32
    assert F.entropy(np.array([1, 1], np.int16), base=2) == 2 * 0.0
    assert F.cross_entropy_dist([1, 0], [1, 1]).dtype == np.float64
    assert F.cross_entropy_dist(np.ones(2, np.float32), np.ones(2, np.float32)).dtype == np.float32
    assert F.kl_div(np.zeros(2, np.float32), np.array([0, 1], np.int8)).dtype == np.float32
    assert F.kl_div([0, 0], [1, 1], "sum") == 0.0
    assert F.kl_div_backward(1, [0, 0], [1, 1], "sum").dtype == np.float64


def test_entropy_on_large_inputs() -> None:
    rng = np.random.default_rng(2)
    p = rng.random((64, 1024))
    assert_close(F.entropy(p), R.entropy_ref(p), np.float64, reduce_len=64)
    assert_close(F.entropy(p, dim=0), R.entropy_ref(p, 0), np.float64, reduce_len=64)
    flat = rng.random(300_001)
    assert_close(F.entropy(flat), R.entropy_ref(flat), np.float64, reduce_len=300)


# ------------------------------------------------------------------ errors


def test_negative_probabilities_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"entropy: p must hold probabilities.*p\[1, 0\] = -0.5"):
        F.entropy(np.array([[0.5, 0.5], [-0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"entropy_backward: p"):
        F.entropy_backward(1.0, np.array([-0.5, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy_dist: q .*q\[0\] = -1"):
        F.cross_entropy_dist(np.array([0.5, 0.5]), np.array([-1.0, 0.5]))
    with pytest.raises(ValueError, match=r"cross_entropy_dist_backward: p"):
        F.cross_entropy_dist_backward(1.0, np.array([-0.5, 0.5]), np.array([1.0, 0.5]))


def test_argument_errors() -> None:
    p = np.full((2, 3), 1 / 3)
    for base in (1.0, 0.0, -2.0, np.inf):
        with pytest.raises(ValueError, match="entropy: base must be positive, finite and not 1"):
            F.entropy(p, base=base)
    with pytest.raises(ferrograd.DTypeError, match="base"):
        F.entropy(p, base="2")  # type: ignore[arg-type]
    with pytest.raises(ferrograd.DTypeError, match="dim must be an int"):
        F.entropy(p, dim=None)  # type: ignore[arg-type]
    with pytest.raises(ferrograd.ShapeError, match="dim 2 is out of range for an input of 2"):
        F.entropy(p, dim=2)
    with pytest.raises(ferrograd.ShapeError, match=r"p has shape \(2, 3\) but q has shape \(3,\)"):
        F.cross_entropy_dist(p, np.ones(3))
    with pytest.raises(ferrograd.ShapeError, match=r"input has shape \(2, 3\) but target"):
        F.kl_div(p, np.ones((3, 2)))
    with pytest.raises(
        ferrograd.ShapeError, match=r"grad_output has shape \(3,\), expected \(2,\)"
    ):
        F.entropy_backward(np.ones(3), p)
    with pytest.raises(ferrograd.ShapeError, match="grad_output"):
        F.cross_entropy_dist_backward(np.ones((2, 3)), p, p)
    with pytest.raises(ferrograd.ShapeError, match="grad_output"):
        F.kl_div_backward(np.ones(2), p, p, "batchmean")
    with pytest.raises(ferrograd.ShapeError, match="grad_output"):
        F.kl_div_backward(np.ones((3, 2)), p, p, "none")
    for bad in ("avg", None, "BatchMean"):
        with pytest.raises(ValueError, match="kl_div: reduction must be 'none', 'mean', 'sum'"):
            F.kl_div(p, p, reduction=bad)
    with pytest.raises(ferrograd.DTypeError, match="entropy"):
        F.entropy(np.array([1 + 0j]))
    with pytest.raises(ferrograd.DTypeError, match="kl_div"):
        F.kl_div(np.array(["a"]), np.array([1.0]))
