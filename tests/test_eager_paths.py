"""The direct paths of an eager training step (ferrograd._eager): Linear, ReLU and
CrossEntropyLoss give the general path's values, gradients and errors, and fall back to it
for whatever needs a conversion."""

from __future__ import annotations

import doctest
import warnings

import ferrograd as fg
import ferrograd._eager as eager
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd import nn, tensor
from helpers import assert_close

RNG = np.random.default_rng(11)


def test_docstring_examples_run():
    assert doctest.testmod(eager).failed == 0


# ---------------------------------------------------------------------------- Linear


def _linear_ref(x, w, b, g):
    x64, w64, g64 = (np.asarray(a, np.float64) for a in (x, w, g))
    out = x64 @ w64.T + (0.0 if b is None else np.asarray(b, np.float64))
    return out, g64 @ w64, g64.T @ x64, g64.sum(axis=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_values_and_gradients(dtype, bias):
    layer = nn.Linear(5, 3, bias=bias, dtype=dtype)
    x = tensor(RNG.standard_normal((4, 5)).astype(dtype), requires_grad=True)
    assert eager.linear(x, layer.weight, layer.bias) is not None  # the direct path is taken
    out = layer(x)
    assert out.grad_fn.op == "linear" and out.dtype == dtype
    g = RNG.standard_normal((4, 3)).astype(dtype)
    out.backward(g)
    b = layer.bias.data if bias else None
    ref, gx, gw, gb = _linear_ref(x.data, layer.weight.data, b, g)
    assert_close(out.data, ref, dtype, reduce_len=5)
    assert_close(x.grad, gx, dtype, reduce_len=3)
    assert_close(layer.weight.grad, gw, dtype, reduce_len=4)
    if bias:
        assert_close(layer.bias.grad, gb, dtype, reduce_len=4)
    # The general path gives the same numbers bit for bit.
    general = fg.autograd.OPS["linear"](x.data, layer.weight.data, b)
    np.testing.assert_array_equal(out.data, general.data)


def test_linear_falls_back_for_conversions():
    layer = nn.Linear(4, 2)
    xc = RNG.standard_normal((3, 4)).astype(np.float32)
    want = layer(xc).data
    # Column-major and strided arrays are copied once and take the direct path; a list
    # takes the general one.
    for x in (np.asfortranarray(xc), np.repeat(xc, 2, axis=1)[:, ::2], xc.tolist()):
        direct = eager.linear(x, layer.weight, layer.bias)
        assert (direct is None) == (not isinstance(x, np.ndarray))
        if direct is not None:
            np.testing.assert_array_equal(direct.data, want)
        np.testing.assert_allclose(layer(x).data, want, rtol=1e-6)
    # Another dtype is cast by the layer, with its warning.
    assert eager.linear(xc.astype(np.float64), layer.weight, layer.bias) is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = layer(tensor(xc.astype(np.float64), requires_grad=True))
    assert out.dtype == np.float32
    assert any(issubclass(w.category, fg.DTypeCastWarning) for w in caught)


def test_linear_with_a_strided_upstream_gradient():
    layer = nn.Linear(3, 4, dtype=np.float64)
    x = tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    g = RNG.standard_normal((4, 5))
    layer(x).T.backward(g)  # the linear node gets g.T, a view that is not C-ordered
    _, gx, gw, gb = _linear_ref(x.data, layer.weight.data, layer.bias.data, g.T)
    assert_close(x.grad, gx, np.float64, reduce_len=4)
    assert_close(layer.weight.grad, gw, np.float64, reduce_len=5)
    assert_close(layer.bias.grad, gb, np.float64, reduce_len=5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_of_a_strided_view_takes_the_direct_path(dtype):
    # the h part of an LSTM's states, say: every row's first half
    layer = nn.Linear(3, 4, dtype=dtype)
    full = tensor(RNG.standard_normal((5, 6)).astype(dtype), requires_grad=True)
    x = full[:, :3]
    assert not x.data.flags.c_contiguous
    out = layer(x)
    assert out.grad_fn.op == "linear"
    g = RNG.standard_normal((5, 4)).astype(dtype)
    out.backward(g)
    ref, gx, gw, gb = _linear_ref(x.data, layer.weight.data, layer.bias.data, g)
    assert_close(out.data, ref, dtype, reduce_len=3)
    assert_close(full.grad[:, :3], gx, dtype, reduce_len=4)
    assert np.all(full.grad[:, 3:] == 0)
    assert_close(layer.weight.grad, gw, dtype, reduce_len=5)
    assert_close(layer.bias.grad, gb, dtype, reduce_len=5)


def test_linear_records_nothing_without_grad():
    layer = nn.Linear(3, 2)
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    with fg.no_grad():
        out = layer(x)
    assert not out.requires_grad and out.grad_fn is None
    layer.requires_grad_(False)
    assert layer(x).grad_fn is None


def test_linear_shape_error_is_the_general_one():
    layer = nn.Linear(3, 2)
    bad = np.ones((2, 4), np.float32)
    with pytest.raises(fg.ShapeError) as direct:
        layer(bad)
    with pytest.raises(fg.ShapeError) as general:
        fg.ops.linear(bad, layer.weight.data, layer.bias.data)
    assert str(direct.value) == str(general.value)


# ---------------------------------------------------------------------------- ReLU


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_values_and_gradients(dtype):
    x = tensor(RNG.standard_normal((4, 6)).astype(dtype), requires_grad=True)
    assert eager.relu(x) is not None
    out = nn.ReLU()(x)
    assert out.grad_fn.op == "relu" and out.dtype == dtype
    g = RNG.standard_normal((4, 6)).astype(dtype)
    out.backward(g)
    assert_close(out.data, R.relu_ref(x.data), dtype)
    assert_close(x.grad, R.relu_grad_ref(g, x.data), dtype)


def test_relu_falls_back_for_arrays_and_layouts():
    x = RNG.standard_normal((3, 4))
    assert eager.relu(x) is None
    out = nn.ReLU()(x)  # an array in, an array out (as F.relu)
    assert type(out) is np.ndarray
    assert_close(out, R.relu_ref(x), np.float64)
    t = tensor(np.asfortranarray(x), requires_grad=True)
    assert eager.relu(t) is None
    y = nn.ReLU()(t)
    y.backward(np.ones((3, 4)))
    assert_close(t.grad, R.relu_grad_ref(np.ones((3, 4)), x), np.float64)


def test_relu_with_a_strided_upstream_gradient():
    x = tensor(RNG.standard_normal((3, 5)), requires_grad=True)
    g = RNG.standard_normal((5, 3))
    nn.ReLU()(x).T.backward(g)
    assert_close(x.grad, R.relu_grad_ref(g.T, x.data), np.float64)


# ---------------------------------------------------------------------------- CrossEntropyLoss


def _logits(dtype=np.float64, n=6, c=4):
    return tensor(RNG.standard_normal((n, c)).astype(dtype), requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "settings",
    [{}, {"reduction": "sum"}, {"label_smoothing": 0.2}, {"ignore_index": 1}],
)
def test_cross_entropy_values_and_gradients(dtype, settings):
    x = _logits(dtype)
    y = np.array([0, 3, 1, 1, 2, 0])
    loss_fn = nn.CrossEntropyLoss(**settings)
    args = (loss_fn.ignore_index, loss_fn.reduction, loss_fn.label_smoothing)
    assert eager.cross_entropy(x, y, *args, F.cross_entropy_backward) is not None
    loss = loss_fn(x, y)
    assert loss.grad_fn.op == "cross_entropy"
    loss.backward()
    assert_close(loss.data, R.cross_entropy_ref(x.data, y, **settings), dtype, reduce_len=24)
    assert_close(x.grad, R.cross_entropy_grad_ref(1.0, x.data, y, **settings), dtype, reduce_len=4)


def test_cross_entropy_scaled_twice_and_non_finite_upstream():
    y = np.array([2, 0, 1, 3, 3, 0])
    x = _logits()
    loss = nn.CrossEntropyLoss()(x, y)
    (loss * 3.0).backward(retain_graph=True)
    want = R.cross_entropy_grad_ref(3.0, x.data, y)
    assert_close(x.grad, want, np.float64, reduce_len=4)
    (loss * 2.0).backward()  # the second pass goes through cross_entropy_backward
    assert_close(x.grad, want + R.cross_entropy_grad_ref(2.0, x.data, y), np.float64, 4)
    z = _logits()
    with np.errstate(invalid="ignore"):
        (nn.CrossEntropyLoss()(z, y) * np.inf).backward()
        general = _logits()
        general.data[...] = z.data
        (F.cross_entropy(general, y) * np.inf).backward()
    np.testing.assert_array_equal(z.grad, general.grad)


def test_cross_entropy_settings_edited_after_construction():
    y = np.array([1, 0, 2, 3, 0, 1])
    loss_fn = nn.CrossEntropyLoss()
    loss_fn.reduction = "sum"
    loss_fn.label_smoothing = 0.1
    x = _logits()
    loss = loss_fn(x, y)
    assert_close(
        loss.data, R.cross_entropy_ref(x.data, y, reduction="sum", label_smoothing=0.1), np.float64
    )
    loss_fn.reduction = "none"  # not fused: the general path
    assert loss_fn(x, y).shape == (6,)
    loss_fn.reduction = "max"
    with pytest.raises(fg.ArgumentError, match="reduction"):
        loss_fn(x, y)


@pytest.mark.parametrize(
    "target",
    [
        np.array([0, 1, 2, 3, 0, 1], np.int32),  # converted: the general path
        np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])[::2],  # strided
    ],
)
def test_cross_entropy_falls_back_for_other_targets(target):
    x = _logits()
    assert eager.cross_entropy(x, target, -100, "mean", 0.0, F.cross_entropy_backward) is None
    loss = nn.CrossEntropyLoss()(x, target)
    loss.backward()
    assert_close(loss.data, R.cross_entropy_ref(x.data, target), np.float64, reduce_len=24)
    assert_close(x.grad, R.cross_entropy_grad_ref(1.0, x.data, target), np.float64, 4)


def test_cross_entropy_bad_label_is_the_general_error():
    x = _logits()
    y = np.array([0, 1, 2, 9, 0, 1])
    with pytest.raises(ValueError) as direct:
        nn.CrossEntropyLoss()(x, y)
    with pytest.raises(ValueError) as general:
        F.cross_entropy(x.data, y)
    assert type(direct.value) is type(general.value)
    assert str(direct.value) == str(general.value)
    assert "cross_entropy" in str(direct.value)


def test_cross_entropy_without_grad_or_with_weights():
    y = np.array([0, 1, 2, 3, 0, 1])
    x = _logits()
    with fg.no_grad():
        assert eager.cross_entropy(x, y, -100, "mean", 0.0, F.cross_entropy_backward) is None
        loss = nn.CrossEntropyLoss()(x, y)
    assert not loss.requires_grad
    w = np.array([1.0, 2.0, 0.5, 1.5])
    weighted = nn.CrossEntropyLoss(w)(x, y)
    weighted.backward()
    assert_close(weighted.data, R.cross_entropy_ref(x.data, y, w), np.float64, reduce_len=24)
    assert_close(x.grad, R.cross_entropy_grad_ref(1.0, x.data, y, w), np.float64, 4)


def test_training_step_gradients_match_the_general_path():
    """A whole MLP step through the direct paths against the same step through the general
    functions (F.linear, F.relu, F.cross_entropy)."""
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x = RNG.standard_normal((7, 6)).astype(np.float32)
    y = RNG.integers(0, 3, 7)
    nn.CrossEntropyLoss()(model(x), y).backward()
    direct = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    h = F.relu(F.linear(x, model[0].weight, model[0].bias))
    F.cross_entropy(F.linear(h, model[2].weight, model[2].bias), y).backward()
    for d, p in zip(direct, model.parameters()):
        np.testing.assert_array_equal(d, p.grad)


def test_grad_mode_is_per_thread():
    """A new thread records gradients even while another is inside no_grad, and its own
    no_grad does not leak to the thread that started it."""
    import threading

    seen = {}

    def worker():
        seen["start"] = fg.is_grad_enabled()
        with fg.no_grad():
            seen["inside"] = fg.is_grad_enabled()

    with fg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not fg.is_grad_enabled()
    assert seen == {"start": True, "inside": False}
    assert fg.is_grad_enabled()
    x = tensor(np.ones(2), requires_grad=True)
    assert (x * 2).requires_grad
