"""Sequential slicing, ModuleDict and ParameterList: PyTorch's names, sharing and errors."""

from __future__ import annotations

from collections import OrderedDict

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim

RNG = np.random.default_rng(0)


def test_sequential_slice_shares_modules_and_keeps_names():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 4), nn.ReLU()).double()
    part = model[1:3]
    assert isinstance(part, nn.Sequential)
    assert list(part.state_dict()) == ["2.weight", "2.bias"]
    assert part[1] is model[2] and part[0] is model[1]
    assert model[-1] is model[3]
    x = RNG.standard_normal((5, 3))
    w, b = model[2].weight.data, model[2].bias.data
    np.testing.assert_allclose(part(x).data, np.tanh(x) @ w.T + b, rtol=1e-12)
    # the same objects: training the slice trains the model
    model[2].weight.data = np.zeros_like(w)
    assert np.all(part[1].weight.data == 0)
    assert len(model[::2]) == 2 and list(model[::2]._modules) == ["0", "2"]
    named = nn.Sequential(OrderedDict(a=nn.Linear(2, 2), b=nn.ReLU(), c=nn.Linear(2, 1)))
    assert list(named[1:]._modules) == ["b", "c"]
    with pytest.raises(IndexError, match="out of range"):
        model[4]
    with pytest.raises(TypeError, match="indices must be ints"):
        model["0"]


def test_module_dict_registers_and_round_trips():
    fg.manual_seed(1)
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    assert list(heads) == ["cls", "box"] and len(heads) == 2 and "box" in heads
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias", "box.weight", "box.bias"]
    heads["extra"] = nn.Linear(4, 1)
    heads.update([("more", nn.Identity())])
    assert list(heads.keys()) == ["cls", "box", "extra", "more"]
    assert [type(m).__name__ for m in heads.values()] == ["Linear"] * 3 + ["Identity"]
    assert heads.pop("extra").out_features == 1 and "extra" not in heads
    del heads["more"]
    assert len(list(heads.parameters())) == 4
    other = nn.ModuleDict([("cls", nn.Linear(4, 3)), ("box", nn.Linear(4, 2))])
    other.load_state_dict(heads.state_dict())
    for k, v in heads.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    # the optimizer reaches the registered parameters
    opt = optim.SGD(heads.parameters(), lr=0.5)
    x = fg.tensor(np.ones((2, 4), np.float32))
    loss = heads["cls"](x).sum() + heads["box"](x).sum()
    loss.backward()
    before = heads["box"].bias.data.copy()
    opt.step()
    np.testing.assert_allclose(heads["box"].bias.data, before - 0.5 * 2.0, rtol=1e-6)
    copy = nn.ModuleDict(heads)  # from another ModuleDict: the same modules
    assert list(copy) == ["cls", "box"] and copy["cls"] is heads["cls"]
    heads.clear()
    assert len(heads) == 0 and list(heads.state_dict()) == []


def test_module_dict_errors():
    d = nn.ModuleDict()
    with pytest.raises(fg.DTypeError, match="keys must be strings"):
        d[1] = nn.ReLU()
    with pytest.raises(fg.ArgumentError, match=r"without '\.'"):
        d["a.b"] = nn.ReLU()
    with pytest.raises(fg.DTypeError, match="must be a Module"):
        d["a"] = 3
    with pytest.raises(fg.DTypeError, match="mapping or an iterable"):
        nn.ModuleDict(nn.ReLU())
    with pytest.raises(fg.DTypeError, match=r"\(name, module\) pair"):
        nn.ModuleDict([nn.ReLU()])
    with pytest.raises(KeyError):
        d["missing"]


def test_parameter_list_names_gradients_and_state():
    a = nn.Parameter(RNG.standard_normal(3))
    plist = nn.ParameterList([a, fg.tensor(RNG.standard_normal(3))])
    plist.append(RNG.standard_normal(3))
    plist += [np.ones(3)]
    assert len(plist) == 4 and plist[0] is a and plist[-1] is plist[3]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in plist)
    assert list(plist.state_dict()) == ["0", "1", "2", "3"]
    sliced = plist[1:3]
    assert isinstance(sliced, nn.ParameterList) and sliced[0] is plist[1]

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([np.full(3, 2.0), np.full(3, 3.0)])

        def forward(self, x):
            for s in self.scales:
                x = x * s
            return x

    net = Scaled()
    assert [n for n, _ in net.named_parameters()] == ["scales.0", "scales.1"]
    x = RNG.standard_normal(3)
    net(fg.tensor(x)).sum().backward()
    np.testing.assert_allclose(net.scales[0].grad, 3.0 * x, rtol=1e-12)
    np.testing.assert_allclose(net.scales[1].grad, 2.0 * x, rtol=1e-12)
    assert fg.gradcheck(lambda s0, s1: fg.tensor(x) * s0 * s1, [net.scales[0], net.scales[1]])
    fresh = Scaled()
    fresh.load_state_dict({"scales.0": np.ones(3), "scales.1": np.arange(3.0)})
    np.testing.assert_array_equal(fresh.scales[1].data, np.arange(3.0))
    plist[1] = np.zeros(3)
    assert np.all(plist[1].data == 0) and isinstance(plist[1], nn.Parameter)


def test_parameter_list_errors():
    plist = nn.ParameterList()
    with pytest.raises(fg.DTypeError, match="Parameters, Tensors or float arrays"):
        plist.append("w")
    with pytest.raises(fg.DTypeError, match="Parameters, Tensors or float arrays"):
        plist.append(np.arange(3))
    with pytest.raises(fg.DTypeError, match="iterable of parameters"):
        plist.extend(np.ones(3))
    with pytest.raises(IndexError, match="out of range"):
        plist[0]
    with pytest.raises(fg.DTypeError, match="indices must be ints"):
        plist[0.0]
