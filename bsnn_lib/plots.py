"""Figures of the workbook: one function per kind of figure, and :func:`save_fig`.

Every ``plot_*`` function takes tidy tables (the frames of
:func:`bsnn_lib.experiments.result_tables`, or small frames built by :mod:`bsnn_lib.workbook`) and
returns a new :class:`matplotlib.figure.Figure`; nothing is shown or written here except by
:func:`save_fig`, which writes ``<name>.png``, ``<name>.pdf`` and ``<name>.json`` (the parameters
of the run that made the figure) atomically.

==============================  ===============================================================
:func:`plot_accuracy_vs_t`      acc(t) per method label, the ANN line and its 1% band (+ zoom)
:func:`plot_sin_per_layer`      SIN neuron rate per spiking layer (float / quantized reference)
:func:`plot_sin_vs_t`           SIN rate against t, one panel per method, one line per layer
:func:`plot_error_decomposition`  each layer's output error split into SIN, clipping and rest
:func:`plot_spike_raster`       rasters + membrane traces across layers, cycles shaded by state
:func:`plot_neuron_traces`      single neurons fed a hand-made input (phase lead / lag demos)
:func:`plot_k_sweep`            BSNN accuracy vs t per K, and the latency against K
:func:`plot_latency`            T needed to come within 1% / 0.5% of the ANN, bars per method
:func:`plot_energy`             SOPs per image against t vs the ANN's MACs, and the energy ratio
:func:`plot_shortcut_timing`    drawing: shortcut arrival with and without synchronous neurons
:func:`plot_peer_comparison`    our engine beside SpikingJelly (accuracy vs t)
==============================  ===============================================================
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from bsnn_lib.experiments import to_jsonable

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Background colours of the bistable states (integrating, firing, switched off).
STATE_COLORS: dict[str, str] = {"integrate": "#dbe9f6", "fire": "#fde2c8", "off": "#eeeeee"}

#: A seaborn palette per method family; labels of one family get shades of it.
FAMILY_PALETTES: dict[str, str] = {
    "rate": "Blues_d",
    "phase": "Oranges_d",
    "bsnn": "Greens_d",
    "bsnn-rate": "Purples_d",
}

_LATENCY_COLUMNS = {"1pct": ("t_within_1pct", "1%"), "0p5pct": ("t_within_0p5pct", "0.5%")}


# ---------------------------------------------------------------------------------------------
# style, colours, saving
# ---------------------------------------------------------------------------------------------
def use_style() -> None:
    """The workbook's seaborn style (white grid, 'notebook' context, readable small fonts)."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "axes.titlesize": "medium",
                         "legend.fontsize": "small", "legend.title_fontsize": "small"})


def method_family(label: str) -> str:
    """The method of a label such as ``'bsnn K=8'`` or ``'rate p=99.9 v0=0.5'``."""
    head = str(label).split()[0] if str(label).split() else str(label)
    return head if head in FAMILY_PALETTES else "other"


def label_palette(labels: Sequence[Any]) -> dict[Any, Any]:
    """A colour per label: each method family its own hue, its labels shades of it.

    Labels that are not method labels (e.g. ablation variant names) get the ``tab10`` colours."""
    uniq = list(dict.fromkeys(labels))
    out: dict[Any, Any] = {}
    families: dict[str, list[Any]] = {}
    for lab in uniq:
        families.setdefault(method_family(lab), []).append(lab)
    other = iter(sns.color_palette("tab10", max(len(families.get("other", [])), 1)))
    for fam, labs in families.items():
        if fam == "other":
            for lab in labs:
                out[lab] = next(other)
            continue
        shades = sns.color_palette(FAMILY_PALETTES[fam], len(labs) + 1)[1:] if len(labs) > 1 else [
            sns.color_palette(FAMILY_PALETTES[fam], 3)[1]]
        for lab, col in zip(labs, shades):
            out[lab] = col
    return out


def git_commit(repo: str | Path = REPO_ROOT) -> str | None:
    """The current commit of ``repo`` (with ``-dirty`` if the tree has changes), or None."""
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha or None


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then ``os.replace`` it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_fig(fig: Figure, name: str, out_dir: str | Path, params: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``<out_dir>/<name>.png``, ``.pdf`` and ``.json`` atomically; return the three paths.

    The JSON holds ``params`` (profile, dataset, arch, methods, T, number of images, ... whatever
    the caller knows) plus ``figure``, ``git_commit`` and ``date``, which are filled in here.
    Each file is first written to a temporary name in ``out_dir`` and then renamed, so a reader
    never sees a half-written figure."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"figure": name, **dict(params or {})}
    meta.setdefault("git_commit", git_commit())
    meta.setdefault("date", _dt.datetime.now().isoformat(timespec="seconds"))
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"{name}.{ext}"
        _atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, bbox_inches="tight"))
        paths.append(path)
    path = out / f"{name}.json"
    text = json.dumps(to_jsonable(meta), indent=2, sort_keys=True)
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n"))
    paths.append(path)
    return paths


def _hue_order(df: pd.DataFrame, hue: str) -> list[Any]:
    return list(dict.fromkeys(df[hue].tolist()))


def _layer_order(df: pd.DataFrame) -> list[str]:
    """Layers by depth (then name); relays marked."""
    g = df.drop_duplicates("layer").sort_values(["depth", "layer"], kind="stable")
    return g["layer"].tolist()


def _layer_ticklabels(df: pd.DataFrame, layers: Sequence[str]) -> list[str]:
    info = df.drop_duplicates("layer").set_index("layer")
    out = []
    for lay in layers:
        depth = int(info.loc[lay, "depth"])
        relay = "kind" in info.columns and info.loc[lay, "kind"] == "relay"
        out.append(f"{depth}: {lay}{' (SN)' if relay else ''}")
    return out


def _panel_grid(n: int, width: float, height: float, max_cols: int = 4, **kw: Any):
    """``n`` panels in rows of at most ``max_cols``; returns (fig, list of n axes, axes grid)."""
    ncols = min(n, max_cols)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(width * ncols + 1.2, height * nrows), squeeze=False, **kw)
    flat = list(grid.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n], grid


def _at_time(df: pd.DataFrame, t: int | None, hue: str) -> pd.DataFrame:
    """Rows of each hue at its last statistics time <= t (t=None: its last time)."""
    parts = []
    for _, g in df.groupby(hue, sort=False):
        times = g["t"] if t is None else g.loc[g["t"] <= t, "t"]
        if times.empty:
            continue
        parts.append(g[g["t"] == times.max()])
    return pd.concat(parts) if parts else df.iloc[:0]


# ---------------------------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------------------------
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
    order = _hue_order(acc, hue)
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


# ---------------------------------------------------------------------------------------------
# SIN and errors
# ---------------------------------------------------------------------------------------------
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
    data = _at_time(sin, t, hue)
    order = _hue_order(data, hue)
    pal = dict(palette or label_palette(order))
    layers = _layer_order(data)
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(5.0, 0.9 * len(layers) + 2.5) * len(metrics) / 1.4, 4.0),
                             squeeze=False, sharey=True)
    width = 0.8 / max(len(order), 1)
    x = np.arange(len(layers))
    for ax, (col, sub) in zip(axes[0], metrics):
        for i, key in enumerate(order):
            g = data[data[hue] == key].set_index("layer").reindex(layers)
            ax.bar(x + (i - (len(order) - 1) / 2) * width, g[col].fillna(0).to_numpy(), width,
                   color=pal[key], label=str(key))
        ax.set_xticks(x, _layer_ticklabels(data, layers), rotation=35, ha="right")
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
    order = _hue_order(sin, hue)
    fig, panels, grid = _panel_grid(len(order), 3.6, 3.4, sharey=True)
    layers = _layer_order(sin)
    cmap = sns.color_palette("viridis", len(layers))
    for ax, key in zip(panels, order):
        g = sin[sin[hue] == key]
        for lay, col, tick in zip(layers, cmap, _layer_ticklabels(sin, layers)):
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
    data = _at_time(sin, t, hue)
    order = _hue_order(data, hue)
    layers = _layer_order(data)
    fig, panels, grid = _panel_grid(len(order), 3.4, 3.5, sharey=True)
    parts = [("err_sin_share", "SIN", "#d62728"), ("err_clip_share", "clipping", "#9467bd"),
             ("err_rest_share", "rest", "#7f7f7f")]
    x = np.arange(len(layers))
    for ax, key in zip(panels, order):
        g = data[data[hue] == key].set_index("layer").reindex(layers)
        total = (g["rel_error"] ** 2).fillna(0).to_numpy()
        bottom = np.zeros(len(layers))
        for col, name, color in parts:
            h = total * g[col].fillna(0).to_numpy()
            ax.bar(x, h, 0.7, bottom=bottom, color=color, label=name)
            bottom += h
        ax.set_xticks(x, [tl.split(":")[0] for tl in _layer_ticklabels(data, layers)])
        ax.set_xlabel("layer depth")
        ax.set_title(f"{key} (t={int(g['t'].max())})" if g["t"].notna().any() else str(key))
    for row in grid:
        row[0].set_ylabel("squared relative error\nof the layer output")
    panels[min(len(panels), grid.shape[1]) - 1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# spikes and membranes
# ---------------------------------------------------------------------------------------------
def _shade_states(ax, states: Sequence[str], t0: int = 1) -> None:
    """Shade runs of equal bistable state; time step t (1-based) spans [t-0.5, t+0.5]."""
    start = 0
    for i in range(1, len(states) + 1):
        if i == len(states) or states[i] != states[start]:
            color = STATE_COLORS.get(states[start])
            if color:
                ax.axvspan(start + t0 - 0.5, i + t0 - 0.5, color=color, lw=0, zorder=0)
            start = i


def _state_legend(states: Sequence[str]) -> list[Patch]:
    return [Patch(color=STATE_COLORS[s], label=s) for s in STATE_COLORS if s in set(states)]


def plot_spike_raster(
    trains: Mapping[str, Mapping[str, np.ndarray]],
    layers: pd.DataFrame,
    states: Mapping[str, Sequence[str]] | None = None,
    *,
    neurons: Mapping[str, Sequence[int]] | None = None,
    n_traces: int = 3,
    title: str | None = None,
) -> Figure:
    """Spike rasters (left) and membrane potentials (right) of a few neurons of every layer.

    Args:
        trains: :func:`bsnn_lib.simulate.spike_trains` output, ``{layer: {value, potential}}``,
            arrays [T, N]; a spike is a step with value > 0 (its marker size follows its weight).
        layers: ``SpikingNetwork.layers()`` (depth, kind and threshold of each layer).
        states: per layer, the schedule state of each step (``integrate``/``fire``/``off``/
            ``step``); bistable cycles are shaded (blue: integrating, orange: firing).
        neurons: per layer, which columns of the arrays to draw (default: all).
        n_traces: membrane traces per layer (the first ``n_traces`` of ``neurons``), in units of
            the layer's threshold theta (dotted line at V = theta)."""
    use_style()
    info = layers.set_index("name")
    names = [n for n in layers["name"] if n in trains]
    fig, axes = plt.subplots(len(names), 2, figsize=(12, 1.9 * len(names) + 0.8), squeeze=False,
                             sharex=True, gridspec_kw={"width_ratios": [1.15, 1]})
    all_states: list[str] = []
    for row, name in enumerate(names):
        val, pot = trains[name]["value"], trains[name]["potential"]
        cols = list(neurons[name]) if neurons and name in neurons else list(range(val.shape[1]))
        T = val.shape[0]
        t = np.arange(1, T + 1)
        theta = float(info.loc[name, "threshold_mean"]) or 1.0
        st = list(states[name]) if states and name in states else []
        all_states += st
        ax_r, ax_v = axes[row]
        for ax in (ax_r, ax_v):
            if st:
                _shade_states(ax, st)
        for j, c in enumerate(cols):
            hit = np.flatnonzero(val[:, c] > 0)
            if hit.size:
                w = val[hit, c] / theta
                ax_r.scatter(t[hit], np.full(hit.size, j), s=4 + 30 * np.clip(w, 0, 1), c="k", marker="|",
                             linewidths=1.2)
        ax_r.set_ylim(-1, len(cols))
        ax_r.set_yticks([])
        depth = int(info.loc[name, "depth"])
        kind = " (SN relay)" if info.loc[name, "kind"] == "relay" else ""
        ax_r.set_ylabel(f"depth {depth}\n{name}{kind}", rotation=0, ha="right", va="center", fontsize="small")
        tcols = sns.color_palette("Dark2", n_traces)
        for i, (c, color) in enumerate(zip(cols[:n_traces], tcols)):
            silent = not (val[:, c] > 0).any()
            ax_v.plot(t, pot[:, c] / theta, color=color, lw=1.1, drawstyle="steps-mid",
                      label=f"neuron {i + 1}" + (" (silent)" if silent else ""))
        if row == 0:
            ax_v.legend(loc="lower left", fontsize="x-small", ncol=n_traces)
        ax_v.axhline(1.0, color="k", ls=":", lw=0.8)
        ax_v.axhline(0.0, color="0.5", lw=0.6)
        ax_v.set_ylabel("V / θ", fontsize="small")
    axes[0, 0].set_title("spikes of the most active neurons (tick height ~ spike weight)")
    axes[0, 1].set_title(f"membrane potential of {n_traces} of them (dotted: θ)")
    for ax in axes[-1]:
        ax.set_xlabel("time step t")
    handles = _state_legend(all_states)
    if handles:
        fig.legend(handles=handles, loc="upper right", ncol=len(handles), frameon=False)
    if title:
        fig.suptitle(title, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def plot_neuron_traces(
    traces: Mapping[str, pd.DataFrame], *, title: str | None = None, theta: float = 1.0
) -> Figure:
    """Single neurons of several methods fed the same hand-made input, one column per method.

    Rows: the input current per step; the membrane potential (with the firing threshold of each
    step, if the frame has a ``threshold`` column); the emitted value (spikes). Bistable states
    are shaded. Each column's title sums it up: total input, the ANN's relu(total input), the
    total value sent and the spike count; a red title marks spikes of an inactivated neuron
    (SIN)."""
    use_style()
    names = list(traces)
    fig, axes = plt.subplots(3, len(names), figsize=(3.9 * len(names), 6.2), squeeze=False, sharex="col",
                             sharey="row")
    states_all: list[str] = []
    for j, name in enumerate(names):
        df = traces[name]
        st = df["state"].tolist()
        states_all += st
        ax_in, ax_v, ax_out = axes[:, j]
        for ax in (ax_in, ax_v, ax_out):
            _shade_states(ax, st)
        ax_in.bar(df["t"], df["input"], 0.8, color=np.where(df["input"] >= 0, "#2ca02c", "#d62728"))
        ax_in.axhline(0, color="0.4", lw=0.6)
        ax_v.plot(df["t"], df["potential"], drawstyle="steps-mid", color="C0", lw=1.5, label="V")
        if "threshold" in df:
            ax_v.plot(df["t"], df["threshold"], drawstyle="steps-mid", color="k", ls=":", lw=1.0,
                      label="firing threshold")
        else:
            ax_v.axhline(theta, color="k", ls=":", lw=1.0, label="θ")
        ax_v.axhline(0, color="0.4", lw=0.6)
        spk = df[df["spike"] > 0]
        ax_out.vlines(spk["t"], 0, spk["value"], color="k", lw=2)
        ax_out.plot(spk["t"], spk["value"], "ko", ms=3)
        tot_in = float(df["input"].sum())
        ann = max(tot_in, 0.0)
        sent = float(df["value"].sum())
        n = int(df["spike"].sum())
        sin = ann <= 0 and n > 0
        ax_in.set_title(f"{name}\nΣ input {tot_in:+.2f}θ → ANN {ann:.2f}θ\nsent {sent:.3f}θ in {n} spike(s)"
                        + ("  — SIN" if sin else ""), color="#d62728" if sin else "k", fontsize="small")
        ax_out.set_xlabel("time step t")
    axes[0, 0].set_ylabel("input (θ)")
    axes[1, 0].set_ylabel("potential V (θ)")
    axes[2, 0].set_ylabel("value sent (θ)")
    axes[1, 0].legend(loc="lower left", fontsize="x-small")
    handles = _state_legend(states_all)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(0.5, -0.01))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


# ---------------------------------------------------------------------------------------------
# sweeps, latency, energy
# ---------------------------------------------------------------------------------------------
def plot_k_sweep(acc: pd.DataFrame, latency: pd.DataFrame, *, title: str | None = None,
                 zoom: float = 0.05) -> Figure:
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
        line, = ax2.plot(lat["K"], y, marker=marker, label=f"T {name}")
        miss = np.isnan(y)
        if miss.any():
            ax2.plot(lat["K"][miss], np.full(miss.sum(), T), ls="none", marker=marker, mfc="none",
                     color=line.get_color())
            for k in lat["K"][miss]:
                ax2.annotate(f"> {T}", (k, T), xytext=(0, 6), textcoords="offset points", ha="center",
                             fontsize="x-small", color="#d62728")
    ax2.set_ylim(0, T * 1.12)
    ax2.set_xlabel("K (phases per cycle)")
    ax2.set_ylabel("time steps")
    ax2.set_xticks(ks)
    ax3 = ax2.twinx()
    ax3.plot(lat["K"], 100 * (lat["ann_accuracy"] - lat["final_accuracy"]), color="0.3", ls="--", marker="^",
             label="ANN - final accuracy (points)")
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
    fig, axes = plt.subplots(len(groups), 1, figsize=(max(5.5, 0.9 * latency[x].nunique() + 2.5), 3.9 * len(groups)),
                             squeeze=False)
    T = T or int(latency.get("T", pd.Series([0])).max() or 0)
    order = _hue_order(latency, x)
    pal = dict(palette or label_palette(order))
    for ax, (key, g) in zip(axes[:, 0], groups):
        g = g.set_index(x).reindex([o for o in order if o in set(g[x])])
        xs = np.arange(len(g))
        tmax = T or int(np.nanmax(g[["t_within_1pct", "t_within_0p5pct"]].astype("Float64").to_numpy(dtype=float, na_value=np.nan), initial=1))
        for off, (col, tol), alpha in ((-0.2, _LATENCY_COLUMNS["1pct"], 1.0), (0.2, _LATENCY_COLUMNS["0p5pct"], 0.55)):
            vals = g[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            missing = np.isnan(vals)
            heights = np.where(missing, tmax, vals)
            colors = [pal[o] for o in g.index]
            bars = ax.bar(xs + off, heights, 0.38, color=colors, alpha=alpha,
                          hatch=None, edgecolor="white", label=f"within {tol}")
            for b, miss, v in zip(bars, missing, vals):
                if miss:
                    b.set_hatch("//")
                    b.set_alpha(0.25)
                ax.annotate(f"> {tmax}" if miss else f"{int(v)}", (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize="x-small")
        ax.set_xticks(xs, [str(o) for o in g.index], rotation=35, ha="right")
        ax.set_ylabel("time steps T")
        ax.set_title(" / ".join(map(str, key if isinstance(key, tuple) else (key,))))
    fig.legend(handles=[Patch(color="0.3", label="within 1% (left bar, solid)"),
                        Patch(color="0.3", alpha=0.55, label="within 0.5% (right bar, light)"),
                        Patch(facecolor="white", edgecolor="0.3", hatch="//", label="not reached by T")],
               loc="lower center", ncol=3, frameon=False, fontsize="small")
    for ax in axes[:, 0]:
        ax.set_ylim(0, ax.get_ylim()[1] * 1.08)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 / len(groups) + 0.02, 1, 1))
    return fig


def plot_energy(energy: pd.DataFrame, *, hue: str = "label", title: str | None = None,
                palette: Mapping[Any, Any] | None = None) -> Figure:
    """Per net (rows): synaptic operations per image against t, with the ANN's MACs (dashed), and
    the 45 nm energy ratio SNN/ANN (E_AC = 0.9 pJ per SOP, E_MAC = 4.6 pJ per MAC; the analog
    input layer is paid in MACs)."""
    use_style()
    nets = list(energy.groupby(["dataset", "arch"], sort=False))
    fig, axes = plt.subplots(len(nets), 2, figsize=(13.5, 3.6 * len(nets)), squeeze=False)
    order = _hue_order(energy, hue)
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


# ---------------------------------------------------------------------------------------------
# drawings and peers
# ---------------------------------------------------------------------------------------------
def plot_shortcut_timing(K: int = 4, n_cycles: int = 6, block_depth: int = 1) -> Figure:
    """Drawing of the shortcut timing problem of bistable residual blocks (method.md §6).

    Rows are spiking layers of one basic block: the block input (depth d), the branch's first
    neuron (d+1), the relay SN (d+1, right panel only) and the post-addition neuron (d+2);
    columns are cycles of K steps, coloured by each layer's state under the bistable schedule.
    Arrows follow one frame: through the branch it reaches the post-add neuron while it
    integrates; the bare shortcut arrives one cycle early, while it fires (input dropped or
    deferred); through the relay it arrives in step with the branch."""
    from bsnn_lib.methods import method_config
    from bsnn_lib.neurons import Schedule

    use_style()
    sch = Schedule(method_config("bsnn", K=K, gate=False))
    d = block_depth

    def state(depth: int, c: int) -> str:
        return sch.state(depth, c * K)

    fig, axes = plt.subplots(1, 2, figsize=(15, 4.6))
    setups = [
        ("without SN: the shortcut arrives one cycle early", [("block input", d), ("branch: conv1 neuron", d + 1),
                                                               ("post-add neuron", d + 2)]),
        ("with SN: a relay neuron delays the shortcut by one cycle",
         [("block input", d), ("branch: conv1 neuron", d + 1), ("SN relay (shortcut)", d + 1),
          ("post-add neuron", d + 2)]),
    ]
    c0 = next(c for c in range(n_cycles) if state(d, c) == "fire")  # a firing cycle of the block input
    names = {"integrate": "I", "fire": "F", "off": "-"}
    for ax, (ttl, rows) in zip(axes, setups):
        ys = {name: len(rows) - 1 - i for i, (name, _) in enumerate(rows)}
        for name, depth in rows:
            y = ys[name]
            for c in range(n_cycles):
                s = state(depth, c)
                ax.add_patch(Rectangle((c, y - 0.35), 0.96, 0.7, color=STATE_COLORS[s], ec="0.6", lw=0.6))
                ax.text(c + 0.9, y + 0.3, names[s], ha="right", va="top", fontsize="small", color="0.35")

        def arrow(x0: float, y0: float, x1: float, y1: float, color: str, rad: float = 0.0) -> None:
            ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color=color,
                                         lw=1.8, connectionstyle=f"arc3,rad={rad}", zorder=5))

        y_in, y_br, y_post = ys["block input"], ys["branch: conv1 neuron"], ys["post-add neuron"]
        green, red, blue = "#2ca02c", "#d62728", "#1f77b4"
        # branch: the block input fires frame n in c0 -> conv1 integrates it in c0, fires it in c0+1
        # -> the post-add neuron integrates it in c0+1
        arrow(c0 + 0.55, y_in - 0.3, c0 + 0.55, y_br + 0.1, green)
        arrow(c0 + 0.75, y_br - 0.1, c0 + 1.25, y_br - 0.1, green)
        arrow(c0 + 1.35, y_br - 0.3, c0 + 1.35, y_post + 0.05, green, rad=0.15 if "SN relay (shortcut)" in ys else 0)
        if "SN relay (shortcut)" in ys:
            y_sn = ys["SN relay (shortcut)"]
            arrow(c0 + 0.25, y_in - 0.3, c0 + 0.25, y_sn + 0.1, blue, rad=0.2)
            arrow(c0 + 0.75, y_sn - 0.1, c0 + 1.25, y_sn - 0.1, blue)
            arrow(c0 + 1.65, y_sn - 0.3, c0 + 1.65, y_post + 0.05, blue)
            ax.text(c0 + 1.5, y_post - 0.5, "branch and shortcut meet in one integrating cycle",
                    ha="center", va="top", fontsize="x-small", color=blue)
        else:
            arrow(c0 + 0.25, y_in - 0.3, c0 + 0.25, y_post + 0.05, red, rad=0.25)
            ax.text(c0 + 0.9, y_post - 0.45, "shortcut: lands in a firing cycle,\ndropped (or deferred a cycle)",
                    ha="right", va="top", fontsize="x-small", color=red)
            ax.text(c0 + 1.1, y_post - 0.45, "branch: arrives one\ncycle later, integrated", ha="left", va="top",
                    fontsize="x-small", color=green)
        ax.set_xlim(-0.1, n_cycles)
        ax.set_ylim(-1.2, len(rows) - 0.4)
        ax.set_yticks(list(ys.values()), [f"{n} (depth {dp})" for n, dp in rows])
        ax.set_xticks(np.arange(n_cycles) + 0.48, [f"cycle {c}\nt={c * K + 1}..{(c + 1) * K}" for c in range(n_cycles)],
                      fontsize="x-small")
        ax.grid(False)
        ax.set_title(ttl)
    fig.legend(handles=[Patch(color=STATE_COLORS["integrate"], label="I: integrating (silent)"),
                        Patch(color=STATE_COLORS["fire"], label="F: firing (no input)")],
               loc="lower center", ncol=2, frameon=False)
    fig.suptitle(f"Shortcut timing in a bistable basic block (K = {K}); green: residual branch, "
                 "red/blue: shortcut", fontsize="medium")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig


def plot_peer_comparison(peer: pd.DataFrame, *, title: str | None = None, zoom: float | None = 0.05) -> Figure:
    """Accuracy vs t of our engine and SpikingJelly on the same ANN: ``peer`` is long-form with
    columns t, accuracy, implementation (and optionally ann_accuracy); see
    :func:`bsnn_lib.workbook.load_peer_csv`."""
    use_style()
    df = peer.copy()
    if "ann_accuracy" not in df or df["ann_accuracy"].isna().all():
        df["ann_accuracy"] = np.nan
    impls = _hue_order(df, "implementation")
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


__all__ = [
    "STATE_COLORS",
    "git_commit",
    "label_palette",
    "method_family",
    "plot_accuracy_vs_t",
    "plot_energy",
    "plot_error_decomposition",
    "plot_k_sweep",
    "plot_latency",
    "plot_neuron_traces",
    "plot_peer_comparison",
    "plot_shortcut_timing",
    "plot_sin_per_layer",
    "plot_sin_vs_t",
    "plot_spike_raster",
    "save_fig",
    "use_style",
]
