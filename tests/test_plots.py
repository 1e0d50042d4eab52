"""plots: save_fig writes png/pdf/json atomically; the plot functions draw small synthetic tables."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bsnn_lib import plots  # noqa: E402
from bsnn_lib.workbook.sin import neuron_demos  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _acc(labels=("rate p=99.9 v0=0.5", "phase K=8", "bsnn K=8"), T=32, ann=0.98):
    rows = []
    for i, lab in enumerate(labels):
        for t in range(1, T + 1):
            rows.append(
                {
                    "label": lab,
                    "variant": lab,
                    "t": t,
                    "accuracy": ann * (1 - np.exp(-t / (3 + 4 * i))),
                    "ann_accuracy": ann,
                    "qann_accuracy": ann - 0.001 if "bsnn" in lab else None,
                    "K": 4 + 2 * i,
                }
            )
    return pd.DataFrame(rows)


def _sin(labels=("rate p=99.9 v0=0", "bsnn K=8")):
    rows = []
    for lab in labels:
        for t in (8, 16):
            for depth, layer in enumerate(("features.2", "features.5", "sn_add_0"), start=1):
                share = np.array([0.2, 0.1, 0.7])
                rows.append(
                    {
                        "label": lab,
                        "variant": lab,
                        "layer": layer,
                        "depth": depth,
                        "kind": "relay" if layer.startswith("sn_") else "neuron",
                        "t": t,
                        "sin_neuron_rate": 0.0 if "bsnn" in lab else 0.05 * depth,
                        "sin_neuron_rate_q": 0.0,
                        "rel_error": 0.1 * depth,
                        "err_sin_share": share[0],
                        "err_clip_share": share[1],
                        "err_rest_share": share[2],
                    }
                )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- save_fig


def test_save_fig_writes_png_pdf_and_json(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = plots.save_fig(fig, "demo", tmp_path / "out", {"profile": "test", "T": 16, "methods": ["a", "b"]})
    assert [p.name for p in paths] == ["demo.png", "demo.pdf", "demo.json"]
    assert (tmp_path / "out" / "demo.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "demo.pdf").read_bytes()[:4] == b"%PDF"
    meta = json.loads((tmp_path / "out" / "demo.json").read_text())
    assert meta["profile"] == "test" and meta["T"] == 16 and meta["methods"] == ["a", "b"]
    assert meta["figure"] == "demo" and "date" in meta and "git_commit" in meta
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo.json", "demo.pdf", "demo.png"]


def test_save_fig_gives_the_same_png_and_pdf_bytes_on_every_run(tmp_path, monkeypatch):
    import time as _time

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    plots.save_fig(fig, "demo", tmp_path / "a", {})
    real = _time.time
    monkeypatch.setattr(_time, "time", lambda: real() + 86400 * 400)  # a year later
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(real()) + 86400 * 400))
    plots.save_fig(fig, "demo", tmp_path / "b", {})
    for ext in ("png", "pdf"):
        assert (tmp_path / "a" / f"demo.{ext}").read_bytes() == (tmp_path / "b" / f"demo.{ext}").read_bytes(), ext


def test_save_fig_is_atomic_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    plots.save_fig(fig, "demo", tmp_path, {"version": 1})
    old_pdf = (tmp_path / "demo.pdf").read_bytes()
    real = Figure.savefig

    def failing(self, fname, *a, **kw):
        if kw.get("format") == "pdf":
            with open(fname, "wb") as fh:
                fh.write(b"half a pdf")
            raise OSError("disk full")
        return real(self, fname, *a, **kw)

    monkeypatch.setattr(Figure, "savefig", failing)
    with pytest.raises(OSError, match="disk full"):
        plots.save_fig(fig, "demo", tmp_path, {"version": 2})
    assert (tmp_path / "demo.pdf").read_bytes() == old_pdf  # never half-written
    assert json.loads((tmp_path / "demo.json").read_text())["version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.json", "demo.pdf", "demo.png"]  # no temp left


def test_save_fig_json_handles_numpy_and_nan(tmp_path):
    fig, _ = plt.subplots()
    plots.save_fig(fig, "n", tmp_path, {"n": np.int64(3), "x": np.float32(0.5), "nan": float("nan")})
    meta = json.loads((tmp_path / "n.json").read_text())
    assert meta["n"] == 3 and meta["x"] == 0.5 and meta["nan"] is None


# ---------------------------------------------------------------------------------- plot kinds


def test_label_palette_groups_methods_by_family():
    pal = plots.label_palette(["rate a", "rate b", "bsnn K=8", "my variant"])
    assert len(pal) == 4 and pal["rate a"] != pal["rate b"]
    assert plots.method_family("bsnn-rate K=8") == "bsnn-rate"


def test_accuracy_vs_t_has_ann_line_and_one_curve_per_label():
    fig = plots.plot_accuracy_vs_t(_acc(), qann=True)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "ANN 98.00%" in labels
    assert {"rate p=99.9 v0=0.5", "phase K=8", "bsnn K=8"} <= set(labels)
    assert len(fig.axes) == 2  # full range + zoom


def test_sin_and_error_plots_draw_every_layer():
    sin = _sin()
    fig = plots.plot_sin_per_layer(sin, hue="variant")
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["1: features.2", "2: features.5", "3: sn_add_0 (SN)"]
    assert len(plots.plot_sin_vs_t(sin, hue="variant").axes) == 2
    fig = plots.plot_error_decomposition(sin, hue="variant", t=8)
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 9  # 3 layers x (SIN, clipping, rest)
    assert bars[2].get_height() == pytest.approx(0.3**2 * 0.2)  # depth-3 SIN part


def test_latency_and_k_sweep_mark_unreached_tolerances():
    lat = pd.DataFrame(
        {
            "dataset": "d",
            "arch": "a",
            "label": ["rate", "bsnn K=4", "bsnn K=8"],
            "K": [8, 4, 8],
            "t_within_1pct": pd.array([None, 20, 40], dtype="Int64"),
            "t_within_0p5pct": pd.array([None, None, 48], dtype="Int64"),
            "ann_accuracy": 0.98,
            "final_accuracy": [0.9, 0.975, 0.98],
        }
    )
    fig = plots.plot_latency(lat, T=64)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("> 64") == 3 and "20" in texts
    acc = _acc(labels=("bsnn K=4", "bsnn K=8"))
    acc["K"] = acc["label"].str[-1].astype(int)
    fig = plots.plot_k_sweep(acc, lat.iloc[1:])
    assert [t.get_text() for t in fig.axes[1].texts] == ["> 32"]  # K=4 never within 0.5% by T=32
    assert len(fig.axes) == 3


def test_neuron_traces_raster_energy_drawing_and_peer():
    demos = neuron_demos(K=4)
    fig = plots.plot_neuron_traces(demos["phase_lead"])
    assert fig.axes[0].title.get_color() == "#d62728"  # the rate neuron's spike is a SIN
    T, N = 24, 5
    rng = np.random.default_rng(0)
    trains = {
        name: {"value": (rng.random((T, N)) < 0.2) * 0.5, "potential": rng.normal(size=(T, N))} for name in ("l1", "l2")
    }
    layers = pd.DataFrame({"name": ["l1", "l2"], "depth": [1, 2], "kind": "neuron", "threshold_mean": [1.0, 2.0]})
    states = {"l1": ["integrate"] * 4 + ["fire"] * 4 + ["integrate"] * 16, "l2": ["off"] * 8 + ["integrate"] * 16}
    fig = plots.plot_spike_raster(trains, layers, states)
    assert len(fig.axes) == 4
    energy = pd.DataFrame(
        {
            "dataset": "d",
            "arch": "a",
            "label": "bsnn K=8",
            "t": [8, 16],
            "sops_per_image": [1e4, 2e4],
            "snn_input_macs_per_image": [1e3, 1e3],
            "ann_macs_per_image": 5e4,
            "energy_ratio_snn_over_ann": [0.05, 0.09],
        }
    )
    assert len(plots.plot_energy(energy).axes) == 2
    assert len(plots.plot_shortcut_timing(K=4).axes) == 2
    peer = pd.DataFrame(
        {"t": [1, 2, 1, 2], "accuracy": [0.5, 0.9, 0.4, 0.9], "implementation": ["ours"] * 2 + ["sj"] * 2}
    )
    fig = plots.plot_peer_comparison(peer)
    curves = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].lines}
    assert curves["ours"] == [0.5, 0.9] and curves["sj"] == [0.4, 0.9]  # one curve per implementation


def test_peer_comparison_pairs_each_variant_ours_solid_spikingjelly_dashed():
    t = np.arange(1, 9)
    rows = [
        pd.DataFrame({"t": t, "accuracy": t / 10, "implementation": f"{side}_{v}", "ann_accuracy": 0.9})
        for v in ("layer", "channel-half")
        for side in ("ours", "spikingjelly")
    ]
    fig = plots.plot_peer_comparison(pd.concat(rows))
    lines = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("ANN")]
    assert len(lines) == 4
    styles = {ln.get_label(): (ln.get_linestyle(), ln.get_color()) for ln in lines}
    assert styles["layer: ours"][0] == "-" and styles["layer: SpikingJelly"][0] == "--"
    assert styles["layer: ours"][1] == styles["layer: SpikingJelly"][1] != styles["channel-half: ours"][1]
    plt.close(fig)
