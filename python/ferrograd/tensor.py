"""Reverse-mode automatic differentiation over NumPy arrays.

A :class:`Tensor` wraps an ndarray. Every operation on tensors that need gradients records its
inputs and a small closure that maps the output's gradient to the inputs' gradients by calling
the Rust backward kernel; :meth:`Tensor.backward` walks that graph in reverse topological order.

Examples
--------
>>> import numpy as np
>>> from ferrograd import tensor
>>> x = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _check, _core, _numpy_protocol, autograd, ops
from .autograd import (
    OPS,
    BackwardFn,
    Owned,
    StepGrad,
    enable_grad,
    is_grad_enabled,
    no_grad,
    record,
)
from .exceptions import ArgumentError, DTypeError, FerrogradError, GraphError, ShapeError

__all__ = [
    "Owned",
    "Tensor",
    "enable_grad",
    "get_default_dtype",
    "is_grad_enabled",
    "no_grad",
    "record",
    "set_default_dtype",
    "tensor",
]

_default_dtype = [np.dtype(np.float32)]


def set_default_dtype(dtype: Any) -> None:
    """Sets the dtype of new parameters and of tensors made from Python numbers.

    Parameters
    ----------
    dtype : np.float32 or np.float64
    """
    if dtype is None:
        raise DTypeError("set_default_dtype: dtype must be float32 or float64, got None")
    _default_dtype[0] = _check.param_dtype("set_default_dtype", dtype)


def get_default_dtype() -> np.dtype[Any]:
    """The dtype of new parameters (float32 unless changed by :func:`set_default_dtype`)."""
    return _default_dtype[0]


def _to_array(data: Any, dtype: Any = None, func: str = "tensor") -> np.ndarray:
    """``data`` as an array of numbers (booleans, integers, floats, complex); anything else
    (strings, None, dicts, ragged lists) is a typed error naming ``func``."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    except ValueError as e:
        raise ShapeError(f"{func}: data is not a rectangular array of numbers: {e}") from None
    except TypeError as e:
        raise DTypeError(f"{func}: data cannot be converted to dtype {dtype!r}: {e}") from None
    if arr.dtype.kind not in "biufc":
        raise DTypeError(
            f"{func}: data must be numbers (booleans, integers or floats), got dtype "
            f"{arr.dtype} from {type(data).__name__} {data!r:.60}"
        )
    if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.ndarray):
        # Python floats and lists take the default dtype, as in PyTorch.
        arr = arr.astype(get_default_dtype())
    return arr


class Tensor:
    """An ndarray with an optional gradient and a record of how it was computed.

    Parameters
    ----------
    data : array_like
        The values. NumPy arrays keep their dtype; Python numbers and lists become the
        default dtype (float32 unless :func:`ferrograd.set_default_dtype` says otherwise).
    requires_grad : bool
        Whether :meth:`backward` should compute a gradient for this tensor.
    """

    __slots__ = (
        "__weakref__",
        "_backward",
        "_op",
        "_parents",
        "_seq",
        "data",
        "grad",
        "requires_grad",
    )
    __array_priority__ = 1000  # so ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        requires_grad = _check.flag("Tensor", "requires_grad", requires_grad)
        self.data: np.ndarray = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(
                f"Tensor: only float tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = requires_grad
        self.grad: np.ndarray | None = None
        self._parents: tuple[Any, ...] = ()
        self._backward: BackwardFn | None = None
        self._op = ""
        self._seq = 0

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the data."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """dtype of the data."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        """The shape as a tuple, or the length of axis ``dim`` (as PyTorch's ``size``)."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_check.dim("Tensor.size", "dim", dim, self.ndim)]

    def dim(self) -> int:
        """Number of axes."""
        return self.data.ndim

    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    @property
    def grad_fn(self) -> autograd.GradFn | None:
        """None for a leaf; otherwise what made this tensor (``grad_fn.op`` names the op)."""
        return None if self._backward is None else autograd.GradFn(self._op)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an operation."""
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ShapeError(
                f"item: only a one-element tensor can be converted, this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self.data.tolist()

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """``to(dtype)``, ``to("cpu")`` or ``to("cpu", dtype)``: self when nothing changes,
        else a converted copy (differentiable between float types). Only the CPU exists."""
        for a in args:
            if isinstance(a, str) or a is None:
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise ArgumentError(f"Tensor.to: unexpected argument {a!r}")
        if device is not None and str(device) != "cpu":
            raise ArgumentError(f"Tensor.to: only the 'cpu' device exists, got {device!r}")
        if dtype is None or _check.any_dtype("Tensor.to", dtype) == self.dtype:
            return self
        return self.astype(dtype)

    def cpu(self) -> Tensor:
        """Self: ferrograd tensors always live in CPU memory."""
        return self

    def detach(self) -> Tensor:
        """A tensor with the same data that is cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Sets :attr:`requires_grad` in place (on leaves only) and returns self."""
        requires_grad = _check.flag("requires_grad_", "requires_grad", requires_grad)
        if not self.is_leaf and not requires_grad:
            raise FerrogradError("requires_grad_: only leaf tensors can stop requiring gradients")
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError("requires_grad_: only float tensors can require gradients")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        """Drops the accumulated gradient."""
        self.grad = None

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype`` (differentiable between float types)."""
        dt = _check.any_dtype("Tensor.astype", dtype)
        return OPS["astype"](self, dt)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # NumPy ufuncs with a ferrograd counterpart keep the graph; others are refused when
        # they would drop a gradient (see ferrograd._numpy_protocol).
        return _numpy_protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _numpy_protocol.array_function(func, args, kwargs)

    # ------------------------------------------------------------------ backward
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Computes the gradient of this tensor with respect to every leaf that requires one.

        Gradients accumulate into each leaf's ``.grad``. As in PyTorch, the pass frees what
        the graph saved for it: a second backward through the same ops raises
        :class:`~ferrograd.GraphError` unless the first one had ``retain_graph=True``.

        Parameters
        ----------
        gradient : array_like, optional
            d(something)/d(self); may be omitted only for a one-element tensor.
        retain_graph : bool
            Keep the graph, so that backward can run through it again.
        """
        retain = (
            retain_graph
            if retain_graph is False or retain_graph is True
            else _check.flag("backward", "retain_graph", retain_graph)
        )
        if not self.requires_grad:
            raise FerrogradError(
                "backward: this tensor does not require gradients (no input requires_grad, or "
                "it was computed under no_grad)"
            )
        data = self.data
        if gradient is None:
            if data.size != 1:
                raise ShapeError(
                    f"backward: gradient can be omitted only for a one-element tensor, this one "
                    f"has shape {self.shape}"
                )
            g = np.array(1, dtype=data.dtype)  # ones_like, without its cost on every step
            if data.ndim:
                g = g.reshape(data.shape)
        else:
            g = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient)
            if g.shape != self.shape:
                raise ShapeError(
                    f"backward: gradient has shape {g.shape}, but the tensor has {self.shape}"
                )
            g = g.astype(self.dtype, copy=False)
        # Each pending gradient, and whether it is owned: referenced by nothing outside this
        # loop, so that a leaf can take it as its .grad without a copy.
        grads: dict[int, tuple[Any, bool]] = {id(self): (g, False)}
        # Nodes run newest first: every op is recorded after its inputs, so by the time a node
        # is popped every node that consumed it has passed its gradient on. The heap holds each
        # node once, from when its first gradient arrives. Leaves take their gradients once
        # every node has run (in the order their first gradient arrived).
        heap: list[tuple[int, int, Tensor]] = []
        leaves: list[Tensor] = []
        if self._backward is None:
            leaves.append(self)
        else:
            heap.append((-getattr(self, "_seq", 0), id(self), self))
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            node = pop(heap)[2]
            g = grads.pop(id(node))[0]
            rule = node._backward
            assert rule is not None  # leaves never enter the heap
            if not retain:
                node._backward = _freed
            for parent, pg in zip(node._parents, rule(g)):
                fresh = type(pg) is Owned
                if fresh:
                    pg = pg.array
                if pg is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                    continue
                if type(pg) is StepGrad:
                    key = id(parent)
                    pb = parent._backward
                    if (
                        getattr(pb, "step_grads", False)
                        and key not in grads
                        and pg.shape == parent.data.shape
                        and pg.values.dtype == parent.data.dtype
                    ):
                        grads[key] = (pg, True)
                        push(heap, (-getattr(parent, "_seq", 0), key, parent))
                        continue
                    pg, fresh = pg.dense(), True
                data = parent.data
                if type(pg) is not np.ndarray:
                    pg = np.asarray(pg)
                dt = data.dtype
                if pg.dtype is not dt and pg.dtype != dt:
                    pg = pg.astype(dt)
                if pg.shape != data.shape:
                    pg = ops.sum_to_shape(pg, data.shape)
                key = id(parent)
                prev = grads.get(key)
                if prev is None:
                    grads[key] = (pg, fresh)
                    if parent._backward is None:
                        leaves.append(parent)
                    else:
                        push(heap, (-getattr(parent, "_seq", 0), key, parent))
                else:  # a sum is a new array, so it is owned
                    p0 = prev[0]
                    if type(p0) is StepGrad:
                        p0 = p0.dense()
                    grads[key] = (_sum(p0, pg), True)
        for leaf in leaves:
            g, owned = grads[id(leaf)]
            leaf.grad = g if owned and leaf.grad is None else _leaf_grad(leaf.grad, g)

    # Arithmetic operators (+, -, *, /, @, unary -, **, indexing) and the elementwise,
    # reduction and activation methods come from the rules in ferrograd.autograd (installed
    # below the class).
    if TYPE_CHECKING:  # what autograd.install(Tensor) adds, for type checkers and editors

        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __pow__(self, exponent: float) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def log1p(self) -> Tensor: ...
        def clamp(self, min: Any = None, max: Any = None) -> Tensor: ...
        def sum(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor: ...
        def mean(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor: ...
        def clone(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def softmax(self, dim: int = -1) -> Tensor: ...
        def log_softmax(self, dim: int = -1) -> Tensor: ...

    # comparisons give plain boolean arrays (no gradient)
    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < _data(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= _data(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > _data(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= _data(other)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ methods
    # ------------------------------------------------------------------ reductions
    def max(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        """The largest element (a 0-d tensor; tied maxima share the gradient), or with ``dim``
        the pair ``(values, indices)`` of each slice's maximum, as PyTorch's ``max``."""
        return _extreme(self, "max", dim, keepdim, kw)

    def min(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        """The smallest element, or with ``dim`` the pair ``(values, indices)`` (see
        :meth:`max`)."""
        return _extreme(self, "min", dim, keepdim, kw)

    def argmax(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """int64 index of the largest element (of the flattened tensor when ``dim`` is
        None); the first one on ties."""
        dim, keepdim = _check.dim_keepdim("Tensor.argmax", dim, keepdim, kw)
        return _arg(self, ops.argmax, dim, keepdim)

    def argmin(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """int64 index of the smallest element (see :meth:`argmax`)."""
        dim, keepdim = _check.dim_keepdim("Tensor.argmin", dim, keepdim, kw)
        return _arg(self, ops.argmin, dim, keepdim)

    def var(
        self,
        dim: Any = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
        **kw: Any,
    ) -> Tensor:
        """Variance over ``dim`` (None: all) with Bessel's ``correction`` (1 by default;
        ``unbiased=False`` is ``correction=0``), as PyTorch's ``var``."""
        dim, keepdim = _check.dim_keepdim("Tensor.var", dim, keepdim, kw)
        c = _correction("Tensor.var", unbiased, correction)
        return OPS["var"](self, dim, c, keepdim)

    def std(
        self,
        dim: Any = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
        **kw: Any,
    ) -> Tensor:
        """Standard deviation: the square root of :meth:`var` (same arguments)."""
        dim, keepdim = _check.dim_keepdim("Tensor.std", dim, keepdim, kw)
        c = _correction("Tensor.std", unbiased, correction)
        return OPS["std"](self, dim, c, keepdim)

    def norm(self, p: Any = 2, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """The ``p``-norm over ``dim`` (None: all elements): ``sum(|x|^p)^(1/p)``, with
        ``p`` in (0, inf] or ``"fro"`` (2). As PyTorch, the gradient of the norm of an
        all-zero slice is the subgradient 0 (not NaN)."""
        dim, keepdim = _check.dim_keepdim("Tensor.norm", dim, keepdim, kw)
        if p == "fro":
            p = 2
        p = _check.real("Tensor.norm", "p", p, 0.0, low_open=True, finite=False)
        return OPS["norm"](self, p, dim, keepdim)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """Alias of :meth:`clamp`."""
        return clamp(self, min, max)

    # ------------------------------------------------------------------ shapes
    def reshape(self, *shape: Any) -> Tensor:
        """Same data in a new shape."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merges the axes ``start_dim`` to ``end_dim`` into one."""
        nd = self.ndim
        s = _check.dim("Tensor.flatten", "start_dim", start_dim, nd) % (nd or 1)
        e = _check.dim("Tensor.flatten", "end_dim", end_dim, nd) % (nd or 1)
        if nd == 0:
            return reshape(self, (1,))
        if s > e:
            raise ShapeError("Tensor.flatten: start_dim must not come after end_dim")
        shape = self.shape
        return reshape(self, (*shape[:s], int(np.prod(shape[s : e + 1])), *shape[e + 1 :]))

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of length 1 at ``dim`` (in ``[-ndim - 1, ndim]``)."""
        d = _check.dim("Tensor.unsqueeze", "dim", dim, self.ndim + 1) % (self.ndim + 1)
        return reshape(self, (*self.shape[:d], 1, *self.shape[d:]))

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drops axes of length 1: all of them, or those among ``dim`` (int or tuple); an
        axis named in ``dim`` whose length is not 1 stays."""
        nd = self.ndim
        if dim is None:
            drop = {i for i, n in enumerate(self.shape) if n == 1}
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            drop = {_check.dim("Tensor.squeeze", "dim", d, nd) % (nd or 1) for d in dims}
            drop = {i for i in drop if i < nd and self.shape[i] == 1}
        return reshape(self, tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def transpose(self, *axes: Any) -> Tensor:
        """``transpose(d0, d1)`` swaps two axes (as PyTorch); ``transpose()`` reverses them."""
        if len(axes) == 2:
            perm = list(range(self.ndim))
            try:
                d0, d1 = (perm[a] for a in axes)
            except (IndexError, TypeError):
                raise ShapeError(
                    f"transpose: axes {axes} are not valid for a tensor with {self.ndim} axes"
                ) from None
            perm[d0], perm[d1] = perm[d1], perm[d0]
            return transpose(self, perm)
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            return transpose(self, tuple(axes[0]))
        return transpose(self, axes or None)

    def permute(self, *axes: int) -> Tensor:
        """Permutes axes into the given order."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return transpose(self, axes)

    @property
    def T(self) -> Tensor:
        """The axes reversed."""
        return transpose(self, None)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Makes a :class:`Tensor` (see its parameters)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


#: Gradients at least this large are copied and summed by the extension, whose allocator
#: reuses large blocks (fresh NumPy memory of this size costs page faults on every step).
_LARGE_GRAD_BYTES = 4 << 20


def _leaf_grad(prev: np.ndarray | None, g: np.ndarray) -> np.ndarray:
    """A leaf's new ``.grad`` from a gradient ``g`` that others may hold: a copy of ``g`` (so
    that no two leaves share one array), or ``prev + g`` when it already has one."""
    if prev is None:
        return _core.copy(g) if _large_float(g) else g.copy()
    return _sum(prev, g)


def _sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` as a new C-ordered array (by the extension for large float arrays of one
    shape)."""
    if _large_float(b) and isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape:
        return ops.add(a, b)
    return np.asarray(a + b, order="C")


def _large_float(a: np.ndarray) -> bool:
    return a.nbytes >= _LARGE_GRAD_BYTES and a.dtype in (np.float32, np.float64)


class ValuesIndices(NamedTuple):
    """What ``max(dim)`` / ``min(dim)`` return: the values and their int64 indices."""

    values: Tensor
    indices: Tensor


def _correction(func: str, unbiased: Any, correction: Any) -> float:
    if unbiased is not None and correction is not None:
        raise ArgumentError(f"{func}: give either unbiased or correction, not both")
    if correction is not None:
        return _check.real(func, "correction", correction, 0.0)
    return 1.0 if unbiased is None or _check.flag(func, "unbiased", unbiased) else 0.0


def _arg(x: Tensor, fn: Any, dim: Any, keepdim: bool) -> Tensor:
    data = x.data
    if data.size == 0:
        raise ShapeError(f"{fn.__name__}: the tensor has no elements")
    if dim is None:
        idx = np.asarray(fn(data.reshape(-1)))
        if keepdim:
            idx = idx.reshape((1,) * data.ndim)
    else:
        d = _check.dim(fn.__name__, "dim", dim, data.ndim)
        idx = fn(data, axis=d if data.ndim else None, keepdims=keepdim)
    return Tensor(np.asarray(idx, dtype=np.int64))


def _extreme(x: Tensor, kind: str, dim: Any, keepdim: Any, kw: dict[str, Any]) -> Any:
    func = f"Tensor.{kind}"
    dim, keepdim = _check.dim_keepdim(func, dim, keepdim, kw)
    if x.data.size == 0:
        raise ShapeError(f"{func}: the tensor has no elements")
    if dim is None:
        return amax(x) if kind == "max" else amin(x)
    d = _check.dim(func, "dim", dim, x.ndim) % (x.ndim or 1)
    if x.ndim == 0:
        return ValuesIndices(x.clone(), Tensor(np.zeros((), np.int64)))
    idx = (ops.argmax if kind == "max" else ops.argmin)(x.data, axis=d, keepdims=True)
    values = OPS["take_along_dim"](x, idx, d)
    if not keepdim:
        values, idx = reshape(values, np.squeeze(idx, d).shape), np.squeeze(idx, d)
    return ValuesIndices(values, Tensor(idx.astype(np.int64)))


def _freed(g: Any) -> Any:
    """The backward of a node whose graph an earlier backward pass has freed."""
    raise GraphError(
        "backward: trying to backward through the graph a second time (or to use values "
        "saved for it after they were freed); pass retain_graph=True to the first backward "
        "call if you need to run it again"
    )


# ---------------------------------------------------------------------- the ops on Tensors

autograd.install(Tensor)

# The functions of the rules in ferrograd.autograd (``ferrograd.tensor.add(a, b)``, ...).
add, sub, mul, div, neg, pow = (
    OPS["add"],
    OPS["sub"],
    OPS["mul"],
    OPS["div"],
    OPS["neg"],
    OPS["pow"],
)
exp, log, sqrt, matmul = OPS["exp"], OPS["log"], OPS["sqrt"], OPS["matmul"]
sum, mean, amax, amin = OPS["sum"], OPS["mean"], OPS["amax"], OPS["amin"]
abs, log1p, clamp = OPS["abs"], OPS["log1p"], OPS["clamp"]
max = amax
reshape, transpose, getitem = OPS["reshape"], OPS["transpose"], OPS["getitem"]


def _parts(func: str, tensors: Any) -> list[np.ndarray]:
    """The arrays of a sequence of Tensors or array-likes, each checked (numbers only)."""
    if isinstance(tensors, (Tensor, np.ndarray, str, bytes)) or not isinstance(tensors, Sequence):
        raise DTypeError(
            f"{func}: tensors must be a list or tuple of Tensors or arrays, got "
            f"{type(tensors).__name__}"
        )
    if not tensors:
        raise ArgumentError(f"{func}: tensors must not be empty")
    return [_to_array(t, func=f"{func}: tensors[{i}]") for i, t in enumerate(tensors)]


def _check_same(func: str, arrays: list[np.ndarray], axis: int | None) -> None:
    """The shapes agree (except along ``axis`` when joining along an existing one)."""
    first = arrays[0].shape
    for i, a in enumerate(arrays[1:], 1):
        same = (
            a.shape == first
            if axis is None
            else (
                a.ndim == len(first)
                and all(d == e for k, (d, e) in enumerate(zip(a.shape, first)) if k != axis)
            )
        )
        if not same:
            want = "the same shape" if axis is None else f"the same shape except along axis {axis}"
            raise ShapeError(
                f"{func}: tensors[{i}] has shape {a.shape} but tensors[0] has shape {first}; "
                f"all must have {want}"
            )


def _joined(tensors: Sequence[Any], arrays: list[np.ndarray]) -> list[Any]:
    """The parts as the op's inputs: Tensors as given, anything else as its checked array."""
    return [t if isinstance(t, Tensor) else x for t, x in zip(tensors, arrays)]


def concat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Joins tensors along an existing axis."""
    arrays = _parts("concat", tensors)
    if arrays[0].ndim == 0:
        raise ShapeError("concat: 0-d tensors cannot be joined along an axis (use stack)")
    axis = _check.dim("concat", "axis", axis, arrays[0].ndim) % arrays[0].ndim
    _check_same("concat", arrays, axis)
    try:
        return OPS["concat"](_joined(tensors, arrays), axis)
    except ValueError as e:
        raise ShapeError(f"concat: {e}") from None


cat = concat


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Joins tensors along a new axis."""
    arrays = _parts("stack", tensors)
    _check.dim("stack", "axis", axis, arrays[0].ndim + 1)
    _check_same("stack", arrays, None)
    try:
        return OPS["stack"](_joined(tensors, arrays), axis)
    except ValueError as e:
        raise ShapeError(f"stack: {e}") from None


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice: ``a`` where ``condition`` holds, else ``b``."""
    return OPS["where"](a, b, np.asarray(_data(condition), dtype=bool))


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` with weight in (out, in) layout, in one fused kernel."""
    return OPS["linear"](x, weight, bias)
