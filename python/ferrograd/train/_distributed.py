"""Data-parallel training for the Trainer: sharded epochs, averaged logs, captured steps
whose gradients go straight into the Allreduce buffer (see ``Trainer(distributed=True)``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import random as fg_random
from . import _data

if TYPE_CHECKING:
    from .trainer import Trainer


def sharded_loader(train: Any, dtype: np.dtype[Any], batch_size: int, shuffle: bool) -> Any:
    """This rank's loader: the data sharded by a DistributedSampler whose seed all ranks
    share (rank 0's)."""
    from .. import distributed as dist
    from ..data import DataLoader

    given = train if _data.is_loader(train) else None
    if given is not None and given.sampler is not None:
        return given  # the user's own sampler decides
    base = (
        given if given is not None else _data.make_loader(train, dtype, "train", batch_size, False)
    )
    seed = base.seed if given is not None and given.shuffle else None
    if seed is None:
        seed = int(fg_random.default_generator().integers(2**62))
    seed = int(dist.broadcast_object(seed))
    sampler = dist.DistributedSampler(
        len(base.dataset), shuffle=given.shuffle if given is not None else shuffle, seed=seed
    )
    return DataLoader(
        base.dataset,
        batch_size=base.batch_size,
        sampler=sampler,
        drop_last=base.drop_last,
        collate_fn=base.collate_fn,
    )


def averaged(logs: dict[str, Any]) -> dict[str, Any]:
    """The epoch's training loss and metrics averaged over the ranks, weighted by their
    sample counts (equal when the sampler pads the shards)."""
    from .. import distributed as dist

    n = float(logs.pop("_samples", 1))
    return {k: float(v) for k, v in dist.allreduce_mean(logs, weight=n).items()}


def captured_step(trainer: Trainer, step: Any) -> Any:
    """A captured step for several ranks: gradients straight into the allreduce buffer,
    one Allreduce, then the optimizer's fused update."""
    from .. import distributed as dist

    params = [p for p in trainer.model.parameters() if p.requires_grad]
    optimizer = trainer.optimizer

    def run(x: Any, y: Any, *, keep_output: bool, skip_non_finite: bool) -> Any:
        views = dist.gradient_views(params)
        loss, out = step.gradients(x, y, views, keep_output=keep_output)
        if skip_non_finite and not math.isfinite(loss):
            return loss, out
        if views is not None:  # None in a world of one: the gradients are in p.grad
            for p, v in zip(params, views):
                p.grad = v
        dist.allreduce_gradients(params)
        optimizer.step()
        return loss, out

    return run
