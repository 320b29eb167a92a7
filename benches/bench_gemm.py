"""float32 matrix products: ferrograd vs NumPy's ``@`` (and PyTorch when installed), one run.

Cases: a 1024^3 product, and the products of a 784-256-128-10 MLP with batch 128 (forward
``x @ W`` and both backward products ``g @ W^T`` and ``x^T @ g``), and the same products
through ``ops.matmul`` on transposed views (``a.T @ g``, ``g @ b.T`` and both transposed),
which the core reads through their strides instead of copying.

Run: ``make bench`` or ``.venv/bin/python benches/bench_gemm.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_times, torch_or_none, write_results
from ferrograd import ops


def case(name: str, m: int, k: int, n: int, kind: str, torch) -> dict:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    g = rng.standard_normal((m, n), dtype=np.float32)
    gt = np.ascontiguousarray(g.T)  # g stored transposed, so gt.T is a column-major view
    views = {
        "a.T @ g": (a.T, g),  # x^T @ g: a weight gradient
        "g @ b.T": (g, b.T),  # g @ W^T: an input gradient
        "a.T @ b.T": (a.T, gt.T),  # the weight gradient with both operands transposed
    }
    if kind == "forward":
        fg = lambda: ops.matmul(a, b)  # noqa: E731
        fn = lambda: a @ b  # noqa: E731
        flops = 2 * m * k * n
    elif kind in views:
        # Transposed views of C-ordered arrays, as autograd hands them over.
        x, y = views[kind]
        fg = lambda: ops.matmul(x, y)  # noqa: E731
        fn = lambda: x @ y  # noqa: E731
        flops = 2 * x.shape[0] * x.shape[1] * y.shape[1]
    else:
        fg = lambda: ops.matmul_backward(g, a, b)  # noqa: E731
        fn = lambda: (g @ b.T, a.T @ g)  # noqa: E731
        flops = 4 * m * k * n
    fns = {"ferrograd": fg, "numpy": fn}
    if torch is not None:
        ta, tb, tg = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(g)
        if kind == "forward":
            fns["torch"] = lambda: ta @ tb
        elif kind in views:
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            fns["torch"] = lambda: tx @ ty
        else:
            fns["torch"] = lambda: (tg @ tb.T, ta.T @ tg)
    t = best_times(fns)
    t_fg, t_np = t["ferrograd"], t["numpy"]
    row = {
        "case": name,
        "kind": kind,
        "shape": [m, k, n],
        "flops": flops,
        "ferrograd_gflops": flops / t_fg / 1e9,
        "numpy_gflops": flops / t_np / 1e9,
        "ratio_vs_numpy": t_np / t_fg,
    }
    if torch is not None:
        row["torch_gflops"] = flops / t["torch"] / 1e9
        row["ratio_vs_torch"] = t["torch"] / t_fg
    return row


def main() -> None:
    torch = torch_or_none()
    cases = [("square 1024", 1024, 1024, 1024, "forward")]
    for i, (fin, fout) in enumerate([(784, 256), (256, 128), (128, 10)]):
        for kind in ("forward", "backward", "a.T @ g", "g @ b.T", "a.T @ b.T"):
            cases.append((f"mlp layer {i + 1} {fin}->{fout}", 128, fin, fout, kind))
    rows = [case(*c, torch) for c in cases]
    head = f"{'case':28s} {'kind':10s} {'ferrograd':>10s} {'numpy':>10s} {'ratio':>7s}"
    if torch is not None:
        head += f" {'torch':>10s} {'vs torch':>8s}"
    print(head + "   (GFLOP/s)")
    for r in rows:
        line = (
            f"{r['case']:28s} {r['kind']:10s} {r['ferrograd_gflops']:10.1f} "
            f"{r['numpy_gflops']:10.1f} {r['ratio_vs_numpy']:6.2f}x"
        )
        if torch is not None:
            line += f" {r['torch_gflops']:10.1f} {r['ratio_vs_torch']:7.2f}x"
        print(line)
    mlp = [r for r in rows if r["case"].startswith("mlp") and r["kind"] in ("forward", "backward")]
    t_fg = sum(r["flops"] / r["ferrograd_gflops"] for r in mlp)
    t_np = sum(r["flops"] / r["numpy_gflops"] for r in mlp)
    worst = min(
        (r for r in rows if "T" in r["kind"]), key=lambda r: r["ratio_vs_numpy"], default=None
    )
    if worst is not None:
        print(
            f"slowest transposed layout: {worst['case']} {worst['kind']} at "
            f"{worst['ratio_vs_numpy']:.2f}x NumPy"
        )
    print(f"MLP products combined: ferrograd/NumPy time ratio {t_np / t_fg:.2f}x")
    path = write_results("bench_gemm", rows, {"mlp_combined_ratio_vs_numpy": t_np / t_fg})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
