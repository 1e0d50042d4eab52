"""The rate-coded reading of BSNN, an ablation (method.md §5): the bistable two-state schedule
with plain IF spikes and no phase weights.

A layer integrates K steps, then fires up to one unit spike per step for K steps, so one frame
carries K + 1 levels and values are K times the ANN's (bias K*b per cycle, input K*x per cycle).
"""

from __future__ import annotations

from bsnn_lib.methods.base import Method, Schedule
from bsnn_lib.methods.bistable import BistableNeuron, BistableSchedule
from bsnn_lib.methods.config import MethodConfig


class BsnnRate(Method):
    name = "bsnn-rate"
    summary = "ablation: the bistable two-state schedule with plain IF spikes (no phase weights)"
    options = ("K", "bias", "residual", "gate", "offphase", "rounding", "readout")
    neuron = BistableNeuron
    fast_path = "cycle"
    role = "ablation"
    palette = "Purples_d"
    default_sn = True
    supports_maxpool = True

    def schedule(self, cfg: MethodConfig) -> Schedule:
        sch = BistableSchedule(cfg, K=cfg.K, phase_weighted=False, levels=self.levels(cfg))
        sch.bias_per_cycle = float(cfg.K)
        return sch

    def levels(self, cfg: MethodConfig) -> tuple[int, int]:
        return cfg.K, cfg.K
