"""Weight initialisation, as ``torch.nn.init``, seeded through :mod:`ferrograd.random`.

Every function fills a tensor (a :class:`~ferrograd.Tensor` or :class:`~ferrograd.nn.Parameter`,
or a writeable NumPy float array) in place and returns it; filling one with no elements does
nothing (with a warning, as PyTorch). ``generator`` is a ``numpy.random.Generator``; by default
the one :func:`ferrograd.manual_seed` seeds.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> w = nn.Parameter(np.empty((3, 4), dtype=np.float32))
>>> _ = nn.init.xavier_uniform_(w, generator=np.random.default_rng(0))
>>> bool(np.all(np.abs(w.data) <= np.sqrt(6 / 7)))
True
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import _check
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..random import default_generator
from ..tensor import Tensor


def _target(func: str, t: Any) -> np.ndarray:
    """The array that ``func`` fills: a Tensor's data or a writeable float ndarray."""
    arr = t.data if isinstance(t, Tensor) else t
    if not isinstance(arr, np.ndarray):
        raise DTypeError(
            f"{func}: tensor must be a ferrograd Tensor or Parameter or a NumPy float array, got "
            f"{type(t).__name__}"
        )
    if arr.dtype.kind != "f":
        raise DTypeError(f"{func}: tensor must hold floats, got dtype {arr.dtype}")
    if not isinstance(t, Tensor) and not arr.flags.writeable:
        raise DTypeError(f"{func}: the array is read-only and cannot be filled in place")
    return arr


def _fans(func: str, t: Any) -> tuple[int, int]:
    shape = _target(func, t).shape
    if len(shape) < 2:
        raise ShapeError(
            f"{func}: fan in and fan out need a tensor of at least 2 axes, got shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _empty(func: str, t: Any) -> bool:
    """True (with PyTorch's warning) when ``t`` has no elements: there is nothing to fill."""
    if _target(func, t).size == 0:
        warnings.warn(f"{func}: initializing a zero-element tensor is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(
        "calculate_gain: nonlinearity must be one of 'linear', 'conv1d', 'conv2d', 'conv3d', "
        f"'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu', got {nonlinearity!r}"
    )


def _fill(func: str, t: Any, values: np.ndarray) -> Any:
    arr = _target(func, t)
    if isinstance(t, Tensor):
        t.data = values.astype(arr.dtype, copy=False).reshape(arr.shape)
    else:
        arr[...] = values.reshape(arr.shape)
    return t


def _gen(func: str, generator: Any) -> np.random.Generator:
    if generator is None:
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        raise DTypeError(
            f"{func}: generator must be a numpy.random.Generator, got {type(generator).__name__}"
        )
    return generator


def uniform_(t: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """Fills with U(a, b)."""
    func = "uniform_"
    lo, hi = _check.real(func, "a", a), _check.real(func, "b", b)
    shape = _target(func, t).shape
    return _fill(func, t, _gen(func, generator).uniform(lo, hi, shape))


def normal_(t: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    """Fills with N(mean, std^2)."""
    func = "normal_"
    m, sd = _check.real(func, "mean", mean), _check.real(func, "std", std, 0.0)
    shape = _target(func, t).shape
    return _fill(func, t, _gen(func, generator).normal(m, sd, shape))


def constant_(t: Any, val: float) -> Any:
    """Fills with ``val``."""
    func = "constant_"
    v = _check.real(func, "val", val, finite=False)
    return _fill(func, t, np.full(_target(func, t).shape, v))


def zeros_(t: Any) -> Any:
    """Fills with 0."""
    return constant_(t, 0.0)


def ones_(t: Any) -> Any:
    """Fills with 1."""
    return constant_(t, 1.0)


def xavier_uniform_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    func = "xavier_uniform_"
    fan_in, fan_out = _fans(func, t)
    g = _check.real(func, "gain", gain)
    if _empty(func, t):
        return t
    a = g * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(func, t, _gen(func, generator).uniform(-a, a, _target(func, t).shape))


def xavier_normal_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    func = "xavier_normal_"
    fan_in, fan_out = _fans(func, t)
    g = _check.real(func, "gain", gain)
    if _empty(func, t):
        return t
    std = abs(g) * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(func, t, _gen(func, generator).normal(0.0, std, _target(func, t).shape))


def _kaiming_std(func: str, t: Any, a: float, mode: str, nonlinearity: str) -> float:
    fan_in, fan_out = _fans(func, t)
    _check.choice(func, "mode", mode, ["fan_in", "fan_out"])
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, _check.real(func, "a", a)) / math.sqrt(fan)


def kaiming_uniform_(
    t: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan)."""
    func = "kaiming_uniform_"
    if _empty(func, t):
        return t
    bound = math.sqrt(3.0) * _kaiming_std(func, t, a, mode, nonlinearity)
    return _fill(func, t, _gen(func, generator).uniform(-bound, bound, _target(func, t).shape))


def kaiming_normal_(
    t: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    func = "kaiming_normal_"
    if _empty(func, t):
        return t
    std = _kaiming_std(func, t, a, mode, nonlinearity)
    return _fill(func, t, _gen(func, generator).normal(0.0, std, _target(func, t).shape))


def orthogonal_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Fills with a (semi-)orthogonal matrix scaled by ``gain``, as ``torch.nn.init.orthogonal_``
    (Saxe et al., 2013).

    The tensor needs at least 2 axes; the trailing ones are flattened into (rows, cols). A
    standard normal matrix of that shape (transposed when rows < cols) is factored as QR,
    each column of Q multiplied by the sign of R's diagonal (so that Q is uniformly
    distributed), and transposed back: the rows are orthonormal when rows <= cols, else the
    columns.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> w = nn.init.orthogonal_(nn.Parameter(np.empty((3, 5))))
    >>> np.allclose(w.data @ w.data.T, np.eye(3))
    True
    """
    func = "orthogonal_"
    shape = _target(func, t).shape
    g = _check.real(func, "gain", gain)
    if len(shape) < 2:
        raise ShapeError(f"{func}: only tensors with 2 or more axes are supported, got {shape}")
    rng = _gen(func, generator)
    if int(np.prod(shape)) == 0:
        return t
    rows = shape[0]
    cols = int(np.prod(shape)) // rows
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(func, t, q * g)


__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
