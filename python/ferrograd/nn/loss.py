"""Loss layers, as ``torch.nn``'s: each holds its settings and calls its functional counterpart.

The constructors take PyTorch's arguments in PyTorch's order, without the deprecated
``size_average`` and ``reduce`` (arguments that follow them in PyTorch are keyword-only here).

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> float(nn.MSELoss()(np.array([1.0, 3.0]), np.array([0.0, 1.0])))
2.5
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from .. import _check, _eager
from .. import functional as F
from ..exceptions import DTypeError
from .module import Module


class _Loss(Module):
    """A loss layer: ``forward(*inputs)`` is ``F.<_fn>(*inputs, **settings)``.

    The settings are the constructor's arguments, kept as attributes of the same names.
    """

    _fn: ClassVar[str] = ""
    _names: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[tuple[Any, ...]] = ()
    _positional: ClassVar[int] = 0
    _own_init: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_fn" not in cls.__dict__:
            return  # a subclass made elsewhere keeps the settings of its base
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        cls._names = tuple(p.name for p in params)
        cls._defaults = tuple(p.default for p in params)
        cls._positional = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        cls._own_init = cls.__init__
        if cls.__module__ == __name__:
            cls.__module__ = "ferrograd.nn"

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Wrong arguments get a DTypeError (a TypeError) naming the class, before __init__.
        if cls.__init__ is cls._own_init:
            name, names = cls.__name__, cls._names
            if len(args) > cls._positional:
                raise DTypeError(
                    f"{name}() takes at most {cls._positional} positional arguments, "
                    f"got {len(args)}"
                )
            for k in kwargs:
                if k not in names:
                    raise DTypeError(f"{name}() got an unexpected keyword argument '{k}'")
                if k in names[: len(args)]:
                    raise DTypeError(f"{name}() got multiple values for argument '{k}'")
        return super().__new__(cls)

    @property
    def settings(self) -> dict[str, Any]:
        """The layer's keyword settings, as passed to its functional."""
        return {k: getattr(self, k) for k in self._names}

    def _loss(self, *inputs: Any) -> Any:
        return getattr(F, self._fn)(*inputs, **self.settings)

    def extra_repr(self) -> str:
        shown = []
        for k, d in zip(self._names, self._defaults):
            v = getattr(self, k)
            if (v is not None) if d is None else (v != d):
                shown.append(f"{k}={v!r}")
        return ", ".join(shown)


class _InputTargetLoss(_Loss):
    """A loss of ``forward(input, target)``."""

    def forward(self, input: Any, target: Any) -> Any:
        return self._loss(input, target)


class MSELoss(_InputTargetLoss):
    """Mean squared error: ``(input - target) ** 2``, reduced.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> float(nn.MSELoss(reduction="sum")(np.array([1.0, 3.0]), np.array([0.0, 1.0])))
    5.0
    """

    _fn = "mse_loss"

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check.module_reduction("MSELoss", reduction)


class L1Loss(_InputTargetLoss):
    """Mean absolute error: ``|input - target|``, reduced.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> float(nn.L1Loss()(np.array([1.0, 3.0]), np.array([0.0, 1.0])))
    1.5
    """

    _fn = "l1_loss"

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check.module_reduction("L1Loss", reduction)


class HuberLoss(_InputTargetLoss):
    """Huber loss: ``0.5 * d ** 2`` for ``|d| < delta``, ``delta * (|d| - 0.5 * delta)`` beyond,
    with ``d = input - target``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).
    delta : float
        Where the loss turns from quadratic to linear (positive, default 1).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.HuberLoss("none", delta=1.0)(np.array([0.5, 3.0]), np.zeros(2)).tolist()
    [0.125, 2.5]
    """

    _fn = "huber_loss"

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        self.reduction = _check.module_reduction("HuberLoss", reduction)
        self.delta = _check.real("HuberLoss", "delta", delta, 0.0, low_open=True)


class SmoothL1Loss(_InputTargetLoss):
    """Smooth L1 loss: ``0.5 * d ** 2 / beta`` for ``|d| < beta``, ``|d| - 0.5 * beta`` beyond
    (the Huber loss divided by ``beta``); ``beta = 0`` is the L1 loss.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).
    beta : float
        Where the loss turns from quadratic to linear (non-negative, default 1).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.SmoothL1Loss(reduction="none")(np.array([0.5, 3.0]), np.zeros(2)).tolist()
    [0.125, 2.5]
    """

    _fn = "smooth_l1_loss"

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__()
        self.reduction = _check.module_reduction("SmoothL1Loss", reduction)
        self.beta = _check.real("SmoothL1Loss", "beta", beta, 0.0)


class CrossEntropyLoss(_InputTargetLoss):
    """Cross-entropy of logits against class indices or class probabilities.

    The input is (N, C) or (N, C, d1, ..., dk) logits; the target holds class indices (any
    integer dtype) or class probabilities of the input's shape.

    Parameters
    ----------
    weight : array_like of shape (C,), optional
        A weight per class.
    ignore_index : int
        Targets of this class index add nothing, not even to the mean's divisor (default -100).
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the summed weights of the targets not ignored (default).
    label_smoothing : float
        In [0, 1]: the target is mixed with the uniform distribution by this much (default 0).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> logits = np.array([[0.0, 0.0], [0.0, 0.0]])
    >>> round(float(nn.CrossEntropyLoss()(logits, np.array([0, 1]))), 4)
    0.6931
    """

    _fn = "cross_entropy"

    def __init__(
        self,
        weight: Any = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.weight = weight
        self.ignore_index = _check.count(
            "CrossEntropyLoss", "ignore_index", ignore_index, -(2**63), 2**63 - 1
        )
        self.reduction = _check.module_reduction("CrossEntropyLoss", reduction)
        self.label_smoothing = _check.probability(
            "CrossEntropyLoss", "label_smoothing", label_smoothing
        )

    def forward(self, input: Any, target: Any) -> Any:
        if self.weight is None:
            out = _eager.cross_entropy(
                input,
                target,
                self.ignore_index,
                self.reduction,
                self.label_smoothing,
                F.cross_entropy_backward,
            )
            if out is not None:
                return out
        return self._loss(input, target)


class NLLLoss(_InputTargetLoss):
    """Negative log-likelihood of log-probabilities: ``-weight[y] * input[y]`` per target ``y``.

    Parameters
    ----------
    weight : array_like of shape (C,), optional
        A weight per class.
    ignore_index : int
        Targets of this class index add nothing, not even to the mean's divisor (default -100).
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the summed weights of the targets not ignored (default).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> float(nn.NLLLoss()(np.array([[-1.0, -2.0], [-3.0, -4.0]]), np.array([0, 1])))
    2.5
    """

    _fn = "nll_loss"

    def __init__(
        self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.weight = weight
        self.ignore_index = _check.count(
            "NLLLoss", "ignore_index", ignore_index, -(2**63), 2**63 - 1
        )
        self.reduction = _check.module_reduction("NLLLoss", reduction)


class BCELoss(_InputTargetLoss):
    """Binary cross-entropy of probabilities: ``-weight * (t * log(x) + (1 - t) * log(1 - x))``,
    each log clamped at -100.

    Parameters
    ----------
    weight : array_like, optional
        A weight per element, broadcast to the input.
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> round(float(nn.BCELoss()(np.array([0.5, 0.5]), np.array([1.0, 0.0]))), 4)
    0.6931
    """

    _fn = "binary_cross_entropy"

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__()
        self.weight = weight
        self.reduction = _check.module_reduction("BCELoss", reduction)


class BCEWithLogitsLoss(_InputTargetLoss):
    """Binary cross-entropy of logits, in the stable log-sum-exp form.

    Parameters
    ----------
    weight : array_like, optional
        A weight per element, broadcast to the input.
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).
    pos_weight : array_like, optional
        A weight of the positive term per class (the last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> round(float(nn.BCEWithLogitsLoss()(np.array([0.0]), np.array([1.0]))), 4)
    0.6931
    """

    _fn = "binary_cross_entropy_with_logits"

    def __init__(
        self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
    ) -> None:
        super().__init__()
        self.weight = weight
        self.reduction = _check.module_reduction("BCEWithLogitsLoss", reduction)
        self.pos_weight = pos_weight


class KLDivLoss(_InputTargetLoss):
    """Kullback-Leibler divergence ``target * (log(target) - input)``; the input is
    log-probabilities.

    Parameters
    ----------
    reduction : {"mean", "batchmean", "sum", "none"}
        ``"batchmean"`` divides the sum by the batch size, the mathematical KL divergence;
        ``"mean"`` (the default, as PyTorch's) divides by the number of elements.
    log_target : bool
        The target is log-probabilities too (default False).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> p = np.array([[0.5, 0.5]])
    >>> float(nn.KLDivLoss(reduction="batchmean")(np.log(p), p))
    0.0
    """

    _fn = "kl_div"

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        self.reduction = _check.module_reduction("KLDivLoss", reduction, batchmean=True)
        self.log_target = _check.flag("KLDivLoss", "log_target", log_target)


class HingeLoss(_InputTargetLoss):
    """Binary hinge loss ``max(0, margin - target * input)``, targets in {-1, +1}.

    Not in ``torch.nn``.

    Parameters
    ----------
    margin : float
        The room a correct score must have to cost nothing (default 1).
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.HingeLoss(reduction="none")(np.array([2.0, 0.5]), np.array([1.0, 1.0])).tolist()
    [0.0, 0.5]
    """

    _fn = "hinge_loss"

    def __init__(self, margin: float = 1.0, *, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check.real("HingeLoss", "margin", margin)
        self.reduction = _check.module_reduction("HingeLoss", reduction)


class HingeEmbeddingLoss(_InputTargetLoss):
    """Hinge embedding loss: ``input`` where the target is 1, ``max(0, margin - input)`` where
    it is -1.

    Parameters
    ----------
    margin : float
        The distance beyond which a dissimilar pair costs nothing (default 1).
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> loss = nn.HingeEmbeddingLoss(reduction="none")
    >>> loss(np.array([0.3, 0.3]), np.array([1.0, -1.0])).tolist()
    [0.3, 0.7]
    """

    _fn = "hinge_embedding_loss"

    def __init__(self, margin: float = 1.0, *, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check.real("HingeEmbeddingLoss", "margin", margin)
        self.reduction = _check.module_reduction("HingeEmbeddingLoss", reduction)


class SoftMarginLoss(_InputTargetLoss):
    """Logistic loss ``log(1 + exp(-target * input))``, targets usually in {-1, +1}.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> round(float(nn.SoftMarginLoss()(np.array([0.0]), np.array([1.0]))), 4)
    0.6931
    """

    _fn = "soft_margin_loss"

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check.module_reduction("SoftMarginLoss", reduction)


class MultiMarginLoss(_InputTargetLoss):
    """Multi-class hinge loss: per row, the mean over the other classes ``i`` of
    ``weight[y] * max(0, margin - x[y] + x[i]) ** p``.

    Parameters
    ----------
    p : {1, 2}
        The power of each hinge (default 1).
    margin : float
        The room the target's score must have over the others (default 1).
    weight : array_like of shape (C,), optional
        A weight per class.
    reduction : {"mean", "sum", "none"}
        How the row losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> float(nn.MultiMarginLoss()(np.array([[0.0, 0.5]]), np.array([1])))
    0.25
    """

    _fn = "multi_margin_loss"

    def __init__(
        self, p: int = 1, margin: float = 1.0, weight: Any = None, *, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.p = _check.count("MultiMarginLoss", "p", p, 1, 2)
        self.margin = _check.real("MultiMarginLoss", "margin", margin)
        self.weight = weight
        self.reduction = _check.module_reduction("MultiMarginLoss", reduction)


class CosineEmbeddingLoss(_Loss):
    """Cosine embedding loss: ``1 - cos(x1, x2)`` where the target is 1,
    ``max(0, cos(x1, x2) - margin)`` where it is -1; ``forward(input1, input2, target)``.

    Parameters
    ----------
    margin : float
        The cosine below which a dissimilar pair costs nothing (default 0).
    reduction : {"mean", "sum", "none"}
        How the row losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> x = np.array([[1.0, 0.0]])
    >>> round(float(nn.CosineEmbeddingLoss()(x, x, np.array([1.0]))), 6)
    0.0
    """

    _fn = "cosine_embedding_loss"

    def forward(self, input1: Any, input2: Any, target: Any) -> Any:
        return self._loss(input1, input2, target)

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check.real("CosineEmbeddingLoss", "margin", margin)
        self.reduction = _check.module_reduction("CosineEmbeddingLoss", reduction)


class TripletMarginLoss(_Loss):
    """Triplet margin loss ``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the p-norm
    distance; ``forward(anchor, positive, negative)``.

    Parameters
    ----------
    margin : float
        The room the negative's distance must have over the positive's (default 1).
    p : float
        The norm of the distance (positive, default 2).
    eps : float
        Added to the differences before the norm (non-negative, default 1e-6).
    swap : bool
        Also compare with the positive-negative distance and keep the smaller (default False).
    reduction : {"mean", "sum", "none"}
        How the row losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> a, n = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])
    >>> float(nn.TripletMarginLoss(eps=0.0)(a, a, n))
    0.0
    """

    _fn = "triplet_margin_loss"

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Any:
        return self._loss(anchor, positive, negative)

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        *,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.margin = _check.real("TripletMarginLoss", "margin", margin)
        self.p = _check.real("TripletMarginLoss", "p", p, 0.0, low_open=True)
        self.eps = _check.real("TripletMarginLoss", "eps", eps, 0.0)
        self.swap = _check.flag("TripletMarginLoss", "swap", swap)
        self.reduction = _check.module_reduction("TripletMarginLoss", reduction)


class NTXentLoss(_Loss):
    """SimCLR normalised-temperature cross-entropy over two views; ``forward(z1, z2)``.

    Not in ``torch.nn``; see :func:`ferrograd.functional.nt_xent_loss`.

    Parameters
    ----------
    temperature : float
        Divides the cosine similarities (positive, default 0.5).
    reduction : {"mean", "sum", "none"}
        How the 2N anchor losses are combined (default ``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> z = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> float(nn.NTXentLoss()(z, z)) < float(nn.NTXentLoss()(z, z[::-1]))
    True
    """

    _fn = "nt_xent_loss"

    def forward(self, z1: Any, z2: Any) -> Any:
        return self._loss(z1, z2)

    def __init__(self, temperature: float = 0.5, *, reduction: str = "mean") -> None:
        super().__init__()
        self.temperature = _check.real("NTXentLoss", "temperature", temperature, 0.0, low_open=True)
        self.reduction = _check.module_reduction("NTXentLoss", reduction)


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
