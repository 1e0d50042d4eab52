"""Spiking neurons, the readout, and the schedule that tells each of them what to do at step t.

A neuron is a small module with its state and one step rule; the simulator never asks which kind
it runs. What a neuron does at global step t (0-based) depends only on its *depth* l (spiking
layers between it and the input) and on the :class:`Schedule`, which is data built from the
method config:

- rate / phase (continuous schedule): every neuron integrates and fires in the same step. Phase
  coding (Kim et al. 2018) is IF with a threshold that follows the phase, theta * 2^-(k+1).
- bsnn / bsnn-rate (bistable schedule): cycles of K steps; layer l integrates (silent) in cycles
  c = l-1 (mod 2) and fires (receives no input) in cycles c = l (mod 2); with the pipeline gate it
  is switched on only from cycle l-1.

All modules read one shared :class:`SimContext` that the simulator sets:

==========  ===============================================================================
ann         ReLU network (bias-free synapses + bias injected here): the float ANN
qann        the K-bit quantized ANN (``bsnn_lib.quantized``)
step        one time step ``ctx.t`` (the plain reference simulator)
chunk       ``ctx.steps`` consecutive steps folded into the batch (fast path, continuous)
cycle       one whole cycle starting at ``ctx.t``, closed form (fast path, bistable)
probe       inputs are recorded (bias extraction); outputs are zero
==========  ===============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from bsnn_lib.methods import MethodConfig
from bsnn_lib.quantized import firing_count, quantization_levels, quantize

MODES = ("ann", "qann", "step", "chunk", "cycle", "probe")
FIRE_TOLERANCE = 1e-3


@dataclass
class SimContext:
    """What the simulator is doing right now; shared by every neuron of one network."""

    mode: str = "ann"
    t: int = 0
    steps: int = 1
    valid: int = 1  # cycle mode: steps of this cycle that lie within the simulated T
    record: bool = False
    capture: dict[str, torch.Tensor] = field(default_factory=dict)


class Schedule:
    """When a layer of depth ``depth`` integrates, fires or is off, and what a spike weighs."""

    def __init__(self, cfg: MethodConfig) -> None:
        self.cfg = cfg
        self.K = cfg.cycle_length
        self.bistable = cfg.bistable
        self.phase_weighted = cfg.phase_weighted
        # bias per cycle, in units of the layer's ANN bias: a phase-weighted cycle carries one
        # value; a unit-weight bistable cycle carries K times the value (method.md §5 ablation).
        self.bias_per_cycle = float(self.K) if cfg.method == "bsnn-rate" else 1.0
        # closed-form firing: n = clip(floor(V * fire_levels / theta), 0, fire_max)
        self.fire_levels = 2**self.K if self.phase_weighted else 1
        self.fire_max = 2**self.K - 1 if self.phase_weighted else self.K
        # a firing threshold is reached within FIRE_TOLERANCE of one least significant unit, in
        # the step rule and the closed form alike, so float rounding of sums of exact spike
        # values (theta * 2^-j) cannot drop a bit; 1e-3 LSB is far below any modelled effect
        self.fire_eps = FIRE_TOLERANCE / self.fire_levels
        self.q_levels, self.q_max = quantization_levels(cfg)

    def phase(self, t: int) -> int:
        return t % self.K

    def weight(self, t: int) -> float:
        """Value of one spike at step t, in units of theta."""
        return 2.0 ** -(self.phase(t) + 1) if self.phase_weighted else 1.0

    def state(self, depth: int, t: int) -> str:
        """``step`` (continuous), or ``integrate`` / ``fire`` / ``off`` (bistable)."""
        if not self.bistable:
            return "step"
        c = t // self.K
        if self.cfg.gate and c < depth - 1:
            return "off"
        return "integrate" if (c - depth + 1) % 2 == 0 else "fire"

    def bias_gain(self, t: int) -> float:
        """Fraction of the ANN bias injected at step t of an integrating step."""
        if self.cfg.method == "rate":
            return 1.0
        if self.cfg.bias == "first":
            return self.bias_per_cycle if self.phase(t) == 0 else 0.0
        return self.bias_per_cycle / self.K

    def receives(self, depth: int, t: int) -> bool:
        """Does a layer of this depth take synaptic input at step t?"""
        return self.state(depth, t) in ("step", "integrate")

    def input_on(self, t: int) -> bool:
        """Is the input presented at step t (it 'fires' while layer 1 integrates)?"""
        return self.receives(1, t)


class InputEncoder:
    """Turns a normalized image into the current injected at step t (method.md §1, §3, §5).

    ``cycle_value`` is the sum over one presentation cycle, in ANN units: the input that the
    quantized ANN reference sees ("the same input rule").
    """

    def __init__(self, cfg: MethodConfig, mean: tuple[float, ...], std: tuple[float, ...]):
        self.cfg = cfg
        self.schedule = Schedule(cfg)
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def _bits(self, x: torch.Tensor) -> torch.Tensor:
        raw = (x * self.std.to(x) + self.mean.to(x)).clamp(0, 1)
        return torch.clamp(torch.floor(raw * 2**self.cfg.K), 0, 2**self.cfg.K - 1)

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        cfg, sch = self.cfg, self.schedule
        if cfg.method in ("rate", "bsnn-rate"):
            return x
        w = sch.weight(t)
        if cfg.input_coding == "analog-scaled":
            return x * (w / (1 - 2.0**-cfg.K))
        if cfg.input_coding == "analog":
            return x * w
        bit = torch.remainder(torch.floor(self._bits(x) / 2 ** (cfg.K - 1 - sch.phase(t))), 2)
        return (w * bit - self.mean.to(x) / cfg.K) / self.std.to(x)

    def cycle_value(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of ``step`` over one cycle divided by the per-cycle gain (ANN units)."""
        cfg = self.cfg
        if cfg.method in ("rate", "bsnn-rate") or cfg.input_coding == "analog-scaled":
            return x
        if cfg.input_coding == "analog":
            return x * (1 - 2.0**-cfg.K)
        return (self._bits(x) / 2**cfg.K - self.mean.to(x)) / self.std.to(x)

    def cycle_current(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of ``step`` over one cycle (what a bistable layer 1 integrates per frame)."""
        return self.cycle_value(x) * self.schedule.bias_per_cycle


def _fold(x: torch.Tensor, steps: int) -> torch.Tensor:
    return x.reshape(steps, x.shape[0] // steps, *x.shape[1:])


def _unfold(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


class SpikingNeuron(nn.Module):
    """Base class: threshold, injected bias, depth, state and the mode dispatch."""

    kind = "neuron"

    def __init__(
        self,
        threshold: torch.Tensor,
        schedule: Schedule,
        ctx: SimContext,
        depth: int,
        name: str,
        source: str = "",
    ) -> None:
        super().__init__()
        self.register_buffer("threshold", threshold.detach().clone())
        self.register_buffer("bias", torch.zeros(()))
        self.schedule, self.ctx, self.depth, self.name = schedule, ctx, depth, name
        self.source = source or name
        self.emit_steps = False  # fast path: emit K per-step outputs (neurons feeding the readout)
        self.v: torch.Tensor | None = None
        self.count: torch.Tensor | None = None  # spikes per neuron (int32), when recording
        self.out_sum: torch.Tensor | None = None  # emitted value per neuron, when recording

    # ---- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.v = self.count = self.out_sum = None

    def _init_state(self, like: torch.Tensor) -> None:
        if self.v is None:
            self.v = torch.zeros_like(like) + self.initial_potential()
            if self.ctx.record:
                self.count = torch.zeros(like.shape, dtype=torch.int32, device=like.device)
                self.out_sum = torch.zeros_like(like)

    def initial_potential(self) -> torch.Tensor | float:
        return 0.0

    def _record(self, spikes: torch.Tensor, value: torch.Tensor) -> None:
        if self.count is not None:
            self.count += spikes.to(torch.int32)
            self.out_sum += value

    # ---- dispatch ----------------------------------------------------------------------
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        mode = self.ctx.mode
        if mode == "probe":
            self.bias = z[0].detach().clone()
            return torch.zeros_like(z)
        if mode in ("ann", "qann"):
            pre = z + self.bias
            if self.ctx.record:
                self.ctx.capture[self.name] = pre.detach()
            if mode == "ann":
                return torch.relu(pre)
            sch = self.schedule
            return quantize(pre, self.threshold, sch.q_levels, sch.q_max, FIRE_TOLERANCE)
        if mode == "step":
            return self.step(z, self.ctx.t)
        if mode == "chunk":
            return self.chunk(z, self.ctx.t, self.ctx.steps)
        if mode == "cycle":
            return self.cycle(z, self.ctx.t)
        raise ValueError(f"unknown simulation mode {mode!r}; expected one of {MODES}")

    def step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        raise NotImplementedError

    def chunk(self, z: torch.Tensor, t0: int, steps: int) -> torch.Tensor:
        """Default multi-step rule: the step rule over the folded time axis."""
        zs = _fold(z, steps)
        return _unfold(torch.stack([self.step(zs[i], t0 + i) for i in range(steps)]))

    def cycle(self, z: torch.Tensor, t0: int) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no cycle-batched fast path")

    def extra_repr(self) -> str:
        return f"name={self.name!r}, depth={self.depth}"


class IFNeuron(SpikingNeuron):
    """Integrate-and-fire, no leak (rate coding); with phase weights it is Kim's phase coding.

    V(t) = V(t-1) + z(t) + b(t); fire when V >= theta*w(t); reset by subtraction (or to zero);
    the spike carries theta*w(t). w = 1 for rate coding, 2^-(k+1) at phase k for phase coding.
    """

    kind = "if"

    def initial_potential(self) -> torch.Tensor | float:
        return self.schedule.cfg.v_init * self.threshold

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


class BistableNeuron(SpikingNeuron):
    """Bistable neuron (BSNN): a silent integrating cycle, then a firing cycle without input.

    Integrating: V += input of this step + bias share. Firing (phase k): spike if
    V >= theta*w_k, V -= theta*w_k. After the firing cycle the remaining potential is carried
    (error feedback) or cleared ([choice] ``residual``). Input arriving while firing (or while
    still switched off by the pipeline gate) is dropped or deferred to the next integrating cycle
    ([choice] ``offphase``).
    """

    kind = "bistable"

    def reset_state(self) -> None:
        super().reset_state()
        self.deferred: torch.Tensor | None = None

    def _end_of_firing_cycle(self) -> None:
        if self.schedule.cfg.residual == "clear":
            self.v = torch.zeros_like(self.v)

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

    def cycle(self, z: torch.Tensor, t0: int) -> torch.Tensor:
        """One whole cycle in closed form; ``z`` is the cycle's summed synaptic input.

        Returns the cycle's summed output, or (``emit_steps``) the K per-step outputs folded
        into the batch, so that a readout can score every step.
        """
        self._init_state(z)
        sch = self.schedule
        state = sch.state(self.depth, t0)
        if state == "integrate":
            self.v = self.v + z + sch.bias_per_cycle * self.bias + self._take_deferred()
        elif state == "fire":
            self._defer(z)
            n = firing_count(self.v, self.threshold, sch.fire_levels, sch.fire_max, FIRE_TOLERANCE)
            self.v = self.v - n * self.threshold / sch.fire_levels
            if self.count is not None:
                self._record_cycle(n)
            self._end_of_firing_cycle()
            if self.emit_steps:
                return _unfold(self._spike_train(n) * self.threshold)
            return n * self.threshold / sch.fire_levels
        else:  # switched off by the pipeline gate
            self._defer(z)
        if self.emit_steps:
            return torch.zeros((sch.K * z.shape[0], *z.shape[1:]), dtype=z.dtype, device=z.device)
        return torch.zeros_like(z)

    def _record_cycle(self, n: torch.Tensor) -> None:
        """Add the spikes of a firing cycle that emits n units (only its first ``ctx.valid``
        steps when the simulation ends inside the cycle) to the counters."""
        sch, valid = self.schedule, self.ctx.valid
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


def make_neuron(cfg: MethodConfig, **kwargs) -> SpikingNeuron:
    """The neuron factory: the class the method uses for every converted ReLU (and relay)."""
    return (BistableNeuron if cfg.bistable else IFNeuron)(**kwargs)


class Readout(nn.Module):
    """Non-spiking output layer: accumulates its input over time; class = argmax.

    An image has no answer (prediction -1, counted wrong) until some spike has reached the
    readout: the argmax of a bias-only or all-zero accumulator is not an answer (method.md §1.6).
    """

    def __init__(self, schedule: Schedule, ctx: SimContext, depth: int) -> None:
        super().__init__()
        self.schedule, self.ctx, self.depth = schedule, ctx, depth
        self.register_buffer("bias", torch.zeros(()))
        self.acc: torch.Tensor | None = None
        self.answered: torch.Tensor | None = None
        self.predictions: list[torch.Tensor] = []  # one [B] tensor per simulated step

    def reset_state(self) -> None:
        self.acc = self.answered = None
        self.predictions = []

    def _add_step(self, z: torch.Tensor, t: int) -> None:
        sch = self.schedule
        if self.acc is None:
            self.acc = torch.zeros_like(z, dtype=torch.float64)
            self.answered = torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)
        if sch.receives(self.depth, t):
            self.acc += z + sch.bias_gain(t) * self.bias
            self.answered |= (z != 0).flatten(1).any(1)
        pred = self.acc.argmax(1)
        self.predictions.append(torch.where(self.answered, pred, torch.full_like(pred, -1)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        mode = self.ctx.mode
        if mode == "probe":
            self.bias = z[0].detach().clone()
            return z
        if mode in ("ann", "qann"):
            return z + self.bias
        if mode == "step":
            self._add_step(z, self.ctx.t)
        elif mode in ("chunk", "cycle"):
            steps = self.ctx.steps
            for i, zi in enumerate(_fold(z, steps)):
                self._add_step(zi, self.ctx.t + i)
        else:
            raise ValueError(f"unknown simulation mode {mode!r}")
        return self.acc


class SpikeMaxPool(nn.Module):
    """Max pooling on spikes, exact for bistable neurons (method.md §7).

    A bistable firing cycle sends its value most significant bit first, so the max over a window
    can be found online: keep the inputs still tied for the maximum, send the max bit of the tied
    ones, drop those that sent a 0 where the max sent a 1. With unit weights (bsnn-rate) the first
    n steps fire, so the plain per-step max is already exact. Decoded cycle values (fast path) are
    max-pooled directly. Needs non-overlapping windows.
    """

    def __init__(self, pool: nn.MaxPool2d, schedule: Schedule, ctx: SimContext, per_step: bool):
        super().__init__()
        self.pool, self.schedule, self.ctx, self.per_step = pool, schedule, ctx, per_step
        self.kernel = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        self.tied: torch.Tensor | None = None

    def reset_state(self) -> None:
        self.tied = None

    def _online_max(self, x: torch.Tensor, t: int) -> torch.Tensor:
        if self.tied is None or self.schedule.phase(t) == 0:
            self.tied = torch.ones_like(x, dtype=torch.bool)
        out = self.pool(x * self.tied)
        fired = F.interpolate((out > 0).to(x.dtype), size=x.shape[-2:], mode="nearest") > 0
        self.tied = self.tied & ~(fired & (x <= 0))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = self.ctx.mode
        if not self.schedule.phase_weighted or mode in ("ann", "qann", "probe"):
            return self.pool(x)
        if mode == "step":
            return self._online_max(x, self.ctx.t)
        if mode == "cycle" and not self.per_step:
            return self.pool(x)
        steps = self.schedule.K if mode == "cycle" else self.ctx.steps
        xs = _fold(x, steps)
        return _unfold(torch.stack([self._online_max(xs[i], self.ctx.t + i) for i in range(steps)]))


__all__ = [
    "SimContext",
    "Schedule",
    "InputEncoder",
    "SpikingNeuron",
    "IFNeuron",
    "BistableNeuron",
    "Readout",
    "SpikeMaxPool",
    "make_neuron",
    "MODES",
    "FIRE_TOLERANCE",
]
