"""Single neurons driven by a hand-made input: the phase lead / phase lag demonstrations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch

from bsnn_lib.methods import MethodConfig

__all__ = ["demo_summary", "demo_table", "neuron_trace"]


def neuron_trace(
    cfg: MethodConfig, inputs: Sequence[float], theta: float = 1.0, depth: int = 1, bias: float = 0.0
) -> pd.DataFrame:
    """Drive one neuron of ``cfg``'s kind with a hand-made input sequence (one value per step).

    Returns one row per step: t, input, potential after the step, spike (0/1), emitted value and
    the neuron's state (step / integrate / fire / off). The ANN reference of the same input is
    relu(mean input per cycle + bias)."""
    schedule = cfg.spec.schedule(cfg)
    neuron = cfg.spec.neuron(threshold=torch.tensor(float(theta)), schedule=schedule, depth=depth, name="demo")
    neuron.bias = torch.tensor(float(bias))
    neuron.reset_state()
    rows = []
    for t, z in enumerate(inputs):
        out = neuron.step(torch.tensor([float(z)]), t)
        rows.append(
            {
                "t": t + 1,
                "input": float(z),
                "potential": float(neuron.v[0]),
                "spike": int(out[0] > 0),
                "value": float(out[0]),
                "state": schedule.state(depth, t),
            }
        )
    return pd.DataFrame(rows)


def demo_summary(demos: Mapping[str, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per scenario and method: net input, the ANN's relu of it, value sent, spikes,
    whether the spikes are SIN (sent although the ANN's activation is 0), and the first step
    with a spike."""
    rows = []
    for sc, per in demos.items():
        for label, df in per.items():
            total = float(df["input"].sum())
            n = int(df["spike"].sum())
            first = df.loc[df["spike"] > 0, "t"]
            rows.append(
                {
                    "scenario": sc,
                    "method": label,
                    "net_input": total,
                    "ann_value": max(total, 0.0),
                    "value_sent": float(df["value"].sum()),
                    "spikes": n,
                    "sin": bool(total <= 0 and n > 0),
                    "first_spike_t": int(first.iloc[0]) if n else None,
                }
            )
    return pd.DataFrame(rows)


def demo_table(demos: Mapping[str, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """All demo traces in one tidy frame (scenario, method, t, input, potential, ...)."""
    return pd.concat(
        [df.assign(scenario=sc, method=label) for sc, per in demos.items() for label, df in per.items()],
        ignore_index=True,
    )
