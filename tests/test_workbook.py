"""The notebook series runs headless (papermill, ``test`` profile) and writes its figures and tables.

One module-scoped run executes all four notebooks on sklearn's digits with the tiny nets, into
temporary folders (never the committed figures/ or results/); the tests then inspect what it
wrote. Checkpoints and simulation caches go to a temporary ``BSNN_DATA_ROOT``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from bsnn_lib import workbook as wb
from bsnn_lib.profiles import ProfileError


@pytest.fixture(scope="module")
def workbook_run(tmp_path_factory: pytest.TempPathFactory):
    """Run the whole series once with the ``test`` profile; yield its output folders."""
    root = tmp_path_factory.mktemp("workbook")
    mp = pytest.MonkeyPatch()
    mp.setenv("BSNN_DATA_ROOT", str(root / "data"))
    dirs = {"runs": root / "runs", "figures": root / "figures", "results": root / "results"}
    try:
        executed = wb.run_workbook("test", out_dir=dirs["runs"], figures_dir=dirs["figures"],
                                   results_dir=dirs["results"], progress=False)
        yield {**dirs, "executed": executed}
    finally:
        mp.undo()


def _bad_notebook(path: Path) -> Path:
    """A tiny notebook: a parameters cell, a cell that works, a cell that raises."""
    params = nbformat.v4.new_code_cell('profile: str = "quick"\nfigures_dir: str = "."')
    params.metadata["tags"] = ["parameters"]
    book = nbformat.v4.new_notebook(cells=[
        params,
        nbformat.v4.new_code_cell("x = 1 + 1"),
        nbformat.v4.new_code_cell("raise ValueError('boom in the third cell')"),
        nbformat.v4.new_code_cell("y = 2"),
    ])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, path)
    return path


# ------------------------------------------------------------------------------ the whole series


def test_every_notebook_executes_in_order(workbook_run):
    names = [p.stem for p in workbook_run["executed"]]
    assert names == list(wb.NOTEBOOKS)
    for path in workbook_run["executed"]:
        assert path.parent == workbook_run["runs"] / "test"
        book = nbformat.read(path, as_version=4)
        errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{path.stem}: {errors[0]['ename']}"
        injected = [c for c in book.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and 'profile = "test"' in injected[0].source
        assert str(workbook_run["figures"]) in injected[0].source


@pytest.mark.parametrize("notebook", wb.NOTEBOOKS)
def test_each_notebook_writes_its_figures(workbook_run, notebook):
    figs = workbook_run["figures"]
    for name in wb.EXPECTED_FIGURES[notebook]:
        for ext in ("png", "pdf", "json"):
            path = figs / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
        meta = json.loads((figs / f"{name}.json").read_text())
        assert meta["figure"] == name and meta["profile"] == "test" and meta["notebook"] == notebook
        assert {"dataset", "arch", "T", "n_images", "date", "git_commit", "methods"} <= set(meta)
    assert not list(figs.glob("*.tmp")) and not list(figs.glob(".*"))


def test_benchmarks_write_one_accuracy_figure_per_net(workbook_run):
    for arch in ("vgg-tiny", "resnet-tiny"):
        assert (workbook_run["figures"] / f"04_accuracy_digits_{arch}.png").is_file()


@pytest.mark.parametrize("notebook", wb.NOTEBOOKS)
def test_each_notebook_writes_its_tables(workbook_run, notebook):
    out = workbook_run["results"] / notebook
    for name in wb.EXPECTED_TABLES[notebook]:
        path = out / name
        assert path.is_file(), path
        if path.suffix == ".csv":
            assert not pd.read_csv(path).empty, path
    params = json.loads((out / "params.json").read_text())
    assert params["profile"] == "test" and params["notebook"] == notebook


def test_tables_carry_the_measurements(workbook_run):
    res = workbook_run["results"]
    grid = pd.read_csv(res / "04_benchmarks" / "latency.csv")
    assert set(grid["method"]) == {"rate", "phase", "bsnn"}
    assert {"t_within_1pct", "t_within_0p5pct", "ann_accuracy", "variant"} <= set(grid.columns)
    exact = pd.read_csv(res / "02_bistable_neurons" / "exactness.csv")
    clear = exact[exact["residual"] == "clear"].iloc[0]
    assert clear["equal_to_qann_T"]  # method.md §5: clear mode equals the quantized ANN
    layers = pd.read_csv(res / "03_shortcut_sync" / "layers.csv")
    assert (layers["kind"] == "relay").sum() >= 1
    claim = pd.read_csv(res / "04_benchmarks" / "claim.csv")
    assert len(claim) == 2 and claim["claim_holds"].dtype == bool


# ----------------------------------------------------------------------------------- failures


def test_a_failing_notebook_names_the_notebook_and_the_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "data"))
    bad = _bad_notebook(tmp_path / "99_broken.ipynb")
    with pytest.raises(wb.WorkbookError) as info:
        wb.run_workbook("test", notebooks=[bad], out_dir=tmp_path / "runs", figures_dir=tmp_path / "f",
                        results_dir=tmp_path / "r", progress=False)
    msg = str(info.value)
    assert "99_broken" in msg and "ValueError" in msg and "boom in the third cell" in msg
    # cells: parameters (0), injected parameters (1), x = 1 + 1 (2), the raising cell (3)
    assert "cell 3" in msg
    assert (tmp_path / "runs" / "test" / "99_broken.ipynb").is_file()  # the traceback is kept


def test_the_cli_returns_non_zero_when_a_notebook_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "data"))
    bad = _bad_notebook(tmp_path / "98_broken.ipynb")
    status = wb.main(["--profile", "test", "--only", str(bad), "--out", str(tmp_path / "runs"),
                      "--figures-dir", str(tmp_path / "f"), "--results-dir", str(tmp_path / "r"),
                      "--no-progress"])
    assert status == 1
    assert "98_broken" in capsys.readouterr().err


def test_unknown_selection_or_profile_fails_before_any_kernel(tmp_path):
    with pytest.raises(wb.WorkbookError, match="07"):
        wb.run_workbook("test", notebooks=["07"], out_dir=tmp_path)
    with pytest.raises(ProfileError, match="no-such-profile"):
        wb.run_workbook("no-such-profile", out_dir=tmp_path)


def test_the_workbook_parser_follows_the_cli_pattern():
    parser = argparse.ArgumentParser()
    wb.add_workbook_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["workbook", "--profile", "quick", "--only", "01,03", "--device", "cpu"])
    assert args.handler is wb.run_workbook_command
    assert (args.profile, args.only, args.device, args.out) == ("quick", "01,03", "cpu", "runs")
    assert [p.stem for p in wb._select(["01", "03"])] == ["01_sin_analysis", "03_shortcut_sync"]


# ------------------------------------------------------------------------ helpers on small frames


def _latency(rows):
    cols = ["dataset", "arch", "split", "method", "variant", "sn", "ann_accuracy", "final_accuracy",
            "t_within_1pct", "T"]
    df = pd.DataFrame(rows, columns=cols)
    df["t_within_1pct"] = df["t_within_1pct"].astype("Int64")
    return df


def test_the_claim_is_computed_from_the_latency_table():
    deep = [("c", "deep", "s", "bsnn", "bsnn K=8", True, 0.9, 0.899, 40, 512),
            ("c", "deep", "s", "rate", "rate", False, 0.9, 0.85, None, 512),
            ("c", "deep", "s", "phase", "phase K=8", False, 0.9, 0.895, 200, 512)]
    shallow = [("m", "small", "s", "bsnn", "bsnn K=8", True, 0.99, 0.99, 33, 128),
               ("m", "small", "s", "bsnn", "bsnn K=8 no-SN", False, 0.99, 0.99, 2, 128),
               ("m", "small", "s", "rate", "rate v0=0.5", False, 0.99, 0.99, 4, 128)]
    tab = wb.claim_table(_latency(deep + shallow)).set_index("arch")
    assert tab.loc["deep", "claim_holds"] and tab.loc["deep", "speedup"] == 5.0
    assert tab.loc["deep", "best_baseline"] == "phase K=8"
    assert not tab.loc["small", "claim_holds"] and tab.loc["small", "bsnn"] == "bsnn K=8"  # no-SN ignored
    text = wb.claim_verdict(_latency(deep + shallow))
    assert "Claim HOLDS" in text and "Claim DOES NOT HOLD" in text and "1 of 2" in text


def test_peer_csv_is_read_long_or_wide(tmp_path, capsys):
    assert wb.load_peer_csv(tmp_path / "missing.csv") is None
    assert "peer_spikingjelly.py" in capsys.readouterr().out
    wide = tmp_path / "wide.csv"
    pd.DataFrame({"t": [1, 2], "accuracy_ours": [0.5, 0.9], "accuracy_spikingjelly": [0.4, 0.9],
                  "wall_seconds_ours": [1.0, 1.0]}).to_csv(wide, index=False)
    long = wb.load_peer_csv(wide)
    assert set(long["implementation"]) == {"ours", "spikingjelly"} and len(long) == 4
    tidy = tmp_path / "long.csv"
    pd.DataFrame({"t": [1, 1], "accuracy": [0.5, 0.4], "impl": ["ours", "sj"]}).to_csv(tidy, index=False)
    assert set(wb.load_peer_csv(tidy)["implementation"]) == {"ours", "sj"}


def test_neuron_demos_show_sin_for_rate_and_phase_but_not_bsnn():
    summary = wb.demo_summary(wb.neuron_demos(K=4)).set_index(["scenario", "method"])
    for method in ("rate (IF, V(0)=0)", "phase K=4"):
        assert summary.loc[("phase_lead", method), "sin"]
        assert summary.loc[("late_inhibition", method), "sin"]
    assert summary.loc[("phase_lead", "bsnn K=4"), "spikes"] == 0
    assert summary.loc[("phase_lag", "bsnn K=4"), "value_sent"] == pytest.approx(0.75)
