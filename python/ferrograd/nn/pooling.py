"""Adaptive average pooling: a fixed output size whatever the input size.

Along an axis of size ``n`` pooled to ``out`` bins, bin ``i`` averages the positions from
``floor(i * n / out)`` to ``ceil((i + 1) * n / out)`` (exclusive), PyTorch's rule, which also
holds when ``out`` does not divide ``n`` (neighbouring bins then overlap). The averages along
each axis are a matrix product with a small pooling matrix, so the whole layer is
``P_h @ x @ P_w^T`` on the matrix kernels, and its gradient flows back through the same
products.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> nn.AdaptiveAvgPool2d(1)(np.arange(8.0).reshape(1, 2, 2, 2)).ravel().tolist()
[1.5, 5.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, ops
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor, _to_array, matmul
from .module import Module

__all__ = ["AdaptiveAvgPool2d"]


def pooling_matrix(size: int, bins: int, dtype: Any) -> np.ndarray:
    """The (bins, size) matrix whose row ``i`` averages bin ``i`` of an axis of ``size``."""
    i = np.arange(bins)
    start = (i * size) // bins
    end = -((-(i + 1) * size) // bins)  # ceil((i + 1) * size / bins)
    pos = np.arange(size)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _output_size(value: Any) -> tuple[int | None, int | None]:
    func = "AdaptiveAvgPool2d"
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ArgumentError(
                f"{func}: output_size must be an int or a pair of ints (or None), got {value!r}"
            )
        return tuple(  # type: ignore[return-value]
            None if v is None else _check.positive(func, f"output_size[{k}]", v)
            for k, v in enumerate(value)
        )
    size = _check.positive(func, "output_size", value)
    return (size, size)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed (H_out, W_out) over the last two axes.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        The output's height and width; an int for both; ``None`` keeps the input's size on
        that axis.

    Notes
    -----
    Input (N, C, H, W) gives (N, C, H_out, W_out); unbatched (C, H, W) gives (C, H_out,
    W_out). ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> pool = nn.AdaptiveAvgPool2d((2, None))
    >>> pool(np.arange(6.0).reshape(1, 1, 3, 2)).tolist()
    [[[[1.0, 2.0], [3.0, 4.0]]]]
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]):
        super().__init__()
        self.output_size = _output_size(output_size)

    def forward(self, input: Any) -> Any:
        x = input if isinstance(input, Tensor) else _to_array(input, func="AdaptiveAvgPool2d")
        if x.ndim not in (3, 4):
            raise ShapeError(
                f"AdaptiveAvgPool2d: expected 3D (unbatched) or 4D input, got shape {x.shape}"
            )
        if x.dtype.kind != "f":
            raise DTypeError(f"AdaptiveAvgPool2d: input must be float32 or float64, got {x.dtype}")
        h, w = x.shape[-2:]
        if h == 0 or w == 0:
            raise ShapeError(
                f"AdaptiveAvgPool2d: input has shape {x.shape}; height and width must be non-zero"
            )
        oh, ow = (s if s is not None else n for s, n in zip(self.output_size, (h, w)))
        # An ndarray gives an ndarray (as the other pooling layers); a Tensor a Tensor.
        mm = matmul if isinstance(x, Tensor) else ops.matmul
        out = x
        if ow != w:  # a bin per position is the identity
            out = mm(out, np.ascontiguousarray(pooling_matrix(w, ow, x.dtype).T))
        if oh != h:
            out = mm(pooling_matrix(h, oh, x.dtype), out)
        return out

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
