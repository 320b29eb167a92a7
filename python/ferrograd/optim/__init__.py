"""Optimizers and learning-rate schedules, with PyTorch's names, defaults and update rules.

Each optimizer updates all parameters of a group in one fused Rust call per step (in place,
GIL released, float32 and float64). Parameter groups, ``zero_grad``, ``state_dict`` and
``load_state_dict`` work as in PyTorch; :mod:`ferrograd.optim.lr_scheduler` holds the
schedules.

Weight decay: ``weight_decay`` of :class:`SGD`, :class:`Adam`, :class:`RMSprop` and
:class:`Adagrad` is *coupled* (``weight_decay * p`` is added to the gradient, an L2 penalty);
:class:`AdamW` *decouples* it (the weights shrink by ``lr * weight_decay`` directly). See
:mod:`ferrograd.nn.utils.regularization` for when to use which, and
:mod:`ferrograd.optim.optimizer` for gradient accumulation.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, optim, tensor
>>> model = nn.Linear(2, 1)
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> x, y = tensor(np.ones((4, 2), np.float32)), tensor(np.zeros((4, 1), np.float32))
>>> loss = ((model(x) - y) ** 2).mean()
>>> opt.zero_grad()
>>> loss.backward()
>>> opt.step()
"""

from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "lr_scheduler",
]
