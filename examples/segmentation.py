"""Per-pixel (segmentation) cross-entropy: a tiny fully convolutional net labels every pixel.

``F.cross_entropy`` (and ``nn.CrossEntropyLoss``) take logits of shape (N, C, H, W) and
labels of shape (N, H, W): each pixel is one classification, and the loss is their mean.
``ignore_index`` marks pixels without a label (here the one-pixel rim around each object,
where the true class is ambiguous, as the "void" label of segmentation datasets): they add
nothing to the loss, to its gradient or to the pixel accuracy.

The synthetic images hold solid squares (class 1) and striped squares (class 2) on a noisy
background (class 0); telling a dark stripe from the background needs the pixels around it,
which the 3x3 convolutions see.

Run: ``python examples/segmentation.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
from _fast import full_or_fast
from ferrograd import metrics, nn, optim
from ferrograd.train import Trainer

SIZE = 16  # image side
VOID = 255  # the label of unlabeled pixels


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images (n, 1, SIZE, SIZE) and their label maps (n, SIZE, SIZE)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, SIZE, SIZE), np.float32)
    y = np.zeros((n, SIZE, SIZE), np.int64)
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            side = int(rng.integers(4, 8))
            r, c = rng.integers(0, SIZE - side + 1, size=2)
            kind = int(rng.integers(1, 3))
            patch = np.ones((side, side), np.float32)
            if kind == 2:
                patch[r % 2 :: 2] = 0.0  # stripes: every other row dark
            x[i, 0, r : r + side, c : c + side] = patch
            # The rim (one pixel around the object) is unlabeled; later objects draw over it.
            y[i, max(r - 1, 0) : r + side + 1, max(c - 1, 0) : c + side + 1] = VOID
            y[i, r : r + side, c : c + side] = kind
    x += 0.3 * rng.standard_normal(x.shape, dtype=np.float32)
    return x, y


def main() -> None:
    n_train, epochs = full_or_fast((600, 12), (200, 6))
    x_train, y_train = make_images(n_train, seed=0)
    x_test, y_test = make_images(200, seed=1)

    fg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 3, 1),  # per-pixel class scores, (N, 3, H, W)
    )
    loss = nn.CrossEntropyLoss(ignore_index=VOID)
    trainer = Trainer(model, loss, optim.Adam(model.parameters(), lr=0.01))
    trainer.fit((x_train, y_train), epochs=epochs, batch_size=32, verbose=0)

    logits = trainer.predict(x_test)  # (N, 3, H, W)
    labeled = y_test != VOID
    truth, pred = y_test[labeled], logits.argmax(axis=1)[labeled]
    pixel_acc = metrics.accuracy(truth, pred)
    majority = np.bincount(truth).max() / truth.size
    iou = [
        np.sum((pred == k) & (truth == k)) / np.sum((pred == k) | (truth == k)) for k in range(3)
    ]

    # ignore_index: the loss is the mean over the labeled pixels only (per-pixel losses of
    # reduction="none" are 0 at ignored pixels).
    mean_loss = float(F.cross_entropy(logits, y_test, ignore_index=VOID))
    per_pixel = F.cross_entropy(logits, y_test, ignore_index=VOID, reduction="none")
    by_hand = float(per_pixel[labeled].mean())

    print(f"logits {logits.shape}, labels {y_test.shape}, {1 - labeled.mean():.1%} unlabeled")
    print(f"pixel accuracy {pixel_acc:.3f} (majority class: {majority:.3f})")
    print("IoU background / solid / striped: " + " / ".join(f"{v:.3f}" for v in iou))
    print(f"test loss {mean_loss:.4f} = mean over labeled pixels {by_hand:.4f}")

    assert pixel_acc > majority + 0.2, (pixel_acc, majority)
    assert min(iou) > 0.7, iou
    assert np.all(per_pixel[~labeled] == 0)
    assert np.isclose(mean_loss, by_hand, rtol=1e-5)


if __name__ == "__main__":
    main()
