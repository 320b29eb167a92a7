"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``, with PyTorch's
parameters, buffers, defaults and state-dict keys.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> bn = nn.BatchNorm1d(3)
>>> list(bn.state_dict())
['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _check
from ..exceptions import ShapeError
from ..functional._norm import _normalized_shape, batch_norm, layer_norm
from ..tensor import Tensor, _to_array
from ._cast import cast_input
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


def _cast_to_state(layer: str, x: Any, owners: tuple[Any, ...]) -> Any:
    """``x`` cast to the dtype of the first parameter or buffer present (none: only made an
    array)."""
    for owner in owners:
        if owner is not None:
            return cast_input(layer, x, owner.dtype)
    return x if isinstance(x, (Tensor, np.ndarray)) else _to_array(x, func=f"{layer}: input")


class _BatchNorm(Module):
    """Shared code of the batch-norm layers; subclasses say which input ranks they take."""

    _ranks: tuple[int, ...] = ()
    _expected = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ):
        super().__init__()
        name = type(self).__name__
        self.num_features = _check.positive(name, "num_features", num_features)
        self.eps = _check.real(name, "eps", eps, 0.0)
        self.momentum = None if momentum is None else _check.probability(name, "momentum", momentum)
        self.affine = _check.flag(name, "affine", affine)
        self.track_running_stats = _check.flag(name, "track_running_stats", track_running_stats)
        dt = _check.param_dtype(name, dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dt))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dt))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """Resets the running statistics, and the weight to 1 and the bias to 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data = np.ones_like(self.weight.data)
            self.bias.data = np.zeros_like(self.bias.data)

    def forward(self, input: Any) -> Any:
        name = type(self).__name__
        input = _cast_to_state(name, input, (self.weight, self.running_mean))
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if len(shape) not in self._ranks:
            raise ShapeError(f"{name}: expected {self._expected} input (got {len(shape)}D input)")
        if shape[1] != self.num_features:
            raise ShapeError(
                f"{name}: expected {self.num_features} channels (input.shape[1]), got input of "
                f"shape {tuple(shape)}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        tracking = self.training and self.track_running_stats
        if tracking and self.num_batches_tracked is not None and self.momentum is None:
            factor = 1.0 / float(self.num_batches_tracked + 1)  # cumulative moving average
        # Training uses batch statistics; so does eval when there are no running ones.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        out = batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )
        if tracking and self.num_batches_tracked is not None:
            self.num_batches_tracked[...] += 1
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over the batch (and length) axes.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel. In training mode the
    batch mean and biased variance normalise, and the running statistics are updated with
    ``momentum`` (``None``: a cumulative average) from the batch mean and *unbiased* variance;
    in eval mode the running statistics normalise.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        Weight of each new batch in the running statistics; None for a cumulative average.
    affine : bool
        Learn a per-channel ``weight`` (ones) and ``bias`` (zeros).
    track_running_stats : bool
        Keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers; without
        them batch statistics are used in eval mode too.
    dtype : np.float32 or np.float64, optional
        dtype of the parameters and buffers (default: :func:`ferrograd.get_default_dtype`).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, tensor
    >>> bn = nn.BatchNorm1d(2)
    >>> y = bn(tensor(np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)))
    >>> bn.running_mean.tolist(), int(bn.num_batches_tracked)
    ([0.20000000298023224, 0.4000000059604645], 1)
    """

    _ranks = (2, 3)
    _expected = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel over N, H and W.

    Parameters and behaviour as :class:`BatchNorm1d`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> bn = nn.BatchNorm2d(3).eval()
    >>> bn(np.ones((2, 3, 4, 4), dtype=np.float32)).shape
    (2, 3, 4, 4)
    """

    _ranks = (4,)
    _expected = "4D"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and biased variance of
    each ``normalized_shape`` slice; the same in training and eval mode.

    Parameters
    ----------
    normalized_shape : int or sequence of int
        Shape of the trailing axes to normalise over.
    eps : float
        Added to the variance before the square root.
    elementwise_affine : bool
        Learn an elementwise ``weight`` (ones) and, if ``bias``, ``bias`` (zeros), both of
        shape ``normalized_shape``.
    bias : bool
        Learn the bias (with ``elementwise_affine``).
    dtype : np.float32 or np.float64, optional
        dtype of the parameters (default: :func:`ferrograd.get_default_dtype`).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> ln = nn.LayerNorm(4)
    >>> y = ln(np.arange(8, dtype=np.float32).reshape(2, 4))
    >>> np.allclose(y.data.mean(axis=-1), 0, atol=1e-6)
    True
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ):
        super().__init__()
        self.normalized_shape = _normalized_shape("LayerNorm", normalized_shape)
        self.eps = _check.real("LayerNorm", "eps", eps, 0.0)
        self.elementwise_affine = _check.flag("LayerNorm", "elementwise_affine", elementwise_affine)
        bias = _check.flag("LayerNorm", "bias", bias)
        dt = _check.param_dtype("LayerNorm", dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0."""
        if self.weight is not None:
            self.weight.data = np.ones_like(self.weight.data)
        if self.bias is not None:
            self.bias.data = np.zeros_like(self.bias.data)

    def forward(self, input: Any) -> Any:
        x = _cast_to_state("LayerNorm", input, (self.weight,))
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
