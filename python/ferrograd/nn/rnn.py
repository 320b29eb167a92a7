"""Recurrent layers: :class:`RNN`, :class:`LSTM` and :class:`GRU`.

Constructor arguments, parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), weight
layouts, gate order, initialisation and the shapes of inputs and outputs follow PyTorch, so a
state dict moves between the two for the same architecture.

Each layer in each direction runs over the whole sequence as one node of the autograd graph,
in one call of a fused Rust kernel (``_core.rnn_forward``, with ``_core.rnn_backward`` for
backpropagation through time). Builds of the extension without that kernel step through time
in Python instead, calling the elementwise and matrix kernels of :mod:`ferrograd.ops`.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn
>>> lstm = nn.LSTM(input_size=3, hidden_size=5, num_layers=2)
>>> x = np.zeros((7, 4, 3), dtype=np.float32)  # (seq, batch, feature)
>>> output, (h_n, c_n) = lstm(x)
>>> output.shape, h_n.shape, c_n.shape
((7, 4, 5), (2, 4, 5), (2, 4, 5))
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import numpy as np

from .. import _check, _core, ops
from .. import functional as F
from ..autograd import StepGrad, record, takes_step_grads
from ..exceptions import DTypeError, ShapeError
from ..random import default_generator
from ..tensor import Tensor, concat, stack
from . import init
from ._cast import cast_input
from .module import Module
from .parameter import Parameter

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

# Whether the extension has the fused sequence kernels (tests switch this off to check the
# step-by-step path too).
_FUSED = hasattr(_core, "rnn_forward") and hasattr(_core, "rnn_backward")


# --------------------------------------------------------------------------- one layer, one way


def _recurrence(
    mode: str,
    x: Any,
    h0: Any,
    c0: Any,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor],
    b_hh: Optional[Tensor],
    reverse: bool,
) -> Tensor:
    """Runs one layer in one direction over a (seq, batch, in) sequence.

    Returns the hidden state of every step, (seq, batch, hidden); for ``"LSTM"`` the cell
    state of every step follows on the last axis, (seq, batch, 2 * hidden). The output at
    position ``t`` is the state after reading ``x[t]``, also when ``reverse`` runs from the end.
    The backward pass gives the gradients of all seven arguments (None for absent ones).
    """
    if _FUSED:
        return _fused_recurrence(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
    return _stepwise_recurrence(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)


def _fused_recurrence(
    mode: str,
    x: Any,
    h0: Any,
    c0: Any,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor],
    b_hh: Optional[Tensor],
    reverse: bool,
) -> Tensor:
    """:func:`_recurrence` in one call of the Rust kernel (and one for the backward)."""
    dt = np.result_type(_data(x), w_ih.data)

    def arr(a: Any) -> Any:
        return None if a is None else np.asarray(_data(a), dtype=dt)

    xd, h, c, wi, wh, bi, bh = (arr(a) for a in (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    states, saved = _core.rnn_forward(mode, xd, h, wi, wh, bi, bh, c, reverse)

    @takes_step_grads
    def backward(g: Any) -> tuple[Any, ...]:
        need_dx = isinstance(x, Tensor) and x.requires_grad
        steps = None
        if type(g) is StepGrad:  # only some steps, or only the LSTM's h part
            g, steps = g.values, g.steps
        g = np.asarray(g, dtype=dt)
        return tuple(
            _core.rnn_backward(
                mode, g, xd, h, wi, wh, states, saved, bi, bh, c, reverse, need_dx, steps
            )
        )

    return record(states, (x, h0, c0, w_ih, w_hh, b_ih, b_hh), backward)


def _data(a: Any) -> Any:
    return a.data if isinstance(a, Tensor) else a


def _stepwise_recurrence(
    mode: str,
    x: Any,
    h0: Any,
    c0: Any,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor],
    b_hh: Optional[Tensor],
    reverse: bool,
) -> Tensor:
    """:func:`_recurrence` stepping through time in Python, one kernel call per operation."""
    xd = _data(x)
    wi, wh = w_ih.data, w_hh.data
    bi = None if b_ih is None else b_ih.data
    bh = None if b_hh is None else b_hh.data
    dt = np.result_type(xd, wi)
    steps, batch = xd.shape[0], xd.shape[1]
    hid = wh.shape[1]
    lstm = mode == "LSTM"
    order = range(steps - 1, -1, -1) if reverse else range(steps)

    xp = ops.linear(xd, wi, bi)  # the input projection of all steps at once
    h = np.asarray(_data(h0), dtype=dt)
    c = np.asarray(_data(c0), dtype=dt) if lstm else None
    out = np.empty((steps, batch, 2 * hid if lstm else hid), dtype=dt)
    h_prev = np.empty((steps, batch, hid), dtype=dt)  # the state each step starts from
    saved: list[tuple[Any, ...]] = [()] * steps

    for t in order:
        h_prev[t] = h
        hp = ops.linear(h, wh, bh)
        if mode == "LSTM":
            pre = ops.add(xp[t], hp)  # gates i, f, g, o
            s = F.sigmoid(pre)
            i, f, o = s[:, :hid], s[:, hid : 2 * hid], s[:, 3 * hid :]
            g = F.tanh(pre[:, 2 * hid : 3 * hid])
            c_new = ops.add(ops.mul(f, c), ops.mul(i, g))
            h = ops.mul(o, F.tanh(c_new))
            saved[t] = (pre, i, f, g, o, c, c_new)
            c = c_new
            out[t, :, hid:] = c
        elif mode == "GRU":
            rz_pre = ops.add(xp[t, :, : 2 * hid], hp[:, : 2 * hid])  # gates r, z
            rz = F.sigmoid(rz_pre)
            r, z = rz[:, :hid], rz[:, hid:]
            hn = hp[:, 2 * hid :]
            n_pre = ops.add(xp[t, :, 2 * hid :], ops.mul(r, hn))
            n = F.tanh(n_pre)
            h_old = h
            h = ops.add(n, ops.mul(z, ops.sub(h_old, n)))  # (1 - z) * n + z * h
            saved[t] = (rz_pre, r, z, hn, n_pre, n, h_old)
        else:
            pre = ops.add(xp[t], hp)
            h = F.tanh(pre) if mode == "RNN_TANH" else F.relu(pre)
            saved[t] = (pre,)
        out[t, :, :hid] = h

    def backward(gy: np.ndarray) -> tuple[Any, ...]:
        gates = wi.shape[0]
        d_xp = np.empty((steps, batch, gates), dtype=dt)  # d loss / d (input projection)
        d_hp = d_xp if mode != "GRU" else np.empty_like(d_xp)  # d loss / d (W_hh h + b_hh)
        dh = np.zeros((batch, hid), dtype=dt)
        dc = np.zeros((batch, hid), dtype=dt)
        for t in reversed(order):
            dh = ops.add(dh, gy[t, :, :hid])
            if mode == "LSTM":
                pre, i, f, g, o, c_old, c_new = saved[t]
                tc = F.tanh(c_new)
                dc = ops.add(ops.add(dc, gy[t, :, hid:]), F.tanh_backward(ops.mul(dh, o), c_new))
                d_g = ops.mul(dc, i)
                d_gate = np.empty((batch, gates), dtype=dt)
                d_gate[:, :hid] = ops.mul(dc, g)
                d_gate[:, hid : 2 * hid] = ops.mul(dc, c_old)
                d_gate[:, 2 * hid : 3 * hid] = d_g
                d_gate[:, 3 * hid :] = ops.mul(dh, tc)
                d_pre = F.sigmoid_backward(d_gate, pre)  # right for i, f, o; g is redone
                d_pre[:, 2 * hid : 3 * hid] = F.tanh_backward(d_g, pre[:, 2 * hid : 3 * hid])
                d_xp[t] = d_pre
                dc = ops.mul(dc, f)
                dh = ops.matmul(d_pre, wh)
            elif mode == "GRU":
                rz_pre, r, z, hn, n_pre, n, h_old = saved[t]
                d_n = F.tanh_backward(ops.sub(dh, ops.mul(dh, z)), n_pre)
                d_rz = np.empty((batch, 2 * hid), dtype=dt)
                d_rz[:, :hid] = ops.mul(d_n, hn)
                d_rz[:, hid:] = ops.mul(dh, ops.sub(h_old, n))
                d_rz = F.sigmoid_backward(d_rz, rz_pre)
                d_xp[t, :, : 2 * hid] = d_rz
                d_xp[t, :, 2 * hid :] = d_n
                d_hp[t, :, : 2 * hid] = d_rz
                d_hp[t, :, 2 * hid :] = ops.mul(d_n, r)
                dh = ops.add(ops.mul(dh, z), ops.matmul(d_hp[t], wh))
            else:
                pre = saved[t][0]
                if mode == "RNN_TANH":
                    d_pre = F.tanh_backward(dh, pre)
                else:
                    d_pre = F.relu_backward(dh, pre)
                d_xp[t] = d_pre
                dh = ops.matmul(d_pre, wh)

        flat_xp = d_xp.reshape(-1, d_xp.shape[-1])
        flat_hp = d_hp.reshape(-1, d_hp.shape[-1])
        dx = None
        if isinstance(x, Tensor) and x.requires_grad:
            dx = ops.matmul(flat_xp, wi).reshape(xd.shape)
        dw_ih = ops.matmul(flat_xp.T, xd.reshape(-1, xd.shape[-1]))
        dw_hh = ops.matmul(flat_hp.T, h_prev.reshape(-1, hid))
        db_ih = None if b_ih is None else ops.sum(flat_xp, axis=0)
        db_hh = None if b_hh is None else ops.sum(flat_hp, axis=0)
        return dx, dh, (dc if lstm else None), dw_ih, dw_hh, db_ih, db_hh

    return record(out, (x, h0, c0, w_ih, w_hh, b_ih, b_hh), backward)


def _part(a: Any, index: Any) -> Any:
    """``a[index]`` for a basic (slice or integer) index, with a cheap backward."""
    if not isinstance(a, Tensor):
        return a[index]
    shape, dtype = a.shape, a.dtype

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        full = np.zeros(shape, dtype)
        full[index] = g
        return (full,)

    return record(a.data[index], (a,), backward)


def _h_part(y: Tensor, hid: int) -> Tensor:
    """The h part ``y[:, :, :hid]`` of the LSTM's states, whose gradient is handed on to the
    recurrence in compact form (:class:`~ferrograd.autograd.StepGrad`), without the zeros of
    the c part."""

    @takes_step_grads
    def backward(g: Any) -> tuple[StepGrad]:
        if type(g) is StepGrad:
            return (StepGrad(y.shape, g.steps, g.values),)
        return (StepGrad(y.shape, None, g),)

    return record(y.data[:, :, :hid], (y,), backward)


def _step_part(y: Tensor, step: int, lo: int, hi: int) -> Tensor:
    """``y[step, :, lo:hi]`` (a final state), whose gradient is handed on in compact form."""

    def backward(g: np.ndarray) -> tuple[StepGrad]:
        if lo == 0:
            return (StepGrad(y.shape, [step], g[None]),)
        values = np.zeros((1, g.shape[0], hi), g.dtype)
        values[0, :, lo:] = g
        return (StepGrad(y.shape, [step], values),)

    return record(y.data[step, :, lo:hi], (y,), backward)


def _dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout with a mask from the generator :func:`ferrograd.manual_seed` seeds."""
    data = x.data
    if p >= 1.0:
        mask = np.zeros_like(data)
    else:
        keep = default_generator().random(data.shape) >= p
        mask = keep.astype(data.dtype) * data.dtype.type(1.0 / (1.0 - p))
    return record(ops.mul(data, mask), (x,), lambda g: (ops.mul(g, mask),))


# --------------------------------------------------------------------------- the modules


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``; see the subclasses
    for the parameters.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        mode = _check.choice("RNNBase", "mode", mode, list(_GATES))
        name = "RNN" if mode.startswith("RNN") else mode
        input_size = _check.count(name, "input_size", input_size)
        hidden_size = _check.positive(name, "hidden_size", hidden_size)
        num_layers = _check.positive(name, "num_layers", num_layers, _check.MAX_LAYERS)
        dropout = _check.probability(name, "dropout", dropout)
        bias = _check.flag(name, "bias", bias)
        batch_first = _check.flag(name, "batch_first", batch_first)
        bidirectional = _check.flag(name, "bidirectional", bidirectional)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers only, so it has no effect with "
                f"num_layers=1",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dt = _check.param_dtype(name, dtype)

        hid = self.hidden_size
        gate_size = _GATES[mode] * hid
        dirs = 2 if self.bidirectional else 1
        names: list[list[str]] = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else hid * dirs
            for direction in range(dirs):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes: list[tuple[int, ...]] = [(gate_size, layer_in), (gate_size, hid)]
                kinds = ["weight_ih", "weight_hh"]
                if self.bias:
                    shapes += [(gate_size,), (gate_size,)]
                    kinds += ["bias_ih", "bias_hh"]
                for kind, shape in zip(kinds, shapes):
                    setattr(self, kind + suffix, Parameter(np.zeros(shape, dtype=dt)))
                names.append([kind + suffix for kind in kinds])
        self._flat_weights_names = [n for group in names for n in group]
        self._all_weights_names = names
        self.reset_parameters()

    @property
    def _name(self) -> str:
        return "RNN" if self.mode.startswith("RNN") else self.mode

    @property
    def num_directions(self) -> int:
        """2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction: ``[w_ih, w_hh, b_ih, b_hh]`` lists."""
        return [[getattr(self, n) for n in group] for group in self._all_weights_names]

    def reset_parameters(self) -> None:
        """Draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Does nothing (kept so code written for PyTorch runs unchanged)."""

    # ------------------------------------------------------------------ checking the inputs
    def _initial_states(
        self, hx: Any, batch: int, batched: bool, dtype: np.dtype[Any]
    ) -> tuple[Any, Any]:
        """(h_0, c_0) of shape (layers * directions, batch, hidden); c_0 is None but for LSTM."""
        name = self._name
        expected = (self.num_layers * self.num_directions, batch, self.hidden_size)
        shown = expected if batched else (expected[0], expected[2])
        if hx is None:
            zeros = np.zeros(expected, dtype=dtype)
            return zeros, (zeros if self.mode == "LSTM" else None)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ShapeError(
                    f"LSTM: hx must be a tuple (h_0, c_0) of two tensors of shape {shown}, got "
                    f"{type(hx).__name__}"
                )
            states = [
                self._state(name, label, s, shown, dtype) for label, s in zip(("h_0", "c_0"), hx)
            ]
        else:
            states = [self._state(name, "hx", hx, shown, dtype)]
        if not batched:
            states = [s.reshape(expected) for s in states]
        return states[0], (states[1] if self.mode == "LSTM" else None)

    @staticmethod
    def _state(
        name: str, label: str, s: Any, shown: tuple[int, ...], dtype: np.dtype[Any]
    ) -> Tensor:
        s = cast_input(name, s, dtype, label)
        t = s if isinstance(s, Tensor) else Tensor(np.asarray(s))
        if t.dtype.kind != "f":
            raise DTypeError(f"{name}: {label} must be float32 or float64, got {t.dtype}")
        if t.shape != shown:
            layout = "batch, " if len(shown) == 3 else ""
            raise ShapeError(
                f"{name}: {label} has shape {t.shape}, expected {shown} "
                f"(num_layers * num_directions, {layout}hidden_size)"
            )
        return t

    # ------------------------------------------------------------------ forward
    def _run(self, input: Any, hx: Any) -> tuple[Tensor, Tensor, Optional[Tensor]]:
        name = self._name
        first = self.all_weights[0][0]
        x = cast_input(name, input, first.dtype)
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if x.dtype.kind != "f":
            raise DTypeError(f"{name}: input must be float32 or float64, got {x.dtype}")
        if x.ndim not in (2, 3):
            raise ShapeError(
                f"{name}: input must have 3 axes (seq, batch, feature) or 2 (seq, feature) when "
                f"unbatched, got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: input has shape {x.shape}, whose last axis should be input_size="
                f"{self.input_size}"
            )
        batched, shape = x.ndim == 3, x.shape
        if not batched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ShapeError(f"{name}: input has shape {shape}, a sequence of length 0")
        dtype = np.result_type(x.dtype, first.dtype)
        h0, c0 = self._initial_states(hx, batch, batched, dtype)

        hid, dirs, lstm = self.hidden_size, self.num_directions, self.mode == "LSTM"
        layer_input: Tensor = x
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(dirs):
                k = layer * dirs + direction
                weights = self.all_weights[k]
                w_ih, w_hh = weights[0], weights[1]
                b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
                y = _recurrence(
                    self.mode,
                    layer_input,
                    _part(h0, k),
                    _part(c0, k) if lstm else None,
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    reverse=direction == 1,
                )
                last = 0 if direction == 1 else steps - 1
                h_n.append(_step_part(y, last, 0, hid))
                if lstm:
                    c_n.append(_step_part(y, last, hid, 2 * hid))
                    y = _h_part(y, hid)
                outputs.append(y)
            layer_input = outputs[0] if dirs == 1 else concat(outputs, axis=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout)

        output = layer_input
        h = stack(h_n, axis=0)
        c = stack(c_n, axis=0) if lstm else None
        if not batched:
            output = output.reshape(steps, dirs * hid)
            h = h.reshape(h.shape[0], hid)
            c = c.reshape(c.shape[0], hid) if c is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h, c

    def forward(self, input: Any, hx: Any = None) -> Any:
        """Runs the layers over ``input``; see the subclass for the shapes."""
        output, h, c = self._run(input, hx)
        return (output, (h, c)) if self.mode == "LSTM" else (output, h)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    r"""Elman recurrent network: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Parameters
    ----------
    input_size : int
        Features of each input step.
    hidden_size : int
        Features of the hidden state.
    num_layers : int
        Stacked layers; each after the first reads the output of the one below.
    nonlinearity : {"tanh", "relu"}
        The activation ``act``.
    bias : bool
        Whether to use ``b_ih`` and ``b_hh``.
    batch_first : bool
        Input and output as (batch, seq, feature) instead of (seq, batch, feature). The
        hidden state keeps the (layers * directions, batch, hidden) layout either way.
    dropout : float
        Dropout on the output of every layer but the last, in training mode only.
    bidirectional : bool
        Also run each layer from the end of the sequence and concatenate both outputs.
    dtype : np.float32 or np.float64, optional
        dtype of the parameters (the default dtype if omitted).

    Attributes
    ----------
    weight_ih_l{k}, weight_hh_l{k} : Parameter
        (hidden_size, in) and (hidden_size, hidden_size) for layer ``k`` (``in`` is
        input_size for layer 0 and hidden_size * directions above); ``..._reverse`` for the
        backward direction.
    bias_ih_l{k}, bias_hh_l{k} : Parameter
        (hidden_size,). Every weight and bias starts as U(-1/sqrt(hidden), 1/sqrt(hidden)).

    Notes
    -----
    ``forward(input, hx=None)`` takes ``input`` of shape (seq, batch, input_size) (or
    (seq, input_size) unbatched) and ``hx`` of shape (num_layers * directions, batch,
    hidden_size), zeros when omitted. It returns ``(output, h_n)``: ``output`` holds the last
    layer's state at every step, (seq, batch, directions * hidden_size), and ``h_n`` the final
    state of every layer and direction, shaped like ``hx``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> rnn = nn.RNN(4, 6, num_layers=2, nonlinearity="relu", batch_first=True)
    >>> output, h_n = rnn(np.ones((3, 5, 4), dtype=np.float32))  # (batch, seq, feature)
    >>> output.shape, h_n.shape
    ((3, 5, 6), (2, 3, 6))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        _check.choice("RNN", "nonlinearity", nonlinearity, ["tanh", "relu"])
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        """Returns ``(output, h_n)``; see the class notes for the shapes."""
        output, h, _ = self._run(input, hx)
        return output, h


class LSTM(RNNBase):
    r"""Long short-term memory, with PyTorch's gate order i, f, g, o.

    For each step::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + ... )
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + ... )
        c' = f * c + i * g                              h' = o * tanh(c')

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype
        As for :class:`RNN`.

    Attributes
    ----------
    weight_ih_l{k}, weight_hh_l{k} : Parameter
        (4 * hidden_size, in) and (4 * hidden_size, hidden_size): the i, f, g, o blocks
        stacked in that order; ``..._reverse`` for the backward direction.
    bias_ih_l{k}, bias_hh_l{k} : Parameter
        (4 * hidden_size,). Every weight and bias starts as U(-1/sqrt(hidden), 1/sqrt(hidden)).

    Notes
    -----
    ``forward(input, hx=None)`` takes ``hx = (h_0, c_0)``, each (num_layers * directions,
    batch, hidden_size) (zeros when omitted), and returns ``(output, (h_n, c_n))``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> lstm = nn.LSTM(3, 4, bidirectional=True)
    >>> output, (h_n, c_n) = lstm(np.ones((5, 2, 3), dtype=np.float32))
    >>> output.shape, h_n.shape
    ((5, 2, 8), (2, 2, 4))
    >>> sorted(lstm.state_dict())[:2]
    ['bias_hh_l0', 'bias_hh_l0_reverse']
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Returns ``(output, (h_n, c_n))``; see the class notes for the shapes."""
        output, h, c = self._run(input, hx)
        assert c is not None
        return output, (h, c)


class GRU(RNNBase):
    r"""Gated recurrent unit, with PyTorch's gate order r, z, n.

    For each step::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype
        As for :class:`RNN`.

    Attributes
    ----------
    weight_ih_l{k}, weight_hh_l{k} : Parameter
        (3 * hidden_size, in) and (3 * hidden_size, hidden_size): the r, z, n blocks stacked
        in that order; ``..._reverse`` for the backward direction.
    bias_ih_l{k}, bias_hh_l{k} : Parameter
        (3 * hidden_size,). Every weight and bias starts as U(-1/sqrt(hidden), 1/sqrt(hidden)).

    Notes
    -----
    ``forward(input, hx=None)`` returns ``(output, h_n)`` with the shapes of :class:`RNN`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> gru = nn.GRU(3, 4, num_layers=2)
    >>> output, h_n = gru(np.ones((5, 3), dtype=np.float32))  # unbatched (seq, feature)
    >>> output.shape, h_n.shape
    ((5, 4), (2, 4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        """Returns ``(output, h_n)``; see the class notes for the shapes."""
        output, h, _ = self._run(input, hx)
        return output, h
