"""Full checkpoints: a run killed mid-epoch and resumed ends bit for bit as an unbroken run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import ferrograd as fg
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent

# Dropout (random masks), shuffling, Adam state, a scheduler, early stopping with best
# weights, and a CSV log: everything a resumed run must restore.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import ferrograd as fg
    from ferrograd import nn, optim
    from ferrograd.train import (Trainer, ModelCheckpoint, EarlyStopping, LRScheduler,
                                 LambdaCallback, CSVLogger)

    mode, ckpt, out, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64)
    fg.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, compile=False)

    def maybe_die(step, logs):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    callbacks = [
        LRScheduler(sched),
        EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True),
        ModelCheckpoint(ckpt),
        CSVLogger(ckpt + ".csv"),
        LambdaCallback(on_batch_end=maybe_die),
    ]
    history = trainer.fit((x[:150], y[:150]), (x[150:], y[150:]), epochs=6, batch_size=16,
                          callbacks=callbacks, verbose=0,
                          resume_from=ckpt if mode == "resume" else None)
    fg.save({**model.state_dict(), **{"loss": np.array(history["loss"])}}, out)
    """
)


def _run(tmp: Path, mode: str, ckpt: Path, out: Path, kill_at: int = -1) -> int:
    script = tmp / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "python"))
    proc = subprocess.run(
        [sys.executable, str(script), mode, str(ckpt), str(out), str(kill_at)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(proc.stderr)
    return proc.returncode


def test_killed_mid_epoch_and_resumed_ends_with_the_same_weights(tmp_path):
    whole = tmp_path / "whole.safetensors"
    assert _run(tmp_path, "fresh", tmp_path / "a.ckpt", whole) == 0
    broken = tmp_path / "b.ckpt"
    # 10 steps per epoch: step 34 is in the middle of the fourth epoch.
    assert _run(tmp_path, "fresh", broken, tmp_path / "never", kill_at=34) == -signal.SIGKILL
    assert not (tmp_path / "never").exists()
    assert fg.load(broken)["epoch"] == 3
    resumed = tmp_path / "resumed.safetensors"
    assert _run(tmp_path, "resume", broken, resumed) == 0
    a, b = fg.load(whole), fg.load(resumed)
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # the CSV log of the resumed run continues the killed one's rows
    rows = [r.split(",") for r in (tmp_path / "b.ckpt.csv").read_text().splitlines()]
    want = [r.split(",") for r in (tmp_path / "a.ckpt.csv").read_text().splitlines()]
    assert len(rows) == len(want) == 1 + 6
    assert [r[:2] for r in rows] == [r[:2] for r in want]  # epoch and loss


def test_a_checkpoint_is_never_half_written_and_holds_everything(tmp_path):
    import ferrograd.train as T
    from ferrograd import nn, optim

    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = optim.AdamW(model.parameters())
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    trainer = T.Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched)
    x = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32)
    y = np.arange(20) % 2
    path = tmp_path / "full.ckpt"
    trainer.fit((x, y), epochs=2, batch_size=8, verbose=0, callbacks=[T.ModelCheckpoint(path)])
    state = fg.load(path)
    assert state["epoch"] == 2 and state["step"] == 6
    assert np.asarray(state["model"]["1.num_batches_tracked"]).shape == ()
    assert set(state["optimizer"]) == {"state", "param_groups"}
    assert state["scheduler"]["last_epoch"] == 2
    assert [f.name for f in tmp_path.iterdir()] == ["full.ckpt"]  # no temporary files left

    other = T.Trainer(
        nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)),
        nn.CrossEntropyLoss(),
        optim.AdamW(model.parameters()),
    )
    with pytest.raises(fg.FerrogradError, match="not a full training checkpoint"):
        model.save(tmp_path / "weights.safetensors")
        other.load_checkpoint(tmp_path / "weights.safetensors")


def test_non_finite_loss_leaves_the_last_good_checkpoint_intact(tmp_path):
    from ferrograd import nn, optim
    from ferrograd.train import ModelCheckpoint, NonFiniteLossError, Trainer

    x = np.random.default_rng(0).standard_normal((32, 3))
    y = x.sum(axis=1, keepdims=True)
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1)).double()
    trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01))
    path = tmp_path / "last.ckpt"
    poison = fg.train.LambdaCallback(
        on_epoch_end=lambda e, logs: y.__setitem__((5, 0), np.nan) if e == 1 else None
    )
    with pytest.raises(NonFiniteLossError, match=r"epoch 3.*last\.ckpt, is intact"):
        trainer.fit(
            (x, y),
            epochs=5,
            batch_size=8,
            shuffle=False,
            verbose=0,
            callbacks=[ModelCheckpoint(path), poison],
        )
    state = fg.load(path)
    assert state["epoch"] == 2
    for v in state["model"].values():
        assert np.isfinite(v).all()
