"""A job whose rank 1 fails while rank 0 waits for it in a collective call (run under
mpiexec): ``fail.py MODE``. The job must end, with rank 1's error on stderr, instead of
leaving rank 0 waiting forever.

Modes: ``hook`` (an uncaught exception; the hook init() installs aborts), ``context``
(``sys.exit(3)`` inside ``abort_on_error``), ``decorator`` (an exception in a function
decorated with ``abort_on_error``, without the hook), ``collective`` (the ranks build
different models: broadcast_parameters raises on every rank).
"""

from __future__ import annotations

import sys

import ferrograd as fg
import numpy as np
from ferrograd import distributed as dist
from ferrograd import nn

mode = sys.argv[1]
dist.init(abort_on_exception=mode != "decorator")
model = nn.Linear(3, 2)


def wait_for_the_others() -> None:
    """Rank 0's training step: blocks in the Allreduce until rank 1 joins."""
    model(fg.tensor(np.ones((2, 3), dtype=np.float32))).sum().backward()
    dist.allreduce_gradients(model)


@dist.abort_on_error()
def decorated() -> None:
    if dist.rank() == 1:
        raise KeyError("deliberate failure on rank 1")
    wait_for_the_others()


if mode == "hook":
    if dist.rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    wait_for_the_others()
elif mode == "context":
    with dist.abort_on_error():
        if dist.rank() == 1:
            print("deliberate failure on rank 1: exit code 3", file=sys.stderr)
            sys.exit(3)
        wait_for_the_others()
elif mode == "decorator":
    decorated()
elif mode == "collective":
    dist.broadcast_parameters(nn.Linear(3, 2 + dist.rank()))
else:
    raise SystemExit(f"unknown mode {mode}")
print(f"rank {dist.rank()} finished", flush=True)
