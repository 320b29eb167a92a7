"""Shared benchmark helpers: timing, optional PyTorch, and writing results as JSON."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).parent / "results"


def _calls_per_round(fn: Callable[[], Any], min_time: float, repeat: int) -> int:
    """Calls of ``fn`` that make a round of about ``min_time / repeat`` seconds (after a
    warm-up call)."""
    fn()  # warm-up
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(min_time / repeat / once))


def _round(fn: Callable[[], Any], number: int) -> float:
    """Seconds per call over ``number`` calls in a row."""
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def best_time(fn: Callable[[], Any], min_time: float = 0.3, repeat: int = 5) -> float:
    """Seconds per call: the best of ``repeat`` rounds, each long enough to be timed well."""
    number = _calls_per_round(fn, min_time, repeat)
    return min(_round(fn, number) for _ in range(repeat))


def best_times(
    fns: dict[str, Callable[[], Any]],
    min_time: float = 0.3,
    repeat: int = 5,
    pause: float = 0.3,
) -> dict[str, float]:
    """Seconds per call for each of ``fns``, timed in alternating rounds; the best round counts.

    Rounds of the candidates alternate, with a pause before each, so a library's worker
    threads still spinning after its own round (OpenBLAS and OpenMP busy-wait for a while) do
    not take a core from the next one, and a burst of load on a shared machine hits every
    candidate alike rather than one. Each round follows an untimed quarter-round, so that
    waking the threads after the pause is not counted either.
    """
    numbers = {name: _calls_per_round(fn, min_time, repeat) for name, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(pause)
            number = numbers[name]
            for _ in range(max(2, number // 4)):  # untimed: wake the threads up again
                fn()
            best[name] = min(best[name], _round(fn, number))
    return best


def torch_or_none() -> Any:
    """PyTorch if installed (threads set to ferrograd's), else None."""
    if os.environ.get("FERROGRAD_BENCH_NO_TORCH"):
        return None
    try:
        import torch
    except ImportError:
        return None
    import ferrograd

    torch.set_num_threads(ferrograd.num_threads())
    return torch


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import ferrograd
    import numpy as np

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "ferrograd_threads": ferrograd.num_threads(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "ferrograd": ferrograd.__version__,
    }


def write_results(
    name: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> Path:
    """Writes ``benches/results/<name>.json`` and returns its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"bench": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine()}
    doc.update(extra or {})
    doc["results"] = rows
    path.write_text(json.dumps(doc, indent=2))
    return path
