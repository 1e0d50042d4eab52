"""Early release: a layer starts firing after delta < K integrating phases (beyond the paper).

A bistable layer waits for the whole K-bit frame of the layer before it, so the first answer
comes after about L*K steps. The bits arrive most significant first, so after ``delta`` of them a
neuron already holds most of its input. Here layer d fires frame n in the K steps from
``s_d + nK``, with ``s_d = d * delta`` (``release=delta``, 1 <= delta <= K): the fill becomes
``L*delta + 1`` (a frame-held answer: ``L*delta + K``).

What arrives late is corrected, not lost:

- the neuron has the two compartments of the double-buffered neuron. At ``s_d + nK`` the
  integrated value moves into ``v`` (added to the residual with ``residual="carry"``). The
  ``K - delta`` bits of the sender's frame n that arrive while the neuron is already firing frame
  n go straight into ``v``, so its remaining, less significant bits absorb them; what they cannot
  absorb stays in ``v`` and is carried into frame n + 1 (``carry``; ``clear`` drops it);
- ``correction="signed"`` also lets the neuron send negative spikes of weight
  ``-theta * 2^-(k+1)`` at bit k when ``v <= -theta * 2^-(k+1)``, but only while the frame's net
  output so far stays >= 0 (a frame never sends a negative value: the neuron stays a ReLU).
  Every correction spike counts as one spike, in the spike counts and in the SOPs.

The bias enters ``v_in`` once per frame, with the sender's first bit of that frame. The input is
the K-step phase-weighted analog input of BSNN, repeated every K steps.

Firing on part of the input brings phase lead back: a neuron whose late input is negative may
already have fired (a spike of an inactivated neuron, SIN). That is the trade-off this method
measures as delta varies. ``release=K`` is ``bsnn-mixed`` with K bits on every layer (the
double-buffered neuron with ``bias="first"``), spike for spike (tested). Feed-forward nets with
average pooling only, as ``bsnn-mixed``; the fast engine runs the step rule.
"""

from __future__ import annotations

import torch

from bsnn_lib.methods.base import Schedule, label_extras
from bsnn_lib.methods.bistable_mixed import BsnnMixed, MixedNeuron, MixedSchedule, check_feed_forward
from bsnn_lib.methods.config import MethodConfig
from bsnn_lib.methods.options import MethodConfigError, Option, declare

declare(
    Option(
        "release",
        None,
        "bsnn-early: integrating phases (delta, 1..K) a layer waits before it fires; the fill becomes L*delta + 1",
        kind=int,
        check=lambda v: None if v >= 1 else "must be >= 1",
        late=True,
    ),
    Option(
        "correction",
        None,
        "bsnn-early: how late input is corrected: by the carried residual only (carry), or also "
        "by negative spikes (signed)",
        values=("carry", "signed"),
        late=True,
    ),
)


class EarlySchedule(MixedSchedule):
    """K bits on every layer; depth d fires from ``s_d = d * delta`` (module docstring)."""

    def __init__(self, cfg: MethodConfig, levels: tuple[int, int]) -> None:
        Schedule.__init__(self, cfg, K=cfg.K, phase_weighted=True, levels=levels)
        self.release = int(cfg.release if cfg.release is not None else cfg.K)
        if self.release > cfg.K:
            raise MethodConfigError(f"release={self.release} must be <= K={cfg.K}")
        self.input_bits = cfg.K
        self.num_layers: int | None = None
        self.start = 0.0

    def bind(self, num_layers: int) -> None:
        self.num_layers = num_layers

    @property
    def L(self) -> int:
        if self.num_layers is None:
            raise RuntimeError("the schedule is not bound to a network yet (convert() binds it)")
        return self.num_layers

    def layer_bits(self, depth: int) -> int:
        return self.K

    def fire_start(self, depth: int) -> int:
        return depth * self.release

    def gate_on(self, depth: int) -> int:
        """The sender's first step: depth d integrates frame 0 from ``s_{d-1}``."""
        return self.fire_start(depth) - self.release


class EarlyNeuron(MixedNeuron):
    """Fires from ``v`` after ``delta`` input phases; late input goes into ``v`` (docstring)."""

    kind = "bistable-early"

    def step(self, z: torch.Tensor, t: int, fused: bool = False) -> torch.Tensor:
        self._init_state(z)
        if getattr(self, "v_in", None) is None:
            self.v_in = torch.zeros_like(self.v)
        sch = self.schedule
        P, delta = sch.K, sch.release
        start = sch.fire_start(self.depth)
        gate = start - delta
        if t < gate:
            return torch.zeros_like(z)
        if t >= start and (t - start) % P == 0:  # frame n begins: the integrated value moves into v
            self._end_of_cycle()
            if sch.cfg.correction == "signed":
                self.sent = torch.zeros_like(self.v)
        k = (t - start) % P
        late = t >= start and k < P - delta  # the rest of the frame being fired: corrects v
        gain = not late and (t - gate) % P == 0  # the next frame's bias, with the sender's first bit of it
        out = self._phase(z, late=late, gain=gain, fire=t >= start, k=k, fused=fused)
        if t >= start and k == P - 1:
            self._end_of_firing_cycle()
        return out

    def _eps(self) -> torch.Tensor:
        return self.schedule.fire_eps * self.threshold


class BsnnEarly(BsnnMixed):
    name = "bsnn-early"
    summary = "bistable neurons that fire after delta < K input phases, correcting late input: fill L*delta + 1"
    options = ("K", "release", "correction", "residual", "rounding", "readout")
    neuron = EarlyNeuron
    palette = "OrRd_d"

    def schedule(self, cfg: MethodConfig) -> Schedule:
        return EarlySchedule(cfg, levels=self.levels(cfg))

    def levels(self, cfg: MethodConfig) -> tuple[int, int]:
        return 2**cfg.K, 2**cfg.K - 1

    def label(self, cfg: MethodConfig) -> str:
        delta = cfg.release if cfg.release is not None else cfg.K
        return f"{self.name} K={cfg.K} δ={delta}" + label_extras(cfg, skip=("K", "release"))

    def check_network(self, snn) -> None:
        check_feed_forward(snn, self.name, "early release")
