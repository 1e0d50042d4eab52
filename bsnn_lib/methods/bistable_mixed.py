"""Bistable neurons with per-layer bits K_l: a pipeline fill of sum(K_l) instead of L*K (beyond the paper).

In BSNN every layer fires K phase-weighted bits per frame, so the first answer waits L*K + 1
steps. Most layers need fewer bits than the worst one: the quantized ANN loses nothing when the
last layers keep only 2-3 bits (``bsnn_lib.bit_allocation.search_bits`` finds one on a validation
split). Here layer l fires K_l bits (``bits="4,4,3,...,3"``, one value per spiking layer in depth
order) and starts firing as soon as the layer before has sent its last bit.

Timing (``P = max K_l`` steps per frame; K_0 = K_1 steps of phase-weighted analog input):

- layer d fires frame n in steps ``[s_d + nP, s_d + nP + K_d)`` with ``s_d = K_0 + ... + K_{d-1}``:
  bit k (k < K_d) weighs theta * 2^-(k+1), so one frame sends the K_d-bit greedy expansion of the
  potential, as a bistable firing cycle does;
- it has two compartments, as the double-buffered neuron: ``v`` fires while ``v_in`` integrates
  the next frame; at ``s_d + nP`` the integrated value moves into ``v`` (added to the residual
  with ``residual="carry"``, after clearing it with ``clear``). The layer's bias enters ``v_in``
  once per frame (at the first step of the frame's integration);
- input from layer d-1's frame n arrives during ``[s_{d-1} + nP, s_d + nP)``, so a layer fires
  only values integrated over a whole frame: net input <= 0 never fires (no SIN);
- the readout receives from ``s_L``: the first answer comes at step ``s_L + 1``, and in clear mode
  every frame equals the mixed-precision quantized ANN (layer d quantized to K_d bits; tested).

With equal bits K on every layer this is the double-buffered neuron with ``bias="first"``, spike for
spike (tested). Only feed-forward nets (no residual additions) are supported: a shortcut would
need relays whose bit widths match both ends. The fast engine runs the same step rule (there is no
closed-form frame path yet).
"""

from __future__ import annotations

import math

import torch

from bsnn_lib import kernels
from bsnn_lib.methods.base import FIRE_TOLERANCE, PhaseEncoder, Schedule
from bsnn_lib.methods.bistable import Bsnn
from bsnn_lib.methods.bistable_double import DoubleBufferNeuron
from bsnn_lib.methods.config import MethodConfig
from bsnn_lib.methods.options import Option, declare


def parse_bits(text: str) -> tuple[int, ...]:
    """``"4,4,3"`` -> (4, 4, 3); raises ValueError on anything else."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ValueError("give one bit count per spiking layer, e.g. '4,4,3,3'")
    values = tuple(int(p) for p in parts)
    if any(not 1 <= v <= 16 for v in values):
        raise ValueError("every bit count must be in [1, 16]")
    return values


def _check_bits(text: str) -> str | None:
    try:
        parse_bits(text)
    except ValueError as err:
        return str(err)
    return None


declare(
    Option(
        "bits",
        None,
        "bits K_l fired by each spiking layer, in depth order (comma-separated, e.g. 4,4,3,3): "
        "the fill becomes sum(K_l) + 1 (bsnn-mixed)",
        check=_check_bits,
        late=True,
    )
)


class MixedSchedule(Schedule):
    """Per-layer bits; see the module docstring for the timing. ``K`` is the frame period P."""

    def __init__(self, cfg: MethodConfig, levels: tuple[int, int]) -> None:
        self.bits = parse_bits(cfg.bits)
        super().__init__(cfg, K=max(self.bits), phase_weighted=True, levels=levels)
        self.input_bits = self.bits[0]
        # s_d: the first firing step of depth d (d = 1..L); s_{L+1}... is not needed
        self.starts = [0]
        for k in (self.input_bits, *self.bits):
            self.starts.append(self.starts[-1] + k)
        self.start = 0.0  # per layer: MixedNeuron.initial_potential

    @property
    def L(self) -> int:
        return len(self.bits)

    def layer_bits(self, depth: int) -> int:
        if not 1 <= depth <= self.L:
            raise ValueError(f"bits={self.cfg.bits!r} gives {self.L} values; there is no spiking layer {depth}")
        return self.bits[depth - 1]

    def fire_start(self, depth: int) -> int:
        """s_d: the step at which depth d fires bit 0 of frame 0 (the readout: L + 1)."""
        return self.starts[depth]

    def gate_on(self, depth: int) -> int:
        """The first step at which depth d integrates (frame 0's bias enters then)."""
        return max(0, self.fire_start(depth) - self.K)

    def phase(self, t: int) -> int:
        return t % self.K

    def state(self, depth: int, t: int) -> str:
        return "off" if t < self.gate_on(depth) else "both"

    def receives(self, depth: int, t: int) -> bool:
        if depth == self.L + 1:  # the readout
            return t >= self.fire_start(self.L)
        return t >= self.gate_on(depth)

    def input_on(self, t: int) -> bool:
        return self.phase(t) < self.input_bits

    def bias_gain(self, t: int) -> float:
        """The readout's bias: once per frame, when the last layer's frame begins."""
        s = self.fire_start(self.L)
        return 1.0 if t >= s and (t - s) % self.K == 0 else 0.0

    def fill_steps(self, readout_depth: int) -> int:
        return self.fire_start(readout_depth - 1) + 1

    def answer_steps(self, readout_depth: int, hold: bool) -> int:
        first = self.fill_steps(readout_depth)
        return first + self.layer_bits(self.L) - 1 if hold else first

    def frame_end(self, t: int) -> bool:
        s = self.fire_start(self.L)
        return t >= s and (t - s) % self.K == self.layer_bits(self.L) - 1

    def emitted_units(self, depth: int, t: int) -> float:
        """Frames that depth d has fired completely by step t."""
        done = t - self.fire_start(depth) - self.layer_bits(depth)
        return float(max(0, math.floor(done / self.K) + 1))


class MixedEncoder(PhaseEncoder):
    """Phase-weighted analog input over the first K_0 = K_1 steps of every frame (analog-scaled:
    one frame delivers exactly x)."""

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        k = self.schedule.input_bits
        return x * (self.schedule.weight(t) / (1 - 2.0**-k))

    def cycle_value(self, x: torch.Tensor) -> torch.Tensor:
        return x


class MixedNeuron(DoubleBufferNeuron):
    """Fires K_d bits from ``v`` while ``v_in`` integrates the next frame (module docstring)."""

    kind = "bistable-mixed"

    def _bits(self) -> int:
        return self.schedule.layer_bits(self.depth)

    def initial_potential(self) -> torch.Tensor | float:
        if self.schedule.cfg.rounding == "nearest":
            return 2.0 ** -(self._bits() + 1) * self.threshold
        return 0.0

    def quantizer(self) -> tuple[int | None, int | None, float]:
        k = self._bits()
        return 2**k, 2**k - 1, 0.5 if self.schedule.cfg.rounding == "nearest" else 0.0

    def step(self, z: torch.Tensor, t: int, fused: bool = False) -> torch.Tensor:
        self._init_state(z)
        if getattr(self, "v_in", None) is None:
            self.v_in = torch.zeros_like(self.v)
        sch = self.schedule
        gate, start, P, bits = sch.gate_on(self.depth), sch.fire_start(self.depth), sch.K, self._bits()
        if t < gate:
            return torch.zeros_like(z)
        framed = t >= start and (t - start) % P == 0
        if framed:  # frame n = (t - start) // P begins: the integrated value moves into v
            self._end_of_cycle()
        k = (t - start) % P
        fire = t >= start and k < bits
        out = self._phase(z, late=False, gain=t == gate or framed, fire=fire, k=k, fused=fused)  # bias once per frame
        if fire and k == bits - 1:
            self._end_of_firing_cycle()
        return out

    def fast_step(self, z: torch.Tensor, t: int) -> torch.Tensor:
        """:meth:`step` with the integrate-and-fire part in one fused pass (bit for bit the same)."""
        return self.step(z, t, fused=True)

    def _eps(self) -> torch.Tensor:
        """The firing tolerance (in units of the potential), per channel."""
        return FIRE_TOLERANCE / 2 ** self._bits() * self.threshold

    def _phase(self, z: torch.Tensor, *, late: bool, gain: bool, fire: bool, k: int, fused: bool) -> torch.Tensor:
        """Integrate ``z`` (into ``v`` when ``late``, else into ``v_in``, with the bias when
        ``gain``), then, when ``fire``, fire bit k from ``v`` (negative spikes where
        :attr:`sent` is kept: ``bsnn-early`` with signed correction)."""
        signed = self.__dict__.get("sent") is not None
        if fused:
            ran, out = self._fused_phase(z, late, gain, fire, k, signed)
            if ran:
                return out if out is not None else torch.zeros_like(z)
        if late:
            self.v = self.v + z
        else:
            self.v_in = self.v_in + z + (1.0 if gain else 0.0) * self.bias
        if not fire:
            return torch.zeros_like(z)
        thr = self.threshold * 2.0 ** -(k + 1)
        eps = self._eps()
        spikes = self.v + eps >= thr
        out = spikes * thr
        if signed:  # a negative spike only while the frame's net output stays >= 0
            neg = ~spikes & (eps - self.v >= thr) & (self.sent + eps >= thr)
            out = out - neg * thr
            self.sent = self.sent + out
            spikes = spikes | neg
        self.v = self.v - out
        self._record(spikes, out)
        return out

    def _fused_phase(self, z, late: bool, gain: bool, fire: bool, k: int, signed: bool):
        arrays = self._kernel_arrays(z, (), self.bias, self.threshold, self._eps)
        state = {
            "v": self.v,
            "v_in": self.v_in,
            "sent": self.sent if signed else None,
            "count": self.count,
            "out_sum": self.out_sum,
        }
        return kernels.bistable_step(state, z, arrays, late=late, gain=gain, fire=fire, scale=2.0 ** -(k + 1))

    def reset_state(self, record: bool = False) -> None:
        super().reset_state(record)
        self.sent: torch.Tensor | None = None  # bsnn-early, signed correction: the frame's output so far

    def cycle(self, z, t0, valid):  # pragma: no cover - the method's fast path is the step rule
        raise NotImplementedError("bsnn-mixed has no closed-form cycle; its fast engine runs the step rule")


class BsnnMixed(Bsnn):
    name = "bsnn-mixed"
    summary = "bistable neurons with per-layer bits K_l (double-buffered): the fill is sum(K_l) + 1"
    options = ("bits", "residual", "rounding", "readout")
    neuron = MixedNeuron
    fast_path = "chunk"
    palette = "PuBuGn_d"

    def schedule(self, cfg: MethodConfig) -> Schedule:
        return MixedSchedule(cfg, levels=self.levels(cfg))

    def encoder(self, cfg, schedule, mean, std):
        return MixedEncoder(cfg, schedule, mean, std)

    def levels(self, cfg: MethodConfig) -> tuple[int, int]:
        """The frame period's quantizer (each neuron quantizes to its own bits: ``quantizer``)."""
        if cfg.bits is None:
            raise ValueError("bsnn-mixed needs bits=, one bit count per spiking layer (e.g. bits='4,4,3,3')")
        P = max(parse_bits(cfg.bits))
        return 2**P, 2**P - 1

    def label(self, cfg: MethodConfig) -> str:
        from bsnn_lib.methods.base import label_extras

        return f"{self.name} bits={cfg.bits}" + label_extras(cfg, skip=("bits",))

    def check_network(self, snn) -> None:
        from bsnn_lib.convert import ConversionError

        check_feed_forward(snn, self.name, "per-layer bits")
        bits = parse_bits(snn.cfg.bits)
        if len(bits) != snn.num_layers:
            names = ", ".join(n.name for n in sorted(snn.neurons(), key=lambda n: n.depth))
            raise ConversionError(
                f"bits={snn.cfg.bits!r} gives {len(bits)} values, the net has {snn.num_layers} spiking "
                f"layers ({names}): give one bit count per layer"
            )


def check_feed_forward(snn, method: str, what: str) -> None:
    """Raise ConversionError unless ``snn`` is feed-forward with average pooling only (``what``:
    the feature that needs it, for the message)."""
    from bsnn_lib.convert import ConversionError

    adds = [
        n.name
        for n in snn.graph.graph.nodes
        if n.op in ("call_function", "call_method") and getattr(n.target, "__name__", n.target) in ("add", "iadd")
    ]
    relays = [n.name for n in snn.neurons() if n.role == "relay"]
    pools = [name for name, m in snn.graph.named_modules() if type(m).__name__ == "SpikeMaxPool"]
    if pools:
        raise ConversionError(f"{method} does not convert max pooling yet ({', '.join(pools)}): train with pool='avg'")
    if adds or relays:
        raise ConversionError(
            f"{method} ({what}) supports feed-forward nets only; this net has {len(adds)} "
            "residual addition(s): use bsnn or bsnn-double for it"
        )
