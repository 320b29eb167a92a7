"""Every activation and loss of ferrograd.functional is a Tensor op, checked by gradcheck."""

from __future__ import annotations

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
import pytest
from ferrograd import Tensor, gradcheck, tensor

RNG = np.random.default_rng(7)


def rand(*shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    # stay clear of 0 so kinks (relu, l1, hinge) are not crossed by the finite differences
    x = RNG.uniform(lo, hi, shape)
    return np.where(np.abs(x) < 0.05, 0.3, x) if lo < 0 < hi else x


def probs(*shape: int) -> np.ndarray:
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


LABELS = np.array([2, 0, 1, 2])
P43, P23, T6, T23 = probs(4, 3), probs(2, 3), rand(6, lo=0.0, hi=1.0), rand(2, 3, lo=0.0, hi=1.0)
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
SIGNS2 = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]])

CASES = [
    ("relu", lambda x: F.relu(x), [rand(3, 4)]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), [rand(3, 4)]),
    ("sigmoid", lambda x: F.sigmoid(x), [rand(3, 4)]),
    ("tanh", lambda x: F.tanh(x), [rand(3, 4)]),
    ("gelu", lambda x: F.gelu(x), [rand(3, 4)]),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), [rand(3, 4)]),
    ("elu", lambda x: F.elu(x, alpha=0.7), [rand(3, 4)]),
    ("silu", lambda x: F.silu(x), [rand(3, 4)]),
    ("softplus", lambda x: F.softplus(x, beta=2.0), [rand(3, 4)]),
    ("softmax", lambda x: F.softmax(x, dim=0), [rand(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), [rand(3, 4)]),
    ("mse_loss", lambda x, t: F.mse_loss(x, t), [rand(3, 4), rand(3, 4)]),
    ("l1_loss", lambda x: F.l1_loss(x, tensor(np.zeros((3, 4)))), [rand(3, 4)]),
    ("huber_loss", lambda x: F.huber_loss(x, tensor(np.zeros(5)), delta=0.5), [rand(5)]),
    ("smooth_l1", lambda x: F.smooth_l1_loss(x, tensor(np.zeros(5)), reduction="sum"), [rand(5)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, LABELS), [rand(4, 3)]),
    (
        "cross_entropy weighted smoothed",
        lambda x: F.cross_entropy(x, LABELS, weight=np.array([0.2, 1.0, 2.0]), label_smoothing=0.1),
        [rand(4, 3)],
    ),
    ("cross_entropy probs", lambda x: F.cross_entropy(x, tensor(P43)), [rand(4, 3)]),
    (
        "cross_entropy spatial",
        lambda x: F.cross_entropy(x, np.array([[[0, 1], [2, 0]]]), reduction="none"),
        [rand(1, 3, 2, 2)],
    ),
    ("nll_loss", lambda x: F.nll_loss(x, LABELS, reduction="sum"), [rand(4, 3)]),
    (
        "binary_cross_entropy",
        lambda p: F.binary_cross_entropy(p, tensor(T6)),
        [rand(6, lo=0.1, hi=0.9)],
    ),
    (
        "bce_with_logits",
        lambda x: F.binary_cross_entropy_with_logits(x, T23, pos_weight=np.array([1.0, 2.0, 0.5])),
        [rand(2, 3)],
    ),
    ("kl_div", lambda x: F.kl_div(x, P23, reduction="batchmean"), [np.log(probs(2, 3))]),
    ("entropy", lambda p: F.entropy(p), [probs(2, 4)]),
    ("cross_entropy_dist", lambda p, q: F.cross_entropy_dist(p, q, base=2), [probs(3), probs(3)]),
    ("hinge_loss", lambda x: F.hinge_loss(x, SIGNS), [np.array([0.3, 0.2, 1.5, -0.4])]),
    (
        "hinge_embedding_loss",
        lambda x: F.hinge_embedding_loss(x, SIGNS),
        [np.array([0.3, 0.2, 1.5, 0.4])],
    ),
    ("soft_margin_loss", lambda x: F.soft_margin_loss(x, SIGNS), [rand(4)]),
    (
        "multi_margin_loss",
        lambda x: F.multi_margin_loss(x, LABELS, p=2, margin=0.5),
        [rand(4, 3)],
    ),
    (
        "cosine_embedding_loss",
        lambda a, b: F.cosine_embedding_loss(a, b, np.array([1.0, -1.0]), margin=-0.5),
        [rand(2, 3), rand(2, 3)],
    ),
    (
        "triplet_margin_loss",
        lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0),
        [rand(3, 4), rand(3, 4), rand(3, 4)],
    ),
    ("nt_xent_loss", lambda a, b: F.nt_xent_loss(a, b, temperature=0.5), [rand(3, 4), rand(3, 4)]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_functional_through_autograd(name, fn, inputs):
    out = fn(*[tensor(x, requires_grad=True) for x in inputs])
    assert isinstance(out, Tensor) and out.requires_grad
    assert gradcheck(fn, [x.copy() for x in inputs])


def test_a_target_without_a_gradient_rule_raises_instead_of_staying_silent():
    x = tensor(rand(4, 3), requires_grad=True)
    t = tensor(P43, requires_grad=True)
    loss = F.kl_div(x, t, reduction="sum")
    with pytest.raises(fg.FerrogradError, match="no gradient with respect to 'target'"):
        loss.backward()


def test_every_public_function_is_covered():
    covered = {c[0].split()[0] for c in CASES} | {"bce_with_logits"}
    public = {n for n in F.__all__ if not n.endswith("_backward")}
    public -= {"cross_entropy_with_grad"}  # a fused convenience of cross_entropy
    aliases = {"binary_cross_entropy_with_logits": "bce_with_logits", "smooth_l1_loss": "smooth_l1"}
    missing = {n for n in public if aliases.get(n, n) not in covered}
    # layers' functional forms (conv, pools, norms, embedding) are covered by their own tests
    missing -= {n for n in missing if any(k in n for k in ("conv", "pool", "norm", "embedding"))}
    # linear, dropout, one_hot and pad: tests/test_functional_layers.py
    missing -= {"linear", "dropout", "one_hot", "pad"}
    assert not missing, f"add autograd cases for {sorted(missing)}"


def test_forward_only_keywords_do_not_reach_the_backward():
    x = tensor(rand(3, 4), requires_grad=True)
    F.relu(x, inplace=False).sum().backward()
    np.testing.assert_array_equal(x.grad, (x.data > 0).astype(float))


def test_plain_arrays_still_give_plain_arrays():
    y = F.relu(np.array([-1.0, 2.0]))
    assert isinstance(y, np.ndarray) and not isinstance(y, Tensor)
    loss = F.cross_entropy(tensor(rand(4, 3).astype(np.float32), requires_grad=True), LABELS)
    assert loss.dtype == np.float32 and loss.shape == ()
    loss.backward()


def test_training_a_classifier_reduces_the_loss():
    fg.manual_seed(0)
    from ferrograd import nn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    first = None
    for _ in range(300):
        model.zero_grad()
        loss = F.cross_entropy(model(tensor(x)), y)
        first = float(loss.data) if first is None else first
        loss.backward()
        for p in model.parameters():
            p.data -= np.float32(0.5) * p.grad
    acc = float(np.mean(np.argmax(model(tensor(x)).data, axis=1) == y))
    assert float(loss.data) < 0.5 * first and acc > 0.9


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reduction": "sum"},
        {"label_smoothing": 0.2, "weight": np.array([0.5, 2.0, 1.0])},
        {"ignore_index": 0},
    ],
)
def test_cross_entropy_tensor_gradient_comes_from_the_fused_pass(kwargs) -> None:
    """A reduced cross-entropy computes its gradient in the forward pass; the backward scales
    it by the upstream gradient and gives what ``cross_entropy_backward`` gives."""
    x = rand(6, 3)
    y = np.array([0, 1, 2, 0, 2, 1])
    t = tensor(x, requires_grad=True)
    loss = F.cross_entropy(t, y, **kwargs)
    np.testing.assert_array_equal(loss.data, F.cross_entropy(x, y, **kwargs))
    loss.backward()
    np.testing.assert_array_equal(t.grad, F.cross_entropy_backward(1.0, x, y, **kwargs))
    # An upstream gradient other than 1 scales it.
    t2 = tensor(x, requires_grad=True)
    (F.cross_entropy(t2, y, **kwargs) * -2.5).backward()
    want = F.cross_entropy_backward(-2.5, x, y, **kwargs)
    np.testing.assert_allclose(t2.grad, want, rtol=1e-12, atol=1e-15)
    # And finite differences agree.
    assert gradcheck(lambda a: F.cross_entropy(a, y, **kwargs), [tensor(x, requires_grad=True)])


def test_cross_entropy_tensor_paths_without_the_fused_pass() -> None:
    x = rand(4, 3)
    # Unreduced: the backward runs on its own, with the per-row upstream gradient.
    t = tensor(x, requires_grad=True)
    (F.cross_entropy(t, LABELS, reduction="none") * np.arange(1.0, 5.0)).sum().backward()
    np.testing.assert_allclose(
        t.grad, F.cross_entropy_backward(np.arange(1.0, 5.0), x, LABELS, reduction="none")
    )
    # Under no_grad nothing is recorded (and no gradient computed).
    with fg.no_grad():
        out = F.cross_entropy(tensor(x, requires_grad=True), LABELS)
    assert not out.requires_grad
    # A probability target that needs a gradient takes the general path, which says it has
    # no rule for the target.
    with pytest.raises(fg.FerrogradError, match="no gradient with respect to 'target'"):
        F.cross_entropy(tensor(x, requires_grad=True), tensor(P43, requires_grad=True)).backward()


def test_cross_entropy_tensor_errors_and_non_finite_upstream() -> None:
    x = rand(4, 3)
    labels = np.array([0, -100, 2, 1])
    with pytest.raises(ValueError, match=r"^cross_entropy: "):
        F.cross_entropy(tensor(x, requires_grad=True), np.array([0, 1, 5, 1]))
    with pytest.raises(ValueError, match=r"^cross_entropy: "):
        F.cross_entropy(tensor(x, requires_grad=True), labels, reduction="avg")
    # An infinite upstream gradient leaves ignored rows at 0, as cross_entropy_backward does.
    t = tensor(x, requires_grad=True)
    F.cross_entropy(t, labels).backward(np.array(np.inf))
    np.testing.assert_array_equal(t.grad, F.cross_entropy_backward(np.inf, x, labels))
    assert (t.grad[1] == 0).all()


def test_cross_entropy_fused_gradient_is_handed_over_once() -> None:
    """The fused pass's gradient becomes the leaf's ``.grad`` without a copy, so it must be
    handed over only once: a second backward through the same graph recomputes it, and
    changing the leaf's ``.grad`` in place never changes a later result."""
    x = rand(6, 3)
    y = np.array([0, 1, 2, 0, 2, 1])
    want = F.cross_entropy_backward(1.0, x, y)
    t = tensor(x, requires_grad=True)
    loss = F.cross_entropy(t, y)
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(t.grad, want)
    t.grad *= 0.0  # in place, as an optimizer or clipping may do
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(t.grad, want)
    (loss * 3.0).backward()
    np.testing.assert_allclose(t.grad, 4.0 * want, rtol=1e-12, atol=1e-15)


def test_cross_entropy_fused_gradient_reaches_shared_and_non_leaf_inputs() -> None:
    """Logits that feed more than one loss, or that come from another op, get the sum of
    every gradient; the leaves involved never share one array."""
    x = rand(6, 3)
    y1 = np.array([0, 1, 2, 0, 2, 1])
    y2 = np.array([2, 2, 1, 0, 0, 1])
    t = tensor(x, requires_grad=True)
    (F.cross_entropy(t, y1) + F.cross_entropy(t, y2, reduction="sum") * 0.5).backward()
    want = F.cross_entropy_backward(1.0, x, y1) + F.cross_entropy_backward(
        0.5, x, y2, reduction="sum"
    )
    np.testing.assert_allclose(t.grad, want, rtol=1e-12, atol=1e-15)
    # Through a product: t2 * w gets the gradient, w stays a separate array.
    t2 = tensor(x, requires_grad=True)
    w = tensor(np.full((6, 3), 2.0), requires_grad=True)
    F.cross_entropy(t2 * w, y1).backward()
    g = F.cross_entropy_backward(1.0, 2.0 * x, y1)
    np.testing.assert_allclose(t2.grad, 2.0 * g, rtol=1e-12)
    np.testing.assert_allclose(w.grad, x * g, rtol=1e-12)
    assert not np.shares_memory(t2.grad, w.grad)
