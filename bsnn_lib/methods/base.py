"""What a conversion method is: one :class:`Method` object that owns everything method-specific.

A method bundles

- its **neuron class** (what replaces every ReLU, and every synchronous relay);
- its **schedule** (:class:`Schedule`: when a layer of depth l integrates, fires or is off, what a
  spike weighs, how bias is spread over time, when the first answer can come);
- its **input rule** (:class:`InputEncoder`: the current injected at step t);
- its **quantizer levels** (the K-bit quantized ANN it is exact against, or None);
- its **fast-path kind** (``"chunk"``: time folded into the batch, or ``"cycle"``: one closed-form
  cycle per call);
- its **options** (names of :data:`bsnn_lib.methods.options.OPTIONS` it uses; the CLI flags and
  table columns come from them), its label and its colour family for plots.

A new method is one file that subclasses :class:`Method` (and, if needed, a neuron, a schedule or
an encoder) plus one line in :mod:`bsnn_lib.methods.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch

from bsnn_lib.quantized import FIRE_TOLERANCE

if TYPE_CHECKING:
    from bsnn_lib.methods.config import MethodConfig
    from bsnn_lib.neurons import SpikingNeuron

__all__ = ["FIRE_TOLERANCE", "InputEncoder", "Method", "PhaseEncoder", "Schedule"]


class Schedule:
    """When a layer integrates or fires, and what a spike weighs; data built from the config.

    The base class is the continuous schedule (every layer integrates and fires in every step).
    Subclasses override :meth:`state` and the few quantities that follow from it.

    Attributes:
        K: steps per cycle (1 for rate coding).
        phase_weighted: a spike at phase k carries theta*2^-(k+1) (else theta).
        bias_per_cycle: bias injected per cycle, in units of the layer's ANN bias.
        fire_levels, fire_max: the closed-form firing count n = clip(floor(V*levels/theta), 0, max).
        q_levels, q_max: the quantizer of the method's quantized-ANN reference (None: none).
    """

    def __init__(self, cfg: MethodConfig, K: int, phase_weighted: bool, levels: tuple[int, int] | None) -> None:
        self.cfg = cfg
        self.K = K
        self.phase_weighted = phase_weighted
        self.bias_per_cycle = 1.0
        self.fire_levels = 2**K if phase_weighted else 1
        self.fire_max = 2**K - 1 if phase_weighted else K
        self.fire_eps = FIRE_TOLERANCE / self.fire_levels
        self.q_levels, self.q_max = levels if levels is not None else (None, None)
        # the potential a neuron starts from (and returns to after a cleared firing cycle), in
        # units of theta, and the same offset in units of one quantizer level
        self.start = float(cfg.v_init or 0.0)
        if cfg.rounding == "nearest":
            self.start += 2.0 ** -(K + 1) if phase_weighted else 0.5
        self.q_offset = 0.0 if self.q_levels is None else (0.5 if cfg.rounding == "nearest" else 0.0)
        self.hold_frames = cfg.readout == "frame" and K > 1

    def bind(self, num_layers: int) -> None:
        """Told the converted net's number of spiking layers (for schedules whose readout timing
        depends on it); called once by :func:`bsnn_lib.convert.convert`."""

    def phase(self, t: int) -> int:
        return t % self.K

    def weight(self, t: int) -> float:
        """Value of one spike at step t, in units of theta."""
        return 2.0 ** -(self.phase(t) + 1) if self.phase_weighted else 1.0

    def state(self, depth: int, t: int) -> str:
        """``step`` here (integrate and fire in the same step); ``integrate`` / ``fire`` / ``off``
        in the bistable schedule."""
        return "step"

    def bias_gain(self, t: int) -> float:
        """Fraction of the ANN bias injected at integrating step t."""
        if self.K == 1:
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

    def fill_steps(self, readout_depth: int) -> int:
        """First step (1-based) at which a spike can reach a readout at this depth."""
        return 1

    def answer_steps(self, readout_depth: int, hold: bool) -> int:
        """First step (1-based) at which the readout can answer: the fill, or with a frame-held
        readout the end of the first frame."""
        first = self.fill_steps(readout_depth)
        return first + self.K - 1 if hold else first

    def frame_end(self, t: int) -> bool:
        """Is step t the last step of a cycle (a frame-held readout answers from here)?"""
        return self.phase(t) == self.K - 1

    def emitted_units(self, depth: int, t: int) -> float:
        """How many 'one ANN value' units a layer has sent by step t (normalizes its output)."""
        return t / self.K


class InputEncoder:
    """The current injected at step t: the analog image every step (rate coding).

    ``constant``: ``step`` returns the image itself at every step (the fast engine then computes
    the first layers once).

    ``cycle_value`` is the sum over one presentation cycle in ANN units (the input the quantized
    ANN reference sees: "the same input rule"); ``cycle_current`` the sum of ``step`` over one
    cycle (what a bistable layer 1 integrates per frame)."""

    constant = True

    def __init__(self, cfg: MethodConfig, schedule: Schedule, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.cfg = cfg
        self.schedule = schedule
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        return x

    def cycle_value(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def cycle_current(self, x: torch.Tensor) -> torch.Tensor:
        return self.cycle_value(x) * self.schedule.bias_per_cycle


class PhaseEncoder(InputEncoder):
    """Phase-weighted input (method.md §3, §5), by ``input_coding`` [choice]: the analog value
    x*w_k scaled so that a cycle delivers exactly x (``analog-scaled``), unscaled (``analog``),
    or the K-bit binary expansion of the raw pixel as spikes (``bits``)."""

    constant = False

    def _bits(self, x: torch.Tensor) -> torch.Tensor:
        raw = (x * self.std.to(x) + self.mean.to(x)).clamp(0, 1)
        return torch.clamp(torch.floor(raw * 2**self.cfg.K), 0, 2**self.cfg.K - 1)

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        cfg, sch = self.cfg, self.schedule
        w = sch.weight(t)
        if cfg.input_coding == "analog-scaled":
            return x * (w / (1 - 2.0**-cfg.K))
        if cfg.input_coding == "analog":
            return x * w
        bit = torch.remainder(torch.floor(self._bits(x) / 2 ** (cfg.K - 1 - sch.phase(t))), 2)
        return (w * bit - self.mean.to(x) / cfg.K) / self.std.to(x)

    def cycle_value(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.input_coding == "analog-scaled":
            return x
        if cfg.input_coding == "analog":
            return x * (1 - 2.0**-cfg.K)
        return (self._bits(x) / 2**cfg.K - self.mean.to(x)) / self.std.to(x)


class Method:
    """Base class of a conversion method (see the module docstring). Subclasses set the class
    attributes and override :meth:`schedule` (and :meth:`encoder`, :meth:`levels` when needed).

    Attributes:
        name: the ``method=`` value.
        summary: one line for ``--help`` and the tables of the docs.
        options: the names of the options this method uses (besides the common ones).
        neuron: the class of its neurons (a :class:`~bsnn_lib.neurons.SpikingNeuron`).
        fast_path: ``"chunk"`` or ``"cycle"`` (see :mod:`bsnn_lib.simulate`).
        role: ``"baseline"``, ``"bsnn"`` or ``"ablation"`` (which side of the latency claim).
        palette: the seaborn palette of its curves.
        default_sn: synchronous neurons on shortcuts unless ``sn=`` says otherwise.
        supports_maxpool: max pooling can be converted exactly.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    neuron: ClassVar[type[SpikingNeuron]]
    fast_path: ClassVar[str] = "chunk"
    role: ClassVar[str] = "baseline"
    palette: ClassVar[str] = "Greys_d"
    default_sn: ClassVar[bool] = False
    supports_maxpool: ClassVar[bool] = False

    def schedule(self, cfg: MethodConfig) -> Schedule:
        raise NotImplementedError

    def encoder(
        self, cfg: MethodConfig, schedule: Schedule, mean: tuple[float, ...], std: tuple[float, ...]
    ) -> InputEncoder:
        return InputEncoder(cfg, schedule, mean, std)

    def levels(self, cfg: MethodConfig) -> tuple[int, int] | None:
        """(Q, n_max) of the quantized ANN that one firing cycle computes, or None."""
        return None

    def check_network(self, snn) -> None:
        """Refuse a converted network this method cannot simulate (raise ConversionError)."""

    def label(self, cfg: MethodConfig) -> str:
        """A short human-readable name of a config of this method, e.g. ``bsnn K=8`` or
        ``bsnn K=4 p=99.9 cw nearest`` (options that differ from their defaults are named)."""
        return f"{self.name} K={cfg.K}" + label_extras(cfg, skip=("K",))


_SHORT = {
    "channelwise": {True: "cw"},
    "rounding": {"nearest": "nearest"},
    "readout": {"frame": "frame-held"},
    "residual": {"clear": "clear"},
    "gate": {False: "no-gate"},
    "offphase": {"defer": "defer"},
    "calib_positive_only": {True: "pos-only"},
    "balance": {"weights": "w-balanced"},
}


def label_extras(cfg: MethodConfig, skip: tuple[str, ...] = ()) -> str:
    """`` p=99.9 cw nearest ...``: the options of ``cfg`` that differ from their defaults, short."""
    from bsnn_lib.methods.options import OPTIONS

    parts = []
    for name, value in cfg.options().items():
        if name in skip or name == "sn" or value is None or value == OPTIONS[name].default:
            continue
        if name == "percentile":
            parts.append(f"p={value:g}")
        elif name == "v_init":
            parts.append(f"v0={value:g}")
        elif name in _SHORT and value in _SHORT[name]:
            parts.append(_SHORT[name][value])
        else:
            parts.append(f"{name}={value}")
    if cfg.uses_sn != cfg.spec.default_sn:
        parts.append("SN" if cfg.uses_sn else "no-SN")
    return "".join(f" {p}" for p in parts)

    def __repr__(self) -> str:
        return f"<method {self.name}: {self.summary}>"
