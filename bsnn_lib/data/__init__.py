"""Datasets: one registry of specs that know how to load themselves, and fixed subsets.

==================  =========================================================================
``spec``            DatasetSpec (facts of a dataset), the errors, the request a source gets
``registry``        DATASETS (one table), get_spec, load_dataset
``locations``       data root, cache, the places searched, the download switch
``idx``             MNIST / Fashion-MNIST from gzip IDX files
``folders``         CIFAR-10/100 and ImageNet from ImageFolder copies (or torchvision's format)
``digits``          scikit-learn's 8x8 digits (fast tests)
``tensors``         TensorImageDataset, augmentation, datasets registered in memory
``subsets``         validation split, training / calibration indices, evenly spaced subsets
==================  =========================================================================
"""

from bsnn_lib.data.locations import ENV_ALLOW_DOWNLOAD, ENV_DATA_ROOT, cache_dir, data_root
from bsnn_lib.data.registry import DATASETS, get_spec, load_dataset
from bsnn_lib.data.spec import (
    DataIntegrityError,
    DatasetNotFoundError,
    DatasetSpec,
    UnknownDatasetError,
    UnknownSplitError,
)
from bsnn_lib.data.subsets import (
    calibration_indices,
    calibration_subset,
    evenly_spaced,
    make_loader,
    training_indices,
    validation_indices,
)
from bsnn_lib.data.tensors import TensorImageDataset, register_tensors

__all__ = [
    "DATASETS",
    "ENV_ALLOW_DOWNLOAD",
    "ENV_DATA_ROOT",
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
    "evenly_spaced",
    "get_spec",
    "load_dataset",
    "make_loader",
    "register_tensors",
    "training_indices",
    "validation_indices",
]
