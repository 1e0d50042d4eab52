"""Rate coding: integrate-and-fire neurons, reset by subtraction (method.md §2).

The standard post-training conversion (Rueckauer et al. 2017, RMP-SNN 2020, SpikingJelly's
ann2snn): V(t) = V(t-1) + z(t) + b; fire when V >= theta; V -= theta (or reset to zero); the
spike carries theta. Options: V(0) = 0 or theta/2 (``v_init``, the half-threshold shift, which
rounds to nearest instead of down), reset by subtraction or to zero.
"""

from __future__ import annotations

import torch

from bsnn_lib.methods.base import Method, Schedule, label_extras
from bsnn_lib.methods.config import MethodConfig
from bsnn_lib.neurons import SpikingNeuron


class IFNeuron(SpikingNeuron):
    """Integrate-and-fire, no leak; with phase weights it is Kim's phase coding.

    V(t) = V(t-1) + z(t) + b(t); fire when V >= theta*w(t); reset by subtraction (or to zero);
    the spike carries theta*w(t). w = 1 for rate coding, 2^-(k+1) at phase k for phase coding.
    """

    kind = "if"

    def initial_potential(self) -> torch.Tensor | float:
        return self.schedule.start * self.threshold

    def step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        self._init_state(z)
        sch = self.schedule
        self.v = self.v + z + sch.bias_gain(t) * self.bias
        thr = self.threshold * sch.weight(t)
        spikes = self.v >= thr
        out = spikes * thr
        if sch.cfg.reset == "subtract":
            self.v = self.v - out
        else:
            self.v = torch.where(spikes, torch.zeros_like(self.v), self.v)
        self._record(spikes, out)
        return out


class Rate(Method):
    name = "rate"
    summary = "integrate-and-fire, reset by subtraction (Rueckauer 2017, SpikingJelly ann2snn)"
    options = ("v_init", "reset")
    neuron = IFNeuron
    fast_path = "chunk"
    role = "baseline"
    palette = "Blues_d"

    def schedule(self, cfg: MethodConfig) -> Schedule:
        return Schedule(cfg, K=1, phase_weighted=False, levels=None)

    def label(self, cfg: MethodConfig) -> str:
        return f"rate p={cfg.percentile:g} v0={cfg.v_init:g}" + label_extras(cfg, skip=("percentile", "v_init"))
