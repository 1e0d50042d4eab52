"""What a dataset is: its static facts (:class:`DatasetSpec`), the errors of loading one, and
the request a source receives.

A spec carries its own :class:`Source` (``spec.source.load(request)``), so the registry
(:mod:`bsnn_lib.data.registry`) is one table keyed by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = [
    "DataIntegrityError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "Request",
    "Source",
    "UnknownDatasetError",
    "UnknownSplitError",
]


class Source(Protocol):
    """Where a dataset's files come from and how they are read."""

    def load(self, request: Request) -> Dataset: ...


@dataclass(frozen=True)
class DatasetSpec:
    """Static facts about a dataset: shapes, normalization statistics and splits.

    Attributes:
        name: registry key (``"mnist"``).
        display_name: human-readable name (``"MNIST"``).
        num_classes, in_channels, image_size: model input/output geometry (square images).
        mean, std: per-channel normalization statistics on the [0, 1] scale.
        description: one paragraph, including caveats about the data (e.g. lossy test copies).
        train_size: number of images in the canonical train split.
        splits: valid ``split`` arguments of :func:`load_dataset` (every dataset also has
            ``"val"``: ``val_size`` fixed images held out of the train split, see
            :func:`validation_indices`).
        augmentation: ``"none"``, ``"shift"``, ``"crop-flip"`` or ``"imagenet"`` (module doc).
        split_labels: ``(split, label)`` pairs for reporting accuracies; see :meth:`split_label`.
        val_size: images of the fixed validation split (held out of train).
        source: how the files are found and read (:class:`Source`).
    """

    name: str
    display_name: str
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    description: str
    train_size: int
    splits: tuple[str, ...] = ("train", "test")
    augmentation: str = "none"
    split_labels: tuple[tuple[str, str], ...] = ()
    val_size: int = 5000
    source: Source | None = None

    def split_label(self, split: str) -> str:
        """Label to print next to an accuracy measured on ``split``."""
        return dict(self.split_labels).get(split, f"{self.display_name} {split}")


@dataclass(frozen=True)
class Request:
    """Arguments of one :func:`~bsnn_lib.data.load_dataset` call, passed to the spec's source."""

    spec: DatasetSpec
    split: str
    augment: bool
    root: Path | None
    allow_download: bool
    tensor_cache: bool


class UnknownDatasetError(ValueError):
    """A dataset name that is not in :data:`DATASETS`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown dataset {name!r}; valid names: {', '.join(sorted(_names()))}")


class UnknownSplitError(ValueError):
    """A split name that the dataset does not have."""

    def __init__(self, spec: DatasetSpec, split: str) -> None:
        super().__init__(
            f"dataset {spec.name!r} has no split {split!r}; valid splits: {', '.join((*spec.splits, 'val'))}"
        )


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are nowhere this module looks; the message lists where and how to fix."""

    def __init__(self, spec: DatasetSpec, looked: Sequence[str], how_to_get: str) -> None:
        places = "\n".join(f"  - {place}" for place in looked)
        super().__init__(
            f"{spec.display_name} ({spec.name!r}) not found. Looked in:\n{places}\nHow to get it: {how_to_get}"
        )


class DataIntegrityError(RuntimeError):
    """Dataset files exist but are wrong (checksum mismatch, wrong class count or image size)."""


def _names() -> list[str]:
    from bsnn_lib.data.registry import DATASETS

    return list(DATASETS)
