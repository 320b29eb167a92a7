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
