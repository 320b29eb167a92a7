"""nn.RNNCell, nn.LSTMCell and nn.GRUCell: PyTorch's names, shapes and gate orders; one step
against a float64 NumPy reference and against one step of nn.RNN/LSTM/GRU with the same
weights; gradients by finite differences; unbatched input; errors."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn
from ferrograd.nn import rnn as rnn_module
from helpers import assert_close
from reference import gru_cell_ref, lstm_cell_ref

RNG = np.random.default_rng(11)
IN, HID, N = 3, 4, 5
F32 = np.float32


@pytest.fixture(params=[True, False], ids=["fused", "stepwise"])
def kernel_path(request, monkeypatch):
    """Both recurrence paths: the fused Rust kernel and the step-by-step one."""
    if not request.param:
        monkeypatch.setattr(rnn_module, "_FUSED", False)
    return request.param


def _cell(cls, dtype=np.float64, bias=True, **kw):
    fg.manual_seed(0)
    return cls(IN, HID, bias=bias, dtype=dtype, **kw)


def _b(cell, name):
    p = getattr(cell, name)
    return None if p is None else p.data


def test_names_shapes_and_init():
    for cls, gates in ((nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)):
        cell = cls(IN, HID)
        shapes = {k: v.shape for k, v in cell.state_dict().items()}
        assert shapes == {
            "weight_ih": (gates * HID, IN),
            "weight_hh": (gates * HID, HID),
            "bias_ih": (gates * HID,),
            "bias_hh": (gates * HID,),
        }
        assert all(np.all(np.abs(v) <= 1 / np.sqrt(HID)) for v in cell.state_dict().values())
        assert list(cls(IN, HID, bias=False).state_dict()) == ["weight_ih", "weight_hh"]
        assert cell.weight_ih.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_matches_the_reference(kernel_path, dtype, bias):
    cell = _cell(nn.LSTMCell, dtype, bias)
    x = RNG.standard_normal((N, IN)).astype(dtype)
    h0 = RNG.standard_normal((N, HID)).astype(dtype)
    c0 = RNG.standard_normal((N, HID)).astype(dtype)
    w = [_b(cell, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    h_want, c_want = lstm_cell_ref(x, h0, c0, *w)
    h, c = cell(x, (h0, c0))
    assert_close(h.data, h_want, dtype, reduce_len=IN + HID)
    assert_close(c.data, c_want, dtype, reduce_len=IN + HID)
    # zeros when hx is omitted; unbatched input gives unbatched states
    h_z, c_z = cell(x)
    want_z = lstm_cell_ref(x, np.zeros_like(h0), np.zeros_like(c0), *w)
    assert_close(h_z.data, want_z[0], dtype, reduce_len=IN + HID)
    assert_close(c_z.data, want_z[1], dtype, reduce_len=IN + HID)
    h1, c1 = cell(x[2], (h0[2], c0[2]))
    assert h1.shape == (HID,) and c1.shape == (HID,)
    assert_close(h1.data, h_want[2], dtype, reduce_len=IN + HID)
    assert_close(c1.data, c_want[2], dtype, reduce_len=IN + HID)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_matches_the_reference(kernel_path, dtype, bias):
    cell = _cell(nn.GRUCell, dtype, bias)
    x = RNG.standard_normal((N, IN)).astype(dtype)
    h0 = RNG.standard_normal((N, HID)).astype(dtype)
    w = [_b(cell, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    want = gru_cell_ref(x, h0, *w)
    assert_close(cell(x, h0).data, want, dtype, reduce_len=IN + HID)
    assert_close(cell(x).data, gru_cell_ref(x, np.zeros_like(h0), *w), dtype, reduce_len=IN + HID)
    one = cell(x[0], h0[0])
    assert one.shape == (HID,)
    assert_close(one.data, want[0], dtype, reduce_len=IN + HID)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_the_reference(kernel_path, nonlinearity):
    cell = _cell(nn.RNNCell, nonlinearity=nonlinearity)
    x, h0 = RNG.standard_normal((N, IN)), RNG.standard_normal((N, HID))
    pre = x @ cell.weight_ih.data.T + cell.bias_ih.data + h0 @ cell.weight_hh.data.T
    pre = pre + cell.bias_hh.data
    want = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)
    np.testing.assert_allclose(cell(x, h0).data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("cell_cls", "seq_cls"), [(nn.LSTMCell, nn.LSTM), (nn.GRUCell, nn.GRU)])
def test_a_cell_equals_one_step_of_the_sequence_layer(cell_cls, seq_cls):
    cell = _cell(cell_cls)
    seq = seq_cls(IN, HID, dtype=np.float64)
    seq.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = RNG.standard_normal((N, IN))
    h0 = RNG.standard_normal((N, HID))
    xc, xs = fg.tensor(x, requires_grad=True), fg.tensor(x[None], requires_grad=True)
    if cell_cls is nn.LSTMCell:
        c0 = RNG.standard_normal((N, HID))
        h, c = cell(xc, (h0, c0))
        _, (h_n, c_n) = seq(xs, (h0[None], c0[None]))
        np.testing.assert_allclose(c.data, c_n.data[0], rtol=1e-14, atol=1e-15)
        (h.sum() + (c * c).sum()).backward()
        (h_n.sum() + (c_n * c_n).sum()).backward()
    else:
        h = cell(xc, h0)
        _, h_n = seq(xs, h0[None])
        (h * h).sum().backward()
        (h_n * h_n).sum().backward()
    np.testing.assert_allclose(h.data, h_n.data[0], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(xc.grad, xs.grad[0], rtol=1e-12, atol=1e-14)
    for name, p in cell.named_parameters():
        q = getattr(seq, f"{name}_l0")
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_by_finite_differences(kernel_path, cls, bias):
    cell = _cell(cls, bias=bias)
    x = fg.tensor(RNG.standard_normal((N, IN)), requires_grad=True)
    h0 = fg.tensor(RNG.standard_normal((N, HID)), requires_grad=True)
    params = list(cell.parameters())
    if cls is nn.LSTMCell:
        c0 = fg.tensor(RNG.standard_normal((N, HID)), requires_grad=True)

        def fn(xi, hi, ci, *ps):
            h, c = cell(xi, (hi, ci))
            return h * 2.0 + c

        assert fg.gradcheck(fn, [x, h0, c0, *params])
        assert fg.gradcheck(lambda xi: cell(xi)[1], [fg.tensor(x.data[0], requires_grad=True)])
    else:
        assert fg.gradcheck(lambda xi, hi, *ps: cell(xi, hi), [x, h0, *params])
        assert fg.gradcheck(lambda xi: cell(xi), [fg.tensor(x.data[0], requires_grad=True)])


def test_unrolled_cell_trains_through_time():
    cell = _cell(nn.GRUCell)
    xs = fg.tensor(RNG.standard_normal((6, N, IN)), requires_grad=True)

    def unroll(x):
        h = None
        for t in range(x.shape[0]):
            h = cell(x[t], h)
        return h

    assert fg.gradcheck(unroll, [xs])
    seq = nn.GRU(IN, HID, dtype=np.float64)
    seq.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    np.testing.assert_allclose(unroll(xs).data, seq(xs)[1].data[0], rtol=1e-12, atol=1e-13)


def test_errors_and_repr():
    with pytest.raises(fg.ArgumentError, match="hidden_size must be a positive int"):
        nn.LSTMCell(3, 0)
    with pytest.raises(fg.DTypeError, match="input_size must be an int"):
        nn.GRUCell(3.0, 2)
    with pytest.raises(fg.DTypeError, match="bias must be True or False"):
        nn.GRUCell(3, 2, bias=1)
    with pytest.raises(fg.ArgumentError, match="nonlinearity must be one of"):
        nn.RNNCell(3, 2, nonlinearity="gelu")
    cell = nn.LSTMCell(3, 2)
    with pytest.raises(fg.ShapeError, match="Expected input to be 1D or 2D, got 3D input"):
        cell(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(fg.ShapeError, match="input_size=3"):
        cell(np.zeros((2, 4), np.float32))
    with pytest.raises(fg.ShapeError, match="hx must be a tuple"):
        cell(np.zeros((2, 3), np.float32), np.zeros((2, 2), np.float32))
    with pytest.raises(fg.ShapeError, match=r"hx\[1\] has shape \(3, 2\), expected \(2, 2\)"):
        cell(
            np.zeros((2, 3), np.float32),
            (np.zeros((2, 2), np.float32), np.zeros((3, 2), np.float32)),
        )
    with pytest.raises(fg.ShapeError, match=r"expected \(2,\)"):
        nn.GRUCell(3, 2)(np.zeros(3, np.float32), np.zeros((1, 2), np.float32))
    assert repr(nn.GRUCell(3, 2, bias=False)) == "GRUCell(3, 2, bias=False)"
    assert repr(nn.RNNCell(3, 2, nonlinearity="relu")) == "RNNCell(3, 2, nonlinearity='relu')"
