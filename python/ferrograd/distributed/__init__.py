"""Data-parallel training over MPI (mpi4py).

Every rank (process) holds the whole model and trains on its own share of each batch; after
each backward pass the gradients are averaged over the ranks, so every rank takes the same
optimizer step and the models stay identical. Start the script with ``mpiexec``::

    mpiexec -n 2 python train.py

A script run without ``mpiexec`` is a world of one (rank 0 of 1) and trains as usual, so the
same script runs on a laptop and on a cluster. ``pip install 'ferrograd[mpi]'`` brings
mpi4py and MPICH (its ``mpiexec`` lands next to ``python``); mpi4py built against a system
MPI (Open MPI, Intel MPI, ...) works too. ferrograd itself imports without mpi4py.

Example (``train.py``)::

    import numpy as np
    import ferrograd as fg
    import ferrograd.functional as F
    from ferrograd import distributed as dist, nn, optim

    dist.init()                                  # rank, size; abort the job on any error
    fg.manual_seed(dist.rank())                  # ranks may start from different weights
    X = np.random.default_rng(0).standard_normal((1024, 20), dtype=np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    dist.broadcast_parameters(model)             # ... but all start from rank 0's
    dist.broadcast_optimizer_state(opt)
    sampler = dist.DistributedSampler(len(X), shuffle=True, seed=0)
    batch = 32                                   # per rank: 32 * world_size per step
    for epoch in range(5):
        sampler.set_epoch(epoch)                 # a new shuffle every epoch
        idx = sampler.indices()
        losses = []
        for start in range(0, len(idx), batch):
            b = idx[start : start + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(fg.tensor(X[b])), y[b])
            loss.backward()
            dist.allreduce_gradients(model)      # one Allreduce per step
            opt.step()
            losses.append(float(loss.data))
        mean = dist.allreduce_mean(np.mean(losses))
        if dist.is_main():
            print(f"epoch {epoch}: loss {mean:.4f}")
    dist.main_only(model.save)("model.safetensors")   # rank 0 writes the file

How a training loop uses it
---------------------------
A trainer that supports MPI calls :func:`init` first; wraps the sampling of its data in a
:class:`DistributedSampler` (``DataLoader(dataset, batch_size, sampler=sampler)``, with
``sampler.set_epoch(epoch)`` at each epoch) so that every rank sees a disjoint shard of each
epoch; calls :func:`broadcast_parameters` and :func:`broadcast_optimizer_state` once when
fitting starts (after loading a checkpoint to resume from, on every rank or on rank 0); calls
:func:`allreduce_gradients` between ``backward()`` and ``optimizer.step()`` (gradient
clipping comes after it, on the averaged gradients); averages the epoch's metrics with
:func:`allreduce_mean` weighted by each rank's sample count, so that every rank sees the same
numbers and takes the same decisions (early stopping, ``ReduceLROnPlateau``); and guards
logging, progress bars and checkpoint writes with :func:`is_main` (or :func:`main_only`).

Threads
-------
Each rank runs its own team of kernel threads. Under an MPI launcher, ``import ferrograd``
sets ``FERROGRAD_NUM_THREADS`` to this rank's share of the machine's cores (all cores
divided by the ranks on the machine), and :func:`init` refines it from the ranks that
really share cores; a value the user set is kept. The team's size is fixed by the first
kernel call, so set anything else with :func:`limit_threads` before that.

Failures
--------
When an exception escapes on any rank, the hook that :func:`init` installs prints it with
the rank number to stderr and aborts the whole job (``MPI_Abort``): the other ranks would
otherwise wait forever in their next collective call. :class:`abort_on_error` does the same
around a block or function, and also for ``sys.exit`` with a non-zero code.

Examples
--------
>>> from ferrograd import distributed as dist
>>> dist.rank(), dist.world_size(), dist.is_main()      # not started by mpiexec
(0, 1, True)
>>> list(dist.DistributedSampler(6, num_replicas=2, rank=0, shuffle=False))
[0, 2, 4]
"""

from __future__ import annotations

from ..exceptions import DistributedError
from . import _threads
from ._broadcast import broadcast_object, broadcast_optimizer_state, broadcast_parameters
from ._failure import abort_on_error
from ._gradients import allreduce_gradients, gradient_views
from ._lr import scale_lr
from ._metrics import allreduce_mean
from ._threads import limit_threads
from ._world import barrier, init, is_initialized, is_main, main_only, rank, world_size
from .sampler import DistributedSampler

_threads.limit_threads_if_launched()

__all__ = [
    "DistributedError",
    "DistributedSampler",
    "abort_on_error",
    "allreduce_gradients",
    "allreduce_mean",
    "barrier",
    "broadcast_object",
    "broadcast_optimizer_state",
    "broadcast_parameters",
    "gradient_views",
    "init",
    "is_initialized",
    "is_main",
    "limit_threads",
    "main_only",
    "rank",
    "scale_lr",
    "world_size",
]
