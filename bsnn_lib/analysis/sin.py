"""SIN tables: a layer x method view of the per-layer statistics."""

from __future__ import annotations

import pandas as pd

__all__ = ["sin_summary"]


def sin_summary(sin: pd.DataFrame, t: int | None = None, metric: str = "sin_neuron_rate") -> pd.DataFrame:
    """A layer x method table of a SIN metric (percent), each method read at its last
    statistics time <= t."""
    parts = []
    for _, g in sin.groupby("variant", sort=False):
        times = g["t"] if t is None else g.loc[g["t"] <= t, "t"]
        parts.append(g[g["t"] == times.max()])
    d = pd.concat(parts)
    out = d.pivot_table(index=["depth", "layer"], columns="variant", values=metric, sort=False)
    return (100 * out).round(3)
