"""Full training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint is one safetensors file (tensors, plus the rest as JSON in its header; no
pickle) holding the model, the optimizer, the scheduler, the callbacks' state, the history,
the epoch and step, the loader's shuffling seed and the random generator's state.
:class:`~ferrograd.train.ModelCheckpoint` writes them, ``Trainer.fit(resume_from=...)`` reads
them.

Examples
--------
>>> import numpy as np, os, tempfile
>>> from ferrograd import nn, optim
>>> from ferrograd.train import Trainer
>>> model = nn.Linear(2, 1)
>>> trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
>>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
>>> trainer.save_checkpoint(path)
>>> trainer.load_checkpoint(path)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import random as fg_random
from ..exceptions import FerrogradError
from .history import History

if TYPE_CHECKING:
    from .trainer import Trainer

FORMAT = "ferrograd.train.checkpoint/1"


def read(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The state in a full checkpoint file; an error for any other file."""
    from ..serialization import load

    state = load(path)
    if not isinstance(state, Mapping) or state.get("format") != FORMAT:
        raise FerrogradError(
            f"load_checkpoint: {os.fspath(path)} is not a full training checkpoint (write "
            "one with ModelCheckpoint(save_weights_only=False) or Trainer.save_checkpoint)"
        )
    return state


def state_of(trainer: Trainer, next_epoch: int) -> dict[str, Any]:
    """The state of ``trainer`` at the end of an epoch, ``next_epoch`` being the next one."""
    loader = trainer._train_loader
    return {
        "format": FORMAT,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "history": trainer.history.state_dict(),
        "epoch": next_epoch,
        "step": trainer.global_step,
        "stop_training": trainer.stop_training,
        "callbacks": [cb.state_dict() for cb in trainer.callbacks],
        "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
        "sampler_seed": getattr(getattr(loader, "sampler", None), "seed", None),
        "rng": fg_random.get_rng_state(),
    }


def restore(trainer: Trainer, state: Mapping[str, Any], loader: Any) -> None:
    """Puts ``state`` back into ``trainer`` (and ``loader``, its training data loader)."""
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(_as_optimizer_state(state["optimizer"]))
    if trainer.scheduler is not None:
        if state.get("scheduler") is None:
            raise FerrogradError(
                "load_checkpoint: the trainer has a scheduler but the checkpoint has none"
            )
        trainer.scheduler.load_state_dict(dict(state["scheduler"]))
    trainer.history = History()
    trainer.history.load_state_dict(state["history"])
    trainer.initial_epoch = trainer.epoch = int(state["epoch"])
    trainer.global_step = int(state["step"])
    trainer.stop_training = bool(state.get("stop_training", False))
    saved_cbs = list(state.get("callbacks") or [])
    if len(saved_cbs) == len(trainer.callbacks):
        for cb, cb_state in zip(trainer.callbacks, saved_cbs):
            if cb_state:
                cb.load_state_dict(cb_state)
    elif trainer.callbacks:
        warnings.warn(
            "load_checkpoint: the checkpoint was written with a different list of "
            "callbacks; their state is not restored",
            stacklevel=3,
        )
    if loader is not None and state.get("loader") and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(dict(state["loader"]))
    sampler = getattr(loader, "sampler", None)
    if sampler is not None and state.get("sampler_seed") is not None:
        sampler.seed = int(state["sampler_seed"])
    fg_random.set_rng_state(state["rng"])


def _as_optimizer_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """An optimizer state dict read back from a checkpoint (JSON turns tuples into lists)."""
    groups = []
    for g in state["param_groups"]:
        g = dict(g)
        for key in ("betas", "etas", "step_sizes"):
            if isinstance(g.get(key), list):
                g[key] = tuple(g[key])
        groups.append(g)
    return {"state": {int(k): dict(v) for k, v in state["state"].items()}, "param_groups": groups}
