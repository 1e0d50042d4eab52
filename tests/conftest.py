"""Shared fixtures: isolated data roots, generated ImageFolder trees, a tiny training config.

Nothing here is autouse: a test opts in with ``bsnn_env`` (session-wide temporary data root,
so MNIST is unpacked once) or ``fresh_data_root`` (an empty root of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bsnn_lib.train import TrainConfig

DATASET_ENV_VARS = (
    "BSNN_ALLOW_DOWNLOAD",
    "BSNN_MNIST_DIR",
    "BSNN_FASHION_MNIST_DIR",
    "BSNN_CIFAR10_DIR",
    "BSNN_CIFAR100_DIR",
    "BSNN_IMAGENET_DIR",
)

ImageTreeFactory = Callable[..., Path]


def _isolate(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """Point ``BSNN_DATA_ROOT`` at ``root`` and clear the dataset location variables."""
    monkeypatch.setenv("BSNN_DATA_ROOT", str(root))
    monkeypatch.setenv("BSNN_PRETRAINED", "0")  # tests train their own tiny nets
    for name in DATASET_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture(scope="session")
def session_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root shared by the whole session (unpacked MNIST is reused across tests)."""
    return tmp_path_factory.mktemp("bsnn-data")


@pytest.fixture
def bsnn_env(monkeypatch: pytest.MonkeyPatch, session_data_root: Path) -> Iterator[Path]:
    """Use the session data root; no dataset env vars leak in from the user's shell."""
    yield _isolate(monkeypatch, session_data_root)


@pytest.fixture
def fresh_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty data root for this test only (checkpoint and cache tests)."""
    return _isolate(monkeypatch, tmp_path / "data-root")


def write_image_tree(
    root: Path,
    per_split: dict[str, int],
    num_classes: int,
    size: int,
    *,
    channels: int = 3,
    suffix: str = ".png",
    seed: int = 0,
) -> Path:
    """Write ``root/<split>/class_<k>/<i><suffix>`` random images; return ``root``.

    ``per_split`` maps split folder name -> images per class. Class folders are zero-padded so
    that ImageFolder's alphabetical order equals the class index.
    """
    rng = np.random.default_rng(seed)
    shape = (size, size, channels) if channels == 3 else (size, size)
    for split, count in per_split.items():
        for label in range(num_classes):
            folder = root / split / f"class_{label:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                pixels = rng.integers(0, 256, shape, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{index:05d}{suffix}")
    return root


@pytest.fixture
def image_tree(tmp_path: Path) -> ImageTreeFactory:
    """Factory: ``image_tree(name, per_split, num_classes, size, **kw)`` under ``tmp_path``."""

    def make(name: str, per_split: dict[str, int], num_classes: int, size: int, **kwargs: object) -> Path:
        return write_image_tree(tmp_path / name, per_split, num_classes, size, **kwargs)

    return make


@pytest.fixture
def tiny_config() -> TrainConfig:
    """A seconds-long digits run (vgg-tiny, 2 epochs on 512 images)."""
    return TrainConfig(
        dataset="digits", arch="vgg-tiny", epochs=2, batch_size=64, lr=1e-2, augment=False, train_subset=512
    )
