"""The dataset registry: one :class:`~bsnn_lib.data.spec.DatasetSpec` per dataset, each with
its source, and :func:`load_dataset`.

Every loader returns a ``torch.utils.data.Dataset`` of ``(image, label)`` pairs, where ``image``
is a normalized ``float32`` tensor of shape ``(C, H, W)`` and ``label`` an ``int``. Files are read
by the real torchvision readers (``MNIST``, ``FashionMNIST``, ``CIFAR10/100``, ``ImageFolder``) or
scikit-learn (``digits``); nothing is downloaded unless downloads are allowed explicitly.

Locations (see ``data/README.md``): mnist ships in ``<repo>/data/mnist`` (sha256-checked);
fashion-mnist: ``$BSNN_FASHION_MNIST_DIR`` or ``/usr/share/datasets/fashion-mnist``; cifar10 /
cifar100 / imagenet: an ImageFolder copy at ``root=``, ``$BSNN_<NAME>_DIR`` or
``<data root>/<name>``; CIFAR also in torchvision's format under ``<data root>/cache``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torchvision
from torch.utils.data import Dataset, Subset

from bsnn_lib.data.digits import DIGITS_TRAIN_SIZE, DigitsSource
from bsnn_lib.data.folders import CifarSource, ImageNetSource
from bsnn_lib.data.idx import IdxSource
from bsnn_lib.data.locations import downloads_allowed
from bsnn_lib.data.spec import DatasetSpec, Request, UnknownDatasetError, UnknownSplitError
from bsnn_lib.data.tensors import IN_MEMORY, TensorImageDataset
from bsnn_lib.io import REPO_ROOT

__all__ = ["DATASETS", "get_spec", "load_dataset"]

EMBEDDED_MNIST_DIR = REPO_ROOT / "data" / "mnist"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            display_name="MNIST",
            num_classes=10,
            in_channels=1,
            image_size=28,
            mean=(0.1307,),
            std=(0.3081,),
            description="MNIST handwritten digits, 28x28 grey; 60,000 train / 10,000 test. "
            "The four original IDX files are embedded in data/mnist (the offline default).",
            train_size=60000,
            augmentation="shift",
            source=IdxSource(
                reader=torchvision.datasets.MNIST,
                raw_folder="MNIST",
                defaults=(EMBEDDED_MNIST_DIR,),
                how_to_get="the four gzip IDX files ship with the repository in data/mnist; restore "
                "them with `git checkout -- data/mnist` or point $BSNN_MNIST_DIR at a folder holding them.",
            ),
        ),
        DatasetSpec(
            name="fashion-mnist",
            display_name="Fashion-MNIST",
            num_classes=10,
            in_channels=1,
            image_size=28,
            mean=(0.2860,),
            std=(0.3530,),
            description="Zalando Fashion-MNIST, 28x28 grey clothing images; 60,000 train / "
            "10,000 test. Offline source: Debian package dataset-fashion-mnist.",
            train_size=60000,
            augmentation="shift",
            source=IdxSource(
                reader=torchvision.datasets.FashionMNIST,
                raw_folder="FashionMNIST",
                defaults=(DEBIAN_FASHION_MNIST_DIR,),
                how_to_get="`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or set "
                "$BSNN_FASHION_MNIST_DIR to a folder with the four *-ubyte.gz files, or allow downloads "
                "(BSNN_ALLOW_DOWNLOAD=1) when online.",
            ),
        ),
        DatasetSpec(
            name="cifar10",
            display_name="CIFAR-10",
            num_classes=10,
            in_channels=3,
            image_size=32,
            mean=(0.4914, 0.4822, 0.4465),
            std=(0.2470, 0.2435, 0.2616),
            description="CIFAR-10, 32x32 RGB, 10 classes; 50,000 train / 10,000 test. In the "
            "ImageFolder copy used offline the 10k test set is a JPEG quality-75 copy: report it "
            "as 'CIFAR-10 test (JPEG-q75 copy)'. Split 'test-lossless-1k' holds the first 1,000 "
            "official test images, lossless (in torchvision's format the whole test set is "
            "lossless and 'test-lossless-1k' is its first 1,000 images).",
            train_size=50000,
            splits=("train", "test", "test-lossless-1k"),
            augmentation="crop-flip",
            split_labels=(
                ("test", "CIFAR-10 test (JPEG-q75 copy)"),
                ("test-lossless-1k", "CIFAR-10 test, first 1k (lossless)"),
            ),
            source=CifarSource(torchvision.datasets.CIFAR10, "cifar-10-batches-py"),
        ),
        DatasetSpec(
            name="cifar100",
            display_name="CIFAR-100",
            num_classes=100,
            in_channels=3,
            image_size=32,
            mean=(0.5071, 0.4865, 0.4409),
            std=(0.2673, 0.2564, 0.2762),
            description="CIFAR-100, 32x32 RGB, 100 classes; 50,000 train / 10,000 test.",
            train_size=50000,
            augmentation="crop-flip",
            source=CifarSource(torchvision.datasets.CIFAR100, "cifar-100-python"),
        ),
        DatasetSpec(
            name="imagenet",
            display_name="ImageNet",
            num_classes=1000,
            in_channels=3,
            image_size=224,
            mean=(0.485, 0.456, 0.406),
            std=(0.229, 0.224, 0.225),
            description="ILSVRC-2012 ImageNet, 1000 classes, ImageFolder train/ and val/ "
            "(split 'test' reads val/); 224x224 crops.",
            train_size=1281167,
            augmentation="imagenet",
            split_labels=(("test", "ImageNet val"),),
            source=ImageNetSource(),
        ),
        DatasetSpec(
            name="digits",
            display_name="digits",
            num_classes=10,
            in_channels=1,
            image_size=8,
            mean=(0.3051,),
            std=(0.3750,),
            description="scikit-learn's bundled 8x8 digits (1,797 images, values 0..16 scaled "
            "to [0, 1]); train = first 1,500, test = last 297. For fast tests.",
            train_size=DIGITS_TRAIN_SIZE,
            val_size=300,
            source=DigitsSource(),
        ),
    )
}


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """Return the :class:`DatasetSpec` of ``name`` (a spec is passed through unchanged)."""
    if isinstance(name, DatasetSpec):
        return name
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(name) from None


def load_dataset(
    name: str,
    split: str,
    *,
    augment: bool = False,
    root: str | os.PathLike[str] | None = None,
    allow_download: bool | None = None,
    tensor_cache: bool = True,
) -> Dataset:
    """Load one split of a dataset as ``(normalized float CxHxW tensor, int label)`` items.

    Args:
        name: a key of :data:`DATASETS`.
        split: ``"train"`` or ``"test"`` (cifar10 also ``"test-lossless-1k"``; imagenet's
            ``"test"`` reads ``val/``).
        augment: random training augmentation (see module docstring); use it for ``"train"``.
        root: where the dataset's files are (overrides the env var / default location).
        allow_download: let torchvision download when no local copy exists (default: only if
            ``BSNN_ALLOW_DOWNLOAD=1``).
        tensor_cache: for ImageFolder CIFAR copies, keep a decoded uint8 tensor file in the cache.

    Raises:
        UnknownDatasetError, UnknownSplitError: bad ``name`` / ``split``.
        DatasetNotFoundError: no copy of the files found (the message says where it looked).
        DataIntegrityError: files found but wrong (checksum, classes, image size).
    """
    spec = get_spec(name)
    if split == "val":
        train = load_dataset(
            name, "train", augment=False, root=root, allow_download=allow_download, tensor_cache=tensor_cache
        )
        from bsnn_lib.data.subsets import validation_indices

        return Subset(train, validation_indices(name, len(train)))
    if split not in spec.splits:
        raise UnknownSplitError(spec, split)
    if (spec.name, split) in IN_MEMORY:
        images, labels = IN_MEMORY[(spec.name, split)]
        return TensorImageDataset(images, labels, spec, augment=augment)
    request = Request(
        spec=spec,
        split=split,
        augment=augment,
        root=Path(root).expanduser() if root is not None else None,
        allow_download=downloads_allowed(allow_download),
        tensor_cache=tensor_cache,
    )
    return spec.source.load(request)
