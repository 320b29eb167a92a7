"""Results large enough for the paths that only big arrays take: cross-entropy gradients of
16 MiB and more are written with streaming stores, and freed blocks of 4 MiB and more are
kept and handed out again without being cleared.

Every element of a reused block must be written: the tests first leave NaN-filled blocks
behind, so an element a kernel skipped would show up as NaN. Leaf gradients of 4 MiB and more
are copied and summed by the extension, into such blocks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
import pytest
from reference import cross_entropy_grad_ref, cross_entropy_ref

# float32 gradients of these shapes are just over 16 MiB: wide rows and narrow rows.
WIDE = (300, 14_000)
NARROW = (420_007, 10)  # the last 7 rows are not a whole tile of 16


def _leave_nan_blocks(nbytes: int) -> None:
    """Frees a few ferrograd-made arrays of about `nbytes` bytes, filled with NaN."""
    n = nbytes // 4
    logits = np.zeros((n // 4, 4), np.float32)
    labels = np.zeros(n // 4, np.int64)
    for _ in range(3):
        g = F.cross_entropy_backward(np.float32(1.0), logits, labels)
        g.fill(np.nan)
        del g


def _case(shape: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    y = rng.integers(0, shape[1], shape[0])
    y[::7] = -100
    return x, y


@pytest.mark.parametrize("shape", [WIDE, NARROW], ids=["wide", "narrow"])
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"label_smoothing": 0.1},
        {"weight": "w", "reduction": "sum"},
        {"reduction": "none"},
    ],
    ids=["plain", "smoothing", "weight-sum", "none"],
)
def test_cross_entropy_gradient_of_every_row(shape: tuple[int, int], opts: dict) -> None:
    x, y = _case(shape, 1)
    kw = dict(opts)
    if kw.get("weight") == "w":
        kw["weight"] = np.linspace(0.5, 2.0, shape[1]).astype(np.float32)
    each = kw.get("reduction") == "none"
    grad_out = np.full(shape[0], 0.7, np.float32) if each else np.float32(0.7)
    _leave_nan_blocks(x.nbytes)
    loss, grad = F.cross_entropy_with_grad(x, y, grad_output=grad_out, **kw)
    assert np.isfinite(grad).all()
    ref_kw = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    np.testing.assert_allclose(loss, cross_entropy_ref(x, y, **ref_kw), rtol=2e-5, atol=1e-6)
    ref = cross_entropy_grad_ref(grad_out, x, y, **ref_kw)
    # float32 differences of terms near 1 leave absolute errors of about 1e-7.
    np.testing.assert_allclose(grad, ref, rtol=1e-4, atol=1e-6)
    assert (grad[y == -100] == 0).all()
    # The separate backward call gives the same gradient, and the forward the same loss.
    _leave_nan_blocks(x.nbytes)
    np.testing.assert_array_equal(F.cross_entropy_backward(grad_out, x, y, **kw), grad)
    np.testing.assert_allclose(F.cross_entropy(x, y, **kw), loss, rtol=1e-6)


def test_probability_targets_on_wide_rows() -> None:
    x, _ = _case(WIDE, 2)
    rng = np.random.default_rng(3)
    t = rng.random(WIDE).astype(np.float32)
    t /= t.sum(axis=1, keepdims=True)
    _leave_nan_blocks(x.nbytes)
    loss, grad = F.cross_entropy_with_grad(x, t)
    np.testing.assert_allclose(loss, cross_entropy_ref(x, t), rtol=2e-5)
    np.testing.assert_allclose(grad, cross_entropy_grad_ref(1.0, x, t), rtol=1e-4, atol=1e-9)


def test_reused_blocks_hold_independent_results() -> None:
    """Two results alive at once never share memory, and a freed one is not written to."""
    x, y = _case(NARROW, 4)
    a = F.cross_entropy_backward(np.float32(1.0), x, y)
    b = F.cross_entropy_backward(np.float32(2.0), x, y)
    assert not np.shares_memory(a, b)
    np.testing.assert_allclose(b, 2 * a, rtol=1e-6, atol=1e-12)
    kept = a.copy()
    del b
    F.cross_entropy_backward(np.float32(3.0), x, y)
    np.testing.assert_array_equal(a, kept)


def test_results_do_not_depend_on_block_reuse() -> None:
    """With reuse turned off (FERROGRAD_CACHE_MB=0) the results are bit for bit the same."""
    x, y = _case(WIDE, 5)
    _, here = F.cross_entropy_with_grad(x, y)
    there = _gradient_elsewhere(x, y, {"FERROGRAD_CACHE_MB": "0"}, repeat=2)
    np.testing.assert_array_equal(here, there)


def _gradient_elsewhere(
    x: np.ndarray, y: np.ndarray, env: dict[str, str], repeat: int = 1, **kw: str
) -> np.ndarray:
    """The gradient of ``cross_entropy_with_grad(x, y, **kw)`` from a fresh process with the
    extra environment ``env`` (computed ``repeat`` times there, the last one returned)."""
    code = (
        "import sys, numpy as np, ferrograd.functional as F\n"
        "x = np.load(sys.argv[1]); y = np.load(sys.argv[2])\n"
        f"for _ in range({repeat}):\n"
        f"    _, g = F.cross_entropy_with_grad(x, y, **{kw!r})\n"
        "sys.stdout.buffer.write(g.tobytes())\n"
    )
    with tempfile.TemporaryDirectory() as d:
        px, py = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
        np.save(px, x)
        np.save(py, y)
        out = subprocess.run(
            [sys.executable, "-c", code, px, py],
            env=dict(os.environ, **env),
            capture_output=True,
            check=True,
        ).stdout
    return np.frombuffer(out, x.dtype).reshape(x.shape)


def test_reading_the_budget_does_not_allocate() -> None:
    """The budget is read inside the allocator: a value too long for the small-block path
    must not send the first large allocation back into it (which would hang)."""
    code = (
        "import os\n"
        "os.environ['FERROGRAD_CACHE_MB'] = ' ' * (5 << 20) + '64'\n"
        "import numpy as np, ferrograd.functional as F\n"
        "g = F.cross_entropy_backward(np.float32(1), np.zeros((1 << 21, 4), np.float32),"
        " np.zeros(1 << 21, np.int64))\n"
        "print(g.shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "(2097152, 4)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_leaf_gradients_are_own_copies_and_accumulate(dtype: type) -> None:
    rng = np.random.default_rng(5)
    shape = (1100, 1000)  # 4.4 MB in float32
    a = fg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    b = fg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    _leave_nan_blocks(a.data.nbytes)
    # Both leaves receive the same upstream array; each must get its own copy.
    (a + b).sum().backward()
    assert a.grad.dtype == dtype and b.grad.dtype == dtype
    np.testing.assert_array_equal(a.grad, np.ones(shape, dtype))
    np.testing.assert_array_equal(b.grad, np.ones(shape, dtype))
    assert not np.shares_memory(a.grad, b.grad)
    a.grad[0, 0] = 5.0
    assert b.grad[0, 0] == 1.0
    w = rng.standard_normal(shape).astype(dtype)
    (a * fg.tensor(w)).sum().backward()
    want = 1.0 + w
    want[0, 0] = 5.0 + w[0, 0]
    np.testing.assert_array_equal(a.grad, want.astype(dtype))
    np.testing.assert_array_equal(b.grad, np.ones(shape, dtype))


def test_large_leaf_gradient_of_a_transposed_use() -> None:
    rng = np.random.default_rng(6)
    c = fg.tensor(rng.standard_normal((1000, 600)), requires_grad=True)  # 4.8 MB
    w = rng.standard_normal((600, 1000))
    _leave_nan_blocks(c.data.nbytes)
    (c.T * fg.tensor(w)).sum().backward()
    assert c.grad.shape == (1000, 600) and c.grad.flags.c_contiguous
    np.testing.assert_array_equal(c.grad, w.T)


def test_the_avx2_build_of_cross_entropy() -> None:
    """CPUs without AVX-512 run the AVX2 build of the cross-entropy kernels; with
    FERROGRAD_AVX512=0 this machine does too. The cross-entropy tests pass there, and the
    switch takes effect: the AVX-512 exponential gives subnormal values for arguments
    between -104 and -87.3, where the AVX2 build gives 0."""
    if os.environ.get("FERROGRAD_AVX512") == "0":
        pytest.skip("already running without AVX-512")
    env = dict(os.environ, FERROGRAD_AVX512="0")
    here = os.path.dirname(os.path.abspath(__file__))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "cross_entropy and not avx2_build",
            os.path.join(here, "test_large_results.py"),
            os.path.join(here, "test_classification_losses.py"),
            os.path.join(here, "test_functional_autograd.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    x, y = _case((4096, 10), 7)
    x[:, 3] = -95.0
    x[:, 5] = 0.0
    there = _gradient_elsewhere(x, y, {"FERROGRAD_AVX512": "0"}, reduction="sum")
    here_grad = F.cross_entropy_with_grad(x, y, reduction="sum")[1]
    np.testing.assert_allclose(there, here_grad, rtol=1e-5, atol=1e-30)
    if _has_avx512():
        assert not np.array_equal(there, here_grad)


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return all(f" {f}" in flags for f in ("avx512f", "avx512dq", "avx512vl"))
