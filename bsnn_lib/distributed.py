"""Data-parallel evaluation of acc(t) and DDP training, for several GPUs (or CPU processes).

Launch with ``torchrun`` (one process per GPU; on a CPU the gloo backend)::

    torchrun --nproc_per_node=4 -m bsnn_lib.distributed train --dataset cifar10 --arch vgg16
    torchrun --nproc_per_node=4 -m bsnn_lib.distributed evaluate --dataset cifar10 --arch vgg16 \\
        --method bsnn --K 8 --T 512 --out results/ddp-vgg16-bsnn

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) both commands run as one process.

**Evaluation** (:func:`evaluate_distributed`). Every rank builds the same SNN (rank 0 trains or
loads the ANN first, the others wait and then load its checkpoint; calibration is deterministic)
and simulates a shard of the test set. Sharding is by *whole batches of the single-process
loader* (batch b goes to rank ``b % world`` for ``strided``, or ranks get contiguous blocks of
batches for ``contiguous``), so every image is simulated in exactly the batch it would be in
one process: the per-image arithmetic is the same and the correct/answered counts per t, summed
with ``all_reduce``, equal the single-process counts exactly (same device and per-process thread
count; BLAS/oneDNN kernels may round differently for other batch shapes or thread counts, which
is why the sharding never splits a batch). The per-layer statistics are summed in rank order:
their count fields (spikes, SIN neurons, ...) are exact, the squared-error fields may differ from
one process in the last bits (another summation order).

**Training** (:func:`train_ddp`). ``DistributedDataParallel`` + ``DistributedSampler`` (shuffled
by ``config.seed`` and the epoch); the global batch is ``config.batch_size`` (each rank takes
``ceil(batch_size / world)``), the optimizer and learning-rate schedule are those of
:func:`bsnn_lib.train.train`. Rank 0 writes the final checkpoint atomically at
``config.checkpoint_path()`` in the format of :mod:`bsnn_lib.train`, so :func:`load_or_train`,
the grid and the notebooks use it. The weights are *not* bit-identical to a single-process run of
the same config (other batch partition, per-rank BatchNorm batch statistics, per-rank
augmentation randomness); the checkpoint metadata records ``ddp_world_size``. After every epoch
rank 0 saves ``<checkpoint>.ddp-partial``; an interrupted run resumes from it at the epoch
boundary (sampler order is exact; augmentation randomness is not restored).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from bsnn_lib.checkpoints import CorruptCheckpointError, load_checkpoint, save_checkpoint
from bsnn_lib.data import get_spec, load_dataset, make_loader, test_subset
from bsnn_lib.experiments import (
    Cell,
    CellResult,
    build_snn,
    cell,
    result_tables,
    run_metadata,
    trained_ann,
    write_tables,
)
from bsnn_lib.methods import METHODS, method_config
from bsnn_lib.models import build_model
from bsnn_lib.simulate import ENGINES, SimResult, simulate
from bsnn_lib.train import (
    CHECKPOINT_KIND,
    EVAL_BATCH_SIZE,
    TrainConfig,
    default_config,
    evaluate_ann,
    seed_everything,
)

__all__ = [
    "SHARD_MODES",
    "evaluate_distributed",
    "init_from_env",
    "main",
    "merge_results",
    "shard_batches",
    "shard_loader",
    "train_ddp",
    "world",
]

SHARD_MODES = ("strided", "contiguous")


# ---------------------------------------------------------------------------------------------
# process group
# ---------------------------------------------------------------------------------------------
def world() -> tuple[int, int]:
    """(rank, world size) of the current process group, (0, 1) when there is none."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group described by torchrun's environment (``WORLD_SIZE``, ``RANK``...).

    Returns True if this call initialized it. Backend default: ``nccl`` with CUDA, else ``gloo``.
    Without ``WORLD_SIZE`` (a plain ``python`` run) nothing is initialized: one process.
    """
    if dist.is_initialized() or "WORLD_SIZE" not in os.environ:
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend=backend)
    return True


def _rank_device(device: str | torch.device | None) -> torch.device:
    """``cuda:<LOCAL_RANK>`` when CUDA is asked for (or available and nothing is asked), else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def _barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


# ---------------------------------------------------------------------------------------------
# sharding and merging
# ---------------------------------------------------------------------------------------------
def shard_batches(n_items: int, batch_size: int, rank: int, world_size: int,
                  mode: str = "strided") -> list[list[int]]:
    """The batches (lists of item indices) of the single-process loader that ``rank`` simulates.

    The loader's batches are ``[0, bs)``, ``[bs, 2 bs)``, ...; ``strided`` gives batch b to rank
    ``b % world_size``, ``contiguous`` gives each rank a block of consecutive batches (the first
    ``n_batches % world_size`` ranks one more). Every batch goes to exactly one rank.
    """
    if mode not in SHARD_MODES:
        raise ValueError(f"shard mode {mode!r}; choose one of {SHARD_MODES}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    n_batches = math.ceil(n_items / batch_size)
    batches = [list(range(b * batch_size, min((b + 1) * batch_size, n_items))) for b in range(n_batches)]
    if mode == "strided":
        return batches[rank::world_size]
    per, extra = divmod(n_batches, world_size)
    start = rank * per + min(rank, extra)
    return batches[start:start + per + (1 if rank < extra else 0)]


def shard_loader(dataset: Dataset, batch_size: int, rank: int, world_size: int,
                 mode: str = "strided") -> DataLoader:
    """A DataLoader over this rank's batches of ``dataset`` (see :func:`shard_batches`)."""
    return DataLoader(dataset, batch_sampler=shard_batches(len(dataset), batch_size, rank, world_size, mode))


def _merge_layer_sums(parts: Sequence[dict]) -> dict:
    merged: dict = defaultdict(dict)
    for part in parts:  # rank order: deterministic summation order
        for key in sorted(part, key=lambda k: (k[1], k[0])):
            acc = merged[key]
            for field, value in part[key].items():
                acc[field] = acc.get(field, 0.0) + value
    return {k: merged[k] for k in sorted(merged, key=lambda k: (k[1], k[0]))}


def merge_results(parts: Sequence[SimResult]) -> SimResult:
    """One :class:`SimResult` from the results of disjoint shards (in rank order).

    Counts (correct, answered, n, ANN / quantized-ANN correct) are summed exactly; layer sums are
    summed field by field; the wall time is the slowest shard's."""
    if not parts:
        raise ValueError("merge_results needs at least one part")
    first = parts[0]
    if any(p.T != first.T for p in parts):
        raise ValueError("cannot merge simulations of different T")
    qann = None if first.qann_correct is None else sum(int(p.qann_correct or 0) for p in parts)
    return dataclasses.replace(
        first,
        n=sum(p.n for p in parts),
        correct=np.sum([p.correct for p in parts], axis=0).astype(np.int64),
        answered=np.sum([p.answered for p in parts], axis=0).astype(np.int64),
        ann_correct=sum(p.ann_correct for p in parts),
        qann_correct=qann,
        layer_sums=_merge_layer_sums([p.layer_sums for p in parts]),
        wall_time=max(p.wall_time for p in parts),
        extra={**first.extra, "shards": len(parts), "shard_n": [p.n for p in parts],
               "shard_wall_time": [p.wall_time for p in parts]},
    )


def _all_reduce_result(local: SimResult, device: torch.device) -> SimResult:
    """Sum the counts with all_reduce (exact int64) and gather the layer sums (rank order)."""
    rank, world_size = world()
    if world_size == 1:
        return merge_results([local])
    qann = -1 if local.qann_correct is None else int(local.qann_correct)
    counts = torch.from_numpy(np.concatenate([
        local.correct.astype(np.int64), local.answered.astype(np.int64),
        np.array([local.n, local.ann_correct, qann], dtype=np.int64)]))
    comm_device = device if dist.get_backend() == "nccl" else torch.device("cpu")
    counts = counts.to(comm_device)
    dist.all_reduce(counts, op=dist.ReduceOp.SUM)
    counts = counts.cpu().numpy()
    T = local.T
    gathered: list[Any] = [None] * world_size
    dist.all_gather_object(gathered, (local.layer_sums, local.wall_time, local.n))
    sums = _merge_layer_sums([g[0] for g in gathered])
    n, ann_correct, qann_sum = (int(v) for v in counts[2 * T:])
    return dataclasses.replace(
        local,
        n=n,
        correct=counts[:T].copy(),
        answered=counts[T:2 * T].copy(),
        ann_correct=ann_correct,
        qann_correct=None if local.qann_correct is None else qann_sum,
        layer_sums=sums,
        wall_time=max(g[1] for g in gathered),
        extra={**local.extra, "shards": world_size, "shard_n": [g[2] for g in gathered],
               "shard_wall_time": [g[1] for g in gathered]},
    )


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------
def _ann_first_on_rank0(config: TrainConfig, device: torch.device, progress: bool) -> None:
    """Rank 0 trains (or loads) the ANN while the others wait, then everyone loads it."""
    rank, _ = world()
    if rank == 0:
        trained_ann(config, device=device, progress=progress)
    _barrier()
    if rank != 0:
        trained_ann(config, device=device, progress=False)


def evaluate_distributed(c: Cell, *, device: str | torch.device | None = None, progress: bool = False,
                         shard: str = "strided", stats: bool = True) -> CellResult:
    """Simulate cell ``c`` data-parallel over the current process group; every rank gets the
    merged result (equal to the single-process one, see the module docstring).

    Works in a single process too (no process group: the whole test set on this process)."""
    rank, world_size = world()
    dev = _rank_device(device)
    show = progress and rank == 0
    _ann_first_on_rank0(c.train_config(), dev, show)
    snn, meta = build_snn(c, device=dev, progress=show)
    dataset = test_subset(load_dataset(c.dataset, c.split), c.n_test)
    loader = shard_loader(dataset, c.batch_size, rank, world_size, shard)
    local = simulate(snn, loader, c.T, engine=c.engine, device=dev, stats=stats,
                     stat_every=c.stat_every, progress=show)
    local.extra["device"] = str(dev)
    res = _all_reduce_result(local, dev)
    res.extra.update({"world_size": world_size, "shard_mode": shard})
    ann_meta = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool)) or v is None}
    return CellResult(c, res, ann_meta)


# ---------------------------------------------------------------------------------------------
# DDP training
# ---------------------------------------------------------------------------------------------
def _memory_format(device: torch.device) -> torch.memory_format:
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def _optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                           weight_decay=config.weight_decay)


def _scheduler(config: TrainConfig, optimizer, total_steps: int):
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=0.15,
            anneal_strategy="cos", cycle_momentum=False)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _ddp_partial_path(config: TrainConfig) -> Path:
    return Path(f"{config.checkpoint_path()}.ddp-partial")


def params_digest(model: nn.Module) -> str:
    """sha256 of a model's parameters and buffers (to check that ranks hold the same weights)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def train_ddp(config: TrainConfig, *, device: str | torch.device | None = None, progress: bool = True,
              resume: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``config`` with DistributedDataParallel over the current process group.

    Every rank returns ``(model in eval mode, metadata)``; rank 0 writes the checkpoint at
    ``config.checkpoint_path()`` (atomic, the format of :func:`bsnn_lib.train.train`) before the
    others return. Also works as a single process (no process group)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    rank, world_size = world()
    dev = _rank_device(device)
    seed_everything(config.seed)
    spec = get_spec(config.dataset)
    train_set = test_subset(load_dataset(spec.name, "train", augment=config.augment), config.train_subset)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=config.seed, drop_last=False)
    per_rank = max(1, math.ceil(config.batch_size / world_size))
    loader = DataLoader(train_set, batch_size=per_rank, sampler=sampler)
    model = build_model(config.arch, spec, width=config.width, pool=config.pool).to(
        dev, memory_format=_memory_format(dev))
    ddp = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None) if world_size > 1 else model
    optimizer = _optimizer(config, ddp.parameters())
    scheduler = _scheduler(config, optimizer, config.epochs * len(loader))
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    torch.manual_seed(config.seed + 1000 * rank)  # per-rank augmentation randomness
    history: list[dict[str, float]] = []
    start_epoch = 0
    partial = _ddp_partial_path(config)
    if resume and partial.is_file():
        try:
            state = load_checkpoint(partial)
            if state.get("config") == config.to_dict() and state.get("world_size") == world_size:
                model.load_state_dict(state["model_state"])
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
                history, start_epoch = list(state["history"]), int(state["epochs_done"])
        except CorruptCheckpointError:
            pass
    _barrier()
    for epoch in range(start_epoch, config.epochs):
        sampler.set_epoch(epoch)
        ddp.train()
        t0 = time.perf_counter()
        sums = torch.zeros(3, dtype=torch.float64)  # loss * n, correct, n
        bar = tqdm(loader, desc=f"ddp {config.dataset}/{config.arch} epoch {epoch + 1}/{config.epochs}",
                   disable=not (progress and rank == 0), leave=True)
        for images, labels in bar:
            images = images.to(dev, memory_format=_memory_format(dev)) if images.ndim == 4 else images.to(dev)
            labels = labels.to(dev)
            logits = ddp(images)
            loss = criterion(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            sums += torch.tensor([float(loss.detach()) * labels.shape[0],
                                  float((logits.detach().argmax(1) == labels).sum()), labels.shape[0]],
                                 dtype=torch.float64)
        if world_size > 1:
            red = sums.to(dev) if dist.get_backend() == "nccl" else sums
            dist.all_reduce(red)
            sums = red.cpu()
        history.append({"epoch": epoch, "loss": float(sums[0] / sums[2]), "accuracy": float(sums[1] / sums[2]),
                        "seconds": time.perf_counter() - t0})
        if rank == 0:
            save_checkpoint(partial, {
                "config": config.to_dict(), "world_size": world_size, "model_state": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "history": history, "epochs_done": epoch + 1})
        _barrier()
    if world_size > 1:
        # parameters agree already (DDP); BatchNorm running statistics were updated by each rank's
        # last local batches: every rank takes rank 0's, the ones that are saved
        for t in model.state_dict().values():
            dist.broadcast(t, src=0)
    model = model.to(memory_format=torch.contiguous_format).eval()
    metadata: dict[str, Any] = {}
    if rank == 0:
        test_loader = make_loader(load_dataset(spec.name, "test"), EVAL_BATCH_SIZE)
        t0 = time.perf_counter()
        accuracy = evaluate_ann(model, test_loader, dev)
        secs = [h["seconds"] for h in history]
        metadata = {
            "epochs_done": len(history), "train_seconds": sum(secs),
            "seconds_per_epoch": sum(secs) / max(1, len(secs)),
            "train_loss": history[-1]["loss"] if history else None,
            "train_accuracy": history[-1]["accuracy"] if history else None,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "device": str(dev), "torch_version": str(torch.__version__),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config_key": config.key(),
            "test_accuracy": accuracy, "test_split": "test", "test_label": spec.split_label("test"),
            "eval_seconds": time.perf_counter() - t0,
            "ddp_world_size": world_size, "ddp_batch_per_rank": per_rank,
        }
        save_checkpoint(config.checkpoint_path(), {
            "kind": CHECKPOINT_KIND, "config": config.to_dict(), "model_state": model.state_dict(),
            "metadata": metadata,
            "resume": {"epochs_done": len(history), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "history": history},
        })
        partial.unlink(missing_ok=True)
    if world_size > 1:
        box = [metadata]
        dist.broadcast_object_list(box, src=0)
        metadata = box[0]
    return model, dict(metadata, checkpoint_path=str(config.checkpoint_path()), loaded_from_cache=False)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
# option dest -> TrainConfig field (``--batch-size`` of ``evaluate`` is the simulation batch)
_TRAIN_OVERRIDES = {"epochs": "epochs", "lr": "lr", "seed": "seed", "width": "width",
                    "train_batch_size": "batch_size", "train_subset": "train_subset"}


def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--epochs", type=int, help="training override")
    p.add_argument("--lr", type=float, help="training override")
    p.add_argument("--seed", type=int, help="training override")
    p.add_argument("--width", type=float, help="training override")
    p.add_argument("--train-batch-size", type=int, help="training override (global batch)")
    p.add_argument("--train-subset", type=int, help="training override: N evenly spaced train images (test_subset)")
    p.add_argument("--device", help="cpu or cuda (default: cuda:<LOCAL_RANK> if available)")
    p.add_argument("--backend", choices=("gloo", "nccl"), help="default: nccl with CUDA, else gloo")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node=N -m bsnn_lib.distributed",
        description="Data-parallel evaluation of acc(t) and DDP training (see the module docstring).")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="simulate one cell, test set sharded over the ranks")
    _add_common(ev)
    ev.add_argument("--method", choices=METHODS, default="bsnn")
    ev.add_argument("--K", type=int)
    ev.add_argument("--percentile", type=float)
    ev.add_argument("--v-init", type=float)
    ev.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE",
                    help="any other method option, e.g. --opt sn=false --opt residual=clear")
    ev.add_argument("--T", type=int, required=True)
    ev.add_argument("--n-test", type=int, help="N evenly spaced test images, bsnn_lib.data.test_subset (default: all)")
    ev.add_argument("--split", default="test")
    ev.add_argument("--batch-size", type=int, default=128, help="simulation batch size")
    ev.add_argument("--calib-size", type=int, default=1000)
    ev.add_argument("--engine", choices=ENGINES, default="fast")
    ev.add_argument("--shard", choices=SHARD_MODES, default="strided")
    ev.add_argument("--no-stats", dest="stats", action="store_false", help="acc(t) only")
    ev.add_argument("--out", help="rank 0 writes counts.csv and the tidy tables here")
    tr = sub.add_parser("train", help="train an ANN with DistributedDataParallel")
    _add_common(tr)
    return parser


def _train_config(args: argparse.Namespace) -> TrainConfig:
    overrides = {field: getattr(args, dest) for dest, field in _TRAIN_OVERRIDES.items()
                 if getattr(args, dest, None) is not None}
    return dataclasses.replace(default_config(args.dataset, args.arch), **overrides)


def _run_evaluate(args: argparse.Namespace) -> int:
    rank, world_size = world()
    opts: dict[str, Any] = {}
    for name in ("K", "percentile", "v_init"):
        if getattr(args, name) is not None:
            opts[name] = getattr(args, name)
    for item in args.opt:
        name, _, value = item.partition("=")
        opts[name.strip()] = _parse_value(value.strip())
    cfg = _train_config(args)
    base = default_config(args.dataset, args.arch)
    train = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
             if getattr(cfg, f.name) != getattr(base, f.name)}
    c = cell(args.dataset, args.arch, method_config(args.method, **opts), args.T, train=train or None,
             n_test=args.n_test, split=args.split, calib_size=args.calib_size, batch_size=args.batch_size,
             engine=args.engine)
    cr = evaluate_distributed(c, device=args.device, progress=args.progress, shard=args.shard,
                              stats=args.stats)
    r = cr.result
    if rank == 0:
        acc = r.accuracy()
        marks = sorted({t for t in (1, 8, 16, 32, 64, 128, 256, 512, 1024, r.T) if t <= r.T})
        print(f"{c.method.label()} on {c.dataset}/{c.arch}: {r.n} images, {world_size} rank(s), "
              f"ANN {100 * r.ann_accuracy:.2f}%, wall {r.wall_time:.2f} s")
        print("  " + "  ".join(f"t={t}: {100 * acc.accuracy[t - 1]:.2f}%" for t in marks))
        if args.out:
            out = Path(args.out)
            counts = pd.DataFrame({"t": np.arange(1, r.T + 1), "correct": r.correct,
                                   "answered": r.answered, "n": r.n})
            tables = result_tables([cr]) if args.stats else {"accuracy_vs_t": result_tables([cr])["accuracy_vs_t"]}
            tables = {**tables, "counts": counts}
            params = {"cell": repr(c), "key": c.key(), "world_size": world_size, "shard": args.shard,
                      "run": run_metadata()}
            write_tables(tables, out, params=params)
            print(f"wrote {out}")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    rank, world_size = world()
    model, meta = train_ddp(_train_config(args), device=args.device, progress=args.progress)
    digest = params_digest(model)
    print(f"rank {rank}/{world_size}: params {digest}", flush=True)
    if rank == 0:
        print(f"checkpoint: {meta['checkpoint_path']}")
        print(f"test accuracy: {100 * meta['test_accuracy']:.2f}% ({world_size} rank(s), "
              f"{meta['train_seconds']:.1f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    created = init_from_env(args.backend)
    try:
        return _run_evaluate(args) if args.command == "evaluate" else _run_train(args)
    finally:
        if created:
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
