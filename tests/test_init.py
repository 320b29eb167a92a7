"""nn.init: the distributions' ranges and spreads, fans, gains and seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ferrograd import ShapeError, nn


def param(*shape: int) -> nn.Parameter:
    return nn.Parameter(np.empty(shape, dtype=np.float64))


def test_uniform_initialisers_fill_their_range():
    w = nn.init.xavier_uniform_(param(200, 300), generator=np.random.default_rng(0))
    a = math.sqrt(6 / 500)
    assert np.abs(w.data).max() <= a and np.abs(w.data).max() > 0.99 * a
    w = nn.init.kaiming_uniform_(param(64, 16, 3, 3), generator=np.random.default_rng(0))
    bound = math.sqrt(2.0) * math.sqrt(3 / (16 * 9))  # gain of leaky_relu with a=0 is sqrt(2)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound


def test_normal_initialisers_have_the_right_spread():
    w = nn.init.kaiming_normal_(
        param(400, 500), mode="fan_out", nonlinearity="relu", generator=np.random.default_rng(1)
    )
    assert w.data.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    w = nn.init.xavier_normal_(param(300, 500), gain=2.0, generator=np.random.default_rng(2))
    assert w.data.std() == pytest.approx(2.0 * math.sqrt(2 / 800), rel=0.02)
    assert abs(w.data.mean()) < 0.01


def test_gains_constants_and_errors():
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert np.all(nn.init.ones_(param(3)).data == 1.0)
    assert np.all(nn.init.constant_(param(2, 2), 0.5).data == 0.5)
    with pytest.raises(ShapeError, match="at least 2 axes"):
        nn.init.xavier_uniform_(param(5))
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        nn.init.calculate_gain("swish")


def test_same_generator_seed_gives_the_same_weights_and_dtype_is_kept():
    a = nn.init.normal_(param(4, 4), generator=np.random.default_rng(5))
    b = nn.init.normal_(param(4, 4), generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    w = nn.Parameter(np.empty((3, 3), dtype=np.float32))
    assert nn.init.kaiming_normal_(w).data.dtype == np.float32
