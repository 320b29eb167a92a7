"""nn activation layers: explicit classes with PyTorch's signatures, equal to their functionals."""

from __future__ import annotations

import inspect

import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd import ArgumentError, DTypeError, _check, nn

X = np.linspace(-3.0, 3.0, 12).reshape(3, 4)

LAYERS = [
    (nn.ReLU(), R.relu_ref(X)),
    (nn.LeakyReLU(0.2), R.leaky_relu_ref(X, 0.2)),
    (nn.Sigmoid(), R.sigmoid_ref(X)),
    (nn.Tanh(), R.tanh_ref(X)),
    (nn.GELU("tanh"), R.gelu_ref(X, "tanh")),
    (nn.ELU(alpha=0.5), R.elu_ref(X, 0.5)),
    (nn.SiLU(), R.silu_ref(X)),
    (nn.Softplus(beta=2.0, threshold=4.0), R.softplus_ref(X, 2.0, 4.0)),
    (nn.Softmax(dim=0), R.softmax_dim_ref(X, 0)),
    (nn.LogSoftmax(1), R.log_softmax_dim_ref(X, 1)),
]


@pytest.mark.parametrize("layer,expected", LAYERS, ids=[type(m).__name__ for m, _ in LAYERS])
def test_layer_matches_the_reference(layer, expected):
    np.testing.assert_allclose(layer(X), expected, rtol=1e-12, atol=1e-12)


def test_signatures_and_docstrings_are_those_of_the_classes():
    assert list(inspect.signature(nn.LeakyReLU).parameters) == ["negative_slope"]
    assert inspect.signature(nn.Softplus).parameters["threshold"].default == 20.0
    assert list(inspect.signature(nn.Softmax).parameters) == ["dim"]
    assert list(inspect.signature(nn.ReLU).parameters) == []
    for cls in (nn.ReLU, nn.GELU, nn.ELU, nn.Softmax):
        assert cls.__doc__ and ">>>" in cls.__doc__
        assert cls.__module__ == "ferrograd.nn"
    assert nn.LeakyReLU(0.3).negative_slope == 0.3
    assert repr(nn.ELU(alpha=0.5)) == "ELU(alpha=0.5)"
    with pytest.raises(TypeError):
        nn.ReLU(1.0)
    with pytest.raises(ArgumentError, match="beta must be non-zero"):
        nn.Softplus(beta=0)


def test_shared_validators():
    assert _check.number("f", "x", np.array(2)) == 2.0
    assert _check.number("f", "x", float("inf")) == float("inf")
    with pytest.raises(DTypeError, match="f: x must be a real number"):
        _check.number("f", "x", True)
    with pytest.raises(ArgumentError, match="reduction must be 'none', 'mean' or 'sum'"):
        _check.reduction("f", "avg")
    with pytest.raises(ArgumentError, match=r"reduction must be .*'batchmean', got 'x'"):
        F.kl_div(np.zeros(2), np.zeros(2), reduction="x")
