"""Activations and losses with the names and semantics of ``torch.nn.functional``.

Everything is computed in Rust in a fused pass, on NumPy arrays, in float32 or float64; each
function has a ``<name>_backward`` giving the gradient with respect to its input.
Losses return a 0-d array for ``reduction="mean"`` / ``"sum"`` and an array for ``"none"``.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> F.relu(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

from ._activations import *  # noqa: F403
from ._activations import __all__ as _act
from ._classification import *  # noqa: F403
from ._classification import __all__ as _cls
from ._contrastive import *  # noqa: F403
from ._contrastive import __all__ as _con
from ._conv import *  # noqa: F403
from ._conv import __all__ as _convf
from ._distribution import *  # noqa: F403
from ._distribution import __all__ as _dist
from ._layers import *  # noqa: F403
from ._layers import __all__ as _lay
from ._margin import *  # noqa: F403
from ._margin import __all__ as _mar
from ._norm import *  # noqa: F403
from ._norm import __all__ as _normf
from ._regression import *  # noqa: F403
from ._regression import __all__ as _reg

__all__ = [*_act, *_cls, *_con, *_dist, *_mar, *_reg, *_convf, *_normf, *_lay]

from ..autograd import wrap_functional as _wrap_functional
from ..tensor import Tensor as _Tensor  # noqa: F401  (the Tensor class, before the wrapping)

_wrap_functional(globals())
