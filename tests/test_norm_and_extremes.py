"""Tensor.norm's gradient at zero (PyTorch's subgradient 0, not NaN) and the gradient of
Tensor.max(dim) / min(dim) by finite differences, near ties and at exact ties."""

from __future__ import annotations

import numpy as np
import pytest
from ferrograd import gradcheck, tensor

RNG = np.random.default_rng(9)
PS = [0.5, 1, 1.5, 2, 3, "fro", float("inf")]


def _p(p):
    return 2.0 if p == "fro" else float(p)


@pytest.mark.parametrize("p", PS)
def test_norm_of_an_all_zero_tensor_has_gradient_zero(p):
    for shape in [(3,), (2, 3)]:
        x = tensor(np.zeros(shape), requires_grad=True)
        n = x.norm(p)
        assert n.item() == 0.0
        n.backward()
        np.testing.assert_array_equal(x.grad, np.zeros(shape))


@pytest.mark.parametrize("p", PS)
def test_norm_with_an_all_zero_row_along_dim(p):
    x = RNG.standard_normal((3, 4))
    x[1] = 0.0
    t = tensor(x, requires_grad=True)
    out = t.norm(p, dim=1)
    np.testing.assert_allclose(out.data, np.linalg.norm(x, _p(p), axis=1), rtol=1e-12)
    g = RNG.standard_normal(3)
    (out * g).sum().backward()
    assert np.all(np.isfinite(t.grad))
    np.testing.assert_array_equal(t.grad[1], 0.0)
    # the other rows: d||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1) (max: the argmax)
    rows = [0, 2]
    pp, xr = _p(p), x[rows]
    norm = np.linalg.norm(xr, pp, axis=1, keepdims=True)
    if pp == np.inf:
        want = np.sign(xr) * (np.abs(xr) == norm)
    else:
        want = np.sign(xr) * np.abs(xr) ** (pp - 1) / norm ** (pp - 1)
    np.testing.assert_allclose(t.grad[rows], want * g[rows, None], rtol=1e-10)


@pytest.mark.parametrize("p", [1.5, 2, 3])
def test_norm_gradcheck_keepdim_and_float32(p):
    x = RNG.standard_normal((2, 3, 2))
    assert gradcheck(lambda a: a.norm(p, dim=(0, 2), keepdim=True), [x])
    t = tensor(x.astype(np.float32), requires_grad=True)
    t.norm(p).backward()
    assert t.grad.dtype == np.float32


def test_norm_below_one_is_zero_at_zero_elements():
    t = tensor(np.array([0.0, 4.0]), requires_grad=True)
    t.norm(0.5).backward()  # (sqrt|x0| + sqrt|x1|)^2: d/dx1 = sqrt(norm / x1) = 1
    np.testing.assert_allclose(t.grad, [0.0, 1.0], rtol=1e-12)


# values with ties: exact (1.0 twice in row 0, 3.0 twice in column 2) and near (1e-4 apart,
# far more than gradcheck's step)
TIES = np.array([[1.0, 1.0, 3.0, -2.0], [0.5, 0.5001, 3.0, 0.4999], [2.0, -1.0, 2.0001, 2.0]])


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_gradcheck_near_ties(kind, dim, keepdim):
    x = TIES + np.where(TIES == 1.0, np.array([0.0, 1e-4, 0, 0]), 0.0)  # break the exact tie
    x[1, 2] += 2e-4

    def values(a):
        return getattr(a, kind)(dim, keepdim).values

    assert gradcheck(values, [x])


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1])
def test_max_min_with_dim_at_exact_ties_send_the_gradient_to_the_index(kind, dim):
    t = tensor(TIES, requires_grad=True)
    values, indices = getattr(t, kind)(dim)
    want_idx = (np.argmax if kind == "max" else np.argmin)(TIES, axis=dim)  # the first
    np.testing.assert_array_equal(indices.data, want_idx)
    g = RNG.standard_normal(values.shape)
    (values * g).sum().backward()
    want = np.zeros_like(TIES)
    np.put_along_axis(want, np.expand_dims(want_idx, dim), np.expand_dims(g, dim), axis=dim)
    np.testing.assert_array_equal(t.grad, want)
    # a subgradient: one-sided differences bracket it at the tie
    for i in np.ndindex(TIES.shape):
        up, down = TIES.copy(), TIES.copy()
        up[i] += 1e-6
        down[i] -= 1e-6

        def f(a):
            return float((getattr(np, kind)(a, axis=dim) * g).sum())

        right, left = (f(up) - f(TIES)) / 1e-6, (f(TIES) - f(down)) / 1e-6
        lo, hi = sorted((left, right))
        assert lo - 1e-6 <= t.grad[i] <= hi + 1e-6, i
