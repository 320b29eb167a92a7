"""A layer given an ndarray returns the same kind of result in train and eval mode."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import Tensor, nn

X2 = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
X4 = np.random.default_rng(1).normal(size=(2, 3, 6, 6)).astype(np.float32)
SEQ = np.random.default_rng(2).normal(size=(5, 2, 6)).astype(np.float32)

LAYERS = {
    "Linear": (lambda: nn.Linear(6, 3), X2),
    "Dropout": (lambda: nn.Dropout(0.5), X2),
    "Flatten": (lambda: nn.Flatten(), X4),
    "ReLU": (lambda: nn.ReLU(), X2),
    "Softmax": (lambda: nn.Softmax(dim=1), X2),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(6), X2),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), X4),
    "LayerNorm": (lambda: nn.LayerNorm(6), X2),
    "Conv2d": (lambda: nn.Conv2d(3, 2, 3), X4),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), X4),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), X4),
    "Embedding": (lambda: nn.Embedding(10, 4), np.array([[1, 2], [3, 9]])),
    "RNN": (lambda: nn.RNN(6, 4), SEQ),
    "LSTM": (lambda: nn.LSTM(6, 4), SEQ),
    "GRU": (lambda: nn.GRU(6, 4), SEQ),
    "Sequential": (lambda: nn.Sequential(nn.Linear(6, 5), nn.Dropout(0.3), nn.ReLU()), X2),
}


def _kinds(out):
    if isinstance(out, tuple):
        return tuple(_kinds(o) for o in out)
    return type(out)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_same_kind_of_result_in_train_and_eval(name):
    make, x = LAYERS[name]
    fg.manual_seed(0)
    layer = make()
    layer.train()
    train_out = layer(x.copy())
    layer.eval()
    eval_out = layer(x.copy())
    assert _kinds(train_out) == _kinds(eval_out), (
        f"{name}: {_kinds(train_out)} vs {_kinds(eval_out)}"
    )
    # and a Tensor in gives Tensors in both modes
    layer.train()
    t_out = layer(fg.tensor(x))
    first = t_out[0] if isinstance(t_out, tuple) else t_out
    assert isinstance(first, Tensor)


def test_dropout_on_an_array_gives_an_array_in_both_modes():
    d = nn.Dropout(0.5)
    assert isinstance(d(X2), np.ndarray)
    d.eval()
    assert isinstance(d(X2), np.ndarray)
