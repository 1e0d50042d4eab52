"""Training: configs, learning, checkpoint cache, resume equality, corrupt-checkpoint recovery."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from bsnn_lib import train as train_module
from bsnn_lib.checkpoints import load_checkpoint
from bsnn_lib.data import UnknownDatasetError, load_dataset, make_loader
from bsnn_lib.models import UnknownArchError
from bsnn_lib.train import (
    DEFAULT_CONFIGS,
    EpochStats,
    InvalidConfigError,
    TrainConfig,
    default_config,
    evaluate_ann,
    load_or_train,
    train,
)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    state_a, state_b = a.state_dict(), b.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


# ---------------------------------------------------------------------------------- configs


def test_config_key_and_path(fresh_data_root: Path, tiny_config: TrainConfig) -> None:
    assert tiny_config.key() == TrainConfig.from_dict(tiny_config.to_dict()).key()
    assert dataclasses.replace(tiny_config, width=1).key() == tiny_config.key()  # 1 == 1.0
    assert dataclasses.replace(tiny_config, seed=1).key() != tiny_config.key()
    assert tiny_config.checkpoint_path() == (
        fresh_data_root / "checkpoints" / f"digits-vgg-tiny-{tiny_config.key()}.pt"
    )


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"arch": "alexnet"}, UnknownArchError, "unknown architecture 'alexnet'"),
        ({"dataset": "svhn"}, UnknownDatasetError, "unknown dataset 'svhn'"),
        ({"optimizer": "rmsprop"}, InvalidConfigError, "optimizer 'rmsprop'"),
        ({"schedule": "step"}, InvalidConfigError, "schedule 'step'"),
        ({"epochs": 0}, InvalidConfigError, "epochs must be >= 1"),
        ({"lr": -1.0}, InvalidConfigError, "lr must be > 0"),
    ],
)
def test_invalid_configs_are_rejected(tiny_config, change, error, message) -> None:
    with pytest.raises(error, match=message):
        dataclasses.replace(tiny_config, **change)


def test_default_configs() -> None:
    mnist = default_config("mnist", "vgg-small")
    assert (mnist.optimizer, mnist.lr, mnist.epochs) == ("adam", 1e-3, 3)
    cifar = default_config("cifar10", "vgg16")
    assert (cifar.optimizer, cifar.nesterov, cifar.width) == ("sgd", True, 0.25)
    assert cifar.schedule == "onecycle"
    assert all(config == default_config(*pair) for pair, config in DEFAULT_CONFIGS.items())
    assert default_config("fashion-mnist", "resnet-small").epochs == mnist.epochs


# --------------------------------------------------------------------------------- training


def test_vgg_tiny_learns_digits(fresh_data_root: Path) -> None:
    config = default_config("digits", "vgg-tiny")
    model, meta = train(config, device="cpu", progress=False)
    # measured 0.95-0.96 for seeds 0-3 (chance is 0.10); 0.90 leaves a margin for CPU variation
    assert meta["test_accuracy"] > 0.90
    assert meta["epochs_done"] == config.epochs and meta["loaded_from_cache"] is False
    assert not model.training and Path(meta["checkpoint_path"]).is_file()
    assert not Path(f"{meta['checkpoint_path']}.partial").exists()
    loader = make_loader(load_dataset("digits", "test"), 128)
    assert evaluate_ann(model, loader, "cpu") == pytest.approx(meta["test_accuracy"])


def test_checkpoint_contents(fresh_data_root: Path, tiny_config: TrainConfig) -> None:
    model, _ = train(tiny_config, device="cpu", progress=False)
    state = load_checkpoint(tiny_config.checkpoint_path())
    assert state["config"] == tiny_config.to_dict()
    expected = {"test_accuracy", "train_seconds", "epochs_done", "torch_version", "date"}
    assert expected <= set(state["metadata"])
    assert {"optimizer", "scheduler", "rng", "epochs_done"} <= set(state["resume"])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state["model_state"].items())


def test_cache_hit_does_not_train(fresh_data_root, tiny_config, monkeypatch) -> None:
    trained, first = load_or_train(tiny_config, device="cpu", progress=False)
    monkeypatch.setattr(train_module, "train", _fail_training)
    cached, second = load_or_train(tiny_config, device="cpu", progress=False)
    assert (first["loaded_from_cache"], second["loaded_from_cache"]) == (False, True)
    assert second["test_accuracy"] == first["test_accuracy"]
    assert _same_weights(trained, cached) and not cached.training


def _fail_training(*args: object, **kwargs: object) -> None:
    raise AssertionError("load_or_train trained although a valid checkpoint exists")


class _Interrupt(Exception):
    """Simulates a crash / Ctrl-C right after an epoch's resume file was written."""


def _interrupt_after_first_epoch(stats: EpochStats) -> None:
    if stats.epoch == 0:
        raise _Interrupt


def test_interrupted_run_resumes_to_identical_weights(tmp_path, monkeypatch, tiny_config) -> None:
    config = dataclasses.replace(tiny_config, epochs=3, augment=True, schedule="onecycle", optimizer="sgd", lr=0.05)
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "uninterrupted"))
    reference, reference_meta = train(config, device="cpu", progress=False)

    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "interrupted"))
    with pytest.raises(_Interrupt):
        train(config, device="cpu", progress=False, on_epoch_end=_interrupt_after_first_epoch)
    partial = Path(f"{config.checkpoint_path()}.partial")
    assert load_checkpoint(partial)["resume"]["epochs_done"] == 1
    epochs_run: list[int] = []
    resumed, resumed_meta = train(
        config, device="cpu", progress=False, on_epoch_end=lambda stats: epochs_run.append(stats.epoch)
    )
    assert epochs_run == [1, 2]
    assert _same_weights(reference, resumed)
    assert resumed_meta["test_accuracy"] == reference_meta["test_accuracy"]
    assert not partial.exists()


def test_unusable_partial_file_restarts_from_scratch(fresh_data_root, tiny_config, caplog) -> None:
    partial = Path(f"{tiny_config.checkpoint_path()}.partial")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"garbage")
    epochs_run: list[int] = []
    with caplog.at_level(logging.WARNING):
        train(tiny_config, device="cpu", progress=False, on_epoch_end=lambda stats: epochs_run.append(stats.epoch))
    assert epochs_run == [0, 1] and "ignoring unusable resume file" in caplog.text


def test_corrupt_checkpoint_is_moved_aside_and_retrained(fresh_data_root, tiny_config, caplog) -> None:
    _, first = load_or_train(tiny_config, device="cpu", progress=False)
    path = tiny_config.checkpoint_path()
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        _, second = load_or_train(tiny_config, device="cpu", progress=False)
    assert second["loaded_from_cache"] is False
    assert "sha256 does not match" in caplog.text and "retraining" in caplog.text
    assert Path(f"{path}.corrupt").read_bytes() == bytes(raw)
    assert load_checkpoint(path)["metadata"]["test_accuracy"] == first["test_accuracy"]


def test_resume_without_rng_restore_would_diverge(tmp_path, monkeypatch, tiny_config) -> None:
    """Control for the resume test: the data order really depends on the restored RNG state."""
    config = dataclasses.replace(tiny_config, epochs=2)
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "uninterrupted"))
    reference, _ = train(config, device="cpu", progress=False)
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "interrupted"))
    with pytest.raises(_Interrupt):
        train(config, device="cpu", progress=False, on_epoch_end=_interrupt_after_first_epoch)
    monkeypatch.setattr(train_module, "_restore_rng", lambda state, generator: None)
    resumed, _ = train(config, device="cpu", progress=False)
    assert not _same_weights(reference, resumed)


def test_a_checkpoint_written_before_a_config_field_existed_still_loads(fresh_data_root, tiny_config):
    """Fields added later (holdout, precision) are absent from older files: they take their
    defaults, so the file is the same config and is not retrained."""
    from bsnn_lib.checkpoints import save_checkpoint

    train_module.load_or_train(tiny_config, progress=False)
    path = tiny_config.checkpoint_path()
    state = load_checkpoint(path)
    for late in ("holdout", "precision"):
        state["config"].pop(late)
    save_checkpoint(path, state)
    _, meta = train_module.load_or_train(tiny_config, progress=False)
    assert meta["loaded_from_cache"] and path.is_file() and not path.with_suffix(".pt.corrupt").exists()
