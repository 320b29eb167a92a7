"""Contrastive losses (cosine embedding, triplet margin, NT-Xent) and their gradients.

Each loss and its backward are compared with the float64 references in reference.py over
hypothesis-drawn shapes, options, dtypes and memory layouts (rows within rounding of a hinge's
kink or of a tie are left out of the gradient comparison, since either side is right there).
Each backward is also checked by finite differences away from kinks.
"""

from __future__ import annotations

from typing import Any

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd.exceptions import DTypeError, ShapeError
from helpers import EPS, FLOATS, assert_close, layouts, with_layout
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = st.sampled_from(FLOATS)
REDUCTIONS = st.sampled_from(("none", "mean", "sum"))


def grid(dtype: Any, shape: Any, lo: int = -24, hi: int = 24) -> Any:
    """Arrays of multiples of 1/8 in [lo/8, hi/8]: exact in float32 and float64."""
    return hnp.arrays(dtype, shape, elements=st.integers(lo, hi).map(lambda v: v / 8))


def _tol(dtype: Any) -> float:
    return 64 * EPS[np.dtype(dtype)]


def _close_rows(
    actual: np.ndarray, expected: np.ndarray, keep: np.ndarray, dtype: Any, terms: int
) -> None:
    """Compares the rows (leading indices) where ``keep`` holds, scaled to the largest value."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == np.dtype(dtype)
    mag = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    atol = _tol(dtype) * max(1, terms) * mag
    np.testing.assert_allclose(
        actual[keep].astype(np.float64), expected[keep], rtol=_tol(dtype) * 4, atol=atol
    )


# ----------------------------------------------------------------------------- cosine embedding


@st.composite
def cosine_cases(draw: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    dtype = draw(DTYPES)
    d = draw(st.integers(0, 5))
    single = draw(st.booleans())
    shape = (d,) if single else (draw(st.integers(0, 4)), d)
    a = draw(grid(dtype, shape))
    b = draw(grid(dtype, shape))
    t = draw(
        hnp.arrays(
            draw(st.sampled_from((np.int64, np.float32, np.float64))),
            shape[:-1],
            elements=st.sampled_from((-1, 1)),
        )
    )
    kw = {"margin": draw(st.integers(-8, 8).map(lambda v: v / 8)), "reduction": draw(REDUCTIONS)}
    lay = draw(layouts())
    return dtype, with_layout(a, lay), with_layout(b, lay), t, kw


@given(case=cosine_cases(), data=st.data())
def test_cosine_embedding_matches_reference(case: Any, data: Any) -> None:
    dtype, a, b, t, kw = case
    d = a.shape[-1]
    out = F.cosine_embedding_loss(a, b, t, **kw)
    assert_close(out, R.cosine_embedding_loss_ref(a, b, t, **kw), dtype, reduce_len=a.size or 1)
    g = data.draw(grid(dtype, out.shape))
    ga, gb = F.cosine_embedding_loss_backward(g, a, b, t, **kw)
    ra, rb = R.cosine_embedding_loss_grad_ref(g, a, b, t, **kw)
    cos = 1.0 - R.cosine_embedding_loss_ref(a, b, np.ones_like(t), reduction="none")
    keep = (t == 1) | (np.abs(cos - kw["margin"]) > 1e3 * _tol(dtype))
    _close_rows(ga, ra, keep, dtype, d)
    _close_rows(gb, rb, keep, dtype, d)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cosine_embedding_backward_by_finite_differences(reduction: str) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    t = np.array([1, -1, -1, 1, -1])
    cos = 1.0 - R.cosine_embedding_loss_ref(a, b, np.ones(5), reduction="none")
    margin = -0.2
    assert np.abs(cos - margin).min() > 0.01
    kw = {"margin": margin, "reduction": reduction}
    ferrograd.check_backward(
        lambda x, y: F.cosine_embedding_loss(x, y, t, **kw),
        lambda g, x, y: F.cosine_embedding_loss_backward(g, x, y, t, **kw),
        [a, b],
    )


def test_cosine_embedding_by_hand() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0], [0.0, 0.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0], [-3.0, -4.0], [1.0, 0.0]])
    t = np.array([1, -1, -1, 1])
    out = F.cosine_embedding_loss(a, b, t, margin=0.25, reduction="none")
    # orthogonal: 1 - 0; parallel: 1 - 0.25; opposite: max(0, -1 - 0.25); zero row: cos 0.
    assert np.allclose(out, [1.0, 0.75, 0.0, 1.0])
    assert out.shape == (4,)
    single = F.cosine_embedding_loss(a[1], b[1], np.array(1), reduction="none")
    assert single.shape == () and abs(float(single)) < 1e-12
    # A zero row has a finite gradient (the epsilon keeps the denominator positive).
    g1, g2 = F.cosine_embedding_loss_backward(np.ones(4), a, b, t, reduction="none")
    assert np.isfinite(g1).all() and np.isfinite(g2).all()


def test_cosine_embedding_large_inputs_stay_finite() -> None:
    a = np.array([[1e30, 1e30]], dtype=np.float32)  # squares overflow float32
    b = np.array([[1e30, -1e30]], dtype=np.float32)
    out = F.cosine_embedding_loss(a, b, np.array([-1]), margin=-0.5)
    assert out.dtype == np.float32 and np.isclose(float(out), 0.5)
    g1, g2 = F.cosine_embedding_loss_backward(1.0, a, b, np.array([-1]), margin=-0.5)
    assert np.isfinite(g1).all() and np.isfinite(g2).all()
    assert np.allclose(g1 * 1e30, [0.5, -0.5], atol=1e-6)


def test_cosine_embedding_bad_input() -> None:
    a = np.ones((3, 2))
    with pytest.raises(ValueError, match="got 0 at index 1"):
        F.cosine_embedding_loss(a, a, np.array([1, 0, -1]))
    with pytest.raises(ShapeError, match=r"input1 has shape \(3, 2\) but input2 has shape"):
        F.cosine_embedding_loss(a, np.ones((3, 3)), np.ones(3))
    with pytest.raises(ShapeError, match=r"target has shape \(2,\)"):
        F.cosine_embedding_loss(a, a, np.ones(2))
    with pytest.raises(ShapeError):
        F.cosine_embedding_loss(a, a, np.array(1))
    with pytest.raises(ShapeError):
        F.cosine_embedding_loss(np.ones((2, 2, 2)), np.ones((2, 2, 2)), np.ones((2, 2)))
    with pytest.raises(DTypeError):
        F.cosine_embedding_loss(np.ones((3, 2), dtype=int), a, np.ones(3))
    with pytest.raises(ShapeError, match="grad_output"):
        F.cosine_embedding_loss_backward(np.ones(3), a, a, np.ones(3))
    nan = F.cosine_embedding_loss(np.array([[np.nan, 1.0]]), np.ones((1, 2)), np.ones(1))
    assert np.isnan(nan)


# ----------------------------------------------------------------------------- triplet margin

P_NORMS = (1.0, 2.0, 3.0, 1.5, np.inf, 0.0)


@st.composite
def triplet_cases(draw: Any) -> tuple[Any, list[np.ndarray], dict[str, Any]]:
    dtype = draw(DTYPES)
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    shape = (*lead, draw(st.integers(0, 4)))
    lay = draw(layouts())
    xs = [with_layout(draw(grid(dtype, shape)), lay) for _ in range(3)]
    kw = {
        "margin": draw(st.integers(-8, 16).map(lambda v: v / 8)),
        "p": draw(st.sampled_from(P_NORMS)),
        "eps": draw(st.sampled_from((0.0, 1e-6, 0.25))),
        "swap": draw(st.booleans()),
        "reduction": draw(REDUCTIONS),
    }
    return dtype, xs, kw


def _triplet_keep(xs: list[np.ndarray], kw: dict[str, Any], tol: float) -> np.ndarray:
    """Rows away from the hinge, from distance ties under swap and from inf-norm ties."""
    a, p, n = (np.asarray(x, dtype=np.float64) for x in xs)
    eps, pn = kw["eps"], kw["p"]
    v_ap, v_an, v_pn = a - p + eps, a - n + eps, p - n + eps
    d_ap, d_an, d_pn = (R._pnorm(v, pn) for v in (v_ap, v_an, v_pn))
    d_neg = np.minimum(d_an, d_pn) if kw["swap"] else d_an
    scale = 1.0 + d_ap + d_an + d_pn
    keep = np.abs(kw["margin"] + d_ap - d_neg) > tol * scale
    if kw["swap"]:
        keep &= np.abs(d_an - d_pn) > tol * scale
    if np.isinf(pn) and a.shape[-1] > 1:
        for v in (v_ap, v_an, v_pn):
            top = np.sort(np.abs(v), axis=-1)
            keep &= (top[..., -1] - top[..., -2]) > tol * scale
    return keep


@given(case=triplet_cases(), data=st.data())
def test_triplet_matches_reference(case: Any, data: Any) -> None:
    dtype, xs, kw = case
    d = xs[0].shape[-1]
    out = F.triplet_margin_loss(*xs, **kw)
    expected = R.triplet_margin_loss_ref(*xs, **kw)
    rows = max(1, int(np.prod(xs[0].shape[:-1])))
    mag = 1.0 + 3 * float(np.max(np.abs(np.asarray(xs, dtype=np.float64)), initial=0.0))
    atol = _tol(dtype) * max(1, d) * mag * (rows if kw["reduction"] != "none" else 1)
    assert out.shape == expected.shape and out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=_tol(dtype), atol=atol)
    g = data.draw(grid(dtype, out.shape))
    grads = F.triplet_margin_loss_backward(g, *xs, **kw)
    refs = R.triplet_margin_loss_grad_ref(g, *xs, **kw)
    keep = _triplet_keep(xs, kw, 1e3 * _tol(dtype))
    for got, want in zip(grads, refs):
        _close_rows(got, want, keep, dtype, 3 * d)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5, np.inf])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_triplet_backward_by_finite_differences(p: float, swap: bool, reduction: str) -> None:
    rng = np.random.default_rng(7)
    kw = {"margin": 1.0, "p": p, "eps": 1e-6, "swap": swap, "reduction": reduction}
    while True:
        xs = [rng.normal(size=(4, 3)) for _ in range(3)]
        if _triplet_keep(xs, kw, 0.01).all() and min(np.abs(x).min() for x in xs) > 0.01:
            break
    ferrograd.check_backward(
        lambda a, b, c: F.triplet_margin_loss(a, b, c, **kw),
        lambda g, a, b, c: F.triplet_margin_loss_backward(g, a, b, c, **kw),
        xs,
    )


def test_triplet_by_hand() -> None:
    a, p, n = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[6.0, 8.0]])
    # d(a, p) = 5, d(a, n) = 10, d(p, n) = 5.
    assert float(F.triplet_margin_loss(a, p, n, margin=6.0, eps=0.0)) == 1.0
    # Swap: the negative distance becomes min(10, 5) = 5, so the loss is 6 + 5 - 5.
    assert float(F.triplet_margin_loss(a, p, n, margin=6.0, eps=0.0, swap=True)) == 6.0
    assert float(F.triplet_margin_loss(a, p, n, margin=6.0, eps=0.0, p=1.0)) == 0.0  # 6+7-14
    assert float(F.triplet_margin_loss(a, p, n, margin=6.0, eps=0.0, p=np.inf)) == 2.0  # 6+4-8
    # eps is added to the difference, as pairwise_distance: ||(0,0) - (0,0) + 0.5|| = sqrt(0.5).
    z = np.zeros((1, 2))
    out = F.triplet_margin_loss(z, z, z + 1.0, margin=0.0, eps=0.5, reduction="none")
    assert out.shape == (1,) and np.isclose(out[0], max(0.0, np.sqrt(0.5) - np.sqrt(0.5)))
    one = F.triplet_margin_loss(a[0], p[0], n[0], margin=6.0, eps=0.0, reduction="none")
    assert one.shape == () and float(one) == 1.0
    # Under swap the negative term is d(p, n): the anchor gets only d(a, p)'s gradient.
    ga, gp, gn = F.triplet_margin_loss_backward(1.0, a, p, n, 6.0, eps=0.0, swap=True)
    assert np.allclose(ga, [[-0.6, -0.8]]) and np.allclose(gp, [[1.2, 1.6]])
    assert np.allclose(gn, [[-0.6, -0.8]])


def test_triplet_large_inputs_and_nan() -> None:
    a = np.array([[1e30, 0.0]], dtype=np.float32)
    p = np.array([[0.0, 1e30]], dtype=np.float32)
    n = np.array([[-1e30, -1e30]], dtype=np.float32)
    out = F.triplet_margin_loss(a, p, n, margin=0.0, swap=True, reduction="none")
    assert out.dtype == np.float32 and np.isfinite(out).all()
    grads = F.triplet_margin_loss_backward(np.ones(1), a, p, n, 1e30, swap=True, reduction="none")
    assert all(np.isfinite(g).all() for g in grads)
    x = np.array([[np.nan, 0.0]])
    assert np.isnan(F.triplet_margin_loss(x, np.zeros((1, 2)), np.ones((1, 2))))
    assert np.isnan(
        F.triplet_margin_loss_backward(1.0, x, np.zeros((1, 2)), np.ones((1, 2)))[0]
    ).any()


def test_triplet_bad_input() -> None:
    a = np.zeros((2, 3))
    with pytest.raises(ShapeError, match=r"anchor has shape \(2, 3\) but negative has shape"):
        F.triplet_margin_loss(a, a, np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="at least one dimension"):
        F.triplet_margin_loss(np.float64(1), np.float64(2), np.float64(3))
    with pytest.raises(ValueError, match="p must be"):
        F.triplet_margin_loss(a, a, a, p=-1.0)
    with pytest.raises(DTypeError):
        F.triplet_margin_loss(a, a, np.zeros((2, 3), dtype=np.int32))
    with pytest.raises(DTypeError):
        F.triplet_margin_loss(a, a, a, margin="1")
    with pytest.raises(ShapeError, match="grad_output"):
        F.triplet_margin_loss_backward(np.ones(3), a, a, a, reduction="none")
    mixed = F.triplet_margin_loss(a.astype(np.float32), a, a)  # NumPy promotion
    assert mixed.dtype == np.float64


# ----------------------------------------------------------------------------- NT-Xent

TEMPERATURES = st.sampled_from((0.1, 0.5, 1.0, 2.0))


@st.composite
def nt_xent_cases(draw: Any) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    dtype = draw(DTYPES)
    shape = (draw(st.integers(0, 4)), draw(st.integers(1, 4)))
    lay = draw(layouts())
    zs = []
    for _ in range(2):
        z = draw(grid(dtype, shape))
        z[np.all(z == 0, axis=1), 0] = 1  # keep rows away from the norm's kink at zero
        zs.append(with_layout(z, lay))
    kw = {"temperature": draw(TEMPERATURES), "reduction": draw(REDUCTIONS)}
    return dtype, zs[0], zs[1], kw


@given(case=nt_xent_cases(), data=st.data())
def test_nt_xent_matches_reference(case: Any, data: Any) -> None:
    dtype, z1, z2, kw = case
    n2, d = 2 * z1.shape[0], z1.shape[1]
    out = F.nt_xent_loss(z1, z2, **kw)
    expected = R.nt_xent_loss_ref(z1, z2, **kw)
    assert out.shape == expected.shape and out.dtype == np.dtype(dtype)
    atol = _tol(dtype) * n2 * d / kw["temperature"] * (n2 if kw["reduction"] != "none" else 1)
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=_tol(dtype), atol=atol)
    g = data.draw(grid(dtype, out.shape))
    g1, g2 = F.nt_xent_loss_backward(g, z1, z2, **kw)
    r1, r2 = R.nt_xent_loss_grad_ref(g, z1, z2, **kw)
    terms = n2 * d * int(1 / kw["temperature"] + 1)
    keep = np.ones(z1.shape[0], dtype=bool)
    _close_rows(g1, r1, keep, dtype, terms)
    _close_rows(g2, r2, keep, dtype, terms)


@pytest.mark.parametrize("temperature", [0.5, 0.1])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nt_xent_backward_by_finite_differences(temperature: float, reduction: str) -> None:
    rng = np.random.default_rng(11)
    z1, z2 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    kw = {"temperature": temperature, "reduction": reduction}
    ferrograd.check_backward(
        lambda a, b: F.nt_xent_loss(a, b, **kw),
        lambda g, a, b: F.nt_xent_loss_backward(g, a, b, **kw),
        [z1, z2],
    )


def test_nt_xent_by_hand() -> None:
    # N = 1: the positive is the only other row, so each anchor's softmax is 1: loss log 1 = 0.
    out = F.nt_xent_loss(np.array([[1.0, 2.0]]), np.array([[-3.0, 0.5]]), reduction="none")
    assert out.shape == (2,) and np.allclose(out, 0.0)
    # Two orthogonal examples, identical views: positive similarity 1/t, two negatives 0, so
    # every anchor's loss is -1/t + log(e^(1/t) + 2) = log(1 + 2 e^(-1/t)).
    for t in (0.5, 1.0, 2.0):
        for dtype in FLOATS:
            z = np.eye(2, dtype=dtype)
            loss = F.nt_xent_loss(z, 3 * z, temperature=t)  # scale does not matter
            assert loss.dtype == dtype
            assert np.isclose(float(loss), np.log(1 + 2 * np.exp(-1 / t)), rtol=1e-6)
    s = F.nt_xent_loss(np.eye(2), np.eye(2), temperature=1.0, reduction="sum")
    assert np.isclose(float(s), 4 * np.log(1 + 2 * np.exp(-1.0)))
    # A zero row is normalised to zero (F.normalize's epsilon), not NaN.
    z = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert np.isfinite(F.nt_xent_loss(z, z, reduction="none")).all()
    assert np.isfinite(F.nt_xent_loss_backward(1.0, z, z)[0]).all()


def test_nt_xent_large_inputs_and_empty() -> None:
    z1 = np.array([[1e30, 0.0], [0.0, 1e30]], dtype=np.float32)
    out = F.nt_xent_loss(z1, z1, temperature=1.0)
    assert out.dtype == np.float32 and np.isclose(float(out), np.log(1 + 2 * np.exp(-1.0)))
    g1, g2 = F.nt_xent_loss_backward(1.0, z1, z1, temperature=1.0)
    assert np.isfinite(g1).all() and np.isfinite(g2).all()
    empty = np.zeros((0, 3))
    assert np.isnan(F.nt_xent_loss(empty, empty))
    assert F.nt_xent_loss(empty, empty, reduction="none").shape == (0,)
    assert F.nt_xent_loss_backward(0.0, empty, empty, reduction="sum")[0].shape == (0, 3)
    assert np.isnan(F.nt_xent_loss(np.array([[np.nan, 1.0]]), np.ones((1, 2))))


def test_nt_xent_bad_input() -> None:
    z = np.ones((2, 3))
    for t in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be positive"):
            F.nt_xent_loss(z, z, temperature=t)
        with pytest.raises(ValueError, match="temperature must be positive"):
            F.nt_xent_loss_backward(1.0, z, z, temperature=t)
    with pytest.raises(ShapeError, match=r"z1 has shape \(2, 3\) but z2 has shape \(3, 3\)"):
        F.nt_xent_loss(z, np.ones((3, 3)))
    with pytest.raises(ShapeError, match=r"\(N, D\)"):
        F.nt_xent_loss(np.ones(3), np.ones(3))
    with pytest.raises(DTypeError):
        F.nt_xent_loss(z.astype(np.int64), z)
    with pytest.raises(ShapeError, match="grad_output"):
        F.nt_xent_loss_backward(np.ones(2), z, z, reduction="none")
    with pytest.raises(ValueError, match="reduction"):
        F.nt_xent_loss(z, z, reduction="batchmean")


def test_ties_share_the_gradient() -> None:
    # Under swap with d(a, n) == d(p, n) exactly, torch.minimum gives each half.
    a, p, n = np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 5.0]])
    kw = {"margin": 10.0, "eps": 0.0, "swap": True}
    got = F.triplet_margin_loss_backward(1.0, a, p, n, **kw)
    for x, want in zip(got, R.triplet_margin_loss_grad_ref(1.0, a, p, n, **kw)):
        assert np.allclose(x, want)
    assert np.allclose(got[0], [[-1 + 0.5 / np.sqrt(26), 2.5 / np.sqrt(26)]])
    # The infinity norm shares its gradient among the elements that reach it.
    p, n = np.array([[1.0, -1.0]]), np.array([[5.0, 5.0]])
    ga, _, _ = F.triplet_margin_loss_backward(1.0, a, p, n, margin=10.0, p=np.inf, eps=0.0)
    assert np.allclose(ga, [[0.0, 1.0]])


def test_large_inputs_take_the_parallel_path() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(5000, 8)), rng.normal(size=(5000, 8))
    t = rng.choice([-1, 1], size=5000)
    g = rng.normal(size=5000)
    kw = {"margin": 0.1, "reduction": "none"}
    assert_close(
        F.cosine_embedding_loss(a, b, t, **kw),
        R.cosine_embedding_loss_ref(a, b, t, **kw),
        np.float64,
    )
    for x, r in zip(
        F.cosine_embedding_loss_backward(g, a, b, t, **kw),
        R.cosine_embedding_loss_grad_ref(g, a, b, t, **kw),
    ):
        assert_close(x, r, np.float64, reduce_len=8)
    c = rng.normal(size=(5000, 8))
    kw = {"swap": True, "reduction": "none"}
    assert_close(
        F.triplet_margin_loss(a, b, c, **kw),
        R.triplet_margin_loss_ref(a, b, c, **kw),
        np.float64,
        reduce_len=8,
    )
    for x, r in zip(
        F.triplet_margin_loss_backward(g, a, b, c, **kw),
        R.triplet_margin_loss_grad_ref(g, a, b, c, **kw),
    ):
        assert_close(x, r, np.float64, reduce_len=8)
    z1, z2 = rng.normal(size=(120, 16)), rng.normal(size=(120, 16))
    assert_close(F.nt_xent_loss(z1, z2), R.nt_xent_loss_ref(z1, z2), np.float64, reduce_len=240)
    for x, r in zip(F.nt_xent_loss_backward(1.0, z1, z2), R.nt_xent_loss_grad_ref(1.0, z1, z2)):
        assert_close(x, r, np.float64, reduce_len=240 * 16)
