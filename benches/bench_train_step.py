"""A full training step (forward, cross-entropy, backward, Adam): ferrograd vs PyTorch.

Same architectures, data and initial weights on both sides; PyTorch (when installed) runs with
as many threads as ferrograd. For each case it prints steps per second of ferrograd's captured
step (``ferrograd.compile``), of ferrograd's eager autograd and of PyTorch's eager step, the
ratios, and the captured step's fraction of the GEMM-bound limit: the time NumPy's matmul needs
for the step's matrix products, measured in the same run, divided by the step's time.

Run: ``make bench`` or ``.venv/bin/python benches/bench_train_step.py``; with PyTorch in another
environment, ``PYTHONPATH=python <that env>/bin/python benches/bench_train_step.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ferrograd as fg
from _common import best_time, best_times, torch_or_none, write_results
from ferrograd import nn, optim, tensor


def mlp(sizes: list[int]) -> nn.Module:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def torch_model(torch: Any, model: nn.Module) -> Any:
    """The same architecture in PyTorch, with ferrograd's initial weights."""
    tnn = torch.nn
    mods = []
    for m in model:
        kind = type(m).__name__
        if kind == "Linear":
            mods.append(tnn.Linear(m.in_features, m.out_features))
        elif kind == "Conv2d":
            mods.append(tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding))
        elif kind == "ReLU":
            mods.append(tnn.ReLU())
        elif kind == "MaxPool2d":
            mods.append(tnn.MaxPool2d(m.kernel_size))
        elif kind == "Flatten":
            mods.append(tnn.Flatten())
    tm = tnn.Sequential(*mods)
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return tm


def gemm_products(model: nn.Module, batch: int, image: tuple[int, int] | None) -> list[tuple]:
    """(m, k, n) of every matrix product of one training step (im2col form for convs)."""
    prods = []
    h, w = image if image else (1, 1)
    first = True
    for m in model:
        kind = type(m).__name__
        if kind == "Linear":
            m_, k, n = batch, m.in_features, m.out_features
        elif kind == "Conv2d":
            kh, kw = m.kernel_size
            m_, k, n = batch * h * w, m.in_channels * kh * kw, m.out_channels
        elif kind == "MaxPool2d":
            h, w = h // 2, w // 2
            continue
        else:
            continue
        prods.append((m_, k, n))  # forward
        prods.append((n, m_, k))  # weight gradient: g^T @ x
        if not first:
            prods.append((m_, n, k))  # input gradient: g @ W
        first = False
    return prods


def numpy_gemm_time(prods: list[tuple]) -> float:
    rng = np.random.default_rng(0)
    total = 0.0
    for m, k, n in prods:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        total += best_time(lambda a=a, b=b: a @ b, min_time=0.1)
    return total


def case(name: str, make, batch: int, x_shape: tuple, image, torch: Any) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *x_shape)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    fg.manual_seed(0)
    model = make()
    reference = model.state_dict()
    loss_fn = nn.CrossEntropyLoss()
    step = fg.compile(model, loss_fn, optim.Adam(model.parameters(), lr=1e-3))
    assert step.compiled, step.reason

    eager_model = make()
    eager_model.load_state_dict(reference)
    opt_e = optim.Adam(eager_model.parameters(), lr=1e-3)

    def eager() -> None:
        opt_e.zero_grad()
        loss_fn(eager_model(tensor(x)), y).backward()
        opt_e.step()

    fns = {"compiled": lambda: step(x, y), "eager": eager}
    if torch is not None:
        tm = torch_model(torch, eager_model)
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        tloss = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def tstep() -> None:
            topt.zero_grad()
            tloss(tm(tx), ty).backward()
            topt.step()

        fns["torch"] = tstep
    t = best_times(fns)
    flops = 2 * sum(m * k * n for m, k, n in gemm_products(model, batch, image))
    t_gemm = numpy_gemm_time(gemm_products(model, batch, image))
    row = {
        "case": name,
        "batch": batch,
        "compiled_steps_per_s": 1 / t["compiled"],
        "eager_steps_per_s": 1 / t["eager"],
        "step_gflop": flops / 1e9,
        "gemm_bound_fraction": t_gemm / t["compiled"],
    }
    if torch is not None:
        row["torch_steps_per_s"] = 1 / t["torch"]
        row["compiled_vs_torch"] = t["torch"] / t["compiled"]
        row["eager_vs_torch"] = t["torch"] / t["eager"]
    return row


def main() -> None:
    torch = torch_or_none()
    cases = [
        ("small 64-64-10", lambda: mlp([64, 64, 10]), 32, (64,), None),
        ("medium 784-256-128-10", lambda: mlp([784, 256, 128, 10]), 128, (784,), None),
        ("large 784-1024-1024-10", lambda: mlp([784, 1024, 1024, 10]), 256, (784,), None),
        ("cnn 8x8 1-16-32", cnn, 64, (1, 8, 8), (8, 8)),
    ]
    rows = [case(*c, torch) for c in cases]
    version = f"PyTorch {torch.__version__}" if torch is not None else "PyTorch not installed"
    print(f"ferrograd {fg.__version__}, {fg.num_threads()} threads; {version}")
    head = f"{'case':24s} {'compiled/s':>11s} {'eager/s':>9s} {'GEMM-bound':>10s}"
    if torch is not None:
        head += f" {'torch/s':>9s} {'compiled/torch':>14s} {'eager/torch':>11s}"
    print(head)
    for r in rows:
        line = (
            f"{r['case']:24s} {r['compiled_steps_per_s']:11.0f} {r['eager_steps_per_s']:9.0f} "
            f"{r['gemm_bound_fraction']:10.2f}"
        )
        if torch is not None:
            line += (
                f" {r['torch_steps_per_s']:9.0f} {r['compiled_vs_torch']:13.2f}x"
                f" {r['eager_vs_torch']:10.2f}x"
            )
        print(line)
    extra = {"torch": torch.__version__ if torch is not None else None}
    print(f"wrote {write_results('bench_train_step', rows, extra)}")


if __name__ == "__main__":
    main()
