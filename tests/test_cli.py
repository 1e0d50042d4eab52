"""Command line: help, the train subcommand, and clean errors (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bsnn_lib.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAIN_DIGITS = [
    "train",
    "--dataset",
    "digits",
    "--arch",
    "vgg-tiny",
    "--epochs",
    "2",
    "--train-subset",
    "256",
    "--device",
    "cpu",
    "--no-progress",
]


def test_module_help_lists_subcommands_and_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bsnn_lib", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert "train" in result.stdout and "examples:" in result.stdout
    assert "python -m bsnn_lib train --dataset mnist --arch vgg-small" in result.stdout


def test_train_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--dataset" in out and "--train-subset" in out and "vgg-small" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "train" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--arch", "alexnet", "invalid choice: 'alexnet' (choose from 'vgg-tiny'"),
        ("--dataset", "svhn", "invalid choice: 'svhn' (choose from 'mnist'"),
    ],
)
def test_unknown_names_exit_2_with_message(fresh_data_root, capsys, option, value, message) -> None:
    argv = ["train", "--dataset", "digits", "--arch", "vgg-tiny", "--no-progress"]
    argv[argv.index(option) + 1] = value
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_option_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(TRAIN_DIGITS + ["--optimizer", "rmsprop"]) == 2
    assert "invalid choice: 'rmsprop'" in capsys.readouterr().err


def test_train_then_cache_hit(fresh_data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(TRAIN_DIGITS) == 0
    first = capsys.readouterr().out
    assert f"checkpoint: {fresh_data_root / 'checkpoints'}" in first
    assert "test accuracy:" in first and "% (digits test)" in first
    assert "loaded from cache" not in first
    assert main(TRAIN_DIGITS) == 0
    assert "loaded from cache" in capsys.readouterr().out


def test_evaluate_writes_tables_params_and_plot(
    bsnn_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ev"
    args = [
        "evaluate",
        "--dataset",
        "digits",
        "--arch",
        "vgg-tiny",
        "--method",
        "bsnn",
        "--K",
        "4",
        "--T",
        "40",
        "--n-test",
        "64",
        "--calib-size",
        "200",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "T within 1% of the ANN" in printed and str(out) in printed
    for name in (
        "accuracy_vs_t.csv",
        "sin.csv",
        "energy.csv",
        "latency.csv",
        "params.json",
        "accuracy_vs_t.png",
        "accuracy_vs_t.pdf",
    ):
        assert (out / name).is_file(), name
    import pandas as pd

    acc = pd.read_csv(out / "accuracy_vs_t.csv")
    assert list(acc.columns[:6]) == ["dataset", "arch", "method", "t", "accuracy", "ann_accuracy"]
    assert {"K", "residual", "sn", "offphase"} <= set(acc.columns) and len(acc) == 40
    sin = pd.read_csv(out / "sin.csv")
    assert list(sin.columns[:7]) == ["dataset", "arch", "method", "layer", "t", "sin_neuron_rate", "sin_spike_share"]
    assert main(args) == 0  # second call: from the simulation cache
    assert "cached" in capsys.readouterr().out


def test_evaluate_rejects_a_bad_method_option(bsnn_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["evaluate", "--dataset", "digits", "--arch", "vgg-tiny", "--method", "bsnn", "--K", "40", "--no-progress"]
        )
        == 2
    )
    assert "K=40: must be in [1, 16]" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "digits", "--arch", "vgg-tiny", "--K", "4", "--no-progress"]) == 2
    assert "['K'] do not apply to method 'rate'" in capsys.readouterr().err
