"""Checks of ferrograd.distributed run on 2 ranks under mpiexec: ``checks.py NAME OUTDIR``.

Each check asserts on every rank; a failed assertion aborts the job with a non-zero exit
code (the hook that init() installs). Values are compared with ones gathered through mpi4py
directly, not through the functions under test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
from ferrograd import distributed as dist
from ferrograd import nn, optim
from ferrograd.optim.lr_scheduler import StepLR

dist.init()
from mpi4py import MPI  # noqa: E402  (after init, which starts MPI)

comm = MPI.COMM_WORLD
RANK, SIZE = comm.Get_rank(), comm.Get_size()


def expect_error_everywhere(fn, *args, match: str) -> None:
    """``fn(*args)`` raises a DistributedError naming ``match`` on every rank."""
    try:
        fn(*args)
    except dist.DistributedError as e:
        assert match in str(e), str(e)
    else:
        raise AssertionError(f"{fn.__name__} did not raise on rank {RANK}")
    comm.Barrier()  # every rank got here: nobody waits in a collective call


def memory_of(a: np.ndarray) -> np.ndarray:
    """The array that owns the memory ``a`` views."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def state_arrays(model: nn.Module, opt: optim.Optimizer) -> list[np.ndarray]:
    sd = opt.state_dict()
    out = [np.asarray(v) for v in model.state_dict().values()]
    for i in sorted(sd["state"]):
        out += [np.asarray(sd["state"][i][k]) for k in sorted(sd["state"][i])]
    out += [np.asarray([g["lr"], g["initial_lr"]]) for g in sd["param_groups"]]
    return out


def check_broadcast(out: Path) -> None:
    """Ranks seeded differently, stepped a different number of times with different data
    and learning rates, hold rank 0's parameters, buffers, Adam state and lr afterwards."""
    fg.manual_seed(10 + RANK)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2)).double()
    opt = optim.Adam(model.parameters(), lr=0.01 * (RANK + 1), amsgrad=True)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    rng = np.random.default_rng(RANK)
    for _ in range(RANK + 2):
        opt.zero_grad()
        x = fg.tensor(rng.standard_normal((12, 5)))
        F.cross_entropy(model(x), rng.integers(0, 2, 12)).backward()
        opt.step()
        sched.step()
    before = comm.allgather(state_arrays(model, opt))
    assert not all(np.array_equal(a, b) for a, b in zip(*before)), "ranks started equal"

    dist.broadcast_parameters(model)
    dist.broadcast_optimizer_state(opt)
    sched.load_state_dict(dist.broadcast_object(sched.state_dict()))

    after = comm.allgather(state_arrays(model, opt))
    assert len(after[RANK]) == len(before[0])
    for mine, root in zip(after[RANK], before[0]):
        np.testing.assert_array_equal(mine, root)
    assert opt.state_dict()["state"][0]["step"] == 2.0  # rank 0's step count
    assert sched.last_epoch == 2 and sched.get_last_lr() == [0.01 * 0.25]

    # the same synchronised step from here keeps them equal
    x = fg.tensor(np.random.default_rng(99).standard_normal((12, 5)))
    opt.zero_grad()
    F.cross_entropy(model(x), np.arange(12) % 2).backward()
    dist.allreduce_gradients(model)
    opt.step()
    sched.step()
    final = comm.allgather(state_arrays(model, opt))
    for mine, root in zip(final[RANK], final[0]):
        np.testing.assert_array_equal(mine, root)

    other = nn.Sequential(nn.Linear(5, 8 + RANK)).double()  # a model that differs
    expect_error_everywhere(dist.broadcast_parameters, other, match="differs from rank 0")
    opt2 = optim.SGD(other.parameters() if RANK == 0 else [other[0].weight], lr=0.1)
    expect_error_everywhere(dist.broadcast_optimizer_state, opt2, match="cannot load")


def check_gradients(out: Path) -> None:
    """Mean (and sum) of the gradients over the ranks; mixed dtypes; unused and frozen
    parameters; one reused buffer per dtype whose views the gradients become."""
    fg.manual_seed(0)
    a = nn.Linear(4, 3)  # float32
    b = nn.Linear(3, 2).double()
    only_rank0 = nn.Parameter(np.zeros(5))
    unused = nn.Parameter(np.zeros(2, dtype=np.float32))
    frozen = nn.Parameter(np.ones(3), requires_grad=False)
    params = [*a.parameters(), *b.parameters(), only_rank0, unused, frozen]
    rng = np.random.default_rng(RANK)

    def backward() -> None:
        for p in params:
            p.grad = None
        x = rng.standard_normal((6, 4))
        h = a(fg.tensor(x.astype(np.float32)))
        (h * h).sum().backward()
        out = b(fg.tensor(x[:, :3]))
        (out * out).sum().backward()
        if RANK == 0:
            (only_rank0 * only_rank0 + 1.0).sum().backward()
        frozen.grad = np.full(3, 7.0)  # frozen: left alone

    buffers_seen = []
    for average in (True, True, False):
        backward()
        local = [None if p.grad is None else p.grad.copy() for p in params]
        everyone = comm.allgather(local)
        dist.allreduce_gradients(params, average=average)
        for i, p in enumerate(params[:-1]):
            got = [g[i] for g in everyone if g[i] is not None]
            if not got:
                assert p.grad is None, f"param {i} got a gradient no rank had"
                continue
            want = np.sum(got, axis=0)
            if average:
                want = want / SIZE
            np.testing.assert_allclose(p.grad, want, rtol=1e-6 if p.dtype == np.float32 else 1e-15)
            assert p.grad.dtype == p.dtype
        np.testing.assert_array_equal(frozen.grad, np.full(3, 7.0))
        assert only_rank0.grad is not None and unused.grad is None  # on every rank
        for theirs in comm.allgather([p.grad for p in params[:-1]]):
            for g, h in zip([p.grad for p in params[:-1]], theirs):
                assert (g is None) == (h is None)
                if g is not None:
                    np.testing.assert_array_equal(g, h)
        grads32 = [p.grad for p in params if p.dtype == np.float32 and p.grad is not None]
        grads64 = [p.grad for p in params[:-1] if p.dtype == np.float64 and p.grad is not None]
        bases = {id(memory_of(g)) for g in grads32}, {id(memory_of(g)) for g in grads64}
        assert len(grads32) == 2 and len(grads64) == 3
        assert len(bases[0]) == 1 and len(bases[1]) == 1, "not one flat buffer per dtype"
        buffers_seen.append((memory_of(grads32[0]), memory_of(grads64[0])))
    assert all(s[0] is buffers_seen[0][0] and s[1] is buffers_seen[0][1] for s in buffers_seen)

    mismatch = params[:2] if RANK == 0 else params[:3]
    for p in mismatch:
        p.grad = np.zeros_like(p.data)
    expect_error_everywhere(dist.allreduce_gradients, mismatch, match="differ from rank 0")


def check_metrics(out: Path) -> None:
    """Weighted and plain means, the same on every rank; mismatched keys fail everywhere."""
    value = {"loss": 1.0 + RANK, "per_class": np.array([RANK, 2.0 * RANK])}
    weights = [3.0, 1.0]
    got = dist.allreduce_mean(value, weight=weights[RANK])
    assert got["loss"] == (3 * 1.0 + 1 * 2.0) / 4
    np.testing.assert_allclose(got["per_class"], [0.25, 0.5])
    assert dist.allreduce_mean(float(RANK)) == 0.5
    assert dist.allreduce_mean(fg.tensor(np.float64(RANK * 4))) == 2.0
    for theirs in comm.allgather(got):
        assert theirs["loss"] == got["loss"]
    bad = {"loss": 1.0} if RANK == 0 else {"accuracy": 1.0}
    expect_error_everywhere(dist.allreduce_mean, bad, match="same keys")


def check_sampler(out: Path) -> None:
    """Shards from the MPI defaults equal those computed for the rank without MPI; across
    the ranks every sample comes once per epoch, and epochs differ."""
    for n in (0, 1, 7, 10, 11, 96):
        for drop_last in (False, True):
            orders = []
            for epoch in range(3):
                s = dist.DistributedSampler(n, seed=5, drop_last=drop_last)
                assert (s.num_replicas, s.rank) == (SIZE, RANK)
                s.set_epoch(epoch)
                mine = list(s)
                alone = dist.DistributedSampler(n, SIZE, RANK, seed=5, drop_last=drop_last)
                alone.set_epoch(epoch)
                assert mine == list(alone) and len(s) == len(mine)
                shards = comm.allgather(mine)
                assert len({len(x) for x in shards}) == 1, "unequal shards"
                seen = sorted(i for x in shards for i in x)
                if n % SIZE == 0:
                    assert seen == list(range(n)), "not every sample exactly once"
                elif drop_last:
                    assert len(set(seen)) == len(seen) == n - n % SIZE
                else:
                    assert set(seen) == set(range(n)) and len(seen) == n + SIZE - n % SIZE
                orders.append([i for group in zip(*shards) for i in group])
            if n > 2:
                assert orders[0] != orders[1] != orders[2], "not reshuffled per epoch"


def check_main_only(out: Path) -> None:
    """Only rank 0 writes; the others get None."""

    @dist.main_only
    def write(name: str) -> str:
        (out / f"{name}_{RANK}.txt").write_text(f"rank {RANK}")
        return "written"

    result = write("checkpoint")
    assert result == ("written" if RANK == 0 else None)
    assert dist.is_main() == (RANK == 0)
    dist.barrier()


def check_threads(out: Path) -> None:
    """Each rank runs its share of the cores' threads (cores / ranks on the machine)."""
    a = np.ones((256, 256))
    fg.ops.matmul(a, a)  # starts the threads
    cores = len(dist._threads.cpu_cores())
    local = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    assert fg.num_threads() == max(1, cores // local), (fg.num_threads(), cores, local)


if __name__ == "__main__":
    globals()[f"check_{sys.argv[1]}"](Path(sys.argv[2]))
    comm.Barrier()
