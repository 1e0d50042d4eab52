"""Energy at the latency a method needs (the SOP and MAC counts are in :mod:`bsnn_lib.cost`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bsnn_lib.analysis.latency import net_keys

__all__ = ["energy_at_latency"]


def energy_at_latency(energy: pd.DataFrame, latency: pd.DataFrame) -> pd.DataFrame:
    """Per net and method, the energy table at the first statistics time at or after T within
    1% of the ANN (or at T): SOPs, ANN MACs and the 45 nm energy ratio."""
    rows = []
    keys = net_keys(latency) + ["variant"]
    for _, r in latency.iterrows():
        sel = np.logical_and.reduce([energy[k] == r[k] for k in keys if k in energy.columns])
        g = energy[sel].sort_values("t")
        if g.empty:
            continue
        t1 = r["t_within_1pct"]
        h = g[g["t"] >= t1] if not pd.isna(t1) else g.tail(1)
        h = h.head(1) if not h.empty else g.tail(1)
        row = h.iloc[0]
        rows.append(
            {
                **{k: r[k] for k in keys},
                "t": int(row["t"]),
                "reached_1pct": not pd.isna(t1),
                "sops_per_image": row["sops_per_image"],
                "snn_input_macs_per_image": row["snn_input_macs_per_image"],
                "ann_macs_per_image": row["ann_macs_per_image"],
                "snn_energy_nj": row["snn_energy_nj"],
                "ann_energy_nj": row["ann_energy_nj"],
                "energy_ratio": row["energy_ratio_snn_over_ann"],
            }
        )
    return pd.DataFrame(rows)
