"""The record of a training run: one row of numbers per epoch.

Examples
--------
>>> from ferrograd.train import History
>>> h = History()
>>> h.append(0, {"loss": 0.9, "val_loss": 1.0})
>>> h.append(1, {"loss": 0.5, "val_loss": 0.7})
>>> h["val_loss"]
[1.0, 0.7]
>>> h.best("val_loss")
(1, 0.7)
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ..exceptions import ArgumentError, FerrogradError


class History:
    """Per-epoch values (loss, val_loss, metrics, lr, seconds) of a training run.

    ``history[key]`` is the list of values of one column, one per recorded epoch; an epoch
    that did not record a column holds NaN there. ``history.epoch`` lists the epoch numbers
    (counted from 0). :meth:`~ferrograd.train.Trainer.fit` returns one.

    Attributes
    ----------
    history : dict of str to list of float
        The columns, as Keras' ``History.history``.
    epoch : list of int
        The epoch number of each row.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    # ------------------------------------------------------------------ recording
    def append(self, epoch: int, logs: Mapping[str, Any]) -> None:
        """Adds the row of ``epoch``; keys not seen before become new columns."""
        n = len(self.epoch)
        for key in logs:
            if key not in self.history:
                self.history[key] = [math.nan] * n
        self.epoch.append(int(epoch))
        for key, column in self.history.items():
            value = logs.get(key, math.nan)
            column.append(float(value))

    # ------------------------------------------------------------------ reading
    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(
                f"History has no column {key!r}; it has {sorted(self.history)}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __iter__(self) -> Iterator[str]:
        return iter(self.history)

    def keys(self) -> list[str]:
        """The column names."""
        return list(self.history)

    def last(self) -> dict[str, float]:
        """The last row as a dict (empty before the first epoch)."""
        if not self.epoch:
            return {}
        return {k: v[-1] for k, v in self.history.items()}

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> tuple[int, float]:
        """The epoch with the best value of ``monitor`` and that value.

        ``mode`` "min", "max" or "auto" (max for accuracy-like names, min otherwise).
        """
        values = self[monitor]
        sign = -1.0 if resolve_mode(mode, monitor) == "max" else 1.0
        finite = [(sign * v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            raise FerrogradError(f"History.best: {monitor!r} has no finite value")
        _, i = min(finite)
        return self.epoch[i], values[i]

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, columns={self.keys()})"

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        """The columns and epoch numbers as plain lists (for checkpoints)."""
        return {"history": {k: list(v) for k, v in self.history.items()}, "epoch": list(self.epoch)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""
        self.history = {str(k): [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Writes one row per epoch: ``epoch`` then every column."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *self.history])
            for i, e in enumerate(self.epoch):
                writer.writerow([e, *(repr(col[i]) for col in self.history.values())])

    def plot(
        self, path: str | os.PathLike[str], keys: list[str] | None = None, title: str | None = None
    ) -> None:
        """Draws the training and validation curves into a PNG file (needs matplotlib).

        One panel per quantity: ``loss`` with ``val_loss``, ``accuracy`` with
        ``val_accuracy``, and so on; ``lr`` and ``seconds`` are left out unless named in
        ``keys``.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise FerrogradError(
                "History.plot needs matplotlib, an optional extra: pip install 'ferrograd[plot]'"
            ) from None
        if keys is None:
            keys = [k for k in self.history if not k.startswith("val_") and k not in _NOT_PLOTTED]
            keys += [k[4:] for k in self.history if k.startswith("val_") and k[4:] not in keys]
        if not keys:
            raise FerrogradError("History.plot: there is nothing to plot yet")
        fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.5), squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, key in zip(axes[0], keys):
            for name, label in ((key, "train"), (f"val_{key}", "validation")):
                if name in self.history:
                    ax.plot(epochs, self.history[name], marker=".", label=label)
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


_NOT_PLOTTED = ("lr", "seconds")

_MAX_WORDS = ("acc", "accuracy", "auc", "f1", "precision", "recall", "r2")


def resolve_mode(mode: str, monitor: str) -> str:
    """ "min" or "max" for ``monitor``; "auto" picks "max" for accuracy-like names."""
    if mode not in ("auto", "min", "max"):
        raise ArgumentError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    base = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if any(base == w or base.endswith("_" + w) for w in _MAX_WORDS) else "min"
