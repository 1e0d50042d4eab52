"""Notebook 01 (SIN): hand-made single-neuron inputs and the methods of the SIN analysis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsnn_lib.analysis.neurons import neuron_trace
from bsnn_lib.methods import MethodConfig, method_config
from bsnn_lib.profiles import Profile
from bsnn_lib.workbook.common import bsnn_default

__all__ = ["DEMO_SCENARIOS", "neuron_demos", "sin_methods"]

DEMO_SCENARIOS: dict[str, str] = {
    "phase_lead": "+2θ then −2θ at the start of a cycle (net input 0)",
    "late_inhibition": "excitation in every phase, inhibition in the last phase (net input < 0)",
    "phase_lag": "0.75θ arriving in the last phase of a cycle, nothing after",
}


def _demo_inputs(scenario: str, K: int) -> list[float]:
    n = 3 * K
    x = [0.0] * n
    if scenario == "phase_lead":
        x[0], x[1] = 2.0, -2.0
    elif scenario == "late_inhibition":
        for k in range(K - 1):
            x[k] = 0.4
        x[K - 1] = -0.4 * (K - 1) - 0.5
    elif scenario == "phase_lag":
        x[K - 1] = 0.75
    else:
        raise ValueError(f"unknown scenario {scenario!r}; one of {list(DEMO_SCENARIOS)}")
    return x


def neuron_demos(K: int = 4, scenarios: Sequence[str] = tuple(DEMO_SCENARIOS)) -> dict[str, dict[str, pd.DataFrame]]:
    """Single neurons of rate coding, phase coding and BSNN fed the same hand-made input.

    Returns ``{scenario: {method label: trace}}`` (:func:`bsnn_lib.analysis.neuron_trace` frames
    with an extra ``threshold`` column: the firing threshold of each step where the neuron may
    fire, NaN while a bistable neuron integrates; theta = 1). One
    value per step for 3 cycles of K steps; rate coding sees the same sequence step by step."""
    cfgs = {
        "rate (IF, V(0)=0)": method_config("rate"),
        f"phase K={K}": method_config("phase", K=K),
        f"bsnn K={K}": method_config("bsnn", K=K),
    }
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for sc in scenarios:
        x = _demo_inputs(sc, K)
        out[sc] = {}
        for label, cfg in cfgs.items():
            df = neuron_trace(cfg, x, theta=1.0, depth=1)
            sch = cfg.spec.schedule(cfg)
            fires = df["state"].isin(["step", "fire"])
            df["threshold"] = [sch.weight(t - 1) if f else np.nan for t, f in zip(df["t"], fires)]
            out[sc][label] = df
    return out


def sin_methods(profile: Profile, arch: str | None = None) -> list[tuple[str, MethodConfig]]:
    """The methods of the SIN analysis as (variant name, config): every baseline (rate and
    phase coding) configuration of the profile, and the BSNN reference (K = 8) in its default ``carry`` mode and
    in ``clear`` mode (the one that is exact against the quantized ANN). Simulated with the
    profile's T, so the cells are shared with notebooks 02 and 04; SIN is read at ``sin_T``."""
    ms = [(m.label(), m) for m in profile.method_configs(arch) if m.spec.role == "baseline"]
    ms += [("bsnn K=8 carry", bsnn_default()), ("bsnn K=8 clear", bsnn_default(residual="clear"))]
    return list(dict(ms).items())
