"""nn.GroupNorm against a float64 NumPy reference, gradients by finite differences, the
state dict, and argument errors."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn
from helpers import assert_close
from reference import group_norm_ref

RNG = np.random.default_rng(7)

CASES = [((4, 6, 5, 3), 3), ((2, 4, 7), 2), ((3, 6), 6), ((3, 6), 1), ((2, 8, 2, 2, 2), 4)]


def _layer(groups, channels, dtype, affine=True):
    gn = nn.GroupNorm(groups, channels, eps=1e-3, affine=affine, dtype=dtype)
    if affine:
        gn.weight.data = RNG.uniform(0.5, 2.0, channels).astype(dtype)
        gn.bias.data = RNG.standard_normal(channels).astype(dtype)
    return gn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(("shape", "groups"), CASES)
def test_forward_matches_the_reference(shape, groups, affine, dtype):
    gn = _layer(groups, shape[1], dtype, affine)
    x = (RNG.standard_normal(shape) * 3 + 1).astype(dtype)
    y = gn(fg.tensor(x))
    want = group_norm_ref(x, groups, gn.weight, gn.bias, eps=1e-3) if affine else None
    if not affine:
        want = group_norm_ref(x, groups, eps=1e-3)
    per = int(np.prod(shape[1:])) // groups
    assert_close(y.data, want, dtype, reduce_len=per, atol=1e-4 if dtype == np.float32 else None)


@pytest.mark.parametrize(("shape", "groups"), CASES)
def test_gradients_by_finite_differences(shape, groups):
    gn = _layer(groups, shape[1], np.float64)
    x = fg.tensor(RNG.standard_normal(shape), requires_grad=True)
    assert fg.gradcheck(lambda xi, w, b: gn(xi), [x, gn.weight, gn.bias])
    plain = _layer(groups, shape[1], np.float64, affine=False)
    assert fg.gradcheck(plain, [x])


def test_defaults_state_dict_and_eval_mode():
    gn = nn.GroupNorm(2, 4)
    assert gn.weight.dtype == np.float32 and gn.eps == 1e-5
    np.testing.assert_array_equal(gn.weight.data, np.ones(4))
    np.testing.assert_array_equal(gn.bias.data, np.zeros(4))
    assert list(gn.state_dict()) == ["weight", "bias"]
    assert list(nn.GroupNorm(2, 4, affine=False).state_dict()) == []
    src = _layer(2, 4, np.float32)
    gn.load_state_dict(src.state_dict())
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    want = group_norm_ref(x, 2, src.weight, src.bias)
    np.testing.assert_allclose(gn(x).data, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(gn.eval()(x).data, gn.train()(x).data)  # no running stats
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True)"


def test_errors():
    with pytest.raises(fg.ArgumentError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(fg.ArgumentError, match="num_groups must be a positive int"):
        nn.GroupNorm(0, 4)
    with pytest.raises(fg.DTypeError, match="num_channels must be an int"):
        nn.GroupNorm(2, 4.0)
    with pytest.raises(fg.ArgumentError, match="eps must be at least 0"):
        nn.GroupNorm(2, 4, eps=-1.0)
    with pytest.raises(fg.DTypeError, match="affine must be True or False"):
        nn.GroupNorm(2, 4, affine="yes")
    gn = nn.GroupNorm(2, 4)
    with pytest.raises(fg.ShapeError, match=r"expected input of shape \(N, 4, \*\)"):
        gn(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(fg.ShapeError, match="expected input of shape"):
        gn(np.zeros(4, np.float32))
