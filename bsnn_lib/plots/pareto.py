"""Pareto plots: accuracy against time steps and against SOPs per image, every method."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from bsnn_lib.analysis.pareto import pareto_front
from bsnn_lib.plots.style import label_palette, use_style

__all__ = ["plot_pareto"]


def plot_pareto(points: pd.DataFrame, *, title: str | None = None, floor: float = 0.05) -> Figure:
    """From :func:`bsnn_lib.workbook.beyond.pareto`: left, accuracy against t; right, against
    the SOPs per image spent up to t (both log x); one line per variant, peers (one point, at
    their fill) as diamonds, and the Pareto front of all points in black. Accuracy is shown
    from ``floor`` below the ANN (points further down are below the panel)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6), sharey=True)
    pal = label_palette(list(dict.fromkeys(points["variant"])))
    ann = float(points["ann_accuracy"].max())
    for ax, x, xlabel in ((axes[0], "t", "time steps t"), (axes[1], "sops_per_image", "SOPs per image up to t")):
        for variant, g in points.groupby("variant", sort=False):
            g = g.sort_values(x)
            style = {"marker": "D", "ms": 6, "ls": "none"} if len(g) == 1 else {"lw": 1.2, "alpha": 0.8}
            ax.plot(g[x], 100 * g["accuracy"], color=pal[variant], label=variant, **style)
        front = pareto_front(points, x)
        ax.step(front[x], 100 * front["accuracy"], where="post", color="black", lw=1.8, label="Pareto front")
        ax.axhline(100 * ann, color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylim(100 * (ann - floor), 100 * ann + 0.5)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].set_title("accuracy against time steps", fontsize=9)
    axes[1].set_title("accuracy against synaptic operations", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    rows = -(-len(labels) // 3)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=6.5, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, min(0.5, 0.035 * rows + 0.02), 1, 1))
    return fig
