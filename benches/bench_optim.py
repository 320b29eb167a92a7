"""The Adam step, float32: ferrograd's fused kernel vs the best in-place NumPy expression (and
PyTorch's Adam when installed), against the machine's copy bandwidth, in one run.

Cases: the 235,146 parameters of a 784-256-128-10 MLP (weights and biases), and 25,000,000
parameters in a few large arrays. An Adam step reads the parameter, gradient and both moments
and writes the parameter and both moments: 28 bytes per float32 parameter at the least, so
the effective bandwidth is ``28 * n / time``. The copy bandwidth is ``np.copyto`` of a large
array (bytes read + written per second) measured in the same run; a memory-bound step at
100% of it would be as fast as the memory allows a single stream to go.

Run: ``make bench`` or ``.venv/bin/python benches/bench_optim.py``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_time, torch_or_none, write_results
from ferrograd import nn
from ferrograd.optim import Adam

BYTES_PER_PARAM = 28  # read p, g, m, v (16) + write p, m, v (12), float32
LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8

MLP = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]
LARGE = [(4000, 4000), (3000, 3000)]


def numpy_adam(
    ps: list[np.ndarray],
    gs: list[np.ndarray],
    ms: list[np.ndarray],
    vs: list[np.ndarray],
    tmps: list[np.ndarray],
    step: int,
) -> None:
    """The Adam update with NumPy ufuncs writing in place (one scratch buffer per array)."""
    bc1 = 1 - BETA1**step
    bc2_sqrt = math.sqrt(1 - BETA2**step)
    step_size = LR / bc1
    for p, g, m, v, t in zip(ps, gs, ms, vs, tmps):
        m *= BETA1
        np.multiply(g, 1 - BETA1, out=t)
        m += t
        v *= BETA2
        np.multiply(g, g, out=t)
        t *= 1 - BETA2
        v += t
        np.sqrt(v, out=t)
        t /= bc2_sqrt
        t += EPS
        np.divide(m, t, out=t)
        t *= -step_size
        p += t


def copy_bandwidth() -> float:
    """Bytes read + written per second by ``np.copyto`` of a 256 MB float32 array."""
    src = np.ones(64_000_000, np.float32)
    dst = np.empty_like(src)
    t = best_time(lambda: np.copyto(dst, src), min_time=1.0)
    return 2 * src.nbytes / t


def case(name: str, shapes: list[tuple[int, ...]], copy_bw: float, torch: Any) -> dict:
    rng = np.random.default_rng(0)
    params = [nn.Parameter(rng.standard_normal(s, dtype=np.float32) * 0.1) for s in shapes]
    for p in params:
        p.grad = rng.standard_normal(p.shape, dtype=np.float32)
    n = sum(p.data.size for p in params)
    opt = Adam(params, lr=LR, betas=(BETA1, BETA2), eps=EPS)
    opt.step()  # creates the state

    # Check that both compute the same update before timing them.
    check = [p.data.copy() for p in params]
    st = [opt.state[p] for p in params]
    ms = [s["exp_avg"].copy() for s in st]
    vs = [s["exp_avg_sq"].copy() for s in st]
    tmps = [np.empty_like(p.data) for p in params]
    gs = [p.grad for p in params]
    step = int(st[0]["step"]) + 1
    numpy_adam(check, gs, ms, vs, tmps, step)
    opt.step()
    for a, b in zip(check, params):
        np.testing.assert_allclose(a, b.data, rtol=1e-5, atol=1e-7)

    # The two time the same kind of work on separate buffers (values drift; cost does not).
    t_fg = best_time(opt.step)
    ps_np = [p.data.copy() for p in params]
    counter = [step]

    def run_numpy() -> None:
        counter[0] += 1
        numpy_adam(ps_np, gs, ms, vs, tmps, counter[0])

    t_np = best_time(run_numpy)
    gbs = BYTES_PER_PARAM * n / t_fg / 1e9
    row = {
        "case": name,
        "params": n,
        "arrays": len(shapes),
        "ferrograd_ms": t_fg * 1e3,
        "numpy_ms": t_np * 1e3,
        "ferrograd_gbs": gbs,
        "numpy_gbs": BYTES_PER_PARAM * n / t_np / 1e9,
        "ratio_vs_numpy": t_np / t_fg,
        "fraction_of_copy_bandwidth": gbs * 1e9 / copy_bw,
    }
    if torch is not None:
        tp = [torch.from_numpy(p.data.copy()).requires_grad_() for p in params]
        for t, p in zip(tp, params):
            t.grad = torch.from_numpy(p.grad)
        topt = torch.optim.Adam(tp, lr=LR, betas=(BETA1, BETA2), eps=EPS)
        topt.step()
        t_t = best_time(topt.step)
        row["torch_ms"] = t_t * 1e3
        row["ratio_vs_torch"] = t_t / t_fg
    return row


def main() -> None:
    torch = torch_or_none()
    copy_bw = copy_bandwidth()
    print(f"copy bandwidth (np.copyto, read + write): {copy_bw / 1e9:.2f} GB/s")
    rows = [
        case("mlp 784-256-128-10", MLP, copy_bw, torch),
        case("25M params", LARGE, copy_bw, torch),
    ]
    head = (
        f"{'case':22s} {'params':>11s} {'ferrograd':>10s} {'numpy':>10s} {'ratio':>7s} "
        f"{'GB/s':>7s} {'of copy':>8s}"
    )
    if torch is not None:
        head += f" {'torch':>10s} {'vs torch':>8s}"
    print(head)
    for r in rows:
        line = (
            f"{r['case']:22s} {r['params']:11,d} {r['ferrograd_ms']:8.3f}ms "
            f"{r['numpy_ms']:8.3f}ms {r['ratio_vs_numpy']:6.2f}x {r['ferrograd_gbs']:7.2f} "
            f"{100 * r['fraction_of_copy_bandwidth']:7.1f}%"
        )
        if torch is not None:
            line += f" {r['torch_ms']:8.3f}ms {r['ratio_vs_torch']:7.2f}x"
        print(line)
    path = write_results(
        "bench_optim",
        rows,
        {
            "bytes_per_param": BYTES_PER_PARAM,
            "copy_bandwidth_gbs": copy_bw / 1e9,
            "goal": "ratio_vs_numpy >= 3; at 25M params >= 80% of copy bandwidth",
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
