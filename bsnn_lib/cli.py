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
from pathlib import Path
from collections.abc import Callable, Sequence

import pandas as pd

from bsnn_lib.checkpoints import CorruptCheckpointError
from bsnn_lib.convert import ConversionError
from bsnn_lib.grid import add_bench_parser
from bsnn_lib.workbook import WorkbookError, add_workbook_parser
from bsnn_lib.methods import METHODS, MethodConfig, MethodConfigError, method_config
from bsnn_lib.profiles import ProfileError
from bsnn_lib.simulate import ENGINES
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
    ConversionError,
    MethodConfigError,
    ProfileError,
    WorkbookError,
)
"""Exceptions reported as ``error: <message>`` with exit status 2 instead of a traceback."""

EXAMPLES: list[str] = [
    "python -m bsnn_lib train --dataset mnist --arch vgg-small",
    "python -m bsnn_lib train --dataset digits --arch vgg-tiny --epochs 5 --no-progress",
    "BSNN_CIFAR10_DIR=/path/to/cifar10 python -m bsnn_lib train --dataset cifar10 --arch vgg16",
    "python -m bsnn_lib evaluate --method bsnn --K 8 --T 128 --n-test 1000",
    "python -m bsnn_lib evaluate --dataset mnist --arch resnet-small --method bsnn --no-sn",
    "python -m bsnn_lib bench --profile quick",
    "python -m bsnn_lib workbook --profile quick",
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


# ---------------------------------------------------------------------------------- evaluate

_METHOD_FLAGS = ("percentile", "channelwise", "calib_positive_only", "balance", "v_init", "reset", "K",
                 "input_coding", "bias", "residual", "gate", "sn", "offphase")


def add_evaluate_parser(subparsers: Subparsers) -> None:
    """``evaluate``: convert a cached (or freshly trained) ANN and simulate it for T steps."""
    parser = subparsers.add_parser(
        "evaluate",
        help="convert a trained ANN with a method, simulate T steps, write acc(t)/SIN/energy CSVs",
        description="Convert the cached checkpoint of --arch on --dataset (training it first if "
        "missing) with --method, simulate T steps on the test images (acc(t) for every t, SIN and "
        "energy statistics in the same pass) and write accuracy_vs_t.csv, sin.csv, energy.csv, "
        "latency.csv, params.json and accuracy_vs_t.png to --out (default results/<run name>/). "
        "Every [choice] of the method is a flag; defaults follow docs/method.md.",
    )
    parser.add_argument("--dataset", default="mnist", help=f"one of: {', '.join(DATASETS)} (default mnist)")
    parser.add_argument("--arch", default="vgg-small", help=f"one of: {', '.join(ARCHS)} (default vgg-small)")
    parser.add_argument("--method", default="rate", choices=METHODS)
    parser.add_argument("--T", type=int, default=256, help="time steps (default 256)")
    parser.add_argument("--out", help="output directory (default results/<dataset>-<arch>-<method...>)")
    parser.add_argument("--n-test", type=int, help="first N test images (default all)")
    parser.add_argument("--split", default="test", help="test split (cifar10 also test-lossless-1k)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--calib-size", type=int, default=1000, help="calibration subset size (train set)")
    parser.add_argument("--engine", choices=ENGINES, default="fast", help="simulator (both give the same answer)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda if available")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false", help="re-simulate even if cached")
    m = parser.add_argument_group("method options (docs/method.md; [choice] = the paper is ambiguous)")
    d = MethodConfig()
    m.add_argument("--percentile", type=float, default=d.percentile, help="calibration percentile (100 = max)")
    m.add_argument("--channelwise", action="store_true", help="one threshold per channel")
    m.add_argument("--calib-positive-only", action="store_true", help="[choice] percentile of positive values only")
    m.add_argument("--balance", choices=("threshold", "weights"), default=d.balance)
    m.add_argument("--v-init", type=float, default=d.v_init, help="initial potential / theta (rate: 0 or 0.5)")
    m.add_argument("--reset", choices=("subtract", "zero"), default=d.reset)
    m.add_argument("--K", type=int, default=d.K, help="phases per cycle (phase, bsnn, bsnn-rate)")
    m.add_argument("--input-coding", choices=("analog-scaled", "analog", "bits"), default=d.input_coding,
                   help="[choice] input current per phase")
    m.add_argument("--bias", choices=("spread", "first"), default=d.bias, help="[choice] bias injection")
    m.add_argument("--residual", choices=("carry", "clear"), default=d.residual,
                   help="[choice] bistable: potential left after a firing cycle")
    m.add_argument("--no-gate", dest="gate", action="store_false", help="bistable: no pipeline gate")
    m.add_argument("--sn", dest="sn", action="store_true", default=None, help="insert synchronous neurons")
    m.add_argument("--no-sn", dest="sn", action="store_false", help="no synchronous neurons (ablation)")
    m.add_argument("--offphase", choices=("drop", "defer"), default=d.offphase,
                   help="[choice] bistable: input arriving while firing")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``evaluate``: one cell, its tables and its plot."""
    from bsnn_lib import experiments, plots

    method = method_config(args.method, **{k: getattr(args, k) for k in _METHOD_FLAGS})
    c = experiments.cell(
        args.dataset, args.arch, method, args.T, n_test=args.n_test, split=args.split,
        batch_size=args.batch_size, calib_size=args.calib_size, engine=args.engine,
    )
    result = experiments.run_cell(c, device=args.device, progress=args.progress, use_cache=args.use_cache)
    run_name = f"{args.dataset}-{args.arch}-{_slug(method.label())}-T{args.T}"
    out = Path(args.out) if args.out else experiments.REPO_ROOT / "results" / run_name
    tables = experiments.result_tables([result])
    params = {"cell": c, "method": method.to_dict(), "train": c.train_config().to_dict(),
              "ann": result.ann_meta, "run": experiments.run_metadata(), "command": "evaluate"}
    experiments.write_tables(tables, out, params)
    plots.save_fig(plots.plot_accuracy_vs_t(tables["accuracy_vs_t"]), "accuracy_vs_t", out, params)
    lat = tables["latency"].iloc[0]
    r = result.result
    print(f"{get_spec(args.dataset).split_label(args.split)}: ANN {100 * r.ann_accuracy:.2f}%  "
          f"SNN {method.label()}: {100 * r.correct[-1] / r.n:.2f}% at T={args.T} "
          f"(best {100 * lat.best_accuracy:.2f}%)")
    print(f"T within 1% of the ANN: {_t_or_never(lat.t_within_1pct)}; within 0.5%: "
          f"{_t_or_never(lat.t_within_0p5pct)}; simulation {r.wall_time:.1f} s "
          f"({'cached' if result.from_cache else r.engine})")
    print(f"results: {out}")
    return 0


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-" else "-" for ch in text).strip("-")


def _t_or_never(value) -> str:
    return "never (within T)" if value is None or pd.isna(value) else str(int(value))


# --------------------------------------------------------------------------------------- main

SUBCOMMANDS: list[Callable[[Subparsers], None]] = [
    add_train_parser, add_evaluate_parser, add_bench_parser, add_workbook_parser]
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
