"""Seed spread: how much of the MNIST latency table is the ANN's own training noise?

A bootstrap interval over test images says how sure a latency is *for one trained ANN*. It cannot
see the spread that comes from training itself. This script retrains each net of a profile with
several seeds (``TrainConfig.seed``: weight init, data order, augmentation), converts every
method of the profile's grid, simulates the same test images, and tabulates T(within 1%) and
T(within 0.5%) per seed. Seed 0 is the profile's own ANN (the shipped weights).

    .venv/bin/python benchmarks/seed_spread.py                       # quick profile, seeds 0 1 2
    .venv/bin/python benchmarks/seed_spread.py --seeds 0 1 2 3 --nets vgg-small

Writes ``results/<profile>/seed_spread/seed_spread.csv`` (one row per net, method and seed),
``summary.csv`` (per net and method: each seed's latency, min, max; "> T" where the horizon cut
it off) and ``params.json``. Cells go through the simulation cache, so a rerun (or an
interrupted run) redoes nothing that finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bsnn_lib.analysis.latency import latency_row  # noqa: E402
from bsnn_lib.experiments import run_cell  # noqa: E402
from bsnn_lib.grid import grid_cells  # noqa: E402
from bsnn_lib.io import run_metadata, write_csv, write_json  # noqa: E402
from bsnn_lib.progress import bar  # noqa: E402


def spread_cells(profile: str, seeds: Sequence[int], nets: Sequence[str] | None):
    """(seed, cell) for every grid cell of ``profile`` (statistics off) and every seed."""
    base = [c for c in grid_cells(profile) if nets is None or c.arch in nets]
    out = []
    for seed in seeds:
        for c in base:
            train = dict(c.train)
            if seed != 0:
                train["seed"] = seed
            out.append((seed, dataclasses.replace(c, stats=False, train=tuple(sorted(train.items())))))
    return out


def censored(v: float | None, T: int) -> str:
    return f"> {T}" if v is None or (isinstance(v, float) and np.isnan(v)) else str(int(v))


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Per net and method: the latency of each seed ("> T" if censored), and the range."""
    out = []
    for (arch, label), g in rows.groupby(["arch", "label"], sort=False):
        T = int(g["T"].iloc[0])
        rec = {"arch": arch, "label": label, "T": T}
        for col, short in (("t_within_1pct", "T1"), ("t_within_0p5pct", "T0.5")):
            vals = g.sort_values("seed")[col].tolist()
            for s, v in zip(g.sort_values("seed")["seed"], vals):
                rec[f"{short} seed{s}"] = censored(v, T)
            finite = [v for v in vals if not pd.isna(v)]
            rec[f"{short} min"] = int(min(finite)) if finite else f"> {T}"
            rec[f"{short} max"] = censored(max(finite), T) if len(finite) == len(vals) else f"> {T}"
        accs = g.sort_values("seed")["ann_accuracy"].tolist()
        rec["ANN acc per seed"] = " / ".join(f"{100 * a:.2f}" for a in accs)
        out.append(rec)
    return pd.DataFrame(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick", help="profile whose nets and grid methods are used (default: quick)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (0 = the profile's ANN)")
    p.add_argument("--nets", nargs="+", help="archs to include (default: all of the profile)")
    p.add_argument("--out", help="output folder (default: results/<profile>/seed_spread)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    cells = spread_cells(args.profile, args.seeds, args.nets)
    rows = []
    start = time.perf_counter()
    with bar(total=len(cells), desc="seed spread", unit="cell", disable=args.no_progress) as b:
        for seed, c in cells:
            b.set_postfix_str(f"{c.arch} seed {seed} {c.method.label()}")
            cr = run_cell(c, progress=not args.no_progress)
            r = cr.result
            acc = r.correct / r.n
            rows.append(
                {
                    "dataset": c.dataset,
                    "arch": c.arch,
                    "seed": seed,
                    "label": c.method.label(),
                    "T": c.T,
                    "n_images": r.n,
                    **latency_row(acc, r.ann_accuracy),
                }
            )
            b.update(1)
    df = pd.DataFrame(rows)
    out = Path(args.out) if args.out else REPO / "results" / args.profile / "seed_spread"
    write_csv(out / "seed_spread.csv", df)
    summary = summarize(df)
    write_csv(out / "summary.csv", summary)
    params = {"args": vars(args), "cells": len(cells), "seconds": time.perf_counter() - start, "run": run_metadata()}
    write_json(out / "params.json", params)
    print(summary.to_string(index=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
