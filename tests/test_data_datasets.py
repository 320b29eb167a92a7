"""Datasets: the shipped digits against scikit-learn's copy, synthetic data against their
formulas and scikit-learn, load_csv and its errors, and ferrograd.data without scikit-learn."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources

import ferrograd as fg
import numpy as np
import pytest
from ferrograd.data import (
    CSVError,
    load_csv,
    load_digits,
    make_blobs,
    make_moons,
    make_regression,
    make_spirals,
)

skd = pytest.importorskip("sklearn.datasets")


# load_digits


def test_digits_equal_sklearn_exactly() -> None:
    X, y = load_digits()
    theirs = skd.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    np.testing.assert_array_equal(X, theirs.data)
    np.testing.assert_array_equal(y, theirs.target)
    images, y2 = load_digits(as_images=True)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images[:, 0], theirs.images)
    np.testing.assert_array_equal(y2, y)
    assert X.min() == 0 and X.max() == 16
    X[0, 0] = 99  # a fresh copy each call
    assert load_digits()[0][0, 0] == theirs.data[0, 0]


def test_digits_file_and_its_notes_ship_with_the_package() -> None:
    folder = resources.files("ferrograd.data")
    assert folder.joinpath("digits.npz").is_file()
    notes = folder.joinpath("DIGITS.md").read_text()
    assert "CC BY 4.0" in notes and "Alpaydin" in notes
    with pytest.raises(fg.DTypeError, match="as_images"):
        load_digits(as_images="yes")  # type: ignore[arg-type]


# Synthetic data


def test_moons_equal_sklearn_without_noise() -> None:
    for n in (1, 2, 7, 100):
        X, y = make_moons(n, shuffle=False)
        Xs, ys = skd.make_moons(n, shuffle=False)
        assert X.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(X, Xs.astype(np.float32))
        np.testing.assert_array_equal(y, ys)
    X, y = make_moons(50, seed=0)
    Xu, yu = make_moons(50, shuffle=False)
    order = np.lexsort((X[:, 1], X[:, 0]))
    order_u = np.lexsort((Xu[:, 1], Xu[:, 0]))
    np.testing.assert_array_equal(X[order], Xu[order_u])
    np.testing.assert_array_equal(y[order], yu[order_u])


def test_moons_noise_and_seed() -> None:
    X0, _ = make_moons(4000, shuffle=False)
    X, _ = make_moons(4000, noise=0.2, seed=1, shuffle=False)
    assert abs((X - X0).std() - 0.2) < 0.01
    np.testing.assert_array_equal(X, make_moons(4000, noise=0.2, seed=1, shuffle=False)[0])
    fg.manual_seed(0)
    a = make_moons(10, noise=0.1)
    fg.manual_seed(0)
    np.testing.assert_array_equal(a[0], make_moons(10, noise=0.1)[0])


def test_spirals_against_formula() -> None:
    X, y = make_spirals(10, n_classes=3, turns=1.5, shuffle=False)
    assert np.bincount(y).tolist() == [4, 3, 3]
    for k, n_k in enumerate([4, 3, 3]):
        t = np.arange(1, n_k + 1) / n_k
        angle = 2 * np.pi * (1.5 * t + k / 3)
        expected = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
        np.testing.assert_allclose(X[y == k], expected, rtol=1e-6, atol=1e-7)
    Xn, yn = make_spirals(300, n_classes=3, noise=0.1, seed=0)
    assert Xn.dtype == np.float32 and yn.dtype == np.int64 and Xn.shape == (300, 2)


def test_blobs() -> None:
    X, y, centres = make_blobs(
        10, centers=[[0, 0], [5, 5], [-5, 1]], cluster_std=0, seed=0, return_centers=True
    )
    np.testing.assert_array_equal(X, centres[y].astype(np.float32))
    assert np.bincount(y).tolist() == [4, 3, 3]
    assert [np.sum(y_ == k) for k, y_ in enumerate([y] * 3)] == [4, 3, 3]
    _, ys = skd.make_blobs(10, centers=3, random_state=0)
    assert np.bincount(ys).tolist() == np.bincount(y).tolist()
    X, y, centres = make_blobs(
        6000, centers=2, n_features=3, cluster_std=[0.5, 2.0], seed=1, return_centers=True
    )
    assert centres.shape == (2, 3) and np.all(np.abs(centres) <= 10)
    for k, std in enumerate([0.5, 2.0]):
        assert abs((X[y == k] - centres[k]).std() - std) < 0.05
    with pytest.raises(fg.ArgumentError, match="cluster_std"):
        make_blobs(10, centers=2, cluster_std=[1, 2, 3])
    with pytest.raises(fg.ShapeError, match="centers"):
        make_blobs(10, centers=np.zeros(3))


def test_regression_is_linear_in_x() -> None:
    X, y, coef = make_regression(200, n_features=5, n_targets=3, bias=2.0, seed=0, return_coef=True)
    assert X.dtype == y.dtype == np.float32 and y.shape == (200, 3) and coef.shape == (5, 3)
    np.testing.assert_allclose(y, X.astype(np.float64) @ coef + 2.0, rtol=1e-6, atol=1e-4)
    X, y, coef = make_regression(5000, n_features=2, noise=3.0, seed=1, return_coef=True)
    assert y.shape == (5000,) and coef.shape == (2,)
    assert abs((y - X.astype(np.float64) @ coef).std() - 3.0) < 0.1


def test_synthetic_argument_errors() -> None:
    with pytest.raises(fg.ArgumentError, match="n_samples must be at least 1"):
        make_moons(0)
    with pytest.raises(fg.ArgumentError, match="noise"):
        make_moons(10, noise=-1)
    with pytest.raises(fg.ArgumentError, match="n_samples must be at least 4"):
        make_spirals(3, n_classes=4)
    with pytest.raises(fg.DTypeError, match="n_targets"):
        make_regression(10, n_targets=1.5)  # type: ignore[arg-type]


# load_csv


def _write(tmp_path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return os.fspath(path)


def test_csv_single_and_several_targets(tmp_path) -> None:
    path = _write(tmp_path, "a,b,label,score\n1,2,0,0.5\n3,4.5,2,1.5\n\n-1,1e2,1,2\n")
    X, y = load_csv(path, target="label")
    assert X.dtype == np.float32 and X.tolist() == [[1, 2, 0.5], [3, 4.5, 1.5], [-1, 100, 2]]
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]
    X, y = load_csv(path, target=["score", "label"])
    assert X.tolist() == [[1, 2], [3, 4.5], [-1, 100]]
    assert y.dtype == np.float32 and y.shape == (3, 2) and y[:, 0].tolist() == [0.5, 1.5, 2]
    X, y = load_csv(path, target=-1, dtype=np.float64, target_dtype=np.float64)
    assert X.dtype == np.float64 and y.tolist() == [0.5, 1.5, 2.0]


def test_csv_without_header_other_delimiter_and_quotes(tmp_path) -> None:
    path = _write(tmp_path, '1;"2";3\n4;5;6\n')
    X, y = load_csv(path, target=0, delimiter=";", header=False)
    assert X.tolist() == [[2, 3], [5, 6]] and y.tolist() == [1, 4]
    path = _write(tmp_path, '"x 1", "y"\n1.5,2\n', name="spaces.csv")
    X, y = load_csv(path, target="y")
    assert X.tolist() == [[1.5]] and y.tolist() == [2]


@pytest.mark.parametrize(
    ("text", "kwargs", "words"),
    [
        ("a,b\n1,2\n", {"target": "c"}, r"no column named 'c'; the columns are \['a', 'b'\]"),
        ("a,b\n1,2\n3,x\n", {"target": "a"}, r"row 3, column 'b' of data.csv: 'x' is not"),
        ("a,b\n1,2\n3,\n", {"target": "a"}, r"row 3, column 'b' of data.csv: '' is not"),
        ("a,b\n1,2\n3,4,5\n", {"target": "a"}, "row 3 of data.csv has 3 fields, but the header"),
        ("a,b,c\n1,2\n3,4\n", {"target": "a"}, "row 2 of data.csv has 2 fields"),
        ("1,2\n3,oops\n", {"target": 0, "header": False}, "row 2, column 1 of data.csv"),
        ("", {"target": "a"}, "is empty"),
        ("a,b\n", {"target": "a"}, "no data rows"),
        ("a,b\n1,2\n", {"target": ["a", "b"]}, "no feature columns"),
        ("a,b\n1,2\n", {"target": 5}, "out of range; the file has 2 columns"),
        ("a,b\n1,2\n", {"target": ["a", "a"]}, "twice"),
        ("1,2\n", {"target": "a", "header": False}, "column indices"),
    ],
)
def test_csv_errors(tmp_path, text, kwargs, words) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CSVError, match=words) as info:
        load_csv(path, **kwargs)
    assert isinstance(info.value, fg.FerrogradError) and isinstance(info.value, ValueError)


def test_csv_missing_file(tmp_path) -> None:
    with pytest.raises(CSVError, match="no such file"):
        load_csv(os.fspath(tmp_path / "absent.csv"), target="y")


# Without scikit-learn


def test_ferrograd_data_works_without_sklearn() -> None:
    code = """
import sys
sys.modules["sklearn"] = None  # any import of scikit-learn now fails
import ferrograd as fg
from ferrograd import data, metrics
X, y = data.load_digits()
parts = data.train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
Z = data.StandardScaler().fit_transform(parts[0])
W = data.PCAWhitening(n_components=10).fit_transform(parts[0])
batches = list(data.DataLoader((Z, parts[2]), batch_size=256, shuffle=True, seed=0))
print(len(batches), metrics.accuracy(parts[3], parts[3]), "sklearn" in sys.modules and
      sys.modules["sklearn"] is None)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["6", "1.0", "True"]


def test_csv_dtype_arguments(tmp_path) -> None:
    path = _write(tmp_path, "a,b\n1,2.5\n3,4\n")
    with pytest.raises(fg.DTypeError, match="dtype must be a float dtype"):
        load_csv(path, target="a", dtype=np.int32)
    with pytest.raises(fg.DTypeError, match="target_dtype is not a dtype"):
        load_csv(path, target="a", target_dtype="label")
    with pytest.raises(CSVError, match="not whole numbers"):
        load_csv(path, target="b", target_dtype=np.int64)
    assert load_csv(path, target="a", target_dtype=np.int32)[1].dtype == np.int32
