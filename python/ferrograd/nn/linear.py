"""Fully connected layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _check, _eager
from .. import tensor as T
from ..tensor import Tensor
from . import init
from ._cast import cast_input
from .module import Module
from .parameter import Parameter


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """``y = x @ weight.T + bias``, with ``weight`` of shape (out_features, in_features).

    Initialised as PyTorch does: weight and bias from U(-1/sqrt(in), 1/sqrt(in)).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, tensor
    >>> layer = nn.Linear(3, 2)
    >>> layer(tensor(np.ones((4, 3), dtype=np.float32))).shape
    (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None):
        super().__init__()
        # As in PyTorch, 0 features is allowed (an empty weight, a zero bias).
        self.in_features = _check.count("Linear", "in_features", in_features)
        self.out_features = _check.count("Linear", "out_features", out_features)
        bias = _check.flag("Linear", "bias", bias)
        dt = _check.param_dtype("Linear", dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        if self.weight.data.size:  # PyTorch: initialising a zero-element tensor is a no-op
            init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            self.bias = Parameter(np.empty(self.out_features, dtype=dt))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        params = self._parameters  # read directly: Module.__getattr__ costs a lookup each
        weight, bias = params["weight"], params["bias"]
        out = _eager.linear(x, weight, bias)  # None when x needs a conversion or a cast
        if out is None:
            out = T.linear(cast_input("Linear", x, weight.data.dtype), weight, bias)
        return out

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
