"""Latency: the smallest T from which acc(t) stays within a tolerance of the ANN."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["latency", "latency_row", "latency_summary", "net_keys"]


def latency(accuracy: Sequence[float], ann_accuracy: float, tolerance: float) -> int | None:
    """Smallest t (1-based) from which acc(t') >= ann - tolerance for every t' >= t up to T.

    ``tolerance`` is absolute (0.01 = one percentage point). None if never reached by T.
    """
    acc = np.asarray(accuracy, dtype=float)
    ok = acc >= ann_accuracy - tolerance - 1e-12
    if not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1] + 2) if bad.size else 1


def latency_row(acc: Sequence[float], ann_accuracy: float) -> dict[str, float | int | None]:
    """The columns of latency.csv for one accuracy curve."""
    return {
        "ann_accuracy": ann_accuracy,
        "best_accuracy": float(np.max(acc)),
        "final_accuracy": float(acc[-1]),
        "t_within_1pct": latency(acc, ann_accuracy, 0.01),
        "t_within_0p5pct": latency(acc, ann_accuracy, 0.005),
    }


def net_keys(df: pd.DataFrame) -> list[str]:
    """The columns that name a net in a results table (dataset, arch, split)."""
    return [c for c in ("dataset", "arch", "split") if c in df.columns]


def latency_summary(latency_table: pd.DataFrame) -> pd.DataFrame:
    """Per net and method: ANN accuracy, final and best SNN accuracy (percent) and the first
    step from which the accuracy stays within 1% / 0.5% of the ANN (NA: not reached by T)."""
    cols = net_keys(latency_table) + [
        "variant",
        "ann_accuracy",
        "final_accuracy",
        "best_accuracy",
        "t_within_1pct",
        "t_within_0p5pct",
        "T",
    ]
    out = latency_table[[c for c in cols if c in latency_table.columns]].copy()
    for c in ("ann_accuracy", "final_accuracy", "best_accuracy"):
        out[c] = (100 * out[c]).round(2)
    return out.rename(columns={"variant": "method"})
