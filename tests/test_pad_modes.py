"""F.pad's reflect, replicate and circular modes against np.pad (reflect, edge, wrap), with
their gradients against the adjoint of np.pad (tests/reference.py) and by finite differences.
"""

from __future__ import annotations

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd import gradcheck, tensor

RNG = np.random.default_rng(5)
NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

# (input shape, pad last axis first as PyTorch): 1, 2 and 3 padded axes, with and without a
# batch axis in front of the channels; every pad is below its axis size (reflect's limit).
SHAPES = [
    ((2, 5), (2, 3)),
    ((2, 3, 5), (1, 4)),
    ((3, 4, 5), (0, 2, 3, 1)),
    ((1, 2, 4, 5), (2, 1, 0, 3)),
    ((2, 3, 4, 3), (1, 2, 2, 2, 2, 1)),
    ((1, 1, 3, 4, 3), (2, 0, 1, 3, 0, 2)),
]


def _widths(shape: tuple[int, ...], pad: tuple[int, ...]) -> list[tuple[int, int]]:
    widths = [(0, 0)] * len(shape)
    for k in range(len(pad) // 2):
        widths[len(shape) - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return widths


@pytest.mark.parametrize("mode", list(NP_MODE))
@pytest.mark.parametrize("shape,pad", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pad_modes_match_numpy(mode, shape, pad, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    widths = _widths(shape, pad)
    out = F.pad(x, pad, mode=mode)
    assert out.dtype == dtype and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.pad(x, widths, mode=NP_MODE[mode]))
    g = RNG.standard_normal(out.shape)
    grad = F.pad_backward(g.astype(dtype), x, pad, mode=mode)
    assert grad.dtype == dtype and grad.shape == x.shape
    want = R.pad_grad_ref(g, shape, widths, NP_MODE[mode])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(grad, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("mode", list(NP_MODE))
@pytest.mark.parametrize("shape,pad", [((2, 3, 4), (3, 2)), ((1, 2, 3, 4), (3, 1, 2, 2))])
def test_pad_modes_gradcheck(mode, shape, pad):
    if mode == "reflect":
        pad = tuple(min(p, 2) for p in pad)  # below the axis sizes 3 and 4
    x = RNG.standard_normal(shape)
    assert gradcheck(lambda a: F.pad(a, pad, mode=mode), [x])
    # pads as large as the axis: each element copied twice over on a side
    if mode == "circular":
        assert gradcheck(lambda a: F.pad(a, (4, 4, 3, 0), mode=mode), [x])


def test_pad_modes_by_hand():
    x = np.array([[[1.0, 2.0, 3.0]]])
    assert F.pad(x, (2, 2), mode="reflect").tolist() == [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    assert F.pad(x, (2, 2), mode="replicate").tolist() == [[[1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0]]]
    assert F.pad(x, (3, 3), mode="circular").tolist() == [[[1, 2, 3, 1, 2, 3, 1, 2, 3]]]
    t = tensor(x, requires_grad=True)
    F.pad(t, (2, 0), mode="replicate").sum().backward()
    assert t.grad.tolist() == [[[3.0, 1.0, 1.0]]]  # the edge and its two copies
    t.grad = None
    F.pad(t, (2, 1), mode="reflect").sum().backward()
    assert t.grad.tolist() == [[[1.0, 3.0, 2.0]]]


def test_pad_modes_reject_what_pytorch_rejects():
    x = np.zeros((1, 2, 3))
    with pytest.raises(fg.ArgumentError, match=r"reflect.*less than the axis size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(fg.ArgumentError, match=r"circular.*at most the axis size 3"):
        F.pad(x, (0, 4), mode="circular")
    with pytest.raises(fg.ArgumentError, match="non-negative padding"):
        F.pad(x, (-1, 1), mode="replicate")
    with pytest.raises(fg.ShapeError, match="last 1, 2 or 3 axes"):
        F.pad(np.zeros(3), (1, 1), mode="replicate")  # needs a channel axis in front
    with pytest.raises(fg.ShapeError, match="last 1, 2 or 3 axes"):
        F.pad(np.zeros((2, 2, 2, 2, 2)), (1, 1), mode="circular")  # 5-d input, one axis
    with pytest.raises(fg.ShapeError, match="empty axis"):
        F.pad(np.zeros((2, 0)), (1, 1), mode="replicate")
    with pytest.raises(fg.ArgumentError, match="takes no fill value"):
        F.pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(fg.ShapeError, match="grad_output has shape"):
        F.pad_backward(np.zeros((1, 2, 4)), x, (1, 1), mode="reflect")
