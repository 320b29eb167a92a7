"""The examples in the docstrings of ferrograd.data and ferrograd.metrics run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ferrograd.data",
    "ferrograd.data.augment",
    "ferrograd.data.dataset",
    "ferrograd.data.datasets",
    "ferrograd.data.kfold",
    "ferrograd.data.loader",
    "ferrograd.data.scalers",
    "ferrograd.data.splits",
    "ferrograd.data.synthetic",
    "ferrograd.data.tabular",
    "ferrograd.data.whitening",
    "ferrograd.metrics",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
