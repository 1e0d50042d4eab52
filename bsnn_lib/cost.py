"""Cost of a converted network: synaptic fan-out (SOPs), the ANN's MACs, and energy (method.md §9).

- :func:`fanout_maps`: the accumulates one spike of each neuron triggers, as a map of its layer;
- :func:`ann_macs`: the ANN's multiply-accumulates per image, per weighted layer;
- :func:`energy_table`: SOPs against MACs and the usual 45 nm estimate (E_MAC = 4.6 pJ,
  E_AC = 0.9 pJ) per statistics time of a simulation.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import pandas as pd
import torch
import torch.fx as fx
from torch import nn

from bsnn_lib.neurons import Readout, SpikeMaxPool, SpikingNeuron

if TYPE_CHECKING:
    from bsnn_lib.network import SpikingNetwork

__all__ = ["E_AC_PJ", "E_MAC_PJ", "ann_macs", "energy_table", "fanout_maps"]

E_MAC_PJ = 4.6
E_AC_PJ = 0.9
WEIGHTED = (nn.Conv2d, nn.Linear)


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


def _counting_module(mod: nn.Module, name: str, store: dict) -> nn.Module:
    """The stand-in for one module of the SNN graph in the counting graph."""
    if isinstance(mod, WEIGHTED):
        fresh = copy.deepcopy(mod).float()
        fresh.weight.data.fill_(1.0)
        if fresh.bias is not None:
            fresh.bias.data.zero_()
        return fresh
    if isinstance(mod, (nn.AvgPool2d, nn.MaxPool2d, SpikeMaxPool)):
        pool = mod.pool if isinstance(mod, SpikeMaxPool) else mod
        return nn.AvgPool2d(pool.kernel_size, pool.stride, pool.padding, divisor_override=1)
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        if mod.output_size not in (1, (1, 1)):
            raise ValueError(
                f"SOP counting supports only global adaptive pooling, not '{name}' (output_size={mod.output_size})"
            )
        return _SumAll()
    if isinstance(mod, SpikingNeuron):
        return _Leaf(store, name)
    if isinstance(mod, Readout):
        return nn.Identity()
    return mod


def _counting_graph(snn: SpikingNetwork, store: dict) -> fx.GraphModule:
    """The SNN graph with every synaptic op counting operations instead of computing (weights of
    one, sum pooling, neurons as gradient leaves). Built without copying the network's state."""
    graph = snn.graph
    root = {
        node.target: _counting_module(graph.get_submodule(node.target), node.target, store)
        for node in graph.graph.nodes
        if node.op == "call_module"
    }
    return fx.GraphModule(root, copy.deepcopy(graph.graph))


def fanout_maps(snn: SpikingNetwork) -> dict[str, torch.Tensor]:
    """Synaptic operations one spike of each neuron triggers, as a map of the layer's shape.

    A spike of neuron i costs one accumulate per weight it meets in the next weighted layer(s),
    counted through pooling and residual adds (probe: weights of one, sum pooling, gradients).
    ``__input__`` is the same map for the analog input (its cost is counted as MACs)."""
    store: dict = {}
    gm = _counting_graph(snn, store)
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
            hooks.append(
                mod.register_forward_hook(
                    lambda m, i, o, n=name, k=per_out: macs.__setitem__(n, float(o[0].numel() * k))
                )
            )
        elif isinstance(mod, nn.Linear):
            hooks.append(
                mod.register_forward_hook(
                    lambda m, i, o, n=name: macs.__setitem__(n, float(m.in_features * m.out_features))
                )
            )
    try:
        param = next(snn.parameters())
        snn.ann(torch.zeros((1, *snn.input_shape), device=param.device, dtype=param.dtype))
    finally:
        for h in hooks:
            h.remove()
    macs["__input__"] = float(fanout_maps(snn)["__input__"].sum())
    return macs


def energy_table(result, e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ) -> pd.DataFrame:
    """Per statistics time t of a :class:`~bsnn_lib.simulate.SimResult`: SOPs per image, SNN input
    MACs, ANN MACs, and energy in nJ."""
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
