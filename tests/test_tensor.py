"""The autograd Tensor: every op's gradient by finite differences, and the graph mechanics."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import Tensor, gradcheck, no_grad, tensor
from ferrograd.tensor import linear as t_linear

RNG = np.random.default_rng(1234)


def rand(*shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape)


# Each case: (name, fn of tensors, inputs). Inputs avoid kinks, ties and domain edges.
CASES = [
    ("add broadcast", lambda a, b: a + b, [rand(3, 4), rand(4)]),
    ("sub scalar", lambda a: 2.0 - a, [rand(3)]),
    ("mul broadcast", lambda a, b: a * b, [rand(2, 1, 3), rand(4, 1)]),
    ("div", lambda a, b: a / b, [rand(3, 2), rand(3, 2, lo=1.0, hi=2.0)]),
    ("rdiv", lambda a: 1.0 / a, [rand(4, lo=0.5, hi=2.0)]),
    ("neg", lambda a: -a, [rand(5)]),
    ("pow", lambda a: a**3.0, [rand(4)]),
    ("pow frac", lambda a: a**1.5, [rand(4, lo=0.5, hi=2.0)]),
    ("exp", lambda a: a.exp(), [rand(2, 3)]),
    ("log", lambda a: a.log(), [rand(2, 3, lo=0.5, hi=3.0)]),
    ("sqrt", lambda a: a.sqrt(), [rand(6, lo=0.5, hi=3.0)]),
    ("matmul 2d", lambda a, b: a @ b, [rand(3, 4), rand(4, 2)]),
    ("matmul batched", lambda a, b: a @ b, [rand(2, 3, 4), rand(4, 5)]),
    ("matmul vec", lambda a, b: a @ b, [rand(4), rand(4, 3)]),
    ("sum all", lambda a: a.sum(), [rand(3, 4)]),
    ("sum axis", lambda a: a.sum(axis=0), [rand(3, 4)]),
    ("mean keepdims", lambda a: a.mean(axis=(0, 2), keepdims=True), [rand(2, 3, 4)]),
    (
        "max axis",
        lambda a: a.max(axis=1).values,
        [np.arange(12.0).reshape(3, 4) * 0.1 + rand(3, 4) * 0.01],
    ),
    ("reshape", lambda a: a.reshape(4, 3) * tensor(np.arange(12.0).reshape(4, 3)), [rand(3, 4)]),
    ("transpose", lambda a: a.T @ tensor(np.ones((3, 2))), [rand(3, 5)]),
    (
        "permute",
        lambda a: a.permute(2, 0, 1) * tensor(np.arange(24.0).reshape(4, 2, 3)),
        [rand(2, 3, 4)],
    ),
    ("getitem slice", lambda a: a[1:, ::2] * 3.0, [rand(3, 4)]),
    ("getitem fancy repeats", lambda a: a[[0, 2, 0]], [rand(3, 2)]),
    ("concat", lambda a, b: fg.concat([a, b], axis=1), [rand(2, 2), rand(2, 3)]),
    ("stack", lambda a, b: fg.stack([a, b], axis=0) * 2.0, [rand(3), rand(3)]),
    ("where", lambda a, b: fg.where(np.array([True, False, True]), a, b), [rand(3), rand(3)]),
    ("linear", lambda x, w, b: t_linear(x, w, b), [rand(4, 3), rand(2, 3), rand(2)]),
    ("linear 3d", lambda x, w: t_linear(x, w), [rand(2, 4, 3), rand(2, 3)]),
    ("reuse", lambda a: a * a + a.exp() * a, [rand(3)]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_every_op_passes_gradcheck(name, fn, inputs):
    assert gradcheck(fn, [x.copy() for x in inputs])


def test_gradcheck_reports_the_worst_element():
    def wrong(a: Tensor) -> Tensor:
        # forward doubles, but the recorded gradient is the identity's
        from ferrograd.autograd import record

        return record(a.data * 2, (a,), lambda g: (g,))

    with pytest.raises(fg.FerrogradError, match=r"index \(\d+,\)"):
        gradcheck(wrong, [rand(3)])


def test_gradients_accumulate_and_zero_grad_clears():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])
    x.zero_grad()
    assert x.grad is None


def test_explicit_grad_output_and_shape_checks():
    x = tensor(np.ones((2, 2)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(fg.ShapeError, match="only for a one-element"):
        y.backward()
    with pytest.raises(fg.ShapeError, match="gradient has shape"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 2), 0.5))
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))


def test_no_grad_detach_and_leaf_rules():
    w = tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = w * 2.0
    assert not y.requires_grad and y.is_leaf
    z = (w * 2.0).detach()
    assert not z.requires_grad
    with pytest.raises(fg.FerrogradError, match="does not require gradients"):
        z.sum().backward()
    with pytest.raises(fg.DTypeError):
        tensor(np.arange(3), requires_grad=True)


def test_dtypes_follow_inputs_and_default_dtype():
    assert tensor([1.0, 2.0]).dtype == np.float32
    assert tensor(np.zeros(2)).dtype == np.float64
    fg.set_default_dtype(np.float64)
    try:
        assert tensor([1.0]).dtype == np.float64
    finally:
        fg.set_default_dtype(np.float32)
    a = tensor(np.ones(2, np.float32), requires_grad=True)
    b = tensor(np.ones(2, np.float64), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_deep_graph_has_no_recursion_limit():
    x = tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad[0] == pytest.approx(1.0001**5000, rel=1e-9)


def test_ndarray_on_the_left_defers_to_tensor():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_leaf_gradients_are_own_c_ordered_arrays():
    """Leaves that receive one upstream array each get their own copy, and a gradient summed
    from transposed uses is C-ordered, as a fresh ``.grad`` always is."""
    a = tensor(np.ones((3, 2)), requires_grad=True)
    b = tensor(np.ones((3, 2)), requires_grad=True)
    (a + b).backward(np.full((3, 2), 2.0))
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad[0, 0] = 7.0
    assert b.grad[0, 0] == 2.0
    w = tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    (w.T * 2.0 + w.T * 3.0).sum().backward()
    assert w.grad.flags.c_contiguous
    np.testing.assert_array_equal(w.grad, np.full((3, 2), 5.0))
    s = tensor(np.array(2.0), requires_grad=True)
    (s * 3.0 + s * 4.0).backward()
    assert isinstance(s.grad, np.ndarray) and s.grad.shape == () and s.grad == 7.0


def test_numpy_functions_with_a_counterpart_keep_the_graph() -> None:
    """np.tanh(layer(x)) once returned a plain array, and the layer never learned."""
    fg.manual_seed(0)
    layer = fg.nn.Linear(3, 2).double()
    x = tensor(np.random.default_rng(0).standard_normal((4, 3)))
    y = np.tanh(layer(x))
    assert isinstance(y, Tensor) and y.requires_grad
    y.sum().backward()
    via_numpy = layer.weight.grad
    layer.zero_grad()
    fg.functional.tanh(layer(x)).sum().backward()
    np.testing.assert_array_equal(via_numpy, layer.weight.grad)

    t = tensor(np.array([0.5, 1.5, 2.0]), requires_grad=True)
    u = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    cases = [
        (np.exp(t) + np.log(u) * np.sqrt(u), (t.exp() + u.log() * u.sqrt())),
        (np.add(np.ones(3), t) * np.multiply(t, u), (1.0 + t) * (t * u)),
        (np.subtract(t, u) / np.true_divide(u, 2.0), (t - u) / (u / 2.0)),
        (np.power(t, 3) + np.square(u) - np.negative(t), t**3 + u * u + t),
        (np.sum(np.stack([t, u]), axis=0), t + u),
        (np.mean(np.concatenate([t, u])) * np.max(t), (t.sum() + u.sum()) / 6 * t.max()),
        (np.reshape(np.transpose(np.where(t.data > 1, t, u)), (3,)), fg.where(t.data > 1, t, u)),
        (np.matmul(t, u), t @ u),
    ]
    for got, want in cases:
        assert isinstance(got, Tensor)
        t.grad = u.grad = None
        got.sum().backward()
        g_got = (t.grad.copy(), u.grad.copy() if u.grad is not None else None)
        t.grad = u.grad = None
        want.sum().backward()
        np.testing.assert_allclose(g_got[0], t.grad, rtol=1e-12)
        if g_got[1] is not None or u.grad is not None:
            np.testing.assert_allclose(g_got[1], u.grad, rtol=1e-12)


def test_numpy_functions_that_would_drop_a_gradient_are_refused() -> None:
    t = tensor(np.array([0.5, -1.5]), requires_grad=True)
    with pytest.raises(fg.DTypeError, match=r"np\.sin of a Tensor that requires grad"):
        np.sin(t)
    with pytest.raises(fg.DTypeError, match=r"ferrograd\.functional\.relu"):
        np.maximum(t, 0.0)
    clipped = np.clip(t, 0.0, 1.0)  # runs Tensor.clamp, keeping the graph
    assert isinstance(clipped, Tensor) and clipped.tolist() == [0.5, 0.0]
    with pytest.raises(fg.DTypeError, match=r"np\.cumsum"):
        np.cumsum(t)
    with pytest.raises(fg.DTypeError, match=r"np\.add"):
        np.add(t, 1.0, out=np.empty(2))
    # results that carry no gradient anyway come back as NumPy gives them
    assert np.shape(t) == (2,) and np.ndim(t) == 1
    np.testing.assert_array_equal(np.isfinite(t), [True, True])
    assert int(np.argmax(t)) == 0 and bool(np.all(t < 1.0))
    # without a gradient, or with recording off, NumPy works on the data as before
    plain = tensor(np.array([0.5, -1.5]))
    np.testing.assert_array_equal(np.sin(plain), np.sin(plain.data))
    with fg.no_grad():
        np.testing.assert_array_equal(np.sin(t), np.sin(t.data))
    np.testing.assert_array_equal(np.sin(t.detach()), np.sin(t.data))
