"""What the scikit-learn estimators share: parameter checks, seeding, validation splits,
the optimizer's pickled form and forward passes in evaluation mode."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from .. import random as fg_random
from ..exceptions import ArgumentError
from ..tensor import no_grad

# ---------------------------------------------------------------------- parameter checks


def check_real(
    owner: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float inside the given bounds, else an ArgumentError naming it."""
    bounds = _interval(low, high, low_open, high_open)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{owner}: {name} must be a real number in {bounds}, got {value!r}")
    v = float(value)
    ok = math.isfinite(v)
    if low is not None:
        ok = ok and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        raise ArgumentError(f"{owner}: {name} must be a real number in {bounds}, got {value!r}")
    return v


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
    right = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
    return f"{left}, {right}"


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ArgumentError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` as a bool (True/False or NumPy's)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(owner: str, name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` as one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ArgumentError(f"{owner}: {name} must be one of {listed}, got {value!r}")
    return value


def check_verbose(owner: str, value: Any) -> int:
    """``verbose`` as a non-negative int (True is 1)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return check_int(owner, "verbose", value, 0)


# ---------------------------------------------------------------------- randomness


def random_state(owner: str, value: Any) -> np.random.RandomState:
    """A ``RandomState`` for ``random_state``: an int seeds a new one, a ``RandomState`` is
    used as it is, and None draws a seed from ferrograd's generator (so
    :func:`ferrograd.manual_seed` makes fits with ``random_state=None`` repeatable)."""
    if value is None:
        return np.random.RandomState(int(fg_random.default_generator().integers(2**32)))
    try:
        return check_random_state(value)
    except ValueError:
        raise ArgumentError(
            f"{owner}: random_state must be None, an int or a numpy RandomState, got {value!r}"
        ) from None


def draw_seed(rs: np.random.RandomState) -> int:
    """A seed for ferrograd's generators, drawn from ``rs``."""
    return int(rs.randint(2**31 - 1))


@contextlib.contextmanager
def seeded(rs: np.random.RandomState) -> Iterator[None]:
    """Runs the block with ferrograd's generator (initialisation, dropout, shuffling) seeded
    from ``rs``, then puts the generator back as it was: a fit with a fixed random_state
    neither depends on nor changes the global random state."""
    saved = fg_random.get_rng_state()
    fg_random.manual_seed(draw_seed(rs))
    try:
        yield
    finally:
        fg_random.set_rng_state(saved)


# ---------------------------------------------------------------------- validation split


def split_indices(
    owner: str,
    n: int,
    fraction: float,
    rs: np.random.RandomState,
    stratify: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) sample indices, in random order as scikit-learn's split;
    stratified by ``stratify`` when every class can be represented in both parts, else a
    plain random split."""
    idx = np.arange(n)
    parts: list[np.ndarray] | None = None
    if stratify is not None:
        state = rs.get_state()
        try:
            parts = train_test_split(idx, test_size=fraction, random_state=rs, stratify=stratify)
        except ValueError:  # a class too small to appear in both parts
            rs.set_state(state)
            parts = None
    if parts is None:
        parts = train_test_split(idx, test_size=fraction, random_state=rs)
    train_idx, val_idx = parts[0], parts[1]
    if len(val_idx) < 2 or len(train_idx) < 1:
        raise ArgumentError(
            f"{owner}: validation_fraction={fraction} of {n} samples leaves "
            f"{len(val_idx)} validation and {len(train_idx)} training samples; the validation "
            "set needs at least 2 (increase validation_fraction or use more data)"
        )
    return train_idx, val_idx


# ---------------------------------------------------------------------- models


class eval_mode:
    """Evaluation mode and no gradients inside the block; every module's previous mode
    afterwards (so predicting changes nothing about the estimator)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        self.grad = no_grad()
        self.grad.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.grad.__exit__(*exc)
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)


def forward(model: Any, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """The model's output for ``X`` as an array, in chunks, in evaluation mode."""
    pieces = []
    with eval_mode(model):
        for start in range(0, max(len(X), 1), batch_size):
            out = model(X[start : start + batch_size])
            pieces.append(np.asarray(getattr(out, "data", out)))
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def optimizer_state_for_pickle(state: dict[str, Any], key: str) -> dict[str, Any]:
    """``state`` (an estimator's ``__dict__`` copy) with its optimizer replaced by the
    optimizer's state dict: optimizers track their parameters by identity, which pickling
    does not keep, so the optimizer is rebuilt around the unpickled model instead."""
    optimizer = state.pop(key, None)
    if optimizer is not None:
        state[key + "_state"] = optimizer.state_dict()
    return state
