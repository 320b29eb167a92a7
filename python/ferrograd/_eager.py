"""Direct paths for the ops of every eager training step: linear, relu and cross-entropy.

The general path of an op converts and checks its arguments (NumPy's type promotion, layout,
keyword binding) in Python before the Rust call. For a small model that costs as much as the
kernel. When the arguments already are what the core accepts (float32 or float64 C-ordered
arrays of one dtype; int64 class indices), the functions here call the core at once and
record the op as the general path would: same result, same ``grad_fn``, same gradients.
Otherwise they return None and the caller takes the general path, which also raises the
errors (under the op's own name) of anything the core refuses here.

Examples
--------
>>> import numpy as np
>>> from ferrograd import _eager, nn
>>> layer = nn.Linear(3, 2)
>>> y = _eager.linear(np.ones((4, 3), np.float32), layer.weight, layer.bias)
>>> y.shape, y.grad_fn
((4, 2), <LinearBackward>)
>>> _eager.linear(np.ones((4, 3)), layer.weight, layer.bias) is None  # float64 in: general path
True
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import _core, autograd, ops
from .autograd import Owned, fused_backward, record
from .tensor import Tensor

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
#: The gradient of a reduced loss for ``grad_output = 1``, per dtype (read only).
_ONES: dict[np.dtype[Any], np.ndarray] = {_F32: np.ones((), _F32), _F64: np.ones((), _F64)}
for _one in _ONES.values():
    _one.flags.writeable = False


def _float_array(x: Any) -> np.ndarray | None:
    """The array of ``x`` (a Tensor or an ndarray) when it is a C-ordered float32 or float64
    ndarray, else None."""
    a = x.data if isinstance(x, Tensor) else x
    if type(a) is np.ndarray and (a.dtype is _F32 or a.dtype is _F64) and a.flags.c_contiguous:
        return a
    return None


def _strided_float_copy(x: Any) -> np.ndarray | None:
    """A C-ordered copy of the array of ``x`` when it is a float32 or float64 ndarray in
    another layout, else None."""
    a = x.data if isinstance(x, Tensor) else x
    if type(a) is np.ndarray and (a.dtype is _F32 or a.dtype is _F64):
        return np.ascontiguousarray(a)
    return None


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``x @ weight.T + bias`` recorded as ``ferrograd.tensor.linear`` records it, or None
    when an argument needs the general path (a conversion, another dtype, a weight or bias
    in another layout; an input in another layout is copied)."""
    xa = _float_array(x)
    if xa is None:
        xa = _strided_float_copy(x)  # a view of every other column, say: copied once
    w = _float_array(weight)
    if xa is None or w is None or xa.dtype is not w.dtype:
        return None
    if bias is None:
        b = None
        parents: tuple[Any, ...] = (x, weight)
    else:
        b = _float_array(bias)
        if b is None or b.dtype is not w.dtype:
            return None
        parents = (x, weight, bias)
    out = _core.linear(xa, w, b)
    dt = w.dtype
    # The input's gradient is skipped when it needs none (a network's first layer).
    input_grad = isinstance(x, Tensor) and x.requires_grad

    def backward(g: Any) -> tuple[Any, ...]:
        if type(g) is np.ndarray and g.dtype is dt and g.flags.c_contiguous:
            gx, gw, gb = _core.linear_backward(g, xa, w, input_grad)
        else:
            gx, gw, gb = ops.linear_backward(g, xa, w, input_grad)
        # new arrays: the leaves may keep them
        return (None if gx is None else Owned(gx)), Owned(gw), Owned(gb)

    return record(out, parents, backward, "linear")


def relu(x: Any) -> Any:
    """``relu`` of a Tensor, recorded as ``ferrograd.functional.relu`` records it, or None
    when ``x`` needs the general path (not a Tensor, or its data needs a conversion)."""
    if not isinstance(x, Tensor):
        return None
    xa = _float_array(x)
    if xa is None:
        return None
    dt = xa.dtype

    def backward(g: Any) -> tuple[Any]:
        if type(g) is np.ndarray and g.dtype is dt and g.flags.c_contiguous:
            return (_core.relu_backward(g, xa),)
        return (_relu_backward(g, xa),)

    return record(_core.relu(xa), (x,), backward, "relu")


def _relu_backward(g: Any, x: np.ndarray) -> Any:
    from .functional import relu_backward

    return relu_backward(g, x)


def cross_entropy(
    input: Any,
    target: Any,
    ignore_index: Any,
    reduction: Any,
    label_smoothing: Any,
    backward: Callable[..., Any],
) -> Any:
    """``cross_entropy(input, target)`` without class weights, recorded as the fused path of
    ``ferrograd.functional.cross_entropy`` records it (the gradient computed with the loss),
    or None when anything needs the general path: no gradient to record, reduction
    ``"none"``, targets that are not C-ordered int64 class indices, settings of other types,
    or arguments the core refuses (the general path then raises the error). ``backward`` is
    ``ferrograd.functional.cross_entropy_backward``, for a second backward pass."""
    if not (
        isinstance(input, Tensor)
        and input.requires_grad
        and autograd.is_grad_enabled()
        and type(target) is np.ndarray
        and target.dtype is _I64
        and target.flags.c_contiguous
        and (reduction == "mean" or reduction == "sum")
        and type(reduction) is str
        and type(ignore_index) is int
        and type(label_smoothing) is float
    ):
        return None
    xa = _float_array(input)
    if xa is None:
        return None
    try:
        loss, grad_one = _core.cross_entropy_with_grad(
            _ONES[xa.dtype], xa, target, None, ignore_index, reduction, label_smoothing
        )
    except Exception:  # the general path raises it under cross_entropy's name
        return None
    named = {
        "input": xa,
        "target": target,
        "ignore_index": ignore_index,
        "reduction": reduction,
        "label_smoothing": label_smoothing,
    }
    return record(loss, (input, target), fused_backward(grad_one, backward, named), "cross_entropy")
