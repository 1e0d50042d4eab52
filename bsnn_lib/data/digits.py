"""scikit-learn's bundled 8x8 digits: train = first 1,500 images, test = last 297 (fast tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from bsnn_lib.data.spec import Request
from bsnn_lib.data.tensors import TensorImageDataset

__all__ = ["DIGITS_TRAIN_SIZE", "DigitsSource"]

DIGITS_TRAIN_SIZE = 1500


@dataclass(frozen=True)
class DigitsSource:
    """``sklearn.datasets.load_digits``; values 0..16 scaled to [0, 1]."""

    def load(self, request: Request) -> Dataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = torch.from_numpy(bunch.images.astype(np.uint8)).unsqueeze(1)
        labels = torch.from_numpy(bunch.target.astype(np.int64))
        part = slice(0, DIGITS_TRAIN_SIZE) if request.split == "train" else slice(DIGITS_TRAIN_SIZE, None)
        return TensorImageDataset(images[part], labels[part], request.spec, scale=1 / 16, augment=request.augment)
