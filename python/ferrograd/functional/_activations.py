"""The activations part of :mod:`ferrograd.functional`."""

from __future__ import annotations

__all__: list[str] = []
