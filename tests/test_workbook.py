"""The notebook series runs headless (papermill, ``test`` profile) and writes its figures and tables.

One module-scoped run executes all four notebooks on sklearn's digits with the tiny nets, into
temporary folders (never the committed figures/ or results/); the tests then inspect what it
wrote. Checkpoints and simulation caches go to a temporary ``BSNN_DATA_ROOT``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from bsnn_lib import analysis
from bsnn_lib import runner as rn
from bsnn_lib import workbook as wb
from bsnn_lib.cli import main
from bsnn_lib.experiments import read_table
from bsnn_lib.profiles import ProfileError


@pytest.fixture(scope="module")
def workbook_run(tmp_path_factory: pytest.TempPathFactory):
    """Run the whole series once with the ``test`` profile; yield its output folders."""
    root = tmp_path_factory.mktemp("workbook")
    mp = pytest.MonkeyPatch()
    mp.setenv("BSNN_DATA_ROOT", str(root / "data"))
    dirs = {"runs": root / "runs", "figures": root / "figures", "results": root / "results"}
    try:
        executed = rn.run_workbook(
            "test", out_dir=dirs["runs"], figures_dir=dirs["figures"], results_dir=dirs["results"], progress=False
        )
        yield {**dirs, "executed": executed}
    finally:
        mp.undo()


def _bad_notebook(path: Path) -> Path:
    """A tiny notebook: a parameters cell, a cell that works, a cell that raises."""
    params = nbformat.v4.new_code_cell('profile: str = "quick"\nfigures_dir: str = "."')
    params.metadata["tags"] = ["parameters"]
    book = nbformat.v4.new_notebook(
        cells=[
            params,
            nbformat.v4.new_code_cell("x = 1 + 1"),
            nbformat.v4.new_code_cell("raise ValueError('boom in the third cell')"),
            nbformat.v4.new_code_cell("y = 2"),
        ]
    )
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, path)
    return path


# ------------------------------------------------------------------------------ the whole series


def test_every_notebook_executes_in_order(workbook_run):
    names = [p.stem for p in workbook_run["executed"]]
    assert names == list(rn.NOTEBOOKS)
    for path in workbook_run["executed"]:
        assert path.parent == workbook_run["runs"] / "test"
        book = nbformat.read(path, as_version=4)
        errors = [
            o
            for c in book.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert not errors, f"{path.stem}: {errors[0]['ename']}"
        injected = [c for c in book.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and 'profile = "test"' in injected[0].source
        assert str(workbook_run["figures"]) in injected[0].source


def _manifest(run, notebook):
    return wb.read_manifest(run["results"], notebook)["outputs"]


@pytest.mark.parametrize("notebook", rn.NOTEBOOKS)
def test_each_notebook_declares_and_writes_its_figures(workbook_run, notebook):
    """The manifest a notebook writes is the one declaration of its outputs: every figure in it
    exists as png, pdf and json, and its sidecar describes the data of that figure."""
    figures = [o for o in _manifest(workbook_run, notebook) if o["kind"] == "figure"]
    assert len(figures) >= 1
    for out in figures:
        assert sorted(Path(f).suffix for f in out["files"]) == [".json", ".pdf", ".png"]
        for f in out["files"]:
            assert Path(f).stat().st_size > 0, f
        meta = json.loads(Path(next(f for f in out["files"] if f.endswith(".json"))).read_text())
        assert meta["figure"] == out["name"] and meta["profile"] == "test" and meta["notebook"] == notebook
        assert {"date", "git_commit"} <= set(meta)
    figs = workbook_run["figures"]
    assert not list(figs.glob("*.tmp")) and not list(figs.glob(".*"))


def test_a_manifest_stores_its_files_relative_to_itself(workbook_run):
    """outputs.json is committed: it must read the same in every clone (no absolute paths)."""
    raw = json.loads((workbook_run["results"] / "01_sin_analysis" / wb.MANIFEST).read_text())
    files = [f for o in raw["outputs"] for f in o["files"]]
    assert files and not any(Path(f).is_absolute() for f in files)
    assert all(Path(f).is_file() for o in _manifest(workbook_run, "01_sin_analysis") for f in o["files"])


def test_figure_sidecars_describe_their_own_data(workbook_run):
    for arch in ("vgg-tiny", "resnet-tiny"):
        meta = json.loads((workbook_run["figures"] / f"04_accuracy_digits_{arch}.json").read_text())
        assert (meta["dataset"], meta["arch"], meta["T"], meta["n_images"]) == ("digits", arch, 48, 64)
        assert "bsnn K=4" in meta["methods"]
    lat = json.loads((workbook_run["figures"] / "04_latency.json").read_text())
    assert sorted(lat["arch"]) == ["resnet-tiny", "vgg-tiny"]
    sn = json.loads((workbook_run["figures"] / "03_bsnn_sn.json").read_text())
    assert sn["arch"] == "resnet-tiny" and all(m.startswith("bsnn") for m in sn["methods"])


@pytest.mark.parametrize("notebook", rn.NOTEBOOKS)
def test_each_notebook_writes_its_tables_once(workbook_run, notebook):
    tables = [f for o in _manifest(workbook_run, notebook) if o["kind"] == "tables" for f in o["files"]]
    assert tables
    for f in tables:
        if f.endswith(".csv"):
            assert not pd.read_csv(f).empty, f
    params = json.loads((workbook_run["results"] / notebook / "params.json").read_text())
    assert params["profile"] == "test" and params["notebook"] == notebook
    # the grid's tables live once, at the top of the profile's results; no notebook copies them
    for f in tables:
        if Path(f).parent == workbook_run["results"] / notebook:
            assert Path(f).name not in ("sin.csv", "energy.csv"), f


def test_the_grid_tables_are_at_the_top_of_the_results(workbook_run):
    res = workbook_run["results"]
    grid = read_table(res / "latency.csv")
    assert set(grid["method"]) == {"rate", "phase", "bsnn"}
    assert {"t_within_1pct", "t_within_0p5pct", "ann_accuracy", "T"} <= set(grid.columns)
    assert grid.loc[grid["method"] == "rate", "K"].isna().all()  # K does not apply to rate coding
    assert (grid.loc[grid["method"] == "bsnn", "K"] == 4).all()
    exact = pd.read_csv(res / "02_bistable_neurons" / "exactness.csv")
    clear = exact[exact["residual"] == "clear"].iloc[0]
    assert clear["equal_to_qann_T"]  # method.md §5: clear mode equals the quantized ANN
    layers = pd.read_csv(res / "03_shortcut_sync" / "layers.csv")
    assert (layers["kind"] == "relay").sum() >= 1
    claim = pd.read_csv(res / "04_benchmarks" / "claim.csv")
    assert len(claim) == 2 and claim["claim_holds"].dtype == bool
    # the test profile's verdict runs inside notebook 04 (in_workbook) and is summarised there
    verdict = pd.read_csv(res / "verdict" / "verdict.csv")
    summary = pd.read_csv(res / "04_benchmarks" / "verdict_summary.csv")
    assert list(summary["verdict (vs 4x)"]) == list(verdict["verdict"])
    for name in ("04_verdict_1pct", "04_verdict_0p5pct", "04_accuracy_curves"):
        assert (workbook_run["figures"] / f"{name}.png").is_file(), name
    # notebook 05: the beyond section (plain/double BSNN on a ReLU and a QCFS net) through the protocol
    beyond = pd.read_csv(res / "05_beyond_the_paper" / "verdict" / "latency.csv")
    assert set(beyond["net"]) == {"digits-vgg-tiny", "digits-vgg-tiny-qcfs"}
    assert set(beyond["family"]) == {"rate", "bsnn", "bsnn-double", "bsnn-mixed", "bsnn-early"}
    assert (workbook_run["figures"] / "05_fill_vs_bits.png").is_file()
    # per-layer bits: the allocation search path is kept, and the chosen bits have the fill of the table
    bits = pd.concat(pd.read_csv(f) for f in (res / "05_beyond_the_paper" / "verdict" / "bits").glob("*.csv"))
    assert (bits.groupby(["net", "start"])["total_bits"].diff().dropna() == -1).all()
    assert (workbook_run["figures"] / "05_bit_allocation.png").is_file()
    # early release: one row per (delta, correction), the fill L*delta + 1, SIN back below delta = K
    rel = pd.read_csv(res / "05_beyond_the_paper" / "release_tradeoff.csv")
    assert sorted(set(rel["release"])) == [1, 2, 3] and set(rel["correction"]) == {"carry", "signed"}
    assert (rel["fill"] == 2 * rel["release"] + 1).all()  # vgg-tiny: 2 spiking layers
    whole = rel[rel["release"] == 3].set_index("correction")
    early = rel[rel["release"] == 1].set_index("correction")
    assert (early["sin_neuron_rate"] > whole["sin_neuron_rate"]).all()
    assert (workbook_run["figures"] / "05_release_tradeoff.png").is_file()
    # notebook 00: a hand-written model through fit / convert / simulate, its fill reported
    byom = pd.read_csv(res / "00_bring_your_own_model" / "summary.csv").set_index("fill_steps")
    assert list(byom.index) == [1, 9] and (byom["ann"] > 0.5).all()  # rate: 1; bsnn K=4, 2 layers + readout


def test_a_cached_bit_search_writes_the_same_path_table(workbook_run, tmp_path, monkeypatch):
    from bsnn_lib.profiles import load_profile
    from bsnn_lib.verdict import _allocation, verdict_spec

    monkeypatch.setenv("BSNN_DATA_ROOT", str(workbook_run["runs"].parent / "data"))  # the run's cache
    spec = verdict_spec(load_profile("test").beyond)
    fam = spec.family("bsnn-mixed")
    first = workbook_run["results"] / "05_beyond_the_paper" / "verdict" / "bits" / "digits-vgg-tiny-bsnn-mixed-K3.csv"
    bits = _allocation(spec, fam, spec.nets[0], fam.variants()[0], 3, "cpu", tmp_path)
    assert (tmp_path / "bits" / first.name).read_bytes() == first.read_bytes()
    assert f'"{bits}"' in first.read_text()  # the chosen allocation, the last row of the path


# ----------------------------------------------------------------------------------- failures


def test_a_failing_notebook_names_the_notebook_and_the_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "data"))
    bad = _bad_notebook(tmp_path / "99_broken.ipynb")
    with pytest.raises(rn.WorkbookError) as info:
        rn.run_workbook(
            "test",
            notebooks=[bad],
            out_dir=tmp_path / "runs",
            figures_dir=tmp_path / "f",
            results_dir=tmp_path / "r",
            progress=False,
        )
    msg = str(info.value)
    assert "99_broken" in msg and "ValueError" in msg and "boom in the third cell" in msg
    # cells: parameters (0), injected parameters (1), x = 1 + 1 (2), the raising cell (3)
    assert "cell 3" in msg
    assert (tmp_path / "runs" / "test" / "99_broken.ipynb").is_file()  # the traceback is kept


def test_the_cli_returns_non_zero_when_a_notebook_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "data"))
    bad = _bad_notebook(tmp_path / "98_broken.ipynb")
    status = main(
        [
            "workbook",
            "--profile",
            "test",
            "--only",
            str(bad),
            "--out",
            str(tmp_path / "runs"),
            "--figures-dir",
            str(tmp_path / "f"),
            "--results-dir",
            str(tmp_path / "r"),
            "--no-progress",
        ]
    )
    assert status == 1
    assert "98_broken" in capsys.readouterr().err


def test_unknown_selection_or_profile_fails_before_any_kernel(tmp_path):
    with pytest.raises(rn.WorkbookError, match="07"):
        rn.run_workbook("test", notebooks=["07"], out_dir=tmp_path)
    with pytest.raises(ProfileError, match="no-such-profile"):
        rn.run_workbook("no-such-profile", out_dir=tmp_path)


def test_the_workbook_selection_takes_prefixes():
    assert [p.stem for p in rn._select(["01", "03"])] == ["01_sin_analysis", "03_shortcut_sync"]


def test_a_manifest_entry_whose_file_is_gone_fails_the_run(tmp_path):
    (tmp_path / "05_x").mkdir()
    (tmp_path / "05_x" / wb.MANIFEST).write_text(
        json.dumps(
            {"notebook": "05_x", "outputs": [{"kind": "figure", "name": "a", "files": [str(tmp_path / "gone.png")]}]}
        )
    )
    with pytest.raises(rn.WorkbookError, match="gone.png"):
        rn._check_manifest("05_x", tmp_path)


# ------------------------------------------------------------------------ helpers on small frames


def _latency(rows):
    cols = [
        "dataset",
        "arch",
        "split",
        "method",
        "variant",
        "sn",
        "ann_accuracy",
        "final_accuracy",
        "t_within_1pct",
        "T",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["t_within_1pct"] = df["t_within_1pct"].astype("Int64")
    return df


def test_the_claim_is_computed_from_the_latency_table():
    deep = [
        ("c", "deep", "s", "bsnn", "bsnn K=8", True, 0.9, 0.899, 40, 512),
        ("c", "deep", "s", "rate", "rate", False, 0.9, 0.85, None, 512),
        ("c", "deep", "s", "phase", "phase K=8", False, 0.9, 0.895, 200, 512),
    ]
    shallow = [
        ("m", "small", "s", "bsnn", "bsnn K=8", True, 0.99, 0.99, 33, 128),
        ("m", "small", "s", "bsnn", "bsnn K=8 no-SN", False, 0.99, 0.99, 2, 128),
        ("m", "small", "s", "rate", "rate v0=0.5", False, 0.99, 0.99, 4, 128),
        # beyond the paper: same role, but not the paper's claim
        ("m", "small", "s", "bsnn-double", "bsnn-double K=8", True, 0.99, 0.99, 3, 128),
    ]
    tab = analysis.claim_table(_latency(deep + shallow)).set_index("arch")
    assert tab.loc["deep", "claim_holds"] and tab.loc["deep", "speedup"] == 5.0
    assert tab.loc["deep", "best_baseline"] == "phase K=8"
    assert not tab.loc["small", "claim_holds"] and tab.loc["small", "bsnn"] == "bsnn K=8"  # no-SN, double ignored
    wider = analysis.claim_table(_latency(shallow), bsnn_methods=("bsnn", "bsnn-double")).set_index("arch")
    assert wider.loc["small", "bsnn"] == "bsnn-double K=8"
    only_double = [r for r in shallow if r[3] != "bsnn"]
    assert "bsnn, with SN" in analysis.claim_verdict(_latency(only_double))
    assert analysis.claim_table(_latency(only_double), "bsnn-double").loc[0, "bsnn"] == "bsnn-double K=8"
    text = analysis.claim_verdict(_latency(deep + shallow))
    assert "Claim HOLDS" in text and "Claim DOES NOT HOLD" in text and "1 of 2" in text


def test_peer_csv_is_read_long_or_wide(tmp_path, capsys):
    assert wb.benchmarks.load_peer_csv(tmp_path / "missing.csv") is None
    assert "peer_spikingjelly.py" in capsys.readouterr().out
    wide = tmp_path / "wide.csv"
    pd.DataFrame(
        {"t": [1, 2], "accuracy_ours": [0.5, 0.9], "accuracy_spikingjelly": [0.4, 0.9], "wall_seconds_ours": [1.0, 1.0]}
    ).to_csv(wide, index=False)
    long = wb.benchmarks.load_peer_csv(wide)
    assert set(long["implementation"]) == {"ours", "spikingjelly"} and len(long) == 4
    tidy = tmp_path / "long.csv"
    pd.DataFrame({"t": [1, 1], "accuracy": [0.5, 0.4], "impl": ["ours", "sj"]}).to_csv(tidy, index=False)
    assert set(wb.benchmarks.load_peer_csv(tidy)["implementation"]) == {"ours", "sj"}


def test_neuron_demos_show_sin_for_rate_and_phase_but_not_bsnn():
    summary = analysis.demo_summary(wb.sin.neuron_demos(K=4)).set_index(["scenario", "method"])
    for method in ("rate (IF, V(0)=0)", "phase K=4"):
        assert summary.loc[("phase_lead", method), "sin"]
        assert summary.loc[("late_inhibition", method), "sin"]
    assert summary.loc[("phase_lead", "bsnn K=4"), "spikes"] == 0
    assert summary.loc[("phase_lag", "bsnn K=4"), "value_sent"] == pytest.approx(0.75)


def test_the_sin_explorer_redraws_when_a_control_changes(tmp_path):
    """Drive the ipywidgets explorer in a real kernel: change the method, the figure changes."""
    import nbformat
    from nbclient import NotebookClient

    code = """
import io, pandas as pd
from bsnn_lib import plots
rows = []
for v, scale in (("a", 0.1), ("b", 0.9)):
    for t in (1, 2, 3):
        rows.append(dict(variant=v, layer="l1", depth=1, t=t, sin_neuron_rate=scale * t / 3, sin_neuron_rate_q=0.0,
                         sin_spike_share=0.0, sin_spike_share_q=0.0, spikes_per_neuron=1.0, rel_error=0.1,
                         err_sin_share=0.2, err_clip_share=0.3, err_rest_share=0.5))
box = plots.sin_explorer(pd.DataFrame(rows))
method, layer, t = box.children[0].children
def drawn():
    return list(box.last["figure"].axes[0].lines[0].get_ydata()), float(box.last["row"]["sin_neuron_rate"].iloc[0])
before = drawn()
method.value = "b"
after = drawn()
t.value = 2
at2 = drawn()
assert abs(before[1] - 0.1) < 1e-9 and abs(after[1] - 0.9) < 1e-9 and before[0] != after[0], (before, after)
assert abs(at2[1] - 0.6) < 1e-9
print("EXPLORER-OK")
"""
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(book, timeout=120, kernel_name="python3").execute()
    outputs = book.cells[0].outputs
    assert any("EXPLORER-OK" in o.get("text", "") for o in outputs), outputs
