"""The autograd machinery: grad mode, :func:`record`, and the one table of gradient rules.

An op's result is recorded by :func:`record` with its inputs and a ``backward`` closure that
maps the result's gradient to the inputs' gradients; :meth:`ferrograd.Tensor.backward` walks
the recorded graph in reverse. Every differentiable op of ferrograd has one entry in
:data:`RULES`: the Tensor operators and methods, the functions of ``ferrograd.tensor``, the
``ferrograd.functional`` wrappers and the rule tests are all built from it. An elementwise
op with its gradient needs no line here: its entry in ``ferrograd.ops.UNARY`` makes its rule.

Examples
--------
>>> import numpy as np
>>> import ferrograd as fg
>>> from ferrograd import autograd
>>> x = fg.tensor(np.array([1.0, 2.0]), requires_grad=True)
>>> y = autograd.record(x.data * 3.0, (x,), lambda g: (g * 3.0,))
>>> y.sum().backward()
>>> x.grad.tolist()
[3.0, 3.0]
>>> autograd.RULES["exp"].method
True
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import ops
from .exceptions import FerrogradError

BackwardFn = Callable[[np.ndarray], Sequence[Any]]

# ---------------------------------------------------------------------- grad mode


class _GradMode(threading.local):
    """Grad mode, per thread: on unless a :class:`no_grad` block of this thread turned it off.
    (A class attribute as the default: ``getattr`` with a default on a missing attribute
    costs an exception, and this is read by every op.)"""

    enabled = True


_state = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph for :meth:`Tensor.backward`."""
    return _state.enabled


class no_grad:
    """Context manager (and decorator) that stops operations from recording gradients.

    Examples
    --------
    >>> from ferrograd import no_grad, tensor
    >>> w = tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _state.enabled = False

    def __exit__(self, *exc: Any) -> None:
        _state.enabled = self._prev

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        wrapped.__name__ = getattr(fn, "__name__", "wrapped")
        wrapped.__doc__ = fn.__doc__
        return wrapped


class enable_grad(no_grad):
    """Context manager that turns gradient recording back on inside :class:`no_grad`."""

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _state.enabled = True


# ---------------------------------------------------------------------- recording


class Owned:
    """A gradient that a backward rule hands over: no one else references ``array``, so a
    leaf may take it as its ``.grad`` without a copy. Rules return it in place of the array.
    """

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


class StepGrad:
    """A gradient that is zero but at a few positions of its first axis (the steps of a
    sequence), and there only in the first ``values.shape[-1]`` entries of its last axis.

    Backward rules may return it in place of a dense array (indexing one step does); the
    backward pass hands it on as it is only to a node whose rule is marked with
    :func:`takes_step_grads`, and makes it dense (:meth:`dense`) for every other one.

    Parameters
    ----------
    shape : tuple of int
        Shape of the dense gradient (at least two axes).
    steps : list of int or None
        Distinct positions on the first axis, one per row of ``values``; None for all of
        them in order.
    values : ndarray
        (len(steps), *shape[1:-1], width) with ``width <= shape[-1]``.
    """

    __slots__ = ("shape", "steps", "values")

    def __init__(self, shape: tuple[int, ...], steps: list[int] | None, values: np.ndarray):
        self.shape = shape
        self.steps = steps
        self.values = values

    def dense(self) -> np.ndarray:
        """The gradient as an array of ``shape``."""
        full = np.zeros(self.shape, self.values.dtype)
        width = self.values.shape[-1]
        if self.steps is None:
            full[..., :width] = self.values
        else:
            full[self.steps, ..., :width] = self.values
        return full


def takes_step_grads(fn: BackwardFn) -> BackwardFn:
    """Marks a backward function that accepts a :class:`StepGrad` as its gradient."""
    fn.step_grads = True  # type: ignore[attr-defined]
    return fn


class GradFn:
    """What made a non-leaf Tensor (its ``grad_fn``): ``op`` is the name of the op's rule.

    Examples
    --------
    >>> import ferrograd as fg
    >>> x = fg.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * 2).grad_fn
    <MulBackward>
    """

    __slots__ = ("op",)

    def __init__(self, op: str) -> None:
        self.op = op or "unnamed"

    def name(self) -> str:
        """The node's name in PyTorch's style (``MulBackward``)."""
        return "".join(p.capitalize() for p in self.op.split("_")) + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


#: The Tensor class (set by ferrograd.tensor, which imports this module).
_TENSOR: Any = None


def needs_grad(values: Sequence[Any]) -> bool:
    """True when gradients are recorded and some Tensor in ``values`` requires one."""
    if not _state.enabled:
        return False
    tensor = _TENSOR
    for x in values:  # a loop, not any(<generator>): this runs for every op
        if isinstance(x, tensor) and x.requires_grad:
            return True
    return False


#: Numbers the recorded ops in order, so that backward can run them newest first.
_SEQ = itertools.count(1)


def record(data: Any, parents: Sequence[Any], backward: BackwardFn, name: str = "") -> Any:
    """The Tensor holding ``data``, the result of an op on ``parents``.

    The graph is recorded only when some parent requires a gradient (and grad mode is on);
    then ``backward(g)`` must return one gradient (or None, or an :class:`Owned`) per parent.
    ``name`` names the op in ``grad_fn``.
    """
    tensor = _TENSOR
    out = tensor.__new__(tensor)
    out.data = data if type(data) is np.ndarray else np.asarray(data)
    out.grad = None
    if needs_grad(parents):
        out.requires_grad = True
        out._seq = next(_SEQ)
        out._parents = tuple(parents)
        out._backward = backward
        out._op = name
    else:
        out.requires_grad = False
        out._seq = 0
        out._parents = ()
        out._backward = None
        out._op = ""
    return out


def _data(x: Any) -> Any:
    return x.data if isinstance(x, _TENSOR) else x


# ---------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Rule:
    """How one op is differentiated.

    Attributes
    ----------
    forward : callable or None
        The op on arrays; None for a ``ferrograd.functional`` function of the rule's name.
    backward : callable or None
        ``backward(g, *inputs, **options)`` returning one gradient per differentiable input
        (a tuple); with ``saves_output`` it also gets ``output=`` (the forward's result).
        None for ``ferrograd.functional.<name>_backward``.
    inputs : int
        How many leading arguments are differentiable inputs (0: the first argument is a
        sequence of them, as in ``cat``).
    saves_output : bool
        The backward reads the forward's result rather than recomputing it.
    method : bool
        Also a Tensor method of the same name.
    operators : tuple of str
        Tensor operators that run the op (``"__radd__"`` swaps the operands).
    target : str or None
        ``"negated"``: a loss of ``input - target``, whose gradient with respect to the target
        is minus the one with respect to the input.
    numpy : tuple
        NumPy ufuncs and functions that run the op when given a Tensor.
    keywords : dict
        PyTorch-style keyword spellings accepted for the op's own (``dim`` -> ``axis``).
    """

    forward: Callable[..., Any] | None = None
    backward: Callable[..., Any] | None = None
    inputs: int = 1
    saves_output: bool = False
    method: bool = False
    operators: tuple[str, ...] = ()
    target: str | None = None
    numpy: tuple[Any, ...] = ()
    keywords: dict[str, str] = field(default_factory=dict)

    @property
    def functional(self) -> bool:
        """Whether the op is the ``ferrograd.functional`` function of the rule's name."""
        return self.forward is None


def _index(index: Any) -> Any:
    """An index with its Tensors replaced by their arrays."""
    if isinstance(index, _TENSOR):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, _TENSOR) else i for i in index)
    return index


def _getitem(x: np.ndarray, index: Any) -> np.ndarray:
    return np.asarray(x[_index(index)])


def _getitem_backward(g: np.ndarray, x: np.ndarray, index: Any) -> tuple[Any]:
    if type(index) is int and x.ndim >= 2 and g.shape == x.shape[1:]:
        # one step of a sequence (``out[-1]``): kept compact for the nodes that take it
        return (StepGrad(x.shape, [index % x.shape[0]], g[None]),)
    full = np.zeros(x.shape, x.dtype)
    np.add.at(full, _index(index), g)
    return (full,)


def _split(g: np.ndarray, parts: Sequence[np.ndarray], axis: int = 0) -> tuple[np.ndarray, ...]:
    bounds = np.cumsum([p.shape[axis] for p in parts])[:-1]
    return tuple(np.split(g, bounds, axis=axis))


def _unstack(g: np.ndarray, parts: Sequence[np.ndarray], axis: int = 0) -> tuple[np.ndarray, ...]:
    return tuple(np.squeeze(p, axis=axis) for p in np.split(g, len(parts), axis=axis))


def _take_along_backward(
    g: np.ndarray, x: np.ndarray, indices: np.ndarray, axis: int
) -> tuple[np.ndarray]:
    full = np.zeros(x.shape, x.dtype)
    grids = list(np.ix_(*[np.arange(n) for n in indices.shape]))
    grids[axis] = indices
    np.add.at(full, tuple(grids), g)  # repeated indices accumulate
    return (full,)


def _where_backward(g: np.ndarray, a: Any, b: Any, cond: np.ndarray) -> tuple[Any, Any]:
    zero = np.zeros_like(g)
    return np.where(cond, g, zero), np.where(cond, zero, g)


def _linear_backward(
    g: np.ndarray, x: Any, w: Any, b: Any = None, input_grad: bool = True
) -> tuple[Any, ...]:
    gx, gw, gb = ops.linear_backward(g, x, w, input_grad)
    # new arrays: the leaves may keep them as .grad
    return (None if gx is None else Owned(gx)), Owned(gw), Owned(gb)


def _norm(x: np.ndarray, p: float, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    a = ops.abs(x)
    if p == np.inf:
        return ops.max(a, axis, keepdims)
    if p == 1:
        return ops.sum(a, axis, keepdims)
    if p == 2:
        return ops.sqrt(ops.sum(ops.mul(x, x), axis, keepdims))
    return ops.pow(ops.sum(ops.pow(a, p), axis, keepdims), 1.0 / p)


def _norm_backward(
    g: np.ndarray, x: np.ndarray, p: float, axis: Any = None, keepdims: bool = False
) -> tuple[np.ndarray]:
    """PyTorch's subgradient of the p-norm: 0 where the norm is 0 (an all-zero slice), and
    for p < 1 also at the zero elements."""
    sign = np.sign(x)
    if p == np.inf:
        return (ops.mul(ops.max_backward(g, ops.abs(x), axis, keepdims), sign),)
    spread = ops.sum_backward(g, x, axis, keepdims)  # g broadcast to x's shape
    if p == 1:
        return (ops.mul(spread, sign),)
    n = _norm(x, p, axis, True)
    a = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if p < 1:
            scaled = sign * np.where(x == 0, 0, a ** (p - 1))
            return (scaled * spread * n ** (1 - p),)
        scaled = sign * a ** (p - 1) if p < 2 else x * a ** (p - 2)
        scale = np.where(n == 0, 0, 1 / n ** (p - 1))
    return ((scaled * scale * spread).astype(x.dtype, copy=False),)


def _elementwise(name: str, twin: Any) -> Rule:
    """The rule of the elementwise op ``ops.<name>``: a Tensor method whose gradient is
    ``ops.<name>_backward``, also run by the NumPy function ``twin`` given a Tensor."""
    bwd = getattr(ops, f"{name}_backward")
    return Rule(getattr(ops, name), lambda g, x: (bwd(g, x),), method=True, numpy=(twin,))


_REDUCE = {"dim": "axis", "keepdim": "keepdims"}

#: Every differentiable op, by name.
RULES: dict[str, Rule] = {
    # -- arithmetic (Tensor operators; ferrograd.tensor.add, ...)
    "add": Rule(ops.add, lambda g, a, b: (g, g), 2, operators=("__add__", "__radd__"),
                numpy=(np.add,)),
    "sub": Rule(ops.sub, lambda g, a, b: (g, ops.neg(g)), 2, operators=("__sub__", "__rsub__"),
                numpy=(np.subtract,)),
    "mul": Rule(ops.mul, ops.mul_backward, 2, operators=("__mul__", "__rmul__"),
                numpy=(np.multiply,)),
    "div": Rule(ops.div, ops.div_backward, 2, operators=("__truediv__", "__rtruediv__"),
                numpy=(np.true_divide,)),
    "matmul": Rule(ops.matmul, ops.matmul_backward, 2, operators=("__matmul__", "__rmatmul__"),
                   numpy=(np.matmul,)),
    "neg": Rule(ops.neg, lambda g, x: (ops.neg(g),), operators=("__neg__",),
                numpy=(np.negative,)),
    "pow": Rule(ops.pow, lambda g, x, e: (ops.pow_backward(g, x, e),), operators=("__pow__",)),
    # -- elementwise: one rule per entry of ops.UNARY (neg, above, is an operator instead)
    **{name: _elementwise(name, twin) for name, twin in ops.UNARY.items() if name != "neg"},
    "clamp": Rule(ops.clamp, lambda g, x, min=None, max=None: (
        ops.clamp_backward(g, x, min, max),), method=True),
    # -- reductions
    "sum": Rule(ops.sum, lambda g, x, axis=None, keepdims=False: (
        ops.sum_backward(g, x, axis, keepdims),), method=True,
        keywords=_REDUCE),
    "mean": Rule(ops.mean, lambda g, x, axis=None, keepdims=False: (
        ops.mean_backward(g, x, axis, keepdims),), method=True,
        keywords=_REDUCE),
    "amax": Rule(ops.max, lambda g, x, axis=None, keepdims=False: (
        ops.max_backward(g, x, axis, keepdims),), keywords=_REDUCE),
    "amin": Rule(ops.min, lambda g, x, axis=None, keepdims=False: (
        ops.min_backward(g, x, axis, keepdims),), keywords=_REDUCE),
    "var": Rule(ops.var, lambda g, x, axis=None, correction=1, keepdims=False: (
        ops.var_backward(g, x, axis, correction, keepdims),), keywords=_REDUCE),
    "std": Rule(ops.std, lambda g, x, axis=None, correction=1, keepdims=False: (
        ops.std_backward(g, x, axis, correction, keepdims),), keywords=_REDUCE),
    "norm": Rule(_norm, _norm_backward, keywords=_REDUCE),
    # -- shape and data movement
    "reshape": Rule(ops.reshape, lambda g, x, shape: (g.reshape(x.shape),)),
    "transpose": Rule(ops.transpose, lambda g, x, axes=None: (
        ops.transpose_backward(g, axes),)),
    "getitem": Rule(_getitem, _getitem_backward, operators=("__getitem__",)),
    "astype": Rule(lambda x, dtype: x.astype(dtype), lambda g, x, dtype: (g.astype(x.dtype),)),
    "clone": Rule(lambda x: x.copy(), lambda g, x: (g,), method=True),
    "take_along_dim": Rule(lambda x, indices, axis: np.take_along_axis(x, indices, axis),
                           _take_along_backward),
    "concat": Rule(lambda xs, axis=0: np.concatenate(xs, axis=axis), _split, 0),
    "stack": Rule(lambda xs, axis=0: np.stack(xs, axis=axis), _unstack, 0),
    "where": Rule(lambda a, b, cond: np.where(cond, a, b), _where_backward, 2),
    "linear": Rule(ops.linear, _linear_backward, 3),
    # -- ferrograd.functional: forward F.<name>, backward F.<name>_backward
    "relu": Rule(method=True),
    "leaky_relu": Rule(),
    "sigmoid": Rule(method=True),
    "tanh": Rule(method=True, numpy=(np.tanh,)),
    "gelu": Rule(),
    "elu": Rule(),
    "silu": Rule(),
    "softplus": Rule(),
    "softmax": Rule(saves_output=True, method=True),
    "log_softmax": Rule(saves_output=True, method=True),
    "mse_loss": Rule(target="negated"),
    "l1_loss": Rule(target="negated"),
    "huber_loss": Rule(target="negated"),
    "smooth_l1_loss": Rule(target="negated"),
    "cross_entropy": Rule(),
    "nll_loss": Rule(),
    "binary_cross_entropy": Rule(),
    "binary_cross_entropy_with_logits": Rule(),
    "kl_div": Rule(),
    "entropy": Rule(),
    "cross_entropy_dist": Rule(),
    "hinge_loss": Rule(),
    "hinge_embedding_loss": Rule(),
    "soft_margin_loss": Rule(),
    "multi_margin_loss": Rule(),
    "cosine_embedding_loss": Rule(),
    "triplet_margin_loss": Rule(),
    "nt_xent_loss": Rule(),
    "conv2d": Rule(),
    "avg_pool2d": Rule(),
    "pad": Rule(),
}  # fmt: skip


# ---------------------------------------------------------------------- ops from the rules


def _rename(kw: dict[str, Any], names: dict[str, str], func: str) -> dict[str, Any]:
    out = {}
    for k, v in kw.items():
        key = names.get(k, k)
        if key in out:
            raise TypeError(f"{func}: got both '{k}' and '{key}'")
        out[key] = v
    return out


def _make_op(name: str, rule: Rule) -> Callable[..., Any]:
    """The Tensor-level function of an ops rule: runs ``rule.forward`` on the arrays and
    records ``rule.backward``."""
    fwd, bwd, names = rule.forward, rule.backward, rule.keywords
    assert fwd is not None and bwd is not None
    op: Callable[..., Any]

    if rule.inputs == 0:

        def op(xs: Sequence[Any], *args: Any, **kw: Any) -> Any:
            arrays = [np.asarray(_data(x)) for x in xs]
            return record(
                fwd(arrays, *args, **kw), tuple(xs), lambda g: bwd(g, arrays, *args, **kw), name
            )

    elif rule.inputs == 1:

        def op(a: Any, *args: Any, **kw: Any) -> Any:
            if kw and names:
                kw = _rename(kw, names, name)
            x = a.data if isinstance(a, _TENSOR) else a
            return record(fwd(x, *args, **kw), (a,), lambda g: bwd(g, x, *args, **kw), name)

    elif rule.inputs == 2:

        def op(a: Any, b: Any, *args: Any, **kw: Any) -> Any:
            x = a.data if isinstance(a, _TENSOR) else a
            y = b.data if isinstance(b, _TENSOR) else b
            return record(fwd(x, y, *args, **kw), (a, b), lambda g: bwd(g, x, y, *args, **kw), name)

    else:
        n = rule.inputs
        # A backward taking ``input_grad`` is told whether the first input needs a gradient
        # (see :func:`differentiable`).
        wants_input_grad = "input_grad" in inspect.signature(bwd).parameters

        def op(*args: Any, **kw: Any) -> Any:
            tensor = _TENSOR
            parents = []
            arrays = []
            for i, a in enumerate(args):  # one loop, no generators: this runs for every op
                if i < n and a is not None:
                    parents.append(a)
                arrays.append(a.data if isinstance(a, tensor) else a)
            bkw = kw
            if wants_input_grad and args:
                first = args[0]
                bkw = {**kw, "input_grad": isinstance(first, tensor) and first.requires_grad}
            return record(fwd(*arrays, **kw), parents, lambda g: bwd(g, *arrays, **bkw), name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` on Tensors (see :func:`ferrograd.ops.{name}`), with its gradient."
    return op


#: The Tensor-level function of every rule with its own forward (``OPS["add"](a, b)``).
OPS: dict[str, Callable[..., Any]] = {
    name: _make_op(name, rule) for name, rule in RULES.items() if not rule.functional
}


def install(cls: type) -> None:
    """Makes ``cls`` the Tensor class and gives it the operators and methods of the rules."""
    global _TENSOR
    _TENSOR = cls
    for name, rule in RULES.items():
        fn = OPS.get(name)
        if fn is None:
            continue
        if rule.method:
            setattr(cls, name, fn)
        for op in rule.operators:
            setattr(cls, op, _swapped(fn) if op.startswith("__r") else fn)


def _swapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    def reflected(self: Any, other: Any) -> Any:
        return fn(other, self)

    return reflected


# ---------------------------------------------------------------------- functional wrappers


def _with_target_grad(bwd: Callable[..., Any]) -> Callable[..., Any]:
    def both(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        g = bwd(*args, **kwargs)
        return g, -g

    return both


def _has_tensor(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    tensor = _TENSOR
    for a in args:  # loops, not any(<generator>): this runs on every functional call
        if isinstance(a, tensor):
            return True
    for v in kwargs.values():
        if isinstance(v, tensor):
            return True
    return False


def _binder(
    sig: inspect.Signature,
) -> Callable[[tuple[Any, ...], dict[str, Any]], tuple[list[Any], dict[str, Any]]]:
    """``bind(args, kwargs)`` giving ``(positional, by_name)`` as ``sig.bind`` would (the
    arguments given, positional ones first, no defaults filled in), without its cost on the
    common call: positional arguments, then keyword options that are no Tensors."""
    params = list(sig.parameters.values())
    names = [p.name for p in params]
    plain = all(
        p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        for p in params
    )
    positional = sum(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    known = frozenset(names)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if plain and len(args) <= positional:
            named = dict(zip(names, args))
            if not kwargs:
                return list(args), named
            tensor = _TENSOR
            for k, v in kwargs.items():  # loops, not any(<generator>): this runs on every call
                if k in named or k not in known or isinstance(v, tensor):
                    break
            else:
                named.update(kwargs)
                return list(args), named
        bound = sig.bind(*args, **kwargs)
        return list(bound.args), dict(bound.arguments)

    return bind


def differentiable(
    name: str, rule: Rule, fwd: Callable[..., Any], bwd: Callable[..., Any]
) -> Callable[..., Any]:
    """Wraps the array function ``fwd`` so that Tensor arguments are tracked, with ``bwd``
    (called with the same arguments by name) as its gradient."""
    sig = inspect.signature(fwd)
    params = list(sig.parameters)
    bsig = inspect.signature(bwd).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in bsig.values())
    backward_takes = frozenset(bsig)
    saves = rule.saves_output
    # A backward taking ``input_grad`` skips the first input's gradient when told it is not
    # needed (the input of a network's first layer): that product is as large as the
    # weight's.
    wants_input_grad = "input_grad" in backward_takes and "input_grad" not in sig.parameters
    bind = _binder(sig)

    @functools.wraps(fwd)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _has_tensor(args, kwargs):
            return fwd(*args, **kwargs)
        pos, named = bind(args, kwargs)
        tensor = _TENSOR
        arrays = [a.data if isinstance(a, tensor) else a for a in pos]
        if kwargs:
            taken = params[: len(pos)]
            kw_arrays = {
                k: v.data if isinstance(v, tensor) else v
                for k, v in kwargs.items()
                if k not in taken
            }
            out = fwd(*arrays, **kw_arrays)
        else:
            out = fwd(*arrays)

        # Arguments go to the backward by name; forward-only options (such as ``inplace``)
        # that the backward does not take are left out.
        bkw = {
            k: v.data if isinstance(v, tensor) else v
            for k, v in named.items()
            if takes_any or k in backward_takes
        }
        if saves:
            bkw["output"] = out
        if wants_input_grad:
            first = pos[0] if pos else None
            bkw["input_grad"] = isinstance(first, tensor) and first.requires_grad

        def backward(g: Any) -> Any:
            res = bwd(g, **bkw)
            res = res if isinstance(res, tuple) else (res,)
            for i, a in enumerate(pos):
                if isinstance(a, _TENSOR) and a.requires_grad and (i >= len(res) or res[i] is None):
                    raise FerrogradError(
                        f"{name}: no gradient with respect to '{params[i]}' is available; "
                        f"pass it as a plain array or call .detach() on it"
                    )
            return res

        return record(out, pos, backward, name)

    return wrapper


def differentiable_fused(
    name: str,
    rule: Rule,
    fwd: Callable[..., Any],
    bwd: Callable[..., Any],
    fused: Callable[..., Any],
) -> Callable[..., Any]:
    """:func:`differentiable` for a loss that also has ``fused(..., grad_output)`` returning
    ``(loss, grad)`` in one pass.

    When the first argument is the only one that needs a gradient and the loss is reduced
    (mean or sum, so its gradient is linear in one number), the forward computes the gradient
    for ``grad_output = 1`` along with the loss, and the backward only scales it in place and
    hands it over (see :class:`Owned`): the logits are read once instead of twice. A second
    backward through the same graph, or an upstream gradient that is not finite, goes through
    ``bwd``. The gradient is computed and held even if ``backward`` never runs, so evaluation
    should run under :class:`no_grad`. Otherwise this is :func:`differentiable`.
    """
    plain = differentiable(name, rule, fwd, bwd)
    sig = inspect.signature(fwd)
    first = next(iter(sig.parameters))
    bind = _binder(sig)

    @functools.wraps(fwd)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        pos, arguments = bind(args, kwargs)
        x = arguments.get(first)
        tensor = _TENSOR
        fusable = needs_grad((x,)) and arguments.get("reduction", "mean") != "none"
        named = {}
        for k, v in arguments.items():
            if isinstance(v, tensor):
                if k != first and v.requires_grad:
                    fusable = False
                    break
                v = v.data
            named[k] = v
        if not fusable:
            return plain(*args, **kwargs)
        try:
            loss, grad_one = fused(**named)
        except Exception:
            # Bad arguments: let the general path raise, under this function's name.
            return plain(*args, **kwargs)

        return record(loss, pos, fused_backward(grad_one, bwd, named), name)

    return wrapper


def fused_backward(
    grad_one: np.ndarray, bwd: Callable[..., Any], named: dict[str, Any]
) -> BackwardFn:
    """The backward of a fused loss whose forward also gave ``grad_one``, its gradient for
    ``grad_output = 1`` (see :func:`differentiable_fused`): the first backward scales it in
    place and hands it over; a second one, or a non-finite upstream gradient, calls
    ``bwd(g, **named)``."""
    held = [grad_one]

    def backward(g: Any) -> tuple[Any]:
        g = np.asarray(g)
        scale = float(g.reshape(()).item())
        grad = None
        if math.isfinite(scale) and held:
            # pop() without relying on the test, so two threads running backward through
            # one graph never both take it.
            try:
                grad = held.pop()
            except IndexError:
                pass
        if grad is None:
            # Already handed out (a second backward through this graph), or an upstream
            # gradient that is not finite (inf * 0 would put NaN where the gradient is 0
            # by construction, on ignored rows): the general path.
            return (bwd(g, **named),)
        if scale != 1.0:
            grad *= grad.dtype.type(scale)
        return (Owned(grad),)

    return backward


def wrap_functional(namespace: dict[str, Any]) -> None:
    """Replaces each ``ferrograd.functional`` function that has a rule by its Tensor-aware
    wrapper (one that uses ``<name>_with_grad`` where there is one), and installs the
    wrappers of rules with ``method`` on the Tensor class."""
    for name, rule in RULES.items():
        if not rule.functional:
            continue
        fwd = namespace[name]
        bwd = namespace[f"{name}_backward"]
        if rule.target == "negated":
            bwd = _with_target_grad(bwd)
        fused = namespace.get(f"{name}_with_grad")
        if fused is not None:
            wrapped = differentiable_fused(name, rule, fwd, bwd, fused)
        else:
            wrapped = differentiable(name, rule, fwd, bwd)
        namespace[name] = wrapped
        if rule.method:
            setattr(_TENSOR, name, wrapped)
        for np_fn in rule.numpy:
            NUMPY[np_fn] = wrapped


#: NumPy ufuncs and functions with a differentiable counterpart (read by ``__array_ufunc__``).
NUMPY: dict[Any, Callable[..., Any]] = {
    np_fn: OPS[name] for name, rule in RULES.items() if name in OPS for np_fn in rule.numpy
}
