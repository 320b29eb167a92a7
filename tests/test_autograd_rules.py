"""Every rule of ferrograd.autograd.RULES: forward against tests/reference.py (float64) and
the gradient by finite differences (gradcheck). One line per rule; a rule without a line
fails ``test_every_rule_has_a_case``.
"""

from __future__ import annotations

import ferrograd.functional as F
import numpy as np
import pytest
import reference as R
from ferrograd import Tensor, gradcheck, ops, tensor
from ferrograd.autograd import OPS, RULES

RNG = np.random.default_rng(11)


def rand(*shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    # clear of 0 so kinks (relu, abs, l1, hinge) are not crossed by the finite differences
    x = RNG.uniform(lo, hi, shape)
    return np.where(np.abs(x) < 0.05, 0.3, x) if lo < 0 < hi else x


def pos(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


def probs(*shape: int) -> np.ndarray:
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


LABELS = np.array([2, 0, 1, 2])
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
P23, T6 = probs(2, 3), RNG.uniform(0.0, 1.0, 6)
MASK = np.array([[True, False, True], [False, True, True]])
TAKE = np.array([[2, 0, 2, 1], [1, 1, 0, 2]])
IDX = (np.array([0, 1, 1]), np.array([2, 0, 2]))

# name: (function of the inputs, inputs, float64 reference of the same inputs). Each
# elementwise op of ops.UNARY has a case on inputs inside every such op's domain, against
# reference.unary_ref; a line below replaces it where other inputs say more.
CASES = {
    name: (lambda x, n=name: OPS[n](x), [pos(2, 3)], lambda x, n=name: R.unary_ref(n, x))
    for name in ops.UNARY
}
CASES |= {
    "add": (lambda a, b: a + b, [rand(2, 3), rand(3)], lambda a, b: R.binary_ref("add", a, b)),
    "sub": (lambda a, b: a - b, [rand(2, 3), rand(2, 1)], lambda a, b: R.binary_ref("sub", a, b)),
    "mul": (lambda a, b: a * b, [rand(2, 3), rand(3)], lambda a, b: R.binary_ref("mul", a, b)),
    "div": (lambda a, b: a / b, [rand(2, 3), pos(3)], lambda a, b: R.binary_ref("div", a, b)),
    "matmul": (lambda a, b: a @ b, [rand(2, 3), rand(3, 4)], R.matmul_ref),
    "neg": (lambda x: -x, [rand(2, 3)], lambda x: R.unary_ref("neg", x)),
    "pow": (lambda x: x**3.0, [pos(2, 3)], lambda x: R.unary_ref("pow", x, 3.0)),
    "exp": (lambda x: x.exp(), [rand(2, 3)], lambda x: R.unary_ref("exp", x)),
    "abs": (lambda x: x.abs(), [rand(2, 3)], np.abs),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), [rand(2, 3)], lambda x: np.clip(x, -0.5, 0.5)),
    "norm": (lambda x: x.norm(3, dim=1), [rand(2, 3)], lambda x: np.linalg.norm(x, 3, axis=1)),
    "amin": (lambda x: OPS["amin"](x, dim=0), [rand(2, 3)], lambda x: np.min(x, 0)),
    "var": (lambda x: OPS["var"](x, 1, 0), [rand(2, 3)], lambda x: np.var(x, 1)),
    "std": (lambda x: OPS["std"](x, dim=0, keepdim=True), [rand(2, 3)],
            lambda x: np.std(x, 0, ddof=1, keepdims=True)),
    "sum": (lambda x: x.sum(dim=1), [rand(2, 3)], lambda x: R.reduce_ref("sum", x, 1)),
    "mean": (lambda x: x.mean(0, True), [rand(2, 3)], lambda x: R.reduce_ref("mean", x, 0, True)),
    "amax": (lambda x: OPS["amax"](x, 1), [rand(2, 3)], lambda x: R.reduce_ref("max", x, 1)),
    "reshape": (lambda x: x.reshape(3, 2), [rand(2, 3)], lambda x: x.reshape(3, 2)),
    "transpose": (lambda x: x.transpose(0, 1), [rand(2, 3)], lambda x: x.T),
    "getitem": (lambda x: x[IDX], [rand(2, 3)], lambda x: x[IDX]),
    "astype": (lambda x: OPS["astype"](x, np.float64), [rand(2, 3)], lambda x: x),
    "clone": (lambda x: x.clone(), [rand(2, 3)], lambda x: x),
    "take_along_dim": (lambda x: OPS["take_along_dim"](x, TAKE, 1), [rand(2, 3)],
                       lambda x: np.take_along_axis(x, TAKE, 1)),
    "concat": (lambda a, b: OPS["concat"]([a, b], 1), [rand(2, 3), rand(2, 1)],
               lambda a, b: np.concatenate([a, b], 1)),
    "stack": (lambda a, b: OPS["stack"]([a, b], 1), [rand(2, 3), rand(2, 3)],
              lambda a, b: np.stack([a, b], 1)),
    "where": (lambda a, b: OPS["where"](a, b, MASK), [rand(2, 3), rand(2, 3)],
              lambda a, b: np.where(MASK, a, b)),
    "linear": (lambda x, w, b: OPS["linear"](x, w, b), [rand(4, 3), rand(2, 3), rand(2)],
               lambda x, w, b: x @ w.T + b),
    "relu": (lambda x: x.relu(), [rand(3, 4)], R.relu_ref),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [rand(3, 4)],
                   lambda x: R.leaky_relu_ref(x, 0.2)),
    "sigmoid": (lambda x: x.sigmoid(), [rand(3, 4)], R.sigmoid_ref),
    "tanh": (lambda x: x.tanh(), [rand(3, 4)], R.tanh_ref),
    "gelu": (lambda x: F.gelu(x, approximate="tanh"), [rand(3, 4)],
             lambda x: R.gelu_ref(x, "tanh")),
    "elu": (lambda x: F.elu(x, alpha=0.7), [rand(3, 4)], lambda x: R.elu_ref(x, 0.7)),
    "silu": (F.silu, [rand(3, 4)], R.silu_ref),
    "softplus": (lambda x: F.softplus(x, beta=2.0), [rand(3, 4)],
                 lambda x: R.softplus_ref(x, 2.0)),
    "softmax": (lambda x: x.softmax(0), [rand(3, 4)], lambda x: R.softmax_dim_ref(x, 0)),
    "log_softmax": (lambda x: x.log_softmax(-1), [rand(3, 4)], R.log_softmax_dim_ref),
    "mse_loss": (F.mse_loss, [rand(3, 4), rand(3, 4)], R.mse_loss_ref),
    "l1_loss": (F.l1_loss, [rand(3, 4), rand(3, 4)], R.l1_loss_ref),
    "huber_loss": (lambda x, t: F.huber_loss(x, t, delta=0.5), [rand(5), rand(5)],
                   lambda x, t: R.huber_loss_ref(x, t, delta=0.5)),
    "smooth_l1_loss": (lambda x, t: F.smooth_l1_loss(x, t, reduction="sum"), [rand(5), rand(5)],
                       lambda x, t: R.smooth_l1_loss_ref(x, t, "sum")),
    "cross_entropy": (lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.1), [rand(4, 3)],
                      lambda x: R.cross_entropy_ref(x, LABELS, label_smoothing=0.1)),
    "nll_loss": (lambda x: F.nll_loss(x, LABELS, reduction="sum"), [rand(4, 3)],
                 lambda x: R.nll_loss_ref(x, LABELS, reduction="sum")),
    "binary_cross_entropy": (lambda p: F.binary_cross_entropy(p, T6),
                             [RNG.uniform(0.1, 0.9, 6)],
                             lambda p: R.binary_cross_entropy_ref(p, T6)),
    "binary_cross_entropy_with_logits": (
        lambda x: F.binary_cross_entropy_with_logits(x, T6), [rand(6)],
        lambda x: R.binary_cross_entropy_with_logits_ref(x, T6)),
    "kl_div": (lambda x: F.kl_div(x, P23, reduction="batchmean"), [np.log(probs(2, 3))],
               lambda x: R.kl_div_ref(x, P23, "batchmean")),
    "entropy": (F.entropy, [probs(2, 4)], R.entropy_ref),
    "cross_entropy_dist": (lambda p, q: F.cross_entropy_dist(p, q, base=2), [probs(3), probs(3)],
                           lambda p, q: R.cross_entropy_dist_ref(p, q, base=2)),
    "hinge_loss": (lambda x: F.hinge_loss(x, SIGNS), [np.array([0.3, 0.2, 1.5, -0.4])],
                   lambda x: R.hinge_loss_ref(x, SIGNS)),
    "hinge_embedding_loss": (lambda x: F.hinge_embedding_loss(x, SIGNS),
                             [np.array([0.3, 0.2, 1.5, 0.4])],
                             lambda x: R.hinge_embedding_loss_ref(x, SIGNS)),
    "soft_margin_loss": (lambda x: F.soft_margin_loss(x, SIGNS), [rand(4)],
                         lambda x: R.soft_margin_loss_ref(x, SIGNS)),
    "multi_margin_loss": (lambda x: F.multi_margin_loss(x, LABELS, p=2, margin=0.5), [rand(4, 3)],
                          lambda x: R.multi_margin_loss_ref(x, LABELS, p=2, margin=0.5)),
    "cosine_embedding_loss": (
        lambda a, b: F.cosine_embedding_loss(a, b, np.array([1.0, -1.0]), margin=-0.5),
        [rand(2, 3), rand(2, 3)],
        lambda a, b: R.cosine_embedding_loss_ref(a, b, np.array([1.0, -1.0]), margin=-0.5)),
    "triplet_margin_loss": (lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0),
                            [rand(3, 4), rand(3, 4), rand(3, 4)],
                            lambda a, p, n: R.triplet_margin_loss_ref(a, p, n, margin=2.0)),
    "nt_xent_loss": (lambda a, b: F.nt_xent_loss(a, b, temperature=0.5),
                     [rand(3, 4), rand(3, 4)], R.nt_xent_loss_ref),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1),
               [rand(1, 2, 4, 4), rand(3, 2, 3, 3), rand(3)],
               lambda x, w, b: R.conv2d_ref(x, w, b, padding=1)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [rand(1, 2, 4, 4)],
                   lambda x: R.avg_pool2d_ref(x, 2)),
    "pad": (lambda x: F.pad(x, (1, -1, 0, 2), value=0.5), [rand(2, 3)],
            lambda x: np.pad(x[:, :2], ((0, 2), (1, 0)), constant_values=0.5)),
}  # fmt: skip


def test_elementwise_ops_are_tensor_methods_with_numpy_dispatch():
    x = tensor(pos(3), requires_grad=True)
    for name, twin in ops.UNARY.items():
        if name != "neg":
            assert getattr(Tensor, name) is OPS[name]
        out = twin(x)
        assert isinstance(out, Tensor) and out.requires_grad, name
        np.testing.assert_allclose(out.data, R.unary_ref(name, x.data), rtol=1e-12)


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES), f"add test lines for {sorted(set(RULES) - set(CASES))}"


def test_every_functional_with_a_backward_has_a_rule():
    public = {n for n in F.__all__ if f"{n}_backward" in F.__all__}
    assert public <= set(RULES), f"add rules for {sorted(public - set(RULES))}"


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule(name):
    fn, inputs, ref = CASES[name]
    out = fn(*[tensor(x, requires_grad=True) for x in inputs])
    assert isinstance(out, Tensor) and out.requires_grad
    assert out.grad_fn is not None and out.grad_fn.op == name
    np.testing.assert_allclose(out.data, ref(*inputs), rtol=1e-10, atol=1e-12)
    assert gradcheck(fn, [x.copy() for x in inputs])
