"""Verified atomic checkpoint files and config keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bsnn_lib.checkpoints import (
    CorruptCheckpointError,
    config_key,
    load_checkpoint,
    save_checkpoint,
)
from bsnn_lib.io import atomic_writer


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, dict]:
    """A checkpoint file and the state written to it."""
    state = {
        "weights": torch.randn(64, 3),
        "config": {"lr": 0.1, "arch": "vgg-tiny"},
        "metadata": {"test_accuracy": 0.97, "epochs_done": 3},
    }
    path = tmp_path / "ckpt" / "model.pt"
    save_checkpoint(path, state)
    return path, state


def test_config_key_is_stable_and_order_independent() -> None:
    key = config_key({"a": 1, "b": [1, 2], "c": None})
    assert key == config_key({"c": None, "b": [1, 2], "a": 1})
    assert len(key) == 16 and int(key, 16) >= 0
    assert key != config_key({"a": 2, "b": [1, 2], "c": None})
    assert config_key({"lr": 0.001}) == "d368ce5a6807cfa3"  # frozen: changing it orphans caches


def test_round_trip(saved: tuple[Path, dict]) -> None:
    path, state = saved
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], state["weights"])
    assert loaded["config"] == state["config"] and loaded["metadata"] == state["metadata"]
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp files left


def test_failed_write_keeps_the_old_file(saved: tuple[Path, dict]) -> None:
    path, _ = saved
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_writer(path) as handle:
            handle.write(b"half")
            raise RuntimeError("disk full")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[: len(raw) // 2], "truncated write"),
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 0xFF]), "sha256 does not match"),
        (lambda raw: b"NOTACKPT" + raw[8:], "bad magic"),
        (lambda raw: b"", "shorter than the header"),
        (lambda raw: raw[:8] + (99).to_bytes(4, "little") + raw[12:], "format version 99"),
        (lambda raw: raw + b"extra", "header says"),
    ],
    ids=["truncated", "flipped-byte", "magic", "empty", "version", "appended"],
)
def test_damaged_files_are_detected(saved: tuple[Path, dict], damage, reason: str) -> None:
    path, _ = saved
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptCheckpointError, match=reason) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "Delete it" in str(info.value)


def test_non_dict_payload_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    save_checkpoint(path, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(CorruptCheckpointError, match="not a dict"):
        load_checkpoint(path)


def test_missing_file_is_not_corruption(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")
