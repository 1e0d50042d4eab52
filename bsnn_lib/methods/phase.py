"""Phase coding: weighted spikes with a periodically varying threshold (Kim et al. 2018; method.md §3).

Time is cut into cycles of K steps; at phase k = t mod K a spike is worth theta*2^-(k+1) and the
threshold follows it. Neurons integrate and fire in the same step (IF neurons with phase weights),
so they fire on partial input: the phase lead and phase lag of method.md §4.
"""

from __future__ import annotations

from bsnn_lib.methods.base import Method, PhaseEncoder, Schedule
from bsnn_lib.methods.config import MethodConfig
from bsnn_lib.methods.rate import IFNeuron


class Phase(Method):
    name = "phase"
    summary = "weighted spikes / periodically varying threshold (Kim et al. 2018), K phases"
    options = ("v_init", "reset", "K", "input_coding", "bias", "rounding", "readout")
    neuron = IFNeuron
    fast_path = "chunk"
    role = "baseline"
    palette = "Oranges_d"

    def schedule(self, cfg: MethodConfig) -> Schedule:
        return Schedule(cfg, K=cfg.K, phase_weighted=True, levels=self.levels(cfg))

    def encoder(self, cfg, schedule, mean, std):
        return PhaseEncoder(cfg, schedule, mean, std)

    def levels(self, cfg: MethodConfig) -> tuple[int, int]:
        return 2**cfg.K, 2**cfg.K - 1
