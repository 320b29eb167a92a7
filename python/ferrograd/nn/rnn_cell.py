"""Single-step recurrent cells: :class:`RNNCell`, :class:`LSTMCell` and :class:`GRUCell`.

Parameter names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), layouts, gate
orders and initialisation follow PyTorch. One step is the recurrence of the sequence layers
(:mod:`ferrograd.nn.rnn`) run over a sequence of length one, so a cell and a one-layer
RNN/LSTM/GRU with the same weights give the same numbers and the same gradients.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> cell = nn.LSTMCell(3, 5)
>>> x = np.zeros((7, 4, 3), dtype=np.float32)  # (seq, batch, feature)
>>> h, c = cell(x[0])
>>> for t in range(1, 7):
...     h, c = cell(x[t], (h, c))
>>> h.shape, c.shape
((4, 5), (4, 5))
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .. import _check
from ..exceptions import DTypeError, ShapeError
from ..tensor import Tensor, _to_array
from . import init
from ._cast import cast_input
from .module import Module
from .parameter import Parameter
from .rnn import _recurrence

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """Shared parameters and input checks of the cells; ``gates`` blocks of ``hidden_size``
    rows are stacked in ``weight_ih`` (gates * hidden, input) and ``weight_hh`` (gates *
    hidden, hidden)."""

    _mode = ""
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _check.count(name, "input_size", input_size)
        self.hidden_size = _check.positive(name, "hidden_size", hidden_size)
        self.bias = _check.flag(name, "bias", bias)
        dt = _check.param_dtype(name, dtype)
        rows = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.zeros((rows, self.input_size), dtype=dt))
        self.weight_hh = Parameter(np.zeros((rows, self.hidden_size), dtype=dt))
        if self.bias:
            self.bias_ih = Parameter(np.zeros(rows, dtype=dt))
            self.bias_hh = Parameter(np.zeros(rows, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _input(self, input: Any) -> tuple[Any, bool]:
        """The input as (batch, input_size) (cast to the parameters' dtype) and whether it came
        batched."""
        name = type(self).__name__
        x = cast_input(name, input, self.weight_ih.dtype)
        if x.dtype.kind != "f":
            raise DTypeError(f"{name}: input must be float32 or float64, got {x.dtype}")
        if x.ndim not in (1, 2):
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D input")
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: input has shape {tuple(x.shape)}, whose last axis should be "
                f"input_size={self.input_size}"
            )
        batched = x.ndim == 2
        return (x if batched else x.reshape(1, self.input_size)), batched

    def _state(self, label: str, s: Any, batch: int, batched: bool) -> Any:
        """A hidden or cell state as (batch, hidden_size); zeros when ``s`` is None."""
        name = type(self).__name__
        dtype = self.weight_ih.dtype
        if s is None:
            return np.zeros((batch, self.hidden_size), dtype=dtype)
        s = cast_input(name, s, dtype, label)
        if not isinstance(s, Tensor):
            s = _to_array(s, func=f"{name}: {label}")
        want = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if tuple(s.shape) != want:
            raise ShapeError(f"{name}: {label} has shape {tuple(s.shape)}, expected {want}")
        return s if batched else s.reshape(1, self.hidden_size)

    def _step(self, x: Any, h: Any, c: Any) -> Tensor:
        """One step: the recurrence over a sequence of length one, (batch, hidden [* 2])."""
        y = _recurrence(
            self._mode,
            x.reshape(1, *x.shape),
            h,
            c,
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            False,
        )
        return y.reshape(y.shape[1], y.shape[2])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """An Elman cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
        Whether to use ``bias_ih`` and ``bias_hh``.
    nonlinearity : {"tanh", "relu"}
    dtype : np.float32 or np.float64, optional

    Notes
    -----
    ``forward(input, hx=None)``: ``input`` (batch, input_size) or unbatched (input_size,),
    ``hx`` of shape (batch, hidden_size) or (hidden_size,) (zeros when omitted); returns
    ``h'`` of the shape of ``hx``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> nn.RNNCell(3, 4)(np.ones(3, dtype=np.float32)).shape
    (4,)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ):
        _check.choice("RNNCell", "nonlinearity", nonlinearity, ["tanh", "relu"])
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, batched = self._input(input)
        h = self._step(x, self._state("hx", hx, x.shape[0], batched), None)
        return h if batched else h.reshape(self.hidden_size)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(RNNCellBase):
    """One LSTM step with PyTorch's gate order i, f, g, o::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + ... )
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + ... )
        c' = f * c + i * g                              h' = o * tanh(c')

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
        Whether to use ``bias_ih`` and ``bias_hh`` (each (4 * hidden_size,)).
    dtype : np.float32 or np.float64, optional

    Notes
    -----
    ``weight_ih`` is (4 * hidden_size, input_size) and ``weight_hh`` (4 * hidden_size,
    hidden_size): the i, f, g, o blocks stacked in that order. ``forward(input, hx=None)``
    takes ``input`` (batch, input_size) or unbatched (input_size,) and ``hx = (h, c)``, each
    (batch, hidden_size) or (hidden_size,) (zeros when omitted), and returns ``(h', c')``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> cell = nn.LSTMCell(3, 4)
    >>> [name for name, _ in cell.named_parameters()]
    ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']
    >>> h, c = cell(np.ones((2, 3), dtype=np.float32))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    _mode = "LSTM"
    _gates = 4

    def forward(self, input: Any, hx: Optional[tuple[Any, Any]] = None) -> tuple[Tensor, Tensor]:
        x, batched = self._input(input)
        n, hid = x.shape[0], self.hidden_size
        if hx is None:
            h0 = c0 = self._state("h", None, n, batched)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ShapeError(
                    f"LSTMCell: hx must be a tuple (h, c) of two tensors, got {type(hx).__name__}"
                )
            h0 = self._state("hx[0]", hx[0], n, batched)
            c0 = self._state("hx[1]", hx[1], n, batched)
        y = self._step(x, h0, c0)
        h, c = y[:, :hid], y[:, hid:]
        if not batched:
            h, c = h.reshape(hid), c.reshape(hid)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step with PyTorch's gate order r, z, n::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
        Whether to use ``bias_ih`` and ``bias_hh`` (each (3 * hidden_size,)).
    dtype : np.float32 or np.float64, optional

    Notes
    -----
    ``weight_ih`` is (3 * hidden_size, input_size) and ``weight_hh`` (3 * hidden_size,
    hidden_size): the r, z, n blocks stacked in that order. ``forward(input, hx=None)``
    returns ``h'`` of shape (batch, hidden_size), or (hidden_size,) for unbatched input.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> cell = nn.GRUCell(3, 4)
    >>> cell.weight_ih.shape, cell(np.ones((2, 3), dtype=np.float32)).shape
    ((12, 3), (2, 4))
    """

    _mode = "GRU"
    _gates = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, batched = self._input(input)
        h = self._step(x, self._state("hx", hx, x.shape[0], batched), None)
        return h if batched else h.reshape(self.hidden_size)
