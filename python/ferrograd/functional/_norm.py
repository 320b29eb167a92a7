"""The normalization and embedding part of :mod:`ferrograd.functional`: ``batch_norm``,
``layer_norm`` and ``embedding``, with the semantics of ``torch.nn.functional``.

Each function takes NumPy arrays (and returns an array) or :class:`~ferrograd.Tensor` objects
(and returns a Tensor whose backward gives gradients for the input, ``weight`` and ``bias``).
The statistics are computed in Rust in fused passes; the saved batch statistics feed the
backward, so the forward is never recomputed.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
>>> F.batch_norm(x, None, None, training=True, eps=0.0).tolist()
[[-1.0, -1.0], [1.0, 1.0]]
>>> F.layer_norm(np.array([[1.0, 3.0]]), 2, eps=0.0).tolist()
[[-1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _check, _core
from .._arrays import as_array, as_int64, cast, result_dtype
from ..autograd import record
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor

__all__ = ["batch_norm", "embedding", "layer_norm"]

ArrayLike = Any


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _wants_grad(x: Any) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _float_input(func: str, x: Any) -> np.ndarray:
    """``x`` as a C-ordered float32/float64 array (integers become float64, as in NumPy)."""
    arr = as_array(func, "input", x)
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    return cast(arr, result_dtype(func, np.sqrt, arr))


def _float_arg(func: str, name: str, x: Any, dt: np.dtype[Any]) -> np.ndarray | None:
    """An optional float argument (weight, bias, statistics) as an array of dtype ``dt``."""
    if x is None:
        return None
    arr = np.asarray(as_array(func, name, x))
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"{func}: {name} must hold real numbers, got dtype {arr.dtype}")
    return cast(arr, dt)


def _result(out: np.ndarray, parents: Sequence[Any], backward: Any) -> Any:
    """A Tensor when any argument is one (tracked if it needs a gradient), else the array."""
    if any(isinstance(p, Tensor) for p in parents):
        return record(out, parents, backward)
    return out


# ----------------------------------------------------------------------------- batch norm


def _running_buffer(func: str, name: str, r: Any) -> np.ndarray:
    """The array behind a running statistic, which training updates in place."""
    arr = _data(r)
    if not isinstance(arr, np.ndarray):
        raise DTypeError(
            f"{func}: {name} must be an ndarray or Tensor (it is updated in place in training), "
            f"got {type(r).__name__}"
        )
    if arr.dtype.kind != "f":
        raise DTypeError(f"{func}: {name} must be a float array, got dtype {arr.dtype}")
    if not arr.flags.writeable:
        raise ArgumentError(f"{func}: {name} is read-only, but training updates it in place")
    return arr


def batch_norm(
    input: ArrayLike,
    running_mean: ArrayLike | None,
    running_var: ArrayLike | None,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Batch normalisation over the channel axis 1 of an (N, C) or (N, C, *spatial) input.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel. With ``training=True``
    the mean and the biased variance of the batch are used, and ``running_mean`` /
    ``running_var`` (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the *unbiased*
    batch variance. With ``training=False`` the running statistics are used.

    Parameters
    ----------
    input : array_like or Tensor
        Shape (N, C) or (N, C, d1, ..., dk), float32 or float64.
    running_mean, running_var : ndarray or Tensor of shape (C,), or None
        Running statistics; required when ``training`` is False. Updated in place in training.
    weight, bias : array_like or Tensor of shape (C,), optional
        Per-channel scale and shift (1 and 0 when absent).
    training : bool
        Use (and record) batch statistics instead of the running ones.
    momentum : float
        Weight of the new batch statistics in the running ones.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    ndarray or Tensor
        The normalised input, of the input's shape and dtype.

    Raises
    ------
    ShapeError
        For inputs with fewer than 2 axes or per-channel arguments of the wrong length.
    ValueError
        In training with a single value per channel (N * d1 * ... * dk == 1).

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> rm, rv = np.zeros(2), np.ones(2)
    >>> x = np.array([[0.0, 2.0], [2.0, 6.0]])
    >>> _ = F.batch_norm(x, rm, rv, training=True)
    >>> rm.tolist(), rv.tolist()
    ([0.1, 0.4], [1.1, 1.7000000000000002])
    """
    func = "batch_norm"
    x = _float_input(func, input)
    if x.ndim < 2:
        raise ShapeError(
            f"{func}: input must have shape (N, C) or (N, C, *spatial), got shape {x.shape}"
        )
    dt = x.dtype
    w = _float_arg(func, "weight", _data(weight), dt)
    b = _float_arg(func, "bias", _data(bias), dt)
    momentum_f = _check.number(func, "momentum", momentum)
    eps_f = _check.number(func, "eps", eps)
    if (running_mean is None) != (running_var is None):
        raise ArgumentError(f"{func}: give both running_mean and running_var, or neither")
    use_batch = _check.flag(func, "training", training)
    if use_batch:
        rm = rv = None
        if running_mean is not None:
            rm = _running_buffer(func, "running_mean", running_mean)
            rv = _running_buffer(func, "running_var", running_var)
        out, mean, invstd, new_rm, new_rv = _core.batch_norm_train(
            x,
            w,
            b,
            None if rm is None else cast(rm, dt),
            None if rv is None else cast(rv, dt),
            momentum_f,
            eps_f,
        )
        if rm is not None and rv is not None:
            rm[...] = new_rm
            rv[...] = new_rv
    else:
        if running_mean is None:
            raise ArgumentError(
                f"{func}: running_mean and running_var are required when not training"
            )
        # A copy: the backward must see the statistics of this forward even if they change.
        mean = np.array(_float_arg(func, "running_mean", _data(running_mean), dt), copy=True)
        var = _float_arg(func, "running_var", _data(running_var), dt)
        assert var is not None  # checked above: both statistics or neither
        out, invstd = _core.batch_norm_eval(x, mean, var, w, b, eps_f)

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        need_params = _wants_grad(weight) or _wants_grad(bias)
        gx, gw, gb = _core.batch_norm_backward(
            cast(np.asarray(g), dt), x, mean, invstd, w, use_batch, need_params
        )
        return gx, gw, gb

    return _result(out, (input, weight, bias), backward)


# ----------------------------------------------------------------------------- layer norm


def _normalized_shape(func: str, normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, (tuple, list)) and not normalized_shape:
        raise ShapeError(f"{func}: normalized_shape must not be empty")
    return _check.dims(func, "normalized_shape", normalized_shape, low=0)


def layer_norm(
    input: ArrayLike,
    normalized_shape: int | Sequence[int],
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    eps: float = 1e-5,
) -> Any:
    """Layer normalisation over the trailing ``normalized_shape`` axes.

    Each slice ``x`` of shape ``normalized_shape`` becomes
    ``(x - mean(x)) / sqrt(var(x) + eps) * weight + bias`` with the biased variance.

    Parameters
    ----------
    input : array_like or Tensor
        Shape ``(*, *normalized_shape)``, float32 or float64.
    normalized_shape : int or sequence of int
        The trailing axes to normalise over.
    weight, bias : array_like or Tensor of shape ``normalized_shape``, optional
        Elementwise scale and shift.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    ndarray or Tensor
        The normalised input, of the input's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.layer_norm(np.array([[0.0, 2.0, 4.0]]), (3,), eps=0.0).round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    """
    func = "layer_norm"
    ns = _normalized_shape(func, normalized_shape)
    x = _float_input(func, input)
    dt = x.dtype
    w = _float_arg(func, "weight", _data(weight), dt)
    b = _float_arg(func, "bias", _data(bias), dt)
    out, mean, invstd = _core.layer_norm(x, list(ns), w, b, _check.number(func, "eps", eps))

    def backward(g: np.ndarray) -> tuple[Any, Any, Any]:
        need_params = _wants_grad(weight) or _wants_grad(bias)
        return _core.layer_norm_backward(
            cast(np.asarray(g), dt), x, list(ns), mean, invstd, w, need_params
        )

    return _result(out, (input, weight, bias), backward)


# ----------------------------------------------------------------------------- embedding


def _indices(func: str, x: Any) -> np.ndarray:
    """Integer indices as a C-ordered int64 array."""
    return as_int64(func, "input", _data(x), "integer indices")


def _padding_index(func: str, padding_idx: Any, num_embeddings: int) -> int | None:
    """``padding_idx`` checked against ``num_embeddings``, negative values counted from the end."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, (bool, np.bool_)) or not isinstance(padding_idx, (int, np.integer)):
        raise DTypeError(f"{func}: padding_idx must be an int or None, got {padding_idx!r}")
    p = int(padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ArgumentError(
            f"{func}: padding_idx must be within num_embeddings = {num_embeddings} "
            f"(from {-num_embeddings} to {num_embeddings - 1}), got {p}"
        )
    return p + num_embeddings if p < 0 else p


def embedding(input: ArrayLike, weight: ArrayLike, padding_idx: int | None = None) -> Any:
    """Looks up rows of the embedding table ``weight`` by integer index.

    Parameters
    ----------
    input : array_like of int, or Tensor
        Indices of any shape, each in ``[0, num_embeddings)``.
    weight : array_like or Tensor of shape (num_embeddings, embedding_dim)
        The table, float32 or float64.
    padding_idx : int, optional
        A row that receives no gradient (negative counts from the end).

    Returns
    -------
    ndarray or Tensor
        Shape ``input.shape + (embedding_dim,)``, the table's dtype.

    Raises
    ------
    ValueError
        For an index out of range; the message names the index and its position.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> table = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> F.embedding(np.array([2, 1]), table).tolist()
    [[3.0, 4.0], [1.0, 2.0]]
    """
    func = "embedding"
    idx = _indices(func, input)
    w = np.asarray(as_array(func, "weight", _data(weight)))
    if w.dtype.kind != "f":
        raise DTypeError(f"{func}: weight must be a float array, got dtype {w.dtype}")
    w = cast(w, result_dtype(func, np.sqrt, w))
    if w.ndim != 2:
        raise ShapeError(
            f"{func}: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.shape}"
        )
    num = w.shape[0]
    pad = _padding_index(func, padding_idx, num)
    out = _core.embedding(idx, w)

    def backward(g: np.ndarray) -> tuple[None, np.ndarray]:
        return None, _core.embedding_backward(cast(np.asarray(g), w.dtype), idx, num, pad)

    return _result(out, (input, weight), backward)
