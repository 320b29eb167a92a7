"""Scaling the learning rate with the number of ranks."""

from __future__ import annotations

import math

from ..optim.optimizer import Optimizer
from . import _world


def scale_lr(optimizer: Optimizer, world_size: int | None = None, rule: str = "linear") -> float:
    """Multiplies the learning rate of every parameter group by a factor of the world size.

    With ``R`` ranks each taking a batch of ``b``, a step averages over ``R * b`` samples; the
    linear rule (Goyal et al., 2017) keeps the per-sample step size of a ``b``-sample run by
    multiplying the learning rate by ``R``, the square-root rule by ``sqrt(R)``. Large factors
    usually need a warm-up (``optim.lr_scheduler.LinearLR``). Call it once, on every rank,
    before creating a scheduler (schedulers start from the groups' learning rates then).

    Parameters
    ----------
    optimizer : Optimizer
        Its groups' ``lr`` (and ``initial_lr``, if a scheduler already set one) are scaled.
    world_size : int, optional
        Number of ranks (default :func:`world_size`).
    rule : {"linear", "sqrt"}
        The factor: ``world_size`` or ``sqrt(world_size)``.

    Returns
    -------
    float
        The factor applied.

    Examples
    --------
    >>> from ferrograd import distributed as dist, nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    >>> dist.scale_lr(opt, world_size=4)
    4.0
    >>> opt.param_groups[0]["lr"]
    0.4
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"scale_lr: expected an Optimizer, got {type(optimizer).__name__}")
    if world_size is None:
        world_size = _world.world_size()
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"scale_lr: world_size must be a positive int, got {world_size!r}")
    if rule == "linear":
        factor = float(world_size)
    elif rule == "sqrt":
        factor = math.sqrt(world_size)
    else:
        raise ValueError(f"scale_lr: rule must be 'linear' or 'sqrt', got {rule!r}")
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
        if "initial_lr" in group:
            group["initial_lr"] = group["initial_lr"] * factor
    return factor
