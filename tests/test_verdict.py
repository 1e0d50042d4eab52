"""The verdict protocol on the test profile: selection and report never share images, every
reported latency has an interval, and the verdict follows from the ratio interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsnn_lib.experiments import test_loader
from bsnn_lib.profiles import load_profile
from bsnn_lib.verdict import load_curves, run_verdict, verdict_spec


@pytest.fixture(scope="module")
def verdict(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdict")
    mp = pytest.MonkeyPatch()
    mp.setenv("BSNN_DATA_ROOT", str(root / "data"))
    mp.setenv("BSNN_PRETRAINED", "0")
    try:
        yield run_verdict(load_profile("test"), out_dir=root / "out", progress=False), root / "out"
    finally:
        mp.undo()


def test_selection_images_are_disjoint_from_the_report_images(verdict):
    sel = test_loader("digits", 100, 64, "test", exclude_n=150)
    rep = test_loader("digits", 150, 64, "test")
    sel_idx = set(sel.dataset.dataset.indices[i] for i in sel.dataset.indices)
    rep_idx = set(rep.dataset.indices)
    assert len(sel_idx) == 100 and len(rep_idx) == 150 and not sel_idx & rep_idx


def test_each_family_has_one_chosen_variant_with_the_best_selection_score(verdict):
    tables, _ = verdict
    sel = tables["selection"]
    assert sel.groupby("family")["chosen"].sum().tolist() == [1, 1, 1, 1]
    assert set(sel.loc[sel.family == "bsnn", "variant"]) == {
        "bsnn K=3",
        "bsnn K=4",
        "bsnn K=3 nearest",
        "bsnn K=4 nearest",
    }
    assert (sel["n_images"] == 100).all()


def test_reported_latencies_have_intervals_and_censoring(verdict):
    tables, out = verdict
    lat = tables["latency"]
    assert set(lat["family"]) == {"rate", "rate-classic", "bsnn", "bsnn-double"} and (lat["n_images"] == 150).all()
    for _, r in lat.iterrows():
        if r["t_1pct_censored"]:
            assert r["t_1pct_text"].startswith("> ")
        else:
            assert r["t_1pct_lo"] <= r["t_1pct"] <= (np.inf if r["t_1pct_hi_censored"] else r["t_1pct_hi"])
    b = lat[lat.family == "bsnn"].iloc[0]
    assert b["fill"] > 1 and b["L_times_K"] > 0
    curves = load_curves(out / "curves" / "digits-vgg-tiny-bsnn.npz")
    assert curves.correct.shape == (150, int(b["T"]))
    np.testing.assert_allclose(curves.correct[:, -1].mean(), b["final_accuracy"])


def test_the_verdict_follows_from_the_ratio_interval(verdict):
    tables, _ = verdict
    for _, r in tables["ratios"].iterrows():
        expected = (
            "holds"
            if r["lo"] >= 4 and r["denominator_censored_share"] <= 0.025
            else "does not hold"
            if r["hi"] < 4 and r["denominator_censored_share"] <= 0.025
            else "undetermined"
        )
        assert r["verdict"] == expected
    on_disk = pd.read_csv(verdict[1] / "verdict.csv")
    assert set(on_disk["baseline"]) == {"rate-classic", "rate"}
    assert set(on_disk["bsnn_family"]) == {"bsnn", "bsnn-double"} and len(on_disk) == 2 * 2 * 2


def test_cli_runs_one_net_and_keeps_the_rows_of_the_others(verdict, tmp_path, capsys):
    from bsnn_lib.cli import main

    out = tmp_path / "v"
    out.mkdir()
    pd.DataFrame([{"net": "other-net", "baseline": "rate", "tolerance": "1pct", "verdict": "holds"}]).to_csv(
        out / "verdict.csv", index=False
    )
    argv = ["verdict", "--profile", "test", "--nets", "digits-vgg-tiny", "--out", str(out), "--no-progress"]
    assert main([*argv, "--figures-dir", str(tmp_path / "figs")]) == 0
    for name in ("04_verdict_1pct", "04_verdict_0p5pct", "04_accuracy_curves"):
        assert (tmp_path / "figs" / f"{name}.png").is_file() and (tmp_path / "figs" / f"{name}.json").is_file()
    printed = capsys.readouterr().out
    assert "t_1pct_text" in printed and f"results: {out}" in printed
    table = pd.read_csv(out / "verdict.csv")
    assert set(table["net"]) == {"other-net", "digits-vgg-tiny"}
    fresh = table[table.net == "digits-vgg-tiny"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        fresh[["baseline", "bsnn_family", "tolerance", "verdict"]],
        verdict[0]["verdict"][["baseline", "bsnn_family", "tolerance", "verdict"]].reset_index(drop=True),
    )


def test_cli_names_an_unknown_net(verdict, capsys):
    from bsnn_lib.cli import main

    assert main(["verdict", "--profile", "test", "--nets", "cifar10-vgg16"]) == 2
    err = capsys.readouterr().err
    assert "cifar10-vgg16" in err and "digits-vgg-tiny" in err


def test_load_summary_and_figures_from_the_written_tables(verdict):
    import matplotlib

    matplotlib.use("Agg")
    from bsnn_lib import analysis, plots
    from bsnn_lib.verdict import load_verdict

    tables, out = verdict
    found = load_verdict(out)
    assert found is not None and load_verdict(out / "nowhere") is None
    pd.testing.assert_frame_equal(found["ratios"], pd.read_csv(out / "ratios.csv"))
    assert set(found["curves"]["digits-vgg-tiny"]) == {"rate", "rate-classic", "bsnn", "bsnn-double"}
    summary = analysis.verdict_summary(found)
    assert len(summary) == len(tables["ratios"])
    assert list(summary["verdict (vs 4x)"]) == list(tables["ratios"]["verdict"])
    lat = tables["latency"].set_index("family")
    first = tables["ratios"].iloc[0]
    assert summary["T_bsnn"].iloc[0] == lat.loc[first["bsnn_family"], f"t_{first['tolerance']}_text"]
    for fig in (
        plots.plot_verdict(found["latency"], found["ratios"]),
        plots.plot_verdict_curves(found["curves"], found["latency"]),
    ):
        assert fig.axes


def test_a_net_can_override_its_images_and_a_familys_horizon(verdict):
    import dataclasses

    from bsnn_lib.verdict import _horizon, _select_cell, verdict_spec

    prof = load_profile("test")
    net = {"dataset": "digits", "arch": "vgg-tiny", "select": {"n": 40}, "T": {"rate": 24}}
    raw = {**prof.verdict, "nets": [net]}
    spec = verdict_spec(raw)
    m = spec.family("rate").variants()[0]
    c = _select_cell(spec, net, m, 24, "select")
    assert (c.n_test, c.split) == (40, "test") and _select_cell(spec, net, m, 24, "report").n_test == 150
    assert _horizon(spec, spec.family("rate"), net, m, "cpu")[0] == 24
    assert _horizon(spec, spec.family("rate-classic"), net, m, "cpu")[0] == 48
    b = spec.family("bsnn").variants()[0]
    T4, fill = _horizon(spec, spec.family("bsnn"), net, b, "cpu")  # the section's 4 frames
    T9, _ = _horizon(spec, spec.family("bsnn"), {**net, "bsnn_frames": 9}, b, "cpu")
    assert T4 == fill - 1 + 4 * 2 * b.K and T9 - T4 == 5 * 2 * b.K
    with pytest.raises(ValueError, match="bsnn_frame"):
        verdict_spec({**raw, "nets": [{**net, "bsnn_frame": 16}]})  # a typo
    for bad in (0, 1.5, None, "16"):
        with pytest.raises(ValueError, match="bsnn_frames"):
            verdict_spec({**raw, "nets": [{**net, "bsnn_frames": bad}]})
        with pytest.raises(ValueError, match="bsnn_frames"):  # the section's own, too
            verdict_spec({**raw, "nets": [net], "bsnn_frames": bad})
    with pytest.raises(ValueError, match="nowhere"):
        verdict_spec({**raw, "nets": [{**net, "T": {"nowhere": 5}}]})
    assert dataclasses.replace(prof, verdict=raw).verdict["nets"][0]["select"] == {"n": 40}


def test_a_net_can_replace_grid_entries_of_a_family():
    from bsnn_lib.verdict import _families, verdict_spec

    prof = load_profile("test")
    net = {"dataset": "digits", "arch": "vgg-tiny", "grid": {"rate": {"v_init": [0.5]}}}
    spec = verdict_spec({**prof.verdict, "nets": [net]})
    plain = spec.family("rate").variants()
    own = next(f for f in _families(spec, net) if f.name == "rate").variants()
    assert {m.v_init for m in plain} != {0.5} and {m.v_init for m in own} == {0.5}
    assert len(own) < len(plain) and set(own) <= set(plain)
    assert spec.family("rate").variants() == plain  # the section's family is unchanged
    with pytest.raises(ValueError, match="nowhere"):
        verdict_spec({**prof.verdict, "nets": [{**net, "grid": {"nowhere": {"K": [3]}}}]})
    with pytest.raises(ValueError):
        verdict_spec({**prof.verdict, "nets": [{**net, "grid": {"rate": {"no_such_option": [1]}}}]})


def test_a_peer_joins_the_latency_table_and_ratios_but_not_the_verdict(verdict, tmp_path, monkeypatch, capsys):
    """A peer's curves (e.g. few-spike conversion through SpikingJelly) on the same report images
    become a latency row and T(peer) / T(BSNN) ratios marked ``peer``; the verdict table is that
    of the families alone. Curves on other images are refused with a note."""
    import dataclasses

    from bsnn_lib.verdict import curves_npz

    tables, out = verdict
    monkeypatch.setenv("BSNN_DATA_ROOT", str(out.parent / "data"))  # the fixture's cells: cached
    monkeypatch.setenv("BSNN_PRETRAINED", "0")
    rate = load_curves(out / "curves" / "digits-vgg-tiny-rate.npz")
    peer = tmp_path / "peer"
    (peer / "curves").mkdir(parents=True)
    fill = 9  # a one-frame peer: its answer is complete at step 9
    correct = np.zeros((rate.n, fill), dtype=bool)
    correct[:, -1] = rate.correct[:, -1]
    (peer / "curves" / "digits-vgg-tiny-fs.npz").write_bytes(curves_npz(correct, rate.ann))
    pd.DataFrame([{"variant": "fs K=3 fitted", "chosen": True}, {"variant": "fs K=2", "chosen": False}]).to_csv(
        peer / "report.csv", index=False
    )
    profile = load_profile("test")
    profile = dataclasses.replace(profile, verdict={**profile.verdict, "peers": {"fs": str(peer)}})
    got = run_verdict(profile, out_dir=tmp_path / "v", progress=False)
    row = got["latency"].set_index("family").loc["fs"]
    assert row["variant"] == "fs K=3 fitted (peer)" and row["fill"] == fill and row["T"] == fill
    assert row["final_accuracy"] == pytest.approx(rate.correct[:, -1].mean())
    peer_ratios = got["ratios"][got["ratios"]["baseline"] == "fs"]
    assert len(peer_ratios) == 2 * 2 and set(peer_ratios["verdict"]) == {"peer"}  # 2 BSNN families x 2 tolerances
    pd.testing.assert_frame_equal(got["verdict"], tables["verdict"])
    assert (tmp_path / "v" / "curves" / "digits-vgg-tiny-fs.npz").is_file()

    other = curves_npz(correct, ~rate.ann)  # another set of images: refused
    (peer / "curves" / "digits-vgg-tiny-fs.npz").write_bytes(other)
    got = run_verdict(profile, out_dir=tmp_path / "w", progress=False)
    assert "fs" not in set(got["latency"]["family"]) and "not on this net's report images" in capsys.readouterr().out

    own = tmp_path / "own"  # a net's own peers folder takes the place of the section's for that net
    (own / "curves").mkdir(parents=True)
    (own / "curves" / "digits-vgg-tiny-fs.npz").write_bytes(curves_npz(correct, rate.ann))
    nets = [{**n, "peers": {"fs": str(own)}} for n in profile.verdict["nets"]]
    profile = dataclasses.replace(profile, verdict={**profile.verdict, "nets": nets})
    got = run_verdict(profile, out_dir=tmp_path / "x", progress=False)
    assert got["latency"].set_index("family").loc["fs", "fill"] == fill
    bad = [{**n, "peers": ["fs"]} for n in profile.verdict["nets"]]
    with pytest.raises(ValueError, match="peers"):
        verdict_spec({**profile.verdict, "nets": bad})
