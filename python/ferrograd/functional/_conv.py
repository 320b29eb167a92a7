"""The convolution and pooling part of :mod:`ferrograd.functional`.

Inputs are NCHW arrays (or unbatched CHW) or :class:`~ferrograd.Tensor` objects; float32 and
float64 keep their dtype. ``conv2d`` and ``avg_pool2d`` have a ``<name>_backward`` taking
``(grad_output, *same_arguments)``; ``max_pool2d`` keeps the positions of its maxima for its
own backward pass (``ferrograd.ops.max_pool2d_backward`` computes it from arrays).

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> F.max_pool2d(F.conv2d(x, np.ones((1, 1, 2, 2)), padding=1), 2).shape
(1, 1, 2, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, ops
from ..autograd import record
from ..tensor import Tensor

ArrayLike = Any

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
]


def conv2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Any:
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) input, as ``torch.nn.functional``.

    Parameters
    ----------
    input : array_like or Tensor
        (N, C_in, H, W) or unbatched (C_in, H, W).
    weight : array_like or Tensor
        (C_out, C_in / groups, kH, kW).
    bias : array_like or Tensor, optional
        (C_out,).
    stride, dilation : int or (int, int)
        Step between windows and spacing of kernel elements.
    padding : int, (int, int), "valid" or "same"
        Implicit zeros around each spatial axis (``"same"`` keeps the size, stride 1 only).
    groups : int
        Number of independent channel groups.

    Returns
    -------
    ndarray, or Tensor when any argument is one
        (N, C_out, H_out, W_out).

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.conv2d(np.ones((1, 2, 3, 3)), np.ones((4, 2, 3, 3)), padding=1).shape
    (1, 4, 3, 3)
    """
    return ops.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv2d_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    *,
    input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d` with respect to ``input``, ``weight`` and ``bias``.

    ``input_grad=False`` skips the input gradient and returns None in its place.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> gx, gw, gb = F.conv2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)),
    ...                                np.ones((1, 1, 2, 2)))
    >>> gw.tolist(), gb.tolist()
    ([[[[4.0, 4.0], [4.0, 4.0]]]], [4.0])
    """
    return ops.conv2d_backward(
        grad_output, input, weight, bias, stride, padding, dilation, groups, input_grad=input_grad
    )


def max_pool2d(
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over the last two axes, as ``torch.nn.functional.max_pool2d``.

    With a Tensor input the result is a Tensor whose gradient flows to the maxima (the first
    one on ties); with ``return_indices`` the int64 positions ``y * W + x`` of the maxima
    within each input plane come as a second, plain array. See :func:`ferrograd.ops.max_pool2d`
    for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd
    >>> import ferrograd.functional as F
    >>> x = ferrograd.tensor(np.arange(4.0).reshape(1, 2, 2), requires_grad=True)
    >>> F.max_pool2d(x, 2).sum().backward()
    >>> x.grad.tolist()
    [[[0.0, 0.0], [0.0, 1.0]]]
    """
    if not isinstance(input, Tensor):
        return ops.max_pool2d(
            input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
        )
    x = input.data
    out, idx = ops.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (ops.max_pool2d_backward(g, x, kernel_size, indices=idx),)

    result = record(out, (input,), backward, "max_pool2d")
    return (result, idx) if _check.flag("max_pool2d", "return_indices", return_indices) else result


def avg_pool2d(
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Average pooling over the last two axes, as ``torch.nn.functional.avg_pool2d``.

    See :func:`ferrograd.ops.avg_pool2d` for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 2).tolist()
    [[[2.5, 4.5], [10.5, 12.5]]]
    """
    return ops.avg_pool2d(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool2d_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to ``input``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.avg_pool2d_backward(np.ones((1, 1, 1)), np.zeros((1, 2, 2)), 2).tolist()
    [[[0.25, 0.25], [0.25, 0.25]]]
    """
    return ops.avg_pool2d_backward(
        grad_output,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )
