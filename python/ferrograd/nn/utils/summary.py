"""A readable table of a model: its layers, their output shapes for an example input, and
their parameter counts, with the total and trainable counts (as Keras' ``model.summary()``).

Examples
--------
>>> from ferrograd import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> print(nn.utils.summary(model, input_shape=(2, 4)))
Layer (type)    Output shape    Param #
=======================================
Sequential      (2, 3)                0
  0 (Linear)    (2, 8)               40
  1 (ReLU)      (2, 8)                0
  2 (Linear)    (2, 3)               27
=======================================
Total params: 67
Trainable params: 67
Non-trainable params: 0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import _check
from ...exceptions import DTypeError
from ...tensor import Tensor, get_default_dtype, no_grad
from ..module import Module

__all__ = ["ModelSummary", "summary"]


@dataclass
class LayerRow:
    """One line of a :class:`ModelSummary`."""

    name: str
    type: str
    depth: int
    output_shape: Any
    params: int
    trainable: int


@dataclass
class ModelSummary:
    """The result of :func:`summary`; ``str()`` gives the table.

    Attributes
    ----------
    rows : list of LayerRow
        The model, then every submodule in registration order (``depth`` levels down);
        ``params`` counts the parameters a module holds itself (not those of its children;
        a shared parameter or module where it first appears), so the column sums to the
        total.
    total_params, trainable_params, non_trainable_params : int
        Element counts over all distinct parameters (a shared one counts once).
    """

    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0

    def __str__(self) -> str:
        shown = [
            (
                "  " * r.depth + (f"{r.name} ({r.type})" if r.name else r.type),
                _format_shape(r.output_shape),
                f"{r.params:,}",
            )
            for r in self.rows
        ]
        head = ("Layer (type)", "Output shape", "Param #")
        widths = [max(len(h), *(len(row[k]) for row in shown)) for k, h in enumerate(head)]
        widths = [widths[0] + 4, widths[1] + 4, widths[2]]

        def line(cells: tuple[str, str, str]) -> str:
            return cells[0].ljust(widths[0]) + cells[1].ljust(widths[1]) + cells[2].rjust(widths[2])

        rule = "=" * sum(widths)
        out = [line(head).rstrip(), rule, *(line(row) for row in shown), rule]
        out.append(f"Total params: {self.total_params:,}")
        out.append(f"Trainable params: {self.trainable_params:,}")
        out.append(f"Non-trainable params: {self.non_trainable_params:,}")
        return "\n".join(out)

    __repr__ = __str__


def _shape_of(value: Any) -> Any:
    """The shape of an output (a tuple), or of each part of a tuple/list of outputs."""
    if isinstance(value, (Tensor, np.ndarray)):
        return tuple(int(d) for d in value.shape)
    if isinstance(value, (tuple, list)):
        return [_shape_of(v) for v in value]
    return "?"


def _format_shape(shape: Any) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    return str(shape)


def _inputs(func: str, input_shape: Any) -> list[tuple[int, ...]]:
    """One shape, or a list of shapes for a model with several inputs."""
    if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return [_check.dims(func, f"input_shape[{i}]", s, 0) for i, s in enumerate(input_shape)]
    return [_check.dims(func, "input_shape", input_shape, 0)]


def _record_shapes(
    model: Module, shapes: list[tuple[int, ...]], dtype: np.dtype[Any]
) -> dict[int, Any]:
    """Runs ``model`` on zeros in eval mode without gradients and returns each module's
    first output shape by ``id``; training flags and forwards are restored afterwards."""
    seen: dict[int, Any] = {}
    modules = list({id(m): m for m in model.modules()}.values())  # a shared module once
    modes = [m.training for m in modules]

    def wrap(m: Module) -> Any:
        original = m.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            seen.setdefault(id(m), _shape_of(out))
            return out

        return forward

    for m in modules:
        object.__setattr__(m, "forward", wrap(m))
    try:
        model.eval()
        with no_grad():
            model(*(np.zeros(s, dtype=dtype) for s in shapes))
    finally:
        for m, mode in zip(modules, modes):
            object.__delattr__(m, "forward")
            object.__setattr__(m, "training", mode)
    return seen


def summary(model: Module, input_shape: Any = None, dtype: Any = None) -> ModelSummary:
    """Layers, output shapes and parameter counts of ``model``.

    Parameters
    ----------
    model : Module
    input_shape : tuple of int or list of tuples, optional
        Shape of an example input, batch axis included (a list of shapes for a model with
        several inputs). When given, the model runs once on zeros of that shape, in eval mode
        and without gradients (running statistics and modes are left as they were), to record
        each layer's output shape.
    dtype : dtype, optional
        dtype of the example input: the first parameter's dtype by default (the default
        dtype for a model without parameters); an integer dtype for index inputs, e.g. for
        :class:`~ferrograd.nn.Embedding`.

    Returns
    -------
    ModelSummary
        ``str()`` of it is the table; ``total_params``, ``trainable_params`` and
        ``non_trainable_params`` hold the counts.

    Examples
    --------
    >>> from ferrograd import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> _ = model[0].freeze()
    >>> s = nn.utils.summary(model)
    >>> s.total_params, s.trainable_params, s.non_trainable_params
    (67, 27, 40)
    """
    func = "summary"
    if not isinstance(model, Module):
        raise DTypeError(f"{func}: model must be a Module, got {type(model).__name__}")
    params = list(model.parameters())
    if dtype is None:
        dt = params[0].dtype if params else get_default_dtype()
    else:
        dt = _check.any_dtype(func, dtype)
    shapes = None if input_shape is None else _record_shapes(model, _inputs(func, input_shape), dt)
    rows = []
    counted: set[int] = set()
    for name, m in model.named_modules():
        # a parameter shared by several modules is counted at its first appearance
        own = [p for p in m._parameters.values() if p is not None and id(p) not in counted]
        counted.update(id(p) for p in own)
        rows.append(
            LayerRow(
                name=name,
                type=type(m).__name__,
                depth=name.count(".") + 1 if name else 0,
                output_shape=None if shapes is None else shapes.get(id(m)),
                params=sum(p.numel() for p in own),
                trainable=sum(p.numel() for p in own if p.requires_grad),
            )
        )
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return ModelSummary(rows, total, trainable, total - trainable)
