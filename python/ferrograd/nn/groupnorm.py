"""Group normalisation: each sample's channels split into groups, each group normalised by its
own mean and variance (over its channels and all spatial positions), then a per-channel
affine map. Computed by the layer-norm kernel on an (N, G, C / G * spatial) view.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> gn = nn.GroupNorm(2, 4)
>>> list(gn.state_dict()), gn(np.ones((3, 4, 5), dtype=np.float32)).shape
(['weight', 'bias'], (3, 4, 5))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..functional._norm import layer_norm
from ..tensor import Tensor, _to_array
from ._cast import cast_input
from .module import Module
from .parameter import Parameter

__all__ = ["GroupNorm"]


class GroupNorm(Module):
    """Group normalisation of (N, C, *) input, as ``torch.nn.GroupNorm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and biased variance
    of each sample's group of ``C / num_groups`` channels (over those channels and every
    spatial position), and ``weight`` / ``bias`` per channel. The same in training and eval
    mode (no running statistics).

    Parameters
    ----------
    num_groups : int
        Number of groups; must divide ``num_channels``.
    num_channels : int
        Number of channels C of the input.
    eps : float
        Added to the variance before the square root.
    affine : bool
        Learn a per-channel ``weight`` (ones) and ``bias`` (zeros) of shape (C,).
    dtype : np.float32 or np.float64, optional
        dtype of the parameters (default: :func:`ferrograd.get_default_dtype`).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> x = np.array([[[1.0], [3.0], [10.0], [30.0]]])        # (N=1, C=4, L=1)
    >>> nn.GroupNorm(2, 4, eps=0.0, dtype=np.float64)(x).data.ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
    ):
        super().__init__()
        name = "GroupNorm"
        self.num_groups = _check.positive(name, "num_groups", num_groups)
        self.num_channels = _check.positive(name, "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ArgumentError(
                f"{name}: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.eps = _check.real(name, "eps", eps, 0.0)
        self.affine = _check.flag(name, "affine", affine)
        dt = _check.param_dtype(name, dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=dt))
            self.bias = Parameter(np.zeros(self.num_channels, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0."""
        if self.affine:
            self.weight.data = np.ones_like(self.weight.data)
            self.bias.data = np.zeros_like(self.bias.data)

    def forward(self, input: Any) -> Any:
        name = "GroupNorm"
        if self.weight is not None:
            x = cast_input(name, input, self.weight.dtype)
        else:
            x = input if isinstance(input, Tensor) else _to_array(input, func=f"{name}: input")
        if x.dtype.kind != "f":
            raise DTypeError(f"{name}: input must be float32 or float64, got {x.dtype}")
        shape = tuple(x.shape)
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ShapeError(
                f"{name}: expected input of shape (N, {self.num_channels}, *), got {shape}"
            )
        n, g = shape[0], self.num_groups
        per_group = int(np.prod(shape[1:])) // g
        if per_group == 0:
            raise ShapeError(f"{name}: input of shape {shape} has no elements per group")
        y = layer_norm(x.reshape(n, g, per_group), (per_group,), None, None, self.eps)
        y = y.reshape(shape)
        if self.weight is None:
            return y
        per_channel = (1, self.num_channels) + (1,) * (len(shape) - 2)
        return y * self.weight.reshape(per_channel) + self.bias.reshape(per_channel)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
