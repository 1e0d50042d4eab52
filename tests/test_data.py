"""Dataset registry and loaders: counts, shapes, locations, caches and errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bsnn_lib import data
from bsnn_lib.checkpoints import load_checkpoint
from bsnn_lib.data import (
    DATASETS,
    DataIntegrityError,
    DatasetNotFoundError,
    UnknownDatasetError,
    UnknownSplitError,
    calibration_indices,
    calibration_subset,
    evenly_spaced,
    folders,
    get_spec,
    load_dataset,
    make_loader,
    registry,
)
from bsnn_lib.io import REPO_ROOT

pytestmark = pytest.mark.usefixtures("bsnn_env")


def _denormalize(image: torch.Tensor, name: str) -> torch.Tensor:
    """Back to the [0, 1] pixel scale."""
    spec = get_spec(name)
    mean = torch.tensor(spec.mean).view(-1, 1, 1)
    std = torch.tensor(spec.std).view(-1, 1, 1)
    return image * std + mean


# ----------------------------------------------------------------------------------- registry


def test_registry_has_every_dataset_with_consistent_stats() -> None:
    assert set(DATASETS) == {"mnist", "fashion-mnist", "cifar10", "cifar100", "imagenet", "digits"}
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert len(spec.mean) == len(spec.std) == spec.in_channels
        assert "train" in spec.splits and "test" in spec.splits


def test_cifar10_spec_flags_the_lossy_test_copy() -> None:
    spec = get_spec("cifar10")
    assert "JPEG quality-75" in spec.description
    assert spec.split_label("test") == "CIFAR-10 test (JPEG-q75 copy)"
    assert "test-lossless-1k" in spec.splits
    assert get_spec("mnist").split_label("test") == "MNIST test"


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(UnknownDatasetError, match="valid names: .*cifar10.*mnist"):
        get_spec("svhn")


def test_unknown_split_lists_valid_splits() -> None:
    with pytest.raises(UnknownSplitError, match="valid splits: train, test, val"):
        load_dataset("digits", "valid")


def test_data_root_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path))
    assert data.data_root() == tmp_path
    assert data.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("BSNN_DATA_ROOT")
    assert data.data_root() == REPO_ROOT / "data"


# -------------------------------------------------------------------------------------- MNIST


def test_mnist_counts_shapes_and_labels(session_data_root: Path) -> None:
    train = load_dataset("mnist", "train")
    test = load_dataset("mnist", "test")
    assert (len(train), len(test)) == (60000, 10000)
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert [train[i][1] for i in range(5)] == [5, 0, 4, 1, 9]  # canonical first labels
    assert test.labels.min() == 0 and test.labels.max() == 9
    assert torch.bincount(test.labels).tolist()[:3] == [980, 1135, 1032]
    assert (session_data_root / "cache" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    pixels = _denormalize(image, "mnist")
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6


def test_mnist_augmentation_keeps_shape_and_shifts() -> None:
    plain = load_dataset("mnist", "train")
    augmented = load_dataset("mnist", "train", augment=True)
    torch.manual_seed(0)
    shifted = [augmented[i][0] for i in range(20)]
    assert all(x.shape == (1, 28, 28) for x in shifted)
    assert any(not torch.equal(x, plain[i][0]) for i, x in enumerate(shifted))


def test_mnist_checksum_mismatch_is_reported(fresh_data_root: Path, tmp_path: Path) -> None:
    source = tmp_path / "mnist-copy"
    source.mkdir()
    for gz in registry.EMBEDDED_MNIST_DIR.glob("*.gz"):
        (source / gz.name).symlink_to(gz)
    (source / "SHA256SUMS").write_text(f"{'0' * 64}  train-images-idx3-ubyte.gz\n")
    with pytest.raises(DataIntegrityError, match="train-images-idx3-ubyte.gz has sha256"):
        load_dataset("mnist", "test", root=source)
    assert not (fresh_data_root / "cache" / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


@pytest.mark.skipif(
    not registry.DEBIAN_FASHION_MNIST_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)
def test_fashion_mnist_from_debian_package() -> None:
    test = load_dataset("fashion-mnist", "test")
    assert len(test) == 10000 and test[0][0].shape == (1, 28, 28)


# ------------------------------------------------------------------------------------- digits


def test_digits_split_shapes_and_normalization() -> None:
    train = load_dataset("digits", "train")
    test = load_dataset("digits", "test")
    assert (len(train), len(test)) == (1500, 297)
    assert train[0][0].shape == (1, 8, 8)
    images = torch.stack([train[i][0] for i in range(len(train))])
    assert abs(images.mean().item()) < 0.01 and abs(images.std().item() - 1) < 0.01
    assert set(test.labels.tolist()) == set(range(10))


# ----------------------------------------------------------------------------- CIFAR (folders)

CIFAR10_SPLITS = {"train": 3, "test": 2, "test-lossless-1k": 1}


def test_cifar10_imagefolder_splits_and_pixels(image_tree, monkeypatch) -> None:
    root = image_tree("cifar10", CIFAR10_SPLITS, num_classes=10, size=32)
    monkeypatch.setenv("BSNN_CIFAR10_DIR", str(root))
    for split, per_class in CIFAR10_SPLITS.items():
        dataset = load_dataset("cifar10", split)
        assert len(dataset) == 10 * per_class
        assert sorted(set(dataset.labels.tolist())) == list(range(10))
    dataset = load_dataset("cifar10", "train")
    image, label = dataset[3 * 4]  # first image of class 4 (3 images per class)
    expected = np.asarray(Image.open(root / "train" / "class_0004" / "00000.png"), dtype=np.float32)
    assert label == 4 and image.shape == (3, 32, 32)
    torch.testing.assert_close(
        _denormalize(image, "cifar10") * 255, torch.from_numpy(expected).permute(2, 0, 1), atol=1e-3, rtol=0
    )


def test_cifar10_tensor_cache_is_reused(image_tree, monkeypatch, fresh_data_root) -> None:
    root = image_tree("cifar10", {"train": 2}, num_classes=10, size=32)
    first = load_dataset("cifar10", "train", root=root)
    cache_files = list((fresh_data_root / "cache").glob("cifar10-train-*.pt"))
    assert len(cache_files) == 1
    monkeypatch.setattr(folders, "_decode_images", _fail_decoding)
    second = load_dataset("cifar10", "train", root=root)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)


def _fail_decoding(*args: object) -> None:
    raise AssertionError("images decoded although a valid tensor cache exists")


def test_corrupt_tensor_cache_is_rebuilt(image_tree, fresh_data_root, caplog) -> None:
    root = image_tree("cifar10", {"train": 2}, num_classes=10, size=32)
    first = load_dataset("cifar10", "train", root=root)
    (cache_file,) = (fresh_data_root / "cache").glob("cifar10-train-*.pt")
    cache_file.write_bytes(cache_file.read_bytes()[:-100])  # truncated write
    rebuilt = load_dataset("cifar10", "train", root=root)
    assert "rebuilding tensor cache" in caplog.text
    assert torch.equal(first.images, rebuilt.images)
    assert len(cache_file.read_bytes()) > 100 and load_checkpoint(cache_file)


def test_tensor_cache_key_changes_with_the_folder(image_tree, fresh_data_root) -> None:
    root = image_tree("cifar10", {"train": 1}, num_classes=10, size=32)
    load_dataset("cifar10", "train", root=root)
    class_dir = root / "train" / "class_0000"
    shutil.copy(class_dir / "00000.png", class_dir / "extra.png")
    assert len(load_dataset("cifar10", "train", root=root)) == 11
    assert len(list((fresh_data_root / "cache").glob("cifar10-train-*.pt"))) == 2


def test_cifar100_imagefolder(image_tree) -> None:
    root = image_tree("cifar100", {"train": 1, "test": 1}, num_classes=100, size=32)
    train = load_dataset("cifar100", "train", root=root, augment=True)
    assert len(train) == 100 and train[0][0].shape == (3, 32, 32)
    assert load_dataset("cifar100", "test", root=root, tensor_cache=False).labels.max() == 99


def test_wrong_class_count_is_rejected(image_tree) -> None:
    root = image_tree("cifar10", {"train": 1}, num_classes=3, size=32)
    with pytest.raises(DataIntegrityError, match="has 3 class folders, CIFAR-10 has 10"):
        load_dataset("cifar10", "train", root=root)


def test_wrong_image_size_is_rejected(image_tree) -> None:
    root = image_tree("cifar10", {"train": 1}, num_classes=10, size=16)
    with pytest.raises(DataIntegrityError, match="16x16, CIFAR-10 images are 32x32"):
        load_dataset("cifar10", "train", root=root, tensor_cache=False)


def test_missing_cifar10_names_every_place_looked(fresh_data_root: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", "test")
    message = str(info.value)
    assert "$BSNN_CIFAR10_DIR: not set" in message
    assert str(fresh_data_root / "cifar10") in message
    assert str(fresh_data_root / "cache" / "cifar-10-batches-py") in message
    assert "How to get it" in message


def test_missing_split_folder_is_named(image_tree) -> None:
    root = image_tree("cifar10", {"train": 1}, num_classes=10, size=32)
    with pytest.raises(DatasetNotFoundError, match="test-lossless-1k"):
        load_dataset("cifar10", "test-lossless-1k", root=root)


# ----------------------------------------------------------------------------------- ImageNet


def test_imagenet_imagefolder_train_and_val(image_tree, monkeypatch) -> None:
    root = image_tree("imagenet", {"train": 1, "val": 1}, num_classes=1000, size=20, suffix=".jpg")
    monkeypatch.setenv("BSNN_IMAGENET_DIR", str(root))
    train = load_dataset("imagenet", "train", augment=True)
    test = load_dataset("imagenet", "test")
    assert len(train) == len(test) == 1000
    assert train[0][0].shape == test[999][0].shape == (3, 224, 224)
    assert test[999][1] == 999


def test_missing_imagenet_says_how_to_get_it(fresh_data_root: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="BSNN_IMAGENET_DIR"):
        load_dataset("imagenet", "train")


# -------------------------------------------------------------------- subsets and loaders


def test_calibration_indices_are_fixed_sorted_and_in_range() -> None:
    first = calibration_indices("mnist", 500, seed=3)
    assert first == calibration_indices("mnist", 500, seed=3)
    assert first == sorted(set(first)) and len(first) == 500
    assert 0 <= first[0] and first[-1] < 60000
    assert first != calibration_indices("mnist", 500, seed=4)
    with pytest.raises(ValueError, match="must be in 1..1500"):
        calibration_indices("digits", 1501)


def test_calibration_subset_is_unaugmented_train_data() -> None:
    subset = calibration_subset("digits", 64, seed=1)
    train = load_dataset("digits", "train")
    indices = calibration_indices("digits", 64, seed=1)
    assert len(subset) == 64
    assert all(torch.equal(subset[k][0], train[i][0]) for k, i in enumerate(indices))


def test_evenly_spaced_takes_evenly_spaced_items() -> None:
    test = load_dataset("digits", "test")
    sub = evenly_spaced(test, 10)
    assert len(sub) == 10 and sub.indices == [i * len(test) // 10 for i in range(10)]
    assert sub[9][1] == test[sub.indices[9]][1]
    assert evenly_spaced(test, None) is test and evenly_spaced(test, 10_000) is test


def test_make_loader_order_depends_only_on_seed() -> None:
    train = load_dataset("digits", "train")

    def labels(seed: int) -> list[int]:
        return next(iter(make_loader(train, 32, shuffle=True, seed=seed)))[1].tolist()

    assert labels(0) == labels(0) != labels(1)
    assert next(iter(make_loader(train, 4)))[1].tolist() == train.labels[:4].tolist()


def test_validation_split_is_fixed_disjoint_from_training_and_calibration(bsnn_env: Path) -> None:
    from bsnn_lib.data import training_indices, validation_indices

    val = validation_indices("digits", 1500)
    assert val == validation_indices("digits", 1500)  # no seed: the same everywhere
    assert len(val) == 300 and val[:3] == [0, 5, 10]
    val = validation_indices("cifar10", 50000)
    assert len(val) == 5000 and val[:3] == [0, 10, 20]
    train = training_indices("cifar10", 50000, holdout=True)
    assert len(train) == 45000 and not set(train) & set(val)
    calib = calibration_indices("cifar10", 2000, 0, num_train=50000, holdout=True)
    assert not set(calib) & set(val)
    assert len(load_dataset("mnist", "val")) == 5000
