"""Every script in examples/ runs to the end in its fast setting, and its assertion holds.

Each example asserts what it demonstrates, so exit status 0 means the concept worked. The
examples run in a fresh process each, from an empty working folder, with
``FERROGRAD_EXAMPLES_FAST=1`` and ``FERROGRAD_EXAMPLES_OUT`` pointing at another folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))

#: One script per concept of the concept map; the test fails if one goes missing.
CONCEPTS = [
    "segmentation.py",
    "contrastive.py",
    "multi_target.py",
    "transfer_learning.py",
    "online_learning.py",
    "batch_norm.py",
    "l1_vs_l2.py",
    "lr_schedules.py",
    "grad_accumulation.py",
    "early_stopping.py",
    "normalization.py",
    "covariate_shift.py",
    "sequence_lstm.py",
    "cnn_digits.py",
    "hyperparameter_search.py",
]

#: The files each example writes into FERROGRAD_EXAMPLES_OUT (none for the others).
WRITES = {"early_stopping.py": ["early_stopping.png"]}


def run_example(name: str, folder: Path) -> subprocess.CompletedProcess[str]:
    work, out = folder / "work", folder / "out"
    work.mkdir(parents=True)
    env = {**os.environ, "FERROGRAD_EXAMPLES_FAST": "1", "FERROGRAD_EXAMPLES_OUT": str(out)}
    return subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / name)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_concept_has_an_example():
    assert set(CONCEPTS) <= set(EXAMPLES)
    assert "demo.py" in EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_its_assertion_holds(name: str, tmp_path: Path):
    result = run_example(name, tmp_path)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{name} printed nothing"
    assert not result.stderr.strip(), f"{name} wrote to stderr:\n{result.stderr}"
    assert list((tmp_path / "work").iterdir()) == []  # nothing left in the working folder
    written = sorted(p.name for p in (tmp_path / "out").glob("*"))
    assert written == WRITES.get(name, []), written


@pytest.mark.parametrize("name", ["contrastive.py", "online_learning.py", "segmentation.py"])
def test_examples_print_the_same_numbers_on_every_run(name: str, tmp_path: Path):
    first = run_example(name, tmp_path / "first")
    second = run_example(name, tmp_path / "second")
    assert first.returncode == 0 and second.returncode == 0
    assert first.stdout == second.stdout


def test_an_example_whose_claim_fails_exits_non_zero(tmp_path: Path):
    """The check above relies on a failed assertion giving a non-zero exit status."""
    text = (EXAMPLES_DIR / "grad_accumulation.py").read_text()
    assert "grad_accum_steps=accum" in text
    broken = tmp_path / "grad_accumulation.py"  # accumulation switched off
    broken.write_text(text.replace("grad_accum_steps=accum", "grad_accum_steps=1"))
    (tmp_path / "_fast.py").write_text((EXAMPLES_DIR / "_fast.py").read_text())
    env = {**os.environ, "FERROGRAD_EXAMPLES_FAST": "1"}
    result = subprocess.run(
        [sys.executable, str(broken)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "AssertionError" in result.stderr
