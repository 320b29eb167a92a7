"""2-rank data-parallel training (run under mpiexec): every rank takes its half of each
batch; rank 0 saves the final parameters and each rank's thread count to OUTDIR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import common
import ferrograd as fg
import numpy as np
from ferrograd import distributed as dist

out = Path(sys.argv[1])
dist.init()
from mpi4py import MPI  # noqa: E402  (after init, which starts MPI)

comm = MPI.COMM_WORLD
rank, size = dist.rank(), dist.world_size()
assert (rank, size) == (comm.Get_rank(), comm.Get_size())

model = common.mlp(seed=100 + rank)  # different starting weights on every rank ...
opt = common.adam(model)
dist.broadcast_parameters(model)  # ... until rank 0's are broadcast
dist.broadcast_optimizer_state(opt)
sampler = dist.DistributedSampler(common.N_SAMPLES, shuffle=True, seed=common.SAMPLER_SEED)


def shard(epoch: int) -> np.ndarray:
    sampler.set_epoch(epoch)
    return np.fromiter(sampler, dtype=np.int64)


losses = common.train(
    model, opt, shard, common.BATCH // size, lambda: dist.allreduce_gradients(model)
)
params = [p.data for p in model.parameters()]
for theirs in comm.allgather(params):
    for a, b in zip(params, theirs):
        np.testing.assert_array_equal(a, b)  # the ranks never drift apart


threads = comm.allgather(fg.num_threads())


@dist.main_only
def save() -> None:
    np.savez(out / "params.npz", *params)
    (out / "report.json").write_text(json.dumps({"threads": threads, "losses": losses}))


save()
