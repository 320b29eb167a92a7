"""Tensor methods with PyTorch's names and semantics, each against NumPy and gradcheck."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import Tensor, gradcheck, tensor

RNG = np.random.default_rng(5)


def rand(*shape: int) -> np.ndarray:
    x = RNG.uniform(-2.0, 2.0, shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


X = rand(3, 4)

# name: (function of a Tensor, float64 NumPy reference of the array)
CASES = {
    "max all": (lambda t: t.max(), lambda x: np.max(x)),
    "max dim values": (lambda t: t.max(1).values, lambda x: np.max(x, 1)),
    "max dim keepdim": (lambda t: t.max(dim=0, keepdim=True)[0],
                        lambda x: np.max(x, 0, keepdims=True)),
    "min all": (lambda t: t.min(), lambda x: np.min(x)),
    "min dim values": (lambda t: t.min(-1).values, lambda x: np.min(x, -1)),
    "var all": (lambda t: t.var(), lambda x: np.var(x, ddof=1)),
    "var dim biased": (lambda t: t.var(1, unbiased=False), lambda x: np.var(x, 1)),
    "var correction keepdim": (lambda t: t.var(0, keepdim=True, correction=2),
                               lambda x: np.var(x, 0, ddof=2, keepdims=True)),
    "var axis keepdims": (lambda t: t.var(axis=1, keepdims=True),
                          lambda x: np.var(x, 1, ddof=1, keepdims=True)),
    "std all": (lambda t: t.std(), lambda x: np.std(x, ddof=1)),
    "std dim": (lambda t: t.std(dim=0), lambda x: np.std(x, 0, ddof=1)),
    "abs": (lambda t: t.abs(), np.abs),
    "norm 2": (lambda t: t.norm(), np.linalg.norm),
    "norm 1 dim": (lambda t: t.norm(1, dim=1), lambda x: np.abs(x).sum(1)),
    "norm 3": (lambda t: t.norm(p=3), lambda x: (np.abs(x) ** 3).sum() ** (1 / 3)),
    "norm inf": (lambda t: t.norm(float("inf"), 0), lambda x: np.abs(x).max(0)),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda x: x[:, None]),
    "unsqueeze -1": (lambda t: t.unsqueeze(-1), lambda x: x[..., None]),
    "squeeze": (lambda t: t.reshape(1, 3, 1, 4).squeeze(), lambda x: x),
    "squeeze dim": (lambda t: t.reshape(1, 3, 1, 4).squeeze(2), lambda x: x.reshape(1, 3, 4)),
    "squeeze non-1 dim": (lambda t: t.squeeze(0), lambda x: x),
    "view": (lambda t: t.view(4, 3), lambda x: x.reshape(4, 3)),
    "view -1": (lambda t: t.view(-1), lambda x: x.reshape(-1)),
    "flatten": (lambda t: t.reshape(2, 3, 2).flatten(), lambda x: x.reshape(-1)),
    "flatten range": (lambda t: t.reshape(2, 3, 2).flatten(0, 1), lambda x: x.reshape(6, 2)),
    "flatten start": (lambda t: t.reshape(2, 3, 2).flatten(1), lambda x: x.reshape(2, 6)),
    "clone": (lambda t: t.clone(), lambda x: x),
    "to float64": (lambda t: t.to(np.float64), lambda x: x),
    "cpu": (lambda t: t.cpu() * 1.0, lambda x: x),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_method_matches_numpy_and_gradcheck(name):
    fn, ref = CASES[name]
    out = fn(tensor(X, requires_grad=True))
    assert isinstance(out, Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, ref(X), rtol=1e-12, atol=1e-12)
    assert out.shape == np.shape(ref(X))
    assert gradcheck(fn, [X.copy()])


def test_max_min_with_dim_return_values_and_indices():
    t = tensor(np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]]), requires_grad=True)
    values, indices = t.max(1)
    np.testing.assert_array_equal(values.data, [5.0, 7.0])
    assert indices.dtype == np.int64 and indices.tolist() == [1, 0]  # the first on ties
    values.sum().backward()
    # with dim, the gradient goes to the chosen index only (as PyTorch)
    np.testing.assert_array_equal(t.grad, [[0, 1, 0], [1, 0, 0]])
    m = t.min(dim=0, keepdim=True)
    assert m.indices.tolist() == [[0, 1, 0]] and m.values.shape == (1, 3)
    full = tensor(np.array([2.0, 2.0, 1.0]), requires_grad=True)
    full.max().backward()  # without dim, tied maxima share the gradient
    np.testing.assert_array_equal(full.grad, [0.5, 0.5, 0.0])
    assert full.max().shape == ()


def test_argmax_argmin():
    x = np.array([[3.0, 1.0, 3.0], [0.0, 2.0, -1.0]])
    t = tensor(x)
    assert t.argmax().item() == int(np.argmax(x)) and t.argmax().dtype == np.int64
    assert t.argmax(dim=1).tolist() == np.argmax(x, 1).tolist()
    assert t.argmin(0, keepdim=True).tolist() == np.argmin(x, 0, keepdims=True).tolist()
    assert t.argmin(axis=1).tolist() == [1, 2]
    with pytest.raises(fg.ShapeError):
        tensor(np.zeros((0, 2))).argmax()


def test_size_dim_numel_tolist_item():
    t = tensor(np.zeros((2, 3, 4)))
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == 3 and t.numel() == 24
    with pytest.raises(fg.ShapeError):
        t.size(3)
    assert tensor(np.array([[1.0, 2.0]])).tolist() == [[1.0, 2.0]]
    assert tensor(np.array([2.5])).item() == 2.5
    with pytest.raises(fg.ShapeError):
        tensor(np.zeros(2)).item()


def test_to_and_cpu():
    t = tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert t.to("cpu") is t and t.cpu() is t and t.to(np.float32) is t
    d = t.to("cpu", np.float64)
    assert d.dtype == np.float64
    d.sum().backward()
    assert t.grad.dtype == np.float32 and t.grad.tolist() == [1.0, 1.0]
    with pytest.raises(fg.ArgumentError, match="only the 'cpu' device"):
        t.to("cuda")


def test_grad_fn_names_the_op():
    x = tensor(np.ones(2), requires_grad=True)
    assert x.grad_fn is None
    y = (x * 2).exp()
    assert y.grad_fn.op == "exp" and y.grad_fn.name() == "ExpBackward"
    assert tensor(np.ones(2)).exp().grad_fn is None


def test_second_backward_needs_retain_graph():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # the graph was kept: gradients accumulate
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    with pytest.raises(fg.GraphError, match="second time") as err:
        y.backward()
    assert isinstance(err.value, RuntimeError)


def test_torch_keywords_for_reductions():
    t = tensor(X)
    np.testing.assert_allclose(t.sum(dim=1, keepdim=True).data, X.sum(1, keepdims=True))
    np.testing.assert_allclose(t.mean(axis=0).data, X.mean(0))
    with pytest.raises(TypeError):
        t.sum(dim=0, axis=0)
