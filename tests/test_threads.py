"""Kernels called from several Python threads at once, and with one kernel thread.

The kernels release the GIL and split large calls over their own threads; calls from other
threads must neither deadlock nor mix up each other's work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
from ferrograd import ops


def _work(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((192, 300))
    b = rng.standard_normal((300, 160))
    g = rng.standard_normal((192, 160))
    x = rng.standard_normal((16, 3, 12, 12))
    w = rng.standard_normal((8, 3, 3, 3))
    logits = rng.standard_normal((4096, 12))
    labels = rng.integers(0, 12, 4096)
    return [
        ops.matmul(a, b),
        *ops.matmul_backward(g, a, b),
        ops.conv2d(x, w, None, padding=1),
        *ops.conv2d_backward(rng.standard_normal((16, 8, 12, 12)), x, w, padding=1),
        ops.max_pool2d(x, 2),
        F.relu(rng.standard_normal(70_000)),
        F.cross_entropy_backward(1.0, logits, labels),
        ops.sum(rng.standard_normal(200_000)),
        ops.sum(rng.standard_normal(300_001).astype(np.float32)),
        F.mse_loss(rng.standard_normal(100_000), rng.standard_normal(100_000)),
        ops.max(rng.standard_normal((300, 900)), axis=1),
        *_norm_grads(rng),
        F.entropy(rng.dirichlet(np.ones(8), 20_000)),
        _first_bad_label_message(),
    ]


def _norm_grads(rng: np.random.Generator) -> list[np.ndarray]:
    """Layer-norm and embedding outputs and gradients, large enough to run in parallel."""
    x = fg.tensor(rng.standard_normal((512, 256)), requires_grad=True)
    y = F.layer_norm(x, (256,))
    (y * rng.standard_normal(y.shape)).sum().backward()
    table = fg.tensor(rng.standard_normal((300, 64)), requires_grad=True)
    e = F.embedding(rng.integers(0, 300, 4000), table)
    (e * rng.standard_normal(e.shape)).sum().backward()
    return [y.data, x.grad, e.data, table.grad]


def _first_bad_label_message() -> np.ndarray:
    """The error for a large batch with bad labels must name the first one."""
    labels = np.zeros(200_000, dtype=np.int64)
    labels[[150_001, 170_000]] = 7
    try:
        F.cross_entropy(np.zeros((200_000, 5)), labels)
    except ValueError as e:
        assert "150001" in str(e), str(e)
        return np.array([1.0])
    raise AssertionError("bad labels were accepted")


def test_concurrent_calls_match_sequential_ones() -> None:
    seeds = list(range(12))
    want = [_work(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(_work, seeds))
    for w_list, g_list in zip(want, got):
        for w, g in zip(w_list, g_list):
            np.testing.assert_array_equal(g, w)


def _work_in_child(seed: int, env: dict[str, str]) -> tuple[list[np.ndarray], int]:
    """``_work(seed)`` computed by a fresh interpreter with extra environment variables, and
    the number of kernel threads it used."""
    script = (
        "import numpy as np, sys, ferrograd\n"
        "sys.path.insert(0, %r)\n"
        "from test_threads import _work\n"
        "np.savez(%r, *_work(%d))\n"
        "print(ferrograd.num_threads())\n"
    )
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"fg_child_{os.getpid()}.npz")
    code = script % (os.path.dirname(__file__), out, seed)
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={**os.environ, **env},
        timeout=120,
        capture_output=True,
        text=True,
    )
    try:
        with np.load(out) as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files))], int(done.stdout)
    finally:
        os.remove(out)


def test_workers_that_sleep_at_once_give_the_same_results() -> None:
    got, _ = _work_in_child(4, {"FERROGRAD_SPIN_US": "0"})
    for g, w in zip(got, _work(4)):
        np.testing.assert_array_equal(g, w)


def test_one_kernel_thread_gives_the_same_results() -> None:
    # Bit for bit: sums are split by length alone, never by the number of threads.
    got, threads = _work_in_child(3, {"FERROGRAD_NUM_THREADS": "1"})
    assert threads == 1
    for g, w in zip(got, _work(3)):
        np.testing.assert_array_equal(g, w)


def test_kernels_work_in_forked_children() -> None:
    # A child forked after the kernel threads started has none of them; the calling thread
    # must then do all the work itself rather than wait for threads that do not exist.
    script = (
        "import multiprocessing as mp, numpy as np, sys\n"
        "sys.path.insert(0, %r)\n"
        "from test_threads import _work\n"
        "want = _work(5)\n"
        "def child(_):\n"
        "    return all(np.array_equal(g, w) for g, w in zip(_work(5), want))\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('fork').Pool(2) as pool:\n"
        "        assert all(pool.map(child, range(4), chunksize=1))\n"
    )
    code = script % os.path.dirname(__file__)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
