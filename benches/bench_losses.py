"""Cross-entropy forward + backward (class-index targets, mean): ferrograd vs NumPy (and
PyTorch when installed), float32, in one run.

Cases: (1_000_000, 10) (many narrow rows) and (512, 32_000) (few wide rows). ferrograd is
timed as two calls (``cross_entropy`` then ``cross_entropy_backward``), as the fused
``cross_entropy_with_grad``, and through autograd (``F.cross_entropy`` on a Tensor, then
``backward()``, which hands the fused pass's gradient to the leaf's ``.grad``); NumPy runs
the best plain expression of the same forward and backward (stable log-softmax, one
full-size buffer updated in place, reductions chosen for the row width). GB/s counts the
bytes of input read plus gradient written.

Run: ``make bench`` or ``.venv/bin/python benches/bench_losses.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ferrograd as fg
import ferrograd.functional as F
from _common import best_times, torch_or_none, write_results

CASES = [(1_000_000, 10), (512, 32_000)]


def numpy_cross_entropy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy of logits ``x`` (N, C) and labels ``y``, and its gradient."""
    n, c = x.shape
    narrow = c <= 32
    if narrow:
        # Column by column beats a reduction along a short axis.
        m = x[:, 0].copy()
        for k in range(1, c):
            np.maximum(m, x[:, k], out=m)
    else:
        m = x.max(axis=1)
    z = x - m[:, None]  # the one full-size buffer; it becomes the gradient
    flat = np.arange(n) * c + y
    z_target = z.reshape(-1)[flat]
    np.exp(z, out=z)
    s = np.einsum("ij->i", z) if narrow else z.sum(axis=1)
    loss = np.mean(np.log(s) - z_target)
    s *= n
    np.reciprocal(s, out=s)
    z *= s[:, None]  # softmax / n
    z.reshape(-1)[flat] -= x.dtype.type(1.0 / n)  # minus onehot / n
    return loss, z


def case(n: int, c: int, torch: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c), dtype=np.float32)
    y = rng.integers(0, c, n)
    one = np.float32(1.0)

    loss_np, grad_np = numpy_cross_entropy(x, y)
    loss_fg, grad_fg = F.cross_entropy_with_grad(x, y)
    assert np.allclose(loss_fg, loss_np, rtol=1e-4), (loss_fg, loss_np)
    assert np.allclose(grad_fg, grad_np, rtol=1e-3, atol=1e-9)
    assert np.array_equal(F.cross_entropy_backward(one, x, y), grad_fg)

    fns = {
        "numpy": lambda: numpy_cross_entropy(x, y),
        "forward": lambda: F.cross_entropy(x, y),
        "backward": lambda: F.cross_entropy_backward(one, x, y),
        "two": lambda: (F.cross_entropy(x, y), F.cross_entropy_backward(one, x, y)),
        "fused": lambda: F.cross_entropy_with_grad(x, y),
        "tensor": lambda: F.cross_entropy(fg.tensor(x, requires_grad=True), y).backward(),
    }
    if torch is not None:
        tx = torch.from_numpy(x)
        ty = torch.from_numpy(y)

        def torch_step() -> None:
            xt = tx.detach().requires_grad_()
            torch.nn.functional.cross_entropy(xt, ty).backward()

        fns["torch"] = torch_step
    t = best_times(fns, repeat=7)
    t_np, t_fwd, t_bwd, t_two, t_fused = (
        t[k] for k in ("numpy", "forward", "backward", "two", "fused")
    )
    traffic = 2 * x.nbytes
    row: dict[str, Any] = {
        "case": f"({n}, {c})",
        "shape": [n, c],
        "dtype": "float32",
        "numpy_ms": t_np * 1e3,
        "ferrograd_forward_ms": t_fwd * 1e3,
        "ferrograd_backward_ms": t_bwd * 1e3,
        "ferrograd_ms": t_two * 1e3,
        "ferrograd_fused_ms": t_fused * 1e3,
        "ferrograd_tensor_ms": t["tensor"] * 1e3,
        "ratio_vs_numpy": t_np / t_two,
        "ratio_fused_vs_numpy": t_np / t_fused,
        "ratio_tensor_vs_numpy": t_np / t["tensor"],
        "numpy_gbps": traffic / t_np / 1e9,
        "ferrograd_gbps": traffic / t_two / 1e9,
        "ferrograd_fused_gbps": traffic / t_fused / 1e9,
    }
    if torch is not None:
        t_t = t["torch"]
        row["torch_ms"] = t_t * 1e3
        row["ratio_vs_torch"] = t_t / t_two
        row["ratio_fused_vs_torch"] = t_t / t_fused
    return row


def main() -> None:
    torch = torch_or_none()
    rows = [case(n, c, torch) for n, c in CASES]
    head = (
        f"{'case':18s} {'numpy':>8s} {'fg fwd':>8s} {'fg bwd':>8s} {'fg f+b':>8s} "
        f"{'fused':>8s} {'tensor':>8s}   {'ratio':>6s} {'fused':>6s} {'tensor':>6s}"
        f"   {'GB/s np':>7s} {'f+b':>6s} {'fused':>6s}"
    )
    if torch is not None:
        head += f" {'torch':>8s} {'vs torch':>8s}"
    print(head + "   (ms; ratio = NumPy time / ferrograd time)")
    for r in rows:
        line = (
            f"{r['case']:18s} {r['numpy_ms']:8.2f} {r['ferrograd_forward_ms']:8.2f} "
            f"{r['ferrograd_backward_ms']:8.2f} {r['ferrograd_ms']:8.2f} "
            f"{r['ferrograd_fused_ms']:8.2f} {r['ferrograd_tensor_ms']:8.2f}   "
            f"{r['ratio_vs_numpy']:5.1f}x {r['ratio_fused_vs_numpy']:5.1f}x "
            f"{r['ratio_tensor_vs_numpy']:5.1f}x"
            f"   {r['numpy_gbps']:7.1f} {r['ferrograd_gbps']:6.1f} {r['ferrograd_fused_gbps']:6.1f}"
        )
        if torch is not None:
            line += f" {r['torch_ms']:8.2f} {r['ratio_vs_torch']:7.1f}x"
        print(line)
    path = write_results("bench_losses", rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
