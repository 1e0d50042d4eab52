"""Images held as one integer tensor, normalized and augmented per item; in-memory datasets.

Augmentation (``augment=True``; meaningful for the train split only):

- ``shift`` (MNIST, Fashion-MNIST): random 28x28 crop of the image padded by 2 px (no flip:
  digits and clothes are not mirror symmetric in the usual sense of the benchmarks).
- ``crop-flip`` (CIFAR): random 32x32 crop with 4 px zero padding + horizontal flip.
- ``imagenet``: RandomResizedCrop(224) + horizontal flip (test: Resize(256) + CenterCrop(224)).
- ``none`` (digits: 8x8 is too small to crop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from bsnn_lib.data.spec import DatasetSpec

__all__ = ["IN_MEMORY", "TensorImageDataset", "imagenet_transform", "register_tensors"]


class TensorImageDataset(Dataset):
    """Images held in one integer tensor ``(N, C, H, W)``; items are scaled, augmented, normalized.

    ``image = normalize(augment(images[i] * scale))``: ``scale`` maps the stored integers to [0, 1]
    (1/255 for 8-bit images, 1/16 for the digits).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        spec: DatasetSpec,
        *,
        scale: float = 1 / 255,
        augment: bool = False,
        classes: Sequence[str] | None = None,
    ) -> None:
        if images.ndim != 4 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"images must be (N, C, H, W) with N == len(labels); got {tuple(images.shape)} "
                f"and {tuple(labels.shape)} labels"
            )
        self.images = images
        self.labels = labels.to(torch.int64)
        self.scale = scale
        default_classes = [str(i) for i in range(spec.num_classes)]
        self.classes = list(classes) if classes is not None else default_classes
        self.augment = _tensor_augmentation(spec) if augment else None
        self._mean = torch.tensor(spec.mean, dtype=torch.float32).view(-1, 1, 1)
        self._std = torch.tensor(spec.std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].to(torch.float32) * self.scale
        if self.augment is not None:
            image = self.augment(image)
        return (image - self._mean) / self._std, int(self.labels[index])


def _tensor_augmentation(spec: DatasetSpec) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Augmentation acting on a ``[0, 1]`` float tensor ``(C, H, W)``, or None."""
    size = spec.image_size
    if spec.augmentation == "shift":
        return T.RandomCrop(size, padding=2)
    if spec.augmentation == "crop-flip":
        return T.Compose([T.RandomCrop(size, padding=4), T.RandomHorizontalFlip()])
    if spec.augmentation == "none":
        return None
    raise ValueError(f"augmentation {spec.augmentation!r} of {spec.name!r} has no tensor form")


def imagenet_transform(spec: DatasetSpec, augment: bool) -> Callable[[Image.Image], torch.Tensor]:
    """ImageNet PIL pipeline: random resized crop + flip (augment), else resize + center crop."""
    geometry = (
        [T.RandomResizedCrop(spec.image_size), T.RandomHorizontalFlip()]
        if augment
        else [T.Resize(round(spec.image_size * 256 / 224)), T.CenterCrop(spec.image_size)]
    )
    return T.Compose([*geometry, T.ToTensor(), T.Normalize(spec.mean, spec.std)])


IN_MEMORY: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
"""(dataset, split) -> (uint8 images, labels) registered by :func:`register_tensors`."""


def register_tensors(name: str, split: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Serve ``load_dataset(name, split)`` from 8-bit images ``(N, C, H, W)`` held in memory.

    For machines that receive the data as tensors instead of files (e.g. a GPU machine without
    the dataset folders, see benchmarks/device_check.py). Normalization and augmentation are the
    usual ones; the registration lasts for the process."""
    from bsnn_lib.data.registry import get_spec
    from bsnn_lib.data.spec import UnknownSplitError

    spec = get_spec(name)
    if split not in spec.splits:
        raise UnknownSplitError(spec, split)
    expected = (spec.in_channels, spec.image_size, spec.image_size)
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != expected or len(images) != len(labels):
        raise ValueError(
            f"{name}/{split}: need uint8 images of shape (N, {expected}) and N labels, "
            f"got {images.dtype} {tuple(images.shape)} and {len(labels)} labels"
        )
    IN_MEMORY[(spec.name, split)] = (images, labels)
