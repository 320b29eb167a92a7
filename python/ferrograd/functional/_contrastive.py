r"""The contrastive part of :mod:`ferrograd.functional`: losses on pairs and groups of embeddings.

``cosine_embedding_loss`` and ``triplet_margin_loss`` follow ``torch.nn.functional``;
``nt_xent_loss`` is the SimCLR / InfoNCE loss, which PyTorch does not have. Each backward
returns a tuple with the gradient of every float input.

Examples
--------
>>> import numpy as np
>>> import ferrograd.functional as F
>>> a = np.array([[1.0, 0.0]])
>>> float(F.cosine_embedding_loss(a, np.array([[0.0, 1.0]]), np.array([1])))
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from ._margin import _floats, _real_array, _scalar

ArrayLike = Any

__all__ = [
    "cosine_embedding_loss",
    "cosine_embedding_loss_backward",
    "nt_xent_loss",
    "nt_xent_loss_backward",
    "triplet_margin_loss",
    "triplet_margin_loss_backward",
]

# ----------------------------------------------------------------------------- cosine embedding


def cosine_embedding_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0.0,
    reduction: str = "mean",
) -> np.ndarray:
    """Cosine embedding loss, as ``torch.nn.functional.cosine_embedding_loss``.

    For each pair of rows, ``1 - cos(x1, x2)`` where ``target`` is 1 and
    ``max(0, cos(x1, x2) - margin)`` where it is -1. As PyTorch,
    ``cos = x1 . x2 / sqrt((|x1|^2 + 1e-12) * (|x2|^2 + 1e-12))``: the epsilon is added to each
    squared norm, so a zero row has cosine 0 rather than NaN.

    Parameters
    ----------
    input1, input2 : array_like
        Embeddings of shape (N, D), or (D,) for a single pair.
    target : array_like
        Shape (N,) (0-d for a single pair), each -1 or +1.
    margin : float
        Default 0; values in [-1, 1] make sense.
    reduction : {'mean', 'sum', 'none'}
        Mean or sum over pairs, or the per-pair losses.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> b = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> F.cosine_embedding_loss(a, b, np.array([1, -1]), margin=0.5, reduction="none").round(6)
    array([0. , 0.5])
    """
    func = "cosine_embedding_loss"
    x1, x2 = _floats(func, input1=input1, input2=input2)
    t = _real_array(func, "target", target, x1.dtype)
    return _core.cosine_embedding_loss(
        x1, x2, t, _scalar(func, "margin", margin), _check.reduction(func, reduction)
    )


def cosine_embedding_loss_backward(
    grad_output: ArrayLike,
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0.0,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`cosine_embedding_loss` with respect to ``input1`` and ``input2``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> g1, g2 = F.cosine_embedding_loss_backward(
    ...     1.0, np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array(1))
    >>> bool(np.allclose(g1, [0.0, -1.0]) and np.allclose(g2, [-1.0, 0.0]))
    True
    """
    func = "cosine_embedding_loss_backward"
    x1, x2 = _floats(func, input1=input1, input2=input2)
    t = _real_array(func, "target", target, x1.dtype)
    g = _real_array(func, "grad_output", grad_output, x1.dtype)
    g1, g2 = _core.cosine_embedding_loss_backward(
        g, x1, x2, t, _scalar(func, "margin", margin), _check.reduction(func, reduction)
    )
    return g1, g2


# ----------------------------------------------------------------------------- triplet margin


def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> np.ndarray:
    """Triplet margin loss, as ``torch.nn.functional.triplet_margin_loss``.

    Per row, ``max(0, margin + d(a, p) - d(a, n))`` where, as PyTorch's ``pairwise_distance``,
    ``d(x, y) = ||x - y + eps||_p`` over the last axis (``eps`` is added to the difference).
    With ``swap=True`` the negative distance is ``min(d(a, n), d(p, n))`` (distance swap).

    Parameters
    ----------
    anchor, positive, negative : array_like
        Embeddings of one shape, (N, D) or (D,) (more leading axes also work).
    margin : float
        Default 1.
    p : float
        Norm degree: any ``p >= 0`` or ``inf`` (default 2).
    eps : float
        Added to each difference before its norm (default 1e-6).
    swap : bool
        Use the distance swap.
    reduction : {'mean', 'sum', 'none'}
        Mean or sum over rows, or the per-row losses.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> a, p, n = np.array([[0.0]]), np.array([[1.0]]), np.array([[3.0]])
    >>> float(F.triplet_margin_loss(a, p, n, margin=2.0, eps=0.0))
    0.0
    >>> float(F.triplet_margin_loss(a, p, n, margin=2.0, eps=0.0, swap=True))
    1.0
    """
    func = "triplet_margin_loss"
    a, p_, n = _floats(func, anchor=anchor, positive=positive, negative=negative)
    return _core.triplet_margin_loss(
        a,
        p_,
        n,
        _scalar(func, "margin", margin),
        _scalar(func, "p", p),
        _scalar(func, "eps", eps),
        _check.flag(func, "swap", swap),
        _check.reduction(func, reduction),
    )


def triplet_margin_loss_backward(
    grad_output: ArrayLike,
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`triplet_margin_loss` with respect to anchor, positive and negative.

    At a tie of the two negative distances under ``swap``, each gets half the gradient, as
    ``torch.minimum``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> a, p, n = np.array([[0.0]]), np.array([[1.0]]), np.array([[3.0]])
    >>> [g.tolist() for g in F.triplet_margin_loss_backward(1.0, a, p, n, 3.0, eps=0.0)]
    [[[0.0]], [[1.0]], [[-1.0]]]
    """
    func = "triplet_margin_loss_backward"
    a, p_, n = _floats(func, anchor=anchor, positive=positive, negative=negative)
    g = _real_array(func, "grad_output", grad_output, a.dtype)
    ga, gp, gn = _core.triplet_margin_loss_backward(
        g,
        a,
        p_,
        n,
        _scalar(func, "margin", margin),
        _scalar(func, "p", p),
        _scalar(func, "eps", eps),
        _check.flag(func, "swap", swap),
        _check.reduction(func, reduction),
    )
    return ga, gp, gn


# ----------------------------------------------------------------------------- NT-Xent


def nt_xent_loss(
    z1: ArrayLike, z2: ArrayLike, temperature: float = 0.5, reduction: str = "mean"
) -> np.ndarray:
    r"""NT-Xent, the normalised temperature-scaled cross entropy of SimCLR (InfoNCE).

    Not in ``torch.nn.functional``. ``z1`` and ``z2`` hold two views of the same N examples.
    The 2N rows :math:`z_1, \dots, z_{2N}` (``z1`` then ``z2``) are L2-normalised
    (:math:`\hat z = z / \max(\lVert z \rVert, 10^{-12})`, as ``F.normalize``), and with
    :math:`s_{ik} = \hat z_i \cdot \hat z_k / \tau` the loss of anchor :math:`i`, whose
    positive :math:`j` is its other view, is

    .. math::

        \ell_i = -\log \frac{\exp(s_{ij})}{\sum_{k \ne i} \exp(s_{ik})}

    (every other row is a negative; the self-similarity is excluded). ``'mean'`` averages
    over the 2N anchors.

    Parameters
    ----------
    z1, z2 : array_like
        Embeddings of shape (N, D).
    temperature : float
        :math:`\tau > 0` (default 0.5); other values are a ValueError.
    reduction : {'mean', 'sum', 'none'}
        Mean or sum over the 2N anchors, or the per-anchor losses (shape (2N,), the rows of
        ``z1`` first).

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> z = np.eye(2)  # two orthogonal examples, both views identical
    >>> loss = float(F.nt_xent_loss(z, z, temperature=1.0))
    >>> bool(np.isclose(loss, np.log(1 + 2 * np.exp(-1.0))))
    True
    """
    func = "nt_xent_loss"
    a, b = _floats(func, z1=z1, z2=z2)
    return _core.nt_xent_loss(
        a, b, _scalar(func, "temperature", temperature), _check.reduction(func, reduction)
    )


def nt_xent_loss_backward(
    grad_output: ArrayLike,
    z1: ArrayLike,
    z2: ArrayLike,
    temperature: float = 0.5,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`nt_xent_loss` with respect to ``z1`` and ``z2``.

    Examples
    --------
    >>> import numpy as np
    >>> import ferrograd.functional as F
    >>> g1, g2 = F.nt_xent_loss_backward(1.0, np.eye(2), np.eye(2))
    >>> g1.shape, g2.shape
    ((2, 2), (2, 2))
    """
    func = "nt_xent_loss_backward"
    a, b = _floats(func, z1=z1, z2=z2)
    g = _real_array(func, "grad_output", grad_output, a.dtype)
    g1, g2 = _core.nt_xent_loss_backward(
        g, a, b, _scalar(func, "temperature", temperature), _check.reduction(func, reduction)
    )
    return g1, g2
