"""Module.to (dtype and device, PyTorch's argument forms), cpu/cuda, and the summary table
with its parameter counts."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim


def _net():
    fg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_to_dtype_converts_parameters_gradients_and_buffers_in_place():
    net = _net()
    params = list(net.parameters())
    values = [p.data.copy() for p in params]
    net(fg.tensor(np.ones((5, 3), np.float32))).sum().backward()
    opt = optim.SGD(net.parameters(), lr=0.1)
    assert net.to(np.float64) is net
    assert list(net.parameters()) == params  # the same objects: the optimizer still holds them
    for p, v in zip(params, values):
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, v)  # float32 -> float64 is exact
    bn = net[1]
    assert bn.running_mean.dtype == np.float64 and bn.running_var.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64  # integer buffers stay as they are
    before = params[0].data.copy()
    opt.step()
    np.testing.assert_allclose(params[0].data, before - 0.1 * params[0].grad, rtol=1e-15)
    assert net.float() is net and all(p.dtype == np.float32 for p in net.parameters())
    assert net.double() is net and all(p.dtype == np.float64 for p in net.parameters())


@pytest.mark.parametrize(
    ("args", "kwargs", "dtype"),
    [
        (("cpu",), {}, np.float32),
        (("cpu:0",), {}, np.float32),
        ((), {"device": "cpu"}, np.float32),
        (("cpu", np.float64), {}, np.float64),
        ((), {"device": "cpu", "dtype": np.float64}, np.float64),
        ((np.float64,), {"non_blocking": True}, np.float64),
        ((fg.tensor(np.zeros(1)),), {}, np.float64),  # to(tensor) takes its dtype
        ((None,), {}, np.float32),
        ((), {}, np.float32),
    ],
)
def test_to_argument_forms(args, kwargs, dtype):
    net = _net()
    assert net.to(*args, **kwargs) is net
    assert all(p.dtype == dtype for p in net.parameters())
    assert net.cpu() is net


def test_to_errors():
    net = _net()
    with pytest.raises(fg.ArgumentError, match="CPU only, so device must be 'cpu', got 'cuda'"):
        net.to("cuda")
    with pytest.raises(fg.ArgumentError, match="got 'mps'"):
        net.to(device="mps", dtype=np.float64)
    with pytest.raises(fg.DTypeError, match="dtype must be float32 or float64"):
        net.to(np.int32)
    with pytest.raises(fg.DTypeError, match="unexpected keyword argument 'copy'"):
        net.to(np.float64, copy=True)
    with pytest.raises(fg.DTypeError, match="device must be a string"):
        net.to(device=0)
    with pytest.raises(fg.ArgumentError, match="CPU only"):
        net.cuda()
    assert all(p.dtype == np.float32 for p in net.parameters())  # nothing changed


def test_summary_counts_shapes_and_leaves_the_model_as_it_was():
    net = _net()
    net[0].freeze()
    bn = net[1]
    stats = (bn.running_mean.copy(), bn.running_var.copy(), int(bn.num_batches_tracked))
    s = nn.utils.summary(net, input_shape=(6, 3))
    # Linear(3, 4): 12 + 4; BatchNorm1d(4): 4 + 4 (buffers are not parameters); Linear(4, 2)
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (34, 18, 16)
    assert [(r.name, r.type, r.params, r.trainable) for r in s.rows] == [
        ("", "Sequential", 0, 0),
        ("0", "Linear", 16, 0),
        ("1", "BatchNorm1d", 8, 8),
        ("2", "ReLU", 0, 0),
        ("3", "Linear", 10, 10),
    ]
    assert [r.output_shape for r in s.rows] == [(6, 2), (6, 4), (6, 4), (6, 4), (6, 2)]
    np.testing.assert_array_equal(bn.running_mean, stats[0])
    np.testing.assert_array_equal(bn.running_var, stats[1])
    assert int(bn.num_batches_tracked) == stats[2]
    assert all(m.training for m in net.modules())
    assert all("forward" not in vars(m) for m in net.modules())
    text = str(s)
    assert "Total params: 34" in text and "Trainable params: 18" in text
    assert "Non-trainable params: 16" in text
    assert "  1 (BatchNorm1d)" in text and "(6, 4)" in text
    # without an input shape: counts only
    bare = nn.utils.summary(net)
    assert bare.total_params == 34 and all(r.output_shape is None for r in bare.rows)
    assert "-" in str(bare).splitlines()[2]


def test_summary_of_nested_shared_and_multi_output_models(capsys):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.rnn = nn.GRU(4, 3, batch_first=True)
            self.head = nn.Linear(3, 10, bias=False)
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])
            self.blocks[1].weight = self.blocks[0].weight  # shared: counted once

        def forward(self, idx):
            out, _ = self.rnn(self.emb(idx))
            for b in self.blocks:
                out = b(out)
            return self.head(out)

    model = Tied()
    returned = model.summary(input_shape=(2, 7), dtype=np.int64)
    printed = capsys.readouterr().out
    assert printed.strip() == str(returned)
    gru = 9 * 4 + 9 * 3 + 9 + 9  # weight_ih, weight_hh, bias_ih, bias_hh with 3 gates
    expected = 10 * 4 + gru + 30 + (9 + 3) + 3  # embedding, GRU, head, blocks (one weight)
    assert returned.total_params == expected == sum(p.numel() for p in model.parameters())
    shapes = {r.name: r.output_shape for r in returned.rows}
    assert shapes["emb"] == (2, 7, 4)
    assert shapes["rnn"] == [(2, 7, 3), (1, 2, 3)]
    assert shapes["head"] == (2, 7, 10)
    assert "[(2, 7, 3), (1, 2, 3)]" in printed
    assert "    blocks.0 (Linear)" in printed  # dotted names, as in the state dict


def test_summary_of_a_model_that_reuses_a_layer():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    s = nn.utils.summary(model, input_shape=(2, 3))
    assert s.total_params == 12
    assert [r.params for r in s.rows] == [0, 12, 0, 0]  # the column sums to the total
    assert [r.output_shape for r in s.rows] == [(2, 3), (2, 3), (2, 3), (2, 3)]
    assert all("forward" not in vars(m) for m in model.modules())


def test_summary_errors():
    with pytest.raises(fg.DTypeError, match="model must be a Module"):
        nn.utils.summary("net")
    with pytest.raises(fg.DTypeError, match="input_shape"):
        nn.utils.summary(_net(), input_shape="6, 3")
    with pytest.raises(fg.ArgumentError, match=r"input_shape\[1\] must be a non-negative"):
        nn.utils.summary(_net(), input_shape=(6, -3))
    with pytest.raises(fg.ShapeError):
        nn.utils.summary(_net(), input_shape=(6, 5))  # the model's own error
    net = _net()
    with pytest.raises(fg.ShapeError):
        nn.utils.summary(net, input_shape=(6, 5))
    assert all("forward" not in vars(m) for m in net.modules())  # restored after a failure
