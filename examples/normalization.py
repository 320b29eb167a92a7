"""Min-max scaling vs standardization vs whitening (PCA, ZCA), and their effect on training.

The eight input features here are correlated, sit far from zero and have scales from 0.1
to 100. How fast gradient descent converges depends on the condition number of the
covariance of the inputs (largest over smallest eigenvalue): the larger it is, the more
the loss surface is a narrow valley that the steps zig-zag across.

- ``MinMaxScaler`` maps each feature to [0, 1]: the scales become alike;
- ``StandardScaler`` gives each feature mean 0 and variance 1: the same, centred;
- ``PCAWhitening`` and ``ZCAWhitening`` also remove the correlations: the covariance of the
  whitened training data is the identity (condition number 1, up to ``eps``). PCA rotates
  the data onto its principal axes; ZCA rotates back, staying close to the original
  features.

Every transform is fitted on the training data only, then applied to the validation data.
The same network is trained on each version of the data with SGD, each with its best
learning rate from a small grid (a fair comparison: raw data only tolerates small steps).

Run: ``python examples/normalization.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import FerrogradError, nn, optim
from ferrograd.data import MinMaxScaler, PCAWhitening, StandardScaler, ZCAWhitening
from ferrograd.train import Trainer

FEATURES = 8
LEARNING_RATES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


class Problem:
    """Correlated features ``z @ M + 5`` of latent z, target ``tanh(z) @ w`` plus noise."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        u, _ = np.linalg.qr(self.rng.standard_normal((FEATURES, FEATURES)))
        v, _ = np.linalg.qr(self.rng.standard_normal((FEATURES, FEATURES)))
        spread = np.diag(np.logspace(0, -1.5, FEATURES))  # correlations
        scales = np.diag(np.logspace(-1, 2, FEATURES))  # feature scales 0.1 .. 100
        self.mixing = u @ spread @ v.T @ scales
        self.w = self.rng.standard_normal(FEATURES)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        z = self.rng.standard_normal((n, FEATURES))
        x = z @ self.mixing + 5.0
        y = np.tanh(z) @ self.w + 0.1 * self.rng.standard_normal(n)
        return x.astype(np.float32), y.astype(np.float32)[:, None]


def best_run(train, val, epochs: int) -> tuple[float, list[float]]:
    """The learning rate with the lowest final validation loss, and its curve."""
    best: tuple[float, list[float]] | None = None
    for lr in LEARNING_RATES:
        fg.manual_seed(0)
        model = nn.Sequential(nn.Linear(FEATURES, 32), nn.Tanh(), nn.Linear(32, 1))
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        try:
            history = Trainer(model, nn.MSELoss(), opt).fit(train, val, epochs=epochs, verbose=0)
        except FerrogradError:  # the loss became NaN or infinite: this rate diverges
            continue
        curve = history["val_loss"]
        if np.isfinite(curve[-1]) and (best is None or curve[-1] < best[1][-1]):
            best = (lr, curve)
    assert best is not None
    return best


def main() -> None:
    n, epochs = full_or_fast((2000, 10), (1000, 6))
    problem = Problem(seed=0)
    (x_train, y_train), (x_val, y_val) = problem.sample(n), problem.sample(n)
    transforms = {
        "raw": None,
        "min-max": MinMaxScaler(),
        "standardize": StandardScaler(),
        "PCA whitening": PCAWhitening(),
        "ZCA whitening": ZCAWhitening(),
    }
    print(f"{'inputs':>13}  {'cond(cov)':>9}  {'best lr':>7}  val MSE after epoch 1, 3, {epochs}")
    final, cond = {}, {}
    for name, transform in transforms.items():
        if transform is None:
            x_tr, x_va = x_train, x_val
        else:
            x_tr, x_va = transform.fit(x_train).transform(x_train), transform.transform(x_val)
        eigenvalues = np.linalg.eigvalsh(np.cov(x_tr, rowvar=False))
        cond[name] = eigenvalues.max() / eigenvalues.min()
        lr, curve = best_run((x_tr, y_train), (x_va, y_val), epochs)
        final[name] = curve[-1]
        print(
            f"{name:>13}  {cond[name]:9.3g}  {lr:7g}  "
            f"{curve[0]:.3f}  {curve[2]:.3f}  {curve[-1]:.3f}"
        )

    assert cond["PCA whitening"] < 1.5 and cond["ZCA whitening"] < 1.5, cond
    assert final["min-max"] < 0.5 * final["raw"], final
    assert final["standardize"] < 0.5 * final["raw"], final
    assert max(final["PCA whitening"], final["ZCA whitening"]) < final["standardize"], final


if __name__ == "__main__":
    main()
