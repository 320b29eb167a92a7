"""Shared benchmark helpers: timing, optional PyTorch, and writing results as JSON."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).parent / "results"


def best_time(fn: Callable[[], Any], min_time: float = 0.3, repeat: int = 5) -> float:
    """Seconds per call: the best of ``repeat`` rounds, each long enough to be timed well."""
    fn()  # warm-up
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / repeat / once))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
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
