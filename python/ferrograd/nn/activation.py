"""Activation layers: each calls its ``ferrograd.functional`` counterpart."""

from __future__ import annotations

from ._wrappers import functional_module

ReLU = functional_module("ReLU", "relu", {}, "max(0, x).")
LeakyReLU = functional_module(
    "LeakyReLU",
    "leaky_relu",
    {"negative_slope": 0.01},
    "x for x >= 0, negative_slope * x otherwise.",
    ("negative_slope",),
)
Sigmoid = functional_module("Sigmoid", "sigmoid", {}, "1 / (1 + exp(-x)).")
Tanh = functional_module("Tanh", "tanh", {}, "Hyperbolic tangent.")
GELU = functional_module(
    "GELU",
    "gelu",
    {"approximate": "none"},
    "Gaussian error linear unit (exact or 'tanh').",
    ("approximate",),
)
ELU = functional_module("ELU", "elu", {"alpha": 1.0}, "Exponential linear unit.", ("alpha",))
SiLU = functional_module("SiLU", "silu", {}, "x * sigmoid(x).")
Softplus = functional_module(
    "Softplus",
    "softplus",
    {"beta": 1.0, "threshold": 20.0},
    "log(1 + exp(beta x)) / beta, linear above the threshold.",
    ("beta", "threshold"),
)
Softmax = functional_module("Softmax", "softmax", {"dim": -1}, "Softmax along dim.", ("dim",))
LogSoftmax = functional_module(
    "LogSoftmax", "log_softmax", {"dim": -1}, "Log-softmax along dim.", ("dim",)
)

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]
