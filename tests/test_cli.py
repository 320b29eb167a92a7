"""The ``ferrograd`` command end to end in a temporary folder, and its error handling."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import ferrograd as fg
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "python"))
    return subprocess.run(
        [sys.executable, "-m", "ferrograd", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    proc = _cli("train", "--epochs", "15", "--name", "digits", "--verbose", "2", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "Epoch 15/15" in proc.stdout or "Epoch 1/15" in proc.stdout
    return root


def test_train_writes_a_complete_run_folder(digits_run: Path):
    run = digits_run / "runs" / "digits"
    names = sorted(p.name for p in run.iterdir())
    assert names == [
        "config.json",
        "curves.png",
        "history.csv",
        "metrics.json",
        "model.safetensors",
        "preprocessing.safetensors",
    ]
    doc = json.loads((run / "config.json").read_text())
    assert doc["config"]["data"] == "digits" and doc["config"]["hidden"] == [128]
    assert doc["data"]["classes"] == list(range(10)) and doc["data"]["input_shape"] == [64]
    metrics = json.loads((run / "metrics.json").read_text())["test"]
    assert metrics["accuracy"] > 0.93
    assert sum(c["support"] for c in metrics["per_class"].values()) == 360
    with open(run / "history.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["epoch", "loss", "accuracy"] and len(rows) == 1 + metrics["epochs"]
    weights = fg.load(run / "model.safetensors")
    assert list(weights) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert weights["0.weight"].shape == (128, 64)


def test_evaluate_reproduces_the_test_accuracy_of_training(digits_run: Path):
    run = digits_run / "runs" / "digits"
    want = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    proc = _cli("evaluate", str(run), cwd=digits_run)
    assert proc.returncode == 0, proc.stderr
    assert f"{want:.4f} (360 samples)" in proc.stdout
    assert "macro avg" in proc.stdout


def test_predict_applies_the_saved_preprocessing(digits_run: Path):
    from ferrograd import nn
    from ferrograd.data import StandardScaler, load_digits

    run = digits_run / "runs" / "digits"
    x, y = load_digits()
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    inp = digits_run / "in.csv"
    with open(inp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["digit", *reversed(names)])  # extra column, another order: matched by name
        for row, label in zip(x[:20], y[:20]):
            w.writerow([label, *reversed(row.tolist())])
    proc = _cli("predict", str(run), str(inp), "-o", "out.csv", cwd=digits_run)
    assert proc.returncode == 0, proc.stderr
    with open(digits_run / "out.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [f"prob_{c}" for c in range(10)] + ["predicted"]
    probs = np.array([[float(v) for v in r[:10]] for r in rows[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # the same numbers by hand: the saved scaler and weights, softmax
    scaler = StandardScaler()
    scaler.load_state_dict(fg.load(run / "preprocessing.safetensors"))
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.load(run / "model.safetensors")
    logits = model(scaler.transform(x[:20])).data.astype(np.float64)
    want = np.exp(logits - logits.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, want, rtol=1e-4, atol=1e-6)
    assert [int(r[10]) for r in rows[1:]] == want.argmax(1).tolist()


def test_regression_from_a_csv_file_with_a_toml_config(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.05 * rng.standard_normal(300)
    data = tmp_path / "lin.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "y"])
        w.writerows(np.column_stack([x, y]).tolist())
    (tmp_path / "run.toml").write_text(
        '[data]\nname = "lin.csv"\ntarget = "y"\n[model]\nhidden = [16]\n'
        '[train]\nepochs = 60\nlr = 0.01\nloss = "mse"\nschedule = "cosine"\n'
    )
    proc = _cli("train", "--config", "run.toml", "--name", "lin", "--verbose", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "runs/lin/metrics.json").read_text())["test"]
    assert metrics["r2"] > 0.95
    with open(tmp_path / "new.csv", "w") as f:
        f.write("c,b,a\n0,0,1\n1,0,0\n")
    proc = _cli("predict", "runs/lin", "new.csv", "-o", "pred.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(open(tmp_path / "pred.csv")))
    assert rows[0] == ["y"]
    assert float(rows[1][0]) == pytest.approx(1.5, abs=0.3)
    assert float(rows[2][0]) == pytest.approx(0.5, abs=0.3)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--data", "nope.csv", "--target", "y"], "no such file"),
        (["train", "--data", "imagenet"], "unknown dataset"),
        (["train", "--optimizer", "lbfgs"], "invalid choice"),
        (["train", "--bogus"], "unrecognized arguments"),
        (["train", "--lr", "-1"], "lr"),
        (["train", "--config", "missing.toml"], "no such file"),
        (["train", "--config", "bad.toml"], "not valid TOML"),
        (["train", "--config", "unknown.toml"], "unknown setting"),
        (["train", "--data", "bad.csv", "--target", "y"], "not a number"),
        (["train", "--data", "ragged.csv", "--target", "y"], "row 3"),
        (["train", "--data", "bad.csv", "--target", "nope"], "no column"),
        (["train", "--model", "cnn", "--data", "moons"], "images"),
        (["evaluate", "empty_dir"], "not a run folder"),
        (["evaluate", "no_ckpt"], "no checkpoint"),
        (["predict", "runs/digits", "wrong.csv", "-o", "o.csv"], "missing the model's input"),
        (["predict", "runs/digits", "absent.csv", "-o", "o.csv"], "no such file"),
        ([], "required"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(digits_run: Path, args: list[str], needle: str):
    root = digits_run
    (root / "bad.toml").write_text("epochs = [1, \n")
    (root / "unknown.toml").write_text("[train]\nepoch = 3\n")
    (root / "bad.csv").write_text("a,y\n1,2\nx,3\n")
    (root / "ragged.csv").write_text("a,y\n1,2\n3\n")
    (root / "wrong.csv").write_text("a,b\n1,2\n")
    (root / "empty_dir").mkdir(exist_ok=True)
    (root / "no_ckpt").mkdir(exist_ok=True)
    (root / "no_ckpt" / "config.json").write_text('{"config": {}, "data": {}}')
    proc = _cli(*args, cwd=root)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in lines[0], lines[0]


def test_help_on_every_command(tmp_path: Path):
    for args in (["--help"], ["train", "--help"], ["evaluate", "--help"], ["predict", "--help"]):
        proc = _cli(*args, cwd=tmp_path)
        assert proc.returncode == 0 and "usage: ferrograd" in proc.stdout


def test_cnn_on_digit_images(tmp_path: Path):
    proc = _cli(
        "train",
        "--model",
        "cnn",
        "--epochs",
        "3",
        "--name",
        "cnn",
        "--verbose",
        "0",
        "--batch-norm",
        "--dropout",
        "0.1",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "runs/cnn/config.json").read_text())
    assert doc["data"]["input_shape"] == [1, 8, 8]
    proc = _cli("evaluate", "runs/cnn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_distributed_without_mpiexec_is_a_world_of_one(tmp_path: Path):
    proc = _cli(
        "train",
        "--distributed",
        "--epochs",
        "2",
        "--name",
        "solo",
        "--verbose",
        "0",
        "--threads",
        "1",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "runs/solo/model.safetensors").is_file()
