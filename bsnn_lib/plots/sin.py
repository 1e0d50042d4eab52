"""SIN per layer and against time, and the split of each layer's output error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bsnn_lib.plots.style import at_time, hue_order, label_palette, layer_order, layer_ticklabels, panel_grid, use_style

__all__ = ["plot_error_decomposition", "plot_sin_per_layer", "plot_sin_vs_t"]


def plot_sin_per_layer(
    sin: pd.DataFrame,
    *,
    t: int | None = None,
    hue: str = "label",
    metrics: Sequence[tuple[str, str]] = (
        ("sin_neuron_rate", "against the float ANN"),
        ("sin_neuron_rate_q", "against the K-bit quantized ANN"),
    ),
    title: str | None = None,
    palette: Mapping[Any, Any] | None = None,
) -> Figure:
    """Bars of a SIN metric per spiking layer (x: layers by depth), one bar per ``hue`` value.

    Each method is read at its last statistics time <= ``t`` (default: the end of its run).
    One panel per entry of ``metrics`` ((column, panel title)); the default shows the SIN neuron
    rate against the float ANN and against the quantized ANN (method.md §4)."""
    use_style()
    data = at_time(sin, t, hue)
    order = hue_order(data, hue)
    pal = dict(palette or label_palette(order))
    layers = layer_order(data)
    fig, axes = plt.subplots(
        1,
        len(metrics),
        figsize=(max(5.0, 0.9 * len(layers) + 2.5) * len(metrics) / 1.4, 4.0),
        squeeze=False,
        sharey=True,
    )
    width = 0.8 / max(len(order), 1)
    x = np.arange(len(layers))
    for ax, (col, sub) in zip(axes[0], metrics):
        for i, key in enumerate(order):
            g = data[data[hue] == key].set_index("layer").reindex(layers)
            ax.bar(
                x + (i - (len(order) - 1) / 2) * width,
                g[col].fillna(0).to_numpy(),
                width,
                color=pal[key],
                label=str(key),
            )
        ax.set_xticks(x, layer_ticklabels(data, layers), rotation=35, ha="right")
        ax.set_title(f"{col.replace('_', ' ')}\n{sub}")
        ax.set_xlabel("spiking layer (depth: name)")
    axes[0, 0].set_ylabel("share of inactivated neurons that spiked")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ts = sorted(data["t"].unique())
    fig.suptitle((title + "\n" if title else "") + f"read at t = {', '.join(map(str, ts))}", fontsize="medium")
    fig.tight_layout()
    return fig


def plot_sin_vs_t(
    sin: pd.DataFrame,
    *,
    metric: str = "sin_neuron_rate",
    hue: str = "label",
    title: str | None = None,
    log: bool = False,
    mark_t: int | None = None,
) -> Figure:
    """A SIN metric against t: one panel per ``hue`` value, one line per layer (colour = depth);
    ``mark_t`` draws a vertical line (e.g. the time the per-layer figure is read at)."""
    use_style()
    order = hue_order(sin, hue)
    fig, panels, grid = panel_grid(len(order), 3.6, 3.4, sharey=True)
    layers = layer_order(sin)
    cmap = sns.color_palette("viridis", len(layers))
    for ax, key in zip(panels, order):
        g = sin[sin[hue] == key]
        for lay, col, tick in zip(layers, cmap, layer_ticklabels(sin, layers)):
            h = g[g["layer"] == lay].sort_values("t")
            if not h.empty:
                ax.plot(h["t"], h[metric], color=col, lw=1.5, marker=".", ms=3, label=tick)
        ax.set_title(str(key))
        ax.set_xlabel("time step t")
        if mark_t is not None:
            ax.axvline(mark_t, color="0.4", ls=":", lw=1)
        if log:
            ax.set_yscale("symlog", linthresh=1e-3)
    for row in grid:
        row[0].set_ylabel(metric.replace("_", " "))
    panels[min(len(panels), grid.shape[1]) - 1].legend(title="layer", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_error_decomposition(
    sin: pd.DataFrame, *, t: int | None = None, hue: str = "label", title: str | None = None
) -> Figure:
    """Each layer's squared relative output error ||r - a||^2 / ||a||^2, stacked by its parts.

    The parts (method.md §4): SIN (ANN activation 0, the SNN sent something), clipping (ANN
    activation above the threshold) and the rest (quantization / not yet converged), one panel per
    ``hue`` value, read at its last statistics time <= ``t``."""
    use_style()
    data = at_time(sin, t, hue)
    order = hue_order(data, hue)
    layers = layer_order(data)
    fig, panels, grid = panel_grid(len(order), 3.4, 3.5, sharey=True)
    parts = [
        ("err_sin_share", "SIN", "#d62728"),
        ("err_clip_share", "clipping", "#9467bd"),
        ("err_rest_share", "rest", "#7f7f7f"),
    ]
    x = np.arange(len(layers))
    for ax, key in zip(panels, order):
        g = data[data[hue] == key].set_index("layer").reindex(layers)
        total = (g["rel_error"] ** 2).fillna(0).to_numpy()
        bottom = np.zeros(len(layers))
        for col, name, color in parts:
            h = total * g[col].fillna(0).to_numpy()
            ax.bar(x, h, 0.7, bottom=bottom, color=color, label=name)
            bottom += h
        ax.set_xticks(x, [tl.split(":")[0] for tl in layer_ticklabels(data, layers)])
        ax.set_xlabel("layer depth")
        ax.set_title(f"{key} (t={int(g['t'].max())})" if g["t"].notna().any() else str(key))
    for row in grid:
        row[0].set_ylabel("squared relative error\nof the layer output")
    panels[min(len(panels), grid.shape[1]) - 1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
