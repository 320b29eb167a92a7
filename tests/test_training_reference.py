"""A two-layer MLP trained by plain gradient descent follows a NumPy reference step for step."""

from __future__ import annotations

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
from ferrograd import nn, tensor
from reference import mlp_gradient_descent


def test_mlp_gradient_descent_matches_numpy_step_for_step():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 3))
    y = np.sin(x.sum(axis=1, keepdims=True)) + 0.1 * x[:, :1]
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    init = [p.data.copy() for p in model.parameters()]
    lr, steps = 0.1, 200

    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = F.mse_loss(model(tensor(x)), tensor(y))
        losses.append(float(loss.data))
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad

    want_losses, want_params = mlp_gradient_descent(x, y, *init, lr=lr, steps=steps)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10, atol=1e-13)
    for p, want in zip(model.parameters(), want_params):
        np.testing.assert_allclose(p.data, want, rtol=1e-9, atol=1e-12)
    assert losses[-1] < 0.2 * losses[0]  # it really learned


def test_float32_training_tracks_the_float64_reference():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (32, 2))
    y = (x[:, :1] * x[:, 1:]) * 2
    fg.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    init = [p.data.astype(np.float64) for p in model.parameters()]
    x32, y32 = tensor(x.astype(np.float32)), tensor(y.astype(np.float32))
    losses = []
    for _ in range(50):
        model.zero_grad()
        loss = F.mse_loss(model(x32), y32)
        losses.append(float(loss.data))
        loss.backward()
        for p in model.parameters():
            p.data -= np.float32(0.2) * p.grad
    want, _ = mlp_gradient_descent(x, y, *init, lr=0.2, steps=50)
    np.testing.assert_allclose(losses, want, rtol=1e-4)
