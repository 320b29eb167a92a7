"""Starting every rank from the same point: parameters, buffers and optimizer state of the
root rank, sent once at the start of training."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.module import Module
from ..optim.optimizer import Optimizer
from . import _world
from ._params import tensors_of


def _arrays_of(module_or_params: Any) -> list[tuple[str, Any, Any]]:
    """``(name, owner, key)`` of each array to send: ``owner`` is a Tensor (its ``.data``) or
    a buffer dict (its ``[key]``)."""
    caller = "broadcast_parameters"
    if not isinstance(module_or_params, Module):
        return [
            (f"params[{i}]", p, None) for i, p in enumerate(tensors_of(caller, module_or_params))
        ]
    out: list[tuple[str, Any, Any]] = [
        (name, p, None) for name, p in module_or_params.named_parameters()
    ]
    for prefix, m in module_or_params.named_modules():
        for key, b in m._buffers.items():
            if b is not None:
                out.append((f"{prefix}.{key}" if prefix else key, m._buffers, key))
    return out


def _get(owner: Any, key: Any) -> np.ndarray:
    return owner.data if key is None else owner[key]


def _set(owner: Any, key: Any, value: np.ndarray) -> None:
    if key is None:
        owner.data = value
    else:
        owner[key] = value


def broadcast_parameters(module_or_params: Any, root: int = 0) -> None:
    """Gives every rank the parameter values (and, for a Module, the buffers such as
    BatchNorm's running statistics) of rank ``root``, in place.

    Call it once on every rank after building the model, so that ranks whose initialisation
    used different seeds start from the same weights.

    Parameters
    ----------
    module_or_params : Module or iterable of Tensor
        The model, or its parameters.
    root : int
        The rank whose values everyone takes.

    Raises
    ------
    DistributedError
        On every rank, when the ranks' models differ in names, shapes or dtypes.

    Examples
    --------
    >>> from ferrograd import distributed as dist, nn
    >>> model = nn.Linear(3, 2)
    >>> dist.broadcast_parameters(model)     # a world of one: nothing to do
    """
    caller = "broadcast_parameters"
    comm = _world.communicator()
    arrays = _arrays_of(module_or_params)
    size = 1 if comm is None else comm.Get_size()
    _world.check_root(caller, root, size)
    if size == 1:
        return
    mine = [(name, _get(o, k).shape, _get(o, k).dtype.str) for name, o, k in arrays]
    theirs = comm.bcast(mine, root=root)
    problem = None
    if mine != theirs:
        diff = next(
            (f"{a} here, {b} on rank {root}" for a, b in zip(mine, theirs) if a != b),
            f"{len(mine)} arrays here, {len(theirs)} on rank {root}",
        )
        problem = (
            f"the model differs from rank {root}'s ({diff}); every rank must build the same model"
        )
    _world.agree(caller, comm, problem)
    for _, owner, key in arrays:
        a = _get(owner, key)
        if not (a.flags.c_contiguous and a.flags.writeable):
            a = np.array(a, order="C", copy=True)
            _set(owner, key, a)
        comm.Bcast(a, root=root)


def broadcast_optimizer_state(optimizer: Optimizer, root: int = 0) -> None:
    """Gives every rank the optimizer state of rank ``root``: hyperparameters of each
    parameter group (the learning rate a scheduler set, ``initial_lr``), and per-parameter
    state such as Adam's moments and step counts.

    Call it once on every rank after :func:`broadcast_parameters` (and after loading a
    checkpoint on the root, if resuming).

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer, built over the same parameters in the same groups on every rank.
    root : int
        The rank whose state everyone takes.

    Raises
    ------
    DistributedError
        On every rank, when some rank cannot load the root's state (different groups).

    Examples
    --------
    >>> from ferrograd import distributed as dist, nn, optim
    >>> opt = optim.Adam(nn.Linear(3, 2).parameters(), lr=1e-3)
    >>> dist.broadcast_optimizer_state(opt)  # a world of one: nothing to do
    """
    caller = "broadcast_optimizer_state"
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{caller}: expected an Optimizer, got {type(optimizer).__name__}")
    comm = _world.communicator()
    size = 1 if comm is None else comm.Get_size()
    _world.check_root(caller, root, size)
    if size == 1:
        return
    state = comm.bcast(optimizer.state_dict() if comm.Get_rank() == root else None, root=root)
    problem = None
    if comm.Get_rank() != root:
        try:
            optimizer.load_state_dict(state)
        except (ValueError, TypeError, KeyError) as e:
            problem = f"cannot load rank {root}'s state ({type(e).__name__}: {e})"
    _world.agree(caller, comm, problem)


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Rank ``root``'s ``obj`` on every rank (any picklable object; ``obj`` is ignored on the
    other ranks). Useful to share a decision or a run folder name chosen on rank 0.

    Examples
    --------
    >>> from ferrograd import distributed as dist
    >>> dist.broadcast_object({"run": "runs/7"})
    {'run': 'runs/7'}
    """
    comm = _world.communicator()
    size = 1 if comm is None else comm.Get_size()
    _world.check_root("broadcast_object", root, size)
    return obj if size == 1 else comm.bcast(obj, root=root)
