"""nn.Conv1d: forward against a float64 loop reference, gradients by finite differences,
PyTorch's parameter layout, unbatched input and argument errors."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn
from reference import conv1d_ref

RNG = np.random.default_rng(3)

CASES = [
    # in, out, k, stride, padding, dilation, groups, bias, length
    (3, 4, 3, 1, 0, 1, 1, True, 9),
    (2, 6, 5, 2, 2, 1, 2, True, 11),
    (4, 4, 3, 1, 3, 2, 4, False, 7),
    (1, 2, 1, 3, 0, 1, 1, True, 10),
]


def _layer(cin, cout, k, s, p, d, g, bias):
    fg.manual_seed(0)
    return nn.Conv1d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias).double()


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_the_reference(case):
    cin, cout, k, s, p, d, g, bias, length = case
    conv = _layer(cin, cout, k, s, p, d, g, bias)
    assert conv.weight.shape == (cout, cin // g, k)
    x = RNG.standard_normal((3, cin, length))
    b = None if conv.bias is None else conv.bias.data
    want = conv1d_ref(x, conv.weight.data, b, s, p, d, g)
    got = conv(x)
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
    # unbatched (C, L) gives (C_out, L_out)
    np.testing.assert_allclose(conv(x[1]).data, want[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES[:3])
def test_gradients_by_finite_differences(case):
    cin, cout, k, s, p, d, g, bias, length = case
    conv = _layer(cin, cout, k, s, p, d, g, bias)
    x = fg.tensor(RNG.standard_normal((2, cin, length)), requires_grad=True)
    params = list(conv.parameters())
    assert fg.gradcheck(lambda xi, *ps: conv(xi), [x, *params])


def test_float32_same_padding_and_state_dict():
    fg.manual_seed(1)
    conv = nn.Conv1d(2, 3, 4, padding="same", dilation=2)
    x = RNG.standard_normal((2, 2, 8)).astype(np.float32)
    y = conv(x)
    assert y.shape == (2, 3, 8) and y.dtype == np.float32
    # "same": total padding dilation * (k - 1) = 6, split 3 and 3
    want = conv1d_ref(x, conv.weight.data, conv.bias.data, 1, 3, 2)
    np.testing.assert_allclose(y.data, want, rtol=1e-5, atol=1e-5)
    assert list(conv.state_dict()) == ["weight", "bias"]
    other = nn.Conv1d(2, 3, 4, padding="same", dilation=2)
    other.load_state_dict(conv.state_dict())
    np.testing.assert_array_equal(other(x).data, y.data)
    bound = 1 / np.sqrt(2 * 4)
    assert np.all(np.abs(conv.weight.data) <= bound) and np.all(np.abs(conv.bias.data) <= bound)
    assert "Conv1d(2, 3, kernel_size=(4,), stride=(1,), padding='same'" in repr(conv)


def test_errors():
    with pytest.raises(fg.ArgumentError, match="in_channels must be a positive int"):
        nn.Conv1d(0, 2, 3)
    with pytest.raises(fg.ArgumentError, match="divisible by groups"):
        nn.Conv1d(3, 2, 3, groups=2)
    with pytest.raises(fg.DTypeError, match="kernel_size must be an int"):
        nn.Conv1d(1, 2, "3")
    with pytest.raises(fg.ArgumentError, match="1-tuple"):
        nn.Conv1d(1, 2, (3, 3))
    with pytest.raises(fg.ArgumentError, match="padding must be one of"):
        nn.Conv1d(1, 2, 3, padding="full")
    with pytest.raises(fg.ArgumentError, match="strided"):
        nn.Conv1d(1, 2, 3, stride=2, padding="same")
    conv = nn.Conv1d(2, 3, 3)
    with pytest.raises(fg.ShapeError, match=r"2D \(unbatched\) or 3D"):
        conv(np.zeros((1, 2, 1, 5), np.float32))
    with pytest.raises(fg.ShapeError, match="expected input with 2 channels"):
        conv(np.zeros((1, 3, 5), np.float32))
    with pytest.raises(fg.ShapeError):
        conv(np.zeros((1, 2, 2), np.float32))  # shorter than the kernel
