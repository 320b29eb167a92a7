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


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (6, 2, 3, 3), (1, 7), (7, 1)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    gain = 1.5
    w = nn.init.orthogonal_(param(*shape), gain=gain, generator=np.random.default_rng(3))
    rows = shape[0]
    flat = w.data.reshape(rows, -1) / gain
    cols = flat.shape[1]
    if rows <= cols:
        np.testing.assert_allclose(flat @ flat.T, np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(flat.T @ flat, np.eye(cols), atol=1e-12)
    # PyTorch's recipe: Q of the QR factorisation of a standard normal draw (transposed when
    # rows < cols) with R's diagonal made positive. Q and such an R are unique, so
    # R = Q^T A must come out upper triangular with a positive diagonal.
    a = np.random.default_rng(3).standard_normal((rows, cols))
    q = flat.T if rows < cols else flat
    a = a.T if rows < cols else a
    r = q.T @ a
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-12)
    assert np.all(np.diag(r) > 0)
    np.testing.assert_allclose(q @ r, a, atol=1e-12)


def test_orthogonal_is_seeded_keeps_the_dtype_and_checks_its_arguments():
    import ferrograd as fg

    fg.manual_seed(7)
    a = nn.init.orthogonal_(nn.Parameter(np.empty((4, 6), dtype=np.float32)))
    fg.manual_seed(7)
    b = nn.init.orthogonal_(nn.Parameter(np.empty((4, 6), dtype=np.float32)))
    c = nn.init.orthogonal_(nn.Parameter(np.empty((4, 6), dtype=np.float32)))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.allclose(b.data, c.data)
    np.testing.assert_allclose(a.data @ a.data.T, np.eye(4), atol=1e-6)
    arr = np.empty((3, 3))
    assert nn.init.orthogonal_(arr) is arr and np.allclose(arr @ arr.T, np.eye(3))
    assert nn.init.orthogonal_(param(0, 3)).shape == (0, 3)  # nothing to fill
    with pytest.raises(ShapeError, match="2 or more axes"):
        nn.init.orthogonal_(param(5))
    with pytest.raises(fg.DTypeError, match="gain must be a real number"):
        nn.init.orthogonal_(param(2, 2), gain="1")
    with pytest.raises(fg.DTypeError, match="must hold floats"):
        nn.init.orthogonal_(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(fg.DTypeError, match="generator must be"):
        nn.init.orthogonal_(param(2, 2), generator=3)
