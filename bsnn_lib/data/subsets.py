"""Fixed subsets and loaders: the validation split, training and calibration indices, evenly
spaced evaluation subsets, and seeded DataLoaders."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from bsnn_lib.data.registry import get_spec, load_dataset

__all__ = [
    "calibration_indices",
    "calibration_subset",
    "evenly_spaced",
    "make_loader",
    "training_indices",
    "validation_indices",
]


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


def calibration_indices(
    name: str, n: int, seed: int = 0, *, num_train: int | None = None, holdout: bool = False
) -> list[int]:
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


def calibration_subset(
    name: str, n: int, seed: int = 0, root: str | os.PathLike[str] | None = None, holdout: bool = False
) -> Subset:
    """:func:`calibration_indices` applied to the train split, without augmentation."""
    train = load_dataset(name, "train", augment=False, root=root)
    return Subset(train, calibration_indices(name, n, seed, num_train=len(train), holdout=holdout))


def evenly_spaced(dataset: Dataset, n: int | None) -> Dataset:
    """``n`` evenly spaced items of ``dataset`` (all of it when ``n`` is None or >= its length).

    Item i of the subset is item floor(i * len / n): deterministic, and, unlike the first n
    items, it covers every class of an ImageFolder copy (which is sorted by class)."""
    if n is None or n >= len(dataset):
        return dataset
    if n < 1:
        raise ValueError(f"subset size n={n} must be positive (or None for everything)")
    total = len(dataset)
    return Subset(dataset, [i * total // n for i in range(n)])


def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int = 0
) -> DataLoader:
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
