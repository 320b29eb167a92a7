"""The loss layers of ferrograd.nn: PyTorch's constructor signatures, checked settings, the
functional's numbers (against tests/reference.py), repr, copies and docstring examples."""

from __future__ import annotations

import copy
import doctest
import inspect
import pickle

import ferrograd as fg
import ferrograd.nn.loss as loss_module
import numpy as np
import pytest
import reference as R
from ferrograd import gradcheck, nn, tensor

RNG = np.random.default_rng(3)
P, K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY

# PyTorch's parameters in order, without the deprecated size_average and reduce (what follows
# them in PyTorch is keyword-only here): (name, default, kind).
SIGNATURES = {
    "MSELoss": [("reduction", "mean", K)],
    "L1Loss": [("reduction", "mean", K)],
    "HuberLoss": [("reduction", "mean", P), ("delta", 1.0, P)],
    "SmoothL1Loss": [("reduction", "mean", K), ("beta", 1.0, K)],
    "CrossEntropyLoss": [
        ("weight", None, P),
        ("ignore_index", -100, K),
        ("reduction", "mean", K),
        ("label_smoothing", 0.0, K),
    ],
    "NLLLoss": [("weight", None, P), ("ignore_index", -100, K), ("reduction", "mean", K)],
    "BCELoss": [("weight", None, P), ("reduction", "mean", K)],
    "BCEWithLogitsLoss": [("weight", None, P), ("reduction", "mean", K), ("pos_weight", None, K)],
    "KLDivLoss": [("reduction", "mean", K), ("log_target", False, K)],
    "HingeLoss": [("margin", 1.0, P), ("reduction", "mean", K)],
    "HingeEmbeddingLoss": [("margin", 1.0, P), ("reduction", "mean", K)],
    "SoftMarginLoss": [("reduction", "mean", K)],
    "MultiMarginLoss": [
        ("p", 1, P),
        ("margin", 1.0, P),
        ("weight", None, P),
        ("reduction", "mean", K),
    ],
    "CosineEmbeddingLoss": [("margin", 0.0, P), ("reduction", "mean", K)],
    "TripletMarginLoss": [
        ("margin", 1.0, P),
        ("p", 2.0, P),
        ("eps", 1e-6, P),
        ("swap", False, P),
        ("reduction", "mean", K),
    ],
    "NTXentLoss": [("temperature", 0.5, P), ("reduction", "mean", K)],
}


def test_every_loss_has_a_signature_case():
    assert set(SIGNATURES) == set(loss_module.__all__)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_settings_and_docstring(name):
    cls = getattr(nn, name)
    params = list(inspect.signature(cls).parameters.values())
    assert [(p.name, p.default, p.kind) for p in params] == SIGNATURES[name]
    layer = cls()
    assert layer.settings == {n: d for n, d, _ in SIGNATURES[name]}
    assert repr(layer) == f"{name}()"
    assert cls.__module__ == "ferrograd.nn" and isinstance(layer, nn.Module)
    doc = cls.__doc__ or ""
    assert "Parameters\n    ----------" in doc or not params
    assert "Examples\n    --------" in doc


def test_docstring_examples_run():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for name in ["__module__", *loss_module.__all__]:
        obj = loss_module if name == "__module__" else getattr(loss_module, name)
        for test in finder.find(obj, name, module=False, globs={}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= len(SIGNATURES) + 1 and result.failed == 0


X, Y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
LOGITS, LABELS = RNG.standard_normal((5, 4)), np.array([0, 3, 1, -100, 2])
W4 = np.array([0.5, 1.0, 2.0, 0.25])
PROBS, T = RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(0, 1, (4, 3))
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
A, B, C = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))

# (layer, inputs, float64 reference of the same inputs)
CASES = [
    (nn.MSELoss(reduction="sum"), (X, Y), lambda: R.mse_loss_ref(X, Y, "sum")),
    (nn.L1Loss(reduction="none"), (X, Y), lambda: R.l1_loss_ref(X, Y, "none")),
    (nn.HuberLoss("sum", 0.3), (X, Y), lambda: R.huber_loss_ref(X, Y, "sum", 0.3)),
    (nn.SmoothL1Loss(beta=0.4), (X, Y), lambda: R.smooth_l1_loss_ref(X, Y, beta=0.4)),
    (
        nn.CrossEntropyLoss(W4, label_smoothing=0.1),
        (LOGITS, LABELS),
        lambda: R.cross_entropy_ref(LOGITS, LABELS, W4, label_smoothing=0.1),
    ),
    (
        nn.NLLLoss(W4, ignore_index=3, reduction="sum"),
        (LOGITS, np.array([0, 3, 1, 2, 2])),
        lambda: R.nll_loss_ref(LOGITS, np.array([0, 3, 1, 2, 2]), W4, 3, "sum"),
    ),
    (nn.BCELoss(T), (PROBS, T), lambda: R.binary_cross_entropy_ref(PROBS, T, T)),
    (
        nn.BCEWithLogitsLoss(pos_weight=np.array([1.0, 2.0, 3.0])),
        (X, T),
        lambda: R.binary_cross_entropy_with_logits_ref(X, T, pos_weight=np.array([1.0, 2.0, 3.0])),
    ),
    (
        nn.KLDivLoss(reduction="batchmean", log_target=True),
        (np.log(PROBS), np.log(T + 0.1)),
        lambda: R.kl_div_ref(np.log(PROBS), np.log(T + 0.1), "batchmean", True),
    ),
    (nn.HingeLoss(0.5), (X[:, 0], SIGNS), lambda: R.hinge_loss_ref(X[:, 0], SIGNS, 0.5)),
    (
        nn.HingeEmbeddingLoss(0.7, reduction="sum"),
        (np.abs(X[:, 0]), SIGNS),
        lambda: R.hinge_embedding_loss_ref(np.abs(X[:, 0]), SIGNS, 0.7, "sum"),
    ),
    (nn.SoftMarginLoss(), (X[:, 0], SIGNS), lambda: R.soft_margin_loss_ref(X[:, 0], SIGNS)),
    (
        nn.MultiMarginLoss(2, 0.5, W4),
        (LOGITS[:4], np.array([0, 3, 1, 2])),
        lambda: R.multi_margin_loss_ref(LOGITS[:4], np.array([0, 3, 1, 2]), 2, 0.5, W4),
    ),
    (
        nn.CosineEmbeddingLoss(-0.2),
        (A, B, np.array([1.0, -1.0, -1.0])),
        lambda: R.cosine_embedding_loss_ref(A, B, np.array([1.0, -1.0, -1.0]), -0.2),
    ),
    (
        nn.TripletMarginLoss(0.5, 1.0, 0.0, True),
        (A, B, C),
        lambda: R.triplet_margin_loss_ref(A, B, C, margin=0.5, p=1.0, eps=0.0, swap=True),
    ),
    (nn.NTXentLoss(0.2), (A, B), lambda: R.nt_xent_loss_ref(A, B, temperature=0.2)),
]


@pytest.mark.parametrize("layer,inputs,ref", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_forward_matches_the_reference_and_the_gradient_gradchecks(layer, inputs, ref):
    np.testing.assert_allclose(layer(*inputs), ref(), rtol=1e-10, atol=1e-12)
    # the gradient with respect to the first input, through the layer
    rest = inputs[1:]
    if isinstance(layer, (nn.CosineEmbeddingLoss, nn.TripletMarginLoss, nn.NTXentLoss)):
        assert gradcheck(lambda a, b: layer(a, b, *rest[1:]), [inputs[0], rest[0]])
    else:
        assert gradcheck(lambda a: layer(a, *rest), [inputs[0]])


def test_positional_arguments_follow_pytorch():
    assert nn.CrossEntropyLoss(W4).weight is W4
    assert nn.HuberLoss("sum", 0.5).settings == {"reduction": "sum", "delta": 0.5}
    assert nn.MultiMarginLoss(2, 0.5).settings["p"] == 2
    t = nn.TripletMarginLoss(0.5, 1.0, 0.0, True)
    assert (t.margin, t.p, t.eps, t.swap) == (0.5, 1.0, 0.0, True)
    assert repr(nn.HuberLoss(delta=0.5)) == "HuberLoss(delta=0.5)"
    assert repr(nn.CrossEntropyLoss(W4, reduction="sum")).startswith("CrossEntropyLoss(weight=")


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.MSELoss("mean"), r"MSELoss\(\) takes at most 0 positional arguments, got 1"),
        (lambda: nn.HuberLoss("mean", 1.0, 2.0), "takes at most 2 positional arguments, got 3"),
        (lambda: nn.BCELoss(size_average=True), "unexpected keyword argument 'size_average'"),
        (lambda: nn.HuberLoss("sum", reduction="sum"), "multiple values for argument 'reduction'"),
        (lambda: nn.KLDivLoss(log_target="yes"), "log_target must be True or False"),
        (lambda: nn.TripletMarginLoss(p="2"), "p must be a real number"),
    ],
)
def test_wrong_arguments_are_dtype_errors(make, match):
    with pytest.raises(fg.DTypeError, match=match):
        make()


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.L1Loss(reduction="avg"), "reduction must be one of"),
        (lambda: nn.SmoothL1Loss(beta=-1.0), "beta must be at least 0"),
        (lambda: nn.MultiMarginLoss(p=0), "p must be"),
        (lambda: nn.CrossEntropyLoss(label_smoothing=-0.1), "label_smoothing must be in"),
        (lambda: nn.TripletMarginLoss(eps=-1.0), "eps must be at least 0"),
    ],
)
def test_out_of_range_settings_are_argument_errors(make, match):
    with pytest.raises(fg.ArgumentError, match=match):
        make()


def test_copies_and_subclasses():
    layer = nn.CrossEntropyLoss(W4, label_smoothing=0.2)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert type(other) is nn.CrossEntropyLoss and other.label_smoothing == 0.2
        np.testing.assert_array_equal(other.weight, W4)
        np.testing.assert_allclose(other(LOGITS, LABELS), layer(LOGITS, LABELS), rtol=1e-15)

    class Scaled(nn.MSELoss):
        def __init__(self, scale: float) -> None:
            super().__init__(reduction="sum")
            self.scale = scale

        def forward(self, input, target):
            return super().forward(input, target) * self.scale

    s = Scaled(3.0)
    assert s.settings == {"reduction": "sum"}
    np.testing.assert_allclose(s(X, Y), 3.0 * R.mse_loss_ref(X, Y, "sum"), rtol=1e-12)
    t = tensor(X, requires_grad=True)
    nn.MSELoss()(t, Y).backward()
    np.testing.assert_allclose(t.grad, 2 * (X - Y) / X.size, rtol=1e-12)
