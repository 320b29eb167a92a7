"""F.linear, F.dropout, F.one_hot and F.pad against NumPy references (and gradcheck)."""

from __future__ import annotations

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
import pytest
from ferrograd import Tensor, gradcheck, tensor

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_linear_matches_numpy(dt):
    x, w, b = RNG.normal(size=(4, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=2)
    out = F.linear(x.astype(dt), w.astype(dt), b.astype(dt))
    assert isinstance(out, np.ndarray) and out.dtype == dt
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5 if dt == np.float32 else 1e-12)
    np.testing.assert_allclose(F.linear(x, w), x @ w.T, rtol=1e-12)
    assert gradcheck(lambda a, c, d: F.linear(a, c, d), [x, w, b])
    assert gradcheck(lambda a, c: F.linear(a, c), [x, w])
    assert isinstance(F.linear(tensor(x), w), Tensor)


def test_dropout_keeps_the_kind_and_scales():
    x = np.ones((200, 50))
    fg.manual_seed(0)
    y = F.dropout(x, 0.25)
    assert isinstance(y, np.ndarray)
    assert set(np.unique(y)) <= {0.0, 1.0 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert F.dropout(x, 0.5, training=False) is not None
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False), x)
    t = tensor(x, requires_grad=True)
    fg.manual_seed(1)
    out = F.dropout(t, p=0.5)
    out.sum().backward()
    np.testing.assert_array_equal(t.grad, out.data)  # d(sum)/dx is the scaled mask
    assert F.dropout(t, training=False) is t
    np.testing.assert_array_equal(F.dropout(x, 1.0), np.zeros_like(x))
    with pytest.raises(fg.ArgumentError):
        F.dropout(x, 1.5)


def test_one_hot_matches_numpy():
    labels = np.array([[0, 3], [2, 1]])
    out = F.one_hot(labels, 5)
    assert out.dtype == np.int64 and out.shape == (2, 2, 5)
    np.testing.assert_array_equal(out, np.eye(5, dtype=np.int64)[labels])
    np.testing.assert_array_equal(
        F.one_hot(np.array([1, 0, 2])), np.eye(3, dtype=np.int64)[[1, 0, 2]]
    )
    t = F.one_hot(tensor(np.array([1], dtype=np.int32)), 2)
    assert isinstance(t, Tensor) and t.tolist() == [[0, 1]]
    with pytest.raises(fg.ArgumentError, match="class index 3 is out of range for 3 classes"):
        F.one_hot(np.array([3]), 3)
    with pytest.raises(fg.ArgumentError, match="class index -1"):
        F.one_hot(np.array([-1, 0]))
    with pytest.raises(fg.DTypeError):
        F.one_hot(np.array([0.0]))


@pytest.mark.parametrize(
    "pad,np_pad",
    [
        ((1, 2), ((0, 0), (0, 0), (1, 2))),
        ((0, 1, 2, 0), ((0, 0), (2, 0), (0, 1))),
        ((1, 1, 1, 1, 1, 0), ((1, 0), (1, 1), (1, 1))),
    ],
)
def test_pad_matches_numpy_with_torch_order(pad, np_pad):
    x = RNG.normal(size=(2, 3, 4))
    np.testing.assert_array_equal(
        F.pad(x, pad, value=-2.0), np.pad(x, np_pad, constant_values=-2.0)
    )
    assert gradcheck(lambda a: F.pad(a, pad, value=1.5), [x])


def test_pad_negative_crops_and_errors():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(F.pad(x, (-1, 1)), np.pad(x[:, 1:], ((0, 0), (0, 1))))
    assert gradcheck(lambda a: F.pad(a, (-1, 2, 1, -2)), [x])
    with pytest.raises(fg.ArgumentError, match="mode must be one of 'constant', 'reflect'"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(fg.ArgumentError, match="even number"):
        F.pad(x, (1,))
    with pytest.raises(fg.ShapeError):
        F.pad(x, (1, 1, 1, 1, 1, 1))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_linear_backward_can_skip_the_input_gradient(dt):
    x, w, g = RNG.normal(size=(5, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=(5, 4))
    tol = 1e-5 if dt == np.float32 else 1e-12
    gx, gw, gb = fg.ops.linear_backward(g.astype(dt), x.astype(dt), w.astype(dt))
    skipped = fg.ops.linear_backward(g.astype(dt), x.astype(dt), w.astype(dt), input_grad=False)
    assert skipped[0] is None
    for got, want in ((gx, g @ w), (gw, g.T @ x), (gb, g.sum(0))):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(skipped[1], g.T @ x, rtol=tol, atol=tol)
    np.testing.assert_allclose(skipped[2], g.sum(0), rtol=tol, atol=tol)
    with pytest.raises(fg.DTypeError, match="input_grad must be True or False"):
        fg.ops.linear_backward(g, x, w, input_grad="no")


def _spy_input_grad(monkeypatch, module, name):
    """Records the ``input_grad`` flag of each call to ``module.name``."""
    seen = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(kwargs.get("input_grad", args[3] if len(args) > 3 else True))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def test_backward_skips_the_gradient_of_an_input_that_needs_none(monkeypatch):
    # The first layer's input (the data) needs no gradient: its product is skipped, and the
    # weight's gradient is unchanged. A hidden layer's input still gets its gradient.
    seen = _spy_input_grad(monkeypatch, fg.ops, "linear_backward")
    x, w1, w2 = RNG.normal(size=(6, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=(2, 4))
    t1, t2 = tensor(w1, requires_grad=True), tensor(w2, requires_grad=True)
    F.linear(F.linear(tensor(x), t1), t2).sum().backward()
    assert seen == [True, False]
    g2 = np.ones((6, 2))
    np.testing.assert_allclose(t2.grad, g2.T @ (x @ w1.T), rtol=1e-12)
    np.testing.assert_allclose(t1.grad, (g2 @ w2).T @ x, rtol=1e-12)
    xt = tensor(x, requires_grad=True)
    F.linear(xt, t1).sum().backward()
    np.testing.assert_allclose(xt.grad, np.ones((6, 4)) @ w1, rtol=1e-12)


def test_conv2d_backward_skips_the_gradient_of_an_input_that_needs_none(monkeypatch):
    from reference import conv2d_grad_ref

    seen = _spy_input_grad(monkeypatch, fg.ops, "conv2d_backward")
    x, w = RNG.normal(size=(2, 2, 5, 5)), RNG.normal(size=(3, 2, 3, 3))
    tw = tensor(w, requires_grad=True)
    F.conv2d(tensor(x), tw, padding=1).sum().backward()
    g = np.ones((2, 3, 5, 5))
    _, gw, _ = conv2d_grad_ref(g, x, w, padding=1)
    assert seen == [False]
    np.testing.assert_allclose(tw.grad, gw, rtol=1e-10)
    skipped = F.conv2d_backward(g, x, w, padding=1, input_grad=False)
    assert skipped[0] is None
    np.testing.assert_allclose(skipped[1], gw, rtol=1e-10)


def test_linear_modules_skip_the_first_layers_input_gradient(monkeypatch):
    # nn.Linear's direct path: the first layer's input (plain data) gets no gradient
    # product; the second layer's input (a hidden activation) does. Gradients as NumPy's.
    from types import SimpleNamespace

    from ferrograd import _core, _eager, nn

    seen = []

    def spy(g, x, w, input_grad=True):
        seen.append(input_grad)
        return _core.linear_backward(g, x, w, input_grad)

    monkeypatch.setattr(
        _eager,
        "_core",
        SimpleNamespace(
            **{name: getattr(_core, name) for name in ("linear", "relu", "relu_backward")},
            linear_backward=spy,
        ),
    )
    fg.manual_seed(0)
    first, second = nn.Linear(3, 4).double(), nn.Linear(4, 2).double()
    x = RNG.normal(size=(5, 3))
    second(first(x)).sum().backward()
    assert seen == [True, False]
    w1, b1, w2 = first.weight.data, first.bias.data, second.weight.data
    hidden = x @ w1.T + b1
    g = np.ones((5, 2))
    np.testing.assert_allclose(second.weight.grad, g.T @ hidden, rtol=1e-12)
    np.testing.assert_allclose(first.weight.grad, (g @ w2).T @ x, rtol=1e-12)
    np.testing.assert_allclose(first.bias.grad, (g @ w2).sum(0), rtol=1e-12)
