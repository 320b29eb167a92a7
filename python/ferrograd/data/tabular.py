"""``load_csv``: a numeric CSV file as features X and targets y.

Examples
--------
>>> import os, tempfile
>>> from ferrograd.data import load_csv
>>> path = os.path.join(tempfile.mkdtemp(), "iris.csv")
>>> with open(path, "w") as f:
...     _ = f.write("length,width,label\\n5.1,3.5,0\\n6.2,2.9,1\\n")
>>> X, y = load_csv(path, target="label")
>>> X.tolist(), y.tolist(), y.dtype
([[5.099999904632568, 3.5], [6.199999809265137, 2.9000000953674316]], [0, 1], dtype('int64'))
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..exceptions import DTypeError, FerrogradError
from ._checks import is_int

Column = Union[str, int]


class CSVError(FerrogradError, ValueError):
    """A CSV file that cannot be read as numbers: missing, without the target column, with a
    non-numeric cell or with rows of different lengths."""


def load_csv(
    path: str | os.PathLike[str],
    target: Column | Sequence[Column],
    delimiter: str = ",",
    header: bool = True,
    dtype: Any = np.float32,
    target_dtype: Any = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Reads a CSV file of numbers; the ``target`` column(s) become y, the others X.

    Parameters
    ----------
    path : the file.
    target : a column name (with ``header=True``) or index (negative counts from the end),
        or a list of them for several targets.
    delimiter : the field separator.
    header : the first row holds the column names.
    dtype : dtype of X.
    target_dtype : dtype of y; ``"auto"`` gives int64 when every target value is a whole
        number (class labels) and float32 otherwise.

    Returns
    -------
    X : (n_rows, n_features); y : (n_rows,) for one target name or index, (n_rows, k) for a
    list of k.

    Raises
    ------
    CSVError : the file is missing or empty, a target column does not exist (the message lists
        the columns), a cell is not a number (its row and column are named), or rows have
        different numbers of fields.
    """
    func = "load_csv"
    x_dtype = _float_dtype(func, "dtype", dtype)
    y_dtype = None if isinstance(target_dtype, str) and target_dtype == "auto" else target_dtype
    if y_dtype is not None:
        y_dtype = _numeric_dtype(func, "target_dtype", y_dtype)
    file = Path(path)
    if not file.is_file():
        raise CSVError(f"{func}: no such file: {str(file)!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise CSVError(f"{func}: delimiter must be a single character, got {delimiter!r}")
    names = _column_names(file, delimiter, header)
    wanted = target if isinstance(target, (list, tuple)) else [target]
    columns = [_column(func, c, names, header) for c in wanted]
    if len(set(columns)) != len(columns):
        raise CSVError(f"{func}: target names a column twice: {target!r}")
    features = [i for i in range(len(names)) if i not in columns]
    if not features:
        raise CSVError(f"{func}: every column is a target; no feature columns are left")

    data = _numbers(file, delimiter, header, names)
    y = data[:, columns] if isinstance(target, (list, tuple)) else data[:, columns[0]]
    X = data[:, features].astype(x_dtype)
    if y_dtype is None:
        whole = np.isfinite(y).all() and (y == np.round(y)).all()
        return X, y.astype(np.int64 if whole else np.float32)
    if y_dtype.kind in "iu" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise CSVError(f"{func}: target_dtype={y_dtype} but the targets are not whole numbers")
    return X, y.astype(y_dtype)


def _numeric_dtype(func: str, name: str, dtype: Any) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{func}: {name} is not a dtype: {dtype!r}") from None
    if dt.kind not in "iuf":
        raise DTypeError(f"{func}: {name} must be an integer or float dtype, got {dt}")
    return dt


def _float_dtype(func: str, name: str, dtype: Any) -> np.dtype[Any]:
    dt = _numeric_dtype(func, name, dtype)
    if dt.kind != "f":
        raise DTypeError(f"{func}: {name} must be a float dtype, got {dt}")
    return dt


def _column_names(file: Path, delimiter: str, header: bool) -> list[str]:
    """The header's names, or ``"0"``, ``"1"``, ... for a file without one."""
    with file.open(newline="", encoding="utf-8-sig") as f:
        first = next(
            (row for row in csv.reader(f, delimiter=delimiter, skipinitialspace=True) if row), None
        )
    if first is None:
        raise CSVError(f"load_csv: {str(file)!r} is empty")
    return [name.strip() for name in first] if header else [str(i) for i in range(len(first))]


def _column(func: str, column: Any, names: list[str], header: bool) -> int:
    if is_int(column):
        if not -len(names) <= column < len(names):
            raise CSVError(
                f"{func}: target column {column} is out of range; the file has {len(names)} columns"
            )
        return int(column) % len(names)
    if isinstance(column, str):
        if not header:
            raise CSVError(f"{func}: with header=False, target must be column indices")
        if column not in names:
            raise CSVError(f"{func}: no column named {column!r}; the columns are {names}")
        return names.index(column)
    raise CSVError(f"{func}: target must be a column name or index, got {column!r}")


def _numbers(file: Path, delimiter: str, header: bool, names: list[str]) -> np.ndarray:
    """All cells as float64 (n_rows, n_columns); a malformed file is searched for the first
    bad row or cell to name it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(
                file,
                delimiter=delimiter,
                skiprows=1 if header else 0,
                dtype=np.float64,
                ndmin=2,
                comments=None,
                quotechar='"',
                encoding="utf-8-sig",
            )
    except ValueError as e:
        _find_problem(file, delimiter, header, names)
        raise CSVError(f"load_csv: {str(file)!r} cannot be read as numbers: {e}") from None
    if data.shape[0] == 0:
        raise CSVError(f"load_csv: {str(file)!r} has no data rows")
    if data.shape[1] != len(names):
        _find_problem(file, delimiter, header, names)
    return data


def _find_problem(file: Path, delimiter: str, header: bool, names: list[str]) -> None:
    """Raises a CSVError naming the first ragged row or non-numeric cell, if there is one."""
    with file.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter, skipinitialspace=True)
        if header:
            next(reader)
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) != len(names):
                raise CSVError(
                    f"load_csv: row {line} of {file.name} has {len(row)} fields, but the "
                    f"{'header' if header else 'first row'} has {len(names)}"
                )
            for name, cell in zip(names, row):
                try:
                    float(cell)
                except ValueError:
                    column = f"column {name!r}" if header else f"column {name}"
                    raise CSVError(
                        f"load_csv: row {line}, {column} of {file.name}: {cell!r} is not a number"
                    ) from None
