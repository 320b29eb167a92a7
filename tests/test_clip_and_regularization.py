"""Gradient clipping and weight penalties against NumPy."""

from __future__ import annotations

import math
from typing import Any

import ferrograd
import numpy as np
import pytest
import reference as ref
from ferrograd import nn
from ferrograd.nn.utils import clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty
from ferrograd.optim import SGD

# One gradient above the parallel threshold so the chunked reduction runs too.
SHAPES = [(4, 3), (7,), (2, 3, 5), (300, 150)]


def params_with_grads(dtype: Any = np.float64, scale: float = 1.0, seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    ps = []
    for s in SHAPES:
        p = nn.Parameter(np.zeros(s, dtype))
        p.grad = (scale * rng.standard_normal(s)).astype(dtype)
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_returns_global_norm_and_scales(norm_type: Any, dtype: Any) -> None:
    ps = params_with_grads(dtype)
    before = [p.grad.copy() for p in ps]
    want = ref.global_norm_ref(before, float(norm_type))
    max_norm = want / 3
    total = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(want, rel=1e-12)
    coef = max_norm / (want + 1e-6)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for p, g in zip(ps, before):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, g.astype(np.float64) * coef, rtol=rtol, atol=0)
    assert ref.global_norm_ref([p.grad for p in ps], float(norm_type)) == pytest.approx(
        max_norm, rel=1e-5
    )


def test_clip_grad_norm_leaves_small_gradients_alone() -> None:
    ps = params_with_grads()
    grads = [p.grad for p in ps]
    before = [g.copy() for g in grads]
    total = clip_grad_norm_(ps, max_norm=1e6)
    assert total == pytest.approx(ref.global_norm_ref(before, 2.0), rel=1e-12)
    for p, g, b in zip(ps, grads, before):
        assert p.grad is g  # same array, untouched
        np.testing.assert_array_equal(p.grad, b)


def test_clip_grad_norm_mixed_dtypes_skips_missing_grads_and_accepts_one_tensor() -> None:
    a = nn.Parameter(np.zeros(2, np.float32))
    b = nn.Parameter(np.zeros(1, np.float64))
    c = nn.Parameter(np.zeros(3))
    a.grad, b.grad = np.array([3.0, 0.0], np.float32), np.array([4.0])
    assert clip_grad_norm_([a, b, c, a], max_norm=10.0) == 5.0
    assert c.grad is None
    assert clip_grad_norm_(a, max_norm=1.0) == 3.0
    np.testing.assert_allclose(a.grad, [1.0, 0.0], rtol=1e-6)
    assert clip_grad_norm_([c], max_norm=1.0) == 0.0


def test_clip_grad_norm_nonfinite() -> None:
    ps = params_with_grads()
    ps[1].grad[3] = np.inf
    with pytest.raises(ferrograd.FerrogradError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_(ps, 1.0) == math.inf
    ps = params_with_grads()
    ps[0].grad[0, 0] = np.nan
    assert math.isnan(clip_grad_norm_(ps, 1.0, norm_type="inf"))
    with pytest.raises(ferrograd.ArgumentError, match="norm_type must be greater than 0"):
        clip_grad_norm_(params_with_grads(), 1.0, norm_type=0.0)


def test_clip_grad_norm_non_contiguous_grad() -> None:
    p = nn.Parameter(np.zeros((3, 2)))
    p.grad = np.arange(6.0).reshape(2, 3).T * 1.0
    g = p.grad.copy()
    total = clip_grad_norm_([p], 1.0)
    assert total == pytest.approx(np.linalg.norm(g), rel=1e-12)
    np.testing.assert_allclose(p.grad, g / (total + 1e-6), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value(dtype: Any) -> None:
    ps = params_with_grads(dtype, scale=2.0)
    before = [p.grad.copy() for p in ps]
    ps[0].grad[0, 0] = np.nan
    before[0][0, 0] = np.nan
    clip_grad_value_(ps, 1.5)
    for p, g in zip(ps, before):
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad, np.clip(g, -1.5, 1.5))
    with pytest.raises(ferrograd.ArgumentError, match="clip_value must be at least 0, got -1"):
        clip_grad_value_(ps, -1.0)
    clip_grad_value_(ps, 0.0)
    assert all(np.all((p.grad == 0) | np.isnan(p.grad)) for p in ps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_penalty_values(dtype: Any) -> None:
    rng = np.random.default_rng(1)
    ws = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    l1, l2 = l1_penalty(ws), l2_penalty(ws)
    flat = np.concatenate([w.data.astype(np.float64).ravel() for w in ws])
    assert l1.dtype == dtype and l1.shape == () and l1.requires_grad
    rtol = 1e-12 if dtype == np.float64 else 1e-7
    assert float(l1.item()) == pytest.approx(np.abs(flat).sum(), rel=rtol)
    assert float(l2.item()) == pytest.approx((flat**2).sum(), rel=rtol)
    l2.backward()
    for w in ws:
        assert w.grad.dtype == dtype
        np.testing.assert_allclose(w.grad, 2 * w.data, rtol=rtol)


def test_penalty_gradients_by_finite_differences() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0.2, 1.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))  # away from the kink
    b = rng.standard_normal(5)
    assert ferrograd.gradcheck(lambda x, y: l1_penalty([x, y]) * 1.7, [a, b.clip(0.1)])
    assert ferrograd.gradcheck(lambda x, y: l2_penalty([x, y]) * 0.3 + l2_penalty(x), [a, b])


def test_penalty_edge_cases() -> None:
    w = nn.Parameter(np.array([0.0, -1.0, 2.0]))
    l1_penalty(w).backward()
    assert w.grad.tolist() == [0.0, -1.0, 1.0]  # subgradient 0 at 0, like sign()
    mixed = l2_penalty([nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(3))])
    assert mixed.dtype == np.float64 and float(mixed.item()) == 5.0
    assert float(l1_penalty([]).item()) == 0.0
    frozen = nn.Parameter(np.ones(2), requires_grad=False)
    assert not l2_penalty([frozen]).requires_grad


def test_half_l2_penalty_equals_coupled_weight_decay() -> None:
    rng = np.random.default_rng(4)
    w0, g = rng.standard_normal(6), rng.standard_normal(6)
    lam = 0.3
    a = nn.Parameter(w0.copy())
    opt_a = SGD([a], lr=0.1, momentum=0.9, weight_decay=lam)
    b = nn.Parameter(w0.copy())
    opt_b = SGD([b], lr=0.1, momentum=0.9)
    for _ in range(5):
        a.grad = g.copy()
        opt_a.step()
        opt_b.zero_grad()
        loss = (b * ferrograd.tensor(g)).sum() + (lam / 2) * l2_penalty([b])
        loss.backward()
        opt_b.step()
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)
