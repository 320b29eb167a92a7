"""Augmentations: each output image is a transform of the same input image (labels keep),
against per-image references; seeding; errors."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd.data import Compose, DataLoader, GaussianNoise, RandomFlip, RandomShift
from hypothesis import given
from hypothesis import strategies as st


def _images(n: int = 64, c: int = 2, h: int = 5, w: int = 6, seed: int = 0) -> np.ndarray:
    """Images of distinct values, so that every transform can be identified."""
    return (
        np.random.default_rng(seed)
        .permutation(n * c * h * w)
        .reshape(n, c, h, w)
        .astype(np.float32)
    )


def _shifted(image: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """Reference: pixel (r, c) moves to (r + dy, c + dx), one image at a time."""
    out = np.full_like(image, fill)
    _, h, w = image.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r + dy < h and 0 <= c + dx < w:
                out[:, r + dy, c + dx] = image[:, r, c]
    return out


@pytest.mark.parametrize(("horizontal", "vertical"), [(True, False), (False, True), (True, True)])
def test_flip_maps_each_image_to_a_flip_of_itself(horizontal: bool, vertical: bool) -> None:
    x = _images()
    out = RandomFlip(horizontal, vertical, p=0.5, seed=1)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    options = [(False, False), (True, False), (False, True), (True, True)]
    chosen = []
    for i in range(len(x)):
        matches = [
            (h, v)
            for h, v in options
            if (h <= horizontal and v <= vertical)
            and np.array_equal(out[i], x[i][:, :: -1 if v else 1, :: -1 if h else 1])
        ]
        assert len(matches) == 1, i
        chosen.append(matches[0])
    assert len(set(chosen)) > 1  # some flipped, some not
    np.testing.assert_array_equal(x, _images())  # input untouched


def test_flip_probability() -> None:
    x = np.arange(2.0).reshape(1, 1, 1, 2).repeat(20000, axis=0)
    flipped = RandomFlip(p=0.3, seed=0)(x)[:, 0, 0, 0] == 1.0
    assert abs(flipped.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(RandomFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(RandomFlip(p=1.0)(x), x[..., ::-1])


@given(max_shift=st.integers(0, 3), fill=st.sampled_from([0.0, -1.0]), seed=st.integers(0, 99))
def test_shift_against_reference(max_shift: int, fill: float, seed: int) -> None:
    x = _images(n=12, seed=seed)
    out = RandomShift(max_shift, fill=fill, seed=seed)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    shifts = range(-max_shift, max_shift + 1)
    for i in range(len(x)):
        found = [
            (dy, dx)
            for dy in shifts
            for dx in shifts
            if np.array_equal(out[i], _shifted(x[i], dy, dx, fill))
        ]
        assert len(found) == 1, (i, found)


def test_shift_pairs_and_all_offsets_occur() -> None:
    x = _images(n=400, c=1, h=4, w=4)
    out = RandomShift((0, 2), seed=3)(x)
    seen = set()
    for i in range(len(x)):
        for dx in range(-2, 3):
            if np.array_equal(out[i], _shifted(x[i], 0, dx, 0)):
                seen.add(dx)
    assert seen == {-2, -1, 0, 1, 2}
    np.testing.assert_array_equal(RandomShift(0)(x), x)
    ints = np.ones((3, 1, 4, 4), dtype=np.uint8)
    assert RandomShift(1, seed=0)(ints).dtype == np.uint8


def test_noise_statistics_and_dtype() -> None:
    x = np.full((200, 1, 10, 10), 3.0)
    out = GaussianNoise(0.5, seed=0)(x)
    assert out.dtype == np.float64
    assert abs((out - 3).mean()) < 0.01 and abs((out - 3).std() - 0.5) < 0.01
    assert GaussianNoise(0.1, seed=0)(x.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(GaussianNoise(0.0)(x), x)
    table = np.zeros((5, 3))  # noise also applies to tabular batches
    assert GaussianNoise(1.0, seed=0)(table).shape == (5, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: RandomFlip(True, True, seed=s),
        lambda s: RandomShift(2, seed=s),
        lambda s: GaussianNoise(1.0, seed=s),
    ],
)
def test_seeded_repeatable_and_advancing(make) -> None:
    x = _images()
    a, b = make(7), make(7)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(a(x), first)  # the next batch gets new draws
    fg.manual_seed(3)
    c = make(None)(x)
    fg.manual_seed(3)
    np.testing.assert_array_equal(make(None)(x), c)


def test_compose_applies_in_order_and_keeps_labels_in_a_loader() -> None:
    x = _images(n=32)
    y = np.arange(32)
    aug = Compose([RandomFlip(p=1.0), RandomShift(0), GaussianNoise(0.0)])
    np.testing.assert_array_equal(aug(x), x[..., ::-1])
    seen = 0
    for xb, yb in DataLoader((x, y), batch_size=8, shuffle=True, seed=0):
        xa = RandomFlip(p=1.0)(xb)
        np.testing.assert_array_equal(xa[..., ::-1], x[yb])  # row i is still sample yb[i]
        seen += len(yb)
    assert seen == 32


def test_errors() -> None:
    with pytest.raises(fg.ShapeError, match=r"\(N, C, H, W\), got shape \(3, 4\)"):
        RandomFlip()(np.zeros((3, 4)))
    with pytest.raises(fg.ArgumentError, match="p must be in"):
        RandomFlip(p=1.5)
    with pytest.raises(fg.ArgumentError, match="both False"):
        RandomFlip(horizontal=False)
    with pytest.raises(fg.ArgumentError, match="max_shift must be at least 0"):
        RandomShift(-1)
    with pytest.raises(fg.DTypeError, match="max_shift"):
        RandomShift(1.5)  # type: ignore[arg-type]
    with pytest.raises(fg.ArgumentError, match="std"):
        GaussianNoise(-0.1)
    with pytest.raises(fg.DTypeError, match="float32 or float64"):
        GaussianNoise(0.1)(np.zeros((1, 1, 2, 2), dtype=np.uint8))
    with pytest.raises(fg.DTypeError, match="not callable"):
        Compose([RandomFlip(), 3])  # type: ignore[list-item]
    with pytest.raises(fg.ArgumentError, match="seed"):
        GaussianNoise(0.1, seed=-1)
