"""The ``ferrograd`` command: train, evaluate and predict without writing Python.

::

    ferrograd train                                  # the default MLP on the bundled digits
    ferrograd train --model cnn --epochs 30          # a small CNN on the digit images
    ferrograd train --data moons --hidden 32,32
    ferrograd train --data houses.csv --target price --loss huber
    ferrograd train --config run.toml --lr 3e-3      # a TOML file, then options on top
    ferrograd evaluate runs/digits-mlp-20260101-120000
    ferrograd predict runs/digits-mlp-20260101-120000 new.csv -o predictions.csv

Also ``python -m ferrograd``. Mistakes (a missing file, a malformed CSV or TOML file, an
unknown option, a run folder without a checkpoint, a CSV with the wrong columns) print one
line on standard error and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..exceptions import FerrogradError
from .config import SETTINGS, UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ferrograd",
        description="Train, evaluate and use neural networks on CPU.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Trains a model (by default an MLP on the bundled digits: a seeded "
        "60/20/20 split, standardization, Adam, early stopping) and writes runs/<name>/ "
        "with the weights, the preprocessing, the settings, the history and the curves.",
    )
    train.add_argument(
        "--config", metavar="FILE.toml", help="settings from a TOML file (options given here win)"
    )
    train.add_argument("--name", help="name of the run folder (default: data-model-time)")
    train.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    train.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 a progress bar per epoch, 2 one line per epoch",
    )
    for s in SETTINGS:
        flag = "--" + s.name.replace("_", "-")
        default_text = (
            s.default if not isinstance(s.default, list) else ",".join(map(str, s.default))
        )
        help_text = f"{s.help} (default: {default_text})"
        if s.kind is None:  # a switch
            train.add_argument(flag, dest=s.name, action="store_true", default=None, help=help_text)
        else:
            train.add_argument(
                flag,
                dest=s.name,
                type=s.kind,
                choices=s.choices,
                default=None,
                metavar=None if s.choices else s.name.upper(),
                help=help_text,
            )

    evaluate = sub.add_parser(
        "evaluate",
        help="evaluate a trained run",
        description="Evaluates a run's model on its test split, or on a CSV file with the "
        "same columns, applying the run's saved preprocessing.",
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument(
        "--data",
        help="a CSV file with the feature and target columns (default: the run's own test split)",
    )

    predict = sub.add_parser(
        "predict",
        help="predict with a trained run",
        description="Writes predictions for the rows of a CSV file: class probabilities and "
        "the predicted class, or the regression outputs.",
    )
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("input", metavar="INPUT.csv")
    predict.add_argument("-o", "--output", metavar="OUT.csv", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns (and, as a script, exits with) its status."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "train":
            from .commands import train

            train(args, {s.name: getattr(args, s.name) for s in SETTINGS})
        elif args.command == "evaluate":
            from .commands import evaluate

            evaluate(args.run_dir, args.data)
        else:
            from .commands import predict

            predict(args.run_dir, args.input, args.output)
    except UsageError as e:
        _fail(str(e), 2)
    except (FerrogradError, OSError) as e:
        # Not a usage mistake (a diverging run, a full disk): status 1, still one line.
        _fail(f"{type(e).__name__}: {e}", 1)
    except KeyboardInterrupt:
        print("ferrograd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``ferrograd evaluate RUN | head``): not an error of ours.
        sys.stdout = open(os.devnull, "w")
        return 141
    return 0


def _fail(message: str, status: int) -> NoReturn:
    first = message.strip().splitlines()[0] if message.strip() else "error"
    prefix = "" if first.startswith("ferrograd") else "ferrograd: error: "
    print(prefix + first, file=sys.stderr)
    sys.exit(status)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
