"""cross_entropy, nll_loss, binary_cross_entropy and binary_cross_entropy_with_logits with
their backwards: against the float64 references of tests/reference.py, by finite differences,
through identities, and on bad input."""

from __future__ import annotations

from typing import Any

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
from ferrograd import DTypeError, ShapeError
from helpers import assert_close, non_contiguous
from hypothesis import given
from hypothesis import strategies as st
from reference import (
    binary_cross_entropy_grad_ref,
    binary_cross_entropy_ref,
    binary_cross_entropy_with_logits_grad_ref,
    binary_cross_entropy_with_logits_ref,
    cross_entropy_grad_ref,
    cross_entropy_ref,
    nll_loss_grad_ref,
    nll_loss_ref,
)

FLOATS = (np.float32, np.float64)
REDUCTIONS = ("none", "mean", "sum")


# --------------------------------------------------------------------------- strategies


@st.composite
def class_case(draw: Any, prob: bool = False, smoothing: bool = True) -> dict[str, Any]:
    """Logits of shape (C,), (N, C), (N, C, d1) or (N, C, d1, d2) with matching targets and
    options: class weights, ignore_index (a class or -100), label smoothing, reduction."""
    ndim = draw(st.sampled_from([1, 2, 2, 3, 4]))
    c = draw(st.integers(1, 6))
    n = draw(st.integers(0, 4)) if ndim > 1 else 1
    spatial = tuple(
        draw(st.lists(st.integers(1, 3), min_size=max(ndim - 2, 0), max_size=max(ndim - 2, 0)))
    )
    shape = (c,) if ndim == 1 else (n, c, *spatial)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 4, shape)
    case: dict[str, Any] = {"input": x}
    row_shape = () if ndim == 1 else (n, *spatial)
    if prob:
        kind = draw(st.sampled_from(["soft", "onehot"]))
        if kind == "soft":
            moved = rng.dirichlet(np.ones(c), size=int(np.prod(row_shape, dtype=int)))
        else:
            moved = np.eye(c)[rng.integers(0, c, int(np.prod(row_shape, dtype=int)))]
        moved = moved.reshape(*row_shape, c)
        case["target"] = moved if ndim == 1 else np.moveaxis(moved, -1, 1)
        case["ignore_index"] = -100
    else:
        y = rng.integers(0, c, row_shape)
        ignore = draw(st.sampled_from([-100, -1, 0]))
        if ignore != 0 and y.size:
            mask = rng.random(row_shape) < 0.25
            y = np.where(mask, ignore, y)
        case["target"] = np.asarray(y)
        case["ignore_index"] = ignore
    if draw(st.booleans()):
        case["weight"] = rng.uniform(0.1, 2.0, c)
    if smoothing:
        case["label_smoothing"] = draw(st.sampled_from([0.0, 0.0, 0.1, 0.35, 1.0]))
    case["reduction"] = draw(st.sampled_from(REDUCTIONS))
    return case


def _cast(case: dict[str, Any], dtype: Any) -> dict[str, Any]:
    out = dict(case)
    for key in ("input", "weight"):
        if key in out:
            out[key] = np.asarray(out[key]).astype(dtype)
    if np.asarray(out["target"]).dtype.kind == "f":
        out["target"] = np.asarray(out["target"]).astype(dtype)
    return out


def _grad_output(loss: np.ndarray, dtype: Any, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, loss.shape).astype(dtype)


def _kwargs(case: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k not in ("input", "target")}


def _reduce_len(case: dict[str, Any]) -> int:
    return int(np.asarray(case["input"]).size) + 1


# --------------------------------------------------------------------------- seed example


def test_seed_example() -> None:
    probs = np.array([0.228, 0.619, 0.153])
    expected = -np.log(0.619)
    assert abs(expected - 0.4797) < 1e-4
    for dtype in FLOATS:
        logits = np.log(probs).astype(dtype)
        onehot = np.array([0.0, 1.0, 0.0], dtype=dtype)
        for loss in (
            F.cross_entropy(logits, np.array(1)),
            F.cross_entropy(logits[None], np.array([1])),
            F.cross_entropy(logits, onehot),
            F.cross_entropy(logits[None], onehot[None]),
            F.nll_loss(logits[None], np.array([1])),
        ):
            assert loss.shape == () and loss.dtype == dtype
            assert_close(loss, expected, dtype, reduce_len=3)


# --------------------------------------------------------------------------- vs references


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=class_case())
def test_cross_entropy_index_matches_reference(dtype: Any, case: dict[str, Any]) -> None:
    c = _cast(case, dtype)
    loss = F.cross_entropy(c["input"], c["target"], **_kwargs(c))
    expected = cross_entropy_ref(case["input"], case["target"], **_kwargs(case))
    assert_close(loss, expected, dtype, reduce_len=_reduce_len(case))
    g = _grad_output(loss, dtype)
    grad = F.cross_entropy_backward(g, c["input"], c["target"], **_kwargs(c))
    expected_grad = cross_entropy_grad_ref(g, case["input"], case["target"], **_kwargs(case))
    assert_close(grad, expected_grad, dtype, reduce_len=_reduce_len(case))


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=class_case(prob=True))
def test_cross_entropy_prob_matches_reference(dtype: Any, case: dict[str, Any]) -> None:
    c = _cast(case, dtype)
    loss = F.cross_entropy(c["input"], c["target"], **_kwargs(c))
    expected = cross_entropy_ref(case["input"], case["target"], **_kwargs(case))
    assert_close(loss, expected, dtype, reduce_len=_reduce_len(case))
    g = _grad_output(loss, dtype)
    grad = F.cross_entropy_backward(g, c["input"], c["target"], **_kwargs(c))
    expected_grad = cross_entropy_grad_ref(g, case["input"], case["target"], **_kwargs(case))
    assert_close(grad, expected_grad, dtype, reduce_len=_reduce_len(case))


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=class_case(smoothing=False))
def test_nll_loss_matches_reference(dtype: Any, case: dict[str, Any]) -> None:
    c = _cast(case, dtype)
    loss = F.nll_loss(c["input"], c["target"], **_kwargs(c))
    assert_close(
        loss,
        nll_loss_ref(case["input"], case["target"], **_kwargs(case)),
        dtype,
        reduce_len=_reduce_len(case),
    )
    g = _grad_output(loss, dtype)
    grad = F.nll_loss_backward(g, c["input"], c["target"], **_kwargs(c))
    expected = nll_loss_grad_ref(g, case["input"], case["target"], **_kwargs(case))
    assert_close(grad, expected, dtype, reduce_len=_reduce_len(case))


@st.composite
def binary_case(draw: Any, logits: bool) -> dict[str, Any]:
    """Inputs of 0 to 3 axes; weight and pos_weight broadcast from a trailing class axis, a
    per-row column, or the full shape."""
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if logits:
        x = rng.uniform(-6, 6, shape)
        t = rng.uniform(0, 1, shape) if draw(st.booleans()) else rng.integers(0, 2, shape)
    else:
        x = rng.uniform(0.01, 0.99, shape)
        t = rng.uniform(0, 1, shape)
    case: dict[str, Any] = {"input": x, "target": np.asarray(t, dtype=np.float64)}

    def weight_shape() -> tuple[int, ...]:
        options = [shape, shape[-1:], ()]
        if len(shape) >= 2:
            options.append((*shape[:-1], 1))
        return draw(st.sampled_from(options))

    if draw(st.booleans()):
        case["weight"] = rng.uniform(0.1, 2.0, weight_shape())
    if logits and draw(st.booleans()):
        case["pos_weight"] = rng.uniform(0.1, 3.0, weight_shape())
    case["reduction"] = draw(st.sampled_from(REDUCTIONS))
    return case


def _cast_binary(case: dict[str, Any], dtype: Any) -> dict[str, Any]:
    return {k: (v.astype(dtype) if isinstance(v, np.ndarray) else v) for k, v in case.items()}


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=binary_case(logits=False))
def test_binary_cross_entropy_matches_reference(dtype: Any, case: dict[str, Any]) -> None:
    c = _cast_binary(case, dtype)
    loss = F.binary_cross_entropy(c["input"], c["target"], **_kwargs(c))
    expected = binary_cross_entropy_ref(c["input"], c["target"], **_kwargs(c))
    n = int(np.asarray(case["input"]).size) + 1
    assert_close(loss, expected, dtype, reduce_len=n)
    g = _grad_output(loss, dtype)
    grad = F.binary_cross_entropy_backward(g, c["input"], c["target"], **_kwargs(c))
    expected = binary_cross_entropy_grad_ref(g, c["input"], c["target"], **_kwargs(c))
    assert_close(grad, expected, dtype, reduce_len=n)


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=binary_case(logits=True))
def test_bce_with_logits_matches_reference(dtype: Any, case: dict[str, Any]) -> None:
    c = _cast_binary(case, dtype)
    loss = F.binary_cross_entropy_with_logits(c["input"], c["target"], **_kwargs(c))
    expected = binary_cross_entropy_with_logits_ref(c["input"], c["target"], **_kwargs(c))
    n = int(np.asarray(case["input"]).size) + 1
    assert_close(loss, expected, dtype, reduce_len=n)
    g = _grad_output(loss, dtype)
    grad = F.binary_cross_entropy_with_logits_backward(g, c["input"], c["target"], **_kwargs(c))
    expected = binary_cross_entropy_with_logits_grad_ref(g, c["input"], c["target"], **_kwargs(c))
    assert_close(grad, expected, dtype, reduce_len=n)


# --------------------------------------------------------------------------- finite differences

_FD_CASES = [
    ((4, 5), {}),
    ((4, 5), {"weight": [0.5, 1.0, 2.0, 0.3, 1.5], "label_smoothing": 0.2}),
    ((4, 5), {"ignore_index": 3, "reduction": "sum"}),
    ((3, 4, 2), {"weight": [1.0, 0.2, 0.7, 2.0], "reduction": "none", "label_smoothing": 0.1}),
    ((2, 3, 2, 2), {"reduction": "mean", "ignore_index": 0}),
    ((6,), {"label_smoothing": 0.5}),
    ((3, 70), {"weight": np.linspace(0.1, 2, 70), "label_smoothing": 0.3}),
]


@pytest.mark.parametrize(("shape", "kwargs"), _FD_CASES)
def test_cross_entropy_backward_finite_differences(shape: tuple, kwargs: dict) -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, shape)
    c = shape[0] if len(shape) == 1 else shape[1]
    row_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    y = rng.integers(0, c, row_shape)
    ferrograd.check_backward(
        lambda v: F.cross_entropy(v, y, **kwargs),
        lambda g, v: F.cross_entropy_backward(g, v, y, **kwargs),
        [x],
    )
    p = rng.dirichlet(np.ones(c), size=max(int(np.prod(row_shape, dtype=int)), 1))
    p = p.reshape(*row_shape, c)
    p = p if len(shape) == 1 else np.moveaxis(p, -1, 1)
    prob_kwargs = {k: v for k, v in kwargs.items() if k != "ignore_index"}
    ferrograd.check_backward(
        lambda v: F.cross_entropy(v, p, **prob_kwargs),
        lambda g, v: F.cross_entropy_backward(g, v, p, **prob_kwargs),
        [x],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_and_binary_backward_finite_differences(reduction: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(-3, 0, (3, 4, 2))
    y = rng.integers(0, 4, (3, 2))
    w = rng.uniform(0.2, 2, 4)
    ferrograd.check_backward(
        lambda v: F.nll_loss(v, y, w, reduction=reduction),
        lambda g, v: F.nll_loss_backward(g, v, y, w, reduction=reduction),
        [x],
    )
    p = rng.uniform(0.05, 0.95, (3, 4))
    t = rng.uniform(0, 1, (3, 4))
    bw = rng.uniform(0.2, 2, (3, 1))
    ferrograd.check_backward(
        lambda v: F.binary_cross_entropy(v, t, bw, reduction=reduction),
        lambda g, v: F.binary_cross_entropy_backward(g, v, t, bw, reduction=reduction),
        [p],
    )
    z = rng.uniform(-4, 4, (3, 4))
    pw = rng.uniform(0.5, 3, 4)
    ferrograd.check_backward(
        lambda v: F.binary_cross_entropy_with_logits(v, t, bw, reduction, pw),
        lambda g, v: F.binary_cross_entropy_with_logits_backward(g, v, t, bw, reduction, pw),
        [z],
    )


# --------------------------------------------------------------------------- identities


def _to_rows(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (3, 7, 130), (2, 3, 40, 50)])
def test_spatial_equals_reshape(dtype: Any, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    w = rng.uniform(0.1, 2, c).astype(dtype)
    y = rng.integers(0, c, (shape[0], *shape[2:]))
    y[0, 0] = -100
    kw = {"weight": w, "label_smoothing": 0.1}
    n_rows = y.size
    for reduction in REDUCTIONS:
        a = F.cross_entropy(x, y, reduction=reduction, **kw)
        b = F.cross_entropy(_to_rows(x), y.reshape(-1), reduction=reduction, **kw)
        assert_close(a.reshape(-1), b.reshape(-1).astype(np.float64), dtype, reduce_len=n_rows * c)
    ga = F.cross_entropy_backward(dtype(1.0), x, y, **kw)
    gb = F.cross_entropy_backward(dtype(1.0), _to_rows(x), y.reshape(-1), **kw)
    assert_close(_to_rows(ga), gb.astype(np.float64), dtype, reduce_len=c)
    p = rng.dirichlet(np.ones(c), size=n_rows).astype(dtype)
    p_spatial = np.moveaxis(p.reshape(shape[0], *shape[2:], c), -1, 1)
    a = F.cross_entropy(x, p_spatial, weight=w)
    b = F.cross_entropy(_to_rows(x), p, weight=w)
    assert_close(a, b.astype(np.float64), dtype, reduce_len=n_rows * c)
    ga = F.cross_entropy_backward(dtype(1.0), x, p_spatial, weight=w, reduction="sum")
    gb = F.cross_entropy_backward(dtype(1.0), _to_rows(x), p, weight=w, reduction="sum")
    assert_close(_to_rows(ga), gb.astype(np.float64), dtype, reduce_len=c)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("c", [3, 10, 100, 1000])
def test_gradient_is_softmax_minus_onehot(dtype: Any, c: int) -> None:
    rng = np.random.default_rng(6)
    x = rng.uniform(-5, 5, (50, c)).astype(dtype)
    y = rng.integers(0, c, 50)
    g = F.cross_entropy_backward(dtype(1.0), x, y, reduction="sum")
    x64 = x.astype(np.float64)
    soft = np.exp(x64 - x64.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    assert_close(g, soft - np.eye(c)[y], dtype, reduce_len=c)


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_with_logits_equals_bce_of_sigmoid(dtype: Any) -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(-8, 8, (20, 3)).astype(dtype)
    t = rng.uniform(0, 1, (20, 3)).astype(dtype)
    w = rng.uniform(0.5, 2, 3).astype(dtype)
    s = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    for reduction in REDUCTIONS:
        a = F.binary_cross_entropy_with_logits(x, t, w, reduction)
        b = F.binary_cross_entropy(s, t, w, reduction)
        tol = 1e-10 if dtype == np.float64 else 2e-4
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_with_grad_equals_separate_calls() -> None:
    rng = np.random.default_rng(8)
    for shape in [(40, 7), (5, 300), (3, 4, 5, 6)]:
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.integers(0, shape[1], (shape[0], *shape[2:]))
        w = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
        for reduction in REDUCTIONS:
            kw = {"weight": w, "reduction": reduction, "label_smoothing": 0.05}
            loss, grad = F.cross_entropy_with_grad(x, y, **kw)
            np.testing.assert_array_equal(loss, F.cross_entropy(x, y, **kw))
            ones = np.ones(loss.shape, np.float32)
            np.testing.assert_array_equal(grad, F.cross_entropy_backward(ones, x, y, **kw))


# --------------------------------------------------------------------------- large inputs


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(6000, 10), (3, 50000), (4, 9, 60, 30)])
def test_large_inputs_match_reference(dtype: Any, shape: tuple[int, ...]) -> None:
    """Sizes that take the parallel, wide-row and spatial paths."""
    rng = np.random.default_rng(9)
    x = rng.uniform(-5, 5, shape)
    c = shape[1]
    y = rng.integers(0, c, (shape[0], *shape[2:]))
    y.reshape(-1)[::7] = -100
    w = rng.uniform(0.5, 2, c)
    kw: dict[str, Any] = {"weight": w, "label_smoothing": 0.1}
    n = x.size
    xd, wd = x.astype(dtype), w.astype(dtype)
    for reduction in ("none", "mean"):
        loss = F.cross_entropy(xd, y, weight=wd, reduction=reduction, label_smoothing=0.1)
        assert_close(loss, cross_entropy_ref(x, y, reduction=reduction, **kw), dtype, n)
    grad = F.cross_entropy_backward(dtype(1.0), xd, y, weight=wd, label_smoothing=0.1)
    assert_close(grad, cross_entropy_grad_ref(1.0, x, y, **kw), dtype, n)


# --------------------------------------------------------------------------- dtypes and layouts


def test_dtypes_and_layouts() -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    expected = cross_entropy_ref(x, y)
    for labels in (y.astype(np.int32), y.astype(np.uint8), y.astype(np.int16), list(y)):
        assert_close(F.cross_entropy(x, labels), expected, np.float64, 24)
    assert F.cross_entropy(x.astype(np.float32), y).dtype == np.float32
    assert F.cross_entropy(x.astype(np.float32), y, reduction="none").dtype == np.float32
    assert F.cross_entropy_backward(1.0, x.astype(np.float32), y).dtype == np.float32
    # Integer logits compute in float64, like np.exp.
    assert F.cross_entropy(np.arange(8).reshape(2, 4), [1, 2]).dtype == np.float64
    # Non-contiguous inputs and targets.
    xn = non_contiguous(x)
    assert_close(F.cross_entropy(xn, y[::-1].copy()[::-1]), expected, np.float64, 24)
    assert_close(
        F.cross_entropy_backward(1.0, xn, y), cross_entropy_grad_ref(1.0, x, y), np.float64, 24
    )
    p = rng.dirichlet(np.ones(4), 6)
    assert_close(F.cross_entropy(xn, non_contiguous(p)), cross_entropy_ref(x, p), np.float64, 24)
    assert_close(F.nll_loss(xn, y), nll_loss_ref(x, y), np.float64, 24)
    s = rng.uniform(0.1, 0.9, (6, 4))
    assert_close(
        F.binary_cross_entropy(non_contiguous(s), s), binary_cross_entropy_ref(s, s), np.float64, 24
    )


def test_empty_inputs() -> None:
    x = np.zeros((0, 3))
    y = np.zeros(0, dtype=np.int64)
    assert np.isnan(F.cross_entropy(x, y))
    assert F.cross_entropy(x, y, reduction="sum") == 0.0
    assert F.cross_entropy(x, y, reduction="none").shape == (0,)
    assert F.cross_entropy_backward(1.0, x, y).shape == (0, 3)
    assert np.isnan(F.nll_loss(x, y))
    assert F.binary_cross_entropy(np.zeros(0), np.zeros(0), reduction="sum") == 0.0
    # Every target ignored: the weighted mean is 0 / 0, as in PyTorch.
    assert np.isnan(F.cross_entropy(np.zeros((2, 3)), np.array([-100, -100])))
    g = F.cross_entropy_backward(1.0, np.zeros((2, 3)), np.array([-100, -100]), reduction="sum")
    assert not g.any()


# --------------------------------------------------------------------------- extreme values


@pytest.mark.parametrize("dtype", FLOATS)
def test_extreme_logits_stay_finite(dtype: Any) -> None:
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    y = np.array([1, 2, 0])
    loss = F.cross_entropy(x, y, reduction="none", label_smoothing=0.1)
    assert np.all(np.isfinite(loss))
    assert_close(loss, cross_entropy_ref(x, y, reduction="none", label_smoothing=0.1), dtype, 3)
    g = F.cross_entropy_backward(np.ones(3, dtype), x, y, reduction="none", label_smoothing=0.1)
    assert np.all(np.isfinite(g))
    z = np.array([1e4, -1e4, 50.0, -50.0], dtype=dtype)
    t = np.array([0.0, 1.0, 0.5, 1.0], dtype=dtype)
    lz = F.binary_cross_entropy_with_logits(z, t, reduction="none", pos_weight=np.array(2.0))
    assert np.all(np.isfinite(lz))
    assert_close(lz, binary_cross_entropy_with_logits_ref(z, t, None, "none", 2.0), dtype, 1)
    gz = F.binary_cross_entropy_with_logits_backward(1.0, z, t)
    assert np.all(np.isfinite(gz))
    # BCE clamps each log at -100, and the gradient's denominator at 1e-12.
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    q = np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    assert F.binary_cross_entropy(p, q, reduction="none").tolist() == [100.0, 100.0, 0.0, 0.0]
    gp = F.binary_cross_entropy_backward(1.0, p, q, reduction="sum")
    assert np.all(np.isfinite(gp)) and gp[0] < -1e10 and gp[1] > 1e10


def test_nan_propagates() -> None:
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    y = np.array([0, 1])
    loss = F.cross_entropy(x, y, reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    g = F.cross_entropy_backward(np.ones(2), x, y, reduction="none")
    assert np.isnan(g[0]).all() and np.isfinite(g[1]).all()
    assert np.isnan(F.cross_entropy(x, y))
    assert np.isnan(F.binary_cross_entropy_with_logits(np.array([np.nan]), np.array([1.0])))
    assert np.isnan(F.binary_cross_entropy(np.array([np.nan, 0.5]), np.array([1.0, 1.0])))
    # An ignored row contributes nothing, whatever its logits.
    ignored = F.cross_entropy_backward(np.ones(2), x, np.array([-100, 1]), reduction="none")
    assert not ignored[0].any()


# --------------------------------------------------------------------------- bad input


def test_label_out_of_range_names_label_and_position() -> None:
    x = np.zeros((5, 10))
    y = np.array([1, 2, 3, 12, 40])
    msg = "cross_entropy: target has label 12 at index 3, but input has 10 classes"
    with pytest.raises(ValueError, match=msg):
        F.cross_entropy(x, y)
    with pytest.raises(ValueError, match="target has label -2 at index 0"):
        F.cross_entropy(x, np.array([-2, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"label 4 at index \(1, 2\), but input has 3 classes"):
        F.nll_loss(np.zeros((2, 3, 4)), np.array([[0, 1, 2, 0], [0, 0, 4, 0]]))
    with pytest.raises(ValueError, match="cross_entropy_backward: target has label 12"):
        F.cross_entropy_backward(1.0, x, y)
    with pytest.raises(ValueError, match="target has label 3, but input has 3 classes"):
        F.cross_entropy(np.zeros(3), np.array(3))


def test_shape_errors() -> None:
    x = np.zeros((4, 3))
    with pytest.raises(ShapeError, match=r"target has shape \(5,\)"):
        F.cross_entropy(x, np.zeros(5, dtype=np.int64))
    with pytest.raises(ShapeError, match="class-probability target has shape"):
        F.cross_entropy(x, np.zeros((4, 4)))
    with pytest.raises(ShapeError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64), weight=np.ones(2))
    with pytest.raises(ShapeError):
        F.nll_loss(x, np.zeros(4, dtype=np.int64), weight=np.ones((3, 1)))
    with pytest.raises(ShapeError, match="input must have shape"):
        F.cross_entropy(np.float64(1.0), np.array(0))
    with pytest.raises(ShapeError, match=r"target has shape \(3,\) but input has shape \(4,\)"):
        F.binary_cross_entropy(np.full(4, 0.5), np.full(3, 0.5))
    with pytest.raises(ShapeError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(4))
    with pytest.raises(ShapeError, match="grad_output"):
        F.cross_entropy_backward(np.ones(3), x, np.zeros(4, dtype=np.int64), reduction="none")
    with pytest.raises(ShapeError, match="grad_output"):
        F.cross_entropy_backward(np.ones(2), x, np.zeros(4, dtype=np.int64))


def test_value_errors() -> None:
    x = np.zeros((4, 3))
    y = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match=r"weight must be non-negative, got -1(\.0)? at index 1"):
        F.cross_entropy(x, y, weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"label_smoothing must be between 0\.0 and 1\.0"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index"):
        F.cross_entropy(x, np.full((4, 3), 1 / 3), ignore_index=0)
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(x, y, reduction="batchmean")
    msg = r"binary_cross_entropy: input must hold probabilities in \[0, 1\], got 1.5 at index 2"
    with pytest.raises(ValueError, match=msg):
        F.binary_cross_entropy(np.array([0.5, 0.2, 1.5, -1.0]), np.full(4, 0.5))
    with pytest.raises(ValueError, match=r"target must hold probabilities .* at index \(0, 1\)"):
        F.binary_cross_entropy(np.full((1, 2), 0.5), np.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="pos_weight must be non-negative"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=np.array([1.0, -2.0, 1.0]))


def test_dtype_errors() -> None:
    x = np.zeros((2, 3))
    with pytest.raises(DTypeError, match="integer class indices"):
        F.nll_loss(x, np.array([0.0, 1.0]))
    with pytest.raises(DTypeError):
        F.cross_entropy(x, np.array([True, False]))
    with pytest.raises(DTypeError):
        F.cross_entropy(x.astype(np.float16), np.array([0, 1]))
    with pytest.raises(DTypeError):
        F.cross_entropy(x, np.array([0, 1]), ignore_index=1.5)


@pytest.mark.parametrize("classes", [2, 3, 5, 10, 16, 17])
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"label_smoothing": 0.1, "weight": True},
        {"ignore_index": 1, "weight": True},
    ],
    ids=["plain", "smoothing-weight", "ignore-inside"],
)
def test_cross_entropy_rows_match_the_spatial_layout_bitwise(classes: int, opts: dict) -> None:
    """Rows (N, C) and the same scores laid out as one spatial element (1, C, N) take
    different kernels (the narrow-row tile kernels, and the column kernel) that compute the
    same operations in the same order: losses and gradients agree bit for bit (NaN results
    may differ in sign, which these scores never give)."""
    rng = np.random.default_rng(classes)
    n = 16 * 37 + 11  # whole tiles of 8 and 16 rows, and a tail
    x = (rng.standard_normal((n, classes)) * 4).astype(np.float32)
    y = rng.integers(0, classes, n)
    y[::9] = opts.get("ignore_index", -100)
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = np.linspace(0.5, 2.0, classes).astype(np.float32)
    up = rng.random(n).astype(np.float32)
    loss_rows = F.cross_entropy(x, y, reduction="none", **kw)
    grad_rows = F.cross_entropy_backward(up, x, y, reduction="none", **kw)
    xs = np.ascontiguousarray(x.T[None])
    loss_cols = F.cross_entropy(xs, y[None], reduction="none", **kw)
    grad_cols = F.cross_entropy_backward(up[None], xs, y[None], reduction="none", **kw)
    np.testing.assert_array_equal(loss_rows, loss_cols[0])
    np.testing.assert_array_equal(grad_rows, grad_cols[0].T)
    # Reduced: the same gradient from the fused call as from the spatial layout.
    _, g = F.cross_entropy_with_grad(x, y, **kw)
    _, gs = F.cross_entropy_with_grad(xs, y[None], **kw)
    np.testing.assert_array_equal(g, gs[0].T)


def test_uint64_labels_above_the_int64_range_are_refused_not_wrapped() -> None:
    """2**64 - 100 would wrap to -100, the default ignore_index, and be silently skipped."""
    z = np.zeros((2, 3))
    y = np.array([2**64 - 100, 1], np.uint64)
    match = r"target has the value 18446744073709551516 at index \(0,\)"
    for call in (
        lambda: F.cross_entropy(z, y),
        lambda: F.cross_entropy_backward(1.0, z, y),
        lambda: F.cross_entropy_with_grad(z, y),
        lambda: F.nll_loss(z, y),
        lambda: F.nll_loss_backward(1.0, z, y),
        lambda: F.multi_margin_loss(z, y),
        lambda: ferrograd.nn.CrossEntropyLoss()(ferrograd.tensor(z), y),
    ):
        with pytest.raises(ferrograd.ArgumentError, match=match):
            call()
    with pytest.raises(ferrograd.ArgumentError, match=r"input has the value 18446744073709551615"):
        F.embedding(np.array([2**64 - 1], np.uint64), np.ones((3, 2)))
    ok = np.array([2, 1], np.uint64)  # in range: the same as int64 labels
    assert float(F.cross_entropy(z, ok)) == float(F.cross_entropy(z, ok.astype(np.int64)))
