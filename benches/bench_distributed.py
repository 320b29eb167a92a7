"""Data-parallel training over MPI: 1 process with 2 threads vs 2 ranks with 1 thread each.

Two models, trained with ``Trainer.fit`` (captured steps, Adam) on the same data and the same
global batch: the digits MLP 64-128-10 (global batch 32, so 16 per rank) and the MLP
784-1024-1024-10 on random data (global batch 256). For each it prints training samples per
second of both set-ups, their ratio, and the share of the 2-rank step time spent in the
gradient Allreduce (measured on rank 0 around ``allreduce_gradients``).

Run: ``.venv/bin/python benches/bench_distributed.py`` (it starts the 2-rank job itself with
the ``mpiexec`` next to the Python that runs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

CASES = {
    "digits MLP 64-128-10": {"sizes": [64, 128, 10], "batch": 32, "epochs": 20},
    "MLP 784-1024-1024-10": {"sizes": [784, 1024, 1024, 10], "batch": 256, "epochs": 2},
}


def data(case: str) -> tuple[np.ndarray, np.ndarray]:
    if case.startswith("digits"):
        from ferrograd.data import StandardScaler, load_digits

        x, y = load_digits()
        return StandardScaler().fit_transform(x), y
    rng = np.random.default_rng(0)
    return rng.standard_normal((8192, 784), dtype=np.float32), rng.integers(0, 10, 8192)


def fit(case: str, distributed: bool) -> dict[str, float]:
    """Trains one case; returns samples/s and (on several ranks) the Allreduce time."""
    import ferrograd as fg
    from ferrograd import distributed as dist
    from ferrograd import nn, optim
    from ferrograd.train import Trainer

    spec = CASES[case]
    world = dist.world_size() if distributed else 1
    x, y = data(case)
    fg.manual_seed(0)
    sizes = spec["sizes"]
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-3),
        metrics=[],
        distributed=distributed,
    )
    spent = [0.0]
    if distributed:
        inner = dist.allreduce_gradients

        def timed(params: Any, average: bool = True) -> None:
            t0 = time.perf_counter()
            inner(params, average)
            spent[0] += time.perf_counter() - t0

        dist.allreduce_gradients = timed  # type: ignore[assignment]
    batch = spec["batch"] // world
    trainer.fit((x, y), epochs=1, batch_size=batch, verbose=0)  # warm-up
    spent[0] = 0.0
    if distributed:
        dist.barrier()
    t0 = time.perf_counter()
    trainer.fit((x, y), epochs=spec["epochs"], batch_size=batch, verbose=0)
    seconds = time.perf_counter() - t0
    assert trainer.compiled, trainer.compile_reason
    return {
        "samples_per_s": spec["epochs"] * len(x) / seconds,
        "seconds": seconds,
        "allreduce_share": spent[0] / seconds,
    }


def worker(out: str) -> None:
    """One rank of the 2-rank job."""
    from ferrograd import distributed as dist

    dist.init()
    results = {case: fit(case, True) for case in CASES}
    if dist.is_main():
        Path(out).write_text(json.dumps(results))


def main() -> None:
    import ferrograd as fg
    from _common import write_results

    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        print("no mpiexec next to this Python (pip install mpich mpi4py)")
        return
    one = {case: fit(case, False) for case in CASES}
    out = Path("/tmp") / f"bench_distributed_{os.getpid()}.json"
    env = dict(os.environ, FERROGRAD_NUM_THREADS="1")
    subprocess.run(
        [str(mpiexec), "-n", "2", sys.executable, __file__, "--worker", str(out)],
        env=env,
        check=True,
        timeout=900,
    )
    two = json.loads(out.read_text())
    out.unlink()
    print(
        f"1 process x {fg.num_threads()} threads vs 2 ranks x 1 thread (mpich), Adam, "
        "captured steps"
    )
    print(f"{'case':<24}{'1x2 samples/s':>15}{'2x1 samples/s':>15}{'ratio':>8}{'allreduce':>11}")
    rows = []
    for case in CASES:
        a, b = one[case], two[case]
        ratio = b["samples_per_s"] / a["samples_per_s"]
        print(
            f"{case:<24}{a['samples_per_s']:>15,.0f}{b['samples_per_s']:>15,.0f}"
            f"{ratio:>7.2f}x{100 * b['allreduce_share']:>10.1f}%"
        )
        rows.append({"case": case, "one_process": a, "two_ranks": b, "ratio": ratio})
    print(f"wrote {write_results('bench_distributed', rows)}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
