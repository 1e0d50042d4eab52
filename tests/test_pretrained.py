"""Shipped weights: checksummed, described, verified on load; a damaged file is an error."""

from __future__ import annotations

import json

import pytest

from bsnn_lib import pretrained
from bsnn_lib.checkpoints import CorruptCheckpointError, load_checkpoint
from bsnn_lib.train import TrainConfig, train
from bsnn_lib.train_config import TrainConfig as Config


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    mp = pytest.MonkeyPatch()
    mp.setenv("BSNN_DATA_ROOT", str(root / "data"))
    try:
        config = TrainConfig("digits", "vgg-tiny", epochs=1, train_subset=128)
        _, meta = train(config, device="cpu", progress=False)
        out = root / "shipped"
        written = pretrained.add([meta["checkpoint_path"]], directory=out)
        yield config, out, written[0]
    finally:
        mp.undo()


def test_add_writes_the_file_without_resume_state_and_describes_it(shipped):
    config, out, path = shipped
    assert path.name == config.checkpoint_path().name
    state = load_checkpoint(path)
    assert "resume" not in state and state["config"] == config.to_dict()
    index = json.loads((out / "index.json").read_text())
    assert index[path.name]["metadata"]["epochs_done"] == 1
    assert path.name in (out / "MODEL_CARD.md").read_text()
    pretrained.verify(path)
    assert pretrained.find(path.name, directory=out) == path


def test_a_damaged_file_fails_verification(shipped, tmp_path):
    _, out, path = shipped
    bad = tmp_path / path.name
    bad.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 1]))
    (tmp_path / "SHA256SUMS").write_text((out / "SHA256SUMS").read_text())
    with pytest.raises(CorruptCheckpointError, match="sha256"):
        pretrained.verify(bad)
    (tmp_path / "SHA256SUMS").write_text("")
    with pytest.raises(CorruptCheckpointError, match="not listed"):
        pretrained.verify(bad)


def test_shipping_can_be_switched_off(shipped, monkeypatch):
    _, out, path = shipped
    monkeypatch.setenv(pretrained.ENV, "0")
    assert pretrained.find(path.name, directory=out) is None


def test_every_committed_weight_file_verifies_and_is_named_by_its_config():
    sums = (pretrained.PRETRAINED_DIR / "SHA256SUMS").read_text().split()[1::2]
    assert sums, "data/pretrained ships no weights"
    for name in sums:
        path = pretrained.PRETRAINED_DIR / name
        pretrained.verify(path)
        config = Config.from_dict(load_checkpoint(path)["config"])
        assert path.name == f"{config.dataset}-{config.arch}-{config.key()}.pt"


def test_the_model_card_names_each_nets_activation():
    meta = {"epochs_done": 1, "test_accuracy": 0.9}
    base = {"dataset": "digits", "arch": "vgg-tiny", "width": 1.0}
    card = pretrained.model_card(
        {
            "old.pt": {"config": base, "metadata": meta},  # written before the option: ReLU
            "q.pt": {"config": {**base, "activation": "qcfs", "qcfs_levels": 7}, "metadata": meta},
        }
    )
    rows = {
        line.split("|")[1].strip(): line.split("|")[3].strip() for line in card.splitlines() if line.startswith("| `")
    }
    assert rows == {"`old.pt`": "relu", "`q.pt`": "qcfs (L = 7)"}
