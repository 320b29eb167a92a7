"""Callbacks: code that runs at fixed points of :meth:`Trainer.fit`.

A callback overrides any of the hooks below; the trainer calls them in the order the
callbacks were given. ``logs`` is the dict of numbers of the epoch (``loss``, ``val_loss``,
metrics, ``lr``) or of the batch (``loss``, ``size``). Setting ``trainer.stop_training =
True`` ends training after the current epoch.

Callbacks with state (best value seen, epochs waited) save it with :meth:`state_dict`, so a
run resumed from a full checkpoint behaves as if it had never stopped.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, optim
>>> from ferrograd.train import Trainer, EarlyStopping
>>> x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
>>> y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
>>> model = nn.Linear(3, 1)
>>> trainer = Trainer(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.05),
...                   metrics=[])
>>> stop = EarlyStopping(monitor="loss", patience=2)
>>> history = trainer.fit((x, y), epochs=200, batch_size=16, callbacks=[stop], verbose=0)
>>> len(history) < 200
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from .. import _check
from ..exceptions import ArgumentError, DTypeError, FerrogradError
from .history import resolve_mode

if TYPE_CHECKING:
    from .trainer import Trainer

Logs = dict[str, float]

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "LRScheduler",
    "LambdaCallback",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
]


class Callback:
    """Base class: every hook does nothing.

    Attributes
    ----------
    trainer : Trainer
        Set by the trainer before ``on_train_begin``.
    """

    trainer: Trainer
    #: In data-parallel training, run only on rank 0 (callbacks that write files).
    main_only: bool = False

    def set_trainer(self, trainer: Trainer) -> None:
        """Called once before training starts."""
        self.trainer = trainer

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Before the first epoch (also when resuming)."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """After the last epoch, or after early stopping."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before each epoch (numbered from 0)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After each epoch, with its loss, validation results, metrics and lr."""

    def on_batch_begin(self, step: int, logs: Logs | None = None) -> None:
        """Before each optimizer step (``step`` counts steps since training began)."""

    def on_batch_end(self, step: int, logs: Logs | None = None) -> None:
        """After each optimizer step, with the batch ``loss`` and ``size``."""

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue as this one would have (plain data)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`state_dict`."""


def _monitored(name: str, monitor: str, logs: Logs | None) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        return None
    return float(value)


class _Monitor:
    """Tracks the best value of one monitored quantity."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor = monitor
        self.mode = resolve_mode(mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stops training when a monitored quantity has stopped improving.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, e.g. ``"val_loss"`` (default) or ``"val_accuracy"``.
    patience : int
        Epochs without improvement after which training stops.
    min_delta : float
        An improvement must beat the best value by more than this.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; "auto" picks from the name.
    restore_best_weights : bool
        At the end of training, put back the parameters and buffers of the best epoch.
    baseline : float, optional
        Training stops if the monitored value has not beaten this after ``patience`` epochs.
    start_from_epoch : int
        Epochs to wait before counting (a warm-up).

    Attributes
    ----------
    stopped_epoch : int or None
        The epoch after which training was stopped (None if it ran to the end).
    best_epoch : int or None
        The epoch with the best monitored value.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: Optional[float] = None,
        start_from_epoch: int = 0,
    ) -> None:
        _check.count("EarlyStopping", "patience", patience)
        _check.count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self._tracker = _Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = baseline
        self.start_from_epoch = int(start_from_epoch)
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None
        if baseline is not None:
            self._tracker.best = float(baseline)

    @property
    def best(self) -> float:
        """The best monitored value so far."""
        return self._tracker.best

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored("EarlyStopping", self.monitor, logs)
        if value is None:
            raise FerrogradError(
                f"EarlyStopping: monitor {self.monitor!r} is not in the epoch logs "
                f"(available: {sorted(logs or {})}); pass validation data for 'val_' keys"
            )
        if epoch < self.start_from_epoch:
            return
        if self._tracker.improved(value):
            self._tracker.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "best": self._tracker.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.wait = int(state["wait"])
        self._tracker.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else dict(weights)


class ModelCheckpoint(Callback):
    """Saves a checkpoint after each epoch (or only when the monitored value improves).

    With ``save_weights_only=False`` (default) the file is a full training checkpoint:
    model, optimizer, scheduler, callbacks, history, epoch and random state, from which
    ``fit(resume_from=path)`` continues exactly. With ``save_weights_only=True`` it is the
    model's state dict, loadable with :meth:`Module.load` (and by PyTorch's safetensors
    loader). Files are written atomically: a crash never leaves a half-written checkpoint, and
    an epoch whose loss was not finite is never saved.

    Parameters
    ----------
    path : str or PathLike
        The file; may contain fields of the epoch logs, e.g.
        ``"ckpt-{epoch:03d}-{val_loss:.3f}.safetensors"`` (``epoch`` counts from 1).
    monitor : str
        The quantity ``save_best_only`` compares (default ``"val_loss"``).
    save_best_only : bool
        Save only when ``monitor`` improves.
    save_weights_only : bool
        Save only the model's parameters and buffers.
    mode : {"auto", "min", "max"}
    """

    main_only = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
    ) -> None:
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self._tracker = _Monitor(monitor, mode, 0.0)
        self.last_saved: str | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if value is None:
                raise FerrogradError(
                    f"ModelCheckpoint: monitor {self.monitor!r} is not in the epoch logs "
                    f"(available: {sorted(logs)})"
                )
            if not self._tracker.improved(value):
                return
            self._tracker.best = value
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as e:
            raise FerrogradError(
                f"ModelCheckpoint: cannot fill in path {self.path!r} from the epoch logs "
                f"{sorted(logs)}: {e}"
            ) from None
        if self.save_weights_only:
            self.trainer.model.save(path)
        else:
            self.trainer.save_checkpoint(path, _pending_epoch=epoch)
        self.last_saved = path

    def state_dict(self) -> dict[str, Any]:
        return {"best": self._tracker.best, "last_saved": self.last_saved}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._tracker.best = float(state["best"])
        self.last_saved = state.get("last_saved")


class LRScheduler(Callback):
    """Steps a learning-rate scheduler once per epoch or once per optimizer step.

    Parameters
    ----------
    scheduler : optim.lr_scheduler.LRScheduler
        Built on the trainer's optimizer.
    per : {"epoch", "step"}
        ``"step"`` for schedules defined in steps, such as :class:`OneCycleLR`.
    """

    def __init__(self, scheduler: Any, per: str = "epoch") -> None:
        if per not in ("epoch", "step"):
            raise ArgumentError(f"LRScheduler: per must be 'epoch' or 'step', got {per!r}")
        if not hasattr(scheduler, "step") or not hasattr(scheduler, "state_dict"):
            raise DTypeError(
                f"LRScheduler: scheduler must be a learning-rate scheduler, got "
                f"{type(scheduler).__name__}"
            )
        self.scheduler = scheduler
        self.per = per
        if per == "step":
            self.on_batch_end = self._step_per_batch  # type: ignore[method-assign]

    def _step_per_batch(self, step: int, logs: Logs | None = None) -> None:
        self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.per == "epoch":
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.scheduler.load_state_dict(dict(state["scheduler"]))


class ReduceLROnPlateau(Callback):
    """Lowers the learning rate when a monitored quantity stops improving.

    A thin driver around :class:`ferrograd.optim.lr_scheduler.ReduceLROnPlateau`, fed
    ``logs[monitor]`` after each epoch; the other arguments are that class's.

    Parameters
    ----------
    monitor : str
        Default ``"val_loss"``.
    mode : {"auto", "min", "max"}
    factor, patience, threshold, threshold_mode, cooldown, min_lr, eps
        As in :class:`ferrograd.optim.lr_scheduler.ReduceLROnPlateau`.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", **kwargs: Any) -> None:
        self.monitor = monitor
        self.mode = resolve_mode(mode, monitor)
        self.kwargs = kwargs
        self.scheduler: Any = None
        self._pending_state: Mapping[str, Any] | None = None

    def set_trainer(self, trainer: Trainer) -> None:
        from ..optim.lr_scheduler import ReduceLROnPlateau as Plateau

        super().set_trainer(trainer)
        if self.scheduler is None or self.scheduler.optimizer is not trainer.optimizer:
            self.scheduler = Plateau(trainer.optimizer, mode=self.mode, **self.kwargs)
        if self._pending_state is not None:
            self.scheduler.load_state_dict(dict(self._pending_state))
            self._pending_state = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored("ReduceLROnPlateau", self.monitor, logs)
        if value is None:
            raise FerrogradError(
                f"ReduceLROnPlateau: monitor {self.monitor!r} is not in the epoch logs "
                f"(available: {sorted(logs or {})})"
            )
        self.scheduler.step(value)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "scheduler" not in state:
            return
        if self.scheduler is None:
            self._pending_state = state["scheduler"]
        else:
            self.scheduler.load_state_dict(dict(state["scheduler"]))


class CSVLogger(Callback):
    """Appends one CSV row per epoch (``epoch`` then the logs), flushed after each epoch.

    Parameters
    ----------
    path : str or PathLike
    separator : str
    append : bool
        Keep an existing file and add rows to it (used when resuming).
    """

    main_only = True

    def __init__(
        self, path: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.separator = separator
        self.append = bool(append)
        self._keys: list[str] | None = None
        self._file: Any = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        resuming = self.trainer.initial_epoch > 0
        keep = (self.append or resuming) and os.path.exists(self.path)
        if keep:
            with open(self.path) as f:
                header = f.readline().rstrip("\n")
            self._keys = header.split(self.separator)[1:] if header else None
        else:
            self._keys = None
        self._file = open(self.path, "a" if keep else "w", newline="")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        import csv

        logs = logs or {}
        writer = csv.writer(self._file, delimiter=self.separator)
        if self._keys is None:
            self._keys = list(logs)
            writer.writerow(["epoch", *self._keys])
        writer.writerow([epoch, *(repr(float(logs.get(k, math.nan))) for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LambdaCallback(Callback):
    """A callback made of plain functions, for quick one-off hooks.

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : callable(epoch, logs), optional
    on_batch_begin, on_batch_end : callable(step, logs), optional
    on_train_begin, on_train_end : callable(logs), optional

    Examples
    --------
    >>> from ferrograd.train import LambdaCallback
    >>> seen = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    """

    def __init__(
        self,
        on_epoch_begin: Callable[[int, Logs], Any] | None = None,
        on_epoch_end: Callable[[int, Logs], Any] | None = None,
        on_batch_begin: Callable[[int, Logs], Any] | None = None,
        on_batch_end: Callable[[int, Logs], Any] | None = None,
        on_train_begin: Callable[[Logs], Any] | None = None,
        on_train_end: Callable[[Logs], Any] | None = None,
    ) -> None:
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
        }
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise DTypeError(
                    f"LambdaCallback: {name} must be callable, got {type(fn).__name__}"
                )
            setattr(self, name, fn)


def overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` does something in ``hook`` (so per-batch hooks that do nothing
    cost nothing)."""
    if hook in vars(callback):
        return True
    return getattr(type(callback), hook) is not getattr(Callback, hook)
