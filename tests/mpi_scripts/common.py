"""The model, data and training loop shared by the MPI scripts and their 1-process
references (tests/test_distributed_mpi.py)."""

from __future__ import annotations

from typing import Callable

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
from ferrograd import nn, optim

N_SAMPLES, FEATURES, CLASSES = 96, 6, 3
BATCH = 16  # the global batch: each of R ranks takes BATCH // R of it
EPOCHS = 3
SAMPLER_SEED = 3
LR = 1e-2


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_SAMPLES, FEATURES))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1)
    return x, y


def mlp(seed: int) -> nn.Module:
    """A float64 MLP whose initial weights depend on ``seed``."""
    fg.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(FEATURES, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, CLASSES)
    ).double()


def adam(model: nn.Module) -> optim.Adam:
    return optim.Adam(model.parameters(), lr=LR)


def train(
    model: nn.Module,
    opt: optim.Optimizer,
    epoch_indices: Callable[[int], np.ndarray],
    batch: int,
    after_backward: Callable[[], None] = lambda: None,
) -> list[float]:
    """Eager training with the mean loss of each batch of ``batch`` consecutive indices of
    each epoch's ``epoch_indices(epoch)``; returns the losses."""
    x, y = data()
    losses = []
    for epoch in range(EPOCHS):
        idx = epoch_indices(epoch)
        for start in range(0, len(idx), batch):
            b = idx[start : start + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(fg.tensor(x[b])), y[b])
            loss.backward()
            after_backward()
            opt.step()
            losses.append(float(loss.data))
    return losses
