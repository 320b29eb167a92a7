"""ferrograd.distributed on 2 ranks: each test launches a script of tests/mpi_scripts under
the mpiexec next to this Python (the mpich package's), with a time limit, so a job that
hangs fails the test instead of the suite. ``make test-mpi`` runs these (``-m mpi``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")

SCRIPTS = Path(__file__).parent / "mpi_scripts"
sys.path.insert(0, str(SCRIPTS))

import common  # noqa: E402  (tests/mpi_scripts/common.py)

pytestmark = pytest.mark.mpi

#: Seconds a whole job may take (a job takes about one; the limit catches hangs).
TIME_LIMIT = 120


def mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec (pip install mpich, or a system MPI)")
    return found


def run_mpi(
    *args: str, n: int = 2, timeout: float = TIME_LIMIT, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Runs ``mpiexec -n n python args...``; the whole process group is killed at the
    time limit and the test fails."""
    env = {k: v for k, v in os.environ.items() if k != "FERROGRAD_NUM_THREADS"}
    env["MPIEXEC_TIMEOUT"] = str(int(timeout))  # Hydra's own limit, as a second line
    cmd = [mpiexec(), "-n", str(n), sys.executable, *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(
            f"{' '.join(cmd)} did not finish in {timeout} s\nstdout:\n{out}\nstderr:\n{err}"
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = run_mpi(*args, cwd=cwd)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def one_process_training() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Initial and final parameters of 1-process training with the whole batch, on the
    sample order of each epoch."""
    from ferrograd.distributed import DistributedSampler

    model = common.mlp(seed=100)  # rank 0's seed: the ranks take its weights
    init = [p.data.copy() for p in model.parameters()]
    opt = common.adam(model)
    sampler = DistributedSampler(common.N_SAMPLES, num_replicas=1, rank=0, seed=common.SAMPLER_SEED)

    def order(epoch: int) -> np.ndarray:
        sampler.set_epoch(epoch)
        return sampler.indices()

    common.train(model, opt, order, common.BATCH)
    return init, [p.data for p in model.parameters()]


def test_two_ranks_train_like_one_process_with_the_whole_batch(tmp_path: Path) -> None:
    run_ok(str(SCRIPTS / "train_equivalence.py"), str(tmp_path))
    got = np.load(tmp_path / "params.npz")
    init, want = one_process_training()
    assert len(got.files) == len(want)
    for i, (w, w0) in enumerate(zip(want, init)):
        g = got[f"arr_{i}"]
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
        assert np.abs(w - w0).max() > 1e-2  # training moved every parameter
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["losses"][-1] < report["losses"][0]


def test_ranks_seeded_differently_hold_rank0s_parameters_and_optimizer_state(tmp_path):
    run_ok(str(SCRIPTS / "checks.py"), "broadcast", str(tmp_path))


def test_gradients_are_averaged_in_one_buffer_per_dtype(tmp_path: Path) -> None:
    run_ok(str(SCRIPTS / "checks.py"), "gradients", str(tmp_path))


def test_metrics_are_averaged_over_the_ranks(tmp_path: Path) -> None:
    run_ok(str(SCRIPTS / "checks.py"), "metrics", str(tmp_path))


def test_sampler_gives_each_sample_once_per_epoch_across_ranks(tmp_path: Path) -> None:
    run_ok(str(SCRIPTS / "checks.py"), "sampler", str(tmp_path))


def test_only_rank0_writes_files(tmp_path: Path) -> None:
    run_ok(str(SCRIPTS / "checks.py"), "main_only", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_0.txt"]


def test_each_rank_uses_its_share_of_the_cores(tmp_path: Path) -> None:
    run_ok(str(SCRIPTS / "checks.py"), "threads", str(tmp_path))


@pytest.mark.parametrize("mode", ["hook", "context", "decorator", "collective"])
def test_a_failing_rank_ends_the_whole_job_with_its_error(mode: str) -> None:
    result = run_mpi(str(SCRIPTS / "fail.py"), mode, timeout=60)
    assert result.returncode != 0
    assert "finished" not in result.stdout  # rank 0 did not get past the collective call
    if mode == "collective":
        assert "rank 0 of 2 failed" in result.stderr or "rank 1 of 2 failed" in result.stderr
        assert "rank 1: the model differs from rank 0's" in result.stderr
    else:
        assert "rank 1 of 2 failed" in result.stderr, result.stderr
        assert "deliberate failure on rank 1" in result.stderr


def test_the_module_docstring_example_runs_on_two_ranks(tmp_path: Path) -> None:
    import ferrograd.distributed

    doc = ferrograd.distributed.__doc__ or ""
    block = doc.split("Example (``train.py``)::\n", 1)[1].split("\nHow a training loop", 1)[0]
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(block))
    result = run_ok(str(script), cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"epoch {e}" for e in range(5)]
    losses = [float(line.split()[-1]) for line in lines]
    assert losses[-1] < losses[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "train.py"]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_trainer_on_two_ranks_equals_one_process_with_the_whole_batch(tmp_path, mode):
    script = str(SCRIPTS / "trainer.py")
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir()
    one.mkdir()
    result = run_ok(script, "equivalence", str(two), mode)
    assert result.stdout.count("Epoch ") == 3  # one line per epoch, from rank 0 only
    env = {k: v for k, v in os.environ.items() if k != "FERROGRAD_NUM_THREADS"}
    proc = subprocess.run(
        [sys.executable, script, "equivalence", str(one), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
    )
    assert proc.returncode == 0, proc.stderr
    want = np.load(one / "rank0.npz")
    for r in (0, 1):
        got = np.load(two / f"rank{r}.npz")
        for k in want.files:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-15)
    h0, h1, h = (
        json.loads((d / f).read_text())
        for d, f in ((two, "rank0.json"), (two, "rank1.json"), (one, "rank0.json"))
    )
    for hist in (h0, h1, h):
        hist.pop("seconds")
    assert h0 == h1  # every rank logs the same averaged numbers
    np.testing.assert_allclose(h0["loss"], h["loss"], rtol=1e-12)
    np.testing.assert_allclose(h0["val_loss"], h["val_loss"], rtol=1e-12)
    assert h0["loss"][-1] < h0["loss"][0]


def test_trainer_writes_files_on_rank_0_only(tmp_path):
    result = run_ok(str(SCRIPTS / "trainer.py"), "files", str(tmp_path))
    assert "rank 1 finished" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors", "log.csv"]
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 1 + 3


def test_trainer_failing_on_one_rank_ends_the_job(tmp_path):
    result = run_mpi(str(SCRIPTS / "trainer.py"), "fail", str(tmp_path), timeout=60)
    assert result.returncode != 0
    assert "rank 1 of 2 failed" in result.stderr
    assert "deliberate failure in a callback on rank 1" in result.stderr
    assert "finished" not in result.stdout


def test_cli_train_distributed_writes_one_run_folder(tmp_path):
    result = run_ok(
        "-m",
        "ferrograd",
        "train",
        "--distributed",
        "--epochs",
        "3",
        "--name",
        "d",
        "--verbose",
        "2",
        cwd=tmp_path,
    )
    assert "Data-parallel on 2 ranks" in result.stdout
    assert result.stdout.count("Test accuracy") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["d"]
