"""Lookup layers: ``Embedding``, with PyTorch's parameter layout and initialisation.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> emb = nn.Embedding(10, 3, padding_idx=0)
>>> emb(np.array([[0, 4], [9, 0]])).shape
(2, 2, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check
from ..exceptions import DTypeError, ShapeError
from ..functional._norm import _padding_index, embedding
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    The ``weight`` of shape (num_embeddings, embedding_dim) starts as N(0, 1) draws; the
    ``padding_idx`` row, if any, starts at zero and receives no gradient.

    Parameters
    ----------
    num_embeddings : int
        Size of the table (indices run from 0 to num_embeddings - 1).
    embedding_dim : int
        Size of each vector.
    padding_idx : int, optional
        A row kept out of training (negative counts from the end).
    dtype : np.float32 or np.float64, optional
        dtype of the table (default: :func:`ferrograd.get_default_dtype`).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> emb = nn.Embedding(5, 2, padding_idx=1)
    >>> emb(np.array([1])).data.tolist()
    [[0.0, 0.0]]
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: Any = None,
        _weight: np.ndarray | None = None,
    ):
        super().__init__()
        self.num_embeddings = _check.count("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _check.count("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = _padding_index("Embedding", padding_idx, self.num_embeddings)
        dt = _check.param_dtype("Embedding", dtype)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(np.empty(shape, dtype=dt))
            self.reset_parameters()
        else:
            if _weight.shape != shape:
                raise ShapeError(f"Embedding: _weight must have shape {shape}, got {_weight.shape}")
            self.weight = Parameter(np.array(_weight, dtype=dt))

    def reset_parameters(self) -> None:
        """Redraws the table from N(0, 1) and zeroes the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Any:
        return embedding(input, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An Embedding holding a copy of the 2-D table ``embeddings``.

        Parameters
        ----------
        embeddings : array_like or Tensor of shape (num_embeddings, embedding_dim)
            The vectors (float32 or float64).
        freeze : bool
            Keep the table fixed (``weight.requires_grad`` False).
        padding_idx : int, optional
            A row that receives no gradient (its values are kept as given).

        Examples
        --------
        >>> import numpy as np
        >>> from ferrograd import nn
        >>> emb = nn.Embedding.from_pretrained(np.eye(3))
        >>> emb(np.array([2])).data.tolist(), emb.weight.requires_grad
        ([[0.0, 0.0, 1.0]], False)
        """
        table = np.array(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if table.ndim != 2:
            raise ShapeError(
                f"Embedding.from_pretrained: embeddings must be 2-D, got shape {table.shape}"
            )
        if table.dtype.kind != "f" or table.dtype.itemsize not in (4, 8):
            raise DTypeError(
                f"Embedding.from_pretrained: embeddings must be float32 or float64, got "
                f"{table.dtype}"
            )
        emb = cls(
            table.shape[0],
            table.shape[1],
            padding_idx=padding_idx,
            dtype=table.dtype,
            _weight=table,
        )
        emb.weight.requires_grad_(not freeze)
        return emb

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
