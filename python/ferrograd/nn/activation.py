"""Activation layers, as ``torch.nn``'s: each calls its ``ferrograd.functional`` counterpart.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> nn.LeakyReLU(0.1)(np.array([-1.0, 2.0])).tolist()
[-0.1, 2.0]
"""

from __future__ import annotations

from typing import Any

from .. import _check, _eager
from .. import functional as F
from ..exceptions import ArgumentError
from .module import Module


class _Activation(Module):
    """An elementwise (or per-axis) activation: ``forward(x)`` is ``F.<_fn>(x, **settings)``."""

    _fn = ""
    _names: tuple[str, ...] = ()
    _defaults: tuple[Any, ...] = ()

    @property
    def settings(self) -> dict[str, Any]:
        """The layer's keyword settings, as passed to its functional."""
        return {k: getattr(self, k) for k in self._names}

    def forward(self, input: Any) -> Any:
        if not self._names:  # no settings (ReLU, Sigmoid, ...): the plain call is cheaper
            return getattr(F, self._fn)(input)
        return getattr(F, self._fn)(input, **self.settings)

    def extra_repr(self) -> str:
        return ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k, d in zip(self._names, self._defaults)
            if getattr(self, k) != d
        )


class ReLU(_Activation):
    """``max(0, x)`` elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.ReLU()(np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    _fn = "relu"

    def __init__(self) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        out = _eager.relu(input)  # None when input is no Tensor or needs a conversion
        return F.relu(input) if out is None else out


class LeakyReLU(_Activation):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    Parameters
    ----------
    negative_slope : float
        Slope for negative inputs (default 0.01).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.LeakyReLU(0.5)(np.array([-2.0, 2.0])).tolist()
    [-1.0, 2.0]
    """

    _fn, _names, _defaults = "leaky_relu", ("negative_slope",), (0.01,)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = _check.real("LeakyReLU", "negative_slope", negative_slope)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))`` elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.Sigmoid()(np.array([0.0])).tolist()
    [0.5]
    """

    _fn = "sigmoid"

    def __init__(self) -> None:
        super().__init__()


class Tanh(_Activation):
    """Hyperbolic tangent elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.Tanh()(np.array([0.0])).tolist()
    [0.0]
    """

    _fn = "tanh"

    def __init__(self) -> None:
        super().__init__()


class GELU(_Activation):
    """Gaussian error linear unit, ``x * Phi(x)``.

    Parameters
    ----------
    approximate : {"none", "tanh"}
        ``"tanh"`` uses the tanh approximation of ``Phi``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.GELU()(np.array([0.0])).tolist()
    [0.0]
    """

    _fn, _names, _defaults = "gelu", ("approximate",), ("none",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _check.choice("GELU", "approximate", approximate, ["none", "tanh"])


class ELU(_Activation):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Parameters
    ----------
    alpha : float
        Scale of the negative part (default 1).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.ELU()(np.array([1.0])).tolist()
    [1.0]
    """

    _fn, _names, _defaults = "elu", ("alpha",), (1.0,)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = _check.real("ELU", "alpha", alpha)


class SiLU(_Activation):
    """``x * sigmoid(x)`` elementwise (the swish).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.SiLU()(np.array([0.0])).tolist()
    [0.0]
    """

    _fn = "silu"

    def __init__(self) -> None:
        super().__init__()


class Softplus(_Activation):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    Parameters
    ----------
    beta : float
        Sharpness (non-zero, default 1).
    threshold : float
        Above it the layer is the identity (default 20).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.Softplus()(np.array([30.0])).tolist()
    [30.0]
    """

    _fn, _names, _defaults = "softplus", ("beta", "threshold"), (1.0, 20.0)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _check.real("Softplus", "beta", beta)
        if self.beta == 0.0:
            raise ArgumentError(f"Softplus: beta must be non-zero, got {beta!r}")
        self.threshold = _check.real("Softplus", "threshold", threshold, finite=False)


class Softmax(_Activation):
    """Softmax along ``dim``: each slice along it is a probability distribution.

    Parameters
    ----------
    dim : int
        The axis holding each distribution (default -1).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.Softmax(dim=0)(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """

    _fn, _names, _defaults = "softmax", ("dim",), (-1,)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = _check.axis("Softmax", "dim", dim)


class LogSoftmax(_Activation):
    """Log-softmax along ``dim``: ``x - log(sum(exp(x)))``.

    Parameters
    ----------
    dim : int
        The axis holding each distribution (default -1).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.LogSoftmax(dim=0)(np.array([0.0, 0.0])).round(4).tolist()
    [-0.6931, -0.6931]
    """

    _fn, _names, _defaults = "log_softmax", ("dim",), (-1,)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = _check.axis("LogSoftmax", "dim", dim)


for _cls in (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, ELU, SiLU, Softplus, Softmax, LogSoftmax):
    _cls.__module__ = "ferrograd.nn"

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]
