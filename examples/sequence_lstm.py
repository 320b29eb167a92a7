"""Recurrent networks on a sequence task: ``nn.LSTM`` and ``nn.GRU`` solve the adding problem.

Each input is a sequence of pairs (value, marker): random values in [0, 1], and a marker
that is 1 at exactly two steps (one in each half of the sequence) and 0 elsewhere. The
target is the sum of the two marked values. The network must remember a value seen many
steps earlier until the end of the sequence, which is what the gates of an LSTM or a GRU
are for. Predicting the mean of the targets, without looking at the input, gives a mean
squared error of about 1/6.

The model reads the sequence (``batch_first=True``: inputs of shape (batch, steps, 2)) and
a linear layer maps the hidden state after the last step to the prediction.

Run: ``python examples/sequence_lstm.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import nn, optim
from ferrograd.train import Trainer


def adding_problem(n: int, steps: int, rng: np.random.Generator):
    """Sequences (n, steps, 2) of (value, marker) pairs and the sums of the marked values."""
    values = rng.uniform(0.0, 1.0, (n, steps))
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, rng.integers(0, steps // 2, n)] = 1.0
    markers[rows, rng.integers(steps // 2, steps, n)] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1, keepdims=True).astype(np.float32)
    return x, y


class Adder(nn.Module):
    def __init__(self, cell: type[nn.Module], hidden: int = 32) -> None:
        super().__init__()
        self.rnn = cell(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        outputs, _ = self.rnn(x)  # (batch, steps, hidden)
        return self.head(outputs[:, -1])  # the state after the last step


def main() -> None:
    steps, n, epochs = full_or_fast((20, 3000, 12), (10, 2000, 8))
    rng = np.random.default_rng(0)
    x_train, y_train = adding_problem(n, steps, rng)
    x_test, y_test = adding_problem(1000, steps, rng)
    baseline = float(np.mean((y_test - y_train.mean()) ** 2))
    print(f"adding problem, {steps} steps; predicting the mean: test MSE {baseline:.4f}")

    for cell in (nn.LSTM, nn.GRU):
        fg.manual_seed(0)
        model = Adder(cell)
        trainer = Trainer(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01))
        trainer.fit((x_train, y_train), epochs=epochs, batch_size=32, verbose=0)
        mse = trainer.evaluate((x_test, y_test))["loss"]
        marked = x_test[0, :, 0][x_test[0, :, 1] == 1]
        guess = trainer.predict(x_test[:1])[0, 0]
        print(
            f"{cell.__name__:>5}: test MSE {mse:.4f}; e.g. {marked[0]:.3f} + {marked[1]:.3f} = "
            f"{marked.sum():.3f}, predicted {guess:.3f}"
        )
        assert mse < 0.05 * baseline, (cell.__name__, mse)


if __name__ == "__main__":
    main()
