"""ferrograd.sklearn's MLPClassifier vs scikit-learn's, same parameters, on the bundled digits.

Digits, a seeded stratified 75/25 split, standardized on the training part. Both estimators
get the same parameters and ``random_state`` (so the same initial weights) and run a fixed
number of epochs (``tol=0``, ``n_iter_no_change`` above ``max_iter``); settings:

- ``defaults``: scikit-learn's defaults (one hidden layer of 100, Adam, ``alpha=1e-4``,
  ``batch_size="auto"``, i.e. 200), 50 epochs;
- ``batch 32``: a hidden layer of 128, batch 32, 30 epochs (the Trainer benchmark's shape).

Candidates: ``ferrograd`` (:class:`ferrograd.sklearn.MLPClassifier`), ``sklearn`` (with its
default BLAS threads) and ``sklearn 1 thread`` (BLAS limited to one thread, which is faster
on a small or busy machine). Each is timed over whole fits in alternating rounds (best of
``--repeat``); test accuracies are printed next to the times.

Run: ``.venv/bin/python benches/bench_sklearn.py``.
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
from _common import write_results
from ferrograd.data import StandardScaler, load_digits, train_test_split

SETTINGS = {
    "defaults": {"hidden_layer_sizes": (100,), "max_iter": 50},
    "batch 32": {"hidden_layer_sizes": (128,), "max_iter": 30, "batch_size": 32},
}


def data() -> tuple[np.ndarray, ...]:
    x, y = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, seed=0, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr), scaler.transform(x_te), y_tr, y_te


def fit_and_score(cls: Any, params: dict[str, Any], d: tuple[np.ndarray, ...]) -> float:
    x_tr, x_te, y_tr, y_te = d
    clf = cls(tol=0.0, n_iter_no_change=10_000, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge" after exactly max_iter epochs
        clf.fit(x_tr, y_tr)
    assert clf.n_iter_ == params["max_iter"]
    return float(clf.score(x_te, y_te))


def timed(fns: dict[str, Callable[[], float]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best wall time of whole fits per candidate (alternating rounds) and its accuracy."""
    best = dict.fromkeys(fns, float("inf"))
    acc = {name: fn() for name, fn in fns.items()}  # warm-up; fits are deterministic
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
    from ferrograd.sklearn import MLPClassifier
    from sklearn.neural_network import MLPClassifier as SkMLP
    from threadpoolctl import threadpool_limits

    def one_thread(params: dict[str, Any]) -> float:
        with threadpool_limits(1):
            return fit_and_score(SkMLP, params, d)

    d = data()
    print(f"digits, {len(d[0])} training samples, {fg.num_threads()} ferrograd threads")
    rows = []
    for setting, params in SETTINGS.items():
        fns: dict[str, Callable[[], float]] = {
            "ferrograd": lambda p=params: fit_and_score(MLPClassifier, p, d),
            "sklearn": lambda p=params: fit_and_score(SkMLP, p, d),
            "sklearn 1 thread": lambda p=params: one_thread(p),
        }
        res = timed(fns, args.repeat)
        base = res["ferrograd"][0]
        print(f"\n{setting}: {params}")
        print(f"{'candidate':<18}{'seconds':>10}{'test acc':>10}{'vs ferrograd':>14}")
        for name, (sec, acc) in res.items():
            print(f"{name:<18}{sec:>10.4f}{acc:>10.4f}{sec / base:>13.2f}x")
            rows.append(
                {"setting": setting, "candidate": name, "seconds": sec, "test_accuracy": acc}
            )
    path = write_results(
        "bench_sklearn", rows, {"settings": {k: str(v) for k, v in SETTINGS.items()}}
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
