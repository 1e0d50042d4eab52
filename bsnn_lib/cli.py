"""Command line interface: ``python -m bsnn_lib <command> [options]`` (also the ``bsnn`` script).

Subcommands are a registry: each is a function ``add_<name>_parser(subparsers)`` that adds its
parser and sets ``handler=<function(args) -> int>`` as a default. To add one, write both
functions and append the adder to :data:`SUBCOMMANDS` (and an example to :data:`EXAMPLES`).
Errors a user can fix (listed in :data:`USER_ERRORS`) print ``error: <message>`` and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence

from bsnn_lib.checkpoints import CorruptCheckpointError
from bsnn_lib.data import (
    DATASETS,
    DataIntegrityError,
    DatasetNotFoundError,
    UnknownDatasetError,
    UnknownSplitError,
    get_spec,
)
from bsnn_lib.models import ARCHS, POOLS, UnknownArchError, UnknownPoolError
from bsnn_lib.train import (
    OPTIMIZERS,
    SCHEDULES,
    InvalidConfigError,
    TrainConfig,
    default_config,
    load_or_train,
    train,
)

__all__ = ["EXAMPLES", "SUBCOMMANDS", "USER_ERRORS", "add_train_parser", "build_parser", "main",
           "run_train"]

Subparsers = argparse._SubParsersAction  # noqa: SLF001 - argparse exposes no public name
Handler = Callable[[argparse.Namespace], int]

USER_ERRORS: tuple[type[BaseException], ...] = (
    UnknownDatasetError,
    UnknownSplitError,
    DatasetNotFoundError,
    DataIntegrityError,
    UnknownArchError,
    UnknownPoolError,
    InvalidConfigError,
    CorruptCheckpointError,
)
"""Exceptions reported as ``error: <message>`` with exit status 2 instead of a traceback."""

EXAMPLES: list[str] = [
    "python -m bsnn_lib train --dataset mnist --arch vgg-small",
    "python -m bsnn_lib train --dataset digits --arch vgg-tiny --epochs 5 --no-progress",
    "BSNN_CIFAR10_DIR=/path/to/cifar10 python -m bsnn_lib train --dataset cifar10 --arch vgg16",
]

# Options of ``train`` that override fields of :func:`default_config` when given.
_TRAIN_OVERRIDES = ("epochs", "lr", "optimizer", "seed", "width", "pool", "batch_size",
                    "train_subset", "weight_decay", "schedule", "label_smoothing", "augment")


# ------------------------------------------------------------------------------------- train


def add_train_parser(subparsers: Subparsers) -> None:
    """``train``: train a zoo model (or load it from its cached checkpoint)."""
    parser = subparsers.add_parser(
        "train",
        help="train an ANN (or load it from the checkpoint cache) and print its test accuracy",
        description="Train --arch on --dataset with the default config for that pair, changed "
        "by any option given; a finished run is cached under <data root>/checkpoints and "
        "reused, an interrupted one resumes.",
    )
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    parser.add_argument("--arch", required=True, help=f"one of: {', '.join(ARCHS)}")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--schedule", choices=SCHEDULES)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--width", type=float, help="channel-count multiplier")
    parser.add_argument("--pool", choices=POOLS)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--train-subset", type=int, metavar="N",
                        help="use the first N train images")
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction,
                        help="training augmentation (default: per dataset)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda if available")
    parser.add_argument("--retrain", action="store_true", help="ignore a cached checkpoint")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    parser.set_defaults(handler=run_train)


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """:func:`default_config` for the pair, with the options the user gave."""
    overrides = {name: getattr(args, name) for name in _TRAIN_OVERRIDES
                 if getattr(args, name) is not None}
    return dataclasses.replace(default_config(args.dataset, args.arch), **overrides)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``train``: print the checkpoint path, test accuracy and timing."""
    config = _train_config(args)
    runner = train if args.retrain else load_or_train
    _, metadata = runner(config, device=args.device, progress=args.progress)
    label = get_spec(config.dataset).split_label("test")
    print(f"checkpoint: {metadata['checkpoint_path']}")
    print(f"test accuracy: {100 * metadata['test_accuracy']:.2f}% ({label})")
    source = "loaded from cache; trained" if metadata["loaded_from_cache"] else "trained"
    print(f"{source} {metadata['epochs_done']} epochs in {metadata['train_seconds']:.1f} s "
          f"({metadata['seconds_per_epoch']:.1f} s/epoch on {metadata['device']})")
    return 0


# --------------------------------------------------------------------------------------- main

SUBCOMMANDS: list[Callable[[Subparsers], None]] = [add_train_parser]
"""Parser adders, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m bsnn_lib",
        description="bsnn: ANN-to-SNN conversion with bistable neurons (research workbook).",
        epilog="examples:\n" + "\n".join(f"  {example}" for example in EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="<command>")
    for add_parser in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return instead of exiting
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return handler(args)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (an interrupted training run resumes on the next call)", file=sys.stderr)
        return 130
