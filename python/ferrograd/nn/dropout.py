"""Dropout and shape layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check
from .. import functional as F
from ..exceptions import DTypeError, FerrogradError
from ..tensor import Tensor, _to_array
from .module import Module


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training and scales the rest by 1/(1-p).

    The mask comes from the generator :func:`ferrograd.manual_seed` seeds. In eval mode the
    layer is the identity.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check.probability("Dropout", "p", p)

    def forward(self, x: Any) -> Any:
        # An array gives an array in both modes, a Tensor a Tensor.
        if self.training and self.p > 0.0 and not isinstance(x, Tensor):
            x = _to_array(x, func="Dropout: input")
            if x.dtype.kind != "f":
                raise DTypeError(
                    f"Dropout: input must hold floats in training, got dtype {x.dtype}"
                )
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Flattens axes ``start_dim`` to ``end_dim`` (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = _check.axis("Flatten", "start_dim", start_dim)
        self.end_dim = _check.axis("Flatten", "end_dim", end_dim)

    def forward(self, x: Any) -> Any:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        nd = x.ndim
        s, e = self.start_dim % nd if nd else 0, self.end_dim % nd if nd else 0
        if s > e:
            raise FerrogradError(f"Flatten: start_dim {self.start_dim} is after end_dim")
        shape = (*x.shape[:s], -1, *x.shape[e + 1 :])
        if x.numel() == 0:
            shape = (*x.shape[:s], int(np.prod(x.shape[s : e + 1])), *x.shape[e + 1 :])
        return x.reshape(shape)
