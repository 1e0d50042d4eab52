"""Dynamics: spike rasters with membrane traces, single neurons, the shortcut timing drawing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from bsnn_lib.plots.style import STATE_COLORS, use_style

__all__ = ["plot_neuron_traces", "plot_shortcut_timing", "plot_spike_raster"]


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
    fig, axes = plt.subplots(
        len(names),
        2,
        figsize=(12, 1.9 * len(names) + 0.8),
        squeeze=False,
        sharex=True,
        gridspec_kw={"width_ratios": [1.15, 1]},
    )
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
                ax_r.scatter(
                    t[hit], np.full(hit.size, j), s=4 + 30 * np.clip(w, 0, 1), c="k", marker="|", linewidths=1.2
                )
        ax_r.set_ylim(-1, len(cols))
        ax_r.set_yticks([])
        depth = int(info.loc[name, "depth"])
        kind = " (SN relay)" if info.loc[name, "kind"] == "relay" else ""
        ax_r.set_ylabel(f"depth {depth}\n{name}{kind}", rotation=0, ha="right", va="center", fontsize="small")
        tcols = sns.color_palette("Dark2", n_traces)
        for i, (c, color) in enumerate(zip(cols[:n_traces], tcols)):
            silent = not (val[:, c] > 0).any()
            ax_v.plot(
                t,
                pot[:, c] / theta,
                color=color,
                lw=1.1,
                drawstyle="steps-mid",
                label=f"neuron {i + 1}" + (" (silent)" if silent else ""),
            )
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


def plot_neuron_traces(traces: Mapping[str, pd.DataFrame], *, title: str | None = None, theta: float = 1.0) -> Figure:
    """Single neurons of several methods fed the same hand-made input, one column per method.

    Rows: the input current per step; the membrane potential (with the firing threshold of each
    step, if the frame has a ``threshold`` column); the emitted value (spikes). Bistable states
    are shaded. Each column's title sums it up: total input, the ANN's relu(total input), the
    total value sent and the spike count; a red title marks spikes of an inactivated neuron
    (SIN)."""
    use_style()
    names = list(traces)
    fig, axes = plt.subplots(3, len(names), figsize=(3.9 * len(names), 6.2), squeeze=False, sharex="col", sharey="row")
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
            ax_v.plot(
                df["t"], df["threshold"], drawstyle="steps-mid", color="k", ls=":", lw=1.0, label="firing threshold"
            )
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
        ax_in.set_title(
            f"{name}\nΣ input {tot_in:+.2f}θ → ANN {ann:.2f}θ\nsent {sent:.3f}θ in {n} spike(s)"
            + ("  — SIN" if sin else ""),
            color="#d62728" if sin else "k",
            fontsize="small",
        )
        ax_out.set_xlabel("time step t")
    axes[0, 0].set_ylabel("input (θ)")
    axes[1, 0].set_ylabel("potential V (θ)")
    axes[2, 0].set_ylabel("value sent (θ)")
    axes[1, 0].legend(loc="lower left", fontsize="x-small")
    handles = _state_legend(states_all)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, -0.01))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def plot_shortcut_timing(K: int = 4, n_cycles: int = 6, block_depth: int = 1) -> Figure:
    """Drawing of the shortcut timing problem of bistable residual blocks (method.md §6).

    Rows are spiking layers of one basic block: the block input (depth d), the branch's first
    neuron (d+1), the relay SN (d+1, right panel only) and the post-addition neuron (d+2);
    columns are cycles of K steps, coloured by each layer's state under the bistable schedule.
    Arrows follow one frame: through the branch it reaches the post-add neuron while it
    integrates; the bare shortcut arrives one cycle early, while it fires (input dropped or
    deferred); through the relay it arrives in step with the branch."""
    from bsnn_lib.methods import method_config

    use_style()
    cfg = method_config("bsnn", K=K, gate=False)
    sch = cfg.spec.schedule(cfg)
    d = block_depth

    def state(depth: int, c: int) -> str:
        return sch.state(depth, c * K)

    fig, axes = plt.subplots(1, 2, figsize=(15, 4.6))
    setups = [
        (
            "without SN: the shortcut arrives one cycle early",
            [("block input", d), ("branch: conv1 neuron", d + 1), ("post-add neuron", d + 2)],
        ),
        (
            "with SN: a relay neuron delays the shortcut by one cycle",
            [
                ("block input", d),
                ("branch: conv1 neuron", d + 1),
                ("SN relay (shortcut)", d + 1),
                ("post-add neuron", d + 2),
            ],
        ),
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
            ax.add_patch(
                FancyArrowPatch(
                    (x0, y0),
                    (x1, y1),
                    arrowstyle="-|>",
                    mutation_scale=12,
                    color=color,
                    lw=1.8,
                    connectionstyle=f"arc3,rad={rad}",
                    zorder=5,
                )
            )

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
            ax.text(
                c0 + 1.5,
                y_post - 0.5,
                "branch and shortcut meet in one integrating cycle",
                ha="center",
                va="top",
                fontsize="x-small",
                color=blue,
            )
        else:
            arrow(c0 + 0.25, y_in - 0.3, c0 + 0.25, y_post + 0.05, red, rad=0.25)
            ax.text(
                c0 + 0.9,
                y_post - 0.45,
                "shortcut: lands in a firing cycle,\ndropped (or deferred a cycle)",
                ha="right",
                va="top",
                fontsize="x-small",
                color=red,
            )
            ax.text(
                c0 + 1.1,
                y_post - 0.45,
                "branch: arrives one\ncycle later, integrated",
                ha="left",
                va="top",
                fontsize="x-small",
                color=green,
            )
        ax.set_xlim(-0.1, n_cycles)
        ax.set_ylim(-1.2, len(rows) - 0.4)
        ax.set_yticks(list(ys.values()), [f"{n} (depth {dp})" for n, dp in rows])
        ax.set_xticks(
            np.arange(n_cycles) + 0.48,
            [f"cycle {c}\nt={c * K + 1}..{(c + 1) * K}" for c in range(n_cycles)],
            fontsize="x-small",
        )
        ax.grid(False)
        ax.set_title(ttl)
    fig.legend(
        handles=[
            Patch(color=STATE_COLORS["integrate"], label="I: integrating (silent)"),
            Patch(color=STATE_COLORS["fire"], label="F: firing (no input)"),
        ],
        loc="lower center",
        ncol=2,
        frameon=False,
    )
    fig.suptitle(
        f"Shortcut timing in a bistable basic block (K = {K}); green: residual branch, red/blue: shortcut",
        fontsize="medium",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig
