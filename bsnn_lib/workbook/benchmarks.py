"""Notebook 04 (benchmarks): the verdict tables and the SpikingJelly side-by-side."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bsnn_lib.io import REPO_ROOT

__all__ = ["PEER_COMMAND", "PEER_CSV", "VERDICT_COMMAND", "load_peer_csv", "peer_summary", "verdict", "verdict_figures"]

VERDICT_COMMAND = "python -m bsnn_lib verdict --profile {profile}"

PEER_CSV = REPO_ROOT / "results" / "peer" / "spikingjelly.csv"
PEER_SUMMARY = PEER_CSV.with_name("spikingjelly_summary.json")
PEER_COMMAND = "python benchmarks/peer_spikingjelly.py"


def load_peer_csv(path: str | Path = PEER_CSV) -> pd.DataFrame | None:
    """Read the SpikingJelly side-by-side (``python benchmarks/peer_spikingjelly.py`` writes it)
    as long form: t, accuracy, implementation, plus any other columns (wall times, ...).

    Accepts a long table (an ``implementation``/``impl``/``engine``/``framework``/``source``
    column) or a wide one (``accuracy_<impl>`` / ``<impl>_accuracy`` columns). Returns None if
    the file does not exist or has no recognizable accuracy columns (a message says why)."""
    p = Path(path)
    if not p.is_file():
        print(f"no SpikingJelly comparison at {p}; produce it with `{PEER_COMMAND}`")
        return None
    df = pd.read_csv(p)
    for col in ("implementation", "impl", "engine", "framework", "source", "library"):
        if col in df.columns and "accuracy" in df.columns and "t" in df.columns:
            return df.rename(columns={col: "implementation"})
    acc_cols = [c for c in df.columns if c.startswith("accuracy_") or c.endswith("_accuracy")]
    acc_cols = [c for c in acc_cols if c != "ann_accuracy"]
    if "t" in df.columns and acc_cols:
        long = df.melt(
            id_vars=[c for c in df.columns if c not in acc_cols],
            value_vars=acc_cols,
            var_name="implementation",
            value_name="accuracy",
        )
        long["implementation"] = (
            long["implementation"].str.replace("accuracy_", "", regex=False).str.replace("_accuracy", "", regex=False)
        )
        return long
    print(f"{p} has columns {list(df.columns)}: no t / accuracy columns recognized; not plotted")
    return None


def peer_summary(peer: pd.DataFrame, summary_json: str | Path | None = None) -> pd.DataFrame:
    """Per implementation: T, final accuracy, the largest gap to the other curve, and the wall
    times of ``spikingjelly_summary.json`` (written beside the CSV) when it exists."""
    g = peer.sort_values("t").groupby("implementation", sort=False)
    out = g.agg(T=("t", "max"), final_accuracy=("accuracy", "last")).reset_index()
    wide = peer.pivot_table(index="t", columns="implementation", values="accuracy")
    if wide.shape[1] == 2:
        out["max_abs_accuracy_difference"] = float((wide.iloc[:, 0] - wide.iloc[:, 1]).abs().max())
    path = Path(summary_json) if summary_json else None
    if path is not None and path.is_file():
        meta = json.loads(path.read_text())
        walls = meta.get("wall_seconds", {}) or {}
        out["wall_seconds"] = [walls.get("ours_fast" if impl == "ours" else impl) for impl in out["implementation"]]
        for key in ("dataset", "arch", "n_test", "our_label", "spikingjelly_version"):
            if key in meta:
                out[key] = meta[key]
    return out


def verdict(results_dir: str | Path, profile, run: bool | None = None, device: str | None = None) -> dict | None:
    """The verdict tables of ``profile`` from ``<results_dir>/verdict`` (``bsnn_lib.verdict``);
    with ``run`` (None: the section's ``in_workbook``), the protocol is run first (cached cells
    resume). None, with a message saying how to make them, when they do not exist."""
    from bsnn_lib.verdict import load_verdict, run_verdict, verdict_spec

    out = Path(results_dir) / "verdict"
    if run is None:
        run = bool(profile.verdict) and verdict_spec(profile.verdict).in_workbook
    if run and profile.verdict:
        run_verdict(profile, out_dir=out, device=device)
    found = load_verdict(out)
    if found is None:
        how = (
            f"run `{VERDICT_COMMAND.format(profile=profile.name)}` (long: hours on a CPU) or set run_verdict=True"
            if profile.verdict
            else "this profile has no verdict section (cpu-full and paper have one)"
        )
        print(f"no verdict tables in {out}: {how}")
    return found


def verdict_figures(s, v: dict, prefix: str, title: str, source: str) -> None:
    """The verdict figures of notebooks 04 and 05: latency and ratio intervals at 1% and 0.5%
    (``<prefix>_verdict_1pct`` / ``_0p5pct``) and the reported curves (``<prefix>_accuracy_curves``)."""
    from bsnn_lib import plots

    for name, fig in plots.verdict_figure_set(v, title):
        s.save(fig, f"{prefix}_{name}", data=v["latency"], source=source)
