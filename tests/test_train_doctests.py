"""The examples in the docstrings of the training layer and the command line run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ferrograd.train",
    "ferrograd.train.callbacks",
    "ferrograd.train.checkpoint",
    "ferrograd.train.history",
    "ferrograd.train.search",
    "ferrograd.train.trainer",
    "ferrograd.cli.config",
    "ferrograd.random",
    "ferrograd.serialization",
    "ferrograd.compile",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
