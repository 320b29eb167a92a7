"""A full training step (forward, cross-entropy, backward, Adam): ferrograd vs PyTorch.

Same architectures, data and initial weights on both sides; PyTorch (when installed) runs with
as many threads as ferrograd. For each case it prints steps per second of ferrograd's captured
step (``ferrograd.compile``, for the ``Sequential`` models it captures; "-" otherwise), of
ferrograd's eager autograd and of PyTorch's eager step, the ratios, and the fastest ferrograd
step's fraction of the GEMM-bound limit: the time NumPy's matmul needs for the step's matrix
products, measured in the same run, divided by the step's time.

The cases: MLPs, small CNNs (one on 8x8 images, LeNet-5 on 28x28) and recurrent classifiers
(an LSTM or GRU of 128 hidden units over 50 steps of 32 features, then a linear layer on the
last step's output).

Run: ``make bench`` or ``.venv/bin/python benches/bench_train_step.py``; with PyTorch in another
environment, ``PYTHONPATH=python <that env>/bin/python benches/bench_train_step.py``. Words
given as arguments keep only the cases whose names contain one of them (``lstm gru lenet``).
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


def lenet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


# The recurrent cases: (steps, batch, features) inputs, hidden units, classes.
SEQ, FEATURES, HIDDEN, CLASSES = 50, 32, 128, 10


class LastStep(nn.Module):
    """A recurrent layer (``kind`` "LSTM" or "GRU") and a linear layer on its last output."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.rnn = getattr(nn, kind)(FEATURES, HIDDEN)
        self.fc = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: Any) -> Any:
        out, _ = self.rnn(x)
        return self.fc(out[-1])


def torch_last_step(torch: Any, model: LastStep) -> Any:
    class TorchLastStep(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(torch.nn, model.kind)(FEATURES, HIDDEN)
            self.fc = torch.nn.Linear(HIDDEN, CLASSES)

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x)
            return self.fc(out[-1])

    return TorchLastStep()


def torch_model(torch: Any, model: nn.Module) -> Any:
    """The same architecture in PyTorch, with ferrograd's initial weights."""
    tnn = torch.nn
    if isinstance(model, LastStep):
        tm = torch_last_step(torch, model)
        tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
        return tm
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


def recurrent_products(model: LastStep, batch: int) -> list[tuple]:
    """(m, k, n, count) of the matrix products of one recurrent training step."""
    g = (4 if model.kind == "LSTM" else 3) * HIDDEN
    rows = SEQ * batch
    return [
        (rows, FEATURES, g, 1),  # input projection of every step
        (batch, HIDDEN, g, SEQ),  # h @ W_hh^T at each step
        (batch, g, HIDDEN, SEQ),  # the state's gradient at each step
        (g, rows, FEATURES, 1),  # gradient of W_ih
        (g, rows, HIDDEN, 1),  # gradient of W_hh
        (batch, HIDDEN, CLASSES, 1),
        (CLASSES, batch, HIDDEN, 1),
        (batch, CLASSES, HIDDEN, 1),
    ]


def gemm_products(model: nn.Module, batch: int, image: tuple[int, int] | None) -> list[tuple]:
    """(m, k, n, count) of every matrix product of one training step (im2col form for convs)."""
    if isinstance(model, LastStep):
        return recurrent_products(model, batch)
    prods = []
    h, w = image if image else (1, 1)
    first = True
    for m in model:
        kind = type(m).__name__
        if kind == "Linear":
            m_, k, n = batch, m.in_features, m.out_features
        elif kind == "Conv2d":
            kh, kw = m.kernel_size
            k, n = m.in_channels * kh * kw, m.out_channels
            h, w = h - kh + 1 + 2 * m.padding[0], w - kw + 1 + 2 * m.padding[1]
            m_ = batch * h * w
        elif kind == "MaxPool2d":
            h, w = h // 2, w // 2
            continue
        else:
            continue
        prods.append((m_, k, n, 1))  # forward
        prods.append((n, m_, k, 1))  # weight gradient: g^T @ x
        if not first:
            prods.append((m_, n, k, 1))  # input gradient: g @ W
        first = False
    return prods


def numpy_gemm_time(prods: list[tuple]) -> float:
    rng = np.random.default_rng(0)
    total = 0.0
    for m, k, n, count in prods:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        total += count * best_time(lambda a=a, b=b: a @ b, min_time=0.1)
    return total


def case(name: str, make, batch: int, x_shape: tuple, image, torch: Any) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *x_shape)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    fg.manual_seed(0)
    model = make()
    if isinstance(model, LastStep):
        x = np.ascontiguousarray(x.transpose(1, 0, 2))  # (steps, batch, features)
    reference = model.state_dict()
    loss_fn = nn.CrossEntropyLoss()
    fns: dict[str, Any] = {}
    if isinstance(model, nn.Sequential):
        step = fg.compile(model, loss_fn, optim.Adam(model.parameters(), lr=1e-3))
        assert step.compiled, step.reason
        fns["compiled"] = lambda: step(x, y)

    eager_model = make()
    eager_model.load_state_dict(reference)
    opt_e = optim.Adam(eager_model.parameters(), lr=1e-3)

    def eager() -> None:
        opt_e.zero_grad()
        loss_fn(eager_model(tensor(x)), y).backward()
        opt_e.step()

    fns["eager"] = eager
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
    prods = gemm_products(model, batch, image)
    flops = 2 * sum(m * k * n * count for m, k, n, count in prods)
    t_gemm = numpy_gemm_time(prods)
    fastest = min(t.get("compiled", np.inf), t["eager"])
    row: dict[str, Any] = {
        "case": name,
        "batch": batch,
        "compiled_steps_per_s": 1 / t["compiled"] if "compiled" in t else None,
        "eager_steps_per_s": 1 / t["eager"],
        "step_gflop": flops / 1e9,
        "gemm_bound_fraction": t_gemm / fastest,
    }
    if torch is not None:
        row["torch_steps_per_s"] = 1 / t["torch"]
        row["compiled_vs_torch"] = t["torch"] / t["compiled"] if "compiled" in t else None
        row["eager_vs_torch"] = t["torch"] / t["eager"]
    return row


def main() -> None:
    torch = torch_or_none()
    cases = [
        ("small 64-64-10", lambda: mlp([64, 64, 10]), 32, (64,), None),
        ("medium 784-256-128-10", lambda: mlp([784, 256, 128, 10]), 128, (784,), None),
        ("large 784-1024-1024-10", lambda: mlp([784, 1024, 1024, 10]), 256, (784,), None),
        ("cnn 8x8 1-16-32", cnn, 64, (1, 8, 8), (8, 8)),
        ("lenet 28x28", lenet, 64, (1, 28, 28), (28, 28)),
        ("lstm 32-128 x50", lambda: LastStep("LSTM"), 64, (SEQ, FEATURES), None),
        ("gru 32-128 x50", lambda: LastStep("GRU"), 64, (SEQ, FEATURES), None),
    ]
    only = sys.argv[1:]
    if only:
        cases = [c for c in cases if any(word in c[0] for word in only)]
    rows = [case(*c, torch) for c in cases]
    version = f"PyTorch {torch.__version__}" if torch is not None else "PyTorch not installed"
    print(f"ferrograd {fg.__version__}, {fg.num_threads()} threads; {version}")
    head = f"{'case':24s} {'compiled/s':>11s} {'eager/s':>9s} {'GEMM-bound':>10s}"
    if torch is not None:
        head += f" {'torch/s':>9s} {'compiled/torch':>14s} {'eager/torch':>11s}"
    print(head)
    for r in rows:
        compiled = r["compiled_steps_per_s"]
        line = (
            f"{r['case']:24s} {'-' if compiled is None else f'{compiled:.0f}':>11s} "
            f"{r['eager_steps_per_s']:9.0f} {r['gemm_bound_fraction']:10.2f}"
        )
        if torch is not None:
            ratio = r["compiled_vs_torch"]
            line += (
                f" {r['torch_steps_per_s']:9.0f} {'-' if ratio is None else f'{ratio:.2f}x':>14s}"
                f" {r['eager_vs_torch']:10.2f}x"
            )
        print(line)
    extra = {"torch": torch.__version__ if torch is not None else None}
    print(f"wrote {write_results('bench_train_step', rows, extra)}")


if __name__ == "__main__":
    main()
