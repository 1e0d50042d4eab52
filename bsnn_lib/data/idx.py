"""MNIST-format datasets (MNIST, Fashion-MNIST): gzip IDX files read by torchvision.

The gzip files are verified against a ``SHA256SUMS`` beside them when one exists, unpacked
atomically into ``<cache>/<Name>/raw/`` and read by ``torchvision.datasets.MNIST`` /
``FashionMNIST`` with ``download=False``.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import torchvision
from torch.utils.data import Dataset

from bsnn_lib.data.locations import cache_dir, candidate_dirs, describe
from bsnn_lib.data.spec import DataIntegrityError, DatasetNotFoundError, Request
from bsnn_lib.data.tensors import TensorImageDataset
from bsnn_lib.io import atomic_writer

__all__ = ["IDX_FILES", "IdxSource"]

log = logging.getLogger(__name__)

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class IdxSource:
    """An MNIST-format dataset: its torchvision reader, raw folder, default dirs, advice."""

    reader: type[torchvision.datasets.MNIST]
    raw_folder: str
    defaults: tuple[Path, ...]
    how_to_get: str

    def load(self, request: Request) -> Dataset:
        """Unpack the IDX files into the cache (once), read them with torchvision."""
        raw_dir = cache_dir() / self.raw_folder / "raw"
        if not all((raw_dir / name).is_file() for name in IDX_FILES):
            self._provide(request, raw_dir)
        reader = self.reader(root=str(cache_dir()), train=request.split == "train", download=False)
        return TensorImageDataset(
            reader.data.unsqueeze(1), reader.targets, request.spec, augment=request.augment, classes=reader.classes
        )

    def _provide(self, request: Request, raw_dir: Path) -> None:
        """Unpack the gzip IDX files from the first complete source dir, else download or raise."""
        candidates = candidate_dirs(request.spec, request.root, self.defaults)
        for _, directory in candidates:
            if directory is not None and all((directory / f"{n}.gz").is_file() for n in IDX_FILES):
                _unpack_idx_dir(directory, raw_dir)
                return
        looked = describe(candidates, "needs " + ", ".join(f"{n}.gz" for n in IDX_FILES))
        if request.allow_download:
            try:
                self.reader(root=str(cache_dir()), train=True, download=True)
                return
            except Exception as exc:  # noqa: BLE001 - any download failure: report all places
                looked.append(f"torchvision download into {cache_dir()} failed: {exc}")
        raise DatasetNotFoundError(request.spec, looked, self.how_to_get)


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
