"""The margin part of :mod:`ferrograd.functional`: hinge-type losses and their gradients.

``hinge_embedding_loss``, ``soft_margin_loss`` and ``multi_margin_loss`` follow
``torch.nn.functional``; ``hinge_loss`` is the plain binary hinge loss of a linear SVM, which
PyTorch does not have. Inputs are float32 or float64 arrays (mixed inputs promote as in NumPy);
±1 targets may be any integer or float dtype, class labels any integer dtype.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> x = np.array([0.5, -2.0, 3.0])
>>> F.hinge_loss(x, np.array([1, 1, -1]), reduction="none").tolist()
[0.5, 3.0, 4.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from .._arrays import as_array, as_int64, cast, prepare
from ..exceptions import ArgumentError, DTypeError, ShapeError

ArrayLike = Any

__all__ = [
    "hinge_embedding_loss",
    "hinge_embedding_loss_backward",
    "hinge_loss",
    "hinge_loss_backward",
    "multi_margin_loss",
    "multi_margin_loss_backward",
    "soft_margin_loss",
    "soft_margin_loss_backward",
]

# ----------------------------------------------------------------------------- argument helpers
# (shared with the contrastive losses)


def _floats(func: str, **named: ArrayLike) -> list[np.ndarray]:
    """The float inputs of a loss, converted to their common float dtype.

    Integer, boolean and complex inputs are a DTypeError: a loss's input is a float array.
    """
    xs = {k: as_array(func, k, v) for k, v in named.items()}
    for k, x in xs.items():
        dt = x.dtype if isinstance(x, np.ndarray) else np.asarray(x).dtype
        if dt.kind != "f":
            raise DTypeError(f"{func}: {k} must be a float32 or float64 array, got {dt}")
    return prepare(func, _add_all, **xs)


def _add_all(*xs: Any) -> Any:
    """NumPy's promotion of any number of inputs (the probe of :func:`prepare`)."""
    out = np.positive(xs[0])
    for x in xs[1:]:
        out = out + x
    return out


def _real_array(func: str, name: str, x: ArrayLike, dt: np.dtype[Any]) -> np.ndarray:
    """A secondary real array (target, weight, grad_output) as dtype ``dt``."""
    arr = np.asarray(as_array(func, name, x))
    if arr.dtype.kind not in "iuf":
        raise DTypeError(f"{func}: {name} must be an integer or float array, got dtype {arr.dtype}")
    return cast(arr, dt)


def _labels(func: str, target: ArrayLike) -> np.ndarray:
    """Class labels of any integer dtype, as int64."""
    return as_int64(func, "target", target, "integer class labels")


def _scalar(func: str, name: str, v: Any) -> float:
    """A real scalar argument as a Python float."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise DTypeError(f"{func}: {name} must be a real number, got {type(v).__name__}")
    return float(v)


# ----------------------------------------------------------------------------- hinge


def hinge_loss(
    input: ArrayLike, target: ArrayLike, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    r"""Binary hinge loss, the loss of a linear SVM: :math:`\max(0, margin - y\,x)`.

    Not in ``torch.nn.functional``. For scores ``x`` and labels ``y`` in {-1, +1}, each
    element's loss is ``max(0, margin - y * x)``: zero once the score is on the right side with
    room ``margin`` to spare.

    Parameters
    ----------
    input : array_like
        Scores, float32 or float64, any shape.
    target : array_like
        Labels of the same shape, each -1 or +1 (any integer or float dtype).
    margin : float
        The required margin (default 1).
    reduction : {'mean', 'sum', 'none'}
        Mean or sum over all elements (a 0-d array), or the per-element losses.

    Returns
    -------
    ndarray
        The loss, in the input's dtype.

    Raises
    ------
    ValueError
        If a target is neither -1 nor +1 (the message names the first such value and its index).

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> float(F.hinge_loss(np.array([2.0, 0.25]), np.array([1, -1])))
    0.625
    """
    func = "hinge_loss"
    (x,) = _floats(func, input=input)
    t = _real_array(func, "target", target, x.dtype)
    return _core.hinge_loss(
        x, t, _scalar(func, "margin", margin), _check.reduction(func, reduction)
    )


def hinge_loss_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    reduction: str = "mean",
) -> np.ndarray:
    """Gradient of :func:`hinge_loss` with respect to ``input``.

    ``-target * grad_output`` where ``margin - target * input >= 0`` (the kink counts as
    active, as PyTorch's ``clamp_min``), else 0; divided by the element count for ``'mean'``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.hinge_loss_backward(1.0, np.array([2.0, 0.25]), np.array([1, -1])).tolist()
    [0.0, 0.5]
    """
    func = "hinge_loss_backward"
    (x,) = _floats(func, input=input)
    t = _real_array(func, "target", target, x.dtype)
    g = _real_array(func, "grad_output", grad_output, x.dtype)
    return _core.hinge_loss_backward(
        g, x, t, _scalar(func, "margin", margin), _check.reduction(func, reduction)
    )


def hinge_embedding_loss(
    input: ArrayLike, target: ArrayLike, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    """Hinge embedding loss, as ``torch.nn.functional.hinge_embedding_loss``.

    Each element's loss is ``input`` where ``target`` is 1 and ``max(0, margin - input)`` where
    it is -1; ``input`` is typically a distance between two embeddings.

    Parameters
    ----------
    input : array_like
        Float32 or float64 values, any shape.
    target : array_like
        Same shape, each -1 or +1 (other values are a ValueError).
    margin : float
        Default 1.
    reduction : {'mean', 'sum', 'none'}
        How the per-element losses are combined.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.hinge_embedding_loss(np.array([0.3, 0.3]), np.array([1, -1]), reduction="none").tolist()
    [0.3, 0.7]
    """
    func = "hinge_embedding_loss"
    (x,) = _floats(func, input=input)
    t = _real_array(func, "target", target, x.dtype)
    return _core.hinge_embedding_loss(
        x, t, _scalar(func, "margin", margin), _check.reduction(func, reduction)
    )


def hinge_embedding_loss_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    reduction: str = "mean",
) -> np.ndarray:
    """Gradient of :func:`hinge_embedding_loss` with respect to ``input``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.hinge_embedding_loss_backward(1.0, np.array([0.3, 0.3]), np.array([1, -1])).tolist()
    [0.5, -0.5]
    """
    func = "hinge_embedding_loss_backward"
    (x,) = _floats(func, input=input)
    t = _real_array(func, "target", target, x.dtype)
    g = _real_array(func, "grad_output", grad_output, x.dtype)
    return _core.hinge_embedding_loss_backward(
        g, x, t, _scalar(func, "margin", margin), _check.reduction(func, reduction)
    )


# ----------------------------------------------------------------------------- soft margin


def soft_margin_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """Soft margin loss, as ``torch.nn.functional.soft_margin_loss``.

    Each element's loss is ``log(1 + exp(-target * input))`` (targets are usually -1 or +1,
    but any real value is accepted, as in PyTorch). Computed without overflow, so large
    scores give finite losses.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> round(float(F.soft_margin_loss(np.array([0.0]), np.array([1]))), 6)  # log 2
    0.693147
    """
    func = "soft_margin_loss"
    (x,) = _floats(func, input=input)
    t = _real_array(func, "target", target, x.dtype)
    return _core.soft_margin_loss(x, t, _check.reduction(func, reduction))


def soft_margin_loss_backward(
    grad_output: ArrayLike, input: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> np.ndarray:
    """Gradient of :func:`soft_margin_loss`: ``-target * sigmoid(-target * input)``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> F.soft_margin_loss_backward(1.0, np.array([0.0]), np.array([1])).tolist()
    [-0.5]
    """
    func = "soft_margin_loss_backward"
    (x,) = _floats(func, input=input)
    t = _real_array(func, "target", target, x.dtype)
    g = _real_array(func, "grad_output", grad_output, x.dtype)
    return _core.soft_margin_loss_backward(g, x, t, _check.reduction(func, reduction))


# ----------------------------------------------------------------------------- multi margin


def _multi_margin_args(
    func: str, input: ArrayLike, target: ArrayLike, p: Any, weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None]:
    (x,) = _floats(func, input=input)
    y = _labels(func, target)
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise DTypeError(f"{func}: p must be 1 or 2, got {p!r}")
    if p not in (1, 2):
        raise ArgumentError(f"{func}: p must be 1 or 2, got {p}")
    w = None
    if weight is not None:
        w = _real_array(func, "weight", weight, x.dtype)
        if w.ndim != 1:
            raise ShapeError(f"{func}: weight must be one-dimensional, got shape {w.shape}")
    return x, y, int(p), w


def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Multi-class hinge loss, as ``torch.nn.functional.multi_margin_loss``.

    For scores ``x`` of one sample over C classes and its label ``y``, the loss is
    ``sum over i != y of weight[y] * max(0, margin - x[y] + x[i])**p / C``.

    Parameters
    ----------
    input : array_like
        Scores of shape (N, C), or (C,) for a single sample.
    target : array_like
        Labels in [0, C) of shape (N,) (one label, 0-d or (1,), for a single sample); any
        integer dtype. A label out of range is a ValueError naming it and its position.
    p : {1, 2}
        Exponent of each hinge term.
    margin : float
        Default 1.
    weight : array_like, optional
        One weight per class (shape (C,)), applied by each sample's label.
    reduction : {'mean', 'sum', 'none'}
        Mean over samples, sum, or the per-sample losses.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> x = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    >>> F.multi_margin_loss(x, np.array([0, 1]), reduction="none").tolist()
    [0.0, 1.0]
    """
    func = "multi_margin_loss"
    x, y, p_, w = _multi_margin_args(func, input, target, p, weight)
    return _core.multi_margin_loss(
        x, y, p_, _scalar(func, "margin", margin), w, _check.reduction(func, reduction)
    )


def multi_margin_loss_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Gradient of :func:`multi_margin_loss` with respect to ``input``.

    As PyTorch's kernel, a term contributes only where ``margin - x[y] + x[i] > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> x = np.array([[1.0, 0.0, 0.0]])
    >>> F.multi_margin_loss_backward(3.0, x, np.array([1])).tolist()
    [[1.0, -2.0, 1.0]]
    """
    func = "multi_margin_loss_backward"
    x, y, p_, w = _multi_margin_args(func, input, target, p, weight)
    g = _real_array(func, "grad_output", grad_output, x.dtype)
    return _core.multi_margin_loss_backward(
        g, x, y, p_, _scalar(func, "margin", margin), w, _check.reduction(func, reduction)
    )
