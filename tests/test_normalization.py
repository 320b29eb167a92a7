"""Batch norm, layer norm and embedding (functional and nn layers) against the float64
references in reference.py: forward values, running statistics step by step, gradients
(formulas and finite differences), state dicts, frozen layers and error messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd import nn, tensor
from ferrograd.exceptions import DTypeError, ShapeError
from helpers import EPS, FLOATS, arrays
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = st.sampled_from(FLOATS)


def _eps(dt: Any) -> float:
    return float(np.finfo(np.dtype(dt)).eps)


def _close(actual: Any, expected: Any, dtype: Any, scale: float = 1.0) -> None:
    """``actual`` has dtype ``dtype`` and is within a few hundred ulps of ``expected``,
    relative to ``scale`` (the size of the terms that make up each value)."""
    actual = actual.data if isinstance(actual, ferrograd.Tensor) else np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != {np.dtype(dtype)}"
    tol = 256 * _eps(dtype) * max(1.0, scale)
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=tol, atol=tol)


def _mag(*xs: Any) -> float:
    out = 1.0
    for x in xs:
        if x is not None:
            out *= max(1.0, float(np.max(np.abs(np.asarray(x, np.float64)), initial=0.0)))
    return out


def _invstd_max(x: np.ndarray, axes: tuple[int, ...], eps: float) -> float:
    return float(np.max(1.0 / np.sqrt(np.var(x.astype(np.float64), axis=axes) + eps)))


@st.composite
def bn_case(draw: Any, max_spatial: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An (N, C, *spatial) input with N >= 2, and a weight and bias per channel."""
    dt = draw(DTYPES)
    n = draw(st.integers(2, 5))
    c = draw(st.integers(1, 4))
    spatial = draw(st.lists(st.integers(1, 3), min_size=0, max_size=max_spatial))
    x = draw(arrays(dt, (n, c, *spatial)))
    w = draw(arrays(dt, (c,), -2.0, 2.0))
    b = draw(arrays(dt, (c,), -2.0, 2.0))
    return x, w, b


def _bn_axes(x: np.ndarray) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


# ---------------------------------------------------------------------------- functional


@given(bn_case(), st.booleans(), st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_training_matches_reference(case: Any, affine: bool, momentum: float) -> None:
    x, w, b = case
    dt = x.dtype
    c = x.shape[1]
    rm = np.linspace(-1, 1, c).astype(dt)
    rv = np.linspace(0.5, 2, c).astype(dt)
    y_ref, rm_ref, rv_ref = R.batch_norm_ref(
        x, rm, rv, w if affine else None, b if affine else None, True, momentum
    )
    y = F.batch_norm(x, rm, rv, w if affine else None, b if affine else None, True, momentum)
    scale = _mag(x, w) * _invstd_max(x, _bn_axes(x), 1e-5)
    _close(y, y_ref, dt, scale)
    _close(rm, rm_ref, dt, _mag(x))
    _close(rv, rv_ref, dt, _mag(x) ** 2)


@given(bn_case(), st.booleans())
def test_batch_norm_eval_matches_reference(case: Any, affine: bool) -> None:
    x, w, b = case
    dt = x.dtype
    c = x.shape[1]
    rm = np.linspace(-1, 1, c).astype(dt)
    rv = np.linspace(0.5, 2, c).astype(dt)
    rm0, rv0 = rm.copy(), rv.copy()
    wa, ba = (w, b) if affine else (None, None)
    y = F.batch_norm(x, rm, rv, wa, ba, training=False)
    y_ref, _, _ = R.batch_norm_ref(x, rm, rv, wa, ba, training=False)
    _close(y, y_ref, dt, _mag(x, w) * 2)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)


@given(bn_case(), st.booleans())
def test_batch_norm_gradients_match_reference(case: Any, training: bool) -> None:
    x, w, b = case
    dt = x.dtype
    c = x.shape[1]
    rm = np.linspace(-1, 1, c).astype(dt)
    rv = np.linspace(0.5, 2, c).astype(dt)
    g = np.cos(np.arange(x.size, dtype=np.float64)).reshape(x.shape).astype(dt)
    xt, wt, bt = (tensor(v, requires_grad=True) for v in (x, w, b))
    y = F.batch_norm(xt, rm.copy(), rv.copy(), wt, bt, training=training)
    y.backward(g)
    dx, dw, db = R.batch_norm_grad_ref(g, x, w, training, rm, rv)
    axes = _bn_axes(x)
    s = _invstd_max(x, axes, 1e-5) if training else float(np.max(1 / np.sqrt(rv + 1e-5)))
    m = x.size // c
    _close(xt.grad, dx, dt, _mag(w, g) * s * (1 + s * _mag(x)) ** 2)
    _close(wt.grad, dw, dt, m * _mag(g, x) * s)
    _close(bt.grad, db, dt, m * _mag(g))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 4), (2, 2, 3, 2)])
def test_batch_norm_finite_differences(training: bool, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    c = shape[1]
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    assert ferrograd.gradcheck(
        lambda x, w, b: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training),
        [x, w, b],
    )


def test_batch_norm_without_running_stats_and_tensor_buffers() -> None:
    x = np.random.default_rng(2).standard_normal((6, 3))
    y = F.batch_norm(x, None, None, training=True)
    _close(y, R.batch_norm_ref(x, training=True)[0], np.float64, 10)
    # Running statistics held by Tensors are updated in place as well.
    rm, rv = tensor(np.zeros(3)), tensor(np.ones(3))
    F.batch_norm(tensor(x), rm, rv, training=True, momentum=0.5)
    _, rm_ref, rv_ref = R.batch_norm_ref(x, np.zeros(3), np.ones(3), training=True, momentum=0.5)
    _close(rm.data, rm_ref, np.float64)
    _close(rv.data, rv_ref, np.float64)


def test_batch_norm_non_contiguous_and_integer_input() -> None:
    x = np.random.default_rng(3).standard_normal((6, 8)).astype(np.float32)
    view = x[:, ::2]
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    y = F.batch_norm(view, rm, rv, training=True)
    _close(y, R.batch_norm_ref(view, training=True)[0], np.float32, 10)
    xi = np.arange(12).reshape(4, 3)
    yi = F.batch_norm(xi, None, None, training=True)
    assert yi.dtype == np.float64
    _close(yi, R.batch_norm_ref(xi, training=True)[0], np.float64, 10)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "shape", [(64, 40, 17), (4096, 12), (8, 3, 64, 64), (2, 70, 300), (512, 300), (100, 40, 9)]
)
def test_batch_norm_large_inputs(dtype: Any, shape: tuple[int, ...]) -> None:
    """Sizes where the kernels run in parallel and switch between their splitting schemes."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    c = shape[1]
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    rm, rv = np.zeros(c, dtype), np.ones(c, dtype)
    xt, wt, bt = (tensor(v, requires_grad=True) for v in (x, w, b))
    y = F.batch_norm(xt, rm, rv, wt, bt, training=True)
    y_ref, rm_ref, rv_ref = R.batch_norm_ref(x, np.zeros(c), np.ones(c), w, b, training=True)
    _close(y, y_ref, dtype, 40)
    _close(rm, rm_ref, dtype, 8)
    _close(rv, rv_ref, dtype, 16)
    g = rng.standard_normal(shape).astype(dtype)
    y.backward(g)
    dx, dw, db = R.batch_norm_grad_ref(g, x, w)
    m = x.size // c
    _close(xt.grad, dx, dtype, 40)
    _close(wt.grad, dw, dtype, 4 * np.sqrt(m))
    _close(bt.grad, db, dtype, 4 * np.sqrt(m))


@given(
    DTYPES,
    st.lists(st.integers(1, 4), min_size=0, max_size=2),
    st.lists(st.integers(1, 4), min_size=1, max_size=2),
    st.booleans(),
    st.data(),
)
def test_layer_norm_matches_reference(
    dt: Any, lead: list[int], norm: list[int], affine: bool, data: Any
) -> None:
    ns = tuple(norm)
    x = data.draw(arrays(dt, (*lead, *ns)))
    w = data.draw(arrays(dt, ns, -2.0, 2.0)) if affine else None
    b = data.draw(arrays(dt, ns, -2.0, 2.0)) if affine else None
    axes = tuple(range(len(lead), x.ndim))
    s = _invstd_max(x, axes, 1e-5)
    _close(F.layer_norm(x, ns, w, b), R.layer_norm_ref(x, ns, w, b), dt, _mag(x, w) * s)
    g = np.sin(np.arange(x.size, dtype=np.float64) + 0.5).reshape(x.shape).astype(dt)
    xt = tensor(x, requires_grad=True)
    wt = None if w is None else tensor(w, requires_grad=True)
    bt = None if b is None else tensor(b, requires_grad=True)
    F.layer_norm(xt, ns, wt, bt).backward(g)
    dx, dw, db = R.layer_norm_grad_ref(g, x, ns, w)
    rows = max(1, x.size // int(np.prod(ns)))
    _close(xt.grad, dx, dt, _mag(w, g) * s * (1 + s * _mag(x)) ** 2)
    if affine:
        assert wt is not None and bt is not None
        _close(wt.grad, dw, dt, rows * _mag(g, x) * s)
        _close(bt.grad, db, dt, rows)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(300, 7, 40), (200, 300)])
def test_layer_norm_large_and_int_shape(dtype: Any, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    d = shape[-1]
    x = (rng.standard_normal(shape) + 2).astype(dtype)
    w, b = rng.standard_normal(d).astype(dtype), rng.standard_normal(d).astype(dtype)
    xt, wt, bt = (tensor(v, requires_grad=True) for v in (x, w, b))
    y = F.layer_norm(xt, d, wt, bt)
    _close(y, R.layer_norm_ref(x, (d,), w, b), dtype, 40)
    g = rng.standard_normal(x.shape).astype(dtype)
    y.backward(g)
    dx, dw, db = R.layer_norm_grad_ref(g, x, (d,), w)
    _close(xt.grad, dx, dtype, 40)
    _close(wt.grad, dw, dtype, 200)
    _close(bt.grad, db, dtype, 200)


@given(
    st.sampled_from([np.int64, np.int32, np.uint8, np.int16]),
    st.lists(st.integers(0, 4), min_size=0, max_size=3),
    st.integers(1, 6),
    st.integers(0, 3),
    st.one_of(st.none(), st.integers(-6, 5)),
    DTYPES,
    st.data(),
)
def test_embedding_matches_reference(
    idt: Any, ishape: list[int], num: int, dim: int, pad: Any, dt: Any, data: Any
) -> None:
    if pad is not None and not -num <= pad < num:
        pad = None
    idx = data.draw(hnp.arrays(np.int64, tuple(ishape), elements=st.integers(0, num - 1)))
    idx = idx.astype(idt)
    w = data.draw(arrays(dt, (num, dim)))
    wt = tensor(w, requires_grad=True)
    y = F.embedding(idx, wt, padding_idx=pad)
    np.testing.assert_array_equal(y.data, R.embedding_ref(idx, w))
    assert y.dtype == dt
    g = np.arange(y.numel(), dtype=np.float64).reshape(y.shape).astype(dt)
    y.backward(g)
    p = None if pad is None else pad % num
    _close(wt.grad, R.embedding_grad_ref(g, idx, num, p), dt, _mag(g) * max(1, idx.size))


def test_embedding_large_scatter_is_exact() -> None:
    rng = np.random.default_rng(6)
    idx = rng.integers(0, 50, size=(400, 30))
    w = rng.standard_normal((50, 16))
    wt = tensor(w, requires_grad=True)
    y = F.embedding(idx, wt, padding_idx=7)
    g = rng.integers(-4, 5, size=y.shape).astype(np.float64)
    y.backward(g)
    np.testing.assert_array_equal(wt.grad, R.embedding_grad_ref(g, idx, 50, 7))
    np.testing.assert_array_equal(y.data, w[idx])


def test_results_do_not_depend_on_the_thread_count() -> None:
    code = (
        "import hashlib, sys, numpy as np, ferrograd, ferrograd.functional as F\n"
        "r = np.random.default_rng(0)\n"
        "x = r.standard_normal((512, 64, 9)).astype(np.float32)\n"
        "l = r.standard_normal((4096, 48))\n"
        "t, w = ferrograd.tensor(l, requires_grad=True), ferrograd.tensor(np.ones(48), True)\n"
        "F.layer_norm(t, 48, w).backward(np.cos(l))\n"
        "parts = [F.batch_norm(x, None, None, training=True), t.grad, w.grad,\n"
        "         F.batch_norm(l[:, :12], None, None, training=True)]\n"
        "sys.stdout.write(hashlib.sha256(b''.join(p.tobytes() for p in parts)).hexdigest())\n"
    )
    outs = []
    for n in ("1", "2"):
        env = dict(os.environ, FERROGRAD_NUM_THREADS=n)
        res = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.append(res.stdout)
    assert outs[0] == outs[1]


# ---------------------------------------------------------------------------- layers


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize(
    "layer, shape",
    [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 5)), (nn.BatchNorm2d, (3, 3, 4, 2))],
)
def test_batchnorm_layer_over_several_steps(layer: Any, shape: Any, momentum: Any) -> None:
    rng = np.random.default_rng(7)
    batches = [(rng.standard_normal(shape) * (k + 1) + k).astype(np.float32) for k in range(4)]
    bn = layer(3, momentum=momentum)
    steps = R.batch_norm_running_ref(batches, momentum)
    for x, (rm, rv, k) in zip(batches, steps):
        y = bn(tensor(x))
        _close(y, R.batch_norm_ref(x, training=True)[0], np.float32, 20)
        _close(bn.running_mean, rm, np.float32, 8)
        _close(bn.running_var, rv, np.float32, 64)
        assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
        assert int(bn.num_batches_tracked) == k
    bn.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    y = bn(x)
    rm, rv, _ = steps[-1]
    _close(y, R.batch_norm_ref(x, rm, rv, training=False)[0], np.float32, 20)
    assert int(bn.num_batches_tracked) == 4  # eval does not count


def test_batchnorm_defaults_state_dict_and_round_trip() -> None:
    bn = nn.BatchNorm2d(4)
    sd = bn.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["weight"].dtype == np.float32 and sd["weight"].tolist() == [1.0] * 4
    assert sd["bias"].tolist() == [0.0] * 4
    assert sd["running_mean"].tolist() == [0.0] * 4 and sd["running_var"].tolist() == [1.0] * 4
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].shape == ()
    assert (bn.eps, bn.momentum, bn.affine, bn.track_running_stats) == (1e-5, 0.1, True, True)
    assert (
        repr(bn) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    )
    bn(np.random.default_rng(8).standard_normal((2, 4, 3, 3)).astype(np.float32))
    other = nn.BatchNorm2d(4)
    other.load_state_dict(bn.state_dict())
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    assert int(other.num_batches_tracked) == 1
    bn.double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and bn.running_var.tolist() == [1.0] * 4


def test_batchnorm_without_affine_or_tracking() -> None:
    x = np.random.default_rng(9).standard_normal((5, 2, 3))
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=np.float64)
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []
    assert bn.running_mean is None and bn.weight is None
    y_ref = R.batch_norm_ref(x, training=True)[0]
    _close(bn(x), y_ref, np.float64, 10)
    bn.eval()  # no running statistics: eval normalises with the batch too
    _close(bn(x), y_ref, np.float64, 10)
    only_affine = nn.BatchNorm1d(2, track_running_stats=False)
    assert list(only_affine.state_dict()) == ["weight", "bias"]


def test_frozen_batchnorm_uses_running_statistics() -> None:
    rng = np.random.default_rng(10)
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    for _ in range(3):
        bn(rng.standard_normal((4, 3, 2, 2)) * 2 + 1)
    bn.weight.data = rng.standard_normal(3)
    bn.bias.data = rng.standard_normal(3)
    bn.eval().requires_grad_(False)
    state = {k: v.copy() for k, v in bn.state_dict().items()}
    x = tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)
    y = bn(x)
    rm, rv = state["running_mean"], state["running_var"]
    _close(y, R.batch_norm_ref(x.data, rm, rv, state["weight"], state["bias"])[0], np.float64, 10)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    dx, _, _ = R.batch_norm_grad_ref(g, x.data, state["weight"], False, rm, rv)
    _close(x.grad, dx, np.float64, 10)
    assert bn.weight.grad is None and bn.bias.grad is None
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    # Frozen parameters but training mode: batch statistics, still no parameter gradients.
    bn.train()
    x.grad = None
    bn(x).backward(g)
    dx, _, _ = R.batch_norm_grad_ref(g, x.data, state["weight"], True)
    _close(x.grad, dx, np.float64, 100)
    assert bn.weight.grad is None


def _gradcheck_layer(layer: nn.Module, x: np.ndarray) -> None:
    params = list(layer.parameters())
    assert all(p.dtype == np.float64 for p in params)
    assert ferrograd.gradcheck(lambda x, *ps: layer(x), [x, *params])


@pytest.mark.parametrize(
    "make, shape, train",
    [
        (lambda: nn.BatchNorm1d(3), (4, 3), True),
        (lambda: nn.BatchNorm1d(2), (3, 2, 4), True),
        (lambda: nn.BatchNorm1d(2, momentum=None), (3, 2, 4), False),
        (lambda: nn.BatchNorm2d(2), (2, 2, 3, 2), True),
        (lambda: nn.BatchNorm2d(2), (2, 2, 3, 2), False),
        (lambda: nn.LayerNorm(4), (3, 4), True),
        (lambda: nn.LayerNorm((2, 3), bias=False), (2, 2, 3), True),
        (lambda: nn.LayerNorm([3], elementwise_affine=False), (2, 5, 3), True),
    ],
)
def test_layers_pass_gradcheck(make: Any, shape: Any, train: bool) -> None:
    rng = np.random.default_rng(11)
    layer = make().double()
    for p in layer.parameters():
        p.data = rng.standard_normal(p.shape)
    if not train:
        layer(rng.standard_normal(shape))  # give the running statistics non-trivial values
        layer.eval()
    _gradcheck_layer(layer, rng.standard_normal(shape))


def test_embedding_layer_gradcheck_and_padding() -> None:
    emb = nn.Embedding(5, 3, padding_idx=-1).double()
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.weight.data[4], 0.0)
    idx = np.array([[0, 4, 2], [2, 2, 1]])
    assert ferrograd.gradcheck(lambda w: F.embedding(idx, w, padding_idx=None), [emb.weight])
    emb.zero_grad()
    y = emb(idx)
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(emb.weight.grad[4], 0.0)
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1.0, 1.0, 3.0, 0.0, 0.0])
    assert repr(emb) == "Embedding(5, 3, padding_idx=4)"
    assert list(emb.state_dict()) == ["weight"]


def test_embedding_init_is_standard_normal_and_seeded() -> None:
    ferrograd.manual_seed(3)
    a = nn.Embedding(400, 50, padding_idx=2)
    ferrograd.manual_seed(3)
    b = nn.Embedding(400, 50, padding_idx=2)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    w = a.weight.data
    assert w.dtype == np.float32 and w.shape == (400, 50)
    np.testing.assert_array_equal(w[2], 0.0)
    assert abs(float(w.mean())) < 0.02 and abs(float(w.std()) - 1.0) < 0.02
    pre = nn.Embedding.from_pretrained(np.eye(3, dtype=np.float64))
    assert not pre.weight.requires_grad and pre.weight.dtype == np.float64
    assert nn.Embedding.from_pretrained(np.eye(3), freeze=False).weight.requires_grad


def test_layernorm_defaults() -> None:
    ln = nn.LayerNorm((2, 3))
    assert ln.normalized_shape == (2, 3)
    assert list(ln.state_dict()) == ["weight", "bias"]
    assert ln.weight.shape == (2, 3) and ln.weight.dtype == np.float32
    assert repr(ln) == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)"
    x = np.random.default_rng(12).standard_normal((4, 2, 3)).astype(np.float32)
    _close(ln(x), R.layer_norm_ref(x, (2, 3)), np.float32, 10)
    assert ln.eval()(x).shape == (4, 2, 3)
    assert nn.LayerNorm(3, bias=False).bias is None
    assert list(nn.LayerNorm(3, elementwise_affine=False).parameters()) == []


# ---------------------------------------------------------------------------- errors


def test_batchnorm_errors() -> None:
    with pytest.raises(ShapeError, match=r"expected 3 channels.*\(4, 5\)"):
        nn.BatchNorm1d(3)(np.zeros((4, 5), np.float32))
    with pytest.raises(ShapeError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ShapeError, match="expected 4D input"):
        nn.BatchNorm2d(3)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32))
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError):
        bn(np.zeros((1, 3), np.float32))
    assert int(bn.num_batches_tracked) == 0  # a failed step does not count
    assert nn.BatchNorm1d(3).eval()(np.zeros((1, 3), np.float32)).shape == (1, 3)
    with pytest.raises(ShapeError, match="running_mean has 4 elements, but the input has 3"):
        F.batch_norm(np.zeros((2, 3)), np.zeros(4), np.ones(4), training=True)
    with pytest.raises(ShapeError, match="weight has 2 elements"):
        F.batch_norm(np.zeros((2, 3)), None, None, np.ones(2), training=True)
    with pytest.raises(ValueError, match="required when not training"):
        F.batch_norm(np.zeros((2, 3)), None, None)
    with pytest.raises(ShapeError, match=r"\(N, C\)"):
        F.batch_norm(np.zeros(3), None, None, training=True)
    with pytest.raises(DTypeError, match="updated in place"):
        F.batch_norm(np.zeros((2, 3)), [0.0] * 3, [1.0] * 3, training=True)
    with pytest.raises(DTypeError):
        F.batch_norm(np.zeros((2, 3), np.float16), None, None, training=True)
    with pytest.raises(ValueError):
        nn.BatchNorm1d(0)


def test_layer_norm_and_embedding_errors() -> None:
    with pytest.raises(ShapeError, match="trailing axes"):
        F.layer_norm(np.zeros((2, 4)), 3)
    with pytest.raises(ShapeError, match="trailing axes"):
        nn.LayerNorm((2, 4))(np.zeros((4, 2), np.float32))
    with pytest.raises(ShapeError, match="normalized_shape"):
        F.layer_norm(np.zeros((2, 4)), 4, weight=np.ones(3))
    with pytest.raises(ShapeError):
        F.layer_norm(np.zeros((2, 4)), ())
    emb = nn.Embedding(10, 2)
    with pytest.raises(ValueError, match=r"index 12 at position \(1, 0\).*10 embeddings"):
        emb(np.array([[1, 2], [12, 3]]))
    with pytest.raises(ValueError, match="index -1 at position"):
        emb(np.array([-1]))
    with pytest.raises(DTypeError, match="integer indices"):
        emb(np.array([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ShapeError, match="2-D"):
        F.embedding(np.array([0]), np.zeros(3))


def test_error_tolerances_are_sane() -> None:
    # The helper's tolerance tracks the dtype's epsilon (guards against a vacuous _close).
    assert 256 * EPS[np.dtype(np.float32)] < 1e-4
    with pytest.raises(AssertionError):
        _close(np.float32(1.001), 1.0, np.float32)
