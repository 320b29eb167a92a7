"""``linear``, ``dropout``, ``one_hot`` and ``pad`` with the semantics of ``torch.nn.functional``.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> F.one_hot(np.array([0, 2]), 3).tolist()
[[1, 0, 0], [0, 0, 1]]
>>> F.pad(np.ones((1, 2)), (1, 0)).tolist()
[[0.0, 1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _check, ops
from .._arrays import as_array
from ..autograd import OPS, record
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..random import default_generator
from ..tensor import Tensor

ArrayLike = Any

__all__ = ["dropout", "linear", "one_hot", "pad", "pad_backward"]


def linear(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None) -> Any:
    """``input @ weight.T + bias`` with ``weight`` of shape (out_features, in_features).

    Tensors in give a Tensor with its gradient; arrays give an array.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.linear(np.ones((1, 2)), np.array([[1.0, 2.0]]), np.array([0.5])).tolist()
    [[3.5]]
    """
    if any(isinstance(a, Tensor) for a in (input, weight, bias)):
        return OPS["linear"](input, weight, bias)
    return ops.linear(input, weight, bias)


def dropout(input: ArrayLike, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)`` when
    ``training`` (the identity otherwise), as ``torch.nn.functional.dropout``.

    The mask comes from the generator :func:`ferrograd.manual_seed` seeds. A Tensor in gives
    a Tensor (the gradient goes through the same mask); an array gives an array.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.dropout(np.ones(3), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    p = _check.probability("dropout", "p", p)
    training = _check.flag("dropout", "training", training)
    if _check.flag("dropout", "inplace", inplace):
        raise ArgumentError("dropout: inplace=True is not supported")
    is_tensor = isinstance(input, Tensor)
    data = input.data if is_tensor else as_array("dropout", "input", input)
    if not training or p == 0.0:
        return input if is_tensor else data
    if data.dtype.kind != "f":
        raise DTypeError(f"dropout: input must hold floats in training, got dtype {data.dtype}")
    if p == 1.0:
        mask = np.zeros_like(data)
    else:
        keep = default_generator().random(data.shape) >= p
        mask = keep.astype(data.dtype) * data.dtype.type(1.0 / (1.0 - p))
    out = ops.mul(data, mask)
    if not is_tensor:
        return out
    return record(out, (input,), lambda g: (ops.mul(g, mask),), "dropout")


def one_hot(tensor: ArrayLike, num_classes: int = -1) -> Any:
    """int64 one-hot rows of class indices: shape ``tensor.shape + (num_classes,)``.

    ``num_classes=-1`` takes one more than the largest index, as PyTorch.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.one_hot(np.array([1, 0])).tolist()
    [[0, 1], [1, 0]]
    """
    is_tensor = isinstance(tensor, Tensor)
    idx = as_array("one_hot", "tensor", tensor.data if is_tensor else tensor)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: tensor must hold integer class indices, got dtype {idx.dtype}")
    n = _check.count("one_hot", "num_classes", num_classes, -1)
    if n == -1:
        if idx.size == 0:
            raise ArgumentError("one_hot: num_classes=-1 needs a non-empty tensor")
        n = int(idx.max()) + 1
    out = np.zeros((*idx.shape, n), dtype=np.int64)  # first: a result too large fails fast
    lo, hi = (int(idx.min()), int(idx.max())) if idx.size else (0, 0)
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise ArgumentError(f"one_hot: class index {bad} is out of range for {n} classes")
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor(out) if is_tensor else out


def _pads(func: str, pad: Any, ndim: int) -> list[tuple[int, int]]:
    """``pad`` (last axis first, as PyTorch) as one ``(before, after)`` pair per axis."""
    if not isinstance(pad, (tuple, list)) or len(pad) % 2:
        raise ArgumentError(f"{func}: pad must be a tuple of an even number of ints, got {pad!r}")
    if len(pad) // 2 > ndim:
        raise ShapeError(f"{func}: pad {tuple(pad)} pads more axes than the input's {ndim}")
    vals = [_check.count(func, f"pad[{i}]", v, -(2**62), 2**62) for i, v in enumerate(pad)]
    pairs = [(0, 0)] * ndim
    for k in range(len(vals) // 2):
        pairs[ndim - 1 - k] = (vals[2 * k], vals[2 * k + 1])
    return pairs


def _crop(pairs: Sequence[tuple[int, int]], shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(-min(b, 0), n + min(a, 0)) for (b, a), n in zip(pairs, shape))


_MODES = ["constant", "reflect", "replicate", "circular"]


def _sources(
    func: str, mode: str, pad: Sequence[int], pairs: Sequence[tuple[int, int]], shape: Sequence[int]
) -> list[np.ndarray | None]:
    """For ``mode`` other than constant: per axis, the input index each output position reads
    (None for an axis not padded). Checks PyTorch's limits on the input's rank and the sizes."""
    padded = len(pad) // 2
    if padded > 3 or len(shape) not in (padded + 1, padded + 2):
        raise ShapeError(
            f"{func}: mode {mode!r} pads the last 1, 2 or 3 axes of an input with one or two "
            f"more axes, got {padded} padded axes of a {len(shape)}-d input"
        )
    out: list[np.ndarray | None] = []
    for axis, ((b, a), n) in enumerate(zip(pairs, shape)):
        if (b, a) == (0, 0):
            out.append(None)
            continue
        if b < 0 or a < 0:
            raise ArgumentError(f"{func}: mode {mode!r} needs non-negative padding, got {(b, a)}")
        i = np.arange(-b, n + a)
        if mode == "replicate":
            if n == 0:
                raise ShapeError(f"{func}: mode 'replicate' cannot pad the empty axis {axis}")
            out.append(np.clip(i, 0, n - 1))
        elif mode == "circular":
            if b > n or a > n:
                raise ArgumentError(
                    f"{func}: mode 'circular' pads at most the axis size {n} on each side of "
                    f"axis {axis}, got {(b, a)}"
                )
            out.append(i % n)
        else:
            if b >= n or a >= n:
                raise ArgumentError(
                    f"{func}: mode 'reflect' pads less than the axis size {n} on each side of "
                    f"axis {axis}, got {(b, a)}"
                )
            i = np.abs(i)
            out.append(np.where(i > n - 1, 2 * (n - 1) - i, i))
    return out


def _mode(func: str, mode: Any, value: Any) -> str:
    mode = _check.choice(func, "mode", mode, _MODES)
    if mode != "constant" and value != 0:
        raise ArgumentError(f"{func}: mode {mode!r} takes no fill value, got value={value!r}")
    return mode


def pad(input: ArrayLike, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Any:
    """Pads (or, with negative amounts, crops) the last axes, as ``torch.nn.functional.pad``.

    Parameters
    ----------
    input : array_like
    pad : tuple of int
        ``(left, right)`` for the last axis, then ``(top, bottom)`` for the one before, ...
    mode : {"constant", "reflect", "replicate", "circular"}
        ``"constant"`` fills with ``value`` (negative amounts crop). The others, as PyTorch,
        pad the last 1, 2 or 3 axes of an input with one or two more axes, by non-negative
        amounts: ``"reflect"`` mirrors the input without repeating its edge (amounts below the
        axis size), ``"replicate"`` repeats the edge, ``"circular"`` wraps around (amounts up
        to the axis size).
    value : float
        The fill value of ``"constant"``.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.pad(np.ones((1, 1)), (0, 1, 1, 0), value=2.0).tolist()
    [[2.0, 2.0], [1.0, 2.0]]
    >>> x = np.array([[[1.0, 2.0, 3.0]]])
    >>> F.pad(x, (2, 1), mode="reflect").tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
    >>> F.pad(x, (2, 1), mode="replicate").tolist()
    [[[1.0, 1.0, 1.0, 2.0, 3.0, 3.0]]]
    >>> F.pad(x, (2, 1), mode="circular").tolist()
    [[[2.0, 3.0, 1.0, 2.0, 3.0, 1.0]]]
    """
    x = as_array("pad", "input", input)
    mode = _mode("pad", mode, value)
    pairs = _pads("pad", pad, x.ndim)
    if mode != "constant":
        for axis, src in enumerate(_sources("pad", mode, pad, pairs, x.shape)):
            if src is not None:
                x = np.take(x, src, axis=axis)
        return np.ascontiguousarray(x)
    v = _check.number("pad", "value", value)
    grown = np.pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs], constant_values=v)
    return np.ascontiguousarray(grown[_crop(pairs, grown.shape)])


def pad_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    pad: Sequence[int],
    mode: str = "constant",
    value: float = 0.0,
) -> np.ndarray:
    """Gradient of :func:`pad` with respect to ``input``: the padded gradient sliced back
    (zero where the input was cropped away); for the other modes, each padded position's
    gradient added to the input element it copies.

    Examples
    --------
    >>> import numpy as np, ferrograd.functional as F
    >>> F.pad_backward(np.arange(3.0).reshape(1, 3), np.ones((1, 2)), (1, 0)).tolist()
    [[1.0, 2.0]]
    >>> g = np.array([[[1.0, 1.0, 1.0, 1.0]]])
    >>> F.pad_backward(g, np.ones((1, 1, 2)), (1, 1), mode="replicate").tolist()
    [[[2.0, 2.0]]]
    """
    x = as_array("pad_backward", "input", input)
    mode = _mode("pad_backward", mode, value)
    pairs = _pads("pad_backward", pad, x.ndim)
    g = as_array("pad_backward", "grad_output", grad_output)
    if mode != "constant":
        srcs = _sources("pad_backward", mode, pad, pairs, x.shape)
        want = tuple(n + b + a for (b, a), n in zip(pairs, x.shape))
        if g.shape != want:
            raise ShapeError(f"pad_backward: grad_output has shape {g.shape}, expected {want}")
        for axis in reversed(range(x.ndim)):
            src = srcs[axis]
            if src is None:
                continue
            shape = list(g.shape)
            shape[axis] = x.shape[axis]
            folded = np.zeros(shape, g.dtype)
            index: tuple[Any, ...] = (*[slice(None)] * axis, src)
            np.add.at(folded, index, g)
            g = folded
        return np.ascontiguousarray(g).astype(x.dtype, copy=False)
    # Undo the crop (zeros come back where the input was cut), then cut the padding off.
    regrown = np.pad(g, [(max(-b, 0), max(-a, 0)) for b, a in pairs])
    inner = tuple(slice(max(b, 0), n - max(a, 0)) for (b, a), n in zip(pairs, regrown.shape))
    return np.ascontiguousarray(regrown[inner]).astype(x.dtype, copy=False)
