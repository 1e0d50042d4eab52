"""Command line interface: ``python -m bsnn_lib <command> [options]`` (also the ``bsnn`` script).

Subcommands are a registry: each is a function ``add_<name>_parser(subparsers)`` that adds its
parser and sets ``handler=<function(args) -> int>`` as a default. To add one, write both
functions and append the adder to :data:`SUBCOMMANDS` (and an example to :data:`EXAMPLES`).
Errors a user can fix (listed in :data:`USER_ERRORS`) print ``error: <message>`` and exit 2;
every argument is checked before any data is loaded or any model trained.

``train`` and ``evaluate`` run data-parallel when launched by ``torchrun`` (one process per GPU,
or gloo processes on a CPU); see :mod:`bsnn_lib.distributed`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bsnn_lib.checkpoints import CorruptCheckpointError
from bsnn_lib.convert import ConversionError
from bsnn_lib.data import (
    DATASETS,
    DataIntegrityError,
    DatasetNotFoundError,
    UnknownDatasetError,
    UnknownSplitError,
    get_spec,
    load_dataset,
)
from bsnn_lib.io import REPO_ROOT, run_metadata
from bsnn_lib.methods import COMMON, OPTIONS, REGISTRY, MethodConfigError, method_config
from bsnn_lib.models import ARCHS, POOLS, UnknownArchError, UnknownPoolError
from bsnn_lib.profiles import ProfileError, load_profile
from bsnn_lib.qcfs import ACTIVATIONS
from bsnn_lib.runner import NOTEBOOKS, WorkbookError
from bsnn_lib.simulate import ENGINES
from bsnn_lib.train import OPTIMIZERS, SCHEDULES, InvalidConfigError, TrainConfig, default_config

__all__ = ["EXAMPLES", "SUBCOMMANDS", "USER_ERRORS", "build_parser", "main"]

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
    "python -m bsnn_lib evaluate --method bsnn --K 8 --T 128",
    "python -m bsnn_lib evaluate --dataset mnist --arch resnet-small --method bsnn --no-sn",
    "python -m bsnn_lib bench --profile quick",
    "python -m bsnn_lib workbook --profile quick",
    "BSNN_CIFAR10_DIR=/path/to/cifar10 python -m bsnn_lib verdict --profile cpu-full --nets cifar10-vgg16",
    "torchrun --nproc_per_node=2 -m bsnn_lib evaluate --method bsnn --T 128",
]


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults in --help and keep the description's line breaks; a default that says
    nothing (None, a flag's True/False) or one the help already names is not repeated."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or isinstance(action.default, bool) or "default" in text:
            return text
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def count_or_all(text: str) -> int | None:
    """argparse type: a positive image count, or ``all`` (None)."""
    return None if text.lower() == "all" else positive_int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _add_parser(subparsers: Subparsers, name: str, **kw) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, formatter_class=_Formatter, **kw)


# ------------------------------------------------------------------------------------- train

# Options of ``train`` that override fields of :func:`default_config` when given.
_TRAIN_OVERRIDES = (
    "epochs",
    "lr",
    "optimizer",
    "seed",
    "width",
    "pool",
    "batch_size",
    "train_subset",
    "weight_decay",
    "schedule",
    "label_smoothing",
    "augment",
    "holdout",
    "activation",
    "qcfs_levels",
)


def _add_train_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The TrainConfig overrides (``prefix`` for ``evaluate``, whose --batch-size simulates)."""
    g = parser.add_argument_group("training (overrides of the default config for the dataset/arch pair)")
    g.add_argument("--epochs", type=positive_int)
    g.add_argument("--lr", type=positive_float, help="peak learning rate")
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--schedule", choices=SCHEDULES)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--seed", type=int)
    g.add_argument("--width", type=positive_float, help="channel-count multiplier")
    g.add_argument("--pool", choices=POOLS)
    g.add_argument(
        f"--{prefix}batch-size",
        dest="batch_size" if not prefix else "train_batch_size",
        type=positive_int,
        help="training batch size",
    )
    g.add_argument("--train-subset", type=positive_int, metavar="N", help="train on N evenly spaced train images")
    g.add_argument("--label-smoothing", type=float)
    g.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, help="training augmentation (default: per dataset)"
    )
    g.add_argument(
        "--holdout",
        action=argparse.BooleanOptionalAction,
        help="never train on the fixed validation split (default: per dataset)",
    )
    g.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        help="relu, or qcfs: quantization-clip-floor-shift with a learned threshold (Bu et al. 2022)",
    )
    g.add_argument("--qcfs-levels", type=positive_int, metavar="L", help="QCFS levels (2^K - 1 matches BSNN K bits)")


def add_train_parser(subparsers: Subparsers) -> None:
    """``train``: train a zoo model (or load it from its cached checkpoint)."""
    parser = _add_parser(
        subparsers,
        "train",
        help="train an ANN (or load it from the checkpoint cache) and print its test accuracy",
        description="Train --arch on --dataset with the default config for that pair, changed "
        "by any option given; a finished run is cached under <data root>/checkpoints and "
        "reused, an interrupted one resumes. Under torchrun: DistributedDataParallel.",
    )
    parser.add_argument("--dataset", required=True, choices=list(DATASETS))
    parser.add_argument("--arch", required=True, choices=list(ARCHS))
    _add_train_options(parser)
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda if available")
    parser.add_argument("--retrain", action="store_true", help="ignore a cached checkpoint")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.set_defaults(handler=run_train)


def _train_config(args: argparse.Namespace, evaluate: bool = False) -> TrainConfig:
    """:func:`default_config` for the pair, with the options the user gave (validated now).
    In ``evaluate``, ``--batch-size`` is the simulation's and ``--train-batch-size`` training's."""
    names = [n for n in _TRAIN_OVERRIDES if not (evaluate and n == "batch_size")]
    overrides = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if getattr(args, "train_batch_size", None) is not None:
        overrides["batch_size"] = args.train_batch_size
    return dataclasses.replace(default_config(args.dataset, args.arch), **overrides)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``train``: print the checkpoint path, test accuracy and timing."""
    from bsnn_lib import distributed
    from bsnn_lib.train import load_or_train, train

    config = _train_config(args)
    created = distributed.init_from_env()
    try:
        rank, world_size = distributed.world()
        runner = train if args.retrain or world_size > 1 else load_or_train
        model, metadata = runner(config, device=args.device, progress=args.progress)
        if world_size > 1:  # every rank holds the same weights: say so
            print(f"rank {rank}/{world_size}: params {distributed.params_digest(model)}", flush=True)
    finally:
        if created:
            distributed.destroy()
    if rank != 0:
        return 0
    label = get_spec(config.dataset).split_label("test")
    print(f"checkpoint: {metadata['checkpoint_path']}")
    print(f"test accuracy: {100 * metadata['test_accuracy']:.2f}% ({label})")
    source = "loaded from cache; trained" if metadata["loaded_from_cache"] else "trained"
    print(
        f"{source} {metadata['epochs_done']} epochs in {metadata['train_seconds']:.1f} s "
        f"({metadata['seconds_per_epoch']:.1f} s/epoch on {metadata['device']})"
    )
    return 0


# ---------------------------------------------------------------------------------- evaluate


def _method_help(name: str) -> str:
    users = [m for m, spec in REGISTRY.items() if name in COMMON or name in spec.options]
    opt = OPTIONS[name]
    where = "all methods" if name in COMMON else ", ".join(users)
    return f"{'[choice] ' if opt.choice else ''}{opt.help} ({where}; default {opt.default})"


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    """One flag per declared method option (from the registry); only the given ones are used."""
    g = parser.add_argument_group(
        "method options (docs/method.md; [choice] = a reading of the paper that the notebooks compare)"
    )
    for name, opt in OPTIONS.items():
        kw: dict = {"dest": name, "default": None, "help": _method_help(name)}
        if opt.kind is bool:
            g.add_argument(opt.cli_flag, action=argparse.BooleanOptionalAction, **kw)
        elif opt.values is not None:
            g.add_argument(opt.cli_flag, choices=opt.values, type=opt.kind, **kw)
        else:
            g.add_argument(opt.cli_flag, type=opt.kind, **kw)


def add_evaluate_parser(subparsers: Subparsers) -> None:
    """``evaluate``: convert a cached (or freshly trained) ANN and simulate it for T steps."""
    parser = _add_parser(
        subparsers,
        "evaluate",
        help="convert a trained ANN with a method, simulate T steps, write acc(t)/SIN/energy CSVs",
        description="Convert the cached checkpoint of --arch on --dataset (training it first if "
        "missing) with --method, simulate T steps on the test images (acc(t) for every t, SIN and "
        "energy statistics in the same pass) and write accuracy_vs_t.csv, sin.csv, energy.csv, "
        "latency.csv, params.json and accuracy_vs_t.png to --out (default results/<run name>/). "
        "Every [choice] of the method is a flag; defaults follow docs/method.md. Under torchrun "
        "the test images are sharded over the ranks (exactly the single-process counts).",
        epilog="methods: " + "; ".join(f"{n}: {m.summary}" for n, m in REGISTRY.items()),
    )
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    parser.add_argument("--arch", default="vgg-small", choices=list(ARCHS))
    parser.add_argument("--method", default="rate", choices=list(REGISTRY))
    parser.add_argument("--T", type=positive_int, default=256, help="time steps")
    parser.add_argument("--out", help="output directory (default results/<dataset>-<arch>-<method...>)")
    parser.add_argument(
        "--n-test", type=count_or_all, default=1000, metavar="N|all", help="N evenly spaced test images, or all"
    )
    parser.add_argument("--split", default="test", help="test split (val; cifar10 also test-lossless-1k)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="simulation batch size")
    parser.add_argument(
        "--calib-size", type=positive_int, default=1000, help="calibration images (a fixed subset of the train split)"
    )
    parser.add_argument("--engine", choices=ENGINES, default="fast", help="simulator (both give the same answer)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda if available")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false", help="re-simulate even if cached")
    parser.add_argument(
        "--shard",
        choices=("strided", "contiguous"),
        default="strided",
        help="under torchrun: how whole batches are dealt to the ranks",
    )
    _add_method_options(parser)
    _add_train_options(parser, prefix="train-")
    parser.set_defaults(handler=run_evaluate)


def _check_evaluate(args: argparse.Namespace):
    """Every argument of ``evaluate`` checked, and the cell built, before any work is done."""
    from bsnn_lib import experiments

    spec = get_spec(args.dataset)
    if args.split not in (*spec.splits, "val") or args.split == "train":
        raise UnknownSplitError(spec, args.split)
    if args.calib_size > spec.train_size:
        raise ValueError(
            f"--calib-size {args.calib_size} is larger than the {spec.display_name} train split "
            f"({spec.train_size} images)"
        )
    given = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    method = method_config(args.method, **given)
    load_dataset(args.dataset, args.split)  # the test images exist (a missing copy fails before training)
    config = _train_config(args, evaluate=True)
    base = default_config(args.dataset, args.arch)
    train = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(base, f.name)
    }
    return experiments.cell(
        args.dataset,
        args.arch,
        method,
        args.T,
        n_test=args.n_test,
        split=args.split,
        batch_size=args.batch_size,
        calib_size=args.calib_size,
        engine=args.engine,
        train=train or None,
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``evaluate``: one cell, its tables and its plot."""
    from bsnn_lib import distributed, experiments, plots

    c = _check_evaluate(args)
    created = distributed.init_from_env()
    try:
        if distributed.world()[1] > 1:
            result = experiments.evaluate_distributed(c, device=args.device, progress=args.progress, shard=args.shard)
        else:
            result = experiments.run_cell(c, device=args.device, progress=args.progress, use_cache=args.use_cache)
        rank = distributed.world()[0]
    finally:
        if created:
            distributed.destroy()
    if rank != 0:
        return 0
    method = c.method
    run_name = f"{args.dataset}-{args.arch}-{_slug(method.label())}-T{args.T}"
    out = Path(args.out) if args.out else REPO_ROOT / "results" / run_name
    tables = experiments.result_tables([result])
    r = result.result
    tables["counts"] = pd.DataFrame(
        {"t": np.arange(1, r.T + 1), "correct": r.correct, "answered": r.answered, "n": r.n}
    )
    params = {
        "cell": c,
        "method": method.to_dict(),
        "train": c.train_config().to_dict(),
        "ann": result.ann_meta,
        "run": run_metadata(),
        "command": "evaluate",
        "world_size": r.extra.get("world_size", 1),
    }
    experiments.write_tables(tables, out, params)
    plots.save_fig(plots.plot_accuracy_vs_t(tables["accuracy_vs_t"]), "accuracy_vs_t", out, params)
    lat = tables["latency"].iloc[0]
    ranks = r.extra.get("world_size", 1)
    where = f"{get_spec(args.dataset).split_label(args.split)}, {r.n} images" + (
        f" on {ranks} ranks" if ranks > 1 else ""
    )
    print(
        f"{where}: ANN {100 * r.ann_accuracy:.2f}%  "
        f"SNN {method.label()}: {100 * r.correct[-1] / r.n:.2f}% at T={args.T} "
        f"(best {100 * lat.best_accuracy:.2f}%)"
    )
    print(
        f"T within 1% of the ANN: {_t_or_never(lat.t_within_1pct, args.T)}; within 0.5%: "
        f"{_t_or_never(lat.t_within_0p5pct, args.T)}; simulation {r.wall_time:.1f} s "
        f"({'cached' if result.from_cache else r.engine})"
    )
    print(f"results: {out}")
    return 0


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-" else "-" for ch in text).strip("-")


def _t_or_never(value, T: int) -> str:
    return f"> {T} (not within T)" if value is None or pd.isna(value) else str(int(value))


# ------------------------------------------------------------------------------------- bench


def add_bench_parser(subparsers: Subparsers) -> None:
    """``bench``: run a profile's whole grid and write results/<profile>/*.csv."""
    parser = _add_parser(
        subparsers,
        "bench",
        help="run every cell of a profile (resumable) and write the tidy result CSVs",
        description="Run the benchmark grid of --profile (nets x splits x methods, T steps each). "
        "Finished cells are kept under <out>/cells/ and skipped on the next call; the combined "
        "CSVs (accuracy_vs_t, sin, energy, latency) and params.json are rebuilt from them.",
    )
    parser.add_argument("--profile", default="quick", help="a name in profiles/ or a YAML path")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: the profile's device")
    parser.add_argument("--out", help="output directory (default: results/<profile name>)")
    parser.add_argument("--engine", choices=ENGINES, default="fast", help="simulator")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Handler of ``bench``: run the grid, print where the tables went and the latency table."""
    from bsnn_lib.grid import TABLES, run_grid

    prof = load_profile(args.profile)
    out = Path(args.out) if args.out else REPO_ROOT / "results" / prof.name
    tables = run_grid(prof, out_dir=out, device=args.device, progress=args.progress, engine=args.engine)
    for name in TABLES:
        if not tables[name].empty:
            print(f"wrote {out / (name + '.csv')} ({len(tables[name])} rows)")
    lat = tables["latency"]
    if not lat.empty:
        cols = [
            c
            for c in (
                "dataset",
                "arch",
                "split",
                "label",
                "ann_accuracy",
                "final_accuracy",
                "t_within_1pct",
                "t_within_0p5pct",
            )
            if c in lat.columns
        ]
        print(lat[cols].to_string(index=False))
    return 0


# ----------------------------------------------------------------------------------- verdict


def add_verdict_parser(subparsers: Subparsers) -> None:
    """``verdict``: the selection/report protocol of :mod:`bsnn_lib.verdict` for a profile."""
    parser = _add_parser(
        subparsers,
        "verdict",
        help="choose each method's variant on held-out images, report it on others with intervals",
        description="Run the verdict protocol of --profile's `verdict` section: every variant of "
        "every method family is simulated on the selection images (never reported); the chosen "
        "ones are simulated on the report images; T within 1% / 0.5% of the ANN and the ratios "
        "T(baseline)/T(BSNN) get 95% paired-bootstrap intervals (censored latencies are '> T'), and "
        "each ratio is judged against the paper's 4x. Writes selection.csv, latency.csv, ratios.csv, "
        "verdict.csv, params.json and curves/*.npz to --out. Cells are cached: a rerun resumes.",
    )
    parser.add_argument("--profile", default="cpu-full", help="a profile in profiles/ with a verdict section")
    parser.add_argument(
        "--nets", help="comma-separated <dataset>-<arch> names of the section's nets to run (default: all)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda if available")
    parser.add_argument("--out", help="output directory (default: results/<profile>/verdict)")
    parser.add_argument("--figures-dir", help="where the verdict figures go (default: figures/<profile>)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.set_defaults(handler=run_verdict_command)


def run_verdict_command(args: argparse.Namespace) -> int:
    """Handler of ``verdict``: run the protocol, print the latency and verdict tables."""
    from bsnn_lib.verdict import default_out_dir, run_verdict, select_nets, verdict_figures

    prof = load_profile(args.profile)
    if not prof.verdict:
        raise ProfileError(f"profile {prof.name!r} has no verdict section (see bsnn_lib/verdict.py)")
    if args.nets:
        prof = select_nets(prof, [n.strip() for n in args.nets.split(",") if n.strip()])
    out = Path(args.out) if args.out else default_out_dir(prof.name)
    run_verdict(prof, out_dir=out, device=args.device, progress=args.progress)
    figures = Path(args.figures_dir) if args.figures_dir else REPO_ROOT / "figures" / prof.name
    tables = verdict_figures(out, figures, prof.name)
    lat = tables["latency"]
    print(lat[["net", "family", "variant", "final_accuracy", "t_1pct_text", "t_0p5pct_text"]].to_string(index=False))
    print(tables["verdict"].to_string(index=False))
    print(f"results: {out}; figures: {figures}")
    return 0


# ---------------------------------------------------------------------------------- workbook


def add_workbook_parser(subparsers: Subparsers) -> None:
    """``workbook``: run the notebook series headless (``make figures``)."""
    parser = _add_parser(
        subparsers,
        "workbook",
        help="run the notebook series headless with papermill (figures/, results/, runs/)",
        description=f"Execute the notebooks ({', '.join(NOTEBOOKS)}) in order for one profile: "
        "executed copies to <out>/<profile>/, figures to figures/<profile>/, tables to "
        "results/<profile>/. Progress: the notebook, papermill's cell counter, and the library's "
        "own bars (training, simulation) on this terminal.",
    )
    parser.add_argument("--profile", default="quick", help="a profile in profiles/")
    parser.add_argument("--only", help="comma-separated notebook prefixes, e.g. 01,03")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: the profile's device")
    parser.add_argument("--out", default="runs", help="folder for executed notebooks")
    parser.add_argument("--figures-dir", help="default: figures/<profile>")
    parser.add_argument("--results-dir", help="default: results/<profile>")
    parser.add_argument("--log-output", action="store_true", help="also stream every cell's printed output")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.set_defaults(handler=run_workbook_command)


def run_workbook_command(args: argparse.Namespace) -> int:
    """Handler of ``workbook``: 0 on success, 1 when a notebook fails, 2 on a usage error."""
    import time

    from bsnn_lib.runner import run_workbook

    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    start = time.perf_counter()
    try:
        done = run_workbook(
            args.profile,
            notebooks=only,
            out_dir=args.out,
            figures_dir=args.figures_dir,
            results_dir=args.results_dir,
            device=args.device,
            progress=args.progress,
            log_output=args.log_output,
        )
    except WorkbookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in done:
        print(f"executed {path}")
    print(f"workbook {args.profile}: {len(done)} notebook(s) in {time.perf_counter() - start:.0f} s")
    return 0


# --------------------------------------------------------------------------------------- main

SUBCOMMANDS: list[Callable[[Subparsers], None]] = [
    add_train_parser,
    add_evaluate_parser,
    add_bench_parser,
    add_workbook_parser,
    add_verdict_parser,
]
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
    except (*USER_ERRORS, ValueError) as exc:
        if os.environ.get("BSNN_DEBUG"):
            raise
        hint = "" if isinstance(exc, USER_ERRORS) else " (BSNN_DEBUG=1 shows the traceback)"
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        said = str(exc) or "finished simulations and finished training epochs are kept for the next call"
        print(f"interrupted: {said}", file=sys.stderr)
        return 130
