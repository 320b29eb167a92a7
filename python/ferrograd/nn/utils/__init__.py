"""Helpers around parameters and gradients: gradient clipping, weight penalties and a
summary table of a model.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> from ferrograd.nn.utils import clip_grad_value_
>>> w = nn.Parameter(np.zeros(2))
>>> w.grad = np.array([-3.0, 0.25])
>>> clip_grad_value_([w], 1.0)
>>> w.grad.tolist()
[-1.0, 0.25]
"""

from __future__ import annotations

from .clip_grad import clip_grad_norm_, clip_grad_value_
from .regularization import l1_penalty, l2_penalty
from .summary import ModelSummary, summary

__all__: list[str] = [
    "ModelSummary",
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "summary",
]
