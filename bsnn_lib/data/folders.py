"""Image-folder datasets: CIFAR-10/100 (an ImageFolder copy, or torchvision's own format) and
ImageNet (an ImageFolder copy with ``train/`` and ``val/``).

CIFAR images are decoded once into one uint8 tensor per split and kept in a verified tensor cache
(``<cache>/<name>-<split>-<hash>.pt``; the hash covers the file listing), so later loads take
milliseconds. ImageNet is decoded lazily with PIL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import Dataset

from bsnn_lib.checkpoints import CorruptCheckpointError, load_checkpoint, save_checkpoint
from bsnn_lib.data.locations import cache_dir, candidate_dirs, data_root, describe, env_var
from bsnn_lib.data.spec import DataIntegrityError, DatasetNotFoundError, DatasetSpec, Request
from bsnn_lib.data.tensors import TensorImageDataset, imagenet_transform

__all__ = ["CifarSource", "ImageNetSource", "TENSOR_CACHE_VERSION"]

log = logging.getLogger(__name__)

TENSOR_CACHE_VERSION = 1


@dataclass(frozen=True)
class CifarSource:
    """CIFAR-10/100 from an ImageFolder copy if one exists, else torchvision's own format."""

    reader: type
    folder_name: str  # torchvision's folder under the cache, e.g. "cifar-10-batches-py"

    def load(self, request: Request) -> Dataset:
        folder = _find_imagefolder(request)
        if folder is not None:
            images, labels, classes = _imagefolder_tensors(request, _split_dir(request, folder))
        else:
            images, labels, classes = self._torchvision_tensors(request)
        return TensorImageDataset(images, labels, request.spec, augment=request.augment, classes=classes)

    def _torchvision_tensors(self, request: Request) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """CIFAR in torchvision's pickled-batch format under the cache (downloaded if allowed)."""
        try:
            reader = self.reader(root=str(cache_dir()), train=request.split == "train", download=request.allow_download)
        except Exception as exc:  # noqa: BLE001 - torchvision raises RuntimeError / URLError / OSError
            raise _cifar_not_found(request, cache_dir() / self.folder_name, exc) from exc
        images = torch.from_numpy(reader.data).permute(0, 3, 1, 2).contiguous()
        labels = torch.tensor(reader.targets, dtype=torch.int64)
        if request.split == "test-lossless-1k":
            images, labels = images[:1000], labels[:1000]
        return images, labels, list(reader.classes)


@dataclass(frozen=True)
class ImageNetSource:
    """ImageNet as an ImageFolder copy (``train/``, ``val/``), decoded lazily with PIL."""

    def load(self, request: Request) -> Dataset:
        folder = _find_imagefolder(request)
        if folder is None:
            raise DatasetNotFoundError(
                request.spec,
                describe(_imagefolder_candidates(request), "ImageFolder copy with train/, val/"),
                "ImageNet cannot be downloaded automatically: get ILSVRC-2012 from image-net.org, "
                "arrange it as train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, and set $BSNN_IMAGENET_DIR.",
            )
        transform = imagenet_transform(request.spec, request.augment)
        return _read_imagefolder(request, _split_dir(request, folder), transform)


def _imagefolder_candidates(request: Request) -> list[tuple[str, Path | None]]:
    """Where an ImageFolder copy may be: root, env var, ``<data root>/<name>``."""
    return candidate_dirs(request.spec, request.root, (data_root() / request.spec.name,))


def _find_imagefolder(request: Request) -> Path | None:
    """First candidate that is an existing directory (its split folders are checked later)."""
    for _, directory in _imagefolder_candidates(request):
        if directory is not None and directory.is_dir():
            return directory
    return None


def _split_dir(request: Request, folder: Path) -> Path:
    """``folder/<split>`` (imagenet's ``test`` is ``val``); raise if it is missing."""
    name = "val" if request.spec.name == "imagenet" and request.split == "test" else request.split
    split_dir = folder / name
    if not split_dir.is_dir():
        present = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        required = ["train", "val" if request.spec.name == "imagenet" else "test"]
        optional = [s for s in request.spec.splits if s not in ("train", "test")]
        raise DatasetNotFoundError(
            request.spec,
            [f"{folder} (the copy; it has {present or 'no'} folders), split '{request.split}' wants {split_dir}"],
            _folder_advice(request, required, optional),
        )
    return split_dir


def _folder_advice(request: Request, required: Sequence[str], optional: Sequence[str]) -> str:
    """What a usable copy looks like and how to point the library at it."""
    layout = " and ".join(f"{s}/<class>/<image>" for s in required)
    extra = f" ({', '.join(s + '/' for s in optional)} optional)" if optional else ""
    return (
        f"an ImageFolder copy needs {layout}{extra}, one subfolder per class "
        f"({request.spec.num_classes} classes). Point ${env_var(request.spec)} at such a folder (or pass "
        f"root=, or link it to {data_root() / request.spec.name}); see data/README.md."
    )


def _read_imagefolder(
    request: Request, split_dir: Path, transform: Callable | None = None
) -> torchvision.datasets.ImageFolder:
    """torchvision's ImageFolder, with the class count checked against the spec."""
    try:
        folder = torchvision.datasets.ImageFolder(str(split_dir), transform=transform)
    except FileNotFoundError as exc:  # no class folders, or a class folder without images
        raise DatasetNotFoundError(
            request.spec,
            [f"{split_dir}: {exc}"],
            _folder_advice(request, [split_dir.name], []),
        ) from None
    if len(folder.classes) != request.spec.num_classes:
        raise DataIntegrityError(
            f"{split_dir} has {len(folder.classes)} class folders, {request.spec.display_name} "
            f"has {request.spec.num_classes}: point the loader at the right copy."
        )
    return folder


def _imagefolder_tensors(request: Request, split_dir: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Decode a split into one uint8 tensor, via the verified tensor cache when enabled."""
    folder = _read_imagefolder(request, split_dir)
    cache_file = _tensor_cache_path(request, split_dir, folder.samples)
    if request.tensor_cache and cache_file.is_file():
        cached = _read_tensor_cache(cache_file, len(folder.samples))
        if cached is not None:
            return cached
    images, labels = _decode_images(request.spec, folder.samples)
    if request.tensor_cache:
        save_checkpoint(
            cache_file,
            {"version": TENSOR_CACHE_VERSION, "images": images, "labels": labels, "classes": list(folder.classes)},
        )
    return images, labels, list(folder.classes)


def _tensor_cache_path(request: Request, split_dir: Path, samples: Sequence[tuple[str, int]]) -> Path:
    """``<cache>/<name>-<split>-<hash>.pt``; the hash covers relative paths, sizes and labels."""
    listing = [(os.path.relpath(path, split_dir), os.path.getsize(path), label) for path, label in samples]
    digest = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return cache_dir() / f"{request.spec.name}-{request.split}-{digest}.pt"


def _read_tensor_cache(path: Path, expected_count: int) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
    """Load a verified tensor cache; None (after a warning) if it is corrupt or inconsistent."""
    try:
        state = load_checkpoint(path)
    except CorruptCheckpointError as exc:
        log.warning("rebuilding tensor cache %s: %s", path, exc.reason)
        return None
    images, labels = state.get("images"), state.get("labels")
    if (
        state.get("version") != TENSOR_CACHE_VERSION
        or not isinstance(images, torch.Tensor)
        or not isinstance(labels, torch.Tensor)
        or images.shape[0] != expected_count
        or labels.shape[0] != expected_count
    ):
        log.warning("rebuilding tensor cache %s: contents do not match the folder", path)
        return None
    return images, labels, list(state["classes"])


def _decode_images(spec: DatasetSpec, samples: Sequence[tuple[str, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode every image file to RGB/grey uint8 and stack to ``(N, C, H, W)``."""
    mode = "L" if spec.in_channels == 1 else "RGB"
    expected = (spec.image_size, spec.image_size)
    arrays = []
    for path, _ in samples:
        with Image.open(path) as image:
            if image.size != expected:
                raise DataIntegrityError(
                    f"{path} is {image.size[0]}x{image.size[1]}, {spec.display_name} images are "
                    f"{expected[0]}x{expected[1]}: this is not a {spec.display_name} copy."
                )
            arrays.append(np.asarray(image.convert(mode), dtype=np.uint8).reshape(*expected, -1))
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return images, labels


def _cifar_not_found(request: Request, torchvision_dir: Path, exc: Exception) -> DatasetNotFoundError:
    """The error for a CIFAR dataset that is neither an ImageFolder copy nor in torchvision form."""
    looked = describe(_imagefolder_candidates(request), "ImageFolder copy with train/, test/")
    outcome = "download failed" if request.allow_download else "downloads not allowed"
    looked.append(f"{torchvision_dir} (torchvision format; {outcome}: {exc})")
    how = (
        f"set ${env_var(request.spec)} (or pass root=) to a folder with train/<class>/*.png "
        f"and test/<class>/*, or symlink such a folder to {data_root() / request.spec.name}, "
        "or allow downloads (BSNN_ALLOW_DOWNLOAD=1 / allow_download=True) when online. "
        "See data/README.md."
    )
    return DatasetNotFoundError(request.spec, looked, how)
