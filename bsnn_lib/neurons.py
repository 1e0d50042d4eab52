"""The spiking parts of a converted network: the neuron base class, the readout, spike max-pooling.

Every spiking module offers one method per way of running the network, and the engine calls the
one it needs (through the network's views, :mod:`bsnn_lib.network`); there is no global mode:

==============================  =================================================================
``ann(z, capture)``             the float ANN: relu(z + bias) (``capture``: record pre-activations)
``qann(z, capture)``            the K-bit quantized ANN (``bsnn_lib.quantized``)
``probe(z)``                    bias extraction at conversion: record the input, output zero
``step(z, t)``                  one time step t (the plain reference simulator)
``chunk(z, t, steps)``          ``steps`` consecutive steps folded into the batch (fast path)
``cycle(z, t, valid)``          one whole cycle from step t in closed form (bistable fast path)
==============================  =================================================================

A neuron's class comes from its method (``bsnn_lib.methods``); what it does at step t depends
only on its depth l (spiking layers between it and the input) and on the method's
:class:`~bsnn_lib.methods.base.Schedule`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from bsnn_lib.quantized import FIRE_TOLERANCE, quantize

if TYPE_CHECKING:
    from bsnn_lib.methods.base import Schedule

__all__ = ["FIRE_TOLERANCE", "Readout", "SpikeMaxPool", "SpikingNeuron", "Zeros", "dense", "fold_time", "unfold_time"]


class Zeros:
    """A marker for "all zero" flowing through a fast view (:func:`bsnn_lib.network.build_view`):
    a bistable layer that does not fire this cycle sends it, and the synaptic ops downstream skip
    their work (a bias-free conv of zeros is zeros). ``like`` is a real zero tensor of the shape."""

    __slots__ = ("like",)

    def __init__(self, like: torch.Tensor) -> None:
        self.like = like


def dense(z) -> torch.Tensor:
    """The tensor behind ``z`` (a :class:`Zeros` marker becomes its zero tensor)."""
    return z.like if isinstance(z, Zeros) else z


def fold_time(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``[steps * B, ...]`` -> ``[steps, B, ...]``."""
    return x.reshape(steps, x.shape[0] // steps, *x.shape[1:])


def unfold_time(x: torch.Tensor) -> torch.Tensor:
    """``[steps, B, ...]`` -> ``[steps * B, ...]``."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


class _Spiking(nn.Module):
    """Spiking modules are run through the network's views, never called directly."""

    def fast_step(self, z, t: int):
        """The fast engine's step (same spikes as :meth:`step`; a subclass may fuse it)."""
        return self.step(z, t)

    def forward(self, *args, **kwargs):  # noqa: D401 - a refusal
        raise RuntimeError(
            f"{type(self).__name__} is part of a converted SNN and runs through its engine: use "
            "bsnn_lib.simulate / SpikingNetwork.run(x, T), or SpikingNetwork.ann(x) for the ANN"
        )


class SpikingNeuron(_Spiking):
    """Base class: threshold, injected bias, depth, state, and the ANN / probe views.

    Subclasses implement :meth:`step` (and :meth:`cycle` when their method's fast path is the
    closed-form cycle); :meth:`chunk` defaults to the step rule over the folded time axis."""

    kind = "neuron"

    def __init__(
        self, threshold: torch.Tensor, schedule: Schedule, depth: int, name: str, source: str = "", role: str = "neuron"
    ) -> None:
        super().__init__()
        self.register_buffer("threshold", threshold.detach().clone())
        self.register_buffer("bias", torch.zeros(()))
        self.schedule, self.depth, self.name = schedule, depth, name
        self.source = source or name
        self.role = role  # "neuron" (a converted ReLU) or "relay" (a synchronous neuron)
        self.emit_steps = False  # fast path: emit K per-step outputs (neurons feeding the readout)
        self.shape: tuple[int, ...] = ()  # output shape per image, found by the probe
        self.record = False
        self.v: torch.Tensor | None = None
        self.count: torch.Tensor | None = None  # spikes per neuron (int32), when recording
        self.out_sum: torch.Tensor | None = None  # emitted value per neuron, when recording
        # a converted QCFS activation: its levels L and lambda / threshold (the ANN view's clip)
        self.ann_levels: int | None = None
        self.ann_clip: float = 1.0

    # ---- state -------------------------------------------------------------------------
    def reset_state(self, record: bool = False) -> None:
        """Forget the potential and counters; ``record``: count spikes in the next run."""
        self.v = self.count = self.out_sum = None
        self.record = record
        self.__dict__.pop("_fused", None)  # bias or threshold may change between runs

    def _kernel_arrays(self, z: torch.Tensor, key: tuple, *tensors) -> tuple:
        """``tensors`` (per channel or per neuron; callables are called first) as the fused
        kernels' per-image arrays in ``z``'s layout (:func:`bsnn_lib.kernels.per_image`), cached
        per ``key`` and ``z``'s shape, strides and dtype until the next reset."""
        from bsnn_lib import kernels

        full = (*key, tuple(z.shape), z.stride(), z.dtype)
        cache = self.__dict__.setdefault("_fused", {})
        if full not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[full] = tuple(kernels.per_image(a() if callable(a) else a, z) for a in tensors)
        return cache[full]

    def _init_state(self, like: torch.Tensor) -> None:
        if self.v is None:
            self.v = torch.zeros_like(like)  # in like's memory layout
            start = self.initial_potential()
            if not (isinstance(start, float) and start == 0.0):
                self.v += start
            if self.record:
                self.count = torch.zeros_like(like, dtype=torch.int32)
                self.out_sum = torch.zeros_like(like)

    def initial_potential(self) -> torch.Tensor | float:
        return 0.0

    def _record(self, spikes: torch.Tensor, value: torch.Tensor) -> None:
        if self.count is not None:
            self.count += spikes.to(torch.int32)
            self.out_sum += value

    # ---- the ANN views -----------------------------------------------------------------
    def ann(self, z: torch.Tensor, capture: dict | None = None) -> torch.Tensor:
        pre = z + self.bias
        if capture is not None:
            capture[self.name] = pre.detach()
        return self.activation(pre)

    def activation(self, pre: torch.Tensor) -> torch.Tensor:
        """The trained ANN's activation of a pre-activation: ReLU, or, for a converted QCFS
        activation, lambda * clip(floor(pre L / lambda + 1/2), 0, L) / L."""
        if self.ann_levels is None:
            return torch.relu(pre)
        lam, levels = self.ann_clip * self.threshold, self.ann_levels
        q = torch.floor(torch.clamp(pre / lam, 0.0, 1.0) * levels + 0.5 + FIRE_TOLERANCE)
        return lam * q / levels

    def qann(self, z: torch.Tensor, capture: dict | None = None) -> torch.Tensor:
        pre = z + self.bias
        if capture is not None:
            capture[self.name] = pre.detach()
        levels, n_max, offset = self.quantizer()
        return quantize(pre, self.threshold, levels, n_max, FIRE_TOLERANCE, offset)

    def quantizer(self) -> tuple[int | None, int | None, float]:
        """(levels, n_max, offset) of this neuron's quantized-ANN reference (the schedule's)."""
        sch = self.schedule
        return sch.q_levels, sch.q_max, sch.q_offset

    def probe(self, z: torch.Tensor) -> torch.Tensor:
        """With the input and every spike at zero, the synaptic input is the effective bias."""
        self.bias = z[0].detach().clone()
        self.shape = tuple(z.shape[1:])
        return torch.zeros_like(z)

    # ---- time --------------------------------------------------------------------------
    def step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        raise NotImplementedError

    def chunk(self, z: torch.Tensor, t0: int, steps: int) -> torch.Tensor:
        """Default multi-step rule: the step rule over the folded time axis."""
        if steps == 1:
            return self.step(z, t0)
        zs = fold_time(z, steps)
        return unfold_time(torch.stack([self.step(zs[i], t0 + i) for i in range(steps)]))

    def cycle(self, z: torch.Tensor, t0: int, valid: int) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no cycle-batched fast path")

    def extra_repr(self) -> str:
        return f"name={self.name!r}, depth={self.depth}"


class Readout(_Spiking):
    """Non-spiking output layer: accumulates its input over time; class = argmax.

    An image has no answer (prediction -1, counted wrong) until some spike has reached the
    readout: the argmax of a bias-only or all-zero accumulator is not an answer (method.md §1.6).
    """

    def __init__(self, schedule: Schedule, depth: int) -> None:
        super().__init__()
        self.schedule, self.depth = schedule, depth
        self.register_buffer("bias", torch.zeros(()))
        self.hold = schedule.hold_frames  # [choice] readout: answer from the last complete frame
        self.acc: torch.Tensor | None = None
        self.answered: torch.Tensor | None = None
        self.held: torch.Tensor | None = None
        self.predictions: list[torch.Tensor] = []  # one [B] tensor per simulated step

    def reset_state(self, record: bool = False) -> None:
        self.acc = self.answered = self.held = None
        self.predictions = []

    def _add_step(self, z: torch.Tensor, t: int) -> None:
        sch = self.schedule
        if self.acc is None:
            self.acc = torch.zeros_like(z, dtype=torch.float64)
            self.answered = torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)
        receives = sch.receives(self.depth, t)
        if receives:
            self.acc += z + sch.bias_gain(t) * self.bias
            self.answered |= (z != 0).flatten(1).any(1)
        if not self.hold:
            pred = self.acc.argmax(1)
            self.predictions.append(torch.where(self.answered, pred, torch.full_like(pred, -1)))
            return
        if self.held is None:
            self.held = torch.full((z.shape[0],), -1, dtype=torch.int64, device=z.device)
        if receives and sch.frame_end(t):
            pred = self.acc.argmax(1)
            self.held = torch.where(self.answered, pred, torch.full_like(pred, -1))
        self.predictions.append(self.held)

    def ann(self, z: torch.Tensor, capture: dict | None = None) -> torch.Tensor:
        return z + self.bias

    qann = ann

    def probe(self, z: torch.Tensor) -> torch.Tensor:
        self.bias = z[0].detach().clone()
        return z

    def step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        self._add_step(dense(z), t)
        return self.acc

    def chunk(self, z: torch.Tensor, t0: int, steps: int) -> torch.Tensor:
        for i, zi in enumerate(fold_time(dense(z), steps)):
            self._add_step(zi, t0 + i)
        return self.acc

    def cycle(self, z: torch.Tensor, t0: int, valid: int) -> torch.Tensor:
        """The neurons feeding the readout emit their K per-step outputs folded into the batch."""
        return self.chunk(z, t0, self.schedule.K)


class SpikeMaxPool(_Spiking):
    """Max pooling on spikes, exact for bistable neurons (method.md §7).

    A bistable firing cycle sends its value most significant bit first, so the max over a window
    can be found online: keep the inputs still tied for the maximum, send the max bit of the tied
    ones, drop those that sent a 0 where the max sent a 1. With unit weights (bsnn-rate) the first
    n steps fire, so the plain per-step max is already exact. Decoded cycle values (fast path) are
    max-pooled directly. Needs non-overlapping windows.
    """

    def __init__(self, pool: nn.MaxPool2d, schedule: Schedule, per_step: bool) -> None:
        super().__init__()
        self.pool, self.schedule, self.per_step = pool, schedule, per_step
        self.online = schedule.phase_weighted
        self.kernel = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        self.tied: torch.Tensor | None = None

    def reset_state(self, record: bool = False) -> None:
        self.tied = None

    def _online_max(self, x: torch.Tensor, t: int) -> torch.Tensor:
        if self.tied is None or self.schedule.phase(t) == 0:
            self.tied = torch.ones_like(x, dtype=torch.bool)
        out = self.pool(x * self.tied)
        fired = F.interpolate((out > 0).to(x.dtype), size=x.shape[-2:], mode="nearest") > 0
        self.tied = self.tied & ~(fired & (x <= 0))
        return out

    def ann(self, x: torch.Tensor, capture: dict | None = None) -> torch.Tensor:
        return self.pool(x)

    qann = ann

    def probe(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        return self._online_max(x, t) if self.online else self.pool(x)

    def chunk(self, x: torch.Tensor, t0: int, steps: int) -> torch.Tensor:
        if not self.online:
            return self.pool(x)
        if steps == 1:
            return self._online_max(x, t0)
        xs = fold_time(x, steps)
        return unfold_time(torch.stack([self._online_max(xs[i], t0 + i) for i in range(steps)]))

    def cycle(self, x: torch.Tensor, t0: int, valid: int) -> torch.Tensor:
        if isinstance(x, Zeros):  # nothing fired: the max is 0 and no tie is broken
            return Zeros(self.pool(x.like))
        if not self.per_step:
            return self.pool(x)
        return self.chunk(x, t0, self.schedule.K)


SPIKING_MODULES = (SpikingNeuron, Readout, SpikeMaxPool)
"""The module types that the network's views route to an engine method."""
