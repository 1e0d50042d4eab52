"""The ipywidgets explorer of SIN statistics (notebook 01), for a live kernel."""

from __future__ import annotations

import pandas as pd

__all__ = ["has_frontend", "sin_explorer"]


def has_frontend() -> bool:
    """True inside a running Jupyter kernel (where widgets can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def sin_explorer(sin: pd.DataFrame):
    """An ipywidgets explorer of SIN: pick a method, a layer and a time; shows the SIN neuron
    rate and spike share (float and quantized reference) and the error split at that point, and
    the layer's SIN rate against t. Returns the widget (or None without ipywidgets)."""
    try:
        import ipywidgets as w
    except ImportError:
        return None
    import matplotlib.pyplot as plt
    from IPython.display import display

    variants = list(dict.fromkeys(sin["variant"]))
    layers = list(dict.fromkeys(sin.sort_values(["depth", "layer"])["layer"]))
    method = w.Dropdown(options=variants, description="method")
    layer = w.Dropdown(options=layers, description="layer")
    tmax = int(sin["t"].max())
    t = w.IntSlider(value=tmax, min=1, max=tmax, description="t")
    out = w.Output()
    box = w.VBox([w.HBox([method, layer, t]), out])
    box.last = {}  # what the last redraw showed (the selected row and the drawn figure)

    def show(*_):
        g = sin[(sin["variant"] == method.value) & (sin["layer"] == layer.value)].sort_values("t")
        row = g[g["t"] <= t.value].tail(1)
        with out:
            out.clear_output(wait=True)
            if row.empty:
                print("no statistics before this t")
                return
            cols = [
                "t",
                "sin_neuron_rate",
                "sin_spike_share",
                "sin_neuron_rate_q",
                "sin_spike_share_q",
                "spikes_per_neuron",
                "rel_error",
                "err_sin_share",
                "err_clip_share",
                "err_rest_share",
            ]
            display(row[cols].T.rename(columns=lambda _: f"{method.value} / {layer.value}"))
            fig, ax = plt.subplots(figsize=(5, 2.6))
            ax.plot(g["t"], g["sin_neuron_rate"], label="vs float ANN")
            ax.plot(g["t"], g["sin_neuron_rate_q"], ls="--", label="vs quantized ANN")
            ax.axvline(t.value, color="k", lw=0.8)
            ax.set_xlabel("t")
            ax.set_ylabel("SIN neuron rate")
            ax.legend(fontsize="x-small")
            box.last = {"row": row, "figure": fig}
            plt.show()

    for wid in (method, layer, t):
        wid.observe(show, names="value")
    show()
    return box
