"""Analysis on simulation results: latency (T within x% of the ANN), SIN, energy (method.md §4, §8, §9).

Everything here is a query on tidy tables or a small probe of a converted network:

- :func:`latency` — the smallest T from which acc(t) stays within a tolerance of the ANN.
- :func:`fanout_maps` / :func:`ann_macs` — synaptic fan-out of every spiking neuron (for SOPs)
  and the ANN's multiply-accumulates, by probing the network graph.
- :func:`energy_table` — SOPs vs MACs and the 45 nm estimate (E_MAC = 4.6 pJ, E_AC = 0.9 pJ).
- :func:`neuron_trace` — one neuron of any method driven by a hand-made input, for the phase
  lead / phase lag demonstrations.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from bsnn_lib.convert import WEIGHTED, SpikingNetwork
from bsnn_lib.methods import MethodConfig
from bsnn_lib.neurons import Readout, Schedule, SimContext, SpikeMaxPool, SpikingNeuron, make_neuron

E_MAC_PJ = 4.6
E_AC_PJ = 0.9


# ---------------------------------------------------------------------------------------------
# latency
# ---------------------------------------------------------------------------------------------
def latency(accuracy: Sequence[float], ann_accuracy: float, tolerance: float) -> int | None:
    """Smallest t (1-based) from which acc(t') >= ann - tolerance for every t' >= t up to T.

    ``tolerance`` is absolute (0.01 = one percentage point). None if never reached by T.
    """
    acc = np.asarray(accuracy, dtype=float)
    ok = acc >= ann_accuracy - tolerance - 1e-12
    if not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1] + 2) if bad.size else 1


def latency_row(acc: Sequence[float], ann_accuracy: float) -> dict[str, float | int | None]:
    """The columns of latency.csv for one accuracy curve."""
    return {
        "ann_accuracy": ann_accuracy,
        "best_accuracy": float(np.max(acc)),
        "final_accuracy": float(acc[-1]),
        "t_within_1pct": latency(acc, ann_accuracy, 0.01),
        "t_within_0p5pct": latency(acc, ann_accuracy, 0.005),
    }


# ---------------------------------------------------------------------------------------------
# fan-out, MACs, energy
# ---------------------------------------------------------------------------------------------
class _SumAll(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=(-2, -1), keepdim=True)


class _Leaf(nn.Module):
    """Stands in for a neuron in the fan-out probe: records its input, emits a grad leaf."""

    def __init__(self, store: dict, name: str) -> None:
        super().__init__()
        self.store, self.name = store, name

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.store.setdefault("inputs", []).append(z)
        leaf = torch.ones_like(z, requires_grad=True)
        self.store[self.name] = leaf
        return leaf


def _counting_graph(snn: SpikingNetwork, store: dict) -> nn.Module:
    """A copy of the SNN graph where every synaptic op counts operations instead of computing."""
    gm = copy.deepcopy(snn.graph)
    for name, mod in list(gm.named_modules()):
        if not name:
            continue
        parent, _, attr = name.rpartition(".")
        owner = gm.get_submodule(parent) if parent else gm
        if isinstance(mod, WEIGHTED):
            mod.weight.data.fill_(1.0)
            if mod.bias is not None:
                mod.bias.data.zero_()
        elif isinstance(mod, (nn.AvgPool2d, nn.MaxPool2d, SpikeMaxPool)):
            pool = mod.pool if isinstance(mod, SpikeMaxPool) else mod
            setattr(owner, attr, nn.AvgPool2d(pool.kernel_size, pool.stride, pool.padding, divisor_override=1))
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            setattr(owner, attr, _SumAll())
        elif isinstance(mod, SpikingNeuron):
            setattr(owner, attr, _Leaf(store, name))
        elif isinstance(mod, Readout):
            setattr(owner, attr, nn.Identity())
    return gm


def fanout_maps(snn: SpikingNetwork) -> dict[str, torch.Tensor]:
    """Synaptic operations one spike of each neuron triggers, as a map of the layer's shape.

    A spike of neuron i costs one accumulate per weight it meets in the next weighted layer(s),
    counted through pooling and residual adds (probe: weights of one, sum pooling, gradients).
    ``__input__`` is the same map for the analog input (its cost is counted as MACs)."""
    store: dict = {}
    gm = _counting_graph(snn, store).float()
    x = torch.ones((1, *snn.input_shape), requires_grad=True)
    with torch.enable_grad():
        out = gm(x)
        total = out.sum() + sum(z.sum() for z in store.get("inputs", []))
        leaves = {k: v for k, v in store.items() if k != "inputs"}
        grads = torch.autograd.grad(total, [x, *leaves.values()], allow_unused=True)
    maps = {"__input__": grads[0][0].detach()}
    for (name, _leaf), g in zip(leaves.items(), grads[1:]):
        maps[name] = torch.zeros_like(_leaf[0]) if g is None else g[0].detach()
    return maps


@torch.no_grad()
def ann_macs(snn: SpikingNetwork) -> dict[str, float]:
    """Multiply-accumulates of the ANN per image, per weighted layer; ``__input__`` is the first
    layer's share (the SNN pays it as MACs on every analog input step)."""
    macs: dict[str, float] = {}
    hooks = []
    for name, mod in snn.graph.named_modules():
        if isinstance(mod, nn.Conv2d):
            per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            hooks.append(mod.register_forward_hook(lambda m, i, o, n=name, k=per_out: macs.__setitem__(n, float(o[0].numel() * k))))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(lambda m, i, o, n=name: macs.__setitem__(n, float(m.in_features * m.out_features))))
    prev = snn.ctx.mode
    snn.ctx.mode = "ann"
    try:
        param = next(snn.parameters())
        snn.graph(torch.zeros((1, *snn.input_shape), device=param.device, dtype=param.dtype))
    finally:
        snn.ctx.mode = prev
        for h in hooks:
            h.remove()
    maps_input = fanout_maps(snn)["__input__"]
    macs["__input__"] = float(maps_input.sum())
    return macs


def energy_table(result, e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ) -> pd.DataFrame:
    """Per statistics time t: SOPs per image, SNN input MACs, ANN MACs, and energy in nJ."""
    stats = result.layer_stats()
    if stats.empty:
        return pd.DataFrame()
    sops = stats.groupby("t")["sops_per_image"].sum()
    ann = sum(v for k, v in result.macs.items() if k != "__input__")
    rows = []
    for t, sop in sops.items():
        in_macs = float(result.input_steps[t - 1]) * result.input_macs
        e_snn = (sop * e_ac_pj + in_macs * e_mac_pj) / 1e3
        e_ann = ann * e_mac_pj / 1e3
        rows.append(
            {
                "t": int(t),
                "sops_per_image": float(sop),
                "snn_input_macs_per_image": in_macs,
                "ann_macs_per_image": ann,
                "snn_energy_nj": e_snn,
                "ann_energy_nj": e_ann,
                "energy_ratio_snn_over_ann": e_snn / e_ann if e_ann else math.nan,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# single neurons: phase lead and phase lag
# ---------------------------------------------------------------------------------------------
def neuron_trace(
    cfg: MethodConfig, inputs: Sequence[float], theta: float = 1.0, depth: int = 1, bias: float = 0.0
) -> pd.DataFrame:
    """Drive one neuron of ``cfg``'s kind with a hand-made input sequence (one value per step).

    Returns one row per step: t, input, potential after the step, spike (0/1), emitted value and
    the neuron's state (step / integrate / fire / off). The ANN reference of the same input is
    relu(mean input per cycle + bias)."""
    ctx = SimContext(mode="step")
    neuron = make_neuron(
        cfg, threshold=torch.tensor(float(theta)), schedule=Schedule(cfg), ctx=ctx, depth=depth, name="demo"
    )
    neuron.bias = torch.tensor(float(bias))
    neuron.reset_state()
    rows = []
    for t, z in enumerate(inputs):
        ctx.t = t
        out = neuron.step(torch.tensor([float(z)]), t)
        rows.append(
            {
                "t": t + 1,
                "input": float(z),
                "potential": float(neuron.v[0]),
                "spike": int(out[0] > 0),
                "value": float(out[0]),
                "state": neuron.schedule.state(depth, t),
            }
        )
    return pd.DataFrame(rows)
