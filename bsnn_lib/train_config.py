"""What a training run is: :class:`TrainConfig` (hashable; its key names the checkpoint) and the
recommended configuration of every dataset/architecture pair (:func:`default_config`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bsnn_lib.checkpoints import config_key
from bsnn_lib.data import data_root, get_spec
from bsnn_lib.models import ARCHS, POOLS, UnknownArchError, UnknownPoolError
from bsnn_lib.qcfs import ACTIVATIONS

__all__ = ["DEFAULT_CONFIGS", "OPTIMIZERS", "SCHEDULES", "InvalidConfigError", "TrainConfig", "default_config"]

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "onecycle", "constant")
PRECISIONS = ("fp32", "bf16")


class InvalidConfigError(ValueError):
    """A :class:`TrainConfig` field has an invalid value."""


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
        precision: ``fp32``, or ``bf16`` autocast for the forward pass (AMX / tensor cores; weights,
            optimizer and BatchNorm statistics stay fp32; 1.2-1.5x faster on the 2-core CPU here).
        holdout: never train on the fixed validation split (``load_dataset(name, "val")``,
            :func:`bsnn_lib.data.validation_indices`), so method variants can be chosen on it.
        activation: ``relu``, or ``qcfs`` (:mod:`bsnn_lib.qcfs`: every ReLU trained as a
            quantization-clip-floor-shift activation with ``qcfs_levels`` levels and a learned
            threshold, the modern baseline of conversion).
        qcfs_levels: L of the QCFS activation (2^K - 1 matches a K-bit bistable cycle).
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
    precision: str = "fp32"
    activation: str = "relu"
    qcfs_levels: int = 15

    def __post_init__(self) -> None:
        self._normalize_types()
        self._validate()

    def _normalize_types(self) -> None:
        """Coerce numbers so that e.g. ``width=1`` and ``width=1.0`` give the same key."""
        for name in ("width", "lr", "momentum", "weight_decay", "label_smoothing"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("epochs", "batch_size", "seed", "qcfs_levels"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.train_subset is not None:
            object.__setattr__(self, "train_subset", int(self.train_subset))

    def _validate(self) -> None:
        get_spec(self.dataset)  # raises UnknownDatasetError
        if self.arch not in ARCHS:
            raise UnknownArchError(self.arch)
        if self.pool not in POOLS:
            raise UnknownPoolError(self.pool)
        _require(self.activation in ACTIVATIONS, f"activation {self.activation!r}: use one of {ACTIVATIONS}")
        _require(self.qcfs_levels >= 1, f"qcfs_levels must be >= 1, got {self.qcfs_levels}")
        _require(self.optimizer in OPTIMIZERS, f"optimizer {self.optimizer!r}: use one of {OPTIMIZERS}")
        _require(self.schedule in SCHEDULES, f"schedule {self.schedule!r}: use one of {SCHEDULES}")
        _require(self.width > 0, f"width must be > 0, got {self.width}")
        _require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _require(0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        _require(
            self.train_subset is None or self.train_subset >= 1,
            f"train_subset must be None or >= 1, got {self.train_subset}",
        )

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


_LATE_FIELDS: dict[str, Any] = {"holdout": False, "precision": "fp32", "activation": "relu", "qcfs_levels": 15}
"""TrainConfig fields keyed only when set (see :meth:`TrainConfig.key`)."""


def _require(condition: bool, message: str) -> None:
    """Raise :class:`InvalidConfigError` with ``message`` unless ``condition``."""
    if not condition:
        raise InvalidConfigError(message)


_ADAM_SHORT = {"optimizer": "adam", "lr": 1e-3, "epochs": 3, "batch_size": 128, "augment": False}


_SGD_CIFAR = {
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 5e-4,
    "schedule": "onecycle",
    "epochs": 50,
    "batch_size": 128,
    "augment": True,
}


_DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": _ADAM_SHORT,
    "fashion-mnist": _ADAM_SHORT,
    "digits": {"optimizer": "adam", "lr": 1e-2, "epochs": 20, "batch_size": 64, "augment": False},
    "cifar10": _SGD_CIFAR,
    "cifar100": _SGD_CIFAR,
    "imagenet": {
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 1e-4,
        "schedule": "cosine",
        "epochs": 90,
        "batch_size": 256,
        "augment": True,
    },
}


_PAIR_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    # measured on the 2-core CPU: 53 s/epoch (VGG16 w/4) and 90 s/epoch (ResNet20) with bf16
    ("cifar10", "vgg16"): {"width": 0.25, "epochs": 60, "holdout": True, "precision": "bf16"},
    ("cifar100", "vgg16"): {"width": 0.25, "epochs": 55},
    ("cifar10", "resnet20"): {"epochs": 40, "holdout": True, "precision": "bf16"},
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
        ("digits", "vgg-tiny"),
        ("digits", "resnet-tiny"),
        ("mnist", "vgg-small"),
        ("mnist", "resnet-small"),
        ("fashion-mnist", "vgg-small"),
        ("fashion-mnist", "resnet-small"),
        ("cifar10", "vgg16"),
        ("cifar10", "resnet20"),
    )
}
"""The configurations the workbook uses (all produced by :func:`default_config`)."""
