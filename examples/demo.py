"""Train a two-layer MLP on synthetic spirals with ferrograd's kernels and their gradients.

Every forward op has a ``*_backward`` next to it, so a network can be trained by chaining them
by hand: this is what the autograd layer automates. Run with ``make demo``.
"""

from __future__ import annotations

import time

import ferrograd
import ferrograd.functional as F
import numpy as np
from ferrograd import ops


def spirals(n_per_class: int, classes: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Interleaved 2-D spirals: a classic problem no linear model can solve."""
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def main() -> None:
    rng = np.random.default_rng(0)
    x, y = spirals(300, 3, rng)
    hidden, classes, lr, epochs, batch = 64, 3, 0.5, 300, 64
    w1 = (rng.standard_normal((2, hidden)) * np.sqrt(2 / 2)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.standard_normal((hidden, classes)) * np.sqrt(1 / hidden)).astype(np.float32)
    b2 = np.zeros(classes, np.float32)
    print(f"ferrograd {ferrograd.__version__}, {ferrograd.num_threads()} threads")
    print(f"spirals: {len(x)} points, 3 classes; MLP 2-{hidden}-3, SGD lr={lr}, batch {batch}")
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            xb, yb = x[idx], y[idx]
            # forward
            z1 = ops.add(ops.matmul(xb, w1), b1)
            h = F.relu(z1)
            logits = ops.add(ops.matmul(h, w2), b2)
            # backward, kernel by kernel
            g_logits = F.cross_entropy_backward(np.float32(1.0), logits, yb)
            g_hw2, g_b2 = ops.add_backward(g_logits, ops.matmul(h, w2), b2)
            g_h, g_w2 = ops.matmul_backward(g_hw2, h, w2)
            g_z1 = F.relu_backward(g_h, z1)
            g_xw1, g_b1 = ops.add_backward(g_z1, ops.matmul(xb, w1), b1)
            _, g_w1 = ops.matmul_backward(g_xw1, xb, w1)
            for p, g in ((w1, g_w1), (b1, g_b1), (w2, g_w2), (b2, g_b2)):
                p -= lr * g
        if epoch in (1, 10, 50, 100, 200, 300):
            logits = ops.add(ops.matmul(F.relu(ops.add(ops.matmul(x, w1), b1)), w2), b2)
            loss = float(F.cross_entropy(logits, y))
            acc = float(np.mean(np.argmax(logits, axis=1) == y))
            print(f"epoch {epoch:4d}  loss {loss:.4f}  accuracy {acc:.3f}")
    print(f"trained in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
