"""Margin losses (hinge, hinge embedding, soft margin, multi margin) and their gradients.

Each loss and its backward are compared with the float64 references in reference.py over
hypothesis-drawn shapes, options, dtypes and memory layouts; inputs come from a grid of
multiples of 1/8 so that float32 and float64 take the same side of every hinge. Each backward
is also checked by finite differences away from the kinks.
"""

from __future__ import annotations

from typing import Any, Callable

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd import _core
from ferrograd.exceptions import DTypeError, ShapeError
from helpers import FLOATS, assert_close, layouts, shapes, with_layout
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = st.sampled_from(FLOATS)
REDUCTIONS = st.sampled_from(("none", "mean", "sum"))
TARGET_DTYPES = st.sampled_from((np.int8, np.int32, np.int64, np.float32, np.float64))
MARGINS = st.integers(-16, 16).map(lambda v: v / 8)


def grid(dtype: Any, shape: Any, lo: int = -24, hi: int = 24) -> Any:
    """Arrays of multiples of 1/8 in [lo/8, hi/8]: exact in float32 and float64."""
    return hnp.arrays(dtype, shape, elements=st.integers(lo, hi).map(lambda v: v / 8))


def signs(shape: Any, dtype: Any) -> Any:
    return hnp.arrays(dtype, shape, elements=st.sampled_from((-1, 1)))


def _n(out: np.ndarray, x: np.ndarray, reduction: str) -> int:
    return 1 if reduction == "none" else max(1, x.size)


# ----------------------------------------------------------------------------- pointwise losses

POINTWISE: dict[str, tuple[Callable[..., Any], Callable[..., Any], bool]] = {
    "hinge_loss": (R.hinge_loss_ref, R.hinge_loss_grad_ref, True),
    "hinge_embedding_loss": (R.hinge_embedding_loss_ref, R.hinge_embedding_loss_grad_ref, True),
    "soft_margin_loss": (R.soft_margin_loss_ref, R.soft_margin_loss_grad_ref, False),
}


@pytest.mark.parametrize("name", POINTWISE)
@given(data=st.data())
def test_pointwise_matches_reference(name: str, data: Any) -> None:
    ref, ref_grad, has_margin = POINTWISE[name]
    dtype = data.draw(DTYPES)
    shape = data.draw(shapes(max_dims=3))
    x = data.draw(grid(dtype, shape))
    t = data.draw(signs(shape, data.draw(TARGET_DTYPES)))
    kw: dict[str, Any] = {"reduction": data.draw(REDUCTIONS)}
    if has_margin:
        kw["margin"] = data.draw(MARGINS)
    xl = with_layout(x, data.draw(layouts()))
    out = getattr(F, name)(xl, t, **kw)
    assert_close(out, ref(x, t, **kw), dtype, reduce_len=_n(out, x, kw["reduction"]))
    g = data.draw(grid(dtype, out.shape))
    gx = getattr(F, f"{name}_backward")(g, xl, t, **kw)
    assert_close(gx, ref_grad(g, x, t, **kw), dtype)


def _away_from_hinge(x: np.ndarray, t: np.ndarray, margin: float) -> np.ndarray:
    """Moves each x with margin - t*x within 0.05 of 0 by 0.1 (so the kink is 0.05+ away)."""
    near = np.abs(margin - t * x) < 0.05
    return np.where(near, x + 0.1 * t, x)


@pytest.mark.parametrize("name", POINTWISE)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pointwise_backward_by_finite_differences(name: str, reduction: str) -> None:
    rng = np.random.default_rng(len(name) + len(reduction))
    t = rng.choice([-1.0, 1.0], size=(3, 4))
    margin = 0.7
    x = _away_from_hinge(rng.normal(size=(3, 4)) * 2, t, margin)
    x = np.where(np.abs(margin - x) < 0.05, x + 0.1, x)  # hinge_embedding's kink
    kw: dict[str, Any] = {"reduction": reduction}
    if POINTWISE[name][2]:
        kw["margin"] = margin
    fwd, bwd = getattr(F, name), getattr(F, f"{name}_backward")
    ferrograd.check_backward(lambda v: fwd(v, t, **kw), lambda g, v: bwd(g, v, t, **kw), [x])


def test_hinge_by_hand() -> None:
    x = np.array([0.5, -2.0, 3.0, 2.0])
    t = np.array([1, 1, -1, 1])
    assert F.hinge_loss(x, t, reduction="none").tolist() == [0.5, 3.0, 4.0, 0.0]
    assert float(F.hinge_loss(x, t)) == 1.875
    assert float(F.hinge_loss(x, t, reduction="sum")) == 7.5
    assert float(F.hinge_loss(x, t, margin=3.0, reduction="sum")) == 2.5 + 5.0 + 6.0 + 1.0
    # The gradient is -t where the hinge is active (the kink x = margin included), else 0.
    g = F.hinge_loss_backward(1.0, np.array([0.5, 1.0, 2.0]), np.array([1, 1, 1]), reduction="sum")
    assert g.tolist() == [-1.0, -1.0, 0.0]


def test_hinge_embedding_and_soft_margin_by_hand() -> None:
    x = np.array([0.25, 0.25, 2.0])
    t = np.array([1.0, -1.0, -1.0])
    assert F.hinge_embedding_loss(x, t, reduction="none").tolist() == [0.25, 0.75, 0.0]
    assert F.hinge_embedding_loss_backward(3.0, x, t).tolist() == [1.0, -1.0, 0.0]
    assert np.isclose(float(F.soft_margin_loss(np.zeros(3), np.ones(3))), np.log(2.0))
    # Large scores stay finite (log(1 + exp(1e30)) = 1e30), in float32 too.
    big = np.array([-1e30, 1e30], dtype=np.float32)
    out = F.soft_margin_loss(big, np.array([1, 1]), reduction="none")
    assert out.dtype == np.float32 and out.tolist() == [np.float32(1e30), 0.0]
    assert F.soft_margin_loss_backward(1.0, big, np.array([1, 1]), "sum").tolist() == [-1.0, 0]


def test_soft_margin_accepts_real_targets() -> None:
    x = np.array([0.5, -1.0])
    t = np.array([0.25, 2.0])
    assert_close(F.soft_margin_loss(x, t), R.soft_margin_loss_ref(x, t), np.float64)
    ferrograd.check_backward(
        lambda v: F.soft_margin_loss(v, t), lambda g, v: F.soft_margin_loss_backward(g, v, t), [x]
    )


@pytest.mark.parametrize("name", ["hinge_loss", "hinge_embedding_loss"])
def test_targets_must_be_signs(name: str) -> None:
    fn = getattr(F, name)
    with pytest.raises(ValueError, match=r"got 0 at index \(1, 0\)"):
        fn(np.zeros((2, 2)), np.array([[1, -1], [0, 2]]))
    with pytest.raises(ValueError, match=r"got 0\.5 at index 2"):
        fn(np.zeros(3), np.array([1.0, -1.0, 0.5]))
    with pytest.raises(ValueError, match="got NaN at index 0"):
        getattr(F, f"{name}_backward")(
            np.ones(1), np.zeros(1), np.array([np.nan]), reduction="none"
        )


@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_bad_input(name: str) -> None:
    fn, bwd = getattr(F, name), getattr(F, f"{name}_backward")
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        fn(np.zeros(3), np.ones(2))
    with pytest.raises(DTypeError):
        fn(np.zeros(3, dtype=np.int64), np.ones(3))
    with pytest.raises(DTypeError):
        fn(np.zeros(3), np.ones(3, dtype=bool))
    with pytest.raises(DTypeError):
        fn(np.zeros(3), np.ones(3, dtype=np.complex128))
    with pytest.raises(ValueError, match="reduction"):
        fn(np.zeros(3), np.ones(3), reduction="avg")
    with pytest.raises(ShapeError, match="grad_output"):
        bwd(np.ones(2), np.zeros(3), np.ones(3))
    with pytest.raises(ShapeError, match="grad_output"):
        bwd(np.ones(2), np.zeros(3), np.ones(3), reduction="none")
    with pytest.raises(DTypeError):  # the core itself rejects mixed dtypes
        getattr(_core, name)(np.zeros(3, np.float32), np.ones(3))


@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_dtype_nan_and_empty(name: str) -> None:
    fn = getattr(F, name)
    x32 = np.array([0.5, np.nan], dtype=np.float32)
    out = fn(x32, np.array([1.0, 1.0]), reduction="none")  # float64 target: input's dtype wins
    assert out.dtype == np.float32 and np.isnan(out[1]) and not np.isnan(out[0])
    assert np.isnan(fn(x32, np.ones(2)))
    g = getattr(F, f"{name}_backward")(1.0, x32, -np.ones(2))
    assert g.dtype == np.float32 and np.isnan(g[1]) and not np.isnan(g[0])
    assert np.isnan(fn(np.zeros(0), np.zeros(0)))  # mean of nothing, as PyTorch
    assert float(fn(np.zeros(0), np.zeros(0), reduction="sum")) == 0.0
    assert fn(np.float64(0.5), 1).shape == ()


# ----------------------------------------------------------------------------- multi margin


@st.composite
def multi_margin_cases(draw: Any) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    dtype = draw(DTYPES)
    c = draw(st.integers(1, 5))
    single = draw(st.booleans())
    n = 1 if single else draw(st.integers(0, 5))
    x = draw(grid(dtype, (c,) if single else (n, c)))
    y_shape: tuple[int, ...] = draw(st.sampled_from(((), (1,)))) if single else (n,)
    y = draw(
        hnp.arrays(
            draw(st.sampled_from((np.int32, np.int64, np.uint8))),
            y_shape,
            elements=st.integers(0, c - 1),
        )
    )
    kw: dict[str, Any] = {
        "p": draw(st.sampled_from((1, 2))),
        "margin": draw(MARGINS),
        "reduction": draw(REDUCTIONS),
    }
    if draw(st.booleans()):
        kw["weight"] = draw(grid(dtype, (c,), 0, 24))
    return dtype, with_layout(x, draw(layouts())), y, kw


@given(case=multi_margin_cases(), data=st.data())
def test_multi_margin_matches_reference(case: Any, data: Any) -> None:
    dtype, x, y, kw = case
    out = F.multi_margin_loss(x, y, **kw)
    c = x.shape[-1]
    assert_close(out, R.multi_margin_loss_ref(x, y, **kw), dtype, reduce_len=x.size or 1)
    g = data.draw(grid(dtype, out.shape))
    gx = F.multi_margin_loss_backward(g, x, y, **kw)
    assert_close(gx, R.multi_margin_loss_grad_ref(g, x, y, **kw), dtype, reduce_len=c)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multi_margin_backward_by_finite_differences(p: int, reduction: str) -> None:
    rng = np.random.default_rng(p)
    y = np.array([0, 3, 1, 3])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    while True:  # scores with every hinge at least 0.01 from its kink
        x = rng.normal(size=(4, 4))
        z = 0.8 - x[np.arange(4), y][:, None] + x
        z[np.arange(4), y] = 1.0
        if np.abs(z).min() > 0.01:
            break
    kw = {"p": p, "margin": 0.8, "weight": w, "reduction": reduction}
    ferrograd.check_backward(
        lambda v: F.multi_margin_loss(v, y, **kw),
        lambda g, v: F.multi_margin_loss_backward(g, v, y, **kw),
        [x],
    )


def test_multi_margin_by_hand() -> None:
    # PyTorch's documented example: (0.3 + 0.4 + 0.6) / 4.
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    assert np.isclose(float(F.multi_margin_loss(x, np.array([3]))), 0.325)
    assert np.isclose(float(F.multi_margin_loss(x, np.array([3]), p=2)), (0.09 + 0.16 + 0.36) / 4)
    w = np.array([1.0, 1.0, 1.0, 2.0])
    assert np.isclose(float(F.multi_margin_loss(x, np.array([3]), weight=w)), 0.65)
    # One sample: a 0-d label gives a 0-d loss even for reduction='none', a (1,) label a (1,).
    assert F.multi_margin_loss(x[0], np.array(3), reduction="none").shape == ()
    assert F.multi_margin_loss(x[0], np.array([3]), reduction="none").shape == (1,)
    # Gradient: +1/C on each active wrong class, minus their sum on the label.
    g = F.multi_margin_loss_backward(4.0, x, np.array([3]))
    assert np.allclose(g, [[1.0, 1.0, 1.0, -3.0]])
    assert np.isnan(F.multi_margin_loss(np.array([[np.nan, 0.0]]), np.array([1])))


def test_multi_margin_bad_input() -> None:
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="label 4 at index 1, but input has 4 classes"):
        F.multi_margin_loss(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="label -1 at index 2"):
        F.multi_margin_loss_backward(1.0, x, np.array([0, 1, -1]))
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        F.multi_margin_loss(x, np.array([0, 1, 2]), p=3)
    with pytest.raises(ShapeError, match="weight"):
        F.multi_margin_loss(x, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ShapeError, match="weight"):
        F.multi_margin_loss(x, np.array([0, 1, 2]), weight=np.ones((2, 2)))
    with pytest.raises(ShapeError, match=r"target has shape \(2,\)"):
        F.multi_margin_loss(x, np.array([0, 1]))
    with pytest.raises(ShapeError):
        F.multi_margin_loss(np.zeros((2, 2, 2)), np.array([0, 1]))
    with pytest.raises(ShapeError, match="no classes"):
        F.multi_margin_loss(np.zeros((2, 0)), np.array([0, 1]))
    with pytest.raises(DTypeError, match="integer class labels"):
        F.multi_margin_loss(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(DTypeError, match="int64"):
        _core.multi_margin_loss(x, np.array([0, 1, 2], dtype=np.int32))
    with pytest.raises(DTypeError, match="weight"):
        _core.multi_margin_loss(x, np.array([0, 1, 2]), 1, 1.0, np.ones(4, np.float32))
    with pytest.raises(ShapeError, match="grad_output"):
        F.multi_margin_loss_backward(np.ones(2), x, np.array([0, 1, 2]), reduction="none")


def test_large_inputs_take_the_parallel_path() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 200))
    t = rng.choice([-1, 1], size=x.shape)
    g = rng.normal(size=x.shape)
    for name, (ref, ref_grad, _) in POINTWISE.items():
        fn, bwd = getattr(F, name), getattr(F, f"{name}_backward")
        assert_close(fn(x, t), ref(x, t), np.float64, reduce_len=x.size)
        assert_close(
            bwd(g, x, t, reduction="none"), ref_grad(g, x, t, reduction="none"), np.float64
        )
    x = rng.normal(size=(10000, 4))
    y = rng.integers(0, 4, size=10000)
    g = rng.normal(size=10000)
    kw = {"p": 2, "reduction": "none"}
    assert_close(F.multi_margin_loss(x, y, **kw), R.multi_margin_loss_ref(x, y, **kw), np.float64)
    assert_close(
        F.multi_margin_loss_backward(g, x, y, **kw),
        R.multi_margin_loss_grad_ref(g, x, y, **kw),
        np.float64,
    )
