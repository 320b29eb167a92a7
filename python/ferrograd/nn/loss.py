"""Loss layers: each holds its settings and calls its ``ferrograd.functional`` counterpart."""

from __future__ import annotations

from ._wrappers import functional_module

_R = {"reduction": "mean"}

MSELoss = functional_module("MSELoss", "mse_loss", dict(_R), "Mean squared error.")
L1Loss = functional_module("L1Loss", "l1_loss", dict(_R), "Mean absolute error.")
HuberLoss = functional_module(
    "HuberLoss", "huber_loss", {**_R, "delta": 1.0}, "Huber loss (quadratic below delta)."
)
SmoothL1Loss = functional_module(
    "SmoothL1Loss", "smooth_l1_loss", {**_R, "beta": 1.0}, "Smooth L1 loss (Huber / beta)."
)
CrossEntropyLoss = functional_module(
    "CrossEntropyLoss",
    "cross_entropy",
    {"weight": None, "ignore_index": -100, **_R, "label_smoothing": 0.0},
    "Cross-entropy of logits against class indices or class probabilities.",
)
NLLLoss = functional_module(
    "NLLLoss",
    "nll_loss",
    {"weight": None, "ignore_index": -100, **_R},
    "Negative log-likelihood of log-probabilities.",
)
BCELoss = functional_module(
    "BCELoss", "binary_cross_entropy", {"weight": None, **_R}, "Binary cross-entropy."
)
BCEWithLogitsLoss = functional_module(
    "BCEWithLogitsLoss",
    "binary_cross_entropy_with_logits",
    {"weight": None, **_R, "pos_weight": None},
    "Binary cross-entropy on logits (stable).",
)
KLDivLoss = functional_module(
    "KLDivLoss",
    "kl_div",
    {**_R, "log_target": False},
    "Kullback-Leibler divergence; the input is log-probabilities.",
)
HingeLoss = functional_module(
    "HingeLoss", "hinge_loss", {"margin": 1.0, **_R}, "Binary hinge loss, targets in {-1, +1}."
)
HingeEmbeddingLoss = functional_module(
    "HingeEmbeddingLoss", "hinge_embedding_loss", {"margin": 1.0, **_R}, "Hinge embedding loss."
)
SoftMarginLoss = functional_module(
    "SoftMarginLoss", "soft_margin_loss", dict(_R), "Logistic loss, targets in {-1, +1}."
)
MultiMarginLoss = functional_module(
    "MultiMarginLoss",
    "multi_margin_loss",
    {"p": 1, "margin": 1.0, "weight": None, **_R},
    "Multi-class hinge loss.",
)
CosineEmbeddingLoss = functional_module(
    "CosineEmbeddingLoss", "cosine_embedding_loss", {"margin": 0.0, **_R}, "Cosine embedding loss."
)
TripletMarginLoss = functional_module(
    "TripletMarginLoss",
    "triplet_margin_loss",
    {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, **_R},
    "Triplet margin loss.",
)
NTXentLoss = functional_module(
    "NTXentLoss",
    "nt_xent_loss",
    {"temperature": 0.5, **_R},
    "SimCLR normalised-temperature cross-entropy over two views.",
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "HingeEmbeddingLoss",
    "HingeLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MultiMarginLoss",
    "NLLLoss",
    "NTXentLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
]
