"""The optimizer base class: parameter groups, per-parameter state, saving and resuming.

An optimizer holds ``param_groups`` (a list of dicts, each with its ``"params"`` and its own
hyperparameters) and ``state`` (per-parameter arrays such as Adam's moments). ``step()``
updates every parameter that has a gradient with one fused Rust call per group (per dtype
when a group mixes float32 and float64): each parameter, gradient and state buffer is read
once and written once, in place, with the GIL released.

Parameters whose ``grad`` is None, and frozen ones (``requires_grad`` False), are skipped:
their values and state stay as they are (their step count does not advance).

Gradient accumulation
---------------------
To train with an effective batch of ``k`` micro-batches (when a full batch does not fit in
memory), scale each micro-batch's *mean* loss by ``1/k``, call ``backward()`` on each (the
gradients add up in ``.grad``), then take one step and clear the gradients::

    optimizer.zero_grad()
    for i, (xb, yb) in enumerate(micro_batches, 1):
        loss = loss_fn(model(xb), yb) / k     # mean over the micro-batch, divided by k
        loss.backward()                       # gradients accumulate
        if i % k == 0:
            optimizer.step()                  # one update for k micro-batches
            optimizer.zero_grad()

With equal-sized micro-batches this is exactly one step on the concatenated batch (up to
rounding). Layers that use batch statistics (BatchNorm) see the smaller batches, so they are
the exception.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, optim
>>> model = nn.Linear(3, 1)
>>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> for p in model.parameters():
...     p.grad = np.ones_like(p.data)
>>> opt.step()
>>> opt.zero_grad()
>>> model.weight.grad is None
True
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Callable

import numpy as np

from .._arrays import narrow_float
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor, enable_grad

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyperparameter without a default."""

    def __repr__(self) -> str:
        return "<required parameter>"


required: Any = _Required()


class ParamState(MutableMapping):  # type: ignore[type-arg]
    """Per-parameter state, keyed by the parameter object itself (by identity)."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Tensor, dict[str, Any]]] = {}

    def __getitem__(self, p: Tensor) -> dict[str, Any]:
        return self._items[id(p)][1]

    def __setitem__(self, p: Tensor, value: dict[str, Any]) -> None:
        self._items[id(p)] = (p, value)

    def __delitem__(self, p: Tensor) -> None:
        del self._items[id(p)]

    def __contains__(self, p: object) -> bool:
        return id(p) in self._items

    def __iter__(self) -> Iterator[Tensor]:
        return (p for p, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def setdefault_state(self, p: Tensor) -> dict[str, Any]:
        """The state dict of ``p``, created empty when missing."""
        item = self._items.get(id(p))
        if item is None:
            item = self._items[id(p)] = (p, {})
        return item[1]

    def __repr__(self) -> str:
        return f"ParamState({len(self)} parameters)"


def _copy_value(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    return copy.deepcopy(v)


class Optimizer:
    """Base class of the optimizers, with PyTorch's parameter groups and state handling.

    Parameters
    ----------
    params : iterable of Tensor or iterable of dict
        The parameters to optimize, or parameter groups: dicts with a ``"params"`` entry and
        any hyperparameters that differ from ``defaults`` (for example a smaller ``lr`` for a
        pre-trained backbone).
    defaults : dict
        Hyperparameters used by groups that do not set them.

    Subclasses implement :meth:`_check_group` (hyperparameter validation) and
    :meth:`_step_group` (the update of one group).

    ``_scalar_state`` names the per-parameter state kept as a 0-d float64 array (``step``,
    and NAdam's ``mu_product``) rather than an array of the parameter's shape.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> backbone, head = nn.Linear(8, 8), nn.Linear(8, 2)
    >>> opt = optim.Adam([
    ...     {"params": backbone.parameters(), "lr": 1e-4},
    ...     {"params": head.parameters()},
    ... ], lr=1e-3)
    >>> [g["lr"] for g in opt.param_groups]
    [0.0001, 0.001]
    """

    _scalar_state: tuple[str, ...] = ("step",)

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: ParamState = ParamState()
        self.param_groups: list[dict[str, Any]] = []
        # Per group index: (group, keys, values) as they passed _check_group, or None.
        self._checked: list[tuple[dict[str, Any], tuple[str, ...], tuple[Any, ...]] | None] = []
        if isinstance(params, Tensor):
            raise DTypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a "
                "single Tensor (wrap it in a list)"
            )
        if isinstance(params, (set, frozenset)):
            raise DTypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        groups = list(params)
        if not groups:
            raise ArgumentError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters with its own hyperparameters.

        Useful to unfreeze a layer during fine-tuning: ``opt.add_param_group({"params":
        layer.parameters(), "lr": 1e-4})``. Missing hyperparameters take the defaults.
        """
        if not isinstance(param_group, dict):
            raise DTypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        name = type(self).__name__
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise DTypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        elif params is None:
            raise ArgumentError(f"{name}: a parameter group needs a 'params' entry")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise DTypeError(
                    f"{name} can only optimize Tensors, but params[{i}] is {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ArgumentError(f"{name} can't optimize a non-leaf Tensor (params[{i}])")
            if p.dtype not in (np.float32, np.float64):
                raise DTypeError(
                    f"{name}: params[{i}] has dtype {p.dtype}; parameters must be float32 or "
                    "float64"
                )
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ArgumentError(f"{name}: a parameter group contains the same parameter twice")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing.intersection(ids):
            raise ArgumentError("some parameters appear in more than one parameter group")
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ArgumentError(
                    f"parameter group didn't specify a value of required optimization "
                    f"parameter {key}"
                )
            group.setdefault(key, default)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raises ValueError for invalid hyperparameters (PyTorch's messages)."""

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of every parameter.

        Parameters
        ----------
        set_to_none : bool
            Set ``grad`` to None (default, as PyTorch) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.flags.writeable:
                    p.grad.fill(0)
                else:
                    p.grad = np.zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns ``closure()`` if given.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (called with gradients enabled
            before the update).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # Everything is checked before anything is updated, so a failed step changes nothing.
        name = type(self).__name__
        work = []
        for gi, group in enumerate(self.param_groups):
            self._check_group_if_changed(gi, group)
            for params, grads in _by_dtype(name, gi, group["params"]):
                self._check_state(params)
                work.append((group, params, grads))
        for group, params, grads in work:
            _make_writeable(params)
            self._step_group(group, params, grads)
        return loss

    def _check_group_if_changed(self, index: int, group: dict[str, Any]) -> None:
        """:meth:`_check_group` on ``param_groups[index]``, skipped when the group holds the
        very keys and values (compared by identity) that passed it at an earlier step.

        Any assignment to a group (a scheduler's new ``lr``, a user's edit), a new group
        dict (``load_state_dict``) or a changed set of keys is checked again. Groups holding a
        mutable value (a list, an array) other than ``params`` are checked on every step, as
        such a value could change in place.
        """
        seen = self._checked
        values = tuple(group.values())
        if index < len(seen):
            last = seen[index]
            if (
                last is not None
                and last[0] is group
                and len(last[2]) == len(values)
                and all(map(operator.is_, values, last[2]))
                and tuple(group) == last[1]
            ):
                return
        else:
            seen.extend([None] * (index + 1 - len(seen)))
        self._check_group(group)
        immutable = all(_immutable(v) for k, v in group.items() if k != "params")
        seen[index] = (group, tuple(group), tuple(group.values())) if immutable else None

    def _check_state(self, params: list[Tensor]) -> None:
        """Checks the state of ``params`` (as loaded, or left by earlier steps) before a
        step: arrays of the parameter's shape and a step count that is a number >= 0."""
        name = type(self).__name__
        items = self.state._items
        scalars = self._scalar_state
        for p in params:
            item = items.get(id(p))
            if item is None:
                continue
            shape = p.data.shape
            for key, value in item[1].items():
                if type(value) is np.ndarray and (
                    value.shape == shape
                    if key not in scalars
                    else (value.shape == () and value.dtype.kind == "f" and value.item() >= 0)
                ):
                    continue  # the common case, checked on every step: kept cheap
                if key in scalars:
                    step = np.asarray(value)
                    if step.shape != () or step.dtype.kind not in "iuf" or not step >= 0:
                        raise ArgumentError(
                            f"{name}.step: the state {key!r} of a parameter of shape {p.shape} "
                            f"must be a number >= 0, got {value!r}"
                        )
                elif value is not None and np.shape(value) != p.shape:
                    raise ShapeError(
                        f"{name}.step: the state {key!r} has shape {np.shape(value)} but its "
                        f"parameter has {p.shape}"
                    )

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        raise NotImplementedError

    def _state_buffer(self, p: Tensor, key: str, fill: float = 0.0) -> np.ndarray:
        """``state[p][key]``, created filled with ``fill`` (and converted if ``p`` changed
        dtype under it, e.g. after ``model.double()``)."""
        st = self.state.setdefault_state(p)
        data = p.data
        buf = st.get(key)
        if buf is None:
            buf = st[key] = np.full(data.shape, fill, dtype=data.dtype)
        elif buf.shape != data.shape:
            raise ShapeError(
                f"{type(self).__name__}: state {key!r} has shape {buf.shape} but its "
                f"parameter has {data.shape}"
            )
        elif buf.dtype != data.dtype or not buf.flags.c_contiguous:
            buf = st[key] = np.ascontiguousarray(buf, dtype=data.dtype)
        return buf

    def _gather(
        self, params: list[Tensor], keys: tuple[str, ...], fill: float = 0.0
    ) -> tuple[list[list[np.ndarray]], list[float]]:
        """One list of state buffers per key (created on first use), and the step number of
        this update for each parameter (its state ``step`` + 1)."""
        items = self.state._items
        cols: list[list[np.ndarray]] = [[] for _ in keys]
        steps: list[float] = []
        for p in params:
            item = items.get(id(p))
            st = item[1] if item is not None else self.state.setdefault_state(p)
            data = p.data
            dt, shape = data.dtype, data.shape
            for col, key in zip(cols, keys):
                buf = st.get(key)
                if buf is None or buf.shape != shape or (buf.dtype is not dt and buf.dtype != dt):
                    buf = self._state_buffer(p, key, fill)
                col.append(buf)
            step = st.get("step")
            steps.append(1.0 if step is None else float(step) + 1.0)
        return cols, steps

    def _commit_steps(self, params: list[Tensor], steps: list[float]) -> None:
        """Records the step numbers once the update has succeeded."""
        items = self.state._items
        for p, s in zip(params, steps):
            st = items[id(p)][1]
            arr = st.get("step")
            if type(arr) is np.ndarray and arr.dtype == np.float64 and arr.flags.writeable:
                arr[()] = s  # in place, as PyTorch's step tensor
            else:
                st["step"] = np.array(s, dtype=np.float64)

    # ------------------------------------------------------------------ saving and resuming
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as PyTorch lays it out, with copied NumPy arrays.

        ``{"state": {index: {"step": ..., "exp_avg": ...}}, "param_groups": [{"lr": ...,
        "params": [indices]}]}`` where parameters are numbered across groups in order. Load it
        into an optimizer built over the same parameters to resume training exactly.
        """
        index: dict[int, int] = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            ids = []
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
                ids.append(index[id(p)])
            packed["params"] = ids
            start += len(ids)
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in st.items()}
            for p, st in ((p, self.state[p]) for p in self.state)
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores hyperparameters and state saved by :meth:`state_dict`.

        The optimizer must have been built over parameters of the same shapes, in the same
        groups and order. State arrays are copied and converted to each parameter's dtype.
        """
        name = type(self).__name__
        _check_layout(f"{name}.load_state_dict", state_dict)
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ArgumentError("loaded state dict has a different number of parameter groups")
        for g, s in zip(self.param_groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ArgumentError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    "of optimizer's group"
                )
        id_map: dict[int, Tensor] = {}
        for g, s in zip(self.param_groups, saved_groups):
            for p, k in zip(g["params"], s["params"]):
                id_map[int(k)] = p
        new_state: list[tuple[Tensor, dict[str, Any]]] = []
        for k, st in state_dict["state"].items():
            p = id_map.get(int(k))
            if p is None:
                continue
            entry: dict[str, Any] = {}
            for key, value in st.items():
                if key in self._scalar_state:
                    entry[key] = np.array(float(np.asarray(value)), dtype=np.float64)
                elif value is None:
                    entry[key] = None
                else:
                    arr = np.asarray(getattr(value, "data", value))
                    if arr.shape != p.shape:
                        raise ShapeError(
                            f"{name}.load_state_dict: state {key!r} of parameter {k} has shape "
                            f"{arr.shape}, but the parameter has {p.shape}"
                        )
                    entry[key] = narrow_float(
                        f"{name}.load_state_dict: state {key!r} of parameter {k}", arr, p.dtype
                    )
            new_state.append((p, entry))
        groups = []
        for g, s in zip(self.param_groups, saved_groups):
            ng = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            ng["params"] = g["params"]
            self._check_group(ng)
            groups.append(ng)
        self.param_groups = groups
        self.state = ParamState()
        for p, entry in new_state:
            self.state[p] = entry

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


_IMMUTABLE = (bool, int, float, complex, str, bytes, type(None), np.generic)


def _immutable(value: Any) -> bool:
    """Whether ``value`` cannot change in place (a number, a string, None, or a tuple of
    those), so that its identity stands for its value."""
    if isinstance(value, _IMMUTABLE):
        return True
    return type(value) is tuple and all(_immutable(v) for v in value)


def _check_layout(func: str, state_dict: Any) -> None:
    """``state_dict`` has the layout :meth:`Optimizer.state_dict` gives (a typed error naming
    what is off otherwise)."""
    if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
        raise DTypeError(
            f"{func}: state_dict must be a mapping with 'state' and 'param_groups' (as "
            f"state_dict() gives), got {state_dict!r:.80}"
        )
    if not isinstance(state_dict["state"], Mapping):
        raise DTypeError(f"{func}: state_dict['state'] must be a mapping of parameter indices")
    groups = state_dict["param_groups"]
    if not isinstance(groups, (list, tuple)):
        raise DTypeError(f"{func}: state_dict['param_groups'] must be a list of dicts")
    for i, g in enumerate(groups):
        if not isinstance(g, Mapping) or not isinstance(g.get("params"), (list, tuple)):
            raise DTypeError(
                f"{func}: state_dict['param_groups'][{i}] must be a dict with a 'params' list"
            )
    for k, st in state_dict["state"].items():
        if not isinstance(st, Mapping):
            raise DTypeError(f"{func}: state_dict['state'][{k!r}] must be a dict of arrays")


def _by_dtype(
    name: str, group: int, params: Iterable[Tensor]
) -> list[tuple[list[Tensor], list[np.ndarray]]]:
    """The parameters that take part in a step, with their gradients, split by dtype.

    Skips parameters without a gradient and frozen ones and casts gradients to the parameter's
    dtype; a gradient that is not an array of real numbers of the parameter's shape is an
    error (complex values would lose their imaginary part).
    """
    buckets: dict[str, tuple[list[Tensor], list[np.ndarray]]] = {}
    for i, p in enumerate(params):
        g = p.grad
        if g is None or not p.requires_grad:
            continue
        data = p.data
        if type(g) is not np.ndarray:
            g = getattr(g, "data", g)
            if not isinstance(g, np.ndarray):
                raise DTypeError(
                    f"{_where(name, group, i)} must be a NumPy array, got {type(g).__name__}"
                )
        dt = data.dtype
        if g.dtype is not dt and g.dtype != dt:
            if g.dtype.kind not in "biuf":
                raise DTypeError(
                    f"{_where(name, group, i)} must hold real numbers, got dtype {g.dtype}"
                )
            g = g.astype(dt)
        if g.shape != data.shape:
            raise ShapeError(
                f"{_where(name, group, i)} has shape {g.shape}, but the parameter has shape "
                f"{data.shape}"
            )
        bucket = buckets.get(dt.char)
        if bucket is None:
            bucket = buckets[dt.char] = ([], [])
        bucket[0].append(p)
        bucket[1].append(g)
    return list(buckets.values())


def _where(name: str, group: int, i: int) -> str:
    return f"{name}.step: the gradient of param_groups[{group}]['params'][{i}]"


def _make_writeable(params: list[Tensor]) -> None:
    """Gives each parameter a C-ordered writeable buffer (the update is in place)."""
    for p in params:
        flags = p.data.flags
        if not (flags.c_contiguous and flags.writeable):
            p.data = np.array(p.data, order="C", copy=True)
