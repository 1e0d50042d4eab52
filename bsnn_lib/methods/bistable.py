"""Bistable neurons (BSNN, Li, Zhao, Zeng 2021; method.md §5).

A bistable neuron alternates two states every cycle of K steps: **integrating** (silent:
V += input + bias share) and **firing** (no input; at phase k it fires if V >= theta*2^-(k+1),
then V -= theta*2^-(k+1)). Layer l integrates in cycles c = l-1 (mod 2) and fires in cycles
c = l (mod 2), so layer l-1 fires exactly while layer l integrates; with the pipeline gate it is
switched on only from cycle l-1. A neuron fires only after a whole cycle of input: net input <= 0
never fires (no SIN), and one firing cycle sends the K-bit greedy binary expansion of
clip(V/theta, 0, 1-2^-K), i.e. a K-bit quantized, clipped ReLU.
"""

from __future__ import annotations

import torch

from bsnn_lib import kernels
from bsnn_lib.methods.base import FIRE_TOLERANCE, Method, PhaseEncoder, Schedule
from bsnn_lib.methods.config import MethodConfig
from bsnn_lib.neurons import SpikingNeuron, Zeros, unfold_time
from bsnn_lib.quantized import firing_count


class BistableSchedule(Schedule):
    """Cycles of K steps; layer l integrates in cycles l-1, l+1, ... and fires in between."""

    def state(self, depth: int, t: int) -> str:
        c = t // self.K
        if self.cfg.gate and c < depth - 1:
            return "off"
        return "integrate" if (c - depth + 1) % 2 == 0 else "fire"

    def fill_steps(self, readout_depth: int) -> int:
        return readout_depth * self.K - self.K + 1

    def emitted_units(self, depth: int, t: int) -> float:
        n = sum(1 for c in range(t // self.K) if self.state(depth, c * self.K) == "fire")
        return n * self.bias_per_cycle


class BistableNeuron(SpikingNeuron):
    """Bistable neuron (BSNN): a silent integrating cycle, then a firing cycle without input.

    Integrating: V += input of this step + bias share. Firing (phase k): spike if
    V >= theta*w_k, V -= theta*w_k. After the firing cycle the remaining potential is carried
    (error feedback) or cleared ([choice] ``residual``). Input arriving while firing (or while
    still switched off by the pipeline gate) is dropped or deferred to the next integrating cycle
    ([choice] ``offphase``).
    """

    kind = "bistable"

    def reset_state(self, record: bool = False) -> None:
        super().reset_state(record)
        self.deferred: torch.Tensor | None = None

    def initial_potential(self) -> torch.Tensor | float:
        return self.schedule.start * self.threshold

    def _end_of_firing_cycle(self) -> None:
        if self.schedule.cfg.residual == "clear":
            self.v = torch.zeros_like(self.v) + self.initial_potential()

    def _take_deferred(self) -> torch.Tensor | float:
        """Input deferred while firing or switched off, added at the next integration."""
        deferred, self.deferred = getattr(self, "deferred", None), None
        return 0.0 if deferred is None else deferred

    def _defer(self, z: torch.Tensor) -> None:
        if self.schedule.cfg.offphase == "defer":
            prev = getattr(self, "deferred", None)
            self.deferred = z if prev is None else prev + z

    def step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        self._init_state(z)
        sch = self.schedule
        state = sch.state(self.depth, t)
        if state == "integrate":
            self.v = self.v + z + sch.bias_gain(t) * self.bias + self._take_deferred()
            return torch.zeros_like(z)
        self._defer(z)
        if state == "off":
            return torch.zeros_like(z)
        thr = self.threshold * sch.weight(t)
        spikes = self.v + sch.fire_eps * self.threshold >= thr
        out = spikes * thr
        self.v = self.v - out
        self._record(spikes, out)
        if sch.phase(t) == sch.K - 1:
            self._end_of_firing_cycle()
        return out

    def cycle(self, z: torch.Tensor, t0: int, valid: int) -> torch.Tensor:
        """One whole cycle in closed form; ``z`` is the cycle's summed synaptic input.

        Returns the cycle's summed output, or (``emit_steps``) the K per-step outputs folded
        into the batch, so that a readout can score every step; a :class:`Zeros` marker when the
        neuron does not fire this cycle (the ops downstream then skip their work). ``z`` may be a
        marker too. ``valid``: the steps of this cycle within the simulated T (spike counters).
        """
        zero_in = isinstance(z, Zeros)
        self._init_state(z.like if zero_in else z)
        sch = self.schedule
        state = sch.state(self.depth, t0)
        if state == "integrate":
            if zero_in:  # v + 0 == v: only the bias (and deferred input) arrives
                self.v = self.v + sch.bias_per_cycle * self.bias + self._take_deferred()
            else:
                self.v = self.v + z + sch.bias_per_cycle * self.bias + self._take_deferred()
        elif state == "fire":
            if not zero_in:
                self._defer(z)
            n = firing_count(self.v, self.threshold, sch.fire_levels, sch.fire_max, FIRE_TOLERANCE)
            self.v = self.v - n * self.threshold / sch.fire_levels
            if self.count is not None:
                self._record_cycle(n, valid)
            self._end_of_firing_cycle()
            if self.emit_steps:
                fused = kernels.spike_train(n, self.threshold, sch.K) if sch.phase_weighted else None
                return fused if fused is not None else unfold_time(self._spike_train(n) * self.threshold)
            return n * self.threshold / sch.fire_levels
        elif not zero_in:  # switched off by the pipeline gate
            self._defer(z)
        return self._silent(self.v)

    def _silent(self, like: torch.Tensor) -> Zeros:
        """The output of a cycle without spikes (a cached zero tensor, never written to)."""
        shape = (self.schedule.K * like.shape[0], *like.shape[1:]) if self.emit_steps else tuple(like.shape)
        key = (shape, like.dtype, like.device, like.is_contiguous(memory_format=torch.channels_last))
        cache = self.__dict__.setdefault("_zeros", {})
        if key not in cache:
            cache.clear()
            zeros = torch.zeros(shape, dtype=like.dtype, device=like.device)
            if like.dim() == 4 and key[3]:
                zeros = zeros.contiguous(memory_format=torch.channels_last)
            cache[key] = zeros
        return Zeros(cache[key])

    def _record_cycle(self, n: torch.Tensor, valid: int) -> None:
        """Add the spikes of a firing cycle that emits n units (only its first ``valid`` steps
        when the simulation ends inside the cycle) to the counters."""
        sch = self.schedule
        if sch.phase_weighted and kernels.record_cycle(
            n, self.threshold, self.count, self.out_sum, sch.K, valid, sch.fire_levels
        ):
            return
        if sch.phase_weighted:  # spikes = the set bits of n among the first `valid` phases
            top = torch.floor(n / 2.0 ** (sch.K - valid)) if valid < sch.K else n
            ni = top.to(torch.int32)
            spikes = torch.zeros_like(ni)
            for k in range(valid):
                spikes += (ni >> k) & 1
            value = top * 2.0 ** (sch.K - valid) * self.threshold / sch.fire_levels
        else:  # unit weights: the first n steps fire
            spikes = torch.clamp(n, max=valid).to(torch.int32)
            value = spikes * self.threshold
        self.count += spikes
        self.out_sum += value

    def _spike_train(self, n: torch.Tensor) -> torch.Tensor:
        """Per-step spike values (units of theta) of a firing cycle that emits n units, [K, ...]."""
        sch = self.schedule
        ks = torch.arange(sch.K, device=n.device).view(-1, *([1] * n.dim()))
        if sch.phase_weighted:  # greedy binary expansion, most significant bit first
            bits = torch.remainder(torch.floor(n.unsqueeze(0) / 2.0 ** (sch.K - 1 - ks)), 2)
            return bits * 2.0 ** -(ks + 1).to(n.dtype)
        return (ks < n.unsqueeze(0)).to(n.dtype)  # unit weights: the first n steps fire


class Bsnn(Method):
    name = "bsnn"
    summary = "bistable neurons: alternate integrating and firing cycles of K phase-weighted steps"
    options = ("K", "input_coding", "bias", "residual", "gate", "offphase", "rounding", "readout")
    neuron = BistableNeuron
    fast_path = "cycle"
    role = "bsnn"
    palette = "Greens_d"
    default_sn = True
    supports_maxpool = True

    def schedule(self, cfg: MethodConfig) -> Schedule:
        return BistableSchedule(cfg, K=cfg.K, phase_weighted=True, levels=self.levels(cfg))

    def encoder(self, cfg, schedule, mean, std):
        return PhaseEncoder(cfg, schedule, mean, std)

    def levels(self, cfg: MethodConfig) -> tuple[int, int]:
        return 2**cfg.K, 2**cfg.K - 1
