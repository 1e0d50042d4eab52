"""Train the ANNs of the zoo, reproducibly, with resumable and verified checkpoints.

- :class:`TrainConfig` is the full, hashable description of a training run; its :meth:`key`
  names the checkpoint ``<data root>/checkpoints/<dataset>-<arch>-<key>.pt``.
- :func:`train` always trains (resuming an interrupted run from ``<checkpoint>.partial``);
  :func:`load_or_train` returns the cached model when its checkpoint exists.
- A corrupt or stale final checkpoint is not fatal in :func:`load_or_train`: it is logged as a
  warning, moved aside to ``<checkpoint>.corrupt`` (kept for inspection) and the model is retrained.
  Direct :func:`~bsnn_lib.checkpoints.load_checkpoint` calls still raise ``CorruptCheckpointError``.

Reproducibility: everything is seeded from ``config.seed``; the train order comes from the
loader's own generator; RNG states (torch, CUDA, numpy, random, loader) are stored after every
epoch, so a resumed run continues exactly as an uninterrupted one would (bit-identical on CPU).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
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
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from bsnn_lib.checkpoints import (
    CorruptCheckpointError,
    config_key,
    load_checkpoint,
    save_checkpoint,
)
from torch.utils.data import Subset

from bsnn_lib.data import data_root, get_spec, load_dataset, make_loader, test_subset, training_indices
from bsnn_lib.models import ARCHS, POOLS, UnknownArchError, UnknownPoolError, build_model

__all__ = [
    "DEFAULT_CONFIGS",
    "EpochStats",
    "InvalidConfigError",
    "TrainConfig",
    "default_config",
    "evaluate_ann",
    "load_or_train",
    "resolve_device",
    "seed_everything",
    "train",
]

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "onecycle", "constant")
EVAL_BATCH_SIZE = 256
CHECKPOINT_KIND = "bsnn-ann-v1"


class InvalidConfigError(ValueError):
    """A :class:`TrainConfig` field has an invalid value."""


# --------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model (and hence its checkpoint key).

    Attributes:
        dataset, arch, width, pool: what to build (see :func:`bsnn_lib.models.build_model`).
        epochs, batch_size: training length.
        optimizer: ``"adam"`` or ``"sgd"`` (SGD uses ``momentum`` and ``nesterov``).
        lr: peak learning rate; weight_decay: L2 penalty (coupled, as in torch's SGD/Adam).
        schedule: per-step LR schedule: ``"cosine"`` (cosine decay from ``lr`` to 0),
            ``"onecycle"`` (OneCycleLR: 15% warm-up to ``lr``, then cosine to ~0) or ``"constant"``.
        seed: seeds weights init, data order and augmentation.
        augment: training augmentation (see :mod:`bsnn_lib.data`).
        train_subset: train on N evenly spaced training images only (tests); None = all.
        label_smoothing: cross-entropy label smoothing.
        holdout: never train on the fixed validation split (``load_dataset(name, "val")``,
            :func:`bsnn_lib.data.validation_indices`), so method variants can be chosen on it.
    """

    dataset: str
    arch: str
    width: float = 1.0
    pool: str = "avg"
    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    augment: bool = True
    train_subset: int | None = None
    label_smoothing: float = 0.0
    holdout: bool = False

    def __post_init__(self) -> None:
        self._normalize_types()
        self._validate()

    def _normalize_types(self) -> None:
        """Coerce numbers so that e.g. ``width=1`` and ``width=1.0`` give the same key."""
        for name in ("width", "lr", "momentum", "weight_decay", "label_smoothing"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("epochs", "batch_size", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.train_subset is not None:
            object.__setattr__(self, "train_subset", int(self.train_subset))

    def _validate(self) -> None:
        get_spec(self.dataset)  # raises UnknownDatasetError
        if self.arch not in ARCHS:
            raise UnknownArchError(self.arch)
        if self.pool not in POOLS:
            raise UnknownPoolError(self.pool)
        _require(self.optimizer in OPTIMIZERS,
                 f"optimizer {self.optimizer!r}: use one of {OPTIMIZERS}")
        _require(self.schedule in SCHEDULES, f"schedule {self.schedule!r}: use one of {SCHEDULES}")
        _require(self.width > 0, f"width must be > 0, got {self.width}")
        _require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _require(0 <= self.label_smoothing < 1,
                 f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        _require(self.train_subset is None or self.train_subset >= 1,
                 f"train_subset must be None or >= 1, got {self.train_subset}")

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serializable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InvalidConfigError`."""
        unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
        _require(not unknown, f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**values)

    def key(self) -> str:
        """Stable 16-hex-digit hash of :meth:`to_dict`.

        Fields added after the first release (:data:`_LATE_FIELDS`) enter the hash only when
        they differ from their default, so the keys of earlier configs (and their checkpoint
        names) do not change."""
        d = self.to_dict()
        for name, default in _LATE_FIELDS.items():
            if d.get(name) == default:
                d.pop(name)
        return config_key(d)

    def checkpoint_path(self) -> Path:
        """``<data root>/checkpoints/<dataset>-<arch>-<key>.pt`` (data root read at call time)."""
        return data_root() / "checkpoints" / f"{self.dataset}-{self.arch}-{self.key()}.pt"


_LATE_FIELDS: dict[str, Any] = {"holdout": False}
"""TrainConfig fields keyed only when set (see :meth:`TrainConfig.key`)."""


def _require(condition: bool, message: str) -> None:
    """Raise :class:`InvalidConfigError` with ``message`` unless ``condition``."""
    if not condition:
        raise InvalidConfigError(message)


_ADAM_SHORT = {"optimizer": "adam", "lr": 1e-3, "epochs": 3, "batch_size": 128, "augment": False}
_SGD_CIFAR = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True,
              "weight_decay": 5e-4, "schedule": "onecycle", "epochs": 50, "batch_size": 128,
              "augment": True}
_DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": _ADAM_SHORT,
    "fashion-mnist": _ADAM_SHORT,
    "digits": {"optimizer": "adam", "lr": 1e-2, "epochs": 20, "batch_size": 64, "augment": False},
    "cifar10": _SGD_CIFAR,
    "cifar100": _SGD_CIFAR,
    "imagenet": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True,
                 "weight_decay": 1e-4, "schedule": "cosine", "epochs": 90, "batch_size": 256,
                 "augment": True},
}
_PAIR_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("cifar10", "vgg16"): {"width": 0.25, "epochs": 20},
    ("cifar100", "vgg16"): {"width": 0.25, "epochs": 55},
    ("cifar10", "resnet20"): {"epochs": 10},
    ("cifar100", "resnet20"): {"epochs": 40},
}


def default_config(dataset: str, arch: str) -> TrainConfig:
    """The recommended :class:`TrainConfig` for ``arch`` on ``dataset``.

    MNIST-like: Adam 1e-3, 3 epochs, cosine. digits: Adam 1e-2, 20 epochs (seconds).
    CIFAR: SGD Nesterov 0.1, wd 5e-4, one-cycle, 40-55 epochs (vgg16 at width 0.25).
    ImageNet: SGD 0.1, wd 1e-4, cosine, 90 epochs.
    """
    spec = get_spec(dataset)
    settings = {**_DATASET_DEFAULTS[spec.name], **_PAIR_OVERRIDES.get((spec.name, arch), {})}
    return TrainConfig(dataset=spec.name, arch=arch, **settings)


DEFAULT_CONFIGS: dict[tuple[str, str], TrainConfig] = {
    (dataset, arch): default_config(dataset, arch)
    for dataset, arch in (
        ("digits", "vgg-tiny"), ("digits", "resnet-tiny"),
        ("mnist", "vgg-small"), ("mnist", "resnet-small"),
        ("fashion-mnist", "vgg-small"), ("fashion-mnist", "resnet-small"),
        ("cifar10", "vgg16"), ("cifar10", "resnet20"),
    )
}
"""The configurations the workbook uses (all produced by :func:`default_config`)."""


# ------------------------------------------------------------------------------------- helpers


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


def _memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CPU (2.5-3x faster convs here), the default layout elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def _to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a batch to ``device``, in channels_last layout for image batches on the CPU."""
    if images.ndim == 4:
        return images.to(device, memory_format=_memory_format(device))
    return images.to(device)


def evaluate_ann(model: nn.Module, loader: DataLoader,
                 device: str | torch.device | None = None) -> float:
    """Top-1 accuracy of ``model`` over ``loader``, as a fraction in [0, 1] (model set to eval)."""
    device = resolve_device(device)
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for images, labels in loader:
            logits = model(_to_device(images, device))
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
    numpy_state["state"] = dict(numpy_state["state"],
                                key=np.asarray(numpy_state["state"]["key"], dtype=np.uint32))
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


# ------------------------------------------------------------------------------------ training


class _TrainingRun:
    """Model, optimizer, schedule and data of one :func:`train` call."""

    def __init__(self, config: TrainConfig, device: torch.device, progress: bool) -> None:
        seed_everything(config.seed)
        self.config = config
        self.device = device
        self.progress = progress
        spec = get_spec(config.dataset)
        train_set = training_set(config)
        self.train_loader = make_loader(train_set, config.batch_size, shuffle=True,
                                        seed=config.seed, num_workers=_num_workers())
        self.model = build_model(config.arch, spec, width=config.width, pool=config.pool).to(
            device, memory_format=_memory_format(device))
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler(len(self.train_loader))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.next_epoch = 0
        self.history: list[dict[str, float]] = []

    def _make_optimizer(self) -> torch.optim.Optimizer:
        config, params = self.config, self.model.parameters()
        if config.optimizer == "adam":
            return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov, weight_decay=config.weight_decay)

    def _make_scheduler(self, steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
        total_steps = self.config.epochs * steps_per_epoch
        if self.config.schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=self.config.lr, total_steps=total_steps, pct_start=0.15,
                anneal_strategy="cos", cycle_momentum=False)
        if self.config.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=total_steps)
        return torch.optim.lr_scheduler.ConstantLR(self.optimizer, factor=1.0, total_iters=0)

    def run_epoch(self) -> EpochStats:
        """Train one epoch (tqdm bar with loss/acc postfix) and advance ``next_epoch``."""
        self.model.train()
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = 0
        bar = tqdm(self.train_loader, desc=self._bar_label(), unit="batch",
                   disable=not self.progress, leave=True)
        for step, (images, labels) in enumerate(bar):
            images = _to_device(images, self.device)
            labels = labels.to(self.device)
            logits = self.model(images)
            loss = self.criterion(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            loss_sum += loss.detach() * labels.shape[0]
            correct += (logits.detach().argmax(1) == labels).sum()
            seen += labels.shape[0]
            if self.progress and (step % 20 == 0 or step == len(self.train_loader) - 1):
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}",
                                acc=f"{correct.item() / seen:.4f}")
        stats = EpochStats(self.next_epoch, loss_sum.item() / seen, correct.item() / seen,
                           time.perf_counter() - start)
        self.history.append(dataclasses.asdict(stats))
        self.next_epoch += 1
        return stats

    def _bar_label(self) -> str:
        config = self.config
        return f"{config.dataset}/{config.arch} epoch {self.next_epoch + 1}/{config.epochs}"

    def state(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """Checkpoint contents: model, config, metadata and everything needed to resume."""
        return {
            "kind": CHECKPOINT_KIND,
            "config": self.config.to_dict(),
            "model_state": self.model.state_dict(),
            "metadata": metadata,
            "resume": {
                "epochs_done": self.next_epoch,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": _capture_rng(self.train_loader.generator),
                "history": self.history,
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state` dict (after the model was built and seeded)."""
        resume = state["resume"]
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(resume["optimizer"])
        self.scheduler.load_state_dict(resume["scheduler"])
        _restore_rng(resume["rng"], self.train_loader.generator)
        self.history = list(resume["history"])
        self.next_epoch = int(resume["epochs_done"])

    def metadata(self, **extra: Any) -> dict[str, Any]:
        """Training metadata so far (plus ``extra`` entries)."""
        epoch_seconds = [entry["seconds"] for entry in self.history]
        return {
            "epochs_done": self.next_epoch,
            "train_seconds": sum(epoch_seconds),
            "seconds_per_epoch": sum(epoch_seconds) / max(1, len(epoch_seconds)),
            "train_loss": self.history[-1]["loss"] if self.history else None,
            "train_accuracy": self.history[-1]["accuracy"] if self.history else None,
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "device": str(self.device),
            "torch_version": str(torch.__version__),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config_key": self.config.key(),
            **extra,
        }


def _try_resume(run: _TrainingRun, partial: Path) -> None:
    """Restore ``run`` from ``partial`` if it is intact and for the same config."""
    try:
        state = load_checkpoint(partial)
    except CorruptCheckpointError as exc:
        log.warning("ignoring unusable resume file, starting from epoch 1: %s", exc)
        return
    if state.get("kind") != CHECKPOINT_KIND or state.get("config") != run.config.to_dict():
        log.warning("ignoring resume file %s: it belongs to a different config", partial)
        return
    run.restore(state)
    log.info("resuming %s after epoch %d", partial, run.next_epoch)


def train(config: TrainConfig, *, device: str | torch.device | None = None, progress: bool = True,
          resume: bool = True,
          on_epoch_end: Callable[[EpochStats], None] | None = None,
          ) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``config`` from scratch (or resume its ``.partial``), save and return it.

    After every epoch the full training state is saved atomically to ``<checkpoint>.partial`` and
    then ``on_epoch_end(stats)`` is called. At the end the test accuracy is measured, the final
    checkpoint is written to ``config.checkpoint_path()`` and the partial file removed.

    Returns:
        ``(model, metadata)``: the model in eval mode on ``device`` (default memory layout);
        metadata includes ``test_accuracy`` (fraction), ``train_seconds``, ``seconds_per_epoch``,
        ``epochs_done``, ``checkpoint_path`` and ``loaded_from_cache=False``.
    """
    device = resolve_device(device)
    run = _TrainingRun(config, device, progress)
    partial = _partial_path(config)
    if resume and partial.is_file():
        _try_resume(run, partial)
    while run.next_epoch < config.epochs:
        stats = run.run_epoch()
        log.info("epoch %d/%d: loss %.4f, train acc %.4f, %.1f s", stats.epoch + 1,
                 config.epochs, stats.loss, stats.accuracy, stats.seconds)
        save_checkpoint(partial, run.state(run.metadata()))
        if on_epoch_end is not None:
            on_epoch_end(stats)
    metadata = run.metadata(**_test_metrics(run.model, config, device))
    path = config.checkpoint_path()
    save_checkpoint(path, run.state(metadata))
    partial.unlink(missing_ok=True)
    model = run.model.to(memory_format=torch.contiguous_format).eval()
    return model, dict(metadata, checkpoint_path=str(path), loaded_from_cache=False)


def training_set(config: TrainConfig):
    """The images ``config`` trains on: the train split (augmented), without the validation
    split when ``holdout``, then ``train_subset`` evenly spaced items of that."""
    spec = get_spec(config.dataset)
    full = load_dataset(spec.name, "train", augment=config.augment)
    if config.holdout:
        full = Subset(full, training_indices(spec.name, len(full), holdout=True))
    return test_subset(full, config.train_subset)


def _test_metrics(model: nn.Module, config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """Test accuracy of ``model`` on ``config.dataset``'s test split, with its report label;
    also on every other evaluation split the dataset has (CIFAR-10: the lossless 1k), and on
    the validation split when the model was trained with ``holdout``."""
    spec = get_spec(config.dataset)
    loader = make_loader(load_dataset(spec.name, "test"), EVAL_BATCH_SIZE)
    start = time.perf_counter()
    accuracy = evaluate_ann(model, loader, device)
    out = {"test_accuracy": accuracy, "test_split": "test", "test_label": spec.split_label("test"),
           "eval_seconds": time.perf_counter() - start}
    extra = [s for s in spec.splits if s not in ("train", "test")] + (["val"] if config.holdout else [])
    for split in extra:
        split_loader = make_loader(load_dataset(spec.name, split), EVAL_BATCH_SIZE)
        out[f"accuracy_{split}"] = evaluate_ann(model, split_loader, device)
    return out


# ------------------------------------------------------------------------------------- caching


def load_or_train(config: TrainConfig, *, device: str | torch.device | None = None,
                  progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Return the model for ``config``: from its checkpoint if present, else by training it.

    A checkpoint that is corrupt, for another config, or does not fit the current model code is
    logged as a warning, moved aside to ``<checkpoint>.corrupt`` and the model is retrained.

    Returns:
        ``(model in eval mode on device, metadata)``; ``metadata["loaded_from_cache"]`` tells
        whether training was skipped.
    """
    device = resolve_device(device)
    path = config.checkpoint_path()
    if path.is_file():
        try:
            model, metadata = _load_trained(config, path)
            return model.to(device).eval(), dict(metadata, checkpoint_path=str(path),
                                                 loaded_from_cache=True)
        except CorruptCheckpointError as exc:
            aside = Path(f"{path}.corrupt")
            os.replace(path, aside)
            log.warning("%s Moved it to %s; retraining.", exc, aside)
    return train(config, device=device, progress=progress)


def _load_trained(config: TrainConfig, path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Model and metadata from a final checkpoint, checked against ``config``."""
    state = load_checkpoint(path)
    if state.get("kind") != CHECKPOINT_KIND or state.get("config") != config.to_dict():
        raise CorruptCheckpointError(path, "it holds a different config than its name says")
    model = build_model(config.arch, config.dataset, width=config.width, pool=config.pool)
    try:
        model.load_state_dict(state["model_state"])
    except RuntimeError as exc:
        reason = f"weights do not fit the current model code ({exc})"
        raise CorruptCheckpointError(path, reason) from exc
    return model, dict(state["metadata"])
