"""Process groups, sharding and merging: the pieces of data-parallel training and evaluation.

Launch any training or evaluation of the CLI under ``torchrun`` (one process per GPU; on a CPU the
gloo backend); without ``WORLD_SIZE`` in the environment everything runs as one process::

    torchrun --nproc_per_node=4 -m bsnn_lib train --dataset cifar10 --arch vgg16
    torchrun --nproc_per_node=4 -m bsnn_lib evaluate --dataset cifar10 --arch vgg16 --method bsnn --T 512

**Evaluation** (:func:`bsnn_lib.experiments.evaluate_distributed`). Every rank builds the same
SNN (rank 0 trains or loads the ANN first, the others wait and then load its checkpoint;
calibration is deterministic) and simulates a shard of the test set. Sharding is by *whole batches
of the single-process loader* (:func:`shard_batches`), so every image is simulated in exactly the
batch it would be in one process: the correct/answered counts per t, summed with ``all_reduce``,
equal the single-process counts exactly (same device and per-process thread count). The
per-layer statistics are summed in rank order: their count fields are exact, the squared-error
fields may differ from one process in the last bits (another summation order).

**Training** (:func:`bsnn_lib.train.train`): DistributedDataParallel and a DistributedSampler,
see that module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

if TYPE_CHECKING:
    from bsnn_lib.simulate import SimResult

__all__ = [
    "SHARD_MODES",
    "all_reduce_result",
    "barrier",
    "broadcast_object",
    "broadcast_state",
    "destroy",
    "init_from_env",
    "merge_results",
    "params_digest",
    "rank_device",
    "shard_batches",
    "shard_loader",
    "sum_over_ranks",
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


def rank_device(device: str | torch.device | None) -> torch.device:
    """``cuda:<LOCAL_RANK>`` when CUDA is asked for (or available and nothing is asked), else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def destroy() -> None:
    """Leave the process group (if one is initialized)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _comm_device(device: torch.device) -> torch.device:
    return device if dist.get_backend() == "nccl" else torch.device("cpu")


def sum_over_ranks(values: Sequence[float], device: torch.device) -> list[float]:
    """``values`` summed over the ranks (float64 all_reduce); unchanged in one process."""
    if world()[1] == 1:
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64, device=_comm_device(device))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(v) for v in t.cpu()]


def broadcast_state(model: nn.Module) -> None:
    """Every rank takes rank 0's parameters and buffers (e.g. BatchNorm running statistics)."""
    if world()[1] > 1:
        for t in model.state_dict().values():
            dist.broadcast(t, src=0)


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (a picklable value)."""
    if world()[1] == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def params_digest(model: nn.Module) -> str:
    """sha256 of a model's parameters and buffers (to check that ranks hold the same weights)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# sharding and merging
# ---------------------------------------------------------------------------------------------
def shard_batches(n_items: int, batch_size: int, rank: int, world_size: int, mode: str = "strided") -> list[list[int]]:
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
    return batches[start : start + per + (1 if rank < extra else 0)]


def shard_loader(dataset: Dataset, batch_size: int, rank: int, world_size: int, mode: str = "strided") -> DataLoader:
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


def _ordered(parts: Sequence[np.ndarray | None], orders: Sequence[Sequence[int]] | None) -> np.ndarray | None:
    """Per-image rows of the shards put back in image order (``orders``: each shard's image
    indices); in shard order when no order is given."""
    if any(p is None for p in parts):
        return None
    rows = np.concatenate(list(parts))
    if orders is None:
        return rows
    index = np.concatenate([np.asarray(o, dtype=np.int64) for o in orders])
    return rows[np.argsort(index, kind="stable")]


def merge_results(parts: Sequence[SimResult], orders: Sequence[Sequence[int]] | None = None) -> SimResult:
    """One :class:`SimResult` from the results of disjoint shards (in rank order).

    Counts (correct, answered, n, ANN / quantized-ANN correct) are summed exactly; layer sums are
    summed field by field; the wall time is the slowest shard's; per-image rows are put back in
    image order when ``orders`` (each shard's image indices) is given."""
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
        per_image=_ordered([p.per_image for p in parts], orders),
        ann_per_image=_ordered([p.ann_per_image for p in parts], orders),
        extra={
            **first.extra,
            "shards": len(parts),
            "shard_n": [p.n for p in parts],
            "shard_wall_time": [p.wall_time for p in parts],
        },
    )


def all_reduce_result(local: SimResult, device: torch.device, order: Sequence[int] | None = None) -> SimResult:
    """Sum the counts with all_reduce (exact int64), gather the layer sums (rank order) and the
    per-image rows (put back in image order by each rank's image indices ``order``)."""
    rank, world_size = world()
    if world_size == 1:
        return merge_results([local])
    qann = -1 if local.qann_correct is None else int(local.qann_correct)
    counts = torch.from_numpy(
        np.concatenate(
            [
                local.correct.astype(np.int64),
                local.answered.astype(np.int64),
                np.array([local.n, local.ann_correct, qann], dtype=np.int64),
            ]
        )
    )
    comm_device = device if dist.get_backend() == "nccl" else torch.device("cpu")
    counts = counts.to(comm_device)
    dist.all_reduce(counts, op=dist.ReduceOp.SUM)
    counts = counts.cpu().numpy()
    T = local.T
    gathered: list[Any] = [None] * world_size
    dist.all_gather_object(
        gathered,
        (
            local.layer_sums,
            local.wall_time,
            local.n,
            local.per_image,
            local.ann_per_image,
            list(order) if order is not None else None,
        ),
    )
    sums = _merge_layer_sums([g[0] for g in gathered])
    n, ann_correct, qann_sum = (int(v) for v in counts[2 * T :])
    return dataclasses.replace(
        local,
        n=n,
        correct=counts[:T].copy(),
        answered=counts[T : 2 * T].copy(),
        ann_correct=ann_correct,
        qann_correct=None if local.qann_correct is None else qann_sum,
        layer_sums=sums,
        wall_time=max(g[1] for g in gathered),
        per_image=_ordered([g[3] for g in gathered], None if order is None else [g[5] for g in gathered]),
        ann_per_image=_ordered([g[4] for g in gathered], None if order is None else [g[5] for g in gathered]),
        extra={
            **local.extra,
            "shards": world_size,
            "shard_n": [g[2] for g in gathered],
            "shard_wall_time": [g[1] for g in gathered],
        },
    )
