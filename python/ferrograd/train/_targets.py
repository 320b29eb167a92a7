"""Losses, outputs and targets of single- and multi-target models, handled alike.

A model may return one output or several (a dict by name, or a tuple); the loss is then a
dict (or list) with one loss per output and optional weights. Internally everything is a
list of named heads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import DTypeError, FerrogradError, ShapeError
from ..tensor import Tensor
from . import _metrics


class Head:
    """One output of the model with its loss, weight and metrics."""

    def __init__(self, key: Any, name: str, loss_fn: Any, weight: float, metrics: Any) -> None:
        if not callable(loss_fn):
            raise DTypeError(f"Trainer: the loss of {name!r} is not callable: {loss_fn!r}")
        if isinstance(loss_fn, type):
            raise DTypeError(
                f"Trainer: the loss {loss_fn.__name__} is a class; pass an instance, e.g. "
                f"{loss_fn.__name__}()"
            )
        self.key = key
        self.name = name
        self.loss_fn = loss_fn
        self.weight = float(weight)
        self.task = _metrics.task_of(loss_fn)
        self.metrics = _metrics.build(metrics, loss_fn)


class Heads:
    """The heads of a model, in order, and how outputs and targets are split among them."""

    def __init__(self, loss: Any, loss_weights: Any, metrics: Any) -> None:
        self.kind = "single"
        if isinstance(loss, Mapping):
            self.kind = "dict"
            keys: list[Any] = list(loss)
            losses = [loss[k] for k in keys]
            names = [str(k) for k in keys]
        elif isinstance(loss, (list, tuple)):
            self.kind = "tuple"
            keys = list(range(len(loss)))
            losses = list(loss)
            names = [f"output{i}" for i in keys]
        else:
            keys, losses, names = [None], [loss], [""]
        weights = _per_head("loss_weights", loss_weights, keys, names, 1.0)
        per_metrics = _per_head("metrics", metrics, keys, names, None, nested=True)
        if self.kind == "single" and not losses:
            raise FerrogradError("Trainer: no loss given")
        self.heads = [
            Head(k, n, fn, w, m)
            for k, n, fn, w, m in zip(keys, names, losses, weights, per_metrics)
        ]

    @property
    def single(self) -> bool:
        return self.kind == "single"

    def split_output(self, output: Any) -> list[Any]:
        if self.single:
            return [output]
        if self.kind == "dict":
            if not isinstance(output, Mapping):
                raise FerrogradError(
                    "Trainer: the loss is a dict, so the model must return a dict of outputs, "
                    f"but it returned {type(output).__name__}"
                )
            missing = [h.key for h in self.heads if h.key not in output]
            if missing:
                raise FerrogradError(
                    f"Trainer: the model's outputs {sorted(map(str, output))} lack {missing}"
                )
            return [output[h.key] for h in self.heads]
        if not isinstance(output, (list, tuple)) or len(output) != len(self.heads):
            raise FerrogradError(
                f"Trainer: the loss is a list of {len(self.heads)}, so the model must return "
                f"a tuple of {len(self.heads)} outputs"
            )
        return list(output)

    def split_target(self, target: Any) -> list[Any]:
        if self.single:
            return [target]
        if self.kind == "dict":
            if not isinstance(target, Mapping):
                raise FerrogradError(
                    "Trainer: the loss is a dict, so the targets must be a dict of arrays by "
                    f"output name, got {type(target).__name__}"
                )
            missing = [h.key for h in self.heads if h.key not in target]
            if missing:
                raise FerrogradError(f"Trainer: the targets lack {missing}")
            return [target[h.key] for h in self.heads]
        if not isinstance(target, (list, tuple)) or len(target) != len(self.heads):
            raise FerrogradError(
                f"Trainer: the loss is a list of {len(self.heads)}, so the targets must be a "
                f"tuple of {len(self.heads)} arrays"
            )
        return list(target)

    def log_name(self, head: Head, what: str) -> str:
        """``"loss"``/``"accuracy"`` for one head, ``"<name>_loss"`` for several."""
        return what if self.single else f"{head.name}_{what}"


def _per_head(
    what: str, value: Any, keys: list[Any], names: list[str], default: Any, nested: bool = False
) -> list[Any]:
    if value is None:
        return [default] * len(keys)
    if len(keys) == 1 and keys[0] is None:
        return [value]
    if isinstance(value, Mapping) and all(k in keys or k in names for k in value):
        return [value.get(k, value.get(n, default)) for k, n in zip(keys, names)]
    if not nested and isinstance(value, (list, tuple)) and len(value) == len(keys):
        return list(value)
    if nested:
        return [value] * len(keys)  # the same metrics for every output
    raise FerrogradError(f"Trainer: {what} must give one value per output ({names}), got {value!r}")


def as_array(x: Any) -> Any:
    """NumPy data of a Tensor (recursively through dicts and tuples)."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, Mapping):
        return {k: as_array(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(as_array(v) for v in x)
    return x


def batch_size_of(batch: Sequence[Any]) -> int:
    """Number of samples in a batch (the first axis of its first array)."""
    first = batch[0]
    while isinstance(first, (Mapping, list, tuple)):
        first = next(iter(first.values())) if isinstance(first, Mapping) else first[0]
    shape = np.shape(first)
    if not shape:
        raise ShapeError("Trainer: a batch's input has no batch axis (it is 0-d)")
    return int(shape[0])
