"""Bad input to every public op of ferrograd.ops: a typed error or NumPy's result, never a crash.

Each op (and its backward) gets wrong dtypes (int, bool, complex, object, strings, float16,
...), mismatched shapes, NaN/inf, empty and 0-d arrays. A case passes when ferrograd raises a
:class:`ferrograd.FerrogradError` (a ShapeError or DTypeError) or returns exactly what NumPy
gives (same dtype and shape, NaN and inf in the same places). Where NumPy gives a float result
for well-formed input, ferrograd must give it too.

The battery runs in a child interpreter, so a crash (a segfault or an aborting Rust panic) is
reported as a failure of the case that caused it, and the remaining cases still run.
Run ``python tests/test_bad_input.py [ops|huge|misuse]`` to see every case's verdict.

Two more batteries run the same way (their cases are in ``battery_extra.py``): ``huge`` feeds
every public function and layer views far too large to copy (each must raise MemoryError),
and ``misuse`` repeats calls that once crashed (each must raise a typed error).
"""

from __future__ import annotations

import json
import math
import operator
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
SELFTEST_ENV = "FERROGRAD_BATTERY_SELFTEST"

# ============================================================================ the battery


@dataclass
class Case:
    """One call of a public op, and how NumPy answers the same question."""

    op: str
    label: str
    run: Callable[[], Any]
    want: Callable[[], Any]
    #: A typed error is accepted even where NumPy gives a float result (argument types that
    #: ferrograd deliberately does not take, such as a bool axis or an array exponent).
    lenient: bool = False
    #: The result may be of any dtype and must equal NumPy's exactly (views such as transpose).
    exact: bool = False
    #: No NumPy counterpart (convolution, pooling): any result or a FerrogradError (an
    #: ArgumentError for a value out of its domain) passes; crashes and other errors fail.
    smoke: bool = False


def _variants() -> dict[str, Any]:
    """Argument values, each standing for one kind of bad (or edge-case) input."""
    f = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]])
    nan_inf = np.array([[np.nan, np.inf, -np.inf], [0.0, -0.0, 1.0]])
    strided = np.zeros((2, 6))
    strided[:, ::2] = nan_inf
    readonly = f.copy()
    readonly.flags.writeable = False
    return {
        "f64": f,
        "f32": f.astype(np.float32),
        "f16": f.astype(np.float16),
        "longdouble": f.astype(np.longdouble),
        "int64": np.array([[1, -2, 3], [4, 5, -6]]),
        "int32": np.array([[1, -2, 3], [4, 5, -6]], dtype=np.int32),
        "uint8": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8),
        "bool": f > 0,
        "complex": f + 1j,
        "object": f.astype(object),
        "str": f.astype(str),
        "bytes": f.astype("S8"),
        "datetime": np.array([["2020-01-01"] * 3] * 2, dtype="datetime64[D]"),
        "nan_inf": nan_inf,
        "nan_inf_f32": nan_inf.astype(np.float32),
        "all_neg_inf": np.full((2, 3), -np.inf),
        "pos_inf": np.array([[np.inf, 1.0, 2.0], [-np.inf, 0.0, 1.0]]),
        "huge": np.array([[1e308, 1e308, -1e308], [1e-320, -1e-320, 0.0]]),
        "strided_nan": strided[:, ::2],
        "fortran": np.asfortranarray(f),
        "big_endian": f.astype(">f8"),
        "readonly": readonly,
        "empty_0": np.zeros(0),
        "empty_0x3": np.zeros((0, 3)),
        "empty_2x0": np.zeros((2, 0)),
        "empty_f32_0x3": np.zeros((0, 3), dtype=np.float32),
        "0d": np.array(1.5),
        "0d_nan": np.array(np.nan),
        "np_f32_scalar": np.float32(2.0),
        "py_int": 3,
        "py_float": -2.5,
        "py_bool": True,
        "py_complex": 1 + 2j,
        "none": None,
        "str_scalar": "abc",
        "list": [[0.5, 1.0, 2.0]],
        "ragged": [[1.0], [1.0, 2.0]],
        "shape_4": np.ones(4),
        "shape_3x2": np.ones((3, 2)),
        "shape_2x2x3": np.ones((2, 2, 3)),
    }


def _has_object(*args: Any) -> bool:
    return any(isinstance(a, np.ndarray) and a.dtype == object for a in args)


def _np(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``; with an object array among the inputs, the result counts as objects."""
    out = fn(*args, **kwargs)
    return np.asarray(out, dtype=object) if _has_object(*args) else out


def _float_dtype(value: Any) -> np.dtype[Any]:
    """The dtype NumPy gave, which must be float32/float64 for a gradient to exist."""
    dt = np.asarray(value).dtype
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"NumPy's result has dtype {dt}")
    return dt


def _grad_like(grad: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``grad`` as a float64 array of ``shape``, or the error ferrograd must raise."""
    g = np.asarray(grad)  # ragged input raises ValueError here
    if g.dtype.kind not in "biuf":
        raise TypeError(f"grad_output of dtype {g.dtype}")
    if g.shape != shape:
        raise ValueError(f"grad_output has shape {g.shape}, expected {shape}")
    return g.astype(np.float64)


# ---------------------------------------------------------------------------- references


def _ref() -> Any:
    import reference

    return reference


UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}


def _unary() -> dict[str, Any]:
    """ferrograd.ops.UNARY: the elementwise ops of one array and their NumPy functions."""
    from ferrograd import ops

    return ops.UNARY


REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


def _want_binary_grad(op: str, g: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    fwd = _np(UFUNCS[op], a, b)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    ga, gb = _ref().binary_grad_ref(op, gg, np.asarray(a, dt), np.asarray(b, dt))
    return ga.astype(dt), gb.astype(dt)


def _want_unary_grad(op: str, g: Any, x: Any, p: Any = 2.0) -> np.ndarray:
    fwd = _np(np.power, x, p) if op == "pow" else _np(_unary()[op], x)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    return _ref().unary_grad_ref(op, gg, np.asarray(x, dt), float(p)).astype(dt)


def _want_reduce_grad(op: str, g: Any, x: Any, axis: Any, keepdims: bool) -> np.ndarray:
    fwd = _np(REDUCE[op], x, axis=axis, keepdims=keepdims)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    return _ref().reduce_grad_ref(op, gg, np.asarray(x, dt), axis, keepdims).astype(dt)


def _want_clamp(x: Any, lo: Any, hi: Any) -> np.ndarray:
    dt = _float_dtype(_np(np.positive, x))
    return _ref().clamp_ref(np.asarray(x, dt), lo, hi).astype(dt)


def _want_clamp_grad(g: Any, x: Any, lo: Any, hi: Any) -> np.ndarray:
    dt = _float_dtype(_np(np.positive, x))
    gg = _grad_like(g, np.shape(x))
    return _ref().clamp_grad_ref(gg, np.asarray(x, dt), lo, hi).astype(dt)


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _np(fn, *args, **kwargs)


def _want_moment_grad(op: str, g: Any, x: Any, axis: Any) -> np.ndarray:
    """The gradient of var/std with correction 1 (inputs with N > 1 along ``axis``)."""
    fwd = _quiet(getattr(np, op), x, axis=axis, ddof=1)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    with np.errstate(all="ignore"):
        ref = getattr(_ref(), f"{op}_grad_ref")(gg, np.asarray(x, dt), axis, 1.0)
    return ref.astype(dt)


def _want_softmax(x: Any, axis: Any, log: bool) -> np.ndarray:
    """Softmax by its formula, shifted by the row maximum (0 for a row of -inf); an empty
    input gives an empty result and a 0-d input counts as one element along axis 0 or -1."""
    v = np.asarray(x)
    if v.dtype == object:
        return v  # objects: ferrograd must refuse
    e = np.exp(v)  # NumPy's type promotion; raises for strings and the like
    if e.dtype not in FLOAT_DTYPES:
        return e
    w, ax = _softmax_view(v, axis)
    if w.size == 0:
        return np.zeros(v.shape, dtype=e.dtype)
    m = np.max(w, axis=ax, keepdims=True)
    z = w - np.where(m == -np.inf, 0.0, m)
    s = np.sum(np.exp(z), axis=ax, keepdims=True)
    return (z - np.log(s) if log else np.exp(z) / s).reshape(v.shape).astype(e.dtype)


def _softmax_view(v: np.ndarray, axis: Any) -> tuple[np.ndarray, int]:
    """``v`` in float64 (a 0-d array as one element along axis 0) and the checked axis."""
    ax = operator.index(axis)
    w = v.astype(np.float64).reshape(v.shape or (1,))
    if not -w.ndim <= ax < w.ndim:
        raise ValueError(f"axis {ax} is out of bounds")
    return w, ax


def _want_softmax_grad(g: Any, x: Any, axis: Any, log: bool) -> np.ndarray:
    fwd = _want_softmax(x, axis, log)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    w, ax = _softmax_view(np.asarray(x), axis)
    if w.size == 0:
        return np.zeros(np.shape(x), dt)
    ref = _ref().log_softmax_grad_ref if log else _ref().softmax_grad_ref
    return ref(gg.reshape(w.shape), w, ax).reshape(np.shape(x)).astype(dt)


def _want_matmul_grad(g: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    fwd = _np(np.matmul, a, b)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    ga, gb = _ref().matmul_grad_ref(gg, np.asarray(a, dt), np.asarray(b, dt))
    return ga.astype(dt), gb.astype(dt)


def _want_sum_to_shape(grad: Any, shape: Any) -> np.ndarray:
    g = _np(np.positive, grad)
    dt = _float_dtype(g)
    target = tuple(operator.index(d) for d in shape)
    if np.broadcast_shapes(target, g.shape) != g.shape:
        raise ValueError("shape does not broadcast to the gradient's shape")
    return _ref().unbroadcast(g, target).astype(dt)


def _want_transpose_backward(g: Any, axes: Any) -> np.ndarray:
    arr = np.asarray(g)
    if axes is None:
        return np.transpose(arr)
    perm = [operator.index(a) % max(1, arr.ndim) for a in axes]
    np.transpose(np.empty(arr.shape), axes)  # raises for a bad permutation
    return np.transpose(arr, np.argsort(perm))


def _want_linear(x: Any, w: Any, b: Any = None) -> np.ndarray:
    out = _np(np.matmul, x, np.transpose(np.asarray(w)))
    dt = _float_dtype(out)
    if np.ndim(w) != 2 or np.ndim(x) == 0:
        raise ValueError("linear needs (..., in) and (out, in)")
    if b is None:
        return out
    bb = np.asarray(b)
    if bb.dtype.kind not in "biuf":
        raise TypeError(f"bias of dtype {bb.dtype}")
    if bb.shape != (np.shape(w)[0],):
        raise ValueError("bias shape")
    return (out + bb.astype(dt)).astype(dt)


def _want_linear_grad(g: Any, x: Any, w: Any) -> tuple[np.ndarray, ...]:
    fwd = _want_linear(x, w)
    dt = _float_dtype(fwd)
    gg = _grad_like(g, np.shape(fwd))
    xx, ww = np.asarray(x, np.float64), np.asarray(w, np.float64)
    g2, x2 = gg.reshape(-1, ww.shape[0]), xx.reshape(-1, ww.shape[1])
    return (
        (gg @ ww).reshape(xx.shape).astype(dt),
        (g2.T @ x2).astype(dt),
        g2.sum(axis=0).astype(dt),
    )


# ---------------------------------------------------------------------------- cases


def _cases() -> list[Case]:
    """Every case, in a fixed order (the parent and each child agree on the numbering)."""
    from ferrograd import ops

    v = _variants()
    f = v["f64"]
    cases: list[Case] = []

    def add(op: str, label: str, run: Any, want: Any, **kw: Any) -> None:
        # Sums of products near the float64 limit overflow or not depending on the order of
        # summation, which is the kernel's own: values near 1e308 go to elementwise ops only.
        if "huge" in label and (op.endswith("_backward") or op in ("matmul", "linear")):
            return
        cases.append(Case(op, label, run, want, **kw))

    for op, uf in UFUNCS.items():
        fwd, bwd = getattr(ops, op), getattr(ops, f"{op}_backward")
        pairs = [(f"{n}, f64", x, f) for n, x in v.items()]
        pairs += [(f"f64, {n}", f, x) for n, x in v.items()]
        pairs += [(f"{n}, {n}", x, x) for n, x in v.items()]
        for label, a, b in pairs:
            add(
                op,
                label,
                lambda a=a, b=b, fwd=fwd: fwd(a, b),
                lambda a=a, b=b, uf=uf: _np(uf, a, b),
            )
            g = np.ones(np.broadcast_shapes(np.shape(a), np.shape(b))) if _shapes_ok(a, b) else f
            add(
                f"{op}_backward",
                f"ones, {label}",
                lambda g=g, a=a, b=b, bwd=bwd: bwd(g, a, b),
                lambda g=g, a=a, b=b, op=op: _want_binary_grad(op, g, a, b),
            )
        for n, g in v.items():
            add(
                f"{op}_backward",
                f"grad {n}, f64, f64",
                lambda g=g, bwd=bwd: bwd(g, f, f),
                lambda g=g, op=op: _want_binary_grad(op, g, f, f),
            )

    for op, uf in _unary().items():
        fwd, bwd = getattr(ops, op), getattr(ops, f"{op}_backward")
        for n, x in v.items():
            # The modulus of a complex number is real, but ferrograd computes on reals only.
            modulus = op == "abs" and "complex" in n
            add(
                op,
                n,
                lambda x=x, fwd=fwd: fwd(x),
                lambda x=x, uf=uf: _np(uf, x),
                lenient=modulus,
            )
            g = np.ones(np.shape(x)) if _shapes_ok(x) else f
            add(
                f"{op}_backward",
                f"ones, {n}",
                lambda g=g, x=x, bwd=bwd: bwd(g, x),
                lambda g=g, x=x, op=op: _want_unary_grad(op, g, x),
                lenient=modulus,
            )
            add(
                f"{op}_backward",
                f"grad {n}, f64",
                lambda g=x, bwd=bwd: bwd(g, f),
                lambda g=x, op=op: _want_unary_grad(op, g, f),
            )

    exponents: list[tuple[str, Any, bool]] = [
        ("2.0", 2.0, False),
        ("0.5", 0.5, False),
        ("-1", -1, False),
        ("0", 0, False),
        ("nan", np.nan, False),
        ("inf", np.inf, False),
        ("np.int64(3)", np.int64(3), False),
        ("np.float16(2)", np.float16(2), False),
        ("0-d array", np.array(3.0), False),
        ("True", True, True),
        ("1j", 1j, True),
        ("'2'", "2", True),
        ("None", None, True),
        ("array [1, 2, 3]", np.array([1.0, 2.0, 3.0]), True),
    ]
    for n, x in v.items():
        add("pow", f"{n} ** 2.0", lambda x=x: ops.pow(x, 2.0), lambda x=x: _np(np.power, x, 2.0))
        add(
            "pow_backward",
            f"grad {n}, f64 ** 2.0",
            lambda g=x: ops.pow_backward(g, f, 2.0),
            lambda g=x: _want_unary_grad("pow", g, f, 2.0),
        )
        g = np.ones(np.shape(x)) if _shapes_ok(x) else f
        add(
            "pow_backward",
            f"ones, {n} ** 0.5",
            lambda g=g, x=x: ops.pow_backward(g, x, 0.5),
            lambda g=g, x=x: _want_unary_grad("pow", g, x, 0.5),
        )
    for n, e, lenient in exponents:
        for xn in ("f64", "f32", "nan_inf", "int64", "empty_0x3", "0d"):
            x = v[xn]
            add(
                "pow",
                f"{xn} ** {n}",
                lambda x=x, e=e: ops.pow(x, e),
                lambda x=x, e=e: _np(np.power, x, e),
                lenient=lenient,
            )
            g = np.ones(np.shape(x))
            add(
                "pow_backward",
                f"ones, {xn} ** {n}",
                lambda g=g, x=x, e=e: ops.pow_backward(g, x, e),
                lambda g=g, x=x, e=e: _want_unary_grad("pow", g, x, e),
                lenient=lenient,
            )

    axes: list[tuple[Any, bool]] = [
        (None, False),
        (0, False),
        (-1, False),
        ((0, 1), False),
        ((), False),
        ((1, -1), False),
        (2, False),
        (-3, False),
        ((0, 0), False),
        (2**70, False),
        (1.5, False),
        ("0", False),
        (True, True),
        (np.int64(1), False),
    ]
    few = ("f64", "f32", "nan_inf", "nan_inf_f32", "strided_nan", "all_neg_inf", "pos_inf")
    few += ("huge", "int64")
    few += ("bool", "empty_0", "empty_0x3", "empty_2x0", "0d", "0d_nan", "object", "list")
    for op, nf in REDUCE.items():
        fwd, bwd = getattr(ops, op), getattr(ops, f"{op}_backward")
        for n, x in v.items():
            for axis, quirk in axes if n in few else [(None, False), (0, False)]:
                # np.sum and np.max (not np.mean) take axis 0 or -1 for a 0-d array, a legacy
                # quirk; ferrograd's ShapeError there is accepted.
                lenient = quirk or (axis is not None and _ndim(x) == 0)
                for keepdims in (False, True):
                    label = f"{n}, axis={axis!r}, keepdims={keepdims}"
                    add(
                        op,
                        label,
                        lambda x=x, a=axis, k=keepdims, fwd=fwd: fwd(x, axis=a, keepdims=k),
                        lambda x=x, a=axis, k=keepdims, nf=nf: _np(nf, x, axis=a, keepdims=k),
                        lenient=lenient,
                    )
                    g = _ones_out(nf, x, axis, keepdims)
                    add(
                        f"{op}_backward",
                        f"ones, {label}",
                        lambda g=g, x=x, a=axis, k=keepdims, bwd=bwd: bwd(g, x, axis=a, keepdims=k),
                        lambda g=g, x=x, a=axis, k=keepdims, op=op: _want_reduce_grad(
                            op, g, x, a, k
                        ),
                        lenient=lenient,
                    )
        for n, g in v.items():
            add(
                f"{op}_backward",
                f"grad {n}, f64, axis=0",
                lambda g=g, bwd=bwd: bwd(g, f, axis=0),
                lambda g=g, op=op: _want_reduce_grad(op, g, f, 0, False),
            )

    bounds: list[tuple[Any, Any, bool]] = [
        (-1.0, 1.0, False),
        (None, 0.5, False),
        (2.0, 1.0, False),
        (np.nan, None, False),
        (-np.inf, np.inf, False),
        (None, None, True),
        ("1", None, True),
        (np.ones(2), None, True),
    ]
    for n, x in v.items():
        for lo, hi, lenient in bounds if n in few else bounds[:1]:
            label = f"{n}, min={lo!r}, max={hi!r}"
            add(
                "clamp",
                label,
                lambda x=x, lo=lo, hi=hi: ops.clamp(x, lo, hi),
                lambda x=x, lo=lo, hi=hi: _want_clamp(x, lo, hi),
                lenient=lenient,
            )
            g = np.ones(np.shape(x)) if _shapes_ok(x) else f
            add(
                "clamp_backward",
                f"ones, {label}",
                lambda g=g, x=x, lo=lo, hi=hi: ops.clamp_backward(g, x, lo, hi),
                lambda g=g, x=x, lo=lo, hi=hi: _want_clamp_grad(g, x, lo, hi),
                lenient=lenient,
            )
        add(
            "clamp_backward",
            f"grad {n}, f64",
            lambda g=x: ops.clamp_backward(g, f, -1.0, 1.0),
            lambda g=x: _want_clamp_grad(g, f, -1.0, 1.0),
        )

    arg_axes: list[tuple[Any, bool]] = [
        (None, False),
        (0, False),
        (-1, False),
        (2, False),
        (2**70, False),
        (1.5, True),
        ((0, 1), True),
        (True, True),
    ]
    for op in ("argmax", "argmin"):
        fn, nf = getattr(ops, op), getattr(np, op)
        for n, x in v.items():
            for axis, lenient in arg_axes if n in few else arg_axes[:2]:
                for keepdims in (False, True):
                    add(
                        op,
                        f"{n}, axis={axis!r}, keepdims={keepdims}",
                        lambda x=x, a=axis, k=keepdims, fn=fn: fn(x, axis=a, keepdims=k),
                        lambda x=x, a=axis, k=keepdims, nf=nf: nf(x, axis=a, keepdims=k),
                        lenient=lenient or (axis is not None and _ndim(x) == 0),
                        exact=True,
                    )

    for op in ("var", "std"):
        fwd, bwd = getattr(ops, op), getattr(ops, f"{op}_backward")
        for n, x in v.items():
            complex_in = "complex" in n  # NumPy's variance of complex numbers is real
            for axis in (None, 0, -1, (0, 1), 2) if n in few else (None,):
                for c in (0, 1, 3):
                    label = f"{n}, axis={axis!r}, correction={c}"
                    add(
                        op,
                        label,
                        lambda x=x, a=axis, c=c, fwd=fwd: fwd(x, axis=a, correction=c),
                        lambda x=x, a=axis, c=c, op=op: _quiet(getattr(np, op), x, axis=a, ddof=c),
                        lenient=complex_in or (axis is not None and _ndim(x) == 0),
                    )
            if n in few:
                g = _ones_out(np.sum, x, 1, False) if _ndim(x) == 2 else np.ones(())
                add(
                    f"{op}_backward",
                    f"ones, {n}, axis=1",
                    lambda g=g, x=x, bwd=bwd: bwd(g, x, axis=1),
                    lambda g=g, x=x, op=op: _want_moment_grad(op, g, x, 1),
                    lenient=complex_in,
                )
            add(
                f"{op}_backward",
                f"grad {n}, f64, axis=0",
                lambda g=x, bwd=bwd: bwd(g, f, axis=0),
                lambda g=x, op=op: _want_moment_grad(op, g, f, 0),
            )
        for bad in (np.nan, "1", None, np.inf):
            add(
                op,
                f"f64, correction={bad!r}",
                lambda c=bad, fwd=fwd: fwd(f, correction=c),
                lambda c=bad, op=op: _quiet(getattr(np, op), f, ddof=c),
                lenient=True,
            )

    soft_axes: list[tuple[Any, bool]] = [
        (-1, False),
        (0, False),
        (1, False),
        (2, False),
        (-3, False),
        (2**70, False),
        (1.5, False),
        (None, True),
        ((0, 1), True),
        (np.int32(0), False),
    ]
    for log in (False, True):
        name = "log_softmax" if log else "softmax"
        fwd, bwd = getattr(ops, name), getattr(ops, f"{name}_backward")
        for n, x in v.items():
            for axis, lenient in soft_axes if n in few else [(-1, False)]:
                label = f"{n}, axis={axis!r}"
                add(
                    name,
                    label,
                    lambda x=x, a=axis, fwd=fwd: fwd(x, a),
                    lambda x=x, a=axis, log=log: _want_softmax(x, a, log),
                    lenient=lenient,
                )
                g = np.ones(np.shape(x)) if _shapes_ok(x) else f
                add(
                    f"{name}_backward",
                    f"ones, {label}",
                    lambda g=g, x=x, a=axis, bwd=bwd: bwd(g, x, a),
                    lambda g=g, x=x, a=axis, log=log: _want_softmax_grad(g, x, a, log),
                    lenient=lenient,
                )
        for n, g in v.items():
            add(
                f"{name}_backward",
                f"grad {n}, f64",
                lambda g=g, bwd=bwd: bwd(g, f, 1),
                lambda g=g, log=log: _want_softmax_grad(g, f, 1, log),
            )
            if g is None:
                continue  # output=None means "not given"
            add(
                f"{name}_backward",
                f"ones, f64, output={n}",
                lambda y=g, bwd=bwd: bwd(np.ones((2, 3)), f, 1, output=y),
                lambda y=g, log=log: _want_softmax_output(y, f, log),
                lenient=True,
            )

    ft = np.ascontiguousarray(f.T)
    mm: list[tuple[str, Any, Any]] = [(f"{n}, f64.T", x, ft) for n, x in v.items()]
    mm += [(f"f64, {n}", f, x) for n, x in v.items()]
    mm += [(f"{n}, {n}", x, x) for n, x in v.items()]
    mm += [
        ("(3,) @ (3,)", np.ones(3), np.arange(3.0)),
        ("(2, 0) @ (0, 4)", np.ones((2, 0)), np.ones((0, 4))),
        ("(2, 0, 3) @ (2, 3, 4)", np.ones((2, 0, 3)), np.ones((2, 3, 4))),
        ("(0, 2, 3) @ (3, 4)", np.ones((0, 2, 3)), np.ones((3, 4))),
        ("(2, 2, 3) @ (3, 3, 4)", np.ones((2, 2, 3)), np.ones((3, 3, 4))),
        ("(2, 1, 2, 3) @ (3, 3, 4)", np.ones((2, 1, 2, 3)), np.ones((3, 3, 4))),
        ("0-d @ (3,)", np.array(2.0), np.ones(3)),
        ("nan_inf @ nan_inf.T", v["nan_inf"], np.ascontiguousarray(v["nan_inf"].T)),
        ("f32 @ f64", v["f32"], ft),
    ]
    for label, a, b in mm:
        add(
            "matmul",
            label,
            lambda a=a, b=b: ops.matmul(a, b),
            lambda a=a, b=b: _np(np.matmul, a, b),
        )
        g = _ones_matmul(a, b)
        add(
            "matmul_backward",
            f"ones, {label}",
            lambda g=g, a=a, b=b: ops.matmul_backward(g, a, b),
            lambda g=g, a=a, b=b: _want_matmul_grad(g, a, b),
        )
    for n, g in v.items():
        add(
            "matmul_backward",
            f"grad {n}, f64 @ f64.T",
            lambda g=g: ops.matmul_backward(g, f, ft),
            lambda g=g: _want_matmul_grad(g, f, ft),
        )
    g22 = np.array([[np.nan, 1.0], [np.inf, 0.0]])
    add(
        "matmul_backward",
        "nan/inf grad",
        lambda: ops.matmul_backward(g22, f, ft),
        lambda: _want_matmul_grad(g22, f, ft),
    )

    shapes: list[tuple[str, Any, bool]] = [
        ("(3,)", (3,), False),
        ("(2, 1)", (2, 1), False),
        ("()", (), False),
        ("(2, 3)", (2, 3), False),
        ("(4,)", (4,), False),
        ("(-1,)", (-1,), False),
        ("(2**70,)", (2**70,), False),
        ("(1, 2, 3)", (1, 2, 3), False),
        ("(1.5,)", (1.5,), True),
        ("'ab'", "ab", True),
    ]
    for n, x in v.items():
        for sn, shape, lenient in shapes if n in few else [("(3,)", (3,), False)]:
            add(
                "sum_to_shape",
                f"{n} to {sn}",
                lambda x=x, s=shape: ops.sum_to_shape(x, s),
                lambda x=x, s=shape: _want_sum_to_shape(x, s),
                lenient=lenient,
            )

    perms: list[tuple[str, Any]] = [
        ("None", None),
        ("(1, 0)", (1, 0)),
        ("(-1, 0)", (-1, 0)),
        ("(0, 0)", (0, 0)),
        ("(0, 1, 2)", (0, 1, 2)),
        ("(0, 2)", (0, 2)),
        ("('a', 0)", ("a", 0)),
    ]
    for n, x in v.items():
        for pn, axes_ in perms if n in few else [("(1, 0)", (1, 0))]:
            add(
                "transpose",
                f"{n}, {pn}",
                lambda x=x, p=axes_: ops.transpose(x, p),
                lambda x=x, p=axes_: np.transpose(np.asarray(x), p),
                exact=True,
            )
            add(
                "transpose_backward",
                f"{n}, {pn}",
                lambda x=x, p=axes_: ops.transpose_backward(x, p),
                lambda x=x, p=axes_: _want_transpose_backward(x, p),
                exact=True,
            )
        for sn, shape, _ in [*shapes, ("-1", -1, False), ("(3, -1)", (3, -1), False)]:
            add(
                "reshape",
                f"{n} to {sn}",
                lambda x=x, s=shape: ops.reshape(x, s),
                lambda x=x, s=shape: np.reshape(np.asarray(x), s),
                exact=True,
            )
        for xn in ("f64", "shape_4", "empty_0", "0d", "ragged", "none"):
            add(
                "reshape_backward",
                f"{n} to {xn}",
                lambda g=x, y=v[xn]: ops.reshape_backward(g, y),
                lambda g=x, y=v[xn]: np.reshape(np.asarray(g), np.shape(y)),
                exact=True,
            )

    w = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [2.0, 0.0, 1.0], [-1.0, 1.0, 1.0]])
    for n, x in v.items():
        add("linear", f"{n}, w", lambda x=x: ops.linear(x, w), lambda x=x: _want_linear(x, w))
        add("linear", f"f64, w={n}", lambda y=x: ops.linear(f, y), lambda y=x: _want_linear(f, y))
        add(
            "linear",
            f"f64, w, bias={n}",
            lambda b=x: ops.linear(f, w, b),
            lambda b=x: _want_linear(f, w, b),
        )
        g = np.ones((*np.shape(x)[:-1], 4)) if _shapes_ok(x) and np.ndim(x) else f
        add(
            "linear_backward",
            f"ones, {n}, w",
            lambda g=g, x=x: ops.linear_backward(g, x, w),
            lambda g=g, x=x: _want_linear_grad(g, x, w),
        )
        add(
            "linear_backward",
            f"grad {n}, f64, w",
            lambda g=x: ops.linear_backward(g, f, w),
            lambda g=x: _want_linear_grad(g, f, w),
        )
    # Views far too big to copy: NumPy raises MemoryError at once, and so must ferrograd
    # (a failed allocation inside the Rust core would abort the interpreter).
    big = np.broadcast_to(np.float64(1.0), (2**40,))
    col, row = np.broadcast_to(0.5, (2**33, 1)), np.broadcast_to(0.5, (1, 2**33))
    tall, wide = np.broadcast_to(0.5, (2**20, 1)), np.broadcast_to(0.5, (1, 2**20))
    add("exp", "2**40-element view", lambda: ops.exp(big), lambda: np.exp(big))
    add("add", "(2**33, 1) + (1, 2**33)", lambda: ops.add(col, row), lambda: col + row)
    add(
        "mul_backward",
        "2**40-element grad_output",
        lambda: ops.mul_backward(big, big, 2.0),
        lambda: _want_binary_grad("mul", big, big, 2.0),
    )
    add("matmul", "(2**20, 1) @ (1, 2**20)", lambda: ops.matmul(tall, wide), lambda: tall @ wide)
    square = np.broadcast_to(0.5, (2**20, 2**20))
    add("softmax", "(2**20, 2**20) view", lambda: ops.softmax(square), lambda: np.exp(square))
    cases += _smoke_cases(v)
    if os.environ.get(SELFTEST_ENV):
        cases.insert(0, Case("selftest", "abort", lambda: os.abort(), lambda: None))
    return cases


def _smoke_cases(v: dict[str, Any]) -> list[Case]:
    """Convolution and pooling: bad arrays in each array argument and bad settings."""
    from ferrograd import ops

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((3, 2, 2, 2))
    gc = np.ones((1, 3, 4, 4))
    gp = np.ones((1, 2, 2, 2))
    idx = ops.max_pool2d(x, 2, return_indices=True)[1]
    arrays = {**v, "x_nan": np.where(x > 1, np.nan, x), "x_empty": np.zeros((0, 2, 5, 5))}
    arrays |= {"x_3d": x[0], "x_f32": x.astype(np.float32), "x_tiny": np.ones((1, 2, 1, 1))}
    calls: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("conv2d", "input", lambda a: ops.conv2d(a, w)),
        ("conv2d", "weight", lambda a: ops.conv2d(x, a)),
        ("conv2d", "bias", lambda a: ops.conv2d(x, w, a)),
        ("conv2d_backward", "grad_output", lambda a: ops.conv2d_backward(a, x, w)),
        ("conv2d_backward", "input", lambda a: ops.conv2d_backward(gc, a, w)),
        ("conv2d_backward", "weight", lambda a: ops.conv2d_backward(gc, x, a)),
        ("max_pool2d", "input", lambda a: ops.max_pool2d(a, 2)),
        ("max_pool2d", "input, indices", lambda a: ops.max_pool2d(a, 2, return_indices=True)),
        ("max_pool2d_backward", "grad_output", lambda a: ops.max_pool2d_backward(a, x, 2)),
        ("max_pool2d_backward", "input", lambda a: ops.max_pool2d_backward(gp, a, 2)),
        (
            "max_pool2d_backward",
            "indices",
            lambda a: ops.max_pool2d_backward(gp, x, 2, indices=a),
        ),
        ("avg_pool2d", "input", lambda a: ops.avg_pool2d(a, 2)),
        ("avg_pool2d_backward", "grad_output", lambda a: ops.avg_pool2d_backward(a, x, 2)),
        ("avg_pool2d_backward", "input", lambda a: ops.avg_pool2d_backward(gp, a, 2)),
    ]
    cases = [
        Case(op, f"{arg}={n}", lambda fn=fn, a=a: fn(a), lambda: None, smoke=True)
        for op, arg, fn in calls
        for n, a in arrays.items()
    ]
    bad_ints: list[Any] = [0, -1, 1.5, "a", None, (1, 2, 3), (), (2**70, 1), 2**70, 100, True]
    settings: list[tuple[str, Callable[[Any], Any]]] = [
        ("conv2d", lambda s: ops.conv2d(x, w, stride=s)),
        ("conv2d", lambda s: ops.conv2d(x, w, padding=s)),
        ("conv2d", lambda s: ops.conv2d(x, w, dilation=s)),
        ("conv2d", lambda s: ops.conv2d(x, w, groups=s)),
        ("conv2d_backward", lambda s: ops.conv2d_backward(gc, x, w, stride=s)),
        ("conv2d_backward", lambda s: ops.conv2d_backward(gc, x, w, padding=s)),
        ("conv2d_backward", lambda s: ops.conv2d_backward(gc, x, w, groups=s)),
        ("max_pool2d", lambda s: ops.max_pool2d(x, s)),
        ("max_pool2d", lambda s: ops.max_pool2d(x, 2, stride=s)),
        ("max_pool2d", lambda s: ops.max_pool2d(x, 3, padding=s, ceil_mode=True)),
        ("max_pool2d", lambda s: ops.max_pool2d(x, 2, dilation=s)),
        ("max_pool2d_backward", lambda s: ops.max_pool2d_backward(gp, x, s)),
        ("max_pool2d_backward", lambda s: ops.max_pool2d_backward(gp, x, 2, padding=s)),
        ("avg_pool2d", lambda s: ops.avg_pool2d(x, s)),
        ("avg_pool2d", lambda s: ops.avg_pool2d(x, 2, stride=s, ceil_mode=True)),
        ("avg_pool2d", lambda s: ops.avg_pool2d(x, 3, padding=s, count_include_pad=False)),
        ("avg_pool2d", lambda s: ops.avg_pool2d(x, 2, divisor_override=s)),
        ("avg_pool2d_backward", lambda s: ops.avg_pool2d_backward(gp, x, s)),
        ("avg_pool2d_backward", lambda s: ops.avg_pool2d_backward(gp, x, 2, divisor_override=s)),
    ]
    cases += [
        Case(op, f"setting {s!r}", lambda fn=fn, s=s: fn(s), lambda: None, smoke=True)
        for op, fn in settings
        for s in bad_ints
    ]
    for pad in ("same", "valid", "bogus"):
        for st in (1, 2):
            cases.append(
                Case(
                    "conv2d",
                    f"padding={pad!r}, stride={st}",
                    lambda p=pad, s=st: ops.conv2d(x, w, padding=p, stride=s),
                    lambda: None,
                    smoke=True,
                )
            )
    for bad in (idx + 10**6, idx - 100, idx + 2**62, idx.astype(np.float64), idx[..., :1]):
        cases.append(
            Case(
                "max_pool2d_backward",
                f"indices of dtype {bad.dtype}, max {bad.max()}",
                lambda b=bad: ops.max_pool2d_backward(gp, x, 2, indices=b),
                lambda: None,
                smoke=True,
            )
        )
    return cases


def _ndim(x: Any) -> int:
    try:
        return int(np.ndim(x))
    except ValueError:
        return -1


def _shapes_ok(*xs: Any) -> bool:
    try:
        np.broadcast_shapes(*(np.shape(x) for x in xs))
    except (ValueError, TypeError):
        return False
    return True


def _ones_out(nf: Callable[..., Any], x: Any, axis: Any, keepdims: bool) -> Any:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.ones(np.shape(nf(np.zeros(np.shape(x)), axis=axis, keepdims=keepdims)))
    except Exception:
        return np.ones(())


def _ones_matmul(a: Any, b: Any) -> Any:
    try:
        return np.ones(np.matmul(np.zeros(np.shape(a)), np.zeros(np.shape(b))).shape)
    except Exception:
        return np.ones((2, 2))


def _want_softmax_output(y: Any, x: Any, log: bool) -> np.ndarray:
    """Softmax's gradient computed from a given ``output`` (which must be real, x's shape)."""
    yy = _grad_like(y, np.shape(x))
    g = np.ones(np.shape(x))
    s = np.exp(yy) if log else yy
    if log:
        return g - s * g.sum(axis=1, keepdims=True)
    return s * (g - (g * s).sum(axis=1, keepdims=True))


# ---------------------------------------------------------------------------- judging


def _outcome(fn: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return True, fn()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a Rust panic is a BaseException
        return False, e


def _describe(e: BaseException) -> str:
    return f"{type(e).__module__}.{type(e).__qualname__}: {str(e)[:200]}"


def _compare(got: Any, want: Any, exact: bool, loose: bool) -> str | None:
    """What differs between ``got`` and NumPy's ``want``; ``loose`` (for gradients) only asks
    for non-finite values in the same places, since NaN, +inf or -inf there depends on how a
    formula is arranged."""
    g, w = np.asarray(got), np.asarray(want)
    if exact:
        same = g.dtype == w.dtype and g.shape == w.shape
        if same and g.dtype.kind in "fc":
            same = np.array_equal(g, w, equal_nan=True)
        elif same:
            same = np.array_equal(g, w)
        return None if same else f"returned {g.dtype}{g.shape}, NumPy gives {w.dtype}{w.shape}"
    if w.dtype not in FLOAT_DTYPES:
        return f"returned {g.dtype}, but NumPy's result is {w.dtype} (expected a DTypeError)"
    if g.dtype != w.dtype or g.shape != w.shape:
        return f"returned {g.dtype}{g.shape}, NumPy gives {w.dtype}{w.shape}"
    masks = [("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)]
    if loose:
        masks = [("non-finite", lambda a: ~np.isfinite(a))]
    for name, mask in masks:
        if not np.array_equal(mask(g), mask(w)):
            where = np.argwhere(mask(g)).tolist(), np.argwhere(mask(w)).tolist()
            return f"{name} at {where[0]}, NumPy has it at {where[1]}"
    fin = np.isfinite(w)
    tol = 1e-5 if w.dtype == np.float32 else 1e-12
    if not np.allclose(g[fin], w[fin], rtol=tol, atol=tol):
        return f"values {g[fin].tolist()[:6]} differ from NumPy's {w[fin].tolist()[:6]}"
    return None


def _is_float_result(want: Any) -> bool:
    items = want if isinstance(want, tuple) else (want,)
    return all(np.asarray(w).dtype in FLOAT_DTYPES for w in items)


def judge(case: Case, got: tuple[bool, Any], want: tuple[bool, Any]) -> str | None:
    """None when ferrograd's outcome is acceptable, else what is wrong with it."""
    from ferrograd import FerrogradError

    ok_g, g = got
    ok_w, w = want
    if case.smoke:
        if ok_g or isinstance(g, FerrogradError):
            return None
        return f"raised untyped {_describe(g)}"
    if not ok_g:
        if isinstance(g, FerrogradError):
            if ok_w and not case.lenient and not case.exact and _is_float_result(w):
                return f"raised {_describe(g)}, but NumPy gives a result"
            return None
        if isinstance(g, MemoryError) and not ok_w and isinstance(w, MemoryError):
            return None
        return f"raised untyped {_describe(g)}"
    if not ok_w:
        return f"returned a result, but NumPy raises {_describe(w)}"
    gs = g if isinstance(g, tuple) else (g,)
    ws = w if isinstance(w, tuple) else (w,)
    if len(gs) != len(ws):
        return f"returned {len(gs)} arrays, expected {len(ws)}"
    for i, (gi, wi) in enumerate(zip(gs, ws)):
        problem = _compare(gi, wi, case.exact, case.op.endswith("_backward"))
        if problem:
            return problem if len(gs) == 1 else f"output {i}: {problem}"
    return None


def judge_expect(case: Any, got: tuple[bool, Any]) -> str | None:
    """Verdict on a case of the extra batteries: the expected error (or, for a ``small`` case,
    a result) passes; anything else fails."""
    ok, g = got
    want = case.error.__name__
    if ok:
        return None if case.small else f"returned a result, expected {want}"
    if isinstance(g, case.error):
        return None
    return f"raised {_describe(g)}, expected {want}"


def run_battery(skip: int, battery: str = "ops") -> None:
    """Runs the cases of ``battery`` after the first ``skip``, one JSON line before and after
    each. ``ops`` is the battery of this file; the others are in ``battery_extra``.

    ``FERROGRAD_BATTERY_ONLY=<op>`` in the environment keeps that op's cases only.
    """
    out = sys.stdout
    if battery == "ops":
        cases: list[Any] = _cases()
    else:
        import battery_extra

        cases = battery_extra.BATTERIES[battery]()
        if os.environ.get(SELFTEST_ENV):
            cases.insert(0, battery_extra.Expect("selftest", "abort", lambda: os.abort()))
    only = os.environ.get("FERROGRAD_BATTERY_ONLY")
    if only:
        cases = [c for c in cases if c.op in (only, "selftest")]
    for i, case in enumerate(cases):
        if i < skip:
            continue
        out.write(json.dumps({"start": i, "op": case.op, "label": case.label}) + "\n")
        out.flush()
        if battery == "ops":
            verdict = judge(case, _outcome(case.run), _outcome(case.want))
        else:
            verdict = judge_expect(case, _outcome(case.run))
        out.write(json.dumps({"done": i, "op": case.op, "problem": verdict}) + "\n")
    out.flush()


# ============================================================================ the parent


@dataclass
class Report:
    """What the battery found: a problem per failed case, and how many cases each op had."""

    problems: dict[str, list[str]]
    counts: dict[str, int]
    restarts: int


def collect(
    env: dict[str, str] | None = None, max_restarts: int = 50, battery: str = "ops"
) -> Report:
    """Runs a battery in child interpreters, restarting after each crash."""
    problems: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    skip, restarts = 0, 0
    while True:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__)), "--child", battery, str(skip)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **(env or {})},
            cwd=HERE,
        )
        started: dict[str, Any] | None = None
        for line in proc.stdout.splitlines():
            rec = json.loads(line)
            if "start" in rec:
                started = rec
                counts[rec["op"]] = counts.get(rec["op"], 0) + 1
            else:
                started = None
                if rec["problem"]:
                    problems.setdefault(rec["op"], []).append(
                        f"[{_label_of(rec, proc.stdout)}] {rec['problem']}"
                    )
                skip = rec["done"] + 1
        if proc.returncode == 0 and started is None:
            return Report(problems, counts, restarts)
        if started is None:
            raise RuntimeError(f"battery failed outside any case: {proc.stderr[-2000:]}")
        tail = proc.stderr.strip().splitlines()[-3:]
        problems.setdefault(started["op"], []).append(
            f"[{started['label']}] CRASHED the interpreter (exit {proc.returncode}): "
            + " | ".join(tail)
        )
        skip = started["start"] + 1
        restarts += 1
        if restarts > max_restarts:
            raise RuntimeError("too many crashes; giving up")


def _label_of(rec: dict[str, Any], stdout: str) -> str:
    key = f'{{"start": {rec["done"]}, '
    for line in stdout.splitlines():
        if line.startswith(key):
            return str(json.loads(line)["label"])
    return "?"


@pytest.fixture(scope="module")
def report() -> Report:
    return collect()


def _public_ops() -> list[str]:
    from ferrograd import ops

    return sorted(ops.__all__)


@pytest.mark.parametrize("op", _public_ops())
def test_op_survives_bad_input(report: Report, op: str) -> None:
    assert report.counts.get(op, 0) >= 5, f"no bad-input cases for ferrograd.ops.{op}"
    problems = report.problems.get(op, [])
    shown = "\n".join(problems[:25])
    assert not problems, f"{len(problems)} of {report.counts[op]} cases failed:\n{shown}"


def test_battery_covers_only_public_ops(report: Report) -> None:
    unknown = set(report.counts) - set(_public_ops())
    assert not unknown, f"cases for names that ferrograd.ops does not export: {unknown}"
    assert report.restarts == 0


# ---------------------------------------------------------------------------- huge views


def _always_overcommits() -> bool:
    """True where Linux grants any allocation up front (``vm.overcommit_memory = 1``): there
    a 4 TiB request succeeds and only fails page by page, so no MemoryError can be expected."""
    try:
        return Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1"
    except OSError:
        return False


@pytest.fixture(scope="module")
def huge_report() -> Report:
    if _always_overcommits():
        pytest.skip("this system grants every allocation up front (vm.overcommit_memory = 1)")
    return collect(battery="huge", max_restarts=500)


def _public_callables() -> list[str]:
    """Every public function of ops and functional, and every layer and loss of nn."""
    import ferrograd.functional as F
    from ferrograd import nn, ops

    names = [f"ops.{n}" for n in ops.__all__] + [f"functional.{n}" for n in F.__all__]
    abstract = {"Module", "ModuleList", "Parameter", "RNNBase", "init", "utils"}
    names += [f"nn.{n}" for n in nn.__all__ if n not in abstract]
    return sorted(names)


@pytest.mark.parametrize("name", _public_callables())
def test_huge_views_raise_memory_error(huge_report: Report, name: str) -> None:
    """A view far too large to copy (2**40 elements) gives MemoryError, never an abort."""
    assert huge_report.counts.get(name, 0) >= 1, f"no huge-view case for ferrograd.{name}"
    problems = huge_report.problems.get(name, [])
    assert not problems, "\n".join(problems)


def test_huge_views_through_tensors_and_the_compiled_step(huge_report: Report) -> None:
    others = set(huge_report.counts) - set(_public_callables())
    assert {"compile", "tensor", "Tensor.__mul__", "Tensor.sum.backward"} <= others
    problems = [p for n in others for p in huge_report.problems.get(n, [])]
    assert not problems, "\n".join(problems)
    assert huge_report.restarts == 0


# ---------------------------------------------------------------------------- misuse


@pytest.fixture(scope="module")
def misuse_report() -> Report:
    return collect(battery="misuse", max_restarts=500)


def test_compiled_step_rejects_bad_targets_like_the_eager_loss(misuse_report: Report) -> None:
    """Wrong-shaped, 0-d, empty, None, scalar, string and out-of-range targets are typed
    errors (they once panicked in the kernel or were read out of place)."""
    assert misuse_report.counts["compile"] > 40
    problems = misuse_report.problems.get("compile", [])
    assert not problems, "\n".join(problems)
    assert misuse_report.restarts == 0


def test_a_crash_in_an_extra_battery_is_caught() -> None:
    rep = collect(env={SELFTEST_ENV: "1", "FERROGRAD_BATTERY_ONLY": "ops.exp"}, battery="huge")
    assert rep.restarts == 1
    assert any("CRASHED" in p for p in rep.problems["selftest"])
    assert rep.counts["ops.exp"] == 1 and "ops.exp" not in rep.problems


def test_a_crash_is_caught_and_the_battery_goes_on() -> None:
    """The harness itself: a case that aborts the interpreter is a reported failure."""
    rep = collect(env={SELFTEST_ENV: "1", "FERROGRAD_BATTERY_ONLY": "neg"})
    assert rep.restarts == 1
    assert any("CRASHED" in p for p in rep.problems["selftest"])
    assert rep.counts.get("neg", 0) > 10
    assert "neg" not in rep.problems


def test_judge_rejects_wrong_answers() -> None:
    """The verdicts themselves: wrong values, NaN places, dtypes and error types fail."""
    from ferrograd import DTypeError

    case = Case("x", "x", lambda: None, lambda: None)
    a = np.array([1.0, np.nan])
    assert judge(case, (True, a), (True, a.copy())) is None
    assert judge(case, (True, np.array([1.0, 2.0])), (True, a)) is not None
    assert judge(case, (True, np.array([1.5, np.nan])), (True, a)) is not None
    assert judge(case, (True, a.astype(np.float32)), (True, a)) is not None
    assert judge(case, (True, np.array([1, 2])), (True, np.array([1, 2]))) is not None
    assert judge(case, (False, DTypeError("no")), (True, np.array([1, 2]))) is None
    assert judge(case, (False, DTypeError("no")), (True, a)) is not None
    assert judge(case, (False, ValueError("no")), (False, ValueError("no"))) is not None
    assert judge(case, (True, a), (False, ValueError("no"))) is not None
    assert math.isnan(float(a[1]))


def _main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "--child":
        sys.path.insert(0, str(HERE))
        run_battery(int(argv[2]), argv[1])
        return 0
    rep = collect(battery=argv[0] if argv else "ops")
    for op in sorted(set(rep.counts) | set(rep.problems)):
        probs = rep.problems.get(op, [])
        print(f"{op:24s} {rep.counts.get(op, 0):5d} cases  {len(probs):4d} problems")
        for p in probs:
            print("    " + p)
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
