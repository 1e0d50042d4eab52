"""Train ANNs reproducibly, on one process or data-parallel, with resumable, verified checkpoints.

- :class:`~bsnn_lib.train_config.TrainConfig` is the full, hashable description of a training
  run (``train_config.py``); its :meth:`key` names the checkpoint ``<data root>/checkpoints/<dataset>-<arch>-<key>.pt``.
- :func:`train` always trains (resuming an interrupted run from ``<checkpoint>.partial``);
  :func:`load_or_train` returns the cached model when its checkpoint exists.
- A corrupt or stale final checkpoint is not fatal in :func:`load_or_train`: it is logged as a
  warning, moved aside to ``<checkpoint>.corrupt`` (kept for inspection) and the model is retrained.
  Direct :func:`~bsnn_lib.checkpoints.load_checkpoint` calls still raise ``CorruptCheckpointError``.
- The checkpoint format is defined once, by :func:`checkpoint_state`.

Reproducibility: everything is seeded from ``config.seed``; the train order comes from the
loader's own generator; RNG states (torch, CUDA, numpy, random, loader) are stored after every
epoch, so a resumed run continues exactly as an uninterrupted one would (bit-identical on CPU).

**Data-parallel training.** Launched under ``torchrun`` (a process group with more than one
rank, :func:`bsnn_lib.distributed.init_from_env`), :func:`train` wraps the model in
``DistributedDataParallel`` and feeds it through a ``DistributedSampler`` (shuffled by
``config.seed`` and the epoch); the global batch is ``config.batch_size`` (each rank takes
``ceil(batch_size / world)``). Rank 0 writes the partial and the final checkpoint. The weights
are *not* bit-identical to a single-process run (other batch partition, per-rank BatchNorm
statistics and augmentation randomness); the metadata records ``ddp_world_size``. An interrupted
run resumes at the epoch boundary with the same world size (sampler order exact, augmentation
randomness not restored).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from bsnn_lib import distributed as dist_utils
from bsnn_lib.checkpoints import (
    CorruptCheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from bsnn_lib.data import evenly_spaced, get_spec, load_dataset, make_loader, training_indices
from bsnn_lib.models import build_model
from bsnn_lib.progress import bar as progress_bar
from bsnn_lib.qcfs import to_qcfs
from bsnn_lib.train_config import (
    DEFAULT_CONFIGS,
    OPTIMIZERS,
    SCHEDULES,
    InvalidConfigError,
    TrainConfig,
    default_config,
)

__all__ = [
    "DEFAULT_CONFIGS",
    "OPTIMIZERS",
    "SCHEDULES",
    "EpochStats",
    "InvalidConfigError",
    "TrainConfig",
    "build_optimizer",
    "build_scheduler",
    "checkpoint_state",
    "default_config",
    "evaluate_ann",
    "fit",
    "load_or_train",
    "resolve_device",
    "seed_everything",
    "train",
    "training_set",
]

log = logging.getLogger(__name__)

EVAL_BATCH_SIZE = 256
CHECKPOINT_KIND = "bsnn-ann-v1"


# ------------------------------------------------------------------------------------- helpers


def model_of(config: TrainConfig) -> nn.Module:
    """The untrained model ``config`` describes: the zoo's ``arch`` for its dataset, width and
    pooling, with QCFS activations when ``config.activation == "qcfs"``."""
    model = build_model(config.arch, config.dataset, width=config.width, pool=config.pool)
    if config.activation == "qcfs":
        to_qcfs(model, config.qcfs_levels)
    return model


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` -> CUDA when available, else CPU; strings are parsed by ``torch.device``."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidConfigError("device 'cuda' requested but CUDA is not available; use 'cpu'")
    return resolved


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's legacy global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CPU (2.5-3x faster convs here), the default layout elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a batch to ``device``, in channels_last layout for image batches on the CPU."""
    if images.ndim == 4:
        return images.to(device, memory_format=memory_format(device))
    return images.to(device)


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum and Nesterov, as the config says."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=config.weight_decay
    )


def build_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-step learning-rate schedule over ``total_steps`` optimizer steps."""
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=total_steps,
            pct_start=0.15,
            anneal_strategy="cos",
            cycle_momentum=False,
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def evaluate_ann(model: nn.Module, loader: DataLoader, device: str | torch.device | None = None) -> float:
    """Top-1 accuracy of ``model`` over ``loader``, as a fraction in [0, 1] (model set to eval)."""
    device = resolve_device(device)
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for images, labels in loader:
            logits = model(to_device(images, device))
            correct += int((logits.argmax(1) == labels.to(device)).sum())
            total += labels.shape[0]
    if total == 0:
        raise ValueError("evaluate_ann got an empty loader")
    return correct / total


@dataclass(frozen=True)
class EpochStats:
    """What one training epoch measured (passed to ``on_epoch_end``)."""

    epoch: int  # 0-based index of the finished epoch
    loss: float
    accuracy: float  # training accuracy (augmented data, model in train mode)
    seconds: float


def _capture_rng(loader_generator: torch.Generator) -> dict[str, Any]:
    """All RNG states as tensors / plain values (loadable with ``weights_only=True``)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": numpy_state,
        "python": random.getstate(),
        "loader": loader_generator.get_state(),
    }


def _restore_rng(state: dict[str, Any], loader_generator: torch.Generator) -> None:
    """Inverse of :func:`_capture_rng`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = dict(numpy_state["state"], key=np.asarray(numpy_state["state"]["key"], dtype=np.uint32))
    np.random.set_state(numpy_state)
    random.setstate(_as_tuples(state["python"]))
    loader_generator.set_state(state["loader"])


def _as_tuples(value: Any) -> Any:
    """Lists -> tuples, recursively (``random.setstate`` wants tuples)."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _num_workers() -> int:
    """DataLoader workers for training: ``BSNN_NUM_WORKERS`` (default 0, the main process)."""
    return int(os.environ.get("BSNN_NUM_WORKERS", "0"))


def _partial_path(config: TrainConfig) -> Path:
    """Resume checkpoint of an unfinished run: ``<checkpoint>.partial``."""
    return Path(f"{config.checkpoint_path()}.partial")


def train_epoch(
    net: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    scheduler,
    criterion: nn.Module,
    device: torch.device,
    desc: str = "epoch",
    progress: bool = True,
    precision: str = "fp32",
) -> list[float]:
    """One pass over ``loader``: forward, loss, backward, optimizer and schedule step per batch.
    Returns ``[loss * images, correct, images]`` summed over the epoch (this process only)."""
    net.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    bar = progress_bar(loader, desc=desc, unit="batch", disable=not progress, leave=True)
    for step, (images, labels) in enumerate(bar):
        images = to_device(images, device)
        labels = labels.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = net(images)
        logits = logits.float()
        loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach() * labels.shape[0]
        correct += (logits.detach().argmax(1) == labels).sum()
        seen += labels.shape[0]
        if progress and (step % 20 == 0 or step == len(loader) - 1):
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}")
    return [loss_sum.item(), correct.item(), seen]


@dataclass(frozen=True)
class FitConfig:
    """The optimization settings of :func:`fit` (the fields :func:`build_optimizer` and
    :func:`build_scheduler` read, as in :class:`TrainConfig`)."""

    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS or self.schedule not in SCHEDULES:
            raise InvalidConfigError(
                f"optimizer in {OPTIMIZERS}, schedule in {SCHEDULES}; got {self.optimizer!r}, {self.schedule!r}"
            )
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise InvalidConfigError("epochs and batch_size must be >= 1 and lr > 0")


def fit(
    model: nn.Module, data, *, device: str | torch.device | None = None, progress: bool = True, **settings: Any
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train any ``nn.Module`` classifier with the trainer of the zoo (same optimizers, schedules
    and epoch loop; no checkpoint cache: save it yourself).

    Args:
        model: the network (logits out).
        data: a Dataset of ``(image, label)`` or a DataLoader (then ``batch_size`` is its own).
        settings: fields of :class:`FitConfig` (epochs, lr, optimizer, schedule, ...).

    Returns:
        ``(model in eval mode, per-epoch history)``.
    """
    config = FitConfig(**settings)
    device = resolve_device(device)
    seed_everything(config.seed)
    loader = (
        data if isinstance(data, DataLoader) else make_loader(data, config.batch_size, shuffle=True, seed=config.seed)
    )
    model = model.to(device, memory_format=memory_format(device))
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer, config.epochs * len(loader))
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    history = []
    for epoch in range(config.epochs):
        start = time.perf_counter()
        loss, correct, seen = train_epoch(
            model,
            loader,
            optimizer,
            scheduler,
            criterion,
            device,
            desc=f"fit {type(model).__name__} epoch {epoch + 1}/{config.epochs}",
            progress=progress,
        )
        history.append(
            {"epoch": epoch, "loss": loss / seen, "accuracy": correct / seen, "seconds": time.perf_counter() - start}
        )
    return model.to(memory_format=torch.contiguous_format).eval(), history


def checkpoint_state(
    config: TrainConfig, model: nn.Module, metadata: dict[str, Any], resume: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one checkpoint format: kind, config, weights, metadata and (optionally) the state
    needed to resume training (epochs done, optimizer, scheduler, RNG, history, world size)."""
    state: dict[str, Any] = {
        "kind": CHECKPOINT_KIND,
        "config": config.to_dict(),
        "model_state": model.state_dict(),
        "metadata": metadata,
    }
    if resume is not None:
        state["resume"] = resume
    return state


def training_set(config: TrainConfig) -> Dataset:
    """The images ``config`` trains on: the train split (augmented), without the validation
    split when ``holdout``, then ``train_subset`` evenly spaced items of that."""
    spec = get_spec(config.dataset)
    full = load_dataset(spec.name, "train", augment=config.augment)
    if config.holdout:
        full = Subset(full, training_indices(spec.name, len(full), holdout=True))
    return evenly_spaced(full, config.train_subset)


# ------------------------------------------------------------------------------------ training


class _TrainingRun:
    """Model, optimizer, schedule and data of one :func:`train` call (on this rank)."""

    def __init__(self, config: TrainConfig, device: torch.device, progress: bool, parallel: bool) -> None:
        seed_everything(config.seed)
        self.config = config
        self.device = device
        self.rank, self.world_size = dist_utils.world() if parallel else (0, 1)
        self.progress = progress and self.rank == 0
        train_set = training_set(config)
        if self.world_size > 1:
            self.sampler: DistributedSampler | None = DistributedSampler(
                train_set, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=config.seed
            )
            per_rank = max(1, math.ceil(config.batch_size / self.world_size))
            self.train_loader = DataLoader(
                train_set, batch_size=per_rank, sampler=self.sampler, num_workers=_num_workers()
            )
            self.train_loader.generator = torch.Generator()  # unused; keeps the RNG capture uniform
        else:
            self.sampler = None
            self.train_loader = make_loader(
                train_set, config.batch_size, shuffle=True, seed=config.seed, num_workers=_num_workers()
            )
        self.model = model_of(config).to(device, memory_format=memory_format(device))
        self.net: nn.Module = self.model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
            torch.manual_seed(config.seed + 1000 * self.rank)  # per-rank augmentation randomness
        self.optimizer = build_optimizer(config, self.net.parameters())
        self.scheduler = build_scheduler(config, self.optimizer, config.epochs * len(self.train_loader))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.next_epoch = 0
        self.history: list[dict[str, float]] = []

    def run_epoch(self) -> EpochStats:
        """Train one epoch (tqdm bar with loss/acc postfix) and advance ``next_epoch``."""
        if self.sampler is not None:
            self.sampler.set_epoch(self.next_epoch)
        start = time.perf_counter()
        sums = train_epoch(
            self.net,
            self.train_loader,
            self.optimizer,
            self.scheduler,
            self.criterion,
            self.device,
            desc=self._bar_label(),
            progress=self.progress,
            precision=self.config.precision,
        )
        loss_total, correct_total, seen = dist_utils.sum_over_ranks(sums, self.device)
        stats = EpochStats(self.next_epoch, loss_total / seen, correct_total / seen, time.perf_counter() - start)
        self.history.append(dataclasses.asdict(stats))
        self.next_epoch += 1
        return stats

    def _bar_label(self) -> str:
        config = self.config
        ddp = f"ddp x{self.world_size} " if self.world_size > 1 else ""
        return f"{ddp}{config.dataset}/{config.arch} epoch {self.next_epoch + 1}/{config.epochs}"

    def state(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """Checkpoint contents: model, config, metadata and everything needed to resume."""
        return checkpoint_state(
            self.config,
            self.model,
            metadata,
            resume={
                "epochs_done": self.next_epoch,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": _capture_rng(self.train_loader.generator),
                "history": self.history,
                "world_size": self.world_size,
            },
        )

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state` dict (after the model was built and seeded)."""
        resume = state["resume"]
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(resume["optimizer"])
        self.scheduler.load_state_dict(resume["scheduler"])
        if self.world_size == 1:
            _restore_rng(resume["rng"], self.train_loader.generator)
        self.history = list(resume["history"])
        self.next_epoch = int(resume["epochs_done"])

    def metadata(self, **extra: Any) -> dict[str, Any]:
        """Training metadata so far (plus ``extra`` entries)."""
        epoch_seconds = [entry["seconds"] for entry in self.history]
        meta = {
            "epochs_done": self.next_epoch,
            "train_seconds": sum(epoch_seconds),
            "seconds_per_epoch": sum(epoch_seconds) / max(1, len(epoch_seconds)),
            "train_loss": self.history[-1]["loss"] if self.history else None,
            "train_accuracy": self.history[-1]["accuracy"] if self.history else None,
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "device": str(self.device),
            "torch_version": str(torch.__version__),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config_key": self.config.key(),
        }
        if self.world_size > 1:
            meta["ddp_world_size"] = self.world_size
        meta.update(extra)
        return meta


def _same_config(stored: Any, config: TrainConfig) -> bool:
    """Is a checkpoint's stored config dict this config? Fields added later (absent from older
    files) take their defaults, as in :meth:`TrainConfig.key`."""
    try:
        return isinstance(stored, dict) and TrainConfig.from_dict(stored) == config
    except (InvalidConfigError, TypeError, ValueError):
        return False


def _try_resume(run: _TrainingRun, partial: Path) -> None:
    """Restore ``run`` from ``partial`` if it is intact and for the same config and world size."""
    try:
        state = load_checkpoint(partial)
    except CorruptCheckpointError as exc:
        log.warning("ignoring unusable resume file %s (%s); starting from epoch 1", partial, exc.reason)
        return
    if state.get("kind") != CHECKPOINT_KIND or not _same_config(state.get("config"), run.config):
        log.warning("ignoring resume file %s: it belongs to a different config", partial)
        return
    if state["resume"].get("world_size", 1) != run.world_size:
        log.warning(
            "ignoring resume file %s: it was written by %s process(es), this run has %s",
            partial,
            state["resume"].get("world_size", 1),
            run.world_size,
        )
        return
    run.restore(state)
    log.info("resuming %s after epoch %d", partial, run.next_epoch)


def train(
    config: TrainConfig,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
    on_epoch_end: Callable[[EpochStats], None] | None = None,
    parallel: bool | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``config`` from scratch (or resume its ``.partial``), save and return it.

    After every epoch the full training state is saved atomically to ``<checkpoint>.partial``
    (by rank 0) and then ``on_epoch_end(stats)`` is called. At the end the test accuracy is
    measured, the final checkpoint is written to ``config.checkpoint_path()`` and the partial file
    removed. With ``parallel`` (default: whenever a process group of several ranks exists, i.e.
    under ``torchrun``) every rank trains its shard (see the module docstring) and every rank
    returns the same model and metadata; ``parallel=False`` trains on this process alone.

    Returns:
        ``(model, metadata)``: the model in eval mode on ``device`` (default memory layout);
        metadata includes ``test_accuracy`` (fraction), ``train_seconds``, ``seconds_per_epoch``,
        ``epochs_done``, ``checkpoint_path`` and ``loaded_from_cache=False``.
    """
    if parallel is None:
        parallel = dist_utils.world()[1] > 1
    device = dist_utils.rank_device(device) if parallel else resolve_device(device)
    run = _TrainingRun(config, device, progress, parallel)
    partial = _partial_path(config)
    sync = dist_utils.barrier if parallel else (lambda: None)
    if resume and partial.is_file():
        _try_resume(run, partial)
    sync()
    try:
        _run_epochs(run, partial, sync, on_epoch_end)
    except KeyboardInterrupt:
        done = run.next_epoch
        raise TrainingInterrupted(
            f"training of {config.dataset}/{config.arch} interrupted in epoch {done + 1}/{config.epochs}; "
            + (
                f"{done} finished epoch(s) are saved in {partial}: the next call resumes from there"
                if done
                else "no epoch had finished, so nothing was saved: the next call starts from epoch 1"
            )
        ) from None
    return _finish(run, config, device, parallel, partial)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says what was saved and where the next call resumes."""


def _run_epochs(run: _TrainingRun, partial: Path, sync, on_epoch_end) -> None:
    config = run.config
    while run.next_epoch < config.epochs:
        stats = run.run_epoch()
        log.info(
            "epoch %d/%d: loss %.4f, train acc %.4f, %.1f s",
            stats.epoch + 1,
            config.epochs,
            stats.loss,
            stats.accuracy,
            stats.seconds,
        )
        if run.rank == 0:
            save_checkpoint(partial, run.state(run.metadata()))
        sync()
        if on_epoch_end is not None:
            on_epoch_end(stats)


def _finish(
    run: _TrainingRun, config: TrainConfig, device: torch.device, parallel: bool, partial: Path
) -> tuple[nn.Module, dict[str, Any]]:
    if parallel:  # BatchNorm running statistics were updated by each rank's own batches: take rank 0's
        dist_utils.broadcast_state(run.model)
    path = config.checkpoint_path()
    metadata: dict[str, Any] = {}
    if run.rank == 0:
        metadata = run.metadata(**_test_metrics(run.model, config, device))
        save_checkpoint(path, run.state(metadata))
        partial.unlink(missing_ok=True)
    if parallel:
        metadata = dist_utils.broadcast_object(metadata)
    model = run.model.to(memory_format=torch.contiguous_format).eval()
    return model, dict(metadata, checkpoint_path=str(path), loaded_from_cache=False)


def _test_metrics(model: nn.Module, config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """Test accuracy of ``model`` on ``config.dataset``'s test split, with its report label;
    also on every other evaluation split the dataset has (CIFAR-10: the lossless 1k), and on
    the validation split when the model was trained with ``holdout``."""
    spec = get_spec(config.dataset)
    loader = make_loader(load_dataset(spec.name, "test"), EVAL_BATCH_SIZE)
    start = time.perf_counter()
    accuracy = evaluate_ann(model, loader, device)
    out = {
        "test_accuracy": accuracy,
        "test_split": "test",
        "test_label": spec.split_label("test"),
        "eval_seconds": time.perf_counter() - start,
    }
    extra = [s for s in spec.splits if s not in ("train", "test")] + (["val"] if config.holdout else [])
    for split in extra:
        split_loader = make_loader(load_dataset(spec.name, split), EVAL_BATCH_SIZE)
        out[f"accuracy_{split}"] = evaluate_ann(model, split_loader, device)
    return out


# ------------------------------------------------------------------------------------- caching


def load_or_train(
    config: TrainConfig, *, device: str | torch.device | None = None, progress: bool = True
) -> tuple[nn.Module, dict[str, Any]]:
    """Return the model for ``config``: from its checkpoint, else from the weights shipped in
    ``data/pretrained`` (sha256-verified), else by training it.

    A checkpoint that is corrupt, for another config, or does not fit the current model code is
    logged as a warning, moved aside to ``<checkpoint>.corrupt`` and the model is retrained.
    Concurrent calls for one config (two processes) train it once: the first takes a lock file
    beside the checkpoint, the others wait for it and load the result.

    Returns:
        ``(model in eval mode on device, metadata)``; ``metadata["loaded_from_cache"]`` tells
        whether training was skipped, ``metadata["source"]`` where the weights came from
        (``checkpoint``, ``pretrained`` or ``trained``).
    """
    from bsnn_lib import pretrained
    from bsnn_lib.locks import file_lock

    device = resolve_device(device)
    path = config.checkpoint_path()
    loaded = _load_cached(config, path, device)
    if loaded is not None:
        return loaded
    shipped = pretrained.find(path.name)
    if shipped is not None:
        pretrained.verify(shipped)  # a damaged shipped file is an error, never silently retrained
        model, metadata = _load_trained(config, shipped)
        return model.to(device).eval(), dict(
            metadata, checkpoint_path=str(shipped), loaded_from_cache=True, source="pretrained"
        )
    with file_lock(Path(f"{path}.lock"), what=f"training {config.dataset}/{config.arch}"):
        loaded = _load_cached(config, path, device)  # another process may have trained it meanwhile
        if loaded is not None:
            return loaded
        model, metadata = train(config, device=device, progress=progress, parallel=False)
    return model, dict(metadata, source="trained")


def _load_cached(config: TrainConfig, path: Path, device: torch.device) -> tuple[nn.Module, dict[str, Any]] | None:
    """The checkpoint at ``path`` if it is there and usable (a broken one is moved aside)."""
    if not path.is_file():
        return None
    try:
        model, metadata = _load_trained(config, path)
    except CorruptCheckpointError as exc:
        aside = Path(f"{path}.corrupt")
        os.replace(path, aside)
        log.warning("checkpoint %s is unusable (%s): moved it to %s; retraining.", path, exc.reason, aside)
        return None
    return model.to(device).eval(), dict(
        metadata, checkpoint_path=str(path), loaded_from_cache=True, source="checkpoint"
    )


def _load_trained(config: TrainConfig, path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Model and metadata from a final checkpoint, checked against ``config``."""
    state = load_checkpoint(path)
    if state.get("kind") != CHECKPOINT_KIND or not _same_config(state.get("config"), config):
        raise CorruptCheckpointError(path, "it holds a different config than its name says")
    model = model_of(config)
    try:
        model.load_state_dict(state["model_state"])
    except RuntimeError as exc:
        reason = f"weights do not fit the current model code ({exc})"
        raise CorruptCheckpointError(path, reason) from exc
    return model, dict(state["metadata"])
