"""Dataset registry and loaders: one place that knows every dataset, its statistics and its files.

Every loader returns a ``torch.utils.data.Dataset`` of ``(image, label)`` pairs, where ``image``
is a normalized ``float32`` tensor of shape ``(C, H, W)`` and ``label`` an ``int``. Files are read
by the real torchvision readers (``MNIST``, ``FashionMNIST``, ``CIFAR10/100``, ``ImageFolder``) or
scikit-learn (``digits``); nothing is downloaded unless downloads are allowed explicitly
(``allow_download=True`` or ``BSNN_ALLOW_DOWNLOAD=1``).

Locations (see ``data/README.md``):

- data root: ``$BSNN_DATA_ROOT`` or ``<repo>/data``; derived files go to ``<data root>/cache``.
- mnist: the four original gzip IDX files committed in ``<repo>/data/mnist`` (sha256-checked).
- fashion-mnist: ``$BSNN_FASHION_MNIST_DIR`` or ``/usr/share/datasets/fashion-mnist``.
- cifar10 / cifar100 / imagenet: an ImageFolder copy at ``root=``, ``$BSNN_<NAME>_DIR`` or
  ``<data root>/<name>``; CIFAR also in torchvision's own format under ``<data root>/cache``.

Augmentation (``augment=True``; meaningful for the train split only):

- ``shift`` (MNIST, Fashion-MNIST): random 28x28 crop of the image padded by 2 px (no flip:
  digits and clothes are not mirror symmetric in the usual sense of the benchmarks).
- ``crop-flip`` (CIFAR): random 32x32 crop with 4 px zero padding + horizontal flip.
- ``imagenet``: RandomResizedCrop(224) + horizontal flip (test: Resize(256) + CenterCrop(224)).
- ``none`` (digits: 8x8 is too small to crop).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms as T

from bsnn_lib.checkpoints import (
    CorruptCheckpointError,
    atomic_writer,
    load_checkpoint,
    save_checkpoint,
)

__all__ = [
    "DATASETS",
    "DataIntegrityError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "TensorImageDataset",
    "UnknownDatasetError",
    "UnknownSplitError",
    "cache_dir",
    "calibration_indices",
    "calibration_subset",
    "data_root",
    "training_indices",
    "validation_indices",
    "get_spec",
    "load_dataset",
    "make_loader",
    "test_subset",
]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_MNIST_DIR = REPO_ROOT / "data" / "mnist"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_DATA_ROOT = "BSNN_DATA_ROOT"
ENV_ALLOW_DOWNLOAD = "BSNN_ALLOW_DOWNLOAD"
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DIGITS_TRAIN_SIZE = 1500
TENSOR_CACHE_VERSION = 1


# --------------------------------------------------------------------------------------- errors


class UnknownDatasetError(ValueError):
    """A dataset name that is not in :data:`DATASETS`."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}"
        )


class UnknownSplitError(ValueError):
    """A split name that the dataset does not have."""

    def __init__(self, spec: DatasetSpec, split: str) -> None:
        super().__init__(
            f"dataset {spec.name!r} has no split {split!r}; valid splits: "
            f"{', '.join((*spec.splits, 'val'))}"
        )


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are nowhere this module looks; the message lists where and how to fix."""

    def __init__(self, spec: DatasetSpec, looked: Sequence[str], how_to_get: str) -> None:
        places = "\n".join(f"  - {place}" for place in looked)
        super().__init__(
            f"{spec.display_name} ({spec.name!r}) not found. Looked in:\n{places}\n"
            f"How to get it: {how_to_get}"
        )


class DataIntegrityError(RuntimeError):
    """Dataset files exist but are wrong (checksum mismatch, wrong class count or image size)."""


# ---------------------------------------------------------------------------------- registry


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

    def split_label(self, split: str) -> str:
        """Label to print next to an accuracy measured on ``split``."""
        return dict(self.split_labels).get(split, f"{self.display_name} {split}")


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


# ---------------------------------------------------------------------------------- locations


def data_root() -> Path:
    """``$BSNN_DATA_ROOT`` if set, else ``<repo>/data``."""
    env = os.environ.get(ENV_DATA_ROOT)
    return Path(env).expanduser() if env else REPO_ROOT / "data"


def cache_dir() -> Path:
    """Directory for derived files (unpacked IDX files, tensor caches): ``<data root>/cache``."""
    return data_root() / "cache"


def _env_var(spec: DatasetSpec) -> str:
    """Environment variable naming a copy of ``spec``'s files, e.g. ``BSNN_CIFAR10_DIR``."""
    return "BSNN_" + spec.name.upper().replace("-", "_") + "_DIR"


def _candidate_dirs(spec: DatasetSpec, root: str | os.PathLike[str] | None,
                    defaults: Sequence[Path]) -> list[tuple[str, Path | None]]:
    """Places to look, in order: the ``root`` argument, the env var, then ``defaults``."""
    env = _env_var(spec)
    env_value = os.environ.get(env)
    return [
        ("root argument", Path(root).expanduser() if root is not None else None),
        (f"${env}", Path(env_value).expanduser() if env_value else None),
        *(("default location", path) for path in defaults),
    ]


def _describe(candidates: Sequence[tuple[str, Path | None]], what: str) -> list[str]:
    """Human-readable lines for a :class:`DatasetNotFoundError`."""
    return [f"{label}: {path if path is not None else 'not set'} ({what})"
            for label, path in candidates]


def _downloads_allowed(allow_download: bool | None) -> bool:
    """Explicit argument wins; else ``BSNN_ALLOW_DOWNLOAD=1`` enables downloads."""
    if allow_download is not None:
        return allow_download
    return os.environ.get(ENV_ALLOW_DOWNLOAD, "") == "1"


# --------------------------------------------------------------------------------- transforms


class TensorImageDataset(Dataset):
    """Images held in one integer tensor ``(N, C, H, W)``; items are scaled, augmented, normalized.

    ``image = normalize(augment(images[i] * scale))``: ``scale`` maps the stored integers to [0, 1]
    (1/255 for 8-bit images, 1/16 for the digits).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, spec: DatasetSpec, *,
                 scale: float = 1 / 255, augment: bool = False,
                 classes: Sequence[str] | None = None) -> None:
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


def _imagenet_transform(spec: DatasetSpec, augment: bool) -> Callable[[Image.Image], torch.Tensor]:
    """ImageNet PIL pipeline: random resized crop + flip (augment), else resize + center crop."""
    geometry = (
        [T.RandomResizedCrop(spec.image_size), T.RandomHorizontalFlip()]
        if augment
        else [T.Resize(round(spec.image_size * 256 / 224)), T.CenterCrop(spec.image_size)]
    )
    return T.Compose([*geometry, T.ToTensor(), T.Normalize(spec.mean, spec.std)])


# ------------------------------------------------------------------------------- public loading


@dataclass(frozen=True)
class _Request:
    """Arguments of one :func:`load_dataset` call, passed to the per-dataset loader."""

    spec: DatasetSpec
    split: str
    augment: bool
    root: Path | None
    allow_download: bool
    tensor_cache: bool


def load_dataset(name: str, split: str, *, augment: bool = False,
                 root: str | os.PathLike[str] | None = None, allow_download: bool | None = None,
                 tensor_cache: bool = True) -> Dataset:
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
        train = load_dataset(name, "train", augment=False, root=root, allow_download=allow_download,
                             tensor_cache=tensor_cache)
        return Subset(train, validation_indices(name, len(train)))
    if split not in spec.splits:
        raise UnknownSplitError(spec, split)
    if (spec.name, split) in _IN_MEMORY:
        images, labels = _IN_MEMORY[(spec.name, split)]
        return TensorImageDataset(images, labels, spec, augment=augment)
    request = _Request(
        spec=spec,
        split=split,
        augment=augment,
        root=Path(root).expanduser() if root is not None else None,
        allow_download=_downloads_allowed(allow_download),
        tensor_cache=tensor_cache,
    )
    return _LOADERS[spec.name](request)


_IN_MEMORY: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}


def register_tensors(name: str, split: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Serve ``load_dataset(name, split)`` from 8-bit images ``(N, C, H, W)`` held in memory.

    For machines that receive the data as tensors instead of files (e.g. a GPU machine without
    the dataset folders, see benchmarks/device_check.py). Normalization and augmentation are the
    usual ones; the registration lasts for the process."""
    spec = get_spec(name)
    if split not in spec.splits:
        raise UnknownSplitError(spec, split)
    expected = (spec.in_channels, spec.image_size, spec.image_size)
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != expected or len(images) != len(labels):
        raise ValueError(f"{name}/{split}: need uint8 images of shape (N, {expected}) and N labels, "
                         f"got {images.dtype} {tuple(images.shape)} and {len(labels)} labels")
    _IN_MEMORY[(spec.name, split)] = (images, labels)


def validation_indices(name: str, num_train: int | None = None) -> list[int]:
    """The fixed validation split: ``val_size`` evenly spaced indices into the train split.

    Item i is ``floor(i * num_train / val_size)``: no seed, the same on every machine, and on a
    class-sorted ImageFolder copy an equal share of every class. A model trained with
    ``holdout=True`` never sees these images; method variants are chosen on them."""
    spec = get_spec(name)
    total = spec.train_size if num_train is None else num_train
    n = min(spec.val_size, total)
    return [i * total // n for i in range(n)]


def training_indices(name: str, num_train: int, holdout: bool) -> list[int]:
    """Indices of the train split used for training (and calibration): all of them, or, with
    ``holdout``, all but :func:`validation_indices`."""
    if not holdout:
        return list(range(num_train))
    val = set(validation_indices(name, num_train))
    return [i for i in range(num_train) if i not in val]


def calibration_indices(name: str, n: int, seed: int = 0, *,
                        num_train: int | None = None, holdout: bool = False) -> list[int]:
    """``n`` distinct, sorted indices into the train split, fixed by ``seed`` alone.

    ``num_train`` defaults to the spec's canonical train size; pass ``len(train_dataset)`` for a
    copy of a different size. Uses ``numpy.random.default_rng(seed)``. With ``holdout`` the
    indices are drawn from :func:`training_indices` only (never from the validation split).
    """
    total = get_spec(name).train_size if num_train is None else num_train
    pool = training_indices(name, total, holdout) if holdout else None
    size = total if pool is None else len(pool)
    if not 0 < n <= size:
        raise ValueError(f"calibration size n={n} must be in 1..{size} (the train split size)")
    chosen = np.random.default_rng(seed).choice(size, size=n, replace=False)
    if pool is not None:
        chosen = [pool[int(i)] for i in chosen]
    return sorted(int(i) for i in chosen)


def calibration_subset(name: str, n: int, seed: int = 0,
                       root: str | os.PathLike[str] | None = None, holdout: bool = False) -> Subset:
    """:func:`calibration_indices` applied to the train split, without augmentation."""
    train = load_dataset(name, "train", augment=False, root=root)
    return Subset(train, calibration_indices(name, n, seed, num_train=len(train), holdout=holdout))


def test_subset(dataset: Dataset, n: int | None) -> Dataset:
    """``n`` evenly spaced items of ``dataset`` (all of it when ``n`` is None or >= its length).

    Item i of the subset is item floor(i * len / n): deterministic, and, unlike the first n
    items, it covers every class of an ImageFolder copy (which is sorted by class)."""
    if n is None or n >= len(dataset):
        return dataset
    if n < 1:
        raise ValueError(f"subset size n={n} must be positive (or None for everything)")
    total = len(dataset)
    return Subset(dataset, [i * total // n for i in range(n)])


test_subset.__test__ = False  # not a pytest test, despite the name


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                num_workers: int = 0) -> DataLoader:
    """A DataLoader whose order depends only on ``seed`` (its own seeded ``torch.Generator``)."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        worker_init_fn=_seed_worker if num_workers > 0 else None,
    )


def _seed_worker(worker_id: int) -> None:
    """Seed numpy and random in a DataLoader worker from its torch seed."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


# ------------------------------------------------------------------------------- MNIST family


@dataclass(frozen=True)
class _IdxFamily:
    """An MNIST-format dataset: which torchvision reader, raw folder, and default source dirs."""

    reader: type[torchvision.datasets.MNIST]
    raw_folder: str
    defaults: tuple[Path, ...]
    how_to_get: str


_IDX_FAMILIES = {
    "mnist": _IdxFamily(
        reader=torchvision.datasets.MNIST,
        raw_folder="MNIST",
        defaults=(EMBEDDED_MNIST_DIR,),
        how_to_get="the four gzip IDX files ship with the repository in data/mnist; restore them "
        "with `git checkout -- data/mnist` or point $BSNN_MNIST_DIR at a folder holding them.",
    ),
    "fashion-mnist": _IdxFamily(
        reader=torchvision.datasets.FashionMNIST,
        raw_folder="FashionMNIST",
        defaults=(DEBIAN_FASHION_MNIST_DIR,),
        how_to_get="`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or set "
        "$BSNN_FASHION_MNIST_DIR to a folder with the four *-ubyte.gz files, or allow downloads "
        "(BSNN_ALLOW_DOWNLOAD=1) when online.",
    ),
}


def _load_idx(request: _Request) -> Dataset:
    """MNIST / Fashion-MNIST: unpack the IDX files into the cache, read them with torchvision."""
    family = _IDX_FAMILIES[request.spec.name]
    raw_dir = cache_dir() / family.raw_folder / "raw"
    if not all((raw_dir / name).is_file() for name in IDX_FILES):
        _provide_idx_files(request, family, raw_dir)
    reader = family.reader(root=str(cache_dir()), train=request.split == "train", download=False)
    return TensorImageDataset(reader.data.unsqueeze(1), reader.targets, request.spec,
                              augment=request.augment, classes=reader.classes)


def _provide_idx_files(request: _Request, family: _IdxFamily, raw_dir: Path) -> None:
    """Unpack the gzip IDX files from the first complete source dir, else download or raise."""
    candidates = _candidate_dirs(request.spec, request.root, family.defaults)
    for _, directory in candidates:
        if directory is not None and all((directory / f"{n}.gz").is_file() for n in IDX_FILES):
            _unpack_idx_dir(directory, raw_dir)
            return
    looked = _describe(candidates, "needs " + ", ".join(f"{n}.gz" for n in IDX_FILES))
    if request.allow_download:
        try:
            family.reader(root=str(cache_dir()), train=True, download=True)
            return
        except Exception as exc:  # noqa: BLE001 - any download failure: report all places
            looked.append(f"torchvision download into {cache_dir()} failed: {exc}")
    raise DatasetNotFoundError(request.spec, looked, family.how_to_get)


def _unpack_idx_dir(source: Path, raw_dir: Path) -> None:
    """Verify (if ``source/SHA256SUMS`` exists) and gunzip the IDX files into ``raw_dir``."""
    expected = _read_sha256sums(source / "SHA256SUMS")
    for name in IDX_FILES:
        gz_path = source / f"{name}.gz"
        if f"{name}.gz" in expected:
            _verify_sha256(gz_path, expected[f"{name}.gz"])
        _gunzip_atomic(gz_path, raw_dir / name)
    log.info("unpacked IDX files from %s into %s", source, raw_dir)


def _read_sha256sums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` listing (``<hex>  <file name>`` lines); empty if absent."""
    if not path.is_file():
        return {}
    entries = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {parts[-1].lstrip("*"): parts[0].lower() for parts in entries}


def _verify_sha256(path: Path, expected: str) -> None:
    """Raise :class:`DataIntegrityError` if ``path``'s sha256 differs from ``expected``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise DataIntegrityError(
            f"{path} has sha256 {digest.hexdigest()}, expected {expected} (listed in SHA256SUMS "
            "beside it). The file is damaged: restore it (e.g. `git checkout -- data/mnist`)."
        )


def _gunzip_atomic(source: Path, target: Path) -> None:
    """Decompress ``source`` into ``target`` via a temp file, so ``target`` is never partial."""
    with gzip.open(source, "rb") as compressed, atomic_writer(target) as out:
        shutil.copyfileobj(compressed, out, length=1 << 20)


# ------------------------------------------------------------------------------------ digits


def _load_digits(request: _Request) -> Dataset:
    """scikit-learn digits: train = first 1,500 images, test = last 297; values 0..16."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    train = request.split == "train"
    part = slice(0, DIGITS_TRAIN_SIZE) if train else slice(DIGITS_TRAIN_SIZE, None)
    return TensorImageDataset(images[part], labels[part], request.spec, scale=1 / 16,
                              augment=request.augment)


# -------------------------------------------------------------------------- ImageFolder (CIFAR)


def _imagefolder_candidates(request: _Request) -> list[tuple[str, Path | None]]:
    """Where an ImageFolder copy may be: root, env var, ``<data root>/<name>``."""
    return _candidate_dirs(request.spec, request.root, (data_root() / request.spec.name,))


def _find_imagefolder(request: _Request) -> Path | None:
    """First candidate that is an existing directory (its split folders are checked later)."""
    for _, directory in _imagefolder_candidates(request):
        if directory is not None and directory.is_dir():
            return directory
    return None


def _load_cifar(request: _Request) -> Dataset:
    """CIFAR-10/100 from an ImageFolder copy if one exists, else torchvision's own format."""
    folder = _find_imagefolder(request)
    if folder is not None:
        images, labels, classes = _imagefolder_tensors(request, _split_dir(request, folder))
    else:
        images, labels, classes = _torchvision_cifar_tensors(request)
    return TensorImageDataset(images, labels, request.spec, augment=request.augment,
                              classes=classes)


def _split_dir(request: _Request, folder: Path) -> Path:
    """``folder/<split>`` (imagenet's ``test`` is ``val``); raise if it is missing."""
    name = "val" if request.spec.name == "imagenet" and request.split == "test" else request.split
    split_dir = folder / name
    if not split_dir.is_dir():
        raise DatasetNotFoundError(
            request.spec,
            [f"{split_dir} (split folder of the copy at {folder}) is missing"],
            f"the copy needs one folder per split ({', '.join(request.spec.splits)}), each with "
            "one subfolder per class holding that class's images.",
        )
    return split_dir


def _read_imagefolder(request: _Request, split_dir: Path,
                      transform: Callable | None = None) -> torchvision.datasets.ImageFolder:
    """torchvision's ImageFolder, with the class count checked against the spec."""
    folder = torchvision.datasets.ImageFolder(str(split_dir), transform=transform)
    if len(folder.classes) != request.spec.num_classes:
        raise DataIntegrityError(
            f"{split_dir} has {len(folder.classes)} class folders, {request.spec.display_name} "
            f"has {request.spec.num_classes}: point the loader at the right copy."
        )
    return folder


def _imagefolder_tensors(request: _Request,
                         split_dir: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Decode a split into one uint8 tensor, via the verified tensor cache when enabled."""
    folder = _read_imagefolder(request, split_dir)
    cache_file = _tensor_cache_path(request, split_dir, folder.samples)
    if request.tensor_cache and cache_file.is_file():
        cached = _read_tensor_cache(cache_file, len(folder.samples))
        if cached is not None:
            return cached
    images, labels = _decode_images(request.spec, folder.samples)
    if request.tensor_cache:
        save_checkpoint(cache_file, {"version": TENSOR_CACHE_VERSION, "images": images,
                                     "labels": labels, "classes": list(folder.classes)})
    return images, labels, list(folder.classes)


def _tensor_cache_path(request: _Request, split_dir: Path,
                       samples: Sequence[tuple[str, int]]) -> Path:
    """``<cache>/<name>-<split>-<hash>.pt``; the hash covers relative paths, sizes and labels."""
    listing = [(os.path.relpath(path, split_dir), os.path.getsize(path), label)
               for path, label in samples]
    digest = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return cache_dir() / f"{request.spec.name}-{request.split}-{digest}.pt"


def _read_tensor_cache(path: Path,
                       expected_count: int) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
    """Load a verified tensor cache; None (after a warning) if it is corrupt or inconsistent."""
    try:
        state = load_checkpoint(path)
    except CorruptCheckpointError as exc:
        log.warning("rebuilding tensor cache: %s", exc)
        return None
    images, labels = state.get("images"), state.get("labels")
    if (state.get("version") != TENSOR_CACHE_VERSION or not isinstance(images, torch.Tensor)
            or not isinstance(labels, torch.Tensor) or images.shape[0] != expected_count
            or labels.shape[0] != expected_count):
        log.warning("rebuilding tensor cache %s: contents do not match the folder", path)
        return None
    return images, labels, list(state["classes"])


def _decode_images(spec: DatasetSpec,
                   samples: Sequence[tuple[str, int]]) -> tuple[torch.Tensor, torch.Tensor]:
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


_TORCHVISION_CIFAR = {"cifar10": (torchvision.datasets.CIFAR10, "cifar-10-batches-py"),
                      "cifar100": (torchvision.datasets.CIFAR100, "cifar-100-python")}


def _torchvision_cifar_tensors(request: _Request) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """CIFAR in torchvision's pickled-batch format under the cache (downloaded if allowed)."""
    reader_cls, folder_name = _TORCHVISION_CIFAR[request.spec.name]
    try:
        reader = reader_cls(root=str(cache_dir()), train=request.split == "train",
                            download=request.allow_download)
    except Exception as exc:  # noqa: BLE001 - torchvision raises RuntimeError / URLError / OSError
        raise _cifar_not_found(request, cache_dir() / folder_name, exc) from exc
    images = torch.from_numpy(reader.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(reader.targets, dtype=torch.int64)
    if request.split == "test-lossless-1k":
        images, labels = images[:1000], labels[:1000]
    return images, labels, list(reader.classes)


def _cifar_not_found(request: _Request, torchvision_dir: Path,
                     exc: Exception) -> DatasetNotFoundError:
    """The error for a CIFAR dataset that is neither an ImageFolder copy nor in torchvision form."""
    looked = _describe(_imagefolder_candidates(request), "ImageFolder copy with train/, test/")
    outcome = "download failed" if request.allow_download else "downloads not allowed"
    looked.append(f"{torchvision_dir} (torchvision format; {outcome}: {exc})")
    how = (f"set ${_env_var(request.spec)} (or pass root=) to a folder with train/<class>/*.png "
           f"and test/<class>/*, or symlink such a folder to {data_root() / request.spec.name}, "
           "or allow downloads (BSNN_ALLOW_DOWNLOAD=1 / allow_download=True) when online. "
           "See data/README.md.")
    return DatasetNotFoundError(request.spec, looked, how)


# ---------------------------------------------------------------------------------- ImageNet


def _load_imagenet(request: _Request) -> Dataset:
    """ImageNet as an ImageFolder copy (``train/``, ``val/``), decoded lazily with PIL."""
    folder = _find_imagefolder(request)
    if folder is None:
        raise DatasetNotFoundError(
            request.spec,
            _describe(_imagefolder_candidates(request), "ImageFolder copy with train/, val/"),
            "ImageNet cannot be downloaded automatically: get ILSVRC-2012 from image-net.org, "
            "arrange it as train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, and set $BSNN_IMAGENET_DIR.",
        )
    transform = _imagenet_transform(request.spec, request.augment)
    return _read_imagefolder(request, _split_dir(request, folder), transform)


_LOADERS: dict[str, Callable[[_Request], Dataset]] = {
    "mnist": _load_idx,
    "fashion-mnist": _load_idx,
    "cifar10": _load_cifar,
    "cifar100": _load_cifar,
    "imagenet": _load_imagenet,
    "digits": _load_digits,
}
