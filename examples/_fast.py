"""What the examples share: the fast setting and the folder they write files into.

``FERROGRAD_EXAMPLES_FAST=1`` runs every example in a small setting (fewer samples and
epochs) in which its assertion still holds; the test suite runs them that way.
``FERROGRAD_EXAMPLES_OUT=DIR`` names the folder examples write files into (default: the
current directory).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

FAST = os.environ.get("FERROGRAD_EXAMPLES_FAST", "") not in ("", "0")


def full_or_fast(full: T, fast: T) -> T:
    """``fast`` in the fast setting, ``full`` otherwise."""
    return fast if FAST else full


def output_dir() -> Path:
    """The folder for files an example writes (created if missing)."""
    path = Path(os.environ.get("FERROGRAD_EXAMPLES_OUT") or ".")
    path.mkdir(parents=True, exist_ok=True)
    return path
