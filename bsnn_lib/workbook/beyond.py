"""Notebook 05 (beyond the paper): the profile's ``beyond`` section through the verdict protocol."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bsnn_lib.experiments import Cell
from bsnn_lib.workbook.common import Setup, run_results

__all__ = ["pareto", "release_cells", "release_tradeoff", "run_beyond"]


def run_beyond(s: Setup, progress: bool = True) -> dict[str, Any] | None:
    """Run (cached cells resume) the verdict protocol on the profile's ``beyond`` section into
    ``<results_dir>/05_beyond_the_paper/verdict`` and return its tables (``load_verdict``); None,
    with a message, when the profile has no such section."""
    from bsnn_lib.verdict import load_verdict, run_verdict

    if not s.profile.beyond:
        print(f"profile {s.profile.name} has no 'beyond' section: nothing to run")
        return None
    out = s.tables_dir / "verdict"
    run_verdict(s.profile, out_dir=out, device=s.device, progress=progress, section=s.profile.beyond)
    return load_verdict(out)


def release_cells(s: Setup) -> list[tuple[int, str, Cell]]:
    """(delta, correction, cell) of the profile's ``release`` sweep on the notebook's net."""
    T = (s.profile.release or {}).get("T")
    return [(d, corr, s.cell(cfg, **({"T": int(T)} if T else {}))) for d, corr, cfg in s.profile.release_configs()]


def release_tradeoff(s: Setup, progress: bool = True) -> pd.DataFrame | None:
    """Early release: per (delta, correction) the fill, T within 1% / 0.5% of the ANN, the final
    accuracy, the whole-network SIN (against the float ANN) and the SOPs per image, from one
    cached simulation each. None, with a message, when the profile has no ``release`` section."""
    from bsnn_lib.analysis import latency_row, network_sin

    cells = release_cells(s)
    if not cells:
        print(f"profile {s.profile.name} has no 'release' section: nothing to run")
        return None
    results = run_results([c for _, _, c in cells], device=s.device, progress=progress)
    rows = []
    for (delta, corr, c), cr in zip(cells, results):
        r = cr.result
        sch = c.method.spec.schedule(c.method)
        sch.bind(int(r.layer_meta["depth"].max()))
        rows.append(
            {
                "dataset": c.dataset,
                "arch": c.arch,
                "K": c.method.K,
                "release": delta,
                "correction": corr,
                "label": c.method.label(),
                "fill": sch.answer_steps(sch.L + 1, hold=sch.hold_frames),
                "T": c.T,
                "n_images": r.n,
                **latency_row(r.accuracy().accuracy.to_numpy(), r.ann_accuracy),
                **network_sin(r),
            }
        )
    out = pd.DataFrame(rows)
    for col in ("t_within_1pct", "t_within_0p5pct"):
        out[col] = out[col].astype("Int64")
    return out


def pareto(s: Setup, progress: bool = True) -> pd.DataFrame:
    """Accuracy against time steps and against SOPs for every method on the notebook's net:
    the profile's methods (the grid cells of notebooks 01-04) and the early-release sweep, at
    every statistics time (:func:`bsnn_lib.analysis.pareto_points`, cached cells), plus the
    few-spike peer's reported variants where its ``report.csv`` exists (one point each, at its
    fill; on the verdict's report images, column ``images``)."""
    from bsnn_lib.analysis import pareto_points
    from bsnn_lib.io import REPO_ROOT

    named = [(m.label(), s.cell(m)) for m in s.profile.method_configs(s.arch)]
    named += [(c.method.label(), c) for _, _, c in release_cells(s)]
    results = run_results([c for _, c in named], device=s.device, progress=progress)
    points = pareto_points(results, [n for n, _ in named]).assign(images=_images_text(named[0][1]))
    peer = ((s.profile.beyond or {}).get("peers") or {}).get("fs")
    folder = REPO_ROOT / peer if peer else None
    args = _peer_args(folder) if folder is not None else {}
    qcfs = named[0][1].train_config().activation == "qcfs"  # a QCFS peer run is not the ReLU net's, and back
    same_net = (args.get("dataset"), args.get("arch"), args.get("qcfs_levels") is not None) == (s.dataset, s.arch, qcfs)
    if same_net and (folder / "report.csv").is_file():
        rep = pd.read_csv(folder / "report.csv")
        fs = pd.DataFrame(
            {
                "variant": rep["variant"] + " (SpikingJelly)",
                "method": "fs",
                "t": rep["fill"],
                "accuracy": rep["accuracy"],
                "ann_accuracy": rep["ann_accuracy"],
                "sops_per_image": rep["sops_per_image"],
                "n_images": args.get("report_n"),
                "images": f"{args.get('report_n') or 'all'} evenly spaced {args.get('report_split')} images",
            }
        )
        points = pd.concat([points, fs], ignore_index=True)
    return points


def _images_text(c: Cell) -> str:
    return f"{c.n_test or 'all'} evenly spaced {c.split} images"


def _peer_args(folder) -> dict:
    """The command-line arguments of a peer run (its ``params.json``; empty without one)."""
    import json

    path = folder / "params.json"
    return json.loads(path.read_text()).get("args", {}) if path.is_file() else {}
