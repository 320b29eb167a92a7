"""``DataLoader``: batches from a dataset, with a seeded, repeatable order for every epoch.

The order of epoch ``e`` is a pure function of ``(seed, e)``, so a training run resumed from
:meth:`DataLoader.state_dict` sees the same batches as an uninterrupted one. For datasets
with ``__getitems__`` (such as :class:`~ferrograd.data.ArrayDataset`) each batch is one
gather per array; any other dataset is read sample by sample and collated with
:func:`default_collate`.

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import DataLoader
>>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> loader = DataLoader((X, y), batch_size=2)
>>> [yb.tolist() for _, yb in loader]
[[0, 1], [2, 3], [4]]
>>> shuffled = DataLoader((X, y), batch_size=5, shuffle=True, seed=0)
>>> sorted(next(iter(shuffled))[1].tolist())
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable

import numpy as np

from ..exceptions import ArgumentError, DTypeError, ShapeError
from ._checks import check_int, check_seed, draw_seed
from .dataset import ArrayDataset


class DataLoader:
    """Iterates over a dataset in batches.

    Parameters
    ----------
    dataset : a Dataset (``__len__`` and ``__getitem__``), or a tuple of arrays (wrapped in
        an :class:`~ferrograd.data.ArrayDataset`).
    batch_size : samples per batch (a positive int).
    shuffle : a new order every epoch; the order of epoch ``e`` is
        ``np.random.default_rng([seed, e]).permutation(len(dataset))``.
    seed : the shuffling seed; None draws one at construction from the generator
        :func:`ferrograd.manual_seed` seeds. Unused without ``shuffle``.
    drop_last : leave out the last batch when it is smaller than ``batch_size``.
    sampler : an object with ``__iter__`` (yielding sample indices) and ``__len__``, and
        optionally ``set_epoch(e)``, which the loader calls before each epoch; batches are
        formed from its indices in order. Cannot be combined with ``shuffle``.
    collate_fn : turns a list of samples into a batch; when given, samples are always read
        one by one with ``dataset[i]``. Default: :func:`default_collate`.

    Iterating yields one batch per step: for array datasets a tuple with one array per
    dataset array (a dict of targets stays a dict); otherwise the collated samples. Every
    sample comes exactly once per epoch. :meth:`set_epoch` chooses the epoch of the next
    iteration; without it, each iteration that runs to its end moves on to the next epoch.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.zeros((10, 3), dtype=np.float32), np.arange(10)
    >>> loader = DataLoader((X, y), batch_size=4, shuffle=True, seed=7, drop_last=True)
    >>> len(loader), [xb.shape for xb, _ in loader]
    (2, [(4, 3), (4, 3)])
    >>> loader.state_dict()
    {'seed': 7, 'epoch': 1}
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        sampler: Any = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        func = "DataLoader"
        if isinstance(dataset, tuple):
            dataset = ArrayDataset(*dataset)
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise DTypeError(
                f"{func}: dataset must have __len__ and __getitem__ (or be a tuple of arrays), "
                f"got {type(dataset).__name__}"
            )
        if len(dataset) == 0:
            raise ArgumentError(f"{func}: dataset is empty")
        self.batch_size = check_int(func, "batch_size", batch_size, 1)
        self.shuffle = _check_bool(func, "shuffle", shuffle)
        self.drop_last = _check_bool(func, "drop_last", drop_last)
        if sampler is not None:
            if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
                raise DTypeError(
                    f"{func}: sampler must have __iter__ and __len__, got {type(sampler).__name__}"
                )
            if self.shuffle:
                raise ArgumentError(
                    f"{func}: sampler and shuffle=True cannot be combined; the sampler decides "
                    f"the order (shuffle inside the sampler instead)"
                )
        if collate_fn is not None and not callable(collate_fn):
            raise DTypeError(f"{func}: collate_fn must be callable, got {collate_fn!r}")
        checked = check_seed(func, seed)
        self.dataset = dataset
        self.sampler = sampler
        self.collate_fn = collate_fn
        self.seed: int = checked if checked is not None else (draw_seed() if self.shuffle else 0)
        self._epoch = 0
        self._epoch_changes = 0  # set_epoch / load_state_dict calls, to tell them apart
        n = self._num_samples()
        if n == 0:
            raise ArgumentError(f"{func}: the sampler yields no indices")
        if self.drop_last and self.batch_size > n:
            raise ArgumentError(
                f"{func}: drop_last=True with batch_size={self.batch_size} larger than the {n} "
                f"samples would yield no batch"
            )
        self._gathers = collate_fn is None and hasattr(dataset, "__getitems__")

    @property
    def epoch(self) -> int:
        """The epoch the next iteration runs."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration run epoch ``epoch`` (its order depends on seed and epoch)."""
        self._epoch = check_int("DataLoader.set_epoch", "epoch", epoch, 0)
        self._epoch_changes += 1

    def state_dict(self) -> dict[str, int]:
        """``{"seed": int, "epoch": int}``: enough to reproduce the orders of later epochs."""
        return {"seed": self.seed, "epoch": self._epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned (ints, or one-element integer arrays)."""
        func = "DataLoader.load_state_dict"
        if not isinstance(state, Mapping) or set(state) != {"seed", "epoch"}:
            got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ArgumentError(f"{func}: expected keys ['epoch', 'seed'], got {got}")
        seed = check_seed(func, _as_int(state["seed"]))
        epoch = check_int(func, "epoch", _as_int(state["epoch"]), 0)
        assert seed is not None
        self.seed, self._epoch = seed, epoch
        self._epoch_changes += 1

    def __len__(self) -> int:
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        epoch, changes = self._epoch, self._epoch_changes
        order = self._order(epoch)
        return self._batches(order, epoch, changes)

    def _num_samples(self) -> int:
        return len(self.sampler) if self.sampler is not None else len(self.dataset)

    def _order(self, epoch: int) -> np.ndarray:
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            order = np.asarray(list(self.sampler))
            if order.ndim != 1 or not (order.size == 0 or order.dtype.kind in "iu"):
                raise DTypeError(
                    f"DataLoader: the sampler must yield integer indices, got {order.dtype} "
                    f"of shape {order.shape}"
                )
            return order.astype(np.intp, copy=False)
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, epoch]).permutation(n)
        return np.arange(n)

    def _batches(self, order: np.ndarray, epoch: int, changes: int) -> Iterator[Any]:
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        dataset = self.dataset
        for start in range(0, stop, bs):
            idx = order[start : start + bs]
            if self._gathers:
                yield dataset.__getitems__(idx)
            else:
                samples = [dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)
        if self._epoch_changes == changes:  # no set_epoch while this epoch ran
            self._epoch = epoch + 1

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, seed={self.seed}, "
            f"drop_last={self.drop_last})"
        )


def default_collate(samples: list[Any]) -> Any:
    """Stacks a list of samples into a batch, field by field.

    Tuples and lists of fields give a tuple or list of stacked arrays, dicts give a dict per
    key; arrays and scalars are stacked with ``np.stack`` (Python ints become int64, floats
    float64). Samples whose fields do not match raise a ShapeError naming the field.

    Examples
    --------
    >>> import numpy as np
    >>> xb, yb = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> xb.shape, yb.tolist()
    ((2, 3), [1, 0])
    """
    if not samples:
        raise ArgumentError("default_collate: no samples to collate")
    return _collate(samples, "")


def _collate(samples: list[Any], path: str) -> Any:
    """Collates ``samples`` (the part at ``path``, such as ``[0]['a']``, of each sample)."""
    where = f", field {path}," if path else ""
    first = samples[0]
    if isinstance(first, Mapping):
        for i, s in enumerate(samples):
            if not isinstance(s, Mapping) or set(s) != set(first):
                raise ShapeError(
                    f"default_collate: sample {i}{where} does not have the keys "
                    f"{sorted(first)} of sample 0"
                )
        return {k: _collate([s[k] for s in samples], f"{path}[{k!r}]") for k in first}
    if isinstance(first, (tuple, list)):
        for i, s in enumerate(samples):
            if type(s) is not type(first) or len(s) != len(first):
                got = f"{len(s)} fields" if isinstance(s, (tuple, list)) else "no fields"
                raise ShapeError(
                    f"default_collate: sample {i}{where} is a {type(s).__name__} with {got}, "
                    f"but sample 0{where} is a {type(first).__name__} with {len(first)} fields"
                )
        fields = [_collate([s[j] for s in samples], f"{path}[{j}]") for j in range(len(first))]
        return fields if isinstance(first, list) else tuple(fields)
    arrays = [np.asarray(s) for s in samples]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise ShapeError(
                f"default_collate: sample {i}{where} has shape {a.shape}, but sample 0{where} "
                f"has shape {shape}"
            )
    return np.stack(arrays)


def _check_bool(func: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{func}: {name} must be True or False, got {value!r}")
    return bool(value)


def _as_int(value: Any) -> Any:
    """An int from an int or a one-element integer array (as a safetensors round trip
    gives)."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iu":
        return int(value.reshape(-1)[0])
    return value
