"""Double-buffered (two-compartment) bistable neurons: a shorter frame period, beyond the paper.

A plain bistable neuron alternates a silent integrating cycle and a firing cycle, so a frame
takes 2K steps. This neuron has two compartments: while it fires the value integrated in the
previous cycle (phase-weighted spikes, exactly as a bistable neuron), it integrates the next
cycle's input into the second compartment; at the end of the cycle the second compartment moves
into the first (added to the residual with ``residual="carry"``, replacing it with ``clear``).

Layer l integrates from cycle l-1 (with the pipeline gate) and fires in every cycle from cycle l,
so the first answer comes at the same step as BSNN's (the fill L*K + 1), but every further frame
takes K steps instead of 2K. Each firing cycle still sends only values that were integrated over
a whole cycle: net input <= 0 never fires (no SIN), and in ``clear`` mode every frame equals the
K-bit quantized ANN (tested, like BSNN).
"""

from __future__ import annotations

import torch

from bsnn_lib.methods.base import FIRE_TOLERANCE, Schedule
from bsnn_lib.methods.bistable import BistableNeuron, BistableSchedule, Bsnn
from bsnn_lib.methods.config import MethodConfig
from bsnn_lib.neurons import Zeros, unfold_time
from bsnn_lib.quantized import firing_count


class DoubleBufferSchedule(BistableSchedule):
    """Layer l: switched off before cycle l-1 (gate), integrates only in cycle l-1, then fires
    and integrates in every cycle (``both``)."""

    def state(self, depth: int, t: int) -> str:
        c = t // self.K
        if c == depth - 1:
            return "integrate"
        if c < depth - 1 and self.cfg.gate:
            return "off"
        return "both"

    def receives(self, depth: int, t: int) -> bool:
        return self.state(depth, t) in ("integrate", "both")

    def emitted_units(self, depth: int, t: int) -> float:
        n = sum(1 for c in range(t // self.K) if self.state(depth, c * self.K) == "both")
        return n * self.bias_per_cycle


class DoubleBufferNeuron(BistableNeuron):
    """Fires from compartment ``v`` while integrating into ``v_in``; ``v_in`` moves into ``v`` at
    the end of every cycle (see the module docstring)."""

    kind = "bistable-double"

    def reset_state(self, record: bool = False) -> None:
        super().reset_state(record)
        self.v_in: torch.Tensor | None = None

    def _end_of_cycle(self) -> None:
        self.v = self.v + self.v_in
        self.v_in = torch.zeros_like(self.v)

    def step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        self._init_state(z)
        if getattr(self, "v_in", None) is None:
            self.v_in = torch.zeros_like(self.v)
        sch = self.schedule
        state = sch.state(self.depth, t)
        if state == "off":
            self._defer(z)
            return torch.zeros_like(z)
        self.v_in = self.v_in + z + sch.bias_gain(t) * self.bias + self._take_deferred()
        out = torch.zeros_like(z)
        last = sch.phase(t) == sch.K - 1
        if state == "both":
            thr = self.threshold * sch.weight(t)
            spikes = self.v + sch.fire_eps * self.threshold >= thr
            out = spikes * thr
            self.v = self.v - out
            self._record(spikes, out)
            if last:
                self._end_of_firing_cycle()
        if last:
            self._end_of_cycle()
        return out

    def cycle(self, z: torch.Tensor, t0: int, valid: int) -> torch.Tensor:
        """One whole cycle in closed form (see :meth:`BistableNeuron.cycle`): fire the first
        compartment, then add the cycle's input to what remains."""
        zero_in = isinstance(z, Zeros)
        self._init_state(z.like if zero_in else z)
        sch = self.schedule
        state = sch.state(self.depth, t0)
        if state == "off":
            if not zero_in:
                self._defer(z)
            return self._silent(self.v)
        inflow = sch.bias_per_cycle * self.bias + self._take_deferred()
        out: torch.Tensor | None = None
        if state == "both":
            n = firing_count(self.v, self.threshold, sch.fire_levels, sch.fire_max, FIRE_TOLERANCE)
            self.v = self.v - n * self.threshold / sch.fire_levels
            if self.count is not None:
                self._record_cycle(n, valid)
            self._end_of_firing_cycle()
            out = (
                unfold_time(self._spike_train(n) * self.threshold)
                if self.emit_steps
                else n * self.threshold / sch.fire_levels
            )
        self.v = self.v + inflow if zero_in else self.v + z + inflow
        return out if out is not None else self._silent(self.v)


class BsnnDouble(Bsnn):
    name = "bsnn-double"
    summary = "double-buffered bistable neurons: fire one cycle's value while integrating the next (frame period K)"
    neuron = DoubleBufferNeuron
    palette = "YlGn_d"

    def schedule(self, cfg: MethodConfig) -> Schedule:
        return DoubleBufferSchedule(cfg, K=cfg.K, phase_weighted=True, levels=self.levels(cfg))
