"""The verdict: latencies with bootstrap intervals (censored ones as "> T") and the ratios
T(baseline) / T(BSNN) against the paper's 4x, per net; and the reported accuracy curves."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bsnn_lib.plots.style import label_palette, use_style

__all__ = ["plot_fill_vs_bits", "plot_verdict", "plot_verdict_curves", "verdict_figure_set"]

_TOL_TEXT = {"1pct": "1%", "0p5pct": "0.5%"}


def _errorbar(
    ax,
    y: float,
    est: float,
    lo: float,
    hi: float,
    color,
    censored_est: bool,
    censored_hi: bool,
    right: float,
    censored_text: str = "> T",
):
    """One horizontal interval at row ``y``; a censored end is an arrow to the panel's edge."""
    hi_draw = right if censored_hi else hi
    ax.plot([lo, hi_draw], [y, y], color=color, lw=2.2, solid_capstyle="butt")
    ax.plot([lo], [y], "|", color=color, ms=9)
    if censored_hi:
        ax.annotate("", xy=(right, y), xytext=(right / 1.25, y), arrowprops={"arrowstyle": "->", "color": color})
    else:
        ax.plot([hi], [y], "|", color=color, ms=9)
    if censored_est:
        ax.text(right, y + 0.22, censored_text, color=color, ha="right", va="bottom", fontsize=8)
    else:
        ax.plot([est], [y], "o", color=color, ms=6, zorder=3)


def plot_verdict(
    latency: pd.DataFrame, ratios: pd.DataFrame, *, tolerance: str = "1pct", title: str | None = None
) -> Figure:
    """Per net (row): left, each family's T within ``tolerance`` of the ANN with its 95% interval
    (log axis; "> T" where the horizon cuts it off); right, each baseline's ratio to BSNN with its
    interval, the paper's 4x and 10x dashed, and the verdict written beside it."""
    use_style()
    nets = list(dict.fromkeys(latency["net"]))
    height = max(2.6, 0.55 * latency.groupby("net").size().max() + 1.3) * len(nets)
    fig, axes = plt.subplots(len(nets), 2, figsize=(11, height), squeeze=False)
    pal = label_palette(list(dict.fromkeys(latency["variant"])))
    for (ax_l, ax_r), net in zip(axes, nets):
        g = latency[latency["net"] == net].reset_index(drop=True)
        right = float(g["T"].max()) * 1.6
        for y, r in g.iterrows():
            _errorbar(
                ax_l,
                y,
                r[f"t_{tolerance}"],
                r[f"t_{tolerance}_lo"],
                r[f"t_{tolerance}_hi"],
                pal[r["variant"]],
                bool(r[f"t_{tolerance}_censored"]),
                bool(r[f"t_{tolerance}_hi_censored"]),
                right,
            )
            ax_l.plot([r["T"]], [y], "k|", ms=14, alpha=0.35)
        ax_l.set_xscale("log")
        ax_l.set_xlim(1, right)
        ax_l.set_yticks(range(len(g)), [f"{f}\n{v}" for f, v in zip(g["family"], g["variant"])], fontsize=8)
        ax_l.invert_yaxis()
        ax_l.set_xlabel(f"T within {_TOL_TEXT[tolerance]} of the ANN (95% CI; grey tick: horizon)")
        ann = g["ann_accuracy"].iloc[0]
        ax_l.set_title(f"{net}: ANN {100 * ann:.2f}%, {int(g['n_images'].iloc[0])} report images", fontsize=10)
        q = ratios[(ratios["net"] == net) & (ratios["tolerance"] == tolerance)].reset_index(drop=True)
        finite = [v for v in (*q["lo"], *q["hi"], *q["estimate"]) if np.isfinite(v) and v > 0]
        r_right = max([20.0, *finite]) * 1.6
        for y, r in q.iterrows():
            color = {"holds": "tab:green", "does not hold": "tab:red"}.get(r["verdict"], "tab:gray")
            est, lo, hi = r["estimate"], r["lo"], r["hi"]
            if np.isfinite(lo):
                _errorbar(
                    ax_r,
                    y,
                    est,
                    lo,
                    hi,
                    color,
                    not np.isfinite(est),
                    not np.isfinite(hi),
                    r_right,
                    censored_text="undefined",
                )
                if r["estimate_is_lower_bound"] and np.isfinite(est):
                    ax_r.plot([est], [y], ">", color=color, ms=7, zorder=4)
            label = f" {r['verdict']}"
            ax_r.text(1.02, y, label, transform=ax_r.get_yaxis_transform(), va="center", fontsize=8, color=color)
        ax_r.set_xlim(min([0.5, *finite]) / 1.3, r_right)
        for v in (4, 10):
            ax_r.axvline(v, ls="--", color="0.4", lw=0.8)
        ax_r.axvline(1, color="0.7", lw=0.8)
        ax_r.set_xscale("log")
        ax_r.set_yticks(
            range(len(q)),
            [f"{b}\n/ {f}" for b, f in zip(q["baseline"], q.get("bsnn_family", ["bsnn"] * len(q)))],
            fontsize=8,
        )
        ax_r.invert_yaxis()
        ax_r.set_xlabel("T(baseline) / T(BSNN) (95% CI; dashed: the paper's 4x and 10x)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_verdict_curves(
    curves: Mapping[str, Mapping[str, object]], latency: pd.DataFrame, *, title: str | None = None
) -> Figure:
    """Accuracy against t of every reported family (log t), one panel per net; the ANN's accuracy
    and the 1% band dashed, each family's T within 1% marked (an open circle at T when censored).

    ``curves`` is ``{net: {family: Curves}}`` (:func:`bsnn_lib.verdict.load_curves`)."""
    use_style()
    nets = list(curves)
    fig, axes = plt.subplots(1, len(nets), figsize=(6.2 * len(nets), 4.2), squeeze=False)
    for ax, net in zip(axes[0], nets):
        g = latency[latency["net"] == net].set_index("family")
        # one distinct colour per family (shades of one hue would make rate and rate-classic, or
        # bsnn and bsnn-double, unreadable side by side); a peer's curve dotted
        pal = dict(zip(curves[net], sns.color_palette("tab10", max(len(curves[net]), 1))))
        ann = None
        for fam, c in curves[net].items():
            acc = c.correct.mean(axis=0)
            ann = c.ann.mean()
            color = pal[fam]
            t = np.arange(1, len(acc) + 1)
            peer = str(g.loc[fam, "variant"]).endswith(" (peer)")  # bsnn_lib.verdict marks a peer's label
            ax.plot(t, 100 * acc, color=color, lw=1.4, ls=":" if peer else "-", label=f"{fam}: {g.loc[fam, 'variant']}")
            if g.loc[fam, "t_1pct_censored"]:
                ax.plot([len(acc)], [100 * acc[-1]], "o", mfc="white", color=color, ms=6)
            else:
                k = int(g.loc[fam, "t_1pct"])
                ax.plot([k], [100 * acc[k - 1]], "o", color=color, ms=5)
        if ann is not None:
            ax.axhline(100 * ann, color="k", ls="--", lw=0.9, label="ANN")
            ax.axhspan(100 * (ann - 0.01), 100 * ann, color="0.85", alpha=0.5, lw=0)
            ax.set_ylim(max(0, 100 * ann - 25), 100 * ann + 3)
        ax.set_xscale("log")
        ax.set_xlabel("time step t")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(net, fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _latency_and_fill(ax, h: pd.DataFrame, x: str, color, label: str) -> None:
    """The fill (dashed) and T within 0.5% (solid; an open marker at the horizon T where it is
    cut off) of the rows ``h`` against their column ``x``."""
    ax.plot(h[x], h["fill"], ls="--", color=color, lw=1)
    t05 = h["t_within_0p5pct"].astype(float)
    ok = t05.notna()
    ax.plot(h[x][ok], t05[ok], "-o", color=color, ms=4, label=label)
    ax.plot(h[x][~ok], h["T"][~ok], "o", mfc="white", color=color, ms=6)


def plot_fill_vs_bits(selection: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Per net: the pipeline fill (dashed) and T within 0.5% of the ANN (solid; an open marker
    at the horizon where it is cut off) against the bits per cycle K, one line per BSNN family
    and rounding, from the selection table of :func:`bsnn_lib.verdict.run_verdict`."""
    use_style()
    sel = selection[selection["K"].notna() & (selection["fill"] > 1)] if "K" in selection else selection.iloc[:0]
    nets = list(dict.fromkeys(sel["net"]))
    fig, axes = plt.subplots(1, max(1, len(nets)), figsize=(5.6 * max(1, len(nets)), 4.0), squeeze=False)
    for ax, net in zip(axes[0], nets):
        g = sel[sel["net"] == net].copy()
        g["line"] = g["family"] + (" " + g["rounding"].astype(str) if "rounding" in g else "")
        if "readout" in g:
            g = g[g["readout"].fillna("step") == "step"]
        pal = label_palette(list(dict.fromkeys(g["line"])))
        for line, h in g.groupby("line", sort=False):
            _latency_and_fill(ax, h.sort_values("K"), "K", pal[line], line)
        ax.set_xlabel("bits per cycle K")
        ax.set_ylabel("time steps")
        ax.set_title(f"{net}: T within 0.5% (solid; open: > T) and fill (dashed)", fontsize=9)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_bit_allocation(paths: pd.DataFrame, *, tolerance: float = 0.005, title: str | None = None) -> Figure:
    """Per net, the greedy per-layer bit search of ``bsnn-mixed`` (``load_verdict(...)["bits"]``):
    the quantized ANN's accuracy on the selection images (left) and the pipeline fill (right)
    against the total bits, one line per start; the ANN and the tolerance as a band."""
    use_style()
    nets = list(dict.fromkeys(paths["net"]))
    fig, axes = plt.subplots(len(nets), 2, figsize=(10.5, 3.6 * len(nets)), squeeze=False)
    for (ax_acc, ax_fill), net in zip(axes, nets):
        g = paths[paths["net"] == net]
        ann = float(g["ann_accuracy"].iloc[0])
        ax_acc.axhspan(ann - tolerance, ann, color="0.9", zorder=0, label=f"ANN - {100 * tolerance:g}%")
        ax_acc.axhline(ann, color="k", lw=1, label="float ANN")
        for (fam, start), h in g.groupby(["family", "start"], sort=False):
            label = f"{fam} from {start} bits"
            ax_acc.plot(h["total_bits"], h["qann_accuracy"], "-o", ms=3, label=label)
            ax_fill.plot(h["total_bits"], h["fill"], "-o", ms=3, label=label)
            last = h.iloc[-1]
            ax_fill.annotate(str(last["bits"]), (last["total_bits"], last["fill"]), fontsize=6, rotation=20)
        for ax in (ax_acc, ax_fill):
            ax.set_xlabel("total bits (sum of K_l)")
            ax.invert_xaxis()  # the search removes bits: read it left to right
            ax.legend(fontsize=7)
        ax_acc.set_ylabel("quantized ANN accuracy (selection)")
        ax_fill.set_ylabel("pipeline fill (steps)")
        ax_acc.set_title(f"{net}: accuracy as bits are removed", fontsize=9)
        ax_fill.set_title(f"{net}: fill as bits are removed (final allocation marked)", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def verdict_figure_set(v: Mapping[str, object], title: str) -> list[tuple[str, Figure]]:
    """The verdict's figures from loaded tables (``bsnn_lib.verdict.load_verdict``):
    ``("verdict_1pct", fig)``, ``("verdict_0p5pct", fig)`` and, with curves, ``("accuracy_curves", fig)``."""
    out = [
        (f"verdict_{tag}", plot_verdict(v["latency"], v["ratios"], tolerance=tag, title=title))
        for tag in ("1pct", "0p5pct")
    ]
    if v.get("curves"):
        out.append(
            (
                "accuracy_curves",
                plot_verdict_curves(v["curves"], v["latency"], title="Reported accuracy curves (chosen variants)"),
            )
        )
    return out


def plot_release_tradeoff(df: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Early release (``bsnn-early``), from :func:`bsnn_lib.workbook.beyond.release_tradeoff`:
    left, the fill (dashed) and T within 0.5% of the ANN (solid; an open marker at the horizon
    where it is cut off) against the release delta; right, the whole-network SIN against delta
    (solid: the SIN neuron rate, the share of the neurons that the float ANN holds at 0 which
    spiked; dotted: the SIN spikes' share of all spikes); one line per correction rule."""
    use_style()
    fig, (ax_t, ax_sin) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    pal = label_palette(list(dict.fromkeys(df["correction"])))
    for corr, h in df.groupby("correction", sort=False):
        h = h.sort_values("release")
        color = pal[corr]
        _latency_and_fill(ax_t, h, "release", color, f"correction={corr}")
        ax_sin.plot(h["release"], 100 * h["sin_neuron_rate"], "-o", color=color, ms=4, label=f"correction={corr}")
        ax_sin.plot(h["release"], 100 * h["sin_spike_share"], ":", color=color, lw=1)
    K = int(df["K"].iloc[0])
    for ax in (ax_t, ax_sin):
        ax.set_xlabel(f"release δ (integrating phases before firing; K = {K})")
        ax.set_xticks(sorted(df["release"].unique()))
        ax.legend(fontsize=7)
    ax_t.set_ylabel("time steps")
    ax_t.set_title("T within 0.5% (solid; open: > T) and fill L·δ + 1 (dashed)", fontsize=9)
    ax_sin.set_ylabel("SIN (%)")
    ax_sin.set_title("inactivated neurons that spiked (dotted: their share of all spikes)", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
