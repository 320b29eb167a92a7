"""Trainer(distributed=True) on several ranks (or, run directly, a world of one).

Usage: trainer.py MODE OUTDIR [COMPILE]
  equivalence: train a float64 MLP with per-rank batch BATCH // world; each rank writes its
               final parameters and history to OUTDIR/rank<r>.npz / .json
  files:       ModelCheckpoint and CSVLogger write only on rank 0
  fail:        a callback raises on rank 1 in epoch 2
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ferrograd as fg
import numpy as np
from ferrograd import distributed as dist
from ferrograd import nn, optim
from ferrograd.train import CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, Trainer

sys.path.insert(0, str(Path(__file__).parent))
import common

mode, out = sys.argv[1], Path(sys.argv[2])
compiled = len(sys.argv) > 3 and sys.argv[3] == "compiled"
dist.init()
rank, world = dist.rank(), dist.world_size()
fg.manual_seed(100 + rank)  # different initial weights on every rank: rank 0's win
model = nn.Sequential(
    nn.Linear(common.FEATURES, 16), nn.Tanh(), nn.Linear(16, common.CLASSES)
).double()
opt = optim.Adam(model.parameters(), lr=common.LR)
trainer = Trainer(
    model, nn.CrossEntropyLoss(), opt, distributed=True, compile=True if compiled else False
)
x, y = common.data()
callbacks = []
if mode == "files":
    callbacks = [
        ModelCheckpoint(out / "ckpt.safetensors"),
        CSVLogger(out / "log.csv"),
        EarlyStopping(monitor="loss", patience=50),
    ]
if mode == "fail":

    def boom(epoch: int, logs: dict) -> None:
        if rank == 1 and epoch == 1:
            raise RuntimeError("deliberate failure in a callback on rank 1")

    callbacks = [LambdaCallback(on_epoch_end=boom)]
history = trainer.fit(
    (x, y),
    (x[:20], y[:20]),
    epochs=common.EPOCHS,
    batch_size=common.BATCH // world,
    callbacks=callbacks,
    verbose=2,
)
assert trainer.compiled is compiled, trainer.compile_reason
if mode == "equivalence":
    np.savez(out / f"rank{rank}.npz", *[p.data for p in model.parameters()])
    (out / f"rank{rank}.json").write_text(json.dumps(history.history))
print(f"rank {rank} finished")
