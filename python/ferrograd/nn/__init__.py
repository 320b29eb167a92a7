"""Layers, containers, losses and initialisation, with PyTorch's names and parameter layouts.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, tensor
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> model(tensor(np.zeros((2, 4), dtype=np.float32))).shape
(2, 3)
"""

from __future__ import annotations

from . import init, utils
from .activation import *  # noqa: F403
from .activation import __all__ as _act
from .container import ModuleDict, ModuleList, ParameterList, Sequential
from .conv import *  # noqa: F403
from .conv import __all__ as _conv
from .conv1d import Conv1d
from .dropout import Dropout, Flatten
from .groupnorm import GroupNorm
from .linear import Identity, Linear
from .loss import *  # noqa: F403
from .loss import __all__ as _loss
from .module import Module
from .normalization import *  # noqa: F403
from .normalization import __all__ as _norm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d
from .rnn import *  # noqa: F403
from .rnn import __all__ as _rnn
from .rnn_cell import GRUCell, LSTMCell, RNNCell
from .sparse import *  # noqa: F403
from .sparse import __all__ as _sparse

__all__ = [
    *_act,
    *_loss,
    *_conv,
    *_norm,
    *_rnn,
    *_sparse,
    "AdaptiveAvgPool2d",
    "Conv1d",
    "Dropout",
    "Flatten",
    "GRUCell",
    "GroupNorm",
    "Identity",
    "LSTMCell",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterList",
    "RNNCell",
    "Sequential",
    "init",
    "utils",
]
