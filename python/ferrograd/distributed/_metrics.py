"""Averaging metrics and losses over the ranks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import DistributedError
from . import _world

_CALLER = "allreduce_mean"


def _as_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(getattr(value, "data", value))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{_CALLER}: {name} must be a number or a numeric array, got {arr.dtype}")
    return arr.astype(np.float64)


def _result(arr: np.ndarray) -> Any:
    return float(arr) if arr.ndim == 0 else arr


def allreduce_mean(value: Any, weight: float | None = None) -> Any:
    """The mean of ``value`` over all ranks, the same on every rank.

    Parameters
    ----------
    value : number, array, Tensor, or dict of these
        This rank's metric or loss (a dict averages each entry). Arrays are averaged
        element by element.
    weight : float, optional
        This rank's weight, usually its number of samples: the result is then
        ``sum(weight_r * value_r) / sum(weight_r)``, the mean over all samples when each
        rank's value is the mean over its own. By default every rank counts the same.

    Returns
    -------
    float, ndarray or dict
        Like ``value``: a float for a number, a float64 array for an array, a dict of these
        for a dict. NaN when every weight is 0.

    Examples
    --------
    >>> from ferrograd import distributed as dist
    >>> dist.allreduce_mean({"loss": 0.25, "accuracy": 0.5}, weight=64)   # a world of one
    {'loss': 0.25, 'accuracy': 0.5}
    """
    is_dict = isinstance(value, Mapping)
    items = {k: _as_array(repr(k), v) for k, v in value.items()} if is_dict else None
    mine = items if items is not None else {None: _as_array("value", value)}
    w = 1.0 if weight is None else float(weight)
    if not np.isfinite(w) or w < 0:
        raise ValueError(f"{_CALLER}: weight must be a finite number >= 0, got {weight!r}")
    comm = _world.communicator()
    if comm is None or comm.Get_size() == 1:
        means = mine if w > 0 else {k: np.full_like(a, np.nan) for k, a in mine.items()}
    else:
        means = _weighted_means(comm.allgather((mine, w)))
    if not is_dict:
        return _result(means[None])
    return {k: _result(means[k]) for k in mine}


def _weighted_means(gathered: list[tuple[dict[Any, np.ndarray], float]]) -> dict[Any, np.ndarray]:
    """Weighted means of the ranks' ``(values, weight)``, summed in rank order so that every
    rank computes the same numbers."""
    first, _ = gathered[0]
    shapes = {k: a.shape for k, a in first.items()}
    for r, (values, _) in enumerate(gathered):
        if {k: a.shape for k, a in values.items()} != shapes:
            raise DistributedError(
                f"{_CALLER}: rank {r} passed {_describe(values)}, rank 0 {_describe(first)}; "
                "every rank must pass the same keys and shapes"
            )
    total = sum(w for _, w in gathered)
    means = {}
    for k, a in first.items():
        acc = np.zeros_like(a)
        for values, w in gathered:
            acc += w * values[k]
        means[k] = acc / total if total > 0 else np.full_like(acc, np.nan)
    return means


def _describe(values: dict[Any, np.ndarray]) -> str:
    if list(values) == [None]:
        return f"a value of shape {values[None].shape}"
    return "{" + ", ".join(f"{k!r}: shape {a.shape}" for k, a in values.items()) + "}"
