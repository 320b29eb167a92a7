"""Independent references: plain float64 NumPy, written from the formulas.

Nothing here calls ferrograd. Each area has its own section; add functions inside your
section only.
"""

from __future__ import annotations

import math

import numpy as np

# ======================================================== ops (tensor ops)


def _f64(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sums ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    g = _f64(grad)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def binary_ref(op: str, a: object, b: object) -> np.ndarray:
    """``a op b`` in float64 with broadcasting, for op in add/sub/mul/div."""
    x, y = _f64(a), _f64(b)
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "div":
        return x / y
    raise KeyError(op)


def binary_grad_ref(op: str, grad: object, a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of ``a op b``: the elementwise partial derivatives times ``grad``, summed
    over each input's broadcast axes."""
    x, y, g = _f64(a), _f64(b), _f64(grad)
    x, y = np.broadcast_arrays(x, y)
    if op == "add":
        ga, gb = g, g
    elif op == "sub":
        ga, gb = g, -g
    elif op == "mul":
        ga, gb = g * y, g * x
    elif op == "div":
        ga, gb = g / y, -g * x / (y * y)
    else:
        raise KeyError(op)
    return unbroadcast(ga, np.shape(a)), unbroadcast(gb, np.shape(b))


def unary_ref(op: str, x: object, p: float = 2.0) -> np.ndarray:
    """exp/log/sqrt/neg/pow of ``x`` in float64 (``p`` is pow's exponent)."""
    v = _f64(x)
    if op == "exp":
        return np.exp(v)
    if op == "log":
        return np.log(v)
    if op == "sqrt":
        return np.sqrt(v)
    if op == "neg":
        return -v
    if op == "abs":
        return np.abs(v)
    if op == "log1p":
        return np.log1p(v)
    if op == "pow":
        return v**p
    raise KeyError(op)


def unary_grad_ref(op: str, grad: object, x: object, p: float = 2.0) -> np.ndarray:
    """``grad * f'(x)`` for the unary ops; pow's derivative is 0 for ``p == 0``."""
    v, g = _f64(x), _f64(grad)
    if op == "exp":
        return g * np.exp(v)
    if op == "log":
        return g / v
    if op == "sqrt":
        return g * 0.5 / np.sqrt(v)
    if op == "neg":
        return -g
    if op == "abs":
        # PyTorch's sign: -1, 0 or 1, and 0 for NaN (comparisons with NaN are false).
        return g * ((v > 0).astype(np.float64) - (v < 0).astype(np.float64))
    if op == "log1p":
        return g / (1.0 + v)
    if op == "pow":
        return np.zeros_like(v * g) if p == 0 else g * p * v ** (p - 1)
    raise KeyError(op)


def _reduce_axes(ndim: int, axis: object) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim for a in items))


def _rows(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """``x`` as (kept elements, reduced elements) and the keepdims shape."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    keep_shape = tuple(1 if i in axes else x.shape[i] for i in range(x.ndim))
    count = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    n_kept = int(np.prod([x.shape[i] for i in kept], dtype=np.int64))
    return moved.reshape(n_kept, count), keep_shape


def _out_shape(keep_shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple:
    if keepdims:
        return keep_shape
    return tuple(d for i, d in enumerate(keep_shape) if i not in axes)


def reduce_ref(op: str, x: object, axis: object = None, keepdims: bool = False) -> np.ndarray:
    """sum (exactly rounded, ``math.fsum``), mean (that sum / count) and max of ``x``."""
    from math import fsum

    v = _f64(x)
    axes = _reduce_axes(v.ndim, axis)
    rows, keep_shape = _rows(v, axes)
    count = rows.shape[1]
    if op == "sum":
        flat = np.array([fsum(r) for r in rows])
    elif op == "mean":
        flat = np.array([fsum(r) / count if count else np.nan for r in rows])
    elif op in ("max", "min"):
        if count == 0:
            raise ValueError(f"{op} of an empty reduction")
        sign = 1.0 if op == "max" else -1.0
        flat = np.array([np.nan if np.isnan(r).any() else sign * _row_max(sign * r) for r in rows])
    else:
        raise KeyError(op)
    return flat.reshape(_out_shape(keep_shape, axes, keepdims))


def _row_max(row: np.ndarray) -> float:
    """Largest element of a non-empty row, by plain comparisons."""
    best = float(row[0])
    for value in row[1:]:
        if value > best:
            best = float(value)
    return best


def reduce_grad_ref(
    op: str, grad: object, x: object, axis: object = None, keepdims: bool = False
) -> np.ndarray:
    """Gradient of a reduction: ``grad`` spread over the reduced axes (divided by the count
    for mean; for max, shared equally among the elements equal to the maximum)."""
    v = _f64(x)
    axes = _reduce_axes(v.ndim, axis)
    keep_shape = tuple(1 if i in axes else v.shape[i] for i in range(v.ndim))
    g = _f64(grad).reshape(keep_shape)
    count = int(np.prod([v.shape[i] for i in axes], dtype=np.int64))
    if op == "sum":
        return np.broadcast_to(g, v.shape).copy()
    if op == "mean":
        # An empty reduction (count 0) has an empty gradient, whatever the divisor.
        return np.broadcast_to(g / max(count, 1), v.shape).copy()
    if op in ("max", "min"):
        m = reduce_ref(op, v, axes, keepdims=True)
        mask = (v == m).astype(np.float64)
        ties = mask.sum(axis=axes, keepdims=True)
        return mask * g / np.where(ties == 0, 1.0, ties)
    raise KeyError(op)


def clamp_ref(x: object, lo: float | None, hi: float | None) -> np.ndarray:
    """``torch.clamp`` by its definition ``min(max(x, lo), hi)``: ``lo > hi`` gives ``hi``; a NaN
    in ``x`` or in a bound gives NaN."""
    v = _f64(x).copy()
    if (lo is not None and math.isnan(lo)) or (hi is not None and math.isnan(hi)):
        return np.full(v.shape, np.nan)
    if lo is not None:
        v = np.where(v < lo, lo, v)
    if hi is not None:
        v = np.where(v > hi, hi, v)
    return v


def clamp_grad_ref(grad: object, x: object, lo: float | None, hi: float | None) -> np.ndarray:
    """``grad`` where ``lo < x < hi`` (0 at the bounds: the minimum-norm subgradient), else 0."""
    v, g = _f64(x), _f64(grad)
    inside = np.ones(v.shape, dtype=bool)
    if lo is not None:
        inside &= v > lo
    if hi is not None:
        inside &= v < hi
    return np.where(inside, g, 0.0)


def arg_ref(op: str, x: object, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """Index of the first maximum (argmax) or minimum (argmin) by a plain scan, a NaN counting
    as the extreme (the first NaN wins); over the flattened array for ``axis=None``."""
    v = _f64(x)
    if axis is None:
        rows, out_shape = v.reshape(1, -1), ((1,) * v.ndim if keepdims else ())
    else:
        ax = axis % v.ndim
        moved = np.moveaxis(v, ax, -1)
        rows = moved.reshape(-1, v.shape[ax])
        out_shape = moved.shape[:-1]
        if keepdims:
            out_shape = tuple(1 if i == ax else d for i, d in enumerate(v.shape))
    out = []
    for r in rows:
        best = 0
        for i in range(1, len(r)):
            if np.isnan(r[best]):
                break
            if np.isnan(r[i]) or (r[i] > r[best] if op == "argmax" else r[i] < r[best]):
                best = i
        out.append(best)
    return np.array(out, dtype=np.int64).reshape(out_shape)


def var_ref(
    x: object, axis: object = None, correction: float = 1.0, keepdims: bool = False
) -> np.ndarray:
    """``sum((x - mean)**2) / max(0, N - correction)`` (exactly rounded sums)."""
    from math import fsum

    v = _f64(x)
    axes = _reduce_axes(v.ndim, axis)
    rows, keep_shape = _rows(v, axes)
    n = rows.shape[1]
    d = max(0.0, n - correction)
    out = []
    for r in rows:
        if n == 0:
            out.append(np.nan)
            continue
        total = fsum if np.isfinite(r).all() else np.sum  # fsum refuses inf - inf
        m = total(r) / n
        with np.errstate(invalid="ignore"):
            ss = total((r - m) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.float64(ss) / np.float64(d))
    return np.array(out).reshape(_out_shape(keep_shape, axes, keepdims))


def var_grad_ref(
    grad: object, x: object, axis: object = None, correction: float = 1.0, keepdims: bool = False
) -> np.ndarray:
    """``grad * 2 (x - mean) / (N - correction)`` (for ``N - correction > 0``)."""
    v = _f64(x)
    axes = _reduce_axes(v.ndim, axis)
    keep_shape = tuple(1 if i in axes else v.shape[i] for i in range(v.ndim))
    n = int(np.prod([v.shape[i] for i in axes], dtype=np.int64))
    g = _f64(grad).reshape(keep_shape)
    m = v.mean(axis=axes, keepdims=True)
    return 2.0 * g * (v - m) / (n - correction)


def std_ref(
    x: object, axis: object = None, correction: float = 1.0, keepdims: bool = False
) -> np.ndarray:
    """Square root of :func:`var_ref`."""
    return np.sqrt(var_ref(x, axis, correction, keepdims))


def std_grad_ref(
    grad: object, x: object, axis: object = None, correction: float = 1.0, keepdims: bool = False
) -> np.ndarray:
    """``grad * (x - mean) / ((N - correction) std)``, 0 where ``std`` is 0."""
    v = _f64(x)
    axes = _reduce_axes(v.ndim, axis)
    keep_shape = tuple(1 if i in axes else v.shape[i] for i in range(v.ndim))
    s = std_ref(v, axis, correction, keepdims=True)
    g = _f64(grad).reshape(keep_shape)
    coef = np.where(s == 0, 0.0, g / np.where(s == 0, 1.0, 2 * s))
    return var_grad_ref(coef, v, axis, correction, keepdims=True)


def _last(x: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(x, axis, -1)


def softmax_ref(x: object, axis: int = -1) -> np.ndarray:
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis`` (shifted by the row maximum)."""
    v = _f64(x)
    e = np.exp(v - np.max(v, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_ref(x: object, axis: int = -1) -> np.ndarray:
    """``x_i - log(sum_j exp(x_j))`` along ``axis`` (shifted by the row maximum)."""
    v = _f64(x)
    m = np.max(v, axis=axis, keepdims=True)
    return v - m - np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True))


def softmax_grad_ref(grad: object, x: object, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product with the explicit Jacobian ``J_ij = s_i (delta_ij - s_j)``."""
    s = _last(softmax_ref(x, axis), axis)
    g = _last(_f64(grad), axis)
    eye = np.eye(s.shape[-1])
    jac = s[..., :, None] * (eye - s[..., None, :])
    return np.moveaxis(np.einsum("...i,...ij->...j", g, jac), -1, axis)


def log_softmax_grad_ref(grad: object, x: object, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product with the explicit Jacobian ``J_ij = delta_ij - s_j``."""
    s = _last(softmax_ref(x, axis), axis)
    g = _last(_f64(grad), axis)
    eye = np.eye(s.shape[-1])
    jac = eye - s[..., None, :]
    return np.moveaxis(np.einsum("...i,...ij->...j", g, jac), -1, axis)


def _matmul_operands(a: object, b: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both operands as (batch..., rows, cols) broadcast to a common batch, plus the
    un-broadcast 2-D-or-more forms (1-D operands get a unit row/column)."""
    x, y = _f64(a), _f64(b)
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    batch = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
    xb = np.broadcast_to(x2, batch + x2.shape[-2:])
    yb = np.broadcast_to(y2, batch + y2.shape[-2:])
    return x2, y2, xb, yb


def matmul_ref(a: object, b: object) -> np.ndarray:
    """``a @ b`` by ``out[..., i, j] = sum_k a[..., i, k] b[..., k, j]`` with NumPy's rules
    for 1-D operands and broadcast batch axes."""
    _, _, xb, yb = _matmul_operands(a, b)
    out = np.einsum("...ik,...kj->...ij", xb, yb)
    if np.ndim(a) == 1:
        out = out[..., 0, :]
    if np.ndim(b) == 1:
        out = out[..., 0]
    return out


def matmul_grad_ref(grad: object, a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """``(grad @ b^T, a^T @ grad)``, each summed over its operand's broadcast batch axes."""
    x2, y2, xb, yb = _matmul_operands(a, b)
    g = _f64(grad)
    if np.ndim(b) == 1:
        g = g[..., None]
    if np.ndim(a) == 1:
        g = g[..., None, :]
    ga = np.einsum("...ij,...kj->...ik", g, yb)
    gb = np.einsum("...ik,...ij->...kj", xb, g)
    return (
        unbroadcast(ga, x2.shape).reshape(np.shape(a)),
        unbroadcast(gb, y2.shape).reshape(np.shape(b)),
    )


# ======================================================== activations


def _act64(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _phi_cdf(v: np.ndarray) -> np.ndarray:
    """Standard normal CDF ``erfc(-x / sqrt 2) / 2`` (accurate in the lower tail too)."""
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    return 0.5 * erfc(-v / math.sqrt(2.0)) if v.size else np.zeros_like(v)


def relu_ref(x: object) -> np.ndarray:
    """``max(x, 0)``."""
    v = _act64(x)
    return np.where(v > 0, v, 0.0)


def relu_grad_ref(grad: object, x: object) -> np.ndarray:
    """``grad`` where ``x > 0``, else 0 (PyTorch: 0 at the kink)."""
    v = _act64(x)
    return np.where(v > 0, _act64(grad), 0.0)


def leaky_relu_ref(x: object, negative_slope: float = 0.01) -> np.ndarray:
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    v = _act64(x)
    return np.where(v > 0, v, negative_slope * v)


def leaky_relu_grad_ref(grad: object, x: object, negative_slope: float = 0.01) -> np.ndarray:
    """Slope 1 where ``x > 0``, else ``negative_slope`` (also at 0)."""
    v, g = _act64(x), _act64(grad)
    return np.where(v > 0, g, negative_slope * g)


def sigmoid_ref(x: object) -> np.ndarray:
    """``1 / (1 + exp(-x))``."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-_act64(x)))


def sigmoid_grad_ref(grad: object, x: object) -> np.ndarray:
    """``grad * s * (1 - s)``."""
    s = sigmoid_ref(x)
    return _act64(grad) * s * (1.0 - s)


def tanh_ref(x: object) -> np.ndarray:
    """``(e^x - e^-x) / (e^x + e^-x)`` for moderate ``x``."""
    v = _act64(x)
    return (np.exp(v) - np.exp(-v)) / (np.exp(v) + np.exp(-v))


def tanh_grad_ref(grad: object, x: object) -> np.ndarray:
    """``grad / cosh(x)**2``."""
    return _act64(grad) / np.cosh(_act64(x)) ** 2


_GELU_K = math.sqrt(2.0 / math.pi)


def gelu_ref(x: object, approximate: str = "none") -> np.ndarray:
    """``x Phi(x)``, or ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    v = _act64(x)
    if approximate == "tanh":
        return 0.5 * v * (1.0 + np.tanh(_GELU_K * (v + 0.044715 * v**3)))
    return v * _phi_cdf(v)


def gelu_grad_ref(grad: object, x: object, approximate: str = "none") -> np.ndarray:
    """``grad * (Phi(x) + x phi(x))``, or the derivative of the tanh form."""
    v, g = _act64(x), _act64(grad)
    if approximate == "tanh":
        t = np.tanh(_GELU_K * (v + 0.044715 * v**3))
        du = _GELU_K * (1.0 + 3 * 0.044715 * v**2)
        return g * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du)
    pdf = np.exp(-0.5 * v * v) / math.sqrt(2.0 * math.pi)
    return g * (_phi_cdf(v) + v * pdf)


def elu_ref(x: object, alpha: float = 1.0) -> np.ndarray:
    """``x`` where ``x > 0``, else ``alpha (e^x - 1)``."""
    v = _act64(x)
    return np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0.0)))


def elu_grad_ref(grad: object, x: object, alpha: float = 1.0) -> np.ndarray:
    """Slope 1 where ``x > 0``, else ``alpha e^x`` (``alpha`` at 0)."""
    v, g = _act64(x), _act64(grad)
    return np.where(v > 0, g, g * alpha * np.exp(np.minimum(v, 0.0)))


def silu_ref(x: object) -> np.ndarray:
    """``x * sigmoid(x)``."""
    return _act64(x) * sigmoid_ref(x)


def silu_grad_ref(grad: object, x: object) -> np.ndarray:
    """``grad * (s + x s (1 - s))``."""
    v, s = _act64(x), sigmoid_ref(x)
    return _act64(grad) * (s + v * s * (1.0 - s))


def softplus_ref(x: object, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """``log(1 + exp(beta x)) / beta``, or ``x`` where ``beta x > threshold``."""
    v = _act64(x)
    bv = v * beta
    with np.errstate(over="ignore"):
        soft = np.log1p(np.exp(bv)) / beta
    return np.where(bv > threshold, v, soft)


def softplus_grad_ref(
    grad: object, x: object, beta: float = 1.0, threshold: float = 20.0
) -> np.ndarray:
    """``grad * e^{beta x} / (1 + e^{beta x})``, or ``grad`` where ``beta x > threshold``."""
    v, g = _act64(x), _act64(grad)
    bv = v * beta
    return np.where(bv > threshold, g, g * sigmoid_ref(bv))


def softmax_dim_ref(x: object, dim: int = -1) -> np.ndarray:
    """``exp(x_i - m) / sum_j exp(x_j - m)`` along ``dim``, ``m`` the maximum."""
    v = _act64(x)
    e = np.exp(v - np.max(v, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax_dim_ref(x: object, dim: int = -1) -> np.ndarray:
    """``x_i - m - log(sum_j exp(x_j - m))`` along ``dim``."""
    v = _act64(x)
    z = v - np.max(v, axis=dim, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))


def softmax_dim_grad_ref(grad: object, x: object, dim: int = -1) -> np.ndarray:
    """``y * (g - sum(g * y))`` along ``dim`` with ``y = softmax(x)``."""
    y, g = softmax_dim_ref(x, dim), _act64(grad)
    return y * (g - np.sum(g * y, axis=dim, keepdims=True))


def log_softmax_dim_grad_ref(grad: object, x: object, dim: int = -1) -> np.ndarray:
    """``g - softmax(x) * sum(g)`` along ``dim``."""
    g = _act64(grad)
    return g - softmax_dim_ref(x, dim) * np.sum(g, axis=dim, keepdims=True)


# ======================================================== regression losses


def _loss_reduce(per: np.ndarray, reduction: str) -> np.ndarray:
    """``none`` keeps the per-element losses; ``sum`` adds them; ``mean`` averages them."""
    if reduction == "none":
        return per
    total = float(np.sum(per, dtype=np.float64))
    return np.asarray(total / per.size if reduction == "mean" else total)


def _loss_grad(slope: np.ndarray, grad: object, reduction: str) -> np.ndarray:
    """``slope * grad`` (elementwise for none; the scalar over the count for mean)."""
    g = _act64(grad)
    if reduction == "none":
        return slope * g
    return slope * float(g) / (slope.size if reduction == "mean" else 1)


def mse_loss_ref(x: object, y: object, reduction: str = "mean") -> np.ndarray:
    """``(x - y)^2``."""
    return _loss_reduce((_act64(x) - _act64(y)) ** 2, reduction)


def mse_loss_grad_ref(grad: object, x: object, y: object, reduction: str = "mean") -> np.ndarray:
    """``2 (x - y)``."""
    return _loss_grad(2.0 * (_act64(x) - _act64(y)), grad, reduction)


def l1_loss_ref(x: object, y: object, reduction: str = "mean") -> np.ndarray:
    """``|x - y|``."""
    return _loss_reduce(np.abs(_act64(x) - _act64(y)), reduction)


def l1_loss_grad_ref(grad: object, x: object, y: object, reduction: str = "mean") -> np.ndarray:
    """``sign(x - y)``, 0 where equal."""
    return _loss_grad(np.sign(_act64(x) - _act64(y)), grad, reduction)


def huber_loss_ref(x: object, y: object, reduction: str = "mean", delta: float = 1.0) -> np.ndarray:
    """``d^2 / 2`` for ``|d| < delta``, else ``delta (|d| - delta / 2)``."""
    a = np.abs(_act64(x) - _act64(y))
    return _loss_reduce(np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta)), reduction)


def huber_loss_grad_ref(
    grad: object, x: object, y: object, reduction: str = "mean", delta: float = 1.0
) -> np.ndarray:
    """``clip(d, -delta, delta)``."""
    return _loss_grad(np.clip(_act64(x) - _act64(y), -delta, delta), grad, reduction)


def smooth_l1_loss_ref(
    x: object, y: object, reduction: str = "mean", beta: float = 1.0
) -> np.ndarray:
    """``d^2 / (2 beta)`` for ``|d| < beta``, else ``|d| - beta / 2``; ``|d|`` for beta 0."""
    a = np.abs(_act64(x) - _act64(y))
    if beta == 0:
        return _loss_reduce(a, reduction)
    return _loss_reduce(np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta), reduction)


def smooth_l1_loss_grad_ref(
    grad: object, x: object, y: object, reduction: str = "mean", beta: float = 1.0
) -> np.ndarray:
    """``clip(d / beta, -1, 1)``; ``sign(d)`` for beta 0."""
    d = _act64(x) - _act64(y)
    slope = np.sign(d) if beta == 0 else np.clip(d / beta, -1.0, 1.0)
    return _loss_grad(slope, grad, reduction)


# ======================================================== distribution measures


def _log_base(base: float | None) -> float:
    return 1.0 if base is None else math.log(base)


def entropy_ref(p: object, dim: int = -1, base: float | None = None) -> np.ndarray:
    """``-sum p log p`` along ``dim`` with ``0 log 0 = 0``, divided by ``log(base)``."""
    v = _act64(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(v > 0, -v * np.log(np.where(v > 0, v, 1.0)), 0.0)
    if v.ndim == 0:
        return terms / _log_base(base)
    return np.sum(terms, axis=dim) / _log_base(base)


def entropy_grad_ref(
    grad: object, p: object, dim: int = -1, base: float | None = None
) -> np.ndarray:
    """``-(log p + 1) / log(base)`` times the gradient of ``p``'s distribution."""
    v = _act64(p)
    g = _act64(grad) if v.ndim == 0 else np.expand_dims(_act64(grad), dim)
    return -(np.log(v) + 1.0) * g / _log_base(base)


def cross_entropy_dist_ref(
    p: object, q: object, dim: int = -1, base: float | None = None
) -> np.ndarray:
    """``-sum p log q`` along ``dim`` (terms with ``p = 0`` are 0)."""
    a, b = _act64(p), _act64(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(a > 0, -a * np.log(b), 0.0)
    if a.ndim == 0:
        return terms / _log_base(base)
    return np.sum(terms, axis=dim) / _log_base(base)


def cross_entropy_dist_grad_ref(
    grad: object, p: object, q: object, dim: int = -1, base: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(-log q, -p / q)`` over ``log(base)`` times each distribution's gradient."""
    a, b = _act64(p), _act64(q)
    g = _act64(grad) if a.ndim == 0 else np.expand_dims(_act64(grad), dim)
    lb = _log_base(base)
    return -np.log(b) * g / lb, np.where(a > 0, -a / b, 0.0) * g / lb


def kl_div_ref(
    x: object, target: object, reduction: str = "mean", log_target: bool = False
) -> np.ndarray:
    """PyTorch's ``kl_div``: ``t (log t - x)`` (0 where ``t = 0``), or ``e^t (t - x)``."""
    v, t = _act64(x), _act64(target)
    if log_target:
        per = np.exp(t) * (t - v)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(t == 0, 0.0, t * (np.log(np.where(t == 0, 1.0, t)) - v))
    if reduction == "batchmean":
        total = float(np.sum(per))
        return np.asarray(total / v.shape[0] if v.ndim else total)
    return _loss_reduce(per, reduction)


def kl_div_grad_ref(
    grad: object, x: object, target: object, reduction: str = "mean", log_target: bool = False
) -> np.ndarray:
    """``-t`` (or ``-e^t``) times the gradient, scaled by the reduction."""
    v, t = _act64(x), _act64(target)
    slope = -np.exp(t) if log_target else -t
    if reduction == "batchmean":
        return slope * float(_act64(grad)) / (v.shape[0] if v.ndim else 1)
    return _loss_grad(slope, grad, reduction)


# ======================================================== classification losses


def _class_rows(x: object) -> tuple[np.ndarray, tuple[int, ...]]:
    """(C,), (N, C) or (N, C, d...) as rows (R, C), plus the shape of the per-row loss."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :], ()
    rows = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    return rows, (x.shape[0], *x.shape[2:])


def _class_unrows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_class_rows` for an array of the input's shape."""
    if len(shape) == 1:
        return rows[0]
    moved = rows.reshape(shape[0], *shape[2:], shape[1])
    return np.moveaxis(moved, -1, 1)


def _log_softmax_rows(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True) if z.shape[1] else np.zeros((z.shape[0], 1))
    return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def _class_dist(
    x: object, target: object, weight: object, ignore_index: int, label_smoothing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, tuple[int, ...]]:
    """Rows of logits, the weighted smoothed target distribution ``w_c q_c`` of each row, the
    ignore mask, the class weights, the mean's divisor, and the per-row loss shape."""
    z, out_shape = _class_rows(x)
    r, c = z.shape
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    t = np.asarray(target)
    if t.dtype.kind == "f":
        q, _ = _class_rows(t)
        q = (1 - label_smoothing) * q + label_smoothing / c
        ignored = np.zeros(r, dtype=bool)
        divisor = float(r)
    else:
        y = t.reshape(-1).astype(np.int64)
        ignored = y == ignore_index
        onehot = np.zeros((r, c))
        keep = np.flatnonzero(~ignored)
        onehot[keep, y[keep]] = 1.0
        q = (1 - label_smoothing) * onehot + label_smoothing / c
        q[ignored] = 0.0
        divisor = float(np.sum(w[y[keep]]))
    return z, w[None, :] * q, ignored, w, divisor, out_shape


def _class_reduce(per: np.ndarray, reduction: str, divisor: float, shape: tuple) -> np.ndarray:
    if reduction == "none":
        return per.reshape(shape)
    total = float(np.sum(per))
    if reduction == "sum":
        return np.array(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array(np.float64(total) / np.float64(divisor))


def _class_coef(grad: object, reduction: str, divisor: float, rows: int) -> np.ndarray:
    g = np.asarray(grad, dtype=np.float64)
    if reduction == "none":
        return g.reshape(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.float64(1.0) / np.float64(divisor) if reduction == "mean" else 1.0
        return np.full(rows, float(g.reshape(-1)[0]) * scale)


def cross_entropy_ref(
    x: object,
    target: object,
    weight: object = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    """``-sum_c w_c q_c log_softmax(x)_c`` per row, with ``q`` the (smoothed) target
    distribution: a one-hot label or the given probabilities, mixed with the uniform one."""
    z, wq, ignored, _, divisor, shape = _class_dist(
        x, target, weight, ignore_index, label_smoothing
    )
    logp = _log_softmax_rows(z)
    per = -np.sum(wq * logp, axis=1)
    per[ignored] = 0.0
    return _class_reduce(per, reduction, divisor, shape)


def cross_entropy_grad_ref(
    grad: object,
    x: object,
    target: object,
    weight: object = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    """d loss / d x_j of each row: ``softmax_j * sum_c w_c q_c - w_j q_j`` times the row's
    share of ``grad``."""
    z, wq, ignored, _, divisor, _ = _class_dist(x, target, weight, ignore_index, label_smoothing)
    p = np.exp(_log_softmax_rows(z))
    g = p * wq.sum(axis=1, keepdims=True) - wq
    with np.errstate(invalid="ignore"):
        g *= _class_coef(grad, reduction, divisor, z.shape[0])[:, None]
    g[ignored] = 0.0
    return _class_unrows(g, np.shape(x))


def nll_loss_ref(
    x: object,
    target: object,
    weight: object = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> np.ndarray:
    """``-w_y x_y`` per row (0 where the label is ignored)."""
    z, wq, ignored, _, divisor, shape = _class_dist(x, target, weight, ignore_index, 0.0)
    per = -np.sum(wq * z, axis=1)
    per[ignored] = 0.0
    return _class_reduce(per, reduction, divisor, shape)


def nll_loss_grad_ref(
    grad: object,
    x: object,
    target: object,
    weight: object = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> np.ndarray:
    """``-w_y`` times the row's share of ``grad`` at each label, 0 elsewhere."""
    z, wq, ignored, _, divisor, _ = _class_dist(x, target, weight, ignore_index, 0.0)
    with np.errstate(invalid="ignore"):
        g = -wq * _class_coef(grad, reduction, divisor, z.shape[0])[:, None]
    g[ignored] = 0.0
    return _class_unrows(g, np.shape(x))


def _binary_reduce(per: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return per
    total = np.sum(per)
    if reduction == "sum":
        return np.array(total)
    with np.errstate(invalid="ignore"):
        return np.array(total / per.size if per.size else np.nan)


def _binary_coef(grad: object, reduction: str, shape: tuple[int, ...]) -> np.ndarray:
    g = np.asarray(grad, dtype=np.float64)
    if reduction == "none":
        return g
    n = int(np.prod(shape)) if reduction == "mean" else 1
    return np.full(shape, float(g.reshape(-1)[0]) / max(n, 1))


def _weights(weight: object, shape: tuple[int, ...]) -> np.ndarray:
    if weight is None:
        return np.ones(shape)
    return np.broadcast_to(np.asarray(weight, dtype=np.float64), shape)


def binary_cross_entropy_ref(
    x: object, t: object, weight: object = None, reduction: str = "mean"
) -> np.ndarray:
    """``-w (t log x + (1 - t) log(1 - x))`` with each log clamped at -100."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
    per = -_weights(weight, x.shape) * (t * log_x + (1 - t) * log_1mx)
    return _binary_reduce(per, reduction)


def binary_cross_entropy_grad_ref(
    grad: object, x: object, t: object, weight: object = None, reduction: str = "mean"
) -> np.ndarray:
    """``w (x - t) / max(x (1 - x), 1e-12)`` times the element's share of ``grad``."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    d = np.maximum(x * (1 - x), 1e-12)
    return _binary_coef(grad, reduction, x.shape) * _weights(weight, x.shape) * (x - t) / d


def binary_cross_entropy_with_logits_ref(
    x: object, t: object, weight: object = None, reduction: str = "mean", pos_weight: object = None
) -> np.ndarray:
    """``w (pw t log(1 + e^-x) + (1 - t) log(1 + e^x))``, via ``logaddexp``."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    pw = _weights(pos_weight, x.shape)
    per = pw * t * np.logaddexp(0.0, -x) + (1 - t) * np.logaddexp(0.0, x)
    return _binary_reduce(_weights(weight, x.shape) * per, reduction)


def binary_cross_entropy_with_logits_grad_ref(
    grad: object,
    x: object,
    t: object,
    weight: object = None,
    reduction: str = "mean",
    pos_weight: object = None,
) -> np.ndarray:
    """``w ((1 - t) sigmoid(x) - pw t (1 - sigmoid(x)))`` times the element's share of
    ``grad``."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    pw = _weights(pos_weight, x.shape)
    s = 0.5 * (1.0 + np.tanh(0.5 * x))
    slope = (1 - t) * s - pw * t * (1 - s)
    return _binary_coef(grad, reduction, x.shape) * _weights(weight, x.shape) * slope


# ======================================================== margin losses


def _margin_reduce(per: np.ndarray, reduction: str) -> np.ndarray:
    """Reduces per-element (or per-row) losses; the mean of nothing is NaN."""
    if reduction == "none":
        return per
    if reduction == "sum":
        return np.asarray(per.sum())
    return np.asarray(per.sum() / per.size if per.size else np.nan)


def _margin_weights(grad: object, shape: tuple[int, ...], reduction: str) -> np.ndarray:
    """d(reduced loss)/d(per-element loss) times grad_output, in the per-element shape."""
    g = np.asarray(grad, dtype=np.float64)
    if reduction == "none":
        return np.broadcast_to(g, shape)
    n = int(np.prod(shape, dtype=np.int64))
    scale = 1.0 / n if (reduction == "mean" and n) else 1.0
    return np.full(shape, float(g.reshape(-1)[0]) * scale)


def hinge_loss_ref(
    x: object, t: object, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    x, t = _f64(x), _f64(t)
    return _margin_reduce(np.maximum(0.0, margin - t * x), reduction)


def hinge_loss_grad_ref(
    grad: object, x: object, t: object, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    x, t = _f64(x), _f64(t)
    active = (margin - t * x) >= 0  # the kink counts as active, as torch.clamp_min
    return _margin_weights(grad, x.shape, reduction) * np.where(active, -t, 0.0)


def hinge_embedding_loss_ref(
    x: object, t: object, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    x, t = _f64(x), _f64(t)
    return _margin_reduce(np.where(t == 1, x, np.maximum(0.0, margin - x)), reduction)


def hinge_embedding_loss_grad_ref(
    grad: object, x: object, t: object, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    x, t = _f64(x), _f64(t)
    slope = np.where(t == 1, 1.0, np.where(margin - x >= 0, -1.0, 0.0))
    return _margin_weights(grad, x.shape, reduction) * slope


def soft_margin_loss_ref(x: object, t: object, reduction: str = "mean") -> np.ndarray:
    x, t = _f64(x), _f64(t)
    return _margin_reduce(np.logaddexp(0.0, -t * x), reduction)


def soft_margin_loss_grad_ref(
    grad: object, x: object, t: object, reduction: str = "mean"
) -> np.ndarray:
    x, t = _f64(x), _f64(t)
    sig = 0.5 * (1.0 + np.tanh(0.5 * (-t * x)))  # sigmoid(-t x)
    return _margin_weights(grad, x.shape, reduction) * (-t * sig)


def _mm_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.reshape(-1, x.shape[-1] if x.ndim else 1), np.asarray(y).reshape(-1)


def multi_margin_loss_ref(
    x: object,
    y: object,
    p: int = 1,
    margin: float = 1.0,
    weight: object = None,
    reduction: str = "mean",
) -> np.ndarray:
    x = _f64(x)
    rows, labels = _mm_rows(x, np.asarray(y))
    n, c = rows.shape
    w = np.ones(c) if weight is None else _f64(weight)
    per = np.zeros(n)
    for s in range(n):
        k = int(labels[s])
        for i in range(c):
            if i != k:
                per[s] += w[k] * max(0.0, margin - rows[s, k] + rows[s, i]) ** p / c
    if reduction == "none":
        return per if np.ndim(y) > 0 else per.reshape(())
    return _margin_reduce(per, reduction)


def multi_margin_loss_grad_ref(
    grad: object,
    x: object,
    y: object,
    p: int = 1,
    margin: float = 1.0,
    weight: object = None,
    reduction: str = "mean",
) -> np.ndarray:
    x = _f64(x)
    rows, labels = _mm_rows(x, np.asarray(y))
    n, c = rows.shape
    w = np.ones(c) if weight is None else _f64(weight)
    gw = _margin_weights(
        np.asarray(grad).reshape(-1) if reduction == "none" else grad, (n,), reduction
    )
    out = np.zeros_like(rows)
    for s in range(n):
        k = int(labels[s])
        for i in range(c):
            z = margin - rows[s, k] + rows[s, i]
            if i != k and z > 0:  # PyTorch's kernel: strictly positive terms only
                h = gw[s] * w[k] * (1.0 if p == 1 else 2.0 * z) / c
                out[s, i] += h
                out[s, k] -= h
    return out.reshape(x.shape)


# ======================================================== contrastive losses


def cosine_embedding_loss_ref(
    a: object, b: object, t: object, margin: float = 0.0, reduction: str = "mean"
) -> np.ndarray:
    a, b, t = _f64(a), _f64(b), _f64(t)
    eps = 1e-12
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))
    per = np.where(t == 1, 1.0 - cos, np.maximum(0.0, cos - margin))
    return _margin_reduce(np.asarray(per), reduction)


def cosine_embedding_loss_grad_ref(
    grad: object, a: object, b: object, t: object, margin: float = 0.0, reduction: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    a, b, t = _f64(a), _f64(b), _f64(t)
    eps = 1e-12
    m1 = (a * a).sum(-1, keepdims=True) + eps
    m2 = (b * b).sum(-1, keepdims=True) + eps
    d = np.sqrt(m1 * m2)
    cos = (a * b).sum(-1, keepdims=True) / d
    tt = t[..., None]
    dcos = np.where(tt == 1, -1.0, np.where(cos - margin >= 0, 1.0, 0.0))
    k = _margin_weights(grad, t.shape, reduction)[..., None] * dcos
    return k * (b / d - cos * a / m1), k * (a / d - cos * b / m2)


def _pnorm(v: np.ndarray, p: float) -> np.ndarray:
    """||v||_p over the last axis."""
    if p == 0:
        return (v != 0).sum(-1).astype(np.float64)
    if np.isinf(p):
        return np.abs(v).max(-1, initial=0.0)
    return (np.abs(v) ** p).sum(-1) ** (1.0 / p)


def _pnorm_grad(v: np.ndarray, p: float) -> np.ndarray:
    """d||v||_p / dv over the last axis (0 at a zero norm; ties of the inf-norm share)."""
    r = _pnorm(v, p)[..., None]
    safe = np.where(r == 0, 1.0, r)
    if p == 0:
        return np.zeros_like(v)
    if p == 1:
        return np.sign(v)
    if np.isinf(p):
        hit = (np.abs(v) == r).astype(np.float64)
        return np.sign(v) * hit / np.maximum(hit.sum(-1, keepdims=True), 1.0)
    g = np.sign(v) * (np.abs(v) / safe) ** (p - 1)
    return np.where((r == 0) | (v == 0), 0.0, g)


def triplet_margin_loss_ref(
    a: object,
    pos: object,
    neg: object,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> np.ndarray:
    a, pos, neg = _f64(a), _f64(pos), _f64(neg)
    d_ap = _pnorm(a - pos + eps, p)
    d_an = _pnorm(a - neg + eps, p)
    if swap:
        d_an = np.minimum(d_an, _pnorm(pos - neg + eps, p))
    return _margin_reduce(np.asarray(np.maximum(0.0, margin + d_ap - d_an)), reduction)


def triplet_margin_loss_grad_ref(
    grad: object,
    a: object,
    pos: object,
    neg: object,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, pos, neg = _f64(a), _f64(pos), _f64(neg)
    v_ap, v_an, v_pn = a - pos + eps, a - neg + eps, pos - neg + eps
    d_ap, d_an, d_pn = _pnorm(v_ap, p), _pnorm(v_an, p), _pnorm(v_pn, p)
    if swap:
        w_an = np.where(d_an < d_pn, 1.0, np.where(d_an == d_pn, 0.5, 0.0))
    else:
        w_an = np.ones_like(d_an)
    w_pn = 1.0 - w_an
    d_neg = w_an * d_an + w_pn * d_pn if swap else d_an
    active = (margin + d_ap - d_neg) >= 0
    c = (_margin_weights(grad, d_ap.shape, reduction) * active)[..., None]
    g_ap = c * _pnorm_grad(v_ap, p)
    g_an = c * w_an[..., None] * _pnorm_grad(v_an, p)
    g_pn = c * w_pn[..., None] * _pnorm_grad(v_pn, p)
    return g_ap - g_an, -g_ap - g_pn, g_an + g_pn


def _nt_xent_parts(z1: object, z2: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.concatenate([_f64(z1), _f64(z2)], axis=0)
    norms = np.sqrt((z * z).sum(1))
    zn = z / np.maximum(norms, 1e-12)[:, None]
    n2 = z.shape[0]
    pos = (np.arange(n2) + n2 // 2) % max(n2, 1)
    return zn, norms, pos


def nt_xent_loss_ref(
    z1: object, z2: object, temperature: float = 0.5, reduction: str = "mean"
) -> np.ndarray:
    zn, _, pos = _nt_xent_parts(z1, z2)
    n2 = zn.shape[0]
    s = zn @ zn.T / temperature
    per = np.zeros(n2)
    for i in range(n2):
        others = np.delete(s[i], i)
        m = others.max()
        per[i] = m + np.log(np.exp(others - m).sum()) - s[i, pos[i]]
    return _margin_reduce(per, reduction)


def nt_xent_loss_grad_ref(
    grad: object, z1: object, z2: object, temperature: float = 0.5, reduction: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    zn, norms, pos = _nt_xent_parts(z1, z2)
    n2 = zn.shape[0]
    s = zn @ zn.T / temperature
    w = _margin_weights(grad, (n2,), reduction)
    gs = np.zeros((n2, n2))
    for i in range(n2):
        e = np.exp(s[i] - np.delete(s[i], i).max())
        e[i] = 0.0
        gs[i] = w[i] * e / e.sum()
        gs[i, pos[i]] -= w[i]
    dzn = (gs + gs.T) @ zn / temperature
    dz = np.empty_like(dzn)
    for i in range(n2):
        if norms[i] >= 1e-12:
            dz[i] = (dzn[i] - zn[i] * (zn[i] @ dzn[i])) / norms[i]
        else:
            dz[i] = dzn[i] / 1e-12
    return dz[: n2 // 2], dz[n2 // 2 :]


# ======================================================== convolution and pooling


def _pair_ref(v: object) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)  # type: ignore[call-overload]


def _conv_padding_ref(padding: object) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair or a 4-tuple."""
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)  # type: ignore[return-value]
    ph, pw = _pair_ref(padding)
    return ph, ph, pw, pw


def _conv_geometry(
    x: np.ndarray, w: np.ndarray, stride: object, padding: object, dilation: object
) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int], int, int]:
    sh, sw = _pair_ref(stride)
    pt, pb, pl, pr = _conv_padding_ref(padding)
    dh, dw = _pair_ref(dilation)
    kh, kw = w.shape[2:]
    oh = (x.shape[2] + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return (sh, sw), (pt, pb, pl, pr), (dh, dw), oh, ow


def conv2d_ref(
    x: object,
    w: object,
    b: object = None,
    stride: object = 1,
    padding: object = 0,
    dilation: object = 1,
    groups: int = 1,
) -> np.ndarray:
    """Cross-correlation from the definition:
    ``out[n, o, y, x] = b[o] + sum_{c, i, j} in[n, g*C/G + c, y*s + i*d - p, x*s + j*d - p]
    * w[o, c, i, j]`` with zeros outside the input; ``g = o // (C_out / groups)``.
    ``padding`` is an int, a pair or (top, bottom, left, right)."""
    xv, wv = _f64(x), _f64(w)
    (sh, sw), (pt, _, pl, _), (dh, dw), oh, ow = _conv_geometry(xv, wv, stride, padding, dilation)
    n_, _, h, wd = xv.shape
    c_out, cpg, kh, kw = wv.shape
    opg = c_out // groups
    out = np.zeros((n_, c_out, oh, ow))
    for n in range(n_):
        for o in range(c_out):
            g = o // opg
            for y in range(oh):
                for xx in range(ow):
                    acc = 0.0 if b is None else float(_f64(b)[o])
                    for c in range(cpg):
                        for i in range(kh):
                            iy = y * sh + i * dh - pt
                            if not 0 <= iy < h:
                                continue
                            for j in range(kw):
                                ix = xx * sw + j * dw - pl
                                if 0 <= ix < wd:
                                    acc += xv[n, g * cpg + c, iy, ix] * wv[o, c, i, j]
                    out[n, o, y, xx] = acc
    return out


def conv2d_grad_ref(
    grad: object,
    x: object,
    w: object,
    stride: object = 1,
    padding: object = 0,
    dilation: object = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv2d_ref`: every term
    ``in[...] * w[...]`` of an output sends ``grad * w`` to the input element and
    ``grad * in`` to the weight; the bias gets the sum of ``grad`` over n, y, x."""
    xv, wv, gv = _f64(x), _f64(w), _f64(grad)
    (sh, sw), (pt, _, pl, _), (dh, dw), oh, ow = _conv_geometry(xv, wv, stride, padding, dilation)
    n_, _, h, wd = xv.shape
    c_out, cpg, kh, kw = wv.shape
    opg = c_out // groups
    gx, gw = np.zeros_like(xv), np.zeros_like(wv)
    for n in range(n_):
        for o in range(c_out):
            g = o // opg
            for y in range(oh):
                for xx in range(ow):
                    go = gv[n, o, y, xx]
                    for c in range(cpg):
                        for i in range(kh):
                            iy = y * sh + i * dh - pt
                            if not 0 <= iy < h:
                                continue
                            for j in range(kw):
                                ix = xx * sw + j * dw - pl
                                if 0 <= ix < wd:
                                    gx[n, g * cpg + c, iy, ix] += go * wv[o, c, i, j]
                                    gw[o, c, i, j] += go * xv[n, g * cpg + c, iy, ix]
    return gx, gw, gv.sum(axis=(0, 2, 3))


def _pool_size_ref(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a pooling window sweep, PyTorch's formula: with ``ceil_mode`` the
    division rounds up, but the last window must start inside the input or left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(
    kernel_size: object, stride: object, padding: object, dilation: object
) -> tuple[tuple[int, int], ...]:
    k = _pair_ref(kernel_size)
    s = k if stride is None else _pair_ref(stride)
    return k, s, _pair_ref(padding), _pair_ref(dilation)


def max_pool2d_ref(
    x: object,
    kernel_size: object,
    stride: object = None,
    padding: object = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window of the (-inf padded) planes of an (..., H, W) array, and the
    index ``y * W + x`` of the first maximum (a NaN counts as the maximum; a later NaN wins)."""
    v = _f64(x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _pool_args(kernel_size, stride, padding, dilation)
    h, wd = v.shape[-2:]
    oh = _pool_size_ref(h, kh, sh, ph, dh, ceil_mode)
    ow = _pool_size_ref(wd, kw, sw, pw, dw, ceil_mode)
    planes = v.reshape(-1, h, wd)
    out = np.full((planes.shape[0], oh, ow), -np.inf)
    idx = np.full((planes.shape[0], oh, ow), -1, dtype=np.int64)
    for p in range(planes.shape[0]):
        for y in range(oh):
            for xx in range(ow):
                best, at = -np.inf, -1
                for i in range(kh):
                    iy = y * sh - ph + i * dh
                    for j in range(kw):
                        ix = xx * sw - pw + j * dw
                        if 0 <= iy < h and 0 <= ix < wd:
                            val = planes[p, iy, ix]
                            if at < 0 or val > best or np.isnan(val):
                                best, at = val, iy * wd + ix
                out[p, y, xx], idx[p, y, xx] = best, at
    shape = (*v.shape[:-2], oh, ow)
    return out.reshape(shape), idx.reshape(shape)


def max_pool2d_grad_ref(grad: object, x: object, *args: object, **kwargs: object) -> np.ndarray:
    """Gradient of :func:`max_pool2d_ref`: each output's gradient goes to its maximum."""
    v = _f64(x)
    _, idx = max_pool2d_ref(v, *args, **kwargs)  # type: ignore[arg-type]
    g = _f64(grad).reshape(-1, idx.shape[-2] * idx.shape[-1])
    flat = idx.reshape(g.shape)
    out = np.zeros((g.shape[0], v.shape[-2] * v.shape[-1]))
    for p in range(g.shape[0]):
        for k in range(g.shape[1]):
            if flat[p, k] >= 0:
                out[p, flat[p, k]] += g[p, k]
    return out.reshape(v.shape)


def _avg_windows(
    h: int,
    wd: int,
    kernel_size: object,
    stride: object,
    padding: object,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: object,
) -> list[tuple[int, int, range, range, float]]:
    """For each output (y, x): the input rows and columns of its window and its divisor
    (the window's size clipped to the padded input, or its count of input elements)."""
    (kh, kw), (sh, sw), (ph, pw), _ = _pool_args(kernel_size, stride, padding, 1)
    oh = _pool_size_ref(h, kh, sh, ph, 1, ceil_mode)
    ow = _pool_size_ref(wd, kw, sw, pw, 1, ceil_mode)
    wins = []
    for y in range(oh):
        y0, y1 = y * sh - ph, min(y * sh - ph + kh, h + ph)
        for xx in range(ow):
            x0, x1 = xx * sw - pw, min(xx * sw - pw + kw, wd + pw)
            rows, cols = range(max(y0, 0), min(y1, h)), range(max(x0, 0), min(x1, wd))
            if divisor_override is not None:
                div = float(divisor_override)  # type: ignore[arg-type]
            elif count_include_pad:
                div = float((y1 - y0) * (x1 - x0))
            else:
                div = float(len(rows) * len(cols))
            wins.append((y, xx, rows, cols, div))
    return wins


def avg_pool2d_ref(
    x: object,
    kernel_size: object,
    stride: object = None,
    padding: object = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: object = None,
) -> np.ndarray:
    """Sum of each window of the (zero padded) planes over its divisor."""
    v = _f64(x)
    h, wd = v.shape[-2:]
    wins = _avg_windows(
        h, wd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    oh, ow = wins[-1][0] + 1, wins[-1][1] + 1
    planes = v.reshape(-1, h, wd)
    out = np.zeros((planes.shape[0], oh, ow))
    for p in range(planes.shape[0]):
        for y, xx, rows, cols, div in wins:
            acc = 0.0
            for iy in rows:
                for ix in cols:
                    acc += planes[p, iy, ix]
            out[p, y, xx] = acc / div
    return out.reshape(*v.shape[:-2], oh, ow)


def avg_pool2d_grad_ref(
    grad: object,
    x: object,
    kernel_size: object,
    stride: object = None,
    padding: object = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: object = None,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d_ref`: ``grad / divisor`` added over each window."""
    v = _f64(x)
    h, wd = v.shape[-2:]
    wins = _avg_windows(
        h, wd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    g = _f64(grad).reshape(-1, *_f64(grad).shape[-2:])
    out = np.zeros((g.shape[0], h, wd))
    for p in range(g.shape[0]):
        for y, xx, rows, cols, div in wins:
            for iy in rows:
                for ix in cols:
                    out[p, iy, ix] += g[p, y, xx] / div
    return out.reshape(v.shape)


# ======================================================== normalization and embedding


def _channel_view(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Axes reduced by batch norm (all but 1) and the shape that broadcasts (C,) over x."""
    axes = (0, *range(2, x.ndim))
    return axes, (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm_ref(
    x: object,
    running_mean: object = None,
    running_var: object = None,
    weight: object = None,
    bias: object = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Batch norm over axis 1: (output, new running mean, new running var).

    Training: batch mean and biased variance normalise; running statistics move by
    ``momentum`` towards the batch mean and the unbiased batch variance (n / (n - 1)).
    Evaluation: the running statistics normalise and stay as they are.
    """
    x = _f64(x)
    axes, bshape = _channel_view(x)
    rm = None if running_mean is None else _f64(running_mean)
    rv = None if running_var is None else _f64(running_var)
    if training:
        n = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        var = ((x - mean.reshape(bshape)) ** 2).mean(axis=axes)
        if rm is not None and rv is not None:
            rm = (1 - momentum) * rm + momentum * mean
            rv = (1 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        assert rm is not None and rv is not None
        mean, var = rm, rv
    y = (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + eps)
    if weight is not None:
        y = y * _f64(weight).reshape(bshape)
    if bias is not None:
        y = y + _f64(bias).reshape(bshape)
    return y, rm, rv


def batch_norm_grad_ref(
    grad: object,
    x: object,
    weight: object = None,
    training: bool = True,
    running_mean: object = None,
    running_var: object = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (input, weight, bias) of batch norm.

    With ``x_hat = (x - mu) * s`` and ``s = 1 / sqrt(var + eps)``: ``d bias = sum(g)``,
    ``d weight = sum(g * x_hat)``; in training, where mu and var depend on x,
    ``dx = w * s * (g - mean(g) - x_hat * mean(g * x_hat))``, else ``dx = w * s * g``.
    """
    g, x = _f64(grad), _f64(x)
    axes, bshape = _channel_view(x)
    if training:
        mu = x.mean(axis=axes)
        var = ((x - mu.reshape(bshape)) ** 2).mean(axis=axes)
    else:
        mu, var = _f64(running_mean), _f64(running_var)
    s = (1.0 / np.sqrt(var + eps)).reshape(bshape)
    xhat = (x - mu.reshape(bshape)) * s
    w = np.ones(x.shape[1]) if weight is None else _f64(weight)
    wb = w.reshape(bshape)
    if training:
        gm = g.mean(axis=axes, keepdims=True)
        gxm = (g * xhat).mean(axis=axes, keepdims=True)
        dx = wb * s * (g - gm - xhat * gxm)
    else:
        dx = wb * s * g
    return dx, (g * xhat).sum(axis=axes), g.sum(axis=axes)


def batch_norm_running_ref(
    batches: list[object], momentum: float | None = 0.1, eps: float = 1e-5
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(running_mean, running_var, num_batches_tracked) after each training batch of a
    BatchNorm layer that starts from mean 0 and variance 1. ``momentum=None`` is the
    cumulative average: the k-th batch has weight 1 / k."""
    c = _f64(batches[0]).shape[1]
    rm, rv = np.zeros(c), np.ones(c)
    out = []
    for k, b in enumerate(batches, start=1):
        m = 1.0 / k if momentum is None else momentum
        _, new_rm, new_rv = batch_norm_ref(b, rm, rv, training=True, momentum=m, eps=eps)
        assert new_rm is not None and new_rv is not None
        rm, rv = new_rm, new_rv
        out.append((rm.copy(), rv.copy(), k))
    return out


def layer_norm_ref(
    x: object,
    normalized_shape: tuple[int, ...],
    weight: object = None,
    bias: object = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """Layer norm over the trailing ``len(normalized_shape)`` axes (biased variance)."""
    x = _f64(x)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if weight is not None:
        y = y * _f64(weight)
    if bias is not None:
        y = y + _f64(bias)
    return y


def layer_norm_grad_ref(
    grad: object,
    x: object,
    normalized_shape: tuple[int, ...],
    weight: object = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (input, weight, bias) of layer norm: with ``gw = g * w`` per slice,
    ``dx = s * (gw - mean(gw) - x_hat * mean(gw * x_hat))``; ``d weight`` and ``d bias`` sum
    ``g * x_hat`` and ``g`` over the leading axes."""
    g, x = _f64(grad), _f64(x)
    k = len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    mu = x.mean(axis=axes, keepdims=True)
    s = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + eps)
    xhat = (x - mu) * s
    gw = g if weight is None else g * _f64(weight)
    dx = s * (
        gw - gw.mean(axis=axes, keepdims=True) - xhat * (gw * xhat).mean(axis=axes, keepdims=True)
    )
    return dx, (g * xhat).sum(axis=lead), g.sum(axis=lead)


def embedding_ref(indices: object, weight: object) -> np.ndarray:
    """Rows of ``weight`` at ``indices``: shape ``indices.shape + (dim,)``."""
    return _f64(weight)[np.asarray(indices)]


def embedding_grad_ref(
    grad: object, indices: object, num_embeddings: int, padding_idx: int | None = None
) -> np.ndarray:
    """Gradient of the table: each row of ``grad`` added at its index, none at
    ``padding_idx``."""
    g = _f64(grad)
    idx = np.asarray(indices).reshape(-1)
    dim = g.shape[-1]
    out = np.zeros((num_embeddings, dim))
    np.add.at(out, idx, g.reshape(idx.size, dim))
    if padding_idx is not None:
        out[padding_idx] = 0.0
    return out


# ======================================================== recurrent layers


def _rnn_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def rnn_cell_ref(
    mode: str,
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray | None,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One step of a recurrent cell on a batch, (N, in) -> (h', c'), from the gate equations.

    ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` (gates i, f, g, o) or ``"GRU"``
    (gates r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
    """
    hid = w_hh.shape[1]
    gi = x @ w_ih.T + (0.0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0.0 if b_hh is None else b_hh)
    if mode == "RNN_TANH":
        return np.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return np.maximum(gi + gh, 0.0), None
    if mode == "LSTM":
        a = gi + gh
        i = _rnn_sigmoid(a[:, :hid])
        f = _rnn_sigmoid(a[:, hid : 2 * hid])
        g = np.tanh(a[:, 2 * hid : 3 * hid])
        o = _rnn_sigmoid(a[:, 3 * hid :])
        c_new = f * c + i * g
        return o * np.tanh(c_new), c_new
    if mode == "GRU":
        r = _rnn_sigmoid(gi[:, :hid] + gh[:, :hid])
        z = _rnn_sigmoid(gi[:, hid : 2 * hid] + gh[:, hid : 2 * hid])
        n = np.tanh(gi[:, 2 * hid :] + r * gh[:, 2 * hid :])
        return (1.0 - z) * n + z * h, None
    raise ValueError(f"unknown mode {mode!r}")


def rnn_ref(
    mode: str,
    x: object,
    params: dict,
    num_layers: int,
    hidden_size: int,
    *,
    bias: bool = True,
    batch_first: bool = False,
    bidirectional: bool = False,
    h0: object = None,
    c0: object = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A stacked (optionally bidirectional) recurrent layer run step by step, no dropout.

    ``params`` maps PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...) to arrays.
    ``x`` is (seq, batch, in), or (batch, seq, in) with ``batch_first``, or unbatched
    (seq, in). Returns ``(output, h_n, c_n)`` in PyTorch's shapes (``c_n`` None but for LSTM).
    """
    x = _f64(x)
    unbatched = x.ndim == 2
    if unbatched:
        x = x[:, None, :]
    elif batch_first:
        x = x.transpose(1, 0, 2)
    steps, batch = x.shape[:2]
    dirs = 2 if bidirectional else 1
    state_shape = (num_layers * dirs, batch, hidden_size)
    h_init = np.zeros(state_shape) if h0 is None else _f64(h0).reshape(state_shape)
    c_init = np.zeros(state_shape) if c0 is None else _f64(c0).reshape(state_shape)
    h_n, c_n = np.zeros(state_shape), np.zeros(state_shape)
    layer_in = x
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            w_ih, w_hh = _f64(params["weight_ih" + sfx]), _f64(params["weight_hh" + sfx])
            b_ih = _f64(params["bias_ih" + sfx]) if bias else None
            b_hh = _f64(params["bias_hh" + sfx]) if bias else None
            h, c = h_init[k], c_init[k]
            out = np.zeros((steps, batch, hidden_size))
            for t in reversed(range(steps)) if d == 1 else range(steps):
                h, c_next = rnn_cell_ref(mode, layer_in[t], h, c, w_ih, w_hh, b_ih, b_hh)
                c = c if c_next is None else c_next
                out[t] = h
            h_n[k], c_n[k] = h, c
            outs.append(out)
        layer_in = np.concatenate(outs, axis=2)
    output = layer_in
    if unbatched:
        output, h_n, c_n = output[:, 0], h_n[:, 0], c_n[:, 0]
    elif batch_first:
        output = output.transpose(1, 0, 2)
    return output, h_n, (c_n if mode == "LSTM" else None)


# ======================================================== optimizers and schedules


def sgd_ref(
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    """Parameters after SGD steps; ``grads[t][i]`` is the gradient of parameter i at step t
    (None: no gradient, the parameter is skipped). Sutskever-style momentum as in PyTorch: the
    buffer starts at the first gradient, ``b = momentum*b + (1-dampening)*g``."""
    ps = [_f64(p).copy() for p in params]
    bufs: list[np.ndarray | None] = [None] * len(ps)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            d = -_f64(g) if maximize else _f64(g)
            d = d + weight_decay * ps[i]
            if momentum != 0:
                bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * d
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lr * d
    return ps


def adam_ref(
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled: bool = False,
) -> list[np.ndarray]:
    """Parameters after Adam steps (Kingma & Ba, with eps outside the square root of the
    bias-corrected second moment); ``decoupled`` gives AdamW (Loshchilov & Hutter):
    ``w *= 1 - lr*wd`` instead of adding ``wd*w`` to the gradient. Each parameter counts its own
    steps (a None gradient skips it)."""
    b1, b2 = betas
    ps = [_f64(p).copy() for p in params]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps]
    t = [0] * len(ps)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            t[i] += 1
            d = -_f64(g) if maximize else _f64(g)
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                d = d + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            m_hat = m[i] / (1 - b1 ** t[i])
            vmax[i] = np.maximum(vmax[i], v[i])
            v_hat = (vmax[i] if amsgrad else v[i]) / (1 - b2 ** t[i])
            ps[i] = ps[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ps


def adam_schedule_ref(
    params: list[np.ndarray], grads: list[list[np.ndarray]], hypers: list[dict[str, object]]
) -> list[np.ndarray]:
    """Parameters after Adam steps whose hyperparameters change between steps: step ``t``
    uses ``hypers[t]`` (``lr``, ``betas``, ``eps``, ``weight_decay``, coupled decay); every
    parameter has a gradient at every step. The moments carry over from step to step."""
    ps = [_f64(p).copy() for p in params]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    for t, (step_grads, h) in enumerate(zip(grads, hypers), 1):
        b1, b2 = h["betas"]
        for i, g in enumerate(step_grads):
            d = _f64(g) + h["weight_decay"] * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            ps[i] = ps[i] - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])
    return ps


def nadam_ref(
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    """Parameters after NAdam steps (Dozat 2016, with PyTorch's momentum schedule
    ``mu_t = beta1 (1 - 0.5 * 0.96**(t * momentum_decay))``); ``decoupled`` shrinks the weights
    by ``1 - lr*wd`` instead of adding ``wd*w`` to the gradient."""
    b1, b2 = betas
    ps = [_f64(p).copy() for p in params]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    prod = [1.0] * len(ps)
    t = [0] * len(ps)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            t[i] += 1
            d = -_f64(g) if maximize else _f64(g)
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                d = d + weight_decay * ps[i]
            mu = b1 * (1 - 0.5 * 0.96 ** (t[i] * momentum_decay))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t[i] + 1) * momentum_decay))
            prod[i] *= mu
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            m_hat = mu_next * m[i] / (1 - prod[i] * mu_next) + (1 - mu) * d / (1 - prod[i])
            v_hat = v[i] / (1 - b2 ** t[i])
            ps[i] = ps[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ps


def radam_ref(
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    """Parameters after RAdam steps (Liu et al. 2019): the adaptive step, scaled by the
    rectification term, once ``rho_t > 5``; a bias-corrected momentum step before that."""
    b1, b2 = betas
    ps = [_f64(p).copy() for p in params]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    t = [0] * len(ps)
    rho_inf = 2 / (1 - b2) - 1
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            t[i] += 1
            d = -_f64(g) if maximize else _f64(g)
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                d = d + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            m_hat = m[i] / (1 - b1 ** t[i])
            rho = rho_inf - 2 * t[i] * b2 ** t[i] / (1 - b2 ** t[i])
            if rho > 5:
                r = math.sqrt(
                    (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
                )
                adaptive = math.sqrt(1 - b2 ** t[i]) / (np.sqrt(v[i]) + eps)
                ps[i] = ps[i] - lr * m_hat * r * adaptive
            else:
                ps[i] = ps[i] - lr * m_hat
    return ps


def rmsprop_ref(
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    """Parameters after RMSprop steps (Hinton's lecture 6e; centered: Graves 2013), with eps
    added after the square root and momentum on ``g / denominator``."""
    ps = [_f64(p).copy() for p in params]
    sq = [np.zeros_like(p) for p in ps]
    ga = [np.zeros_like(p) for p in ps]
    buf = [np.zeros_like(p) for p in ps]
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            d = -_f64(g) if maximize else _f64(g)
            d = d + weight_decay * ps[i]
            sq[i] = alpha * sq[i] + (1 - alpha) * d * d
            if centered:
                ga[i] = alpha * ga[i] + (1 - alpha) * d
                denom = np.sqrt(sq[i] - ga[i] ** 2) + eps
            else:
                denom = np.sqrt(sq[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + d / denom
                ps[i] = ps[i] - lr * buf[i]
            else:
                ps[i] = ps[i] - lr * d / denom
    return ps


def adagrad_ref(
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> list[np.ndarray]:
    """Parameters after Adagrad steps (Duchi et al. 2011) with PyTorch's learning-rate decay
    ``lr / (1 + (t-1) * lr_decay)``, t counted per parameter."""
    ps = [_f64(p).copy() for p in params]
    s = [np.full_like(p, initial_accumulator_value) for p in ps]
    t = [0] * len(ps)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            t[i] += 1
            d = -_f64(g) if maximize else _f64(g)
            d = d + weight_decay * ps[i]
            clr = lr / (1 + (t[i] - 1) * lr_decay)
            s[i] = s[i] + d * d
            ps[i] = ps[i] - clr * d / (np.sqrt(s[i]) + eps)
    return ps


def global_norm_ref(arrays: list[np.ndarray], norm_type: float) -> float:
    """The norm of all elements of all arrays taken as one vector, in float64."""
    flat = np.concatenate([_f64(a).ravel() for a in arrays])
    if np.isinf(norm_type):
        return float(np.max(np.abs(flat))) if flat.size else 0.0
    return float(np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type))


def step_lr_ref(base: float, epoch: int, step_size: int, gamma: float = 0.1) -> float:
    """``base * gamma ** floor(epoch / step_size)``."""
    return base * gamma ** (epoch // step_size)


def multistep_lr_ref(base: float, epoch: int, milestones: list[int], gamma: float = 0.1) -> float:
    """``base * gamma ** (number of milestones <= epoch)`` (repeats count)."""
    return base * gamma ** sum(1 for m in milestones if m <= epoch)


def exponential_lr_ref(base: float, epoch: int, gamma: float) -> float:
    """``base * gamma ** epoch``."""
    return base * gamma**epoch


def cosine_lr_ref(base: float, epoch: int, t_max: int, eta_min: float = 0.0) -> float:
    """SGDR without restarts: ``eta_min + (base - eta_min) * (1 + cos(pi * epoch / t_max)) / 2``."""
    return eta_min + (base - eta_min) * (1 + np.cos(np.pi * epoch / t_max)) / 2


def linear_lr_ref(
    base: float, epoch: int, start_factor: float, end_factor: float, total_iters: int
) -> float:
    """The factor moves linearly from start to end over total_iters epochs, then stays."""
    frac = min(epoch, total_iters) / total_iters
    return base * (start_factor + (end_factor - start_factor) * frac)


def one_cycle_ref(
    step: int,
    total_steps: int,
    max_lr: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> tuple[float, float]:
    """(lr, momentum) of the 1cycle policy at ``step``.

    Two phases: initial -> max over the first ``pct_start * total_steps - 1`` steps, then
    max -> min until step ``total_steps - 1``. Three phases: initial -> max -> initial
    (symmetric), then initial -> min. ``initial = max_lr / div_factor``, ``min = initial /
    final_div_factor``; momentum moves the other way between max and base.
    """
    initial = max_lr / div_factor
    low = initial / final_div_factor
    up = pct_start * total_steps - 1
    if three_phase:
        phases = [
            (up, initial, max_lr, max_momentum, base_momentum),
            (2 * pct_start * total_steps - 2, max_lr, initial, base_momentum, max_momentum),
            (total_steps - 1, initial, low, max_momentum, max_momentum),
        ]
    else:
        phases = [
            (up, initial, max_lr, max_momentum, base_momentum),
            (total_steps - 1, max_lr, low, base_momentum, max_momentum),
        ]

    def shape(a: float, b: float, x: float) -> float:
        if anneal == "cos":
            return b + (a - b) * (1 + np.cos(np.pi * x)) / 2
        return a + (b - a) * x

    begin = 0.0
    for k, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or k == len(phases) - 1:
            x = (step - begin) / (end - begin)
            return shape(lr0, lr1, x), shape(m0, m1, x)
        begin = end
    raise AssertionError("unreachable")


def plateau_ref(
    base: float,
    metrics: list[float],
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> list[float]:
    """The learning rate after each metric, from the documented ReduceLROnPlateau rule: an
    epoch is an improvement when it beats the best by more than the threshold; after more than
    ``patience`` bad epochs in a row the rate is multiplied by ``factor`` (floored at min_lr,
    skipped when the change is below eps) and ``cooldown`` epochs are not counted."""
    lr, best, bad, cool = base, (np.inf if mode == "min" else -np.inf), 0, 0
    out = []
    for x in metrics:
        if mode == "min":
            better = x < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
        else:
            better = x > (best * (1 + threshold) if threshold_mode == "rel" else best + threshold)
        if better:
            best, bad = x, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > eps:
                lr = new
            cool, bad = cooldown, 0
        out.append(lr)
    return out


# ======================================================== autograd and training


def mlp_gradient_descent(
    x: np.ndarray,
    y: np.ndarray,
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    lr: float,
    steps: int,
) -> tuple[list[float], list[np.ndarray]]:
    """Full-batch gradient descent on ``mean((tanh(x W1^T + b1) W2^T + b2 - y)^2)``.

    Weights are in PyTorch's (out, in) layout; gradients written out by the chain rule.
    Returns the loss before each step and the final weights.
    """
    w1, b1, w2, b2 = (np.array(a, dtype=np.float64) for a in (w1, b1, w2, b2))
    losses = []
    n = y.size
    for _ in range(steps):
        z = x @ w1.T + b1
        h = np.tanh(z)
        out = h @ w2.T + b2
        diff = out - y
        losses.append(float(np.mean(diff**2)))
        g_out = 2.0 * diff / n
        g_w2 = g_out.T @ h
        g_b2 = g_out.sum(axis=0)
        g_h = g_out @ w2
        g_z = g_h * (1.0 - h**2)
        g_w1 = g_z.T @ x
        g_b1 = g_z.sum(axis=0)
        w1 -= lr * g_w1
        b1 -= lr * g_b1
        w2 -= lr * g_w2
        b2 -= lr * g_b2
    return losses, [w1, b1, w2, b2]


def _mlp_grads(
    x: np.ndarray, y: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """Loss ``mean((tanh(x W1^T + b1) W2^T + b2 - y)^2)`` and its gradients (chain rule)."""
    z = x @ w1.T + b1
    h = np.tanh(z)
    out = h @ w2.T + b2
    diff = out - y
    g_out = 2.0 * diff / y.size
    g_h = g_out @ w2
    g_z = g_h * (1.0 - h**2)
    grads = [g_z.T @ x, g_z.sum(axis=0), g_out.T @ h, g_out.sum(axis=0)]
    return float(np.mean(diff**2)), grads


def mlp_minibatch_sgd(
    x: np.ndarray,
    y: np.ndarray,
    weights: list[np.ndarray],
    lr: float,
    epochs: int,
    batch_size: int,
    accum: int = 1,
    l1: float = 0.0,
    l2: float = 0.0,
) -> tuple[list[float], list[np.ndarray]]:
    """Mini-batch SGD over batches taken in order, as a training loop without shuffling does.

    ``accum`` consecutive batches make one step; each batch's loss weighs by its share of the
    group's samples, so the step equals one on the concatenated group. ``l1 * sum|W|`` and
    ``l2 * sum W^2`` are added for the two weight matrices (not the biases). Returns the mean
    data loss of each epoch (weighted by batch size) and the final weights.
    """
    w = [np.array(a, dtype=np.float64) for a in weights]
    n = len(x)
    starts = list(range(0, n, batch_size))
    epoch_losses = []
    for _ in range(epochs):
        total = 0.0
        for g in range(0, len(starts), accum):
            group = starts[g : g + accum]
            size = sum(min(s + batch_size, n) - s for s in group)
            grads = [np.zeros_like(a) for a in w]
            for s in group:
                xb, yb = x[s : s + batch_size], y[s : s + batch_size]
                loss, gs = _mlp_grads(xb, yb, *w)
                total += loss * len(xb)
                for acc, gi in zip(grads, gs):
                    acc += gi * (len(xb) / size)
            for i in (0, 2):
                grads[i] = grads[i] + l1 * np.sign(w[i]) + 2.0 * l2 * w[i]
            for a, gi in zip(w, grads):
                a -= lr * gi
        epoch_losses.append(total / n)
    return epoch_losses, w


# ======================================================== sklearn (MLP estimators)


def _sk_activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-z))
    return z


def _sk_activation_grad(name: str, a: np.ndarray) -> np.ndarray:
    """Derivative of the activation, from its output ``a``."""
    if name == "relu":
        return (a > 0).astype(np.float64)
    if name == "tanh":
        return 1.0 - a**2
    if name == "logistic":
        return a * (1.0 - a)
    return np.ones_like(a)


def sklearn_mlp_train(
    x: np.ndarray,
    y: np.ndarray,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    *,
    output: str,
    activation: str = "relu",
    solver: str = "sgd",
    alpha: float = 1e-4,
    lr: float = 1e-3,
    batch_size: int = 200,
    epochs: int = 1,
    momentum: float = 0.9,
    nesterov: bool = True,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[list[float], list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's stochastic MLP training, from its documented formulas, over batches
    taken in order (no shuffling), with a constant learning rate.

    ``coefs[i]`` has shape (in, out). ``output`` is "softmax" (``y`` one-hot, loss: mean
    cross-entropy), "logistic" (``y`` 0/1 per output, loss: binary cross-entropy summed over
    outputs, averaged over samples) or "identity" (loss ``0.5 * mean((out - y)**2)`` over all
    entries). Each batch of ``n_b`` samples adds ``0.5 * alpha * sum ||W||^2 / n_b`` to its
    loss; its gradients are ``(a^T delta + alpha W) / n_b`` for weights and ``mean(delta)``
    for intercepts, with ``delta = out - y`` at the output. SGD: ``v = momentum v - lr g``,
    then ``p += momentum v - lr g`` (Nesterov) or ``p += v``. Adam:
    ``p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``. Returns the loss of each
    epoch (batch losses weighted by batch size), and the final coefs and intercepts.
    """
    w = [np.array(c, dtype=np.float64) for c in coefs]
    b = [np.array(c, dtype=np.float64) for c in intercepts]
    y = np.asarray(y, dtype=np.float64)
    params = w + b
    state1 = [np.zeros_like(p) for p in params]
    state2 = [np.zeros_like(p) for p in params]
    t = 0
    n = len(x)
    curve = []
    for _ in range(epochs):
        total = 0.0
        for s in range(0, n, batch_size):
            xb, yb = np.asarray(x[s : s + batch_size], np.float64), y[s : s + batch_size]
            nb = len(xb)
            acts = [xb]
            for i in range(len(w)):
                z = acts[-1] @ w[i] + b[i]
                if i < len(w) - 1:
                    acts.append(_sk_activation(activation, z))
                elif output == "softmax":
                    e = np.exp(z - z.max(axis=1, keepdims=True))
                    acts.append(e / e.sum(axis=1, keepdims=True))
                elif output == "logistic":
                    acts.append(1.0 / (1.0 + np.exp(-z)))
                else:
                    acts.append(z)
            out = acts[-1]
            if output == "softmax":
                loss = -np.sum(yb * np.log(out)) / nb
            elif output == "logistic":
                loss = -np.sum(yb * np.log(out) + (1 - yb) * np.log(1 - out)) / nb
            else:
                loss = 0.5 * np.mean((out - yb) ** 2)
            loss += 0.5 * alpha * sum(np.sum(c * c) for c in w) / nb
            total += loss * nb
            delta = out - yb
            gw: list[np.ndarray] = [np.empty(0)] * len(w)
            gb: list[np.ndarray] = [np.empty(0)] * len(w)
            for i in range(len(w) - 1, -1, -1):
                gw[i] = (acts[i].T @ delta + alpha * w[i]) / nb
                gb[i] = delta.mean(axis=0)
                if i > 0:
                    delta = (delta @ w[i].T) * _sk_activation_grad(activation, acts[i])
            grads = gw + gb
            t += 1
            for k, (p, g) in enumerate(zip(params, grads)):
                if solver == "sgd":
                    state1[k] = momentum * state1[k] - lr * g
                    p += momentum * state1[k] - lr * g if nesterov else state1[k]
                else:
                    state1[k] = beta1 * state1[k] + (1 - beta1) * g
                    state2[k] = beta2 * state2[k] + (1 - beta2) * g * g
                    step = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                    p -= step * state1[k] / (np.sqrt(state2[k]) + eps)
        curve.append(total / n)
    return curve, w, b


# ----------------------------------------------------------------- layers built on other kernels


def conv1d_ref(
    x: object,
    w: object,
    b: object = None,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:
    """torch.nn.functional.conv1d on (N, C_in, L) by its definition (a loop over outputs)."""
    x, w = _f64(x), _f64(w)
    n, c_in, length = x.shape
    c_out, per_group, k = w.shape
    xp = np.zeros((n, c_in, length + 2 * padding))
    xp[:, :, padding : padding + length] = x
    l_out = (length + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, c_out, l_out))
    out_per_group = c_out // groups
    for o in range(c_out):
        g = o // out_per_group
        chans = xp[:, g * per_group : (g + 1) * per_group]
        for t in range(l_out):
            taps = chans[:, :, t * stride : t * stride + dilation * (k - 1) + 1 : dilation]
            out[:, o, t] = np.sum(taps * w[o], axis=(1, 2))
    if b is not None:
        out += _f64(b)[None, :, None]
    return out


def adaptive_avg_pool2d_ref(x: object, output_size: tuple[int, int]) -> np.ndarray:
    """torch's adaptive average pooling: bin i of an axis of size n covers
    [floor(i n / out), ceil((i + 1) n / out))."""
    x = _f64(x)
    h, w = x.shape[-2:]
    oh, ow = output_size
    out = np.zeros((*x.shape[:-2], oh, ow))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            out[..., i, j] = x[..., h0:h1, w0:w1].mean(axis=(-2, -1))
    return out


def group_norm_ref(
    x: object, num_groups: int, weight: object = None, bias: object = None, eps: float = 1e-5
) -> np.ndarray:
    """torch.nn.functional.group_norm: each sample's channel groups normalised by their mean
    and biased variance, then a per-channel affine map."""
    x = _f64(x)
    n, c = x.shape[:2]
    groups = x.reshape(n, num_groups, -1)
    mean = groups.mean(axis=-1, keepdims=True)
    var = ((groups - mean) ** 2).mean(axis=-1, keepdims=True)
    y = ((groups - mean) / np.sqrt(var + eps)).reshape(x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * _f64(weight).reshape(per_channel)
    if bias is not None:
        y = y + _f64(bias).reshape(per_channel)
    return y


def _sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def lstm_cell_ref(
    x: object, h: object, c: object, w_ih: object, w_hh: object, b_ih: object, b_hh: object
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step with torch's gate order i, f, g, o; returns (h', c')."""
    gates = _f64(x) @ _f64(w_ih).T + _f64(h) @ _f64(w_hh).T
    if b_ih is not None:
        gates = gates + _f64(b_ih) + _f64(b_hh)
    i, f, g, o = np.split(gates, 4, axis=-1)
    c_new = _sig(f) * _f64(c) + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_new), c_new


def gru_cell_ref(
    x: object, h: object, w_ih: object, w_hh: object, b_ih: object, b_hh: object
) -> np.ndarray:
    """One GRU step with torch's gate order r, z, n: h' = (1 - z) n + z h."""
    gi = _f64(x) @ _f64(w_ih).T
    gh = _f64(h) @ _f64(w_hh).T
    if b_ih is not None:
        gi, gh = gi + _f64(b_ih), gh + _f64(b_hh)
    ir, iz, in_ = np.split(gi, 3, axis=-1)
    hr, hz, hn = np.split(gh, 3, axis=-1)
    r, z = _sig(ir + hr), _sig(iz + hz)
    n = np.tanh(in_ + r * hn)
    return (1 - z) * n + z * _f64(h)


def warm_restarts_ref(
    epochs: object, base_lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0
) -> np.ndarray:
    """SGDR's rate at each (possibly fractional) epoch: the periods T_0, T_0 T_mult, ... are
    laid end to end, and within a period of length T_i at offset T_cur the rate is
    eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2."""
    out = []
    for t in np.asarray(epochs, dtype=np.float64).ravel():
        start, length = 0.0, float(T_0)
        while t >= start + length:
            start, length = start + length, length * T_mult
        out.append(
            eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * (t - start) / length)) / 2
        )
    return np.array(out)


def pad_grad_ref(grad: object, shape: tuple[int, ...], widths: object, np_mode: str) -> np.ndarray:
    """The gradient of ``np.pad(x, widths, mode=np_mode)`` with respect to ``x`` of ``shape``:
    each output position's gradient added to the input element it copies (found by padding
    the array of flat indices the same way)."""
    index = np.pad(np.arange(math.prod(shape)).reshape(shape), widths, mode=np_mode)
    g = _f64(grad)
    return np.bincount(index.ravel(), weights=g.ravel(), minlength=math.prod(shape)).reshape(shape)
