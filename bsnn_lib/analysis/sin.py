"""SIN tables: a layer x method view of the per-layer statistics."""

from __future__ import annotations

import pandas as pd

__all__ = ["network_sin", "sin_summary"]


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


def network_sin(result, t: int | None = None) -> dict[str, float]:
    """Whole-network SIN of one :class:`~bsnn_lib.simulate.SimResult` at its last statistics
    time <= t: the SIN neuron rate (neurons that spiked although the ANN holds them at 0, over
    all such neurons) and the SIN spike share (their spikes over all spikes), against the float
    ANN and (``_q``) against the method's quantized ANN, and the SOPs per image."""
    times = sorted({k[1] for k in result.layer_sums})
    if t is not None:
        times = [x for x in times if x <= t]
    if not times:
        keys = ("sin_neuron_rate", "sin_spike_share", "sin_neuron_rate_q", "sin_spike_share_q", "sops_per_image")
        return dict.fromkeys(keys, float("nan"))
    at = [v for (_, x), v in result.layer_sums.items() if x == times[-1]]

    def total(key: str) -> float:
        return float(sum(v[key] for v in at))

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    return {
        "sin_neuron_rate": ratio(total("sin_neurons"), total("inactive")),
        "sin_spike_share": ratio(total("sin_spikes"), total("spikes")),
        "sin_neuron_rate_q": ratio(total("sin_neurons_q"), total("inactive_q")),
        "sin_spike_share_q": ratio(total("sin_spikes_q"), total("spikes")),
        "sops_per_image": total("sops") / result.n,
    }
