"""1-D convolution over (N, C, L) input, computed by the 2-D convolution kernels with a
height of one (input (N, C, 1, L), weight (out, in / groups, 1, k)).

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> conv = nn.Conv1d(2, 4, kernel_size=3, padding=1)
>>> conv.weight.shape, conv(np.zeros((5, 2, 10), dtype=np.float32)).shape
((4, 2, 3), (5, 4, 10))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _check
from .. import functional as F
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from . import init
from ._cast import cast_input
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d"]


def _single(func: str, name: str, value: Any, low: int) -> tuple[int]:
    """An int or a 1-tuple of an int (PyTorch's ``_single``), as a 1-tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ArgumentError(f"{func}: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return (_check.count(func, name, value, low),)


class Conv1d(Module):
    """1-D convolution layer: ``y = conv1d(x, weight) + bias`` over (N, C_in, L) input.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output; both divisible by ``groups``.
    kernel_size : int or (int,)
        Length of the kernel.
    stride, dilation : int or (int,)
        Step between windows and spacing of kernel elements.
    padding : int, (int,), "valid" or "same"
        Implicit zeros at both ends of the length axis (``"same"``: stride 1 only).
    groups : int
        Number of independent channel groups.
    bias : bool
        Whether to add a learnable bias of shape (out_channels,).
    padding_mode : str
        Only ``"zeros"`` is supported.
    dtype : np.float32 or np.float64, optional
        dtype of the parameters (the default dtype otherwise).

    Notes
    -----
    ``weight`` has PyTorch's shape (out_channels, in_channels / groups, kernel_size), so a
    state dict moves between the two. Initialised as PyTorch: ``weight`` and ``bias`` from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in_channels / groups * kernel_size``.
    Input (N, C_in, L) gives (N, C_out, L_out) with ``L_out = (L + 2 padding - dilation
    (kernel_size - 1) - 1) // stride + 1``; unbatched (C_in, L) gives (C_out, L_out).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> conv = nn.Conv1d(1, 1, 2, bias=False)
    >>> conv.weight.data[...] = 1.0
    >>> conv(np.arange(4, dtype=np.float32).reshape(1, 1, 4)).data.tolist()
    [[[1.0, 3.0, 5.0]]]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ):
        super().__init__()
        name = "Conv1d"
        self.in_channels = _check.positive(name, "in_channels", in_channels)
        self.out_channels = _check.positive(name, "out_channels", out_channels)
        self.groups = _check.positive(name, "groups", groups)
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % self.groups:
                raise ArgumentError(
                    f"{name}: {arg} ({value}) must be divisible by groups ({groups})"
                )
        self.kernel_size = _single(name, "kernel_size", kernel_size, 1)
        self.stride = _single(name, "stride", stride, 1)
        self.dilation = _single(name, "dilation", dilation, 1)
        if isinstance(padding, str):
            _check.choice(name, "padding", padding, ["valid", "same"])
            if padding == "same" and self.stride != (1,):
                raise ArgumentError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding: tuple[int] | str = padding
        else:
            self.padding = _single(name, "padding", padding, 0)
        self.padding_mode = _check.choice(name, "padding_mode", padding_mode, ["zeros"])
        bias = _check.flag(name, "bias", bias)
        dt = _check.param_dtype(name, dtype)
        shape = (self.out_channels, self.in_channels // self.groups, self.kernel_size[0])
        self.weight = Parameter(np.empty(shape, dtype=dt))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1 / math.sqrt(shape[1] * shape[2])
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Tensor:
        x = cast_input("Conv1d", input, self.weight.dtype)
        shape = x.shape
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"Conv1d: expected 2D (unbatched) or 3D (batched) input, got shape {tuple(shape)}"
            )
        if shape[-2] != self.in_channels:
            raise ShapeError(
                f"Conv1d: expected input with {self.in_channels} channels (axis -2), got shape "
                f"{tuple(shape)}"
            )
        if x.dtype.kind != "f":
            raise DTypeError(f"Conv1d: input must be float32 or float64, got {x.dtype}")
        # A unit height: (..., C, L) -> (..., C, 1, L); the kernel runs along the width only.
        x2 = x.reshape(*shape[:-1], 1, shape[-1])
        w = self.weight
        w2 = w.reshape(w.shape[0], w.shape[1], 1, w.shape[2])
        padding: tuple[int, int] | str = (
            self.padding if isinstance(self.padding, str) else (0, self.padding[0])
        )
        y = F.conv2d(
            x2,
            w2,
            self.bias,
            (1, self.stride[0]),
            padding,
            (1, self.dilation[0]),
            self.groups,
        )
        return y.reshape(*y.shape[:-2], y.shape[-1])

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,):
            s += f", padding={self.padding!r}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
