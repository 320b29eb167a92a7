"""A whole training run on the bundled digits: ferrograd's Trainer vs scikit-learn and PyTorch.

Digits, a seeded stratified 60/20/20 split, standardized on the training part; MLP 64-128-10,
Adam (lr 1e-3), batch 32, 30 epochs, reshuffled every epoch, no weight penalty. The same in
each candidate:

- ``trainer``: ``Trainer.fit`` with its default metric (training accuracy over each epoch);
- ``trainer, val``: the same, plus validation loss and accuracy after every epoch;
- ``bare loop``: a hand-written loop over ``ferrograd.compile``'s captured step (the floor the
  Trainer's overhead is measured against);
- ``sklearn``: ``MLPClassifier(solver="adam", alpha=0, ...)`` for exactly 30 epochs;
- ``torch``: a plain PyTorch loop (when PyTorch is installed), same initial weights.

Each candidate is timed over whole runs in alternating rounds (best of ``--repeat``); the test
accuracy of each is printed next to it.

Run: ``.venv/bin/python benches/bench_fit.py``; with PyTorch and scikit-learn in another
environment, ``PYTHONPATH=python <that env>/bin/python benches/bench_fit.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ferrograd as fg
from _common import torch_or_none, write_results
from ferrograd import nn, optim
from ferrograd.data import StandardScaler, load_digits, train_val_test_split
from ferrograd.train import Trainer

EPOCHS, BATCH, LR, HIDDEN = 30, 32, 1e-3, 128


def data() -> tuple[np.ndarray, ...]:
    x, y = load_digits()
    x_tr, x_va, x_te, y_tr, y_va, y_te = train_val_test_split(
        x, y, val_size=0.2, test_size=0.2, seed=0, stratify=y
    )
    scaler = StandardScaler().fit(x_tr)
    return (*(scaler.transform(a) for a in (x_tr, x_va, x_te)), y_tr, y_va, y_te)


def model() -> nn.Module:
    fg.manual_seed(0)
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def accuracy(m: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with fg.no_grad():
        return float(np.mean(m.eval()(x).data.argmax(axis=1) == y))


def run_trainer(d: tuple[np.ndarray, ...], val: bool) -> float:
    x_tr, x_va, x_te, y_tr, y_va, y_te = d
    m = model()
    t = Trainer(m, nn.CrossEntropyLoss(), optim.Adam(m.parameters(), lr=LR))
    t.fit((x_tr, y_tr), (x_va, y_va) if val else None, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    assert t.compiled, t.compile_reason
    return accuracy(m, x_te, y_te)


def run_bare(d: tuple[np.ndarray, ...]) -> float:
    x_tr, _, x_te, y_tr, _, y_te = d
    m = model()
    step = fg.compile(m, nn.CrossEntropyLoss(), optim.Adam(m.parameters(), lr=LR))
    n = len(x_tr)
    for epoch in range(EPOCHS):
        order = np.random.default_rng([0, epoch]).permutation(n)
        for s in range(0, n, BATCH):
            idx = order[s : s + BATCH]
            step(x_tr[idx], y_tr[idx])
    return accuracy(m, x_te, y_te)


def run_sklearn(d: tuple[np.ndarray, ...]) -> float:
    from sklearn.neural_network import MLPClassifier

    x_tr, _, x_te, y_tr, _, y_te = d
    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        alpha=0.0,
        batch_size=BATCH,
        learning_rate_init=LR,
        max_iter=EPOCHS,
        tol=0.0,
        n_iter_no_change=EPOCHS + 1,
        shuffle=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge" after exactly max_iter epochs
        clf.fit(x_tr, y_tr)
    assert clf.n_iter_ == EPOCHS
    return float(clf.score(x_te, y_te))


def run_torch(torch: Any, d: tuple[np.ndarray, ...]) -> float:
    x_tr, _, x_te, y_tr, _, y_te = d
    m = model()
    tm = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
    )
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in m.state_dict().items()})
    opt = torch.optim.Adam(tm.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    gen = torch.Generator().manual_seed(0)
    n = len(x_tr)
    for _ in range(EPOCHS):
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, BATCH):
            idx = order[s : s + BATCH]
            opt.zero_grad()
            loss = loss_fn(tm(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = tm(torch.from_numpy(x_te)).argmax(dim=1).numpy()
    return float(np.mean(pred == y_te))


def timed(fns: dict[str, Callable[[], float]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best wall time of whole runs per candidate (alternating rounds) and its accuracy."""
    best = dict.fromkeys(fns, float("inf"))
    acc: dict[str, float] = {}
    for name, fn in fns.items():
        acc[name] = fn()  # warm-up, and the accuracy (runs are deterministic)
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(0.3)
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: (best[name], acc[name]) for name in fns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    d = data()
    fns: dict[str, Callable[[], float]] = {
        "trainer": lambda: run_trainer(d, False),
        "trainer, val": lambda: run_trainer(d, True),
        "bare loop": lambda: run_bare(d),
    }
    try:
        import sklearn  # noqa: F401

        fns["sklearn"] = lambda: run_sklearn(d)
    except ImportError:
        print("scikit-learn is not installed: no sklearn column")
    torch = torch_or_none()
    if torch is not None:
        fns["torch"] = lambda: run_torch(torch, d)
    res = timed(fns, args.repeat)
    base = res["trainer"][0]
    print(
        f"digits MLP 64-{HIDDEN}-10, Adam, batch {BATCH}, {EPOCHS} epochs "
        f"({len(d[0])} training samples), {fg.num_threads()} threads"
    )
    print(f"{'candidate':<14}{'seconds':>10}{'test acc':>10}{'vs trainer':>12}")
    rows = []
    for name, (sec, acc) in res.items():
        print(f"{name:<14}{sec:>10.4f}{acc:>10.4f}{sec / base:>11.2f}x")
        rows.append({"candidate": name, "seconds": sec, "test_accuracy": acc})
    overhead = res["trainer"][0] / res["bare loop"][0] - 1
    print(f"Trainer overhead over the bare captured-step loop: {100 * overhead:.1f}%")
    if "sklearn" in res:
        print(
            f"Trainer vs sklearn: {res['sklearn'][0] / base:.1f}x faster; accuracy "
            f"{res['trainer'][1] - res['sklearn'][1]:+.4f}"
        )
    if "torch" in res:
        print(f"Trainer vs PyTorch loop: {res['torch'][0] / base:.1f}x faster")
    path = write_results("bench_fit", rows, {"trainer_overhead": overhead})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
