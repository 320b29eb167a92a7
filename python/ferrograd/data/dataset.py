"""Datasets: the ``Dataset`` protocol and ``ArrayDataset``, samples held in NumPy arrays.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one sample (a tuple
of arrays or scalars, or a dict). A dataset that also has ``__getitems__(indices)`` returns
a whole batch at once; :class:`~ferrograd.data.DataLoader` then gathers each batch in one
step per array instead of sample by sample.

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import ArrayDataset
>>> ds = ArrayDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
>>> len(ds), ds[1]
(3, (array([2., 3.]), np.int64(1)))
>>> xb, yb = ds.__getitems__([2, 0])
>>> xb.tolist(), yb.tolist()
([[4.0, 5.0], [0.0, 1.0]], [0, 0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .. import _core
from ..exceptions import ArgumentError, DTypeError
from ._checks import as_numpy, same_length


@runtime_checkable
class Dataset(Protocol):
    """Anything with ``__len__`` and ``__getitem__(i)`` (one sample per index).

    Subclass it (like PyTorch's ``Dataset``) or just provide the two methods.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


class ArrayDataset:
    """Samples held in arrays that share their first dimension: sample ``i`` is the ``i``-th
    row of each.

    Parameters
    ----------
    *arrays : array-likes or Tensors (converted with ``np.asarray``, no copy when already
        arrays). The last one may be a dict of target arrays, for a model with several
        outputs: ``ArrayDataset(X, {"a": y_a, "b": y_b})``.

    Attributes
    ----------
    arrays : tuple of the arrays (a dict of targets stays a dict inside).

    Examples
    --------
    >>> import numpy as np
    >>> ds = ArrayDataset(np.zeros((4, 2)), {"kind": np.arange(4), "size": np.ones(4)})
    >>> x, targets = ds.__getitems__(np.array([3, 1]))
    >>> x.shape, targets["kind"].tolist()
    ((2, 2), [3, 1])
    """

    def __init__(self, *arrays: Any) -> None:
        func = "ArrayDataset"
        if not arrays:
            raise ArgumentError(f"{func}: at least one array is required")
        converted: list[Any] = []
        named: dict[str, np.ndarray] = {}
        for i, a in enumerate(arrays):
            if isinstance(a, Mapping):
                if i != len(arrays) - 1:
                    raise DTypeError(f"{func}: only the last argument may be a dict of targets")
                if not a:
                    raise ArgumentError(f"{func}: the dict of targets is empty")
                targets = {}
                for key, value in a.items():
                    targets[key] = as_numpy(func, f"arrays[{i}][{key!r}]", value)
                    named[f"arrays[{i}][{key!r}]"] = targets[key]
                converted.append(targets)
            else:
                converted.append(as_numpy(func, f"arrays[{i}]", a))
                named[f"arrays[{i}]"] = converted[-1]
        self._length = same_length(func, named)
        self.arrays: tuple[Any, ...] = tuple(converted)
        self._row_bytes = tuple(_rust_row_bytes(a) for a in self.arrays)
        self._plain = not any(isinstance(a, dict) for a in self.arrays)
        self._widest = max((rb for rb in self._row_bytes if isinstance(rb, int)), default=0)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(_take(a, index) for a in self.arrays)

    def __getitems__(self, indices: Sequence[int] | np.ndarray) -> tuple[Any, ...]:
        """A whole batch: each array gathered once at ``indices`` (dict targets give a dict)."""
        idx = np.asarray(indices, dtype=np.intp)
        if self._plain and self._widest * len(idx) < _RUST_GATHER_BYTES:
            return tuple([a.take(idx, 0) for a in self.arrays])  # the common small case
        return tuple([_gather(a, idx, rb) for a, rb in zip(self.arrays, self._row_bytes)])

    def __repr__(self) -> str:
        shapes = [
            {k: v.shape for k, v in a.items()} if isinstance(a, dict) else a.shape
            for a in self.arrays
        ]
        return f"ArrayDataset({', '.join(map(str, shapes))})"


def _take(a: Any, index: Any) -> Any:
    if isinstance(a, dict):
        return {k: v[index] for k, v in a.items()}
    return a[index]


#: Batches of at least this many bytes are gathered by the extension, which prefetches the
#: rows ahead while it copies (shuffled rows of a large array each start with a cache miss:
#: 128 rows of 784 float32 take 26 us there against 46 us with ``ndarray.take``); smaller
#: ones by NumPy, whose call costs less.
_RUST_GATHER_BYTES = 1 << 16

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _rust_row_bytes(a: Any) -> Any:
    """Bytes per row of an array the extension can gather (0 for others), per key for a dict."""
    if isinstance(a, dict):
        return {k: _rust_row_bytes(v) for k, v in a.items()}
    if a.dtype in _FLOATS and a.ndim >= 1 and a.flags.c_contiguous and len(a):
        return a.nbytes // len(a)
    return 0


def _gather(a: Any, idx: np.ndarray, row_bytes: Any) -> Any:
    if isinstance(a, dict):
        return {k: _gather(v, idx, row_bytes[k]) for k, v in a.items()}
    if row_bytes * len(idx) >= _RUST_GATHER_BYTES:
        return _core.take_rows(a, idx.astype(np.int64, copy=False))
    # ``a.take(idx, 0)`` copies whole rows; for 2-D arrays it is 2-3x faster than ``a[idx]``.
    return a.take(idx, 0)
