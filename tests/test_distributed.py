"""ferrograd.distributed in one process: a world of one, DistributedSampler's shards for 1 to
4 ranks, starting without MPI or without mpi4py, and the thread limit. The tests on 2 ranks
are in test_distributed_mpi.py."""

from __future__ import annotations

import doctest
import importlib
import math
import os
import subprocess
import sys
import textwrap

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import distributed as dist
from ferrograd import nn, optim
from ferrograd.distributed import DistributedSampler, _threads
from hypothesis import given
from hypothesis import strategies as st

if _threads.launched_by_mpi():
    pytest.skip("these tests expect a process not started by mpiexec", allow_module_level=True)


BLOCK_MPI4PY = "import sys; sys.modules['mpi4py'] = None\n"


def run_python(
    code: str, *, without_mpi4py: bool = False, **env: str
) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter outside any MPI launcher, with ``env`` added
    (and with ``import mpi4py`` failing as if it were not installed)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k != "FERROGRAD_NUM_THREADS"
        and not k.startswith(("PMI_", "PMIX_", "OMPI_", "MV2_", "MPI_", "MPI4PY_"))
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", (BLOCK_MPI4PY if without_mpi4py else "") + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
    )


def assert_ran(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# ---------------------------------------------------------------- a world of one


def test_a_process_not_started_by_mpiexec_is_a_world_of_one() -> None:
    assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
    dist.barrier()
    assert not dist.is_initialized()  # and MPI was never started
    assert "mpi4py.MPI" not in sys.modules


def test_collectives_in_a_world_of_one_change_nothing() -> None:
    fg.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(fg.tensor(np.ones((4, 3), dtype=np.float32))).sum().backward()
    grads = [p.grad for p in model.parameters()]
    values = [p.data.copy() for p in model.parameters()]
    dist.allreduce_gradients(model)
    dist.allreduce_gradients(model.parameters(), average=False)
    assert [p.grad for p in model.parameters()] == grads  # the same arrays
    dist.broadcast_parameters(model)
    dist.broadcast_optimizer_state(opt)
    for p, v in zip(model.parameters(), values):
        np.testing.assert_array_equal(p.data, v)
    obj = {"a": [1, 2]}
    assert dist.broadcast_object(obj) is obj


def test_allreduce_mean_of_one_rank_returns_the_values() -> None:
    assert dist.allreduce_mean(0.1) == 0.1
    assert dist.allreduce_mean(np.float32(0.5), weight=3) == 0.5
    got = dist.allreduce_mean({"loss": 0.3, "acc": np.array([0.1, 0.2])}, weight=7)
    assert got["loss"] == 0.3
    np.testing.assert_array_equal(got["acc"], [0.1, 0.2])
    assert list(got) == ["loss", "acc"]
    assert isinstance(dist.allreduce_mean(fg.tensor(np.float64(2.0))), float)
    assert math.isnan(dist.allreduce_mean(1.0, weight=0))


def test_allreduce_mean_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="weight must be a finite number >= 0, got -1"):
        dist.allreduce_mean(1.0, weight=-1)
    with pytest.raises(TypeError, match="allreduce_mean: value must be a number"):
        dist.allreduce_mean("high")


def test_bad_arguments_get_clear_errors() -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"broadcast_parameters: root must be a rank in \[0, 0\]"):
        dist.broadcast_parameters(model, root=1)
    with pytest.raises(TypeError, match="broadcast_optimizer_state: expected an Optimizer"):
        dist.broadcast_optimizer_state(model)
    with pytest.raises(TypeError, match="allreduce_gradients: params\\[1\\] is int"):
        dist.allreduce_gradients([model.weight, 3])
    with pytest.raises(TypeError, match="allreduce_gradients: expected a Module"):
        dist.allreduce_gradients(3.0)
    with pytest.raises(ValueError, match="limit_threads: num_threads must be a positive int"):
        dist.limit_threads(0)


def test_main_only_runs_on_rank0_and_abort_on_error_lets_errors_through() -> None:
    calls = []

    @dist.main_only
    def save(x: int) -> int:
        """Saves."""
        calls.append(x)
        return x * 2

    assert save(4) == 8 and calls == [4]
    assert save.__doc__ == "Saves."
    with pytest.raises(KeyError), dist.abort_on_error():
        raise KeyError("only one rank: nothing to abort")

    @dist.abort_on_error()
    def fail() -> None:
        raise ValueError("propagates")

    with pytest.raises(ValueError, match="propagates"):
        fail()


def test_scale_lr() -> None:
    model = nn.Linear(2, 1)
    opt = optim.SGD(
        [{"params": [model.weight], "lr": 0.2}, {"params": [model.bias]}], lr=0.1, momentum=0.9
    )
    assert dist.scale_lr(opt, world_size=4) == 4.0
    assert [g["lr"] for g in opt.param_groups] == [0.8, 0.4]
    sched = optim.lr_scheduler.StepLR(opt, step_size=1)
    assert dist.scale_lr(opt, world_size=4, rule="sqrt") == 2.0
    assert [g["initial_lr"] for g in opt.param_groups] == [1.6, 0.8]
    assert sched.base_lrs == [0.8, 0.4]  # a scheduler made before keeps its own
    assert dist.scale_lr(opt) == 1.0  # the world size: 1 here
    with pytest.raises(ValueError, match="rule must be 'linear' or 'sqrt', got 'log'"):
        dist.scale_lr(opt, 2, rule="log")
    with pytest.raises(ValueError, match="world_size must be a positive int, got 0"):
        dist.scale_lr(opt, 0)
    assert [g["lr"] for g in opt.param_groups] == [1.6, 0.8]  # failed calls changed nothing


@pytest.mark.parametrize(
    "module",
    [
        "__init__",
        "_threads",
        "_world",
        "_failure",
        "_gradients",
        "_broadcast",
        "_metrics",
        "_lr",
        "sampler",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    name = "ferrograd.distributed" + ("" if module == "__init__" else f".{module}")
    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.failed == 0


# ---------------------------------------------------------------- DistributedSampler


def pytorch_shards(order: list[int], replicas: int, drop_last: bool) -> list[list[int]]:
    """Shards as PyTorch's DistributedSampler documents them: the epoch's order padded by
    repeating it from the start to a multiple of ``replicas`` (or cut to one with
    ``drop_last``), rank ``r`` taking every ``replicas``-th index from position ``r``."""
    n = len(order)
    if drop_last and n % replicas != 0:
        per_rank = math.ceil((n - replicas) / replicas)
    else:
        per_rank = math.ceil(n / replicas)
    total = per_rank * replicas
    idx = list(order)
    if drop_last:
        idx = idx[:total]
    else:
        while len(idx) < total:
            idx += order[: total - len(idx)]
    return [idx[r:total:replicas] for r in range(replicas)]


def shards(n: int, replicas: int, epoch: int = 0, **kw: object) -> list[list[int]]:
    out = []
    for r in range(replicas):
        s = DistributedSampler(n, num_replicas=replicas, rank=r, **kw)  # type: ignore[arg-type]
        s.set_epoch(epoch)
        out.append(list(s))
        assert len(s) == len(out[-1])
    return out


@given(
    n=st.integers(0, 40),
    replicas=st.integers(1, 4),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 1000),
)
def test_sampler_matches_pytorchs_dealing_of_the_epoch_order(
    n: int, replicas: int, drop_last: bool, shuffle: bool, seed: int, epoch: int
) -> None:
    (order,) = shards(n, 1, epoch, shuffle=shuffle, seed=seed)  # one rank: the whole order
    assert sorted(order) == list(range(n))
    if not shuffle:
        assert order == list(range(n))
    got = shards(n, replicas, epoch, shuffle=shuffle, seed=seed, drop_last=drop_last)
    assert got == pytorch_shards(order, replicas, drop_last)
    assert len({len(s) for s in got}) == 1  # equal shards
    seen = [i for s in got for i in s]
    if n % replicas == 0:  # every sample exactly once, in disjoint shards
        assert sorted(seen) == list(range(n))
    elif drop_last:  # disjoint, the tail of the order dropped
        assert len(set(seen)) == len(seen) == n - n % replicas
    else:  # every sample at least once, the first few of the order twice
        assert set(seen) == set(range(n)) and len(seen) == n + replicas - n % replicas


def test_sampler_reshuffles_each_epoch_as_a_function_of_seed_and_epoch() -> None:
    first = [shards(50, 3, epoch, seed=1) for epoch in range(4)]
    again = [shards(50, 3, epoch, seed=1) for epoch in range(4)]
    assert first == again  # the same on every call (and rank)
    orders = {tuple(i for group in zip(*s) for i in group) for s in first}
    assert len(orders) == 4  # every epoch differs
    assert shards(50, 3, 0, seed=2) != first[0]
    s = DistributedSampler(50, num_replicas=3, rank=0, seed=1)
    s.set_epoch(2)
    list(s)
    s.set_epoch(0)
    assert list(s) == first[0][0]  # no hidden state


def test_sampler_takes_a_dataset_and_the_world_by_default() -> None:
    s = DistributedSampler(np.zeros((9, 2)), shuffle=False)
    assert (s.num_replicas, s.rank, len(s), list(s)) == (1, 0, 9, list(range(9)))
    assert s.indices().dtype == np.int64
    assert "num_replicas=1" in repr(s)


def test_sampler_rejects_bad_arguments() -> None:
    with pytest.raises(
        ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1\]"
    ):
        DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1, got 0"):
        DistributedSampler(10, num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="dataset_or_len must be a dataset with a length or an int"):
        DistributedSampler(3.5)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        DistributedSampler(10, seed=-1)
    s = DistributedSampler(10)
    with pytest.raises(TypeError, match="epoch must be an int, got float"):
        s.set_epoch(1.5)  # type: ignore[arg-type]
    assert s.epoch == 0


# ---------------------------------------------------------------- starting MPI


def test_init_without_mpiexec_is_a_world_of_one() -> None:
    pytest.importorskip("mpi4py")
    result = run_python(
        """
        import sys
        import numpy as np
        import ferrograd as fg
        from ferrograd import distributed as dist, nn
        dist.init()
        dist.init()  # again: nothing happens
        assert dist.is_initialized() and (dist.rank(), dist.world_size()) == (0, 1)
        assert sys.excepthook is sys.__excepthook__  # one rank: errors stay ordinary
        model = nn.Linear(2, 2)
        model(fg.tensor(np.ones((3, 2), dtype=np.float32))).sum().backward()
        before = [p.grad for p in model.parameters()]
        dist.allreduce_gradients(model)
        assert [p.grad for p in model.parameters()] == before
        assert dist.allreduce_mean({"a": 2.0}, weight=5) == {"a": 2.0}
        print("ok")
        """
    )
    assert_ran(result)
    assert result.stdout.strip() == "ok"


def test_without_mpi4py_ferrograd_works_and_init_says_what_is_missing() -> None:
    result = run_python(
        """
        import ferrograd as fg
        from ferrograd import distributed as dist
        assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
        assert list(dist.DistributedSampler(4, shuffle=False)) == [0, 1, 2, 3]
        try:
            dist.init()
        except fg.FerrogradError as e:
            assert isinstance(e, dist.DistributedError) and isinstance(e, RuntimeError)
            print(e)
        """,
        without_mpi4py=True,
    )
    assert_ran(result)
    assert "distributed.init: distributed training needs mpi4py, which is not installed" in (
        result.stdout
    )
    assert "pip install 'ferrograd[mpi]'" in result.stdout


def test_started_by_mpiexec_without_mpi4py_is_an_error_not_a_world_of_one() -> None:
    result = run_python(
        """
        from ferrograd import distributed as dist
        try:
            dist.rank()
        except dist.DistributedError as e:
            print(e)
        """,
        without_mpi4py=True,
        PMI_RANK="1",
        PMI_SIZE="2",
    )
    assert_ran(result)
    assert "started by an MPI launcher with 2 processes, but MPI is not usable" in result.stdout
    assert "needs mpi4py" in result.stdout


def test_a_rank_that_cannot_load_mpi_gets_a_clear_error() -> None:
    pytest.importorskip("mpi4py")
    result = run_python(
        """
        from ferrograd import distributed as dist
        try:
            dist.init()
        except dist.DistributedError as e:
            print(e)
        """,
        MPI4PY_LIBMPI="/nonexistent/libmpi.so",
    )
    assert_ran(result)
    assert "distributed.init: could not initialise MPI (RuntimeError: cannot load MPI" in (
        result.stdout
    )
    assert "/nonexistent/libmpi.so" in result.stdout


# ---------------------------------------------------------------- threads


def test_share_of_the_cores() -> None:
    assert [_threads.share(8, r) for r in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    env = {"PMI_SIZE": "4", "MPI_LOCALNRANKS": "2"}
    assert _threads.launched_by_mpi(env)
    assert (_threads.launcher_world_size(env), _threads.launcher_local_size(env)) == (4, 2)
    assert _threads.launcher_local_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    assert not _threads.launched_by_mpi({"PATH": "/bin"})
    assert _threads.launcher_local_size({"PMI_SIZE": "x"}) is None


THREADS_AFTER_A_PRODUCT = """
import os
import numpy as np
import ferrograd as fg
print(os.environ.get("FERROGRAD_NUM_THREADS"))
a = np.ones((300, 300))
fg.ops.matmul(a, a)
print(fg.num_threads())
"""


def test_importing_under_a_launcher_limits_threads_to_this_ranks_share() -> None:
    cores = len(_threads.cpu_cores())
    share = max(1, cores // 2)
    # a launcher's environment (two ranks on this machine), without starting MPI
    launched = {"PMI_RANK": "0", "PMI_SIZE": "2", "MPI_LOCALNRANKS": "2"}
    result = run_python(THREADS_AFTER_A_PRODUCT, without_mpi4py=True, **launched)
    assert_ran(result)
    assert result.stdout.split() == [str(share), str(share)]
    # a value the user set is kept
    result = run_python(
        THREADS_AFTER_A_PRODUCT,
        without_mpi4py=True,
        FERROGRAD_NUM_THREADS=str(cores + 1),
        **launched,
    )
    assert_ran(result)
    assert result.stdout.split() == [str(cores + 1), str(cores + 1)]
    # no launcher: every core, as before
    result = run_python(THREADS_AFTER_A_PRODUCT)
    assert_ran(result)
    assert result.stdout.split() == ["None", str(cores)]


def test_limit_threads_takes_effect_before_the_first_kernel_call_and_warns_after() -> None:
    cores = len(_threads.cpu_cores())
    result = run_python(
        f"""
        import warnings
        import numpy as np
        import ferrograd as fg
        from ferrograd import distributed as dist
        assert dist.limit_threads({cores + 1}) == {cores + 1}
        a = np.ones((300, 300))
        fg.ops.matmul(a, a)
        print(fg.num_threads())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(dist.limit_threads(1))
        print(caught[0].category.__name__, caught[0].message)
        """
    )
    assert_ran(result)
    lines = result.stdout.splitlines()
    assert lines[:2] == [str(cores + 1), str(cores + 1)]
    assert lines[2].startswith(
        f"RuntimeWarning limit_threads: the kernel threads already run with {cores + 1} threads"
    )
