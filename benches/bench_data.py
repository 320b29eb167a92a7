"""DataLoader throughput, and its share of a compiled training epoch.

1. Batches per second of a shuffled ``ferrograd.data.DataLoader`` over array datasets the size
   of the digits (1797 x 64) and of a 100k x 784 float32 set, against a plain NumPy loop over
   a permutation (``X[idx], y[idx]`` per batch) and, when installed, PyTorch's ``DataLoader``
   over a ``TensorDataset``.
2. A compiled training epoch (``ferrograd.compile``, Adam, batch 128) of the 784-256-128-10
   MLP over the 100k x 784 set, once fed by the loader and once from batches gathered
   beforehand: the difference is what the loader adds to the epoch (goal: under 5%). The
   loader alone is timed too; its share of the epoch is the cleaner figure on a busy
   machine, where the difference of two epoch times is noisy. Epoch times are extrapolated
   from rounds of 200 steps.

Run: ``make bench`` or ``.venv/bin/python benches/bench_data.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ferrograd as fg
from _common import best_times, torch_or_none, write_results
from ferrograd import nn, optim
from ferrograd.data import DataLoader


def dataset(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, d), dtype=np.float32), rng.integers(0, 10, n)


def numpy_epoch(X: np.ndarray, y: np.ndarray, batch: int) -> Callable[[], None]:
    rng = np.random.default_rng(0)

    def run() -> None:
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            X[idx], y[idx]

    return run


def loader_epoch(loader: DataLoader) -> Callable[[], None]:
    def run() -> None:
        for _ in loader:
            pass

    return run


def torch_epoch(torch: Any, X: np.ndarray, y: np.ndarray, batch: int) -> Callable[[], None]:
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True)

    def run() -> None:
        for _ in loader:
            pass

    return run


def throughput(name: str, n: int, d: int, batch: int, torch: Any) -> dict[str, Any]:
    X, y = dataset(n, d)
    loader = DataLoader((X, y), batch_size=batch, shuffle=True, seed=0)
    fns = {"loader": loader_epoch(loader), "numpy": numpy_epoch(X, y, batch)}
    if torch is not None:
        fns["torch"] = torch_epoch(torch, X, y, batch)
    t = best_times(fns, min_time=0.3, repeat=5, pause=0.1)
    batches = len(loader)
    row = {
        "case": name,
        "batch": batch,
        "loader_batches_per_s": batches / t["loader"],
        "numpy_batches_per_s": batches / t["numpy"],
        "loader_vs_numpy": t["numpy"] / t["loader"],
    }
    if torch is not None:
        row["torch_batches_per_s"] = batches / t["torch"]
        row["loader_vs_torch"] = t["torch"] / t["loader"]
    return row


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )


def training_share(n: int, batch: int, steps: int = 200) -> dict[str, Any]:
    """Seconds per step of the compiled MLP fed by the loader and fed from the same batches
    gathered beforehand, and of the loader alone. Rounds cover ``steps`` batches of the
    epoch rather than all of it: short rounds, many of them, so that the best round of each
    candidate escapes the load of a shared machine alike."""
    X, y = dataset(n, 784)
    fg.manual_seed(0)
    model = mlp()
    step = fg.compile(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3))
    assert step.compiled, step.reason
    loader = DataLoader((X, y), batch_size=batch, shuffle=True, seed=0)
    gathered = [b for _, b in zip(range(steps), loader)]  # the same batches, made beforehand

    def with_loader() -> None:
        for _, (xb, yb) in zip(range(steps), loader):
            step(xb, yb)

    def pre_gathered() -> None:
        for xb, yb in gathered:
            step(xb, yb)

    def loader_alone() -> None:
        for _ in zip(range(steps), loader):
            pass

    fns = {"with_loader": with_loader, "pre_gathered": pre_gathered, "loader_alone": loader_alone}
    t = {k: v / steps for k, v in best_times(fns, min_time=0.3, repeat=9, pause=0.2).items()}
    return {
        "case": f"MLP 784-256-128-10, {n} x 784, batch {batch}",
        "epoch_with_loader_s": t["with_loader"] * len(loader),
        "epoch_pre_gathered_s": t["pre_gathered"] * len(loader),
        "loader_alone_s": t["loader_alone"] * len(loader),
        "overhead_pct": 100 * (t["with_loader"] / t["pre_gathered"] - 1),
        "loader_share_pct": 100 * t["loader_alone"] / t["with_loader"],
    }


def main() -> None:
    torch = torch_or_none()
    rows = [
        throughput("digits 1797 x 64", 1797, 64, 32, torch),
        throughput("digits 1797 x 64", 1797, 64, 128, torch),
        throughput("100k x 784", 100_000, 784, 128, torch),
    ]
    share = training_share(100_000, 128)
    version = f"PyTorch {torch.__version__}" if torch is not None else "PyTorch not installed"
    print(f"ferrograd {fg.__version__}, {fg.num_threads()} threads; {version}")
    head = f"{'case':18s} {'batch':>5s} {'loader/s':>10s} {'numpy/s':>10s} {'loader/numpy':>12s}"
    if torch is not None:
        head += f" {'torch/s':>10s} {'loader/torch':>12s}"
    print(head)
    for r in rows:
        line = (
            f"{r['case']:18s} {r['batch']:5d} {r['loader_batches_per_s']:10.0f} "
            f"{r['numpy_batches_per_s']:10.0f} {r['loader_vs_numpy']:11.2f}x"
        )
        if torch is not None:
            line += f" {r['torch_batches_per_s']:10.0f} {r['loader_vs_torch']:11.1f}x"
        print(line)
    print(
        f"{share['case']}: epoch {share['epoch_with_loader_s']:.3f} s with the loader, "
        f"{share['epoch_pre_gathered_s']:.3f} s from pre-gathered batches; the loader adds "
        f"{share['overhead_pct']:+.1f}% (goal < 5%); the loader alone takes "
        f"{share['loader_alone_s']:.3f} s = {share['loader_share_pct']:.1f}% of the epoch"
    )
    extra = {"torch": torch.__version__ if torch is not None else None, "training": share}
    print(f"wrote {write_results('bench_data', rows, extra)}")


if __name__ == "__main__":
    main()
