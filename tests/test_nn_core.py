"""Module bookkeeping, Linear, containers, dropout, freezing and checkpoints."""

from __future__ import annotations

import math
import os
import warnings

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
import pytest
from ferrograd import nn, tensor


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(F.relu(self.backbone(x)))


def test_names_and_layouts_match_pytorch():
    sd = Net().state_dict()
    assert list(sd) == [
        "backbone.0.weight",
        "backbone.0.bias",
        "backbone.2.weight",
        "backbone.2.bias",
        "head.weight",
        "head.bias",
    ]
    assert sd["backbone.0.weight"].shape == (8, 4)
    assert sd["head.bias"].shape == (3,)
    assert all(v.dtype == np.float32 for v in sd.values())


def test_linear_forward_and_init_bounds():
    fg.manual_seed(0)
    layer = nn.Linear(50, 20)
    bound = 1 / math.sqrt(50)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound  # really uniform over the range
    x = np.random.default_rng(0).standard_normal((5, 50)).astype(np.float32)
    want = x.astype(np.float64) @ layer.weight.data.T.astype(np.float64) + layer.bias.data
    np.testing.assert_allclose(layer(tensor(x)).data, want, rtol=1e-5, atol=1e-5)


def test_manual_seed_makes_init_repeatable():
    fg.manual_seed(7)
    a = Net().state_dict()
    fg.manual_seed(7)
    b = Net().state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_parameters_train_eval_zero_grad():
    net = Net()
    assert len(list(net.parameters())) == 6
    assert len(list(net.children())) == 2
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(tensor(np.ones((2, 4), np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_freezing_a_backbone_trains_only_the_head():
    net = Net()
    net.backbone.requires_grad_(False)
    net(tensor(np.ones((2, 4), np.float32))).sum().backward()
    assert all(p.grad is None for p in net.backbone.parameters())
    assert all(p.grad is not None for p in net.head.parameters())


def test_dropout_is_seeded_scaled_and_off_in_eval():
    drop = nn.Dropout(0.25)
    x = tensor(np.ones((200, 50), np.float32), requires_grad=True)
    fg.manual_seed(3)
    y1 = drop(x).data
    fg.manual_seed(3)
    y2 = drop(x).data
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y1 == 0).mean() - 0.25) < 0.02
    drop(x).sum().backward()
    assert set(np.unique(x.grad)) <= {0.0, np.float32(1 / 0.75)}
    drop.eval()
    assert drop(x) is x


def test_save_then_load_reproduces_outputs_exactly(tmp_path):
    fg.manual_seed(1)
    net = Net()
    path = tmp_path / "net.safetensors"
    net.save(path)
    fg.manual_seed(2)
    other = Net()
    x = tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    assert not np.array_equal(other(x).data, net(x).data)
    other.load(path)
    np.testing.assert_array_equal(other(x).data, net(x).data)
    assert [p for p in os.listdir(tmp_path)] == ["net.safetensors"]  # no temp files left


def test_loading_into_a_mismatched_model_names_the_mismatch(tmp_path):
    path = tmp_path / "net.safetensors"
    Net().save(path)
    bigger = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(fg.ShapeError) as e:
        bigger.load(path)
    msg = str(e.value)
    assert "missing keys: 0.weight, 0.bias" in msg
    assert "unexpected keys: backbone.0.weight" in msg

    class Wide(Net):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(8, 5)

    with pytest.raises(fg.ShapeError, match=r"size mismatch for head.weight: .*\(3, 8\).*\(5, 8\)"):
        Wide().load(path)
    result = bigger.load_state_dict(fg.load(path), strict=False)
    assert result.missing_keys == ["0.weight", "0.bias"]


def test_failed_load_changes_nothing(tmp_path):
    net = Net()
    before = net.state_dict()
    bad = dict(before)
    bad["head.weight"] = np.zeros((9, 9), np.float32)
    bad["backbone.0.weight"] = np.zeros((8, 4), np.float32)
    with pytest.raises(fg.ShapeError):
        net.load_state_dict(bad)
    np.testing.assert_array_equal(
        net.state_dict()["backbone.0.weight"], before["backbone.0.weight"]
    )


def test_truncated_or_corrupt_checkpoints_raise_clearly(tmp_path):
    path = tmp_path / "w.safetensors"
    fg.save({"w": np.arange(100.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(fg.CheckpointError, match="truncated or corrupt"):
        fg.load(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(fg.CheckpointError):
        fg.load(path)
    with pytest.raises(fg.CheckpointError, match="cannot read"):
        fg.load(tmp_path / "missing.safetensors")


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "w.safetensors"
    fg.save({"w": np.arange(3.0)}, path)
    with pytest.raises(fg.DTypeError):
        fg.save({"w": np.array([object()])}, path)
    np.testing.assert_array_equal(fg.load(path)["w"], np.arange(3.0))
    assert sorted(os.listdir(tmp_path)) == ["w.safetensors"]


def test_double_converts_parameters_and_gradcheck_passes_on_a_model():
    fg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = np.random.default_rng(0).standard_normal((5, 3))
    params = list(net.parameters())
    assert all(p.dtype == np.float64 for p in params)

    def fn(*ps):
        for p, v in zip(params, ps):
            p.data = v.data
        return net(tensor(x))

    # gradients flow to the model's own parameters, which gradcheck perturbs in place
    assert fg.gradcheck(lambda *ps: fn(*ps), params)


def test_sequential_indexing_and_repr():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(model[0], nn.Linear)
    assert len(model[1:]) == 2
    assert "Linear(in_features=2, out_features=3, bias=True)" in repr(model)
    with pytest.raises(TypeError):
        nn.LeakyReLU(0.1, 0.2)


def _fresh_cast_warnings() -> None:
    from ferrograd.nn import _cast

    _cast._warned.clear()


CAST_LAYERS = {
    "Linear": (lambda: nn.Linear(3, 2), (4, 3)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(3), (4, 3)),
    "RNN": (lambda: nn.RNN(3, 2), (5, 2, 3)),
    "LSTM": (lambda: nn.LSTM(3, 2), (5, 2, 3)),
    "GRU": (lambda: nn.GRU(3, 2), (5, 2, 3)),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(CAST_LAYERS))
def test_a_float64_batch_is_cast_to_a_float32_layer_with_one_warning(name):
    """The decision for a float64 (or integer) batch given to a float32 model: cast it to the
    parameters' dtype, warn once per layer class, and give Tensor inputs their gradient back
    in their own dtype."""
    make, shape = CAST_LAYERS[name]
    fg.manual_seed(0)
    layer = make()
    x64 = np.random.default_rng(0).standard_normal(shape)
    _fresh_cast_warnings()
    with pytest.warns(fg.DTypeCastWarning, match=rf"{name}: input of dtype float64 is cast"):
        y = _first(layer(x64))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, _first(layer(x64.astype(np.float32))).data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per class: no second warning
        _first(layer(x64))
    t = tensor(x64, requires_grad=True)
    _first(layer(t)).sum().backward()
    assert t.grad is not None and t.grad.dtype == np.float64
    t32 = tensor(x64.astype(np.float32), requires_grad=True)
    _first(layer(t32)).sum().backward()
    np.testing.assert_allclose(t.grad, t32.grad, rtol=1e-6)
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_integer_and_boolean_batches_are_cast_the_same_way():
    fg.manual_seed(0)
    layer = nn.Linear(3, 2)
    _fresh_cast_warnings()
    with pytest.warns(fg.DTypeCastWarning, match="dtype int64 is cast to the layer's float32"):
        y = layer(np.arange(6).reshape(2, 3))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(
        y.data, layer(np.arange(6.0, dtype=np.float32).reshape(2, 3)).data
    )
    assert layer(np.ones((2, 3), bool)).dtype == np.float32
    assert issubclass(fg.DTypeCastWarning, UserWarning)
    # a float64 model keeps float64 and needs no cast
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.Linear(3, 2).double()(np.ones((2, 3))).dtype == np.float64
