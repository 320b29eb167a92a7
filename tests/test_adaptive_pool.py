"""nn.AdaptiveAvgPool2d: PyTorch's bin rule (sizes that do not divide, larger outputs, None
entries), both float dtypes, gradients by finite differences, errors."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn
from helpers import assert_close
from reference import adaptive_avg_pool2d_ref

RNG = np.random.default_rng(5)

CASES = [
    ((2, 3, 7, 5), (3, 2), (3, 2)),
    ((2, 3, 8, 8), 4, (4, 4)),
    ((1, 2, 5, 6), 1, (1, 1)),
    ((1, 1, 3, 4), (5, 7), (5, 7)),  # larger than the input: bins repeat
    ((2, 2, 6, 5), (None, 3), (6, 3)),
    ((2, 2, 6, 5), (4, None), (4, 5)),
    ((3, 10, 9), (4, 4), (4, 4)),  # unbatched
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "size", "out_hw"), CASES)
def test_forward_matches_the_bin_rule(shape, size, out_hw, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    y = nn.AdaptiveAvgPool2d(size)(x)
    assert isinstance(y, np.ndarray)
    assert y.shape == (*shape[:-2], *out_hw)
    assert_close(y, adaptive_avg_pool2d_ref(x, out_hw), dtype, reduce_len=max(shape[-2:]))
    t = nn.AdaptiveAvgPool2d(size)(fg.tensor(x))
    assert isinstance(t, fg.Tensor)
    np.testing.assert_array_equal(t.data, y)


@pytest.mark.parametrize(("shape", "size", "out_hw"), CASES)
def test_gradients_by_finite_differences(shape, size, out_hw):
    pool = nn.AdaptiveAvgPool2d(size)
    x = fg.tensor(RNG.standard_normal(shape), requires_grad=True)
    assert fg.gradcheck(pool, [x])


def test_gradient_of_global_pooling_is_uniform():
    x = fg.tensor(RNG.standard_normal((2, 3, 4, 5)), requires_grad=True)
    nn.AdaptiveAvgPool2d(1)(x).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3, 4, 5), 1 / 20), rtol=1e-12)


def test_errors_and_repr():
    with pytest.raises(fg.ArgumentError, match="output_size must be a positive int"):
        nn.AdaptiveAvgPool2d(0)
    with pytest.raises(fg.DTypeError, match="output_size must be an int"):
        nn.AdaptiveAvgPool2d(2.0)
    with pytest.raises(fg.ArgumentError, match="a pair of ints"):
        nn.AdaptiveAvgPool2d((1, 2, 3))
    with pytest.raises(fg.ArgumentError, match=r"output_size\[1\] must be a positive int"):
        nn.AdaptiveAvgPool2d((2, -1))
    pool = nn.AdaptiveAvgPool2d((2, None))
    assert repr(pool) == "AdaptiveAvgPool2d(output_size=(2, None))"
    with pytest.raises(fg.ShapeError, match=r"3D \(unbatched\) or 4D"):
        pool(np.zeros((4, 4)))
    with pytest.raises(fg.ShapeError, match="must be non-zero"):
        pool(np.zeros((1, 0, 4)))
    with pytest.raises(fg.DTypeError, match="float32 or float64"):
        pool(np.zeros((1, 4, 4), dtype=np.int64))
