"""Pareto fronts: which method gives the most accuracy for a given cost (time steps or SOPs).

A point is (variant, t, accuracy, SOPs per image up to t). A point is on the front when no other
point costs at most as much and is at least as accurate, one of the two strictly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["pareto_front", "pareto_points"]


def pareto_front(points: pd.DataFrame, x: str, y: str = "accuracy") -> pd.DataFrame:
    """The non-dominated rows of ``points`` (smaller ``x``, larger ``y``), sorted by ``x``."""
    p = points.dropna(subset=[x, y]).sort_values([x, y], ascending=[True, False])
    keep, best = [], -np.inf
    for idx, value in zip(p.index, p[y]):
        if value > best:
            keep.append(idx)
            best = value
    return p.loc[keep]


def pareto_points(results: Sequence, names: Sequence[str]) -> pd.DataFrame:
    """One row per (cell, statistics time): ``variant``, ``method``, ``t``, ``accuracy`` at t,
    ``ann_accuracy`` and ``sops_per_image`` spent up to t, from cells simulated with statistics
    (:class:`~bsnn_lib.experiments.CellResult`; ``names``: one variant name per result)."""
    if len(names) != len(results):
        raise ValueError("one variant name per result")
    rows = []
    for cr, name in zip(results, names):
        r = cr.result
        energy = r.energy()
        if energy.empty:
            raise ValueError(f"{name}: simulated without statistics, so it has no SOPs (Cell(stats=True))")
        acc = r.correct / r.n
        for t, sops in zip(energy["t"], energy["sops_per_image"]):
            rows.append(
                {
                    "variant": name,
                    "method": cr.cell.method.method,
                    "t": int(t),
                    "accuracy": float(acc[t - 1]),
                    "ann_accuracy": r.ann_accuracy,
                    "sops_per_image": float(sops),
                    "n_images": r.n,
                }
            )
    return pd.DataFrame(rows)
