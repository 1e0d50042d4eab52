"""Benchmarks: time steps to come within 1% / 0.5% of the ANN, and energy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bsnn_lib.plots.style import hue_order, label_palette, use_style

__all__ = ["plot_energy", "plot_latency"]

_LATENCY_COLUMNS = {"1pct": ("t_within_1pct", "1%"), "0p5pct": ("t_within_0p5pct", "0.5%")}


def plot_latency(
    latency: pd.DataFrame,
    *,
    x: str = "label",
    facet: Sequence[str] = ("dataset", "arch"),
    T: int | None = None,
    title: str | None = None,
    palette: Mapping[Any, Any] | None = None,
) -> Figure:
    """T within 1% and within 0.5% of the ANN (two bars) per ``x`` value, one panel (row) per net.

    A method that never stays within the tolerance up to T gets a hatched bar at T marked
    '> T'. ``facet`` columns define the panels (one per trained net / split)."""
    use_style()
    facet = [f for f in facet if f in latency.columns]
    groups = list(latency.groupby(facet, sort=False)) if facet else [((), latency)]
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(max(5.5, 0.9 * latency[x].nunique() + 2.5), 3.9 * len(groups)), squeeze=False
    )
    T = T or int(latency.get("T", pd.Series([0])).max() or 0)
    order = hue_order(latency, x)
    pal = dict(palette or label_palette(order))
    for ax, (key, g) in zip(axes[:, 0], groups):
        g = g.set_index(x).reindex([o for o in order if o in set(g[x])])
        xs = np.arange(len(g))
        tmax = T or int(
            np.nanmax(
                g[["t_within_1pct", "t_within_0p5pct"]].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
                initial=1,
            )
        )
        for off, (col, tol), alpha in ((-0.2, _LATENCY_COLUMNS["1pct"], 1.0), (0.2, _LATENCY_COLUMNS["0p5pct"], 0.55)):
            vals = g[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            missing = np.isnan(vals)
            heights = np.where(missing, tmax, vals)
            colors = [pal[o] for o in g.index]
            bars = ax.bar(
                xs + off, heights, 0.38, color=colors, alpha=alpha, hatch=None, edgecolor="white", label=f"within {tol}"
            )
            for b, miss, v in zip(bars, missing, vals):
                if miss:
                    b.set_hatch("//")
                    b.set_alpha(0.25)
                ax.annotate(
                    f"> {tmax}" if miss else f"{int(v)}",
                    (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize="x-small",
                )
        ax.set_xticks(xs, [str(o) for o in g.index], rotation=35, ha="right")
        ax.set_ylabel("time steps T")
        ax.set_title(" / ".join(map(str, key if isinstance(key, tuple) else (key,))))
    fig.legend(
        handles=[
            Patch(color="0.3", label="within 1% (left bar, solid)"),
            Patch(color="0.3", alpha=0.55, label="within 0.5% (right bar, light)"),
            Patch(facecolor="white", edgecolor="0.3", hatch="//", label="not reached by T"),
        ],
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize="small",
    )
    for ax in axes[:, 0]:
        ax.set_ylim(0, ax.get_ylim()[1] * 1.08)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 / len(groups) + 0.02, 1, 1))
    return fig


def plot_energy(
    energy: pd.DataFrame, *, hue: str = "label", title: str | None = None, palette: Mapping[Any, Any] | None = None
) -> Figure:
    """Per net (rows): synaptic operations per image against t, with the ANN's MACs (dashed), and
    the 45 nm energy ratio SNN/ANN (E_AC = 0.9 pJ per SOP, E_MAC = 4.6 pJ per MAC; the analog
    input layer is paid in MACs)."""
    use_style()
    nets = list(energy.groupby(["dataset", "arch"], sort=False))
    fig, axes = plt.subplots(len(nets), 2, figsize=(13.5, 3.6 * len(nets)), squeeze=False)
    order = hue_order(energy, hue)
    pal = dict(palette or label_palette(order))
    for row, ((ds, arch), g) in enumerate(nets):
        ax, ax2 = axes[row]
        for key in order:
            h = g[g[hue] == key].sort_values("t")
            if h.empty:
                continue
            ax.plot(h["t"], h["sops_per_image"] + h["snn_input_macs_per_image"], color=pal[key], label=str(key))
            ax2.plot(h["t"], h["energy_ratio_snn_over_ann"], color=pal[key], label=str(key))
        macs = float(g["ann_macs_per_image"].iloc[0])
        ax.axhline(macs, color="k", ls="--", lw=1.2, label=f"ANN MACs {macs:.3g}")
        ax.legend(handles=ax.get_lines()[-1:], fontsize="x-small", loc="lower right")
        ax.set_yscale("log")
        ax.set_ylabel("operations per image")
        ax.set_title(f"{ds} / {arch}: SNN SOPs + input MACs vs ANN MACs")
        ax2.axhline(1.0, color="k", ls="--", lw=1.2)
        ax2.set_yscale("log")
        ax2.set_ylabel("energy SNN / ANN (45 nm)")
        ax2.set_title("energy ratio (below 1: the SNN is cheaper)")
        for a in (ax, ax2):
            a.set_xlabel("time step t")
        ax2.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
