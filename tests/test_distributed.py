"""Data-parallel evaluation gives exactly the single-process acc(t); DDP training saves a
checkpoint that the rest of the library loads. Two gloo CPU processes under torchrun."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bsnn_lib.data import evenly_spaced, load_dataset
from bsnn_lib.distributed import merge_results, shard_batches, shard_loader
from bsnn_lib.experiments import build_snn, cell, test_loader
from bsnn_lib.methods import method_config
from bsnn_lib.simulate import simulate
from bsnn_lib.train import load_or_train

REPO = Path(__file__).resolve().parent.parent
TRAIN = {"epochs": 3, "train_subset": 600}
N_TEST, BATCH, T = 90, 16, 32  # 6 batches, the last one short
COUNT_FIELDS = (
    "neurons",
    "spikes",
    "inactive",
    "sin_neurons",
    "sin_spikes",
    "inactive_q",
    "sin_neurons_q",
    "sin_spikes_q",
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ddp-root")


@pytest.fixture
def env(root, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BSNN_DATA_ROOT", str(root))
    return root


@pytest.fixture
def one_thread():
    """The reference runs with the threads of one torchrun rank (OMP_NUM_THREADS=1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cell(method: str = "bsnn", **opts):
    return cell(
        "digits",
        "vgg-tiny",
        method_config(method, **opts),
        T,
        train=TRAIN,
        n_test=N_TEST,
        batch_size=BATCH,
        calib_size=200,
    )


def _torchrun(*args: str, timeout: int = 120) -> str:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "bsnn_lib",
        *args,
        "--device",
        "cpu",
        "--no-progress",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.parametrize("mode", ["strided", "contiguous"])
@pytest.mark.parametrize("n, bs, world", [(90, 16, 2), (90, 16, 4), (32, 16, 3), (1, 8, 2), (100, 10, 7)])
def test_shards_are_whole_batches_of_the_single_loader_and_cover_it_once(mode, n, bs, world):
    single = [list(range(b, min(b + bs, n))) for b in range(0, n, bs)]
    shards = [shard_batches(n, bs, r, world, mode) for r in range(world)]
    assert sorted(b for s in shards for b in s) == single
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    if mode == "contiguous":
        assert [b for s in shards for b in s] == single


@pytest.mark.parametrize("method, opts", [("bsnn", {"K": 4}), ("rate", {"percentile": 99.9}), ("phase", {"K": 4})])
def test_merged_shards_equal_the_single_process_result(env, one_thread, method, opts):
    load_or_train(_cell().train_config(), progress=False)  # the checkpoint the ranks will load
    c = _cell(method, **opts)
    snn, _ = build_snn(c, progress=False)
    single = simulate(snn, test_loader("digits", N_TEST, BATCH), T, progress=False)
    data = evenly_spaced(load_dataset("digits", "test"), N_TEST)
    parts = [simulate(snn, shard_loader(data, BATCH, r, 4, "strided"), T, progress=False) for r in range(4)]
    orders = [[i for b in shard_batches(N_TEST, BATCH, r, 4, "strided") for i in b] for r in range(4)]
    merged = merge_results(parts, orders)
    assert merged.n == single.n == N_TEST
    np.testing.assert_array_equal(merged.per_image, single.per_image)  # back in image order
    np.testing.assert_array_equal(merged.ann_per_image, single.ann_per_image)
    np.testing.assert_array_equal(merged.correct, single.correct)
    np.testing.assert_array_equal(merged.answered, single.answered)
    assert (merged.ann_correct, merged.qann_correct) == (single.ann_correct, single.qann_correct)
    assert merged.extra["shard_n"] == [32, 26, 16, 16]  # batches 0+4, 1+5 (short), 2, 3
    assert merged.layer_sums.keys() == single.layer_sums.keys()
    for key, s in single.layer_sums.items():
        for field, value in s.items():
            if field in COUNT_FIELDS:
                assert merged.layer_sums[key][field] == value, (key, field)
            else:
                assert merged.layer_sums[key][field] == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert single.correct[-1] > 0.5 * N_TEST


def test_torchrun_evaluate_on_two_ranks_equals_one_process_exactly(env, one_thread, tmp_path):
    load_or_train(_cell().train_config(), progress=False)
    c = _cell("bsnn", K=4)
    snn, _ = build_snn(c, progress=False)
    single = simulate(snn, test_loader("digits", N_TEST, BATCH), T, progress=False)
    out = tmp_path / "ddp-eval"
    stdout = _torchrun(
        "evaluate",
        "--dataset",
        "digits",
        "--arch",
        "vgg-tiny",
        "--epochs",
        str(TRAIN["epochs"]),
        "--train-subset",
        str(TRAIN["train_subset"]),
        "--method",
        "bsnn",
        "--K",
        "4",
        "--T",
        str(T),
        "--n-test",
        str(N_TEST),
        "--batch-size",
        str(BATCH),
        "--calib-size",
        "200",
        "--out",
        str(out),
    )
    assert "2 ranks" in stdout
    counts = pd.read_csv(out / "counts.csv")
    assert list(counts.t) == list(range(1, T + 1)) and (counts.n == N_TEST).all()
    np.testing.assert_array_equal(counts.correct.to_numpy(), single.correct)
    np.testing.assert_array_equal(counts.answered.to_numpy(), single.answered)
    acc = pd.read_csv(out / "accuracy_vs_t.csv")
    np.testing.assert_array_equal(acc.accuracy.to_numpy(), single.correct / N_TEST)
    assert (out / "sin.csv").is_file() and (out / "latency.csv").is_file()


def test_torchrun_train_ddp_saves_a_checkpoint_the_library_loads(env):
    stdout = _torchrun(
        "train", "--dataset", "digits", "--arch", "vgg-tiny", "--epochs", "2", "--train-subset", "256", "--seed", "1"
    )
    digests = re.findall(r"rank (\d)/2: params ([0-9a-f]{16})", stdout)
    assert len(digests) == 2 and digests[0][1] == digests[1][1], stdout  # ranks hold one model
    import dataclasses

    from bsnn_lib.train import default_config

    config = dataclasses.replace(default_config("digits", "vgg-tiny"), epochs=2, train_subset=256, seed=1)
    model, meta = load_or_train(config, progress=False)
    assert meta["loaded_from_cache"] and meta["ddp_world_size"] == 2 and meta["epochs_done"] == 2
    assert meta["test_accuracy"] > 0.2
    assert not Path(f"{config.checkpoint_path()}.partial").exists()
