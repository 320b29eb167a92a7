"""DistributedSampler: each rank's share of every epoch, disjoint from the others'."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _world

__all__ = ["DistributedSampler"]


def _count(caller: str, name: str, value: Any, minimum: int) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{caller}: {name} must be an int, got {type(value).__name__}") from None
    if n < minimum:
        raise ValueError(f"{caller}: {name} must be >= {minimum}, got {n}")
    return n


class DistributedSampler:
    """The indices of this rank's share of a dataset, reshuffled every epoch.

    Each epoch the indices ``0 .. n-1`` are shuffled by a permutation that depends only on
    ``seed`` and the epoch (so every rank computes the same one without communicating), made
    a multiple of ``num_replicas`` long, and dealt out in turn: rank ``r`` takes positions
    ``r, r + num_replicas, r + 2 * num_replicas, ...``. The shards are disjoint and of equal
    size, and together they hold every sample of the epoch. Batch ``k`` of size ``b`` on each
    rank is therefore, across the ranks, the consecutive positions ``k*b*R .. (k+1)*b*R - 1``
    of the epoch's order: ``R`` ranks with batches of ``b`` step as one process with batches
    of ``b*R`` on the same order.

    Parameters
    ----------
    dataset_or_len : int or sized
        The dataset (anything with ``len``) or its number of samples.
    num_replicas : int, optional
        Number of ranks (default :func:`world_size`).
    rank : int, optional
        This rank (default :func:`rank`).
    shuffle : bool
        Shuffle every epoch (default); False deals out ``0 .. n-1`` in order.
    seed : int
        Seed of the shuffle; must be the same on every rank.
    drop_last : bool
        When ``n`` is not a multiple of ``num_replicas``: False (default) pads the order by
        repeating its first indices, so a few samples are seen twice in the epoch; True drops
        the last ``n % num_replicas`` indices of the order, so a few are not seen.

    Examples
    --------
    >>> from ferrograd.distributed import DistributedSampler
    >>> s = DistributedSampler(10, num_replicas=2, rank=1, shuffle=False)
    >>> list(s), len(s)
    ([1, 3, 5, 7, 9], 5)
    >>> s = DistributedSampler(10, num_replicas=3, rank=0, seed=7)
    >>> s.set_epoch(1)      # call at the start of every epoch, on every rank
    >>> len(s)
    4
    """

    def __init__(
        self,
        dataset_or_len: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        name = "DistributedSampler"
        if isinstance(dataset_or_len, (int, np.integer)) and not isinstance(dataset_or_len, bool):
            n = int(dataset_or_len)
        elif hasattr(dataset_or_len, "__len__"):
            n = len(dataset_or_len)
        else:
            raise TypeError(
                f"{name}: dataset_or_len must be a dataset with a length or an int, got "
                f"{type(dataset_or_len).__name__}"
            )
        if n < 0:
            raise ValueError(f"{name}: the dataset length must be >= 0, got {n}")
        if num_replicas is None:
            num_replicas = _world.world_size()
        num_replicas = _count(name, "num_replicas", num_replicas, 1)
        if rank is None:
            rank = _world.rank()
        rank = _count(name, "rank", rank, 0)
        if rank >= num_replicas:
            raise ValueError(
                f"{name}: invalid rank {rank}, rank should be in the interval "
                f"[0, {num_replicas - 1}]"
            )
        self.n = n
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = bool(shuffle)
        self.seed = _count(name, "seed", seed, 0)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if drop_last:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which picks the shuffle (call it on every rank before each epoch;
        without it every epoch has the same order)."""
        self.epoch = _count("DistributedSampler.set_epoch", "epoch", epoch, 0)

    def epoch_order(self) -> np.ndarray:
        """The whole epoch's order of indices before it is dealt out (the same on every
        rank), padded or cut to ``total_size``."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.total_size > self.n and self.n > 0:
            order = np.resize(order, self.total_size)  # repeats from the start
        return order[: self.total_size]

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        return self.epoch_order()[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, "
            f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
            f"drop_last={self.drop_last}, epoch={self.epoch})"
        )
