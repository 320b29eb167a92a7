"""Convolution and pooling layers over NCHW input, with PyTorch's names, defaults and
parameter layouts (``weight`` of shape (out_channels, in_channels / groups, kH, kW)).

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, tensor
>>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
>>> model(tensor(np.zeros((2, 1, 8, 8), dtype=np.float32))).shape
(2, 4, 4, 4)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _check
from .. import functional as F
from ..exceptions import ArgumentError
from . import init
from ._cast import cast_input
from .module import Module
from .parameter import Parameter

__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d"]


def _as_pair(v: list[int]) -> tuple[int, int]:
    return (v[0], v[1])


def _pool_pair(name: str, arg: str, value: Any, minimum: int) -> Any:
    """A checked pool setting, kept as given (an int stays an int, as in PyTorch's repr)."""
    _check.int_pair(name, arg, value, minimum)
    return tuple(value) if isinstance(value, list) else value


class Conv2d(Module):
    """2-D convolution layer: ``y = conv2d(x, weight) + bias``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output; both divisible by ``groups``.
    kernel_size : int or (int, int)
        Size of the kernel (kH, kW).
    stride, dilation : int or (int, int)
        Step between windows and spacing of kernel elements.
    padding : int, (int, int), "valid" or "same"
        Implicit zeros around each spatial axis.
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
    Initialised as PyTorch does: ``weight`` by ``kaiming_uniform_(a=sqrt(5))`` (that is,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and ``bias`` by U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    with ``fan_in = in_channels / groups * kH * kW``. Input is (N, C_in, H, W) or unbatched
    (C_in, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, tensor
    >>> conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    >>> conv.weight.shape, conv(tensor(np.zeros((4, 3, 9, 9), dtype=np.float32))).shape
    ((8, 3, 3, 3), (4, 8, 5, 5))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ):
        super().__init__()
        name = "Conv2d"
        self.in_channels = _check.positive(name, "in_channels", in_channels)
        self.out_channels = _check.positive(name, "out_channels", out_channels)
        self.groups = _check.positive(name, "groups", groups)
        if self.in_channels % self.groups:
            raise ArgumentError(
                f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})"
            )
        if self.out_channels % self.groups:
            raise ArgumentError(
                f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        self.kernel_size = _as_pair(_check.int_pair(name, "kernel_size", kernel_size, 1))
        self.stride = _as_pair(_check.int_pair(name, "stride", stride, 1))
        self.dilation = _as_pair(_check.int_pair(name, "dilation", dilation, 1))
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ArgumentError(
                    f"{name}: padding must be 'valid', 'same', an int or a pair, got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ArgumentError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = _as_pair(_check.int_pair(name, "padding", padding, 0))
        self.padding_mode = _check.choice(name, "padding_mode", padding_mode, ["zeros"])
        bias = _check.flag(name, "bias", bias)
        dt = _check.param_dtype(name, dtype)
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1 / math.sqrt(shape[1] * kh * kw)
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Any:
        return F.conv2d(
            cast_input("Conv2d", x, self.weight.dtype),
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class MaxPool2d(Module):
    """Max pooling over the last two axes (see :func:`ferrograd.functional.max_pool2d`).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        ``kernel_size`` by default.
    padding, dilation : int or (int, int)
    return_indices : bool
        Also return the positions of the maxima.
    ceil_mode : bool
        Round the output size up instead of down.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ):
        super().__init__()
        name = "MaxPool2d"
        self.kernel_size = _pool_pair(name, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pool_pair(name, "stride", stride, 1)
        self.padding = _pool_pair(name, "padding", padding, 0)
        self.dilation = _pool_pair(name, "dilation", dilation, 1)
        self.return_indices = _check.flag(name, "return_indices", return_indices)
        self.ceil_mode = _check.flag(name, "ceil_mode", ceil_mode)

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Average pooling over the last two axes (see :func:`ferrograd.functional.avg_pool2d`).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        ``kernel_size`` by default.
    padding : int or (int, int)
    ceil_mode : bool
        Round the output size up instead of down.
    count_include_pad : bool
        Count the padding zeros in each window's divisor.
    divisor_override : int, optional
        A fixed divisor instead.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):
        super().__init__()
        name = "AvgPool2d"
        self.kernel_size = _pool_pair(name, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pool_pair(name, "stride", stride, 1)
        self.padding = _pool_pair(name, "padding", padding, 0)
        self.ceil_mode = _check.flag(name, "ceil_mode", ceil_mode)
        self.count_include_pad = _check.flag(name, "count_include_pad", count_include_pad)
        self.divisor_override = (
            None
            if divisor_override is None
            else _check.positive(name, "divisor_override", divisor_override)
        )

    def forward(self, x: Any) -> Any:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
