"""Accuracy against time: per method, per K, and beside a peer implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bsnn_lib.plots.style import hue_order, label_palette, use_style

__all__ = ["plot_accuracy_vs_t", "plot_k_sweep", "plot_peer_comparison"]

_LATENCY_COLUMNS = {"1pct": ("t_within_1pct", "1%"), "0p5pct": ("t_within_0p5pct", "0.5%")}


def plot_accuracy_vs_t(
    acc: pd.DataFrame,
    *,
    hue: str = "label",
    title: str | None = None,
    zoom: float | None = 0.05,
    palette: Mapping[Any, Any] | None = None,
    qann: bool = False,
    t_max: int | None = None,
) -> Figure:
    """Accuracy against time step t, one curve per ``hue`` value, with the ANN as a dashed line.

    The band [ANN - 1%, ANN] is shaded: a curve that stays inside it from some t on is "within
    1%" from there (the latency table). ``zoom`` adds a second panel whose y-axis spans
    [ANN - zoom, ANN + 1%]; ``qann`` also draws the K-bit quantized ANN of each bistable curve.
    ``acc`` needs columns t, accuracy, ann_accuracy and ``hue``; it should hold one ANN."""
    use_style()
    order = hue_order(acc, hue)
    pal = dict(palette or label_palette(order))
    ncols = 2 if zoom else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 4.0), squeeze=False)
    ann = float(acc["ann_accuracy"].iloc[0])
    data = acc if t_max is None else acc[acc["t"] <= t_max]
    for ax in axes[0]:
        ax.axhspan(ann - 0.01, ann, color="0.85", alpha=0.6, lw=0, zorder=0)
        ax.axhline(ann, color="k", ls="--", lw=1.2, label=f"ANN {100 * ann:.2f}%")
        for key in order:
            g = data[data[hue] == key]
            ax.plot(g["t"], g["accuracy"], color=pal[key], lw=1.6, label=str(key))
            if qann and "qann_accuracy" in g and g["qann_accuracy"].notna().any():
                q = float(g["qann_accuracy"].dropna().iloc[0])
                ax.axhline(q, color=pal[key], ls=":", lw=1.0)
        ax.set_xlabel("time step t")
        ax.set_xlim(0, data["t"].max())
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, 0].set_ylim(0, 1.0)
    if zoom:
        ax = axes[0, 1]
        ax.set_ylim(ann - zoom, min(1.0, ann + 0.01) + 0.002)
        ax.set_title(f"zoom: within {100 * zoom:g} points of the ANN (grey band: 1%)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    ncol = min(len(handles), 4)
    fig.legend(handles, names, loc="lower center", ncol=ncol, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.045 * -(-len(handles) // ncol) + 0.01, 1, 1))
    return fig


def plot_k_sweep(acc: pd.DataFrame, latency: pd.DataFrame, *, title: str | None = None, zoom: float = 0.05) -> Figure:
    """BSNN with K phases per cycle: acc(t) per K (left, zoomed near the ANN) and, against K,
    the T needed to come within 1% and 0.5% of the ANN and the final accuracy gap (right)."""
    use_style()
    ks = sorted(acc["K"].unique())
    pal = dict(zip(ks, sns.color_palette("crest", len(ks))))
    ann = float(acc["ann_accuracy"].iloc[0])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.0))
    ax.axhspan(ann - 0.01, ann, color="0.85", alpha=0.6, lw=0, zorder=0)
    ax.axhline(ann, color="k", ls="--", lw=1.2, label=f"ANN {100 * ann:.2f}%")
    for k in ks:
        g = acc[acc["K"] == k]
        ax.plot(g["t"], g["accuracy"], color=pal[k], lw=1.6, label=f"K={k}")
    ax.set_ylim(ann - zoom, min(1, ann + 0.01) + 0.002)
    ax.set_xlim(0, acc["t"].max())
    ax.set_xlabel("time step t")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right")
    ax.set_title("accuracy vs t (zoom near the ANN)")
    lat = latency.sort_values("K")
    T = int(acc["t"].max())
    for col, name, marker in (("t_within_1pct", "within 1%", "o"), ("t_within_0p5pct", "within 0.5%", "s")):
        y = lat[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        (line,) = ax2.plot(lat["K"], y, marker=marker, label=f"T {name}")
        miss = np.isnan(y)
        if miss.any():
            ax2.plot(
                lat["K"][miss], np.full(miss.sum(), T), ls="none", marker=marker, mfc="none", color=line.get_color()
            )
            for k in lat["K"][miss]:
                ax2.annotate(
                    f"> {T}",
                    (k, T),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    fontsize="x-small",
                    color="#d62728",
                )
    ax2.set_ylim(0, T * 1.12)
    ax2.set_xlabel("K (phases per cycle)")
    ax2.set_ylabel("time steps")
    ax2.set_xticks(ks)
    ax3 = ax2.twinx()
    ax3.plot(
        lat["K"],
        100 * (lat["ann_accuracy"] - lat["final_accuracy"]),
        color="0.3",
        ls="--",
        marker="^",
        label="ANN - final accuracy (points)",
    )
    ax3.set_ylabel("accuracy gap at T (points)")
    ax3.grid(False)
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="upper right", fontsize="x-small")
    ax2.set_title("latency and final gap against K")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_peer_comparison(peer: pd.DataFrame, *, title: str | None = None, zoom: float | None = 0.05) -> Figure:
    """Accuracy vs t of our engine and SpikingJelly on the same ANN: ``peer`` is long-form with
    columns t, accuracy, implementation (and optionally ann_accuracy); see
    :func:`bsnn_lib.workbook.load_peer_csv`."""
    use_style()
    df = peer.copy()
    if "ann_accuracy" not in df or df["ann_accuracy"].isna().all():
        df["ann_accuracy"] = np.nan
    split = df["implementation"].astype(str).str.extract(r"^(ours|spikingjelly)_(.+)$")
    if split.notna().all().all():  # several variants: one colour per variant, ours solid, SJ dashed
        return _plot_peer_variants(df.assign(side=split[0], variant=split[1]), title, zoom)
    impls = hue_order(df, "implementation")
    pal = dict(zip(impls, sns.color_palette("Set1", len(impls))))
    if df["ann_accuracy"].notna().any():
        df["ann_accuracy"] = float(df["ann_accuracy"].dropna().iloc[0])
        return plot_accuracy_vs_t(df, hue="implementation", title=title, zoom=zoom, palette=pal)
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    for impl in impls:
        g = df[df["implementation"] == impl]
        ax.plot(g["t"], g["accuracy"], color=pal[impl], label=str(impl))
    ax.set_xlabel("time step t")
    ax.set_ylabel("test accuracy")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _plot_peer_variants(df: pd.DataFrame, title: str | None, zoom: float | None) -> Figure:
    """Per variant (colour): ours (solid) and SpikingJelly (dashed) against t; right, the zoom
    to within ``zoom`` of the ANN."""
    variants = list(dict.fromkeys(df["variant"]))
    pal = dict(zip(variants, sns.color_palette("Set1", len(variants))))
    fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(11.5 if zoom else 6.2, 4.0), squeeze=False)
    ann = df["ann_accuracy"].dropna()
    for ax in axes[0]:
        for (variant, side), g in df.groupby(["variant", "side"], sort=False):
            ours = side == "ours"
            ax.plot(
                g["t"],
                g["accuracy"],
                color=pal[variant],
                ls="-" if ours else "--",
                lw=2.2 if ours else 1.2,
                alpha=0.55 if ours else 1.0,
                label=f"{variant}: {'ours' if ours else 'SpikingJelly'}",
            )
        if not ann.empty:
            ax.axhline(float(ann.iloc[0]), color="k", lw=1, ls=":", label=f"ANN {100 * float(ann.iloc[0]):.2f}%")
        ax.set_xlabel("time step t")
    axes[0][0].set_ylabel("test accuracy")
    if zoom and not ann.empty:
        a = float(ann.iloc[0])
        axes[0][1].set_ylim(a - zoom, a + zoom / 5)
        axes[0][1].set_title(f"zoom: within {100 * zoom:g} points of the ANN", fontsize=9)
    axes[0][0].legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
