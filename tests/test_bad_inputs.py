"""Every bad input is caught up front with a one-line message that says what to do, and a
converted network is hard to misuse (issue: bring your own model)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from _nets import build, make_data
from torch import nn

import bsnn_lib as bsnn
from bsnn_lib.cli import main
from bsnn_lib.data import DatasetNotFoundError, load_dataset

REPO = Path(__file__).resolve().parent.parent
EVAL = ["evaluate", "--dataset", "digits", "--arch", "vgg-tiny", "--no-progress"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--T", "0"], "argument --T: must be at least 1, got 0"),
        (["--T", "-5"], "argument --T: must be at least 1, got -5"),
        (["--n-test", "0"], "argument --n-test: must be at least 1, got 0"),
        (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
        (["--calib-size", "0"], "argument --calib-size: must be at least 1, got 0"),
        (["--calib-size", "99999"], "--calib-size 99999 is larger than the digits train split (1500 images)"),
        (["--split", "tset"], "dataset 'digits' has no split 'tset'"),
        (["--method", "rate", "--K", "4"], "['K'] do not apply to method 'rate'"),
    ],
)
def test_bad_evaluate_arguments_fail_in_one_line_before_any_training(fresh_data_root, capsys, extra, message):
    assert main(EVAL + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (fresh_data_root / "checkpoints").exists(), "nothing may be trained for a bad argument"


def test_help_says_evenly_spaced_and_shows_defaults(capsys):
    assert main(["evaluate", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "N evenly spaced test images, or all (default: 1000)" in out
    assert "time steps (default: 256)" in out and "first N" not in out


def _net_and_data():
    model = build("vgg")
    ds, loader = make_data(model, n=32)
    return model, ds, loader


def test_non_finite_pixels_are_refused_by_simulate_and_by_the_network():
    model, ds, loader = _net_and_data()
    snn = bsnn.convert(model, loader, "rate")
    x, y = ds.tensors
    for bad_value in (float("nan"), float("inf")):
        bad = x.clone()
        bad[0, 0, 0, 0] = bad_value
        with pytest.raises(ValueError, match="NaN or infinite"):
            bsnn.simulate(snn, [(bad, y)], 16, progress=False)
        with pytest.raises(ValueError, match="NaN or infinite"):
            snn(bad, T=8)


def test_a_wrong_input_shape_names_both_shapes():
    model, ds, loader = _net_and_data()
    snn = bsnn.convert(model, loader, "bsnn", K=4)
    with pytest.raises(ValueError, match=r"shape \(1, 8, 8\).*shape \(1, 28, 28\)"):
        snn(torch.zeros(2, 1, 28, 28), T=16)


def test_non_global_adaptive_pooling_is_refused_at_conversion():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 10)
    )
    with pytest.raises(bsnn.UnsupportedLayerError, match=r"'2' \(AdaptiveAvgPool2d\(2\)\).*global"):
        bsnn.convert(model, [torch.randn(8, 1, 8, 8)], "rate")


def test_calibration_takes_any_iterable_of_batches_and_the_network_runs_on_a_batch():
    model, ds, loader = _net_and_data()
    from_loader = bsnn.convert(model, loader, "bsnn", K=4)
    from_list = bsnn.convert(model, [b for b in loader], "bsnn", K=4)  # a list of (x, y) batches
    from_tensors = bsnn.convert(model, (x for x, _ in loader), "bsnn", K=4)  # a generator of tensors
    for other in (from_list, from_tensors):
        for a, b in zip(from_loader.neurons(), other.neurons()):
            torch.testing.assert_close(a.threshold, b.threshold)
    x = ds.tensors[0][:5]
    with pytest.raises(TypeError, match=r"snn\(x, T=\.\.\.\).*first answer comes at t = 13"):
        from_loader(x)
    preds = from_loader(x, T=20)
    assert preds.shape == (20, 5) and (preds[:12] == -1).all() and (preds[-1] >= 0).all()
    again = from_loader(x, T=20)  # no state is left behind between calls
    assert torch.equal(preds, again)
    with torch.enable_grad():  # gradients on: simulate still works (no leftover state to copy)
        res = bsnn.simulate(from_loader, loader, 20, progress=False)
    assert res.correct[-1] > 0


def test_T_below_the_pipeline_fill_warns_where_the_first_answer_comes():
    model, ds, loader = _net_and_data()
    snn = bsnn.convert(model, loader, "bsnn", K=8)
    with pytest.warns(UserWarning, match=r"T=16 ends before.*first answer comes at t = 25"):
        snn(ds.tensors[0][:2], T=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snn(ds.tensors[0][:2], T=25)


def test_bits_input_needs_the_normalization_and_nothing_else_does():
    model, ds, loader = _net_and_data()
    bsnn.convert(model, loader, "phase", K=4)  # no mean/std needed
    with pytest.raises(bsnn.ConversionError, match="input_coding='bits' needs mean= and std="):
        bsnn.convert(model, loader, "phase", K=4, input_coding="bits")
    bsnn.convert(model, loader, "phase", K=4, input_coding="bits", mean=(0.0,), std=(1.0,))


def test_the_trainer_takes_any_module():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10))
    data = load_dataset("digits", "train")
    model, history = bsnn.fit(model, data, epochs=2, lr=1e-2, batch_size=64, progress=False)
    assert len(history) == 2 and history[-1]["accuracy"] > 0.5
    snn = bsnn.convert(model, [data[i][0][None] for i in range(64)], "rate")
    assert snn.num_layers == 1


def test_an_empty_cifar_copy_says_what_a_copy_needs(monkeypatch, tmp_path, fresh_data_root):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("BSNN_CIFAR10_DIR", str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", "test")
    msg = str(info.value)
    assert "has no folders" in msg and "train/<class>/<image> and test/<class>/<image>" in msg
    assert "test-lossless-1k/ optional" in msg and "BSNN_CIFAR10_DIR" in msg
    for k in range(10):
        (empty / "test" / f"c{k}").mkdir(parents=True)  # class folders without images
    with pytest.raises(DatasetNotFoundError, match="Found no valid file"):
        load_dataset("cifar10", "test")


def test_a_corrupt_checkpoint_is_moved_aside_with_one_consistent_message(fresh_data_root, tiny_config, caplog):
    from bsnn_lib.train import load_or_train

    load_or_train(tiny_config, progress=False)
    path = tiny_config.checkpoint_path()
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level("WARNING"):
        load_or_train(tiny_config, progress=False)
    text = caplog.text
    assert "moved it to" in text and "retraining" in text and "Delete it" not in text


def test_ctrl_c_before_the_first_epoch_ends_promises_no_resume(fresh_data_root, tiny_config):
    from bsnn_lib import train as train_module

    def interrupt(*_a, **_k):
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "train_epoch", interrupt)
        with pytest.raises(KeyboardInterrupt, match="no epoch had finished, so nothing was saved"):
            train_module.train(tiny_config, progress=False)


def test_two_concurrent_trainings_of_one_config_train_it_once(tmp_path):
    env = dict(
        os.environ,
        BSNN_DATA_ROOT=str(tmp_path / "root"),
        BSNN_PRETRAINED="0",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO),
    )
    cmd = [
        sys.executable,
        "-m",
        "bsnn_lib",
        "train",
        "--dataset",
        "digits",
        "--arch",
        "vgg-tiny",
        "--epochs",
        "60",
        "--no-progress",
    ]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "root" / "checkpoints"
    deadline = time.time() + 60
    while not (lock.is_dir() and any(p.suffix == ".lock" for p in lock.iterdir())) and time.time() < deadline:
        time.sleep(0.1)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    out1, err1 = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, err1 + second.stderr
    trained = [o for o in (out1, second.stdout) if o.startswith("checkpoint") and "loaded from cache" not in o]
    assert len(trained) == 1, (out1, second.stdout)
    assert "loaded from cache" in second.stdout and "waiting for it" in second.stderr
