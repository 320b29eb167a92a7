"""Training: the :class:`Trainer` loop, callbacks, history, checkpoints and search.

Examples
--------
>>> import numpy as np
>>> import ferrograd as fg
>>> from ferrograd import nn, optim
>>> from ferrograd.train import Trainer, EarlyStopping
>>> fg.manual_seed(0)
>>> x = np.random.default_rng(0).standard_normal((100, 4)).astype(np.float32)
>>> y = (x.sum(axis=1) > 0).astype(np.int64)
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
>>> trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2))
>>> history = trainer.fit((x[:80], y[:80]), (x[80:], y[80:]), epochs=3, verbose=0,
...                       callbacks=[EarlyStopping(patience=2)])
>>> sorted(history.keys())
['accuracy', 'loss', 'lr', 'seconds', 'val_accuracy', 'val_loss']
"""

from __future__ import annotations

from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LRScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from .history import History
from .search import SearchResult, Trial, grid_search, loguniform, randint, random_search, uniform
from .trainer import NonFiniteLossError, Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LRScheduler",
    "LambdaCallback",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "ReduceLROnPlateau",
    "SearchResult",
    "Trainer",
    "Trial",
    "grid_search",
    "loguniform",
    "randint",
    "random_search",
    "uniform",
]
