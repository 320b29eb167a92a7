"""Turning what ``fit``/``evaluate`` are given into batches of the model's dtype."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import FerrogradError, ShapeError
from ..tensor import Tensor


def _cast(a: Any, dtype: np.dtype[Any]) -> Any:
    """Float arrays in ``dtype``; integer arrays (labels, indices) as they are."""
    if isinstance(a, Tensor):
        a = a.data
    if isinstance(a, Mapping):
        return {k: _cast(v, dtype) for k, v in a.items()}
    if isinstance(a, (list, tuple)) and not isinstance(a, np.ndarray):
        return type(a)(_cast(v, dtype) for v in a)
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and arr.dtype != dtype:
        return arr.astype(dtype)
    if arr.dtype.kind in "biu" or arr.dtype.kind == "f":
        return arr
    raise FerrogradError(f"Trainer: data of dtype {arr.dtype} is not numeric")


def cast_batch(batch: Any, dtype: np.dtype[Any]) -> tuple[Any, ...]:
    """A batch as a tuple ``(input, ..., target)`` with float parts in ``dtype``."""
    if isinstance(batch, Mapping) or not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise FerrogradError(
            f"Trainer: each batch must be a tuple (inputs..., target); got {type(batch).__name__}"
        )
    return tuple(_cast(part, dtype) for part in batch)


def is_loader(data: Any) -> bool:
    from ..data import DataLoader

    return isinstance(data, DataLoader)


def as_arrays(data: Any, dtype: np.dtype[Any], what: str) -> tuple[Any, ...] | None:
    """``(X, y)``-style tuples as arrays of the model's dtype; None for datasets/loaders."""
    if isinstance(data, (tuple, list)):
        if len(data) < 2:
            raise FerrogradError(
                f"Trainer: {what} must be (X, y), a Dataset or a DataLoader; got a "
                f"{type(data).__name__} of length {len(data)}"
            )
        arrays = cast_batch(tuple(data), dtype)
        lengths = {_length(a) for a in arrays}
        if len(lengths) != 1:
            raise ShapeError(
                f"Trainer: the arrays of {what} have different numbers of samples: "
                f"{[_length(a) for a in arrays]}"
            )
        if lengths == {0}:
            raise ShapeError(f"Trainer: {what} is empty")
        return arrays
    return None


def _length(a: Any) -> int:
    if isinstance(a, Mapping):
        lengths = {_length(v) for v in a.values()}
        if len(lengths) != 1:
            raise ShapeError(f"Trainer: target arrays of different lengths: {sorted(lengths)}")
        return lengths.pop()
    shape = np.shape(a)
    if not shape:
        raise ShapeError("Trainer: data arrays need a sample axis, got a 0-d array")
    return int(shape[0])


def make_loader(
    data: Any,
    dtype: np.dtype[Any],
    what: str,
    batch_size: int,
    shuffle: bool,
    drop_last: bool = False,
) -> Any:
    """A DataLoader over ``data`` ((X, y), a Dataset or a DataLoader, used as is)."""
    from ..data import ArrayDataset, DataLoader

    if is_loader(data):
        return data
    arrays = as_arrays(data, dtype, what)
    if arrays is not None:
        dataset: Any = ArrayDataset(*arrays)
    elif hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        dataset = data
        if len(dataset) == 0:
            raise ShapeError(f"Trainer: {what} is empty")
    else:
        raise FerrogradError(
            f"Trainer: {what} must be an (X, y) tuple, a Dataset or a DataLoader, got "
            f"{type(data).__name__}"
        )
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)


def split_off(
    arrays: tuple[Any, ...], fraction: float, seed: int
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """A seeded random split of ``arrays`` into (train, validation) by ``fraction``."""
    if not (isinstance(fraction, float) and 0.0 < fraction < 1.0):
        raise FerrogradError(f"fit: validation_split must be a float in (0, 1), got {fraction!r}")
    n = _length(arrays[0])
    n_val = round(n * fraction)
    if n_val == 0 or n_val == n:
        raise ShapeError(f"fit: validation_split={fraction} of {n} samples leaves an empty part")
    order = np.random.default_rng(seed).permutation(n)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    return _take(arrays, train_idx), _take(arrays, val_idx)


def _take(arrays: tuple[Any, ...], idx: np.ndarray) -> tuple[Any, ...]:
    def take(a: Any) -> Any:
        if isinstance(a, Mapping):
            return {k: take(v) for k, v in a.items()}
        return np.asarray(a)[idx]

    return tuple(take(a) for a in arrays)


def cast_inputs(inputs: tuple[Any, ...], dtype: np.dtype[Any]) -> tuple[Any, ...]:
    """Model inputs with float arrays in ``dtype``."""
    return tuple(_cast(a, dtype) for a in inputs)
