"""The benchmark grid: tidy CSVs, resume without re-simulating, atomic parts, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import bsnn_lib.experiments as experiments
import bsnn_lib.grid as grid
from bsnn_lib.grid import TABLES, cell_part_dir, grid_cells, run_grid

PROFILE = """\
name: tiny-grid
description: test grid (digits, vgg-tiny, 2 methods)
device: cpu
T: 16
n_test: 32
calib_size: 100
batch_size: 16
nets:
  - {dataset: digits, arch: vgg-tiny, train: {epochs: 2, train_subset: 512}}
methods:
  - {method: rate, percentile: 99.9}
  - {method: bsnn, K: 4}
"""
N_CELLS, T, N_TEST = 2, 16, 32


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    """A profile file, a data root and one finished grid run shared by the module."""
    base = tmp_path_factory.mktemp("grid")
    profile = base / "tiny-grid.yaml"
    profile.write_text(PROFILE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BSNN_DATA_ROOT", str(base / "root"))
        tables = run_grid(profile, out_dir=base / "out", progress=False)
    return {"base": base, "profile": profile, "out": base / "out", "tables": tables}


@pytest.fixture
def data_root(workspace, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BSNN_DATA_ROOT", str(workspace["base"] / "root"))
    return workspace["base"] / "root"


def _csvs(out: Path) -> dict[str, bytes]:
    return {name: (out / f"{name}.csv").read_bytes() for name in TABLES}


def _frames_without_timing(out: Path) -> dict[str, pd.DataFrame]:
    frames = {name: pd.read_csv(out / f"{name}.csv") for name in TABLES}
    frames["latency"] = frames["latency"].drop(columns=["sim_seconds"])
    return frames


def test_grid_writes_the_tidy_tables_and_params(workspace):
    out, tables = workspace["out"], workspace["tables"]
    for name in TABLES:
        assert (out / f"{name}.csv").is_file(), name
        pd.testing.assert_frame_equal(experiments.read_table(out / f"{name}.csv"), tables[name])
    acc = tables["accuracy_vs_t"]
    assert len(acc) == N_CELLS * T
    assert list(acc.columns[:6]) == ["dataset", "arch", "method", "t", "accuracy", "ann_accuracy"]
    assert set(acc.method) == {"rate", "bsnn"}
    assert (acc.groupby("label").t.apply(list) == [list(range(1, T + 1))] * N_CELLS).all()
    assert (tables["latency"].n_images == N_TEST).all()
    assert str(tables["latency"].t_within_1pct.dtype) == "Int64"
    params = json.loads((out / "params.json").read_text())
    assert params["complete"] and params["cells_done"] == params["cells_total"] == N_CELLS
    assert params["profile"]["name"] == "tiny-grid" and "torch" in params["run"]
    parts = sorted(p.name for p in (out / "cells").iterdir())
    assert len(parts) == N_CELLS and not any(p.startswith(".") for p in parts)


def test_the_combined_csvs_equal_a_direct_write_of_all_cells(workspace, data_root, tmp_path):
    results = [experiments.run_cell(c, progress=False) for c in grid_cells(workspace["profile"])]
    assert all(r.from_cache for r in results)
    experiments.write_tables(experiments.result_tables(results), tmp_path)
    assert _csvs(tmp_path) == _csvs(workspace["out"])


def test_a_cell_without_statistics_is_served_by_its_cached_twin_with_them(workspace, data_root, monkeypatch):
    import dataclasses

    cached = [experiments.run_cell(c, progress=False) for c in grid_cells(workspace["profile"])]
    real = experiments.simulate
    lean = [dataclasses.replace(r.cell, stats=False) for r in cached]
    monkeypatch.setattr(experiments, "simulate", lambda *_a, **_k: pytest.fail("a cached twin was simulated again"))
    served = [experiments.run_cell(c, progress=False) for c in lean]
    for full, r in zip(cached, served):
        assert r.from_cache and r.cell.stats is False and r.result.layer_sums == {} and r.result.qann_correct is None
        assert full.result.layer_sums  # the twin had statistics; the answer drops them
        assert (r.result.correct == full.result.correct).all()
        assert (r.result.per_image == full.result.per_image).all()
    monkeypatch.setattr(experiments, "simulate", real)
    # and a fresh simulation without statistics gives the same answer as the twin
    fresh = experiments.run_cell(lean[0], progress=False, use_cache=False)
    assert (fresh.result.per_image == served[0].result.per_image).all() and fresh.result.layer_sums == {}


def test_a_second_run_skips_finished_cells(workspace, data_root, monkeypatch):
    before = _csvs(workspace["out"])

    def forbidden(*_a, **_k):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(grid, "run_cell", forbidden)
    monkeypatch.setattr(experiments, "simulate", forbidden)
    monkeypatch.setattr(experiments, "build_snn", forbidden)
    run_grid(workspace["profile"], out_dir=workspace["out"], progress=False)
    assert _csvs(workspace["out"]) == before  # rebuilding from the parts is byte-identical


class _Interrupt(Exception):
    pass


class _BreakingLoader:
    """Yields the first batch of a loader, then raises: an interruption inside a simulation."""

    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        it = iter(self.loader)
        yield next(it)
        raise _Interrupt("killed in the middle of a cell")


def test_an_interrupted_cell_leaves_no_partial_part_and_the_rerun_completes(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "fresh-root"))  # no cached simulations
    out = tmp_path / "out"
    stale = out / "cells" / ".tmp-digits-left-over.abc"
    stale.mkdir(parents=True)
    (stale / "accuracy_vs_t.csv").write_text("half a row")
    real_simulate, calls = experiments.simulate, []

    def simulate_then_die(snn, loader, T, **kw):
        calls.append(snn.cfg.method)
        if len(calls) == 2:  # the second cell dies after its first batch
            loader = _BreakingLoader(loader)
        return real_simulate(snn, loader, T, **kw)

    monkeypatch.setattr(experiments, "simulate", simulate_then_die)
    with pytest.raises(_Interrupt):
        run_grid(workspace["profile"], out_dir=out, progress=False)
    cells = grid_cells(workspace["profile"])
    assert cell_part_dir(out, cells[0]).is_dir()
    assert not cell_part_dir(out, cells[1]).exists()
    assert [p.name for p in (out / "cells").iterdir()] == [cell_part_dir(out, cells[0]).name]
    params = json.loads((out / "params.json").read_text())
    assert not params["complete"] and params["cells_done"] == 1
    assert len(pd.read_csv(out / "accuracy_vs_t.csv")) == T  # only the finished cell

    monkeypatch.setattr(experiments, "simulate", real_simulate)
    run_grid(workspace["profile"], out_dir=out, progress=False)
    assert json.loads((out / "params.json").read_text())["complete"]
    for name, df in _frames_without_timing(out).items():
        pd.testing.assert_frame_equal(df, _frames_without_timing(workspace["out"])[name])


def test_a_failure_while_writing_a_part_leaves_nothing_behind(workspace, data_root, tmp_path, monkeypatch):
    real_rename, out = grid.os.rename, tmp_path / "out"

    def rename_fails(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(grid.os, "rename", rename_fails)
    with pytest.raises(OSError, match="disk full"):
        run_grid(workspace["profile"], out_dir=out, progress=False)
    assert list((out / "cells").iterdir()) == []
    monkeypatch.setattr(grid.os, "rename", real_rename)
    run_grid(workspace["profile"], out_dir=out, progress=False)
    assert len(list((out / "cells").iterdir())) == N_CELLS


def test_the_output_is_identical_across_runs(workspace, tmp_path, monkeypatch):
    """Retrain, recalibrate and resimulate from scratch: same tables (wall time aside)."""
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "another-root"))
    monkeypatch.setattr(experiments, "_ANN_CACHE", {})
    monkeypatch.setattr(experiments, "_LAMBDA_CACHE", {})
    run_grid(workspace["profile"], out_dir=tmp_path / "out", progress=False, use_cache=False)
    again, first = _frames_without_timing(tmp_path / "out"), _frames_without_timing(workspace["out"])
    for name in TABLES:
        pd.testing.assert_frame_equal(again[name], first[name], check_exact=True)


def test_bench_subcommand(workspace, data_root, tmp_path, capsys):
    from bsnn_lib.cli import main

    assert (
        main(
            [
                "bench",
                "--profile",
                str(workspace["profile"]),
                "--out",
                str(workspace["out"]),
                "--no-progress",
                "--engine",
                "reference",
            ]
        )
        == 0
    )
    assert "latency.csv" in capsys.readouterr().out
    assert main(["bench", "--profile", "no-such-profile"]) == 2
    assert "no profile" in capsys.readouterr().err
