"""ArrayDataset, DataLoader and default_collate: the order contract, epochs, resumption,
samplers, collation and errors."""

from __future__ import annotations

import os

import ferrograd as fg
import numpy as np
import pytest
from ferrograd.data import ArrayDataset, DataLoader, Dataset, default_collate
from hypothesis import given
from hypothesis import strategies as st


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X whose row i is (i, i + 0.5), y = i: a batch shows which samples it holds."""
    i = np.arange(n)
    return np.stack([i, i + 0.5], axis=1).astype(np.float32), i.astype(np.int64)


def _epoch_ids(loader: DataLoader) -> list[int]:
    return [int(i) for _, yb in loader for i in yb]


# ArrayDataset


def test_array_dataset_items_and_batches() -> None:
    X, y = _data(5)
    ds = ArrayDataset(X, y)
    assert len(ds) == 5 and isinstance(ds, Dataset)
    x2, y2 = ds[2]
    np.testing.assert_array_equal(x2, X[2])
    assert y2 == 2
    xb, yb = ds.__getitems__([4, 0, 4])
    np.testing.assert_array_equal(xb, X[[4, 0, 4]])
    np.testing.assert_array_equal(yb, [4, 0, 4])
    assert ds.arrays[0] is X  # no copy


def test_array_dataset_dict_targets() -> None:
    X, y = _data(4)
    ds = ArrayDataset(X, {"a": y, "b": -y.astype(np.float32)})
    assert isinstance(ds.arrays[1], dict)
    _, targets = ds.__getitems__(np.array([1, 3]))
    np.testing.assert_array_equal(targets["a"], [1, 3])
    np.testing.assert_array_equal(targets["b"], [-1.0, -3.0])
    assert ds[2][1] == {"a": 2, "b": -2.0}


def test_array_dataset_tensor_and_list_inputs() -> None:
    ds = ArrayDataset(fg.tensor(np.ones((3, 2))), [0, 1, 2])
    xb, yb = ds.__getitems__([0, 2])
    assert xb.shape == (2, 2) and yb.tolist() == [0, 2]


def test_array_dataset_errors() -> None:
    with pytest.raises(fg.ShapeError, match=r"arrays\[0\] has 3, arrays\[1\] has 4"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(fg.ShapeError, match=r"arrays\[1\]\['b'\] has 2"):
        ArrayDataset(np.zeros(3), {"a": np.zeros(3), "b": np.zeros(2)})
    with pytest.raises(fg.DTypeError, match="only the last"):
        ArrayDataset({"a": np.zeros(3)}, np.zeros(3))
    with pytest.raises(fg.ArgumentError, match="at least one"):
        ArrayDataset()
    with pytest.raises(fg.ShapeError, match="scalar"):
        ArrayDataset(np.float32(1))
    with pytest.raises(fg.ArgumentError, match="dict of targets is empty"):
        ArrayDataset(np.zeros(3), {})


# DataLoader: the order contract


def test_unshuffled_batches_in_order() -> None:
    X, y = _data(10)
    loader = DataLoader((X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    np.testing.assert_array_equal(batches[0][0], X[:4])
    np.testing.assert_array_equal(batches[2][1], y[8:])
    assert loader.batch_size == 4 and loader.drop_last is False
    assert isinstance(loader.dataset, ArrayDataset)


@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 70),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_every_sample_once_per_epoch(n: int, batch_size: int, drop_last: bool, seed: int) -> None:
    X, y = _data(n)
    if drop_last and batch_size > n:
        with pytest.raises(fg.ArgumentError, match="no batch"):
            DataLoader((X, y), batch_size=batch_size, drop_last=drop_last)
        return
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=True, seed=seed, drop_last=drop_last)
    for epoch in range(3):
        batches = list(loader)
        assert len(batches) == len(loader)
        ids = [int(i) for _, yb in batches for i in yb]
        for xb, yb in batches:
            np.testing.assert_array_equal(xb[:, 0], yb)  # rows stay with their labels
            assert len(yb) == batch_size or (not drop_last and yb is batches[-1][1])
        expected = np.random.default_rng([seed, epoch]).permutation(n)
        kept = n - n % batch_size if drop_last else n
        assert ids == expected[:kept].tolist()
        assert len(set(ids)) == kept


def test_reshuffles_each_epoch_and_epoch_advances_only_on_completion() -> None:
    X, y = _data(50)
    loader = DataLoader((X, y), batch_size=8, shuffle=True, seed=1)
    first, second = _epoch_ids(loader), _epoch_ids(loader)
    assert first != second and sorted(first) == sorted(second) == list(range(50))
    assert loader.epoch == 2
    for _ in loader:
        break  # an unfinished epoch does not count
    assert loader.epoch == 2
    assert _epoch_ids(loader) == np.random.default_rng([1, 2]).permutation(50).tolist()


def test_set_epoch_chooses_the_order() -> None:
    X, y = _data(30)
    loader = DataLoader((X, y), batch_size=7, shuffle=True, seed=9)
    loader.set_epoch(5)
    assert _epoch_ids(loader) == np.random.default_rng([9, 5]).permutation(30).tolist()
    assert loader.epoch == 6
    loader.set_epoch(5)
    again = _epoch_ids(loader)
    loader.set_epoch(5)
    assert _epoch_ids(loader) == again
    # set_epoch during an epoch wins over the automatic advance.
    it = iter(loader)
    loader.set_epoch(2)
    list(it)
    assert loader.epoch == 2


def test_state_dict_resumes_the_same_orders(tmp_path) -> None:
    X, y = _data(40)
    original = DataLoader((X, y), batch_size=16, shuffle=True, seed=123)
    for _ in range(2):
        _epoch_ids(original)
    state = original.state_dict()
    assert state == {"seed": 123, "epoch": 2}
    path = os.fspath(tmp_path / "loader.safetensors")
    fg.save({k: np.array(v) for k, v in state.items()}, path)
    resumed = DataLoader((X, y), batch_size=16, shuffle=True, seed=0)
    resumed.load_state_dict(dict(fg.load(path)))
    for _ in range(3):
        assert _epoch_ids(resumed) == _epoch_ids(original)


def test_seed_none_follows_manual_seed() -> None:
    X, y = _data(64)
    fg.manual_seed(4)
    a = DataLoader((X, y), batch_size=64, shuffle=True)
    fg.manual_seed(4)
    b = DataLoader((X, y), batch_size=64, shuffle=True)
    assert a.seed == b.seed and _epoch_ids(a) == _epoch_ids(b)
    fg.manual_seed(5)
    assert DataLoader((X, y), shuffle=True).seed != a.seed


def test_dict_targets_stay_dicts() -> None:
    X, y = _data(6)
    loader = DataLoader(ArrayDataset(X, {"cls": y, "reg": y * 2.0}), batch_size=4, shuffle=True)
    for xb, targets in loader:
        np.testing.assert_array_equal(targets["cls"], xb[:, 0])
        np.testing.assert_array_equal(targets["reg"], 2 * xb[:, 0])


class _SpyDataset:
    """An array dataset that counts how it is read."""

    def __init__(self, n: int) -> None:
        self.inner = ArrayDataset(*_data(n))
        self.items = 0
        self.batches = 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int):
        self.items += 1
        return self.inner[i]

    def __getitems__(self, idx):
        self.batches += 1
        return self.inner.__getitems__(idx)


def test_array_datasets_are_gathered_once_per_batch() -> None:
    ds = _SpyDataset(20)
    list(DataLoader(ds, batch_size=6, shuffle=True, seed=0))
    assert (ds.batches, ds.items) == (4, 0)


class _Samples:
    """A plain Dataset of (image, label) samples."""

    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int):
        return np.full((2, 3), i, dtype=np.float32), i % 3


def test_any_dataset_with_default_collation() -> None:
    loader = DataLoader(_Samples(), batch_size=3, shuffle=True, seed=2)
    seen = []
    for xb, yb in loader:
        assert xb.dtype == np.float32 and xb.shape[1:] == (2, 3)
        np.testing.assert_array_equal(yb, xb[:, 0, 0].astype(np.int64) % 3)
        seen += xb[:, 0, 0].astype(int).tolist()
    assert sorted(seen) == list(range(7))
    assert seen == np.random.default_rng([2, 0]).permutation(7).tolist()


def test_collate_fn_gets_the_samples() -> None:
    got = []
    loader = DataLoader(ArrayDataset(*_data(5)), batch_size=2, collate_fn=lambda s: got.append(s))
    list(loader)
    assert [len(s) for s in got] == [2, 2, 1]
    assert got[0][1][1] == 1  # a sample tuple (x, y), read one by one


def test_default_collate_nested_and_errors() -> None:
    batch = default_collate([{"x": np.zeros(2), "y": (1, 2.5)}, {"x": np.ones(2), "y": (3, 4.5)}])
    assert batch["x"].shape == (2, 2)
    assert batch["y"][0].dtype == np.int64 and batch["y"][1].tolist() == [2.5, 4.5]
    assert isinstance(default_collate([[1, 2], [3, 4]]), list)
    with pytest.raises(fg.ShapeError, match=r"sample 1, field \[0\], has shape \(3,\)"):
        default_collate([(np.zeros(2), 1), (np.zeros(3), 1)])
    with pytest.raises(fg.ShapeError, match="sample 1 is a tuple with 1 fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(fg.ShapeError, match="keys"):
        default_collate([{"a": 1}, {"b": 1}])


class _Sampler:
    """Every other index, in reverse, remembering the epochs it is told."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.epochs: list[int] = []

    def __iter__(self):
        return iter(range(self.n - 1, -1, -2))

    def __len__(self) -> int:
        return len(range(self.n - 1, -1, -2))

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def test_sampler_decides_the_indices_and_gets_the_epoch() -> None:
    sampler = _Sampler(9)
    loader = DataLoader(ArrayDataset(*_data(9)), batch_size=2, sampler=sampler)
    assert len(loader) == 3
    assert _epoch_ids(loader) == [8, 6, 4, 2, 0]
    loader.set_epoch(7)
    _epoch_ids(loader)
    assert sampler.epochs == [0, 7]
    with pytest.raises(fg.ArgumentError, match="cannot be combined"):
        DataLoader(ArrayDataset(*_data(9)), sampler=sampler, shuffle=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"batch_size": 0}, fg.ArgumentError, "batch_size must be at least 1"),
        ({"batch_size": 2.0}, fg.DTypeError, "batch_size must be an int"),
        ({"batch_size": True}, fg.DTypeError, "batch_size"),
        ({"shuffle": 1}, fg.DTypeError, "shuffle must be True or False"),
        ({"seed": -3}, fg.ArgumentError, "seed"),
        ({"collate_fn": 3}, fg.DTypeError, "collate_fn"),
        ({"sampler": [0, 1]}, fg.DTypeError, "sampler"),
        ({"batch_size": 9, "drop_last": True}, fg.ArgumentError, "no batch"),
    ],
)
def test_loader_argument_errors(kwargs, error, words) -> None:
    if kwargs.get("sampler") == [0, 1]:
        kwargs["sampler"] = object()
    with pytest.raises(error, match=words):
        DataLoader(_data(8), **kwargs)


def test_loader_dataset_errors() -> None:
    with pytest.raises(fg.ArgumentError, match="dataset is empty"):
        DataLoader((np.zeros((0, 2)),))
    with pytest.raises(fg.DTypeError, match="__len__ and __getitem__"):
        DataLoader(np.float32(3))
    with pytest.raises(fg.ArgumentError, match="yields no indices"):
        DataLoader(_data(4), sampler=_Sampler(0))
    loader = DataLoader(_data(4), shuffle=True, seed=1)
    with pytest.raises(fg.ArgumentError, match="expected keys"):
        loader.load_state_dict({"seed": 1})
    with pytest.raises(fg.ArgumentError, match="epoch must be at least 0"):
        loader.load_state_dict({"seed": 1, "epoch": -1})
    assert loader.state_dict() == {"seed": 1, "epoch": 0}  # unchanged by failed loads
    with pytest.raises(fg.DTypeError, match="epoch"):
        loader.set_epoch(1.5)  # type: ignore[arg-type]


def test_dataset_can_be_subclassed_like_pytorch() -> None:
    class Squares(Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int):
            return np.float32(i), i * i

    xb, yb = next(iter(DataLoader(Squares(), batch_size=5)))
    assert xb.dtype == np.float32 and yb.tolist() == [0, 1, 4, 9, 16]
    assert isinstance(Squares(), Dataset) and not isinstance(3, Dataset)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_batches_are_gathered_by_the_extension_exactly(dtype):
    from ferrograd import _core

    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 4, 7)).astype(dtype)  # rows of 28 values
    idx = rng.permutation(3000)[:700]
    np.testing.assert_array_equal(_core.take_rows(x, idx), x[idx])
    np.testing.assert_array_equal(_core.take_rows(x, np.array([-1, 0, -3000])), x[[-1, 0, 0]])
    with pytest.raises(fg.ArgumentError, match="out of bounds"):
        _core.take_rows(x, np.array([3000]))
    with pytest.raises(fg.DTypeError, match="int64"):
        _core.take_rows(x, idx.astype(np.float64))
    ds = ArrayDataset(x, np.arange(3000))
    xb, yb = ds.__getitems__(idx)  # 700 * 28 * itemsize bytes: past the extension's threshold
    np.testing.assert_array_equal(xb, x[idx])
    np.testing.assert_array_equal(yb, idx)
    assert xb.dtype == dtype and xb.flags.c_contiguous
    fortran = np.asfortranarray(x.reshape(3000, 28))
    np.testing.assert_array_equal(ArrayDataset(fortran).__getitems__(idx)[0], fortran[idx])
