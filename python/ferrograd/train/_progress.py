"""What ``fit`` prints: a tqdm bar per epoch, or one line per epoch, or nothing."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

_POSTFIX_EVERY = 0.1  # seconds between updates of the bar's live loss


def _format(logs: dict[str, Any]) -> str:
    parts = []
    for k, v in logs.items():
        if k.startswith("_"):
            continue
        if k == "seconds":
            parts.append(f"{v:.2f}s")
        elif k == "lr":
            parts.append(f"lr {v:.3g}")
        else:
            parts.append(f"{k} {v:.4f}")
    return " - ".join(parts)


class _Bar:
    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.last = 0.0

    def step(self, mean_loss: float) -> None:
        self.bar.update(1)
        now = time.perf_counter()
        if now - self.last >= _POSTFIX_EVERY:
            self.last = now
            self.bar.set_postfix_str(f"loss {mean_loss:.4f}", refresh=False)


class Progress:
    """Progress display for ``verbose`` 0 (nothing), 1 (a bar per epoch on a terminal, else
    a line per epoch) or 2 (a line per epoch), written to standard output."""

    def __init__(self, verbose: int, epochs: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self.mode = "none" if not enabled or verbose == 0 else "line"
        if self.mode == "line" and verbose == 1 and _is_terminal():
            self.mode = "bar"
        self._bar: _Bar | None = None

    def epoch_begin(self, epoch: int, n_batches: int | None) -> _Bar | None:
        if self.mode != "bar":
            return None
        from tqdm.auto import tqdm

        width = len(str(self.epochs))
        # A terminal that does not say its width (0 columns) would get an empty bar.
        known = shutil.get_terminal_size((0, 0)).columns > 0
        self._bar = _Bar(
            tqdm(
                total=n_batches,
                desc=f"Epoch {epoch + 1:>{width}}/{self.epochs}",
                file=sys.stdout,
                leave=True,
                dynamic_ncols=known,
                ncols=None if known else 100,
                nrows=None if known else 24,
                unit="step",
            )
        )
        return self._bar

    def epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.mode == "none":
            return
        text = _format(logs)
        if self._bar is not None:
            self._bar.bar.set_postfix_str(text, refresh=False)
            self._bar.bar.close()
            self._bar = None
            return
        width = len(str(self.epochs))
        print(f"Epoch {epoch + 1:>{width}}/{self.epochs} - {text}", file=sys.stdout, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.bar.close()
            self._bar = None


def _is_terminal() -> bool:
    """A terminal, or a notebook (where tqdm draws a widget)."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
