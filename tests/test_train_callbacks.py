"""Callbacks of the Trainer: early stopping, checkpoints, schedules, CSV logs, History."""

from __future__ import annotations

import csv
import math
import os

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim
from ferrograd.train import (
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LRScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    Trainer,
)


def _data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
    return x, y


def _trainer(seed: int = 0, lr: float = 0.05, **kwargs) -> Trainer:
    fg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    return Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr), **kwargs)


class _Scripted(fg.train.Callback):
    """Overwrites the monitored value with a scripted sequence (to test the rules exactly)."""

    def __init__(self, values: list[float], key: str = "val_loss") -> None:
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_early_stopping_stops_where_the_history_says_and_restores_the_best_weights():
    x, y = _data()
    trainer = _trainer()
    values = [1.0, 0.8, 0.85, 0.7, 0.75, 0.76, 0.74, 0.9, 0.5, 0.4]
    snapshots = []
    keep = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(trainer.model.state_dict()))
    stop = EarlyStopping(patience=3, restore_best_weights=True)
    history = trainer.fit(
        (x, y), (x, y), epochs=10, callbacks=[_Scripted(values), keep, stop], verbose=0
    )
    # best 0.7 at epoch 3; epochs 4, 5, 6 do not improve -> stop after epoch 6
    assert len(history) == 7 and history.epoch[-1] == 6
    assert stop.stopped_epoch == 6 and stop.best_epoch == 3 and stop.best == 0.7
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[3][k])


def test_early_stopping_min_delta_mode_and_baseline():
    x, y = _data(32)
    stop = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    _trainer().fit(
        (x, y),
        (x, y),
        epochs=10,
        verbose=0,
        callbacks=[_Scripted([0.5, 0.6, 0.62, 0.9, 0.91, 0.92, 1, 1, 1, 1], "val_accuracy"), stop],
    )
    assert stop._tracker.mode == "max"
    assert stop.stopped_epoch == 2  # 0.62 is not 0.05 better than 0.6
    base = EarlyStopping(monitor="loss", patience=2, baseline=0.1)
    history = _trainer().fit((x, y), epochs=10, verbose=0, callbacks=[base])
    assert len(history) == 2  # never beats the baseline 0.1 in two epochs


def test_early_stopping_without_the_monitored_key_is_a_clear_error():
    x, y = _data(16)
    with pytest.raises(fg.FerrogradError, match=r"val_loss.*not in the epoch logs"):
        _trainer().fit((x, y), epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_model_checkpoint_best_only_writes_weights_of_the_best_epoch(tmp_path):
    x, y = _data()
    trainer = _trainer()
    path = tmp_path / "best.safetensors"
    snapshots = []
    keep = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(trainer.model.state_dict()))
    values = [1.0, 0.5, 0.6, 0.4, 0.45]
    ckpt = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    trainer.fit((x, y), (x, y), epochs=5, callbacks=[_Scripted(values), keep, ckpt], verbose=0)
    saved = fg.load(path)
    for k, v in snapshots[3].items():
        np.testing.assert_array_equal(saved[k], v)
    fresh = _trainer(seed=1).model
    fresh.load(path)  # a weights-only checkpoint is a plain state dict


def test_model_checkpoint_fills_the_path_from_the_logs(tmp_path):
    x, y = _data(32)
    ckpt = ModelCheckpoint(
        tmp_path / "m-{epoch:02d}-{loss:.2f}.safetensors", save_weights_only=True
    )
    _trainer().fit((x, y), epochs=3, verbose=0, callbacks=[ckpt])
    names = sorted(os.listdir(tmp_path))
    assert [n[:4] for n in names] == ["m-01", "m-02", "m-03"]
    with pytest.raises(fg.FerrogradError, match="cannot fill in path"):
        _trainer().fit(
            (x, y),
            epochs=1,
            verbose=0,
            callbacks=[ModelCheckpoint(tmp_path / "{nope}.safetensors")],
        )


def test_lr_scheduler_callback_per_epoch_and_per_step():
    x, y = _data(64)
    trainer = _trainer()
    opt = trainer.optimizer
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    history = trainer.fit(
        (x, y), epochs=3, batch_size=16, verbose=0, callbacks=[LRScheduler(sched)]
    )
    assert history["lr"] == pytest.approx([0.05, 0.025, 0.0125])
    trainer = _trainer()
    sched = optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.9)
    trainer.fit(
        (x, y), epochs=2, batch_size=16, verbose=0, callbacks=[LRScheduler(sched, per="step")]
    )
    assert sched.last_epoch == 8
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 0.9**8)
    with pytest.raises(ValueError, match="per"):
        LRScheduler(sched, per="batch")


def test_reduce_lr_on_plateau_follows_the_monitored_value():
    x, y = _data(32)
    trainer = _trainer(lr=0.1)
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    plateau = ReduceLROnPlateau(patience=1, factor=0.5)
    history = trainer.fit(
        (x, y), (x, y), epochs=6, verbose=0, callbacks=[_Scripted(values), plateau]
    )
    # bad epochs 1 and 2 -> reduce after epoch 2; again after epoch 4
    assert history["lr"] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = _data(32)
    path = tmp_path / "log.csv"
    history = _trainer().fit((x, y), (x, y), epochs=3, verbose=0, callbacks=[CSVLogger(path)])
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == history["loss"]
    assert [float(r[4]) for r in rows[1:]] == history["val_accuracy"]


def test_lambda_callback_sees_every_batch_and_epoch():
    x, y = _data(50)
    seen = {"batches": [], "epochs": [], "begin": 0, "end": 0}
    cb = LambdaCallback(
        on_batch_end=lambda step, logs: seen["batches"].append((step, logs["size"])),
        on_epoch_end=lambda epoch, logs: seen["epochs"].append(epoch),
        on_train_begin=lambda logs: seen.__setitem__("begin", 1),
        on_train_end=lambda logs: seen.__setitem__("end", 1),
    )
    _trainer().fit((x, y), epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    assert [s for s, _ in seen["batches"]] == list(range(8))
    assert [n for _, n in seen["batches"]] == [16, 16, 16, 2] * 2
    assert seen["epochs"] == [0, 1] and seen["begin"] == seen["end"] == 1
    with pytest.raises(TypeError, match="callable"):
        LambdaCallback(on_epoch_end=3)


def test_history_csv_and_plot(tmp_path):
    h = History()
    h.append(0, {"loss": 1.0, "val_loss": 1.5, "accuracy": 0.5, "lr": 0.1})
    h.append(1, {"loss": 0.5, "val_loss": 0.9, "accuracy": 0.75, "lr": 0.1, "extra": 3.0})
    assert math.isnan(h["extra"][0]) and h["extra"][1] == 3.0
    h.to_csv(tmp_path / "h.csv")
    with open(tmp_path / "h.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "val_loss", "accuracy", "lr", "extra"]
    assert rows[2] == ["1", "0.5", "0.9", "0.75", "0.1", "3.0"]
    pytest.importorskip("matplotlib")
    h.plot(tmp_path / "curves.png")
    with open(tmp_path / "curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError, match="no column"):
        h["nope"]
