"""Conversion methods and every [choice] of the specification, as one validated config.

``method`` picks the neuron model and the schedule (method.md §2, §3, §5):

==========  ==================================================================================
rate        integrate-and-fire, reset by subtraction (Rueckauer 2017, SpikingJelly ann2snn)
phase       weighted spikes / periodically varying threshold (Kim et al. 2018), K phases
bsnn        bistable neurons: alternate integrating and firing cycles of K phase-weighted steps
bsnn-rate   ablation: the bistable two-state schedule with plain IF spikes (no phase weights)
==========  ==================================================================================

Each field below that the paper leaves open is marked [choice] and documented where it is used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

METHODS = ("rate", "phase", "bsnn", "bsnn-rate")
BISTABLE_METHODS = ("bsnn", "bsnn-rate")


class MethodConfigError(ValueError):
    """A method option has a value that is not allowed (the message lists the allowed ones)."""


_ALLOWED: dict[str, tuple[Any, ...]] = {
    "method": METHODS,
    "reset": ("subtract", "zero"),
    "balance": ("threshold", "weights"),
    "input_coding": ("analog-scaled", "analog", "bits"),
    "bias": ("spread", "first"),
    "residual": ("carry", "clear"),
    "offphase": ("drop", "defer"),
}


@dataclass(frozen=True)
class MethodConfig:
    """Everything that defines one converted SNN besides the trained ANN.

    Attributes:
        method: one of ``METHODS``.
        percentile: calibration percentile p of ReLU outputs (99.9, 99.99, or 100 = max).
        channelwise: one threshold per channel instead of per layer.
        calib_positive_only: [choice] percentile over positive activations only (default: zeros
            included, as the spec says).
        balance: ``threshold`` (theta_l = lambda_l, weights kept) or ``weights`` (weights scaled,
            theta = 1). Equivalent; ``weights`` is implemented for nets without identity shortcuts.
        v_init: initial potential as a fraction of theta (rate: 0 or 0.5, the half-threshold shift).
        reset: ``subtract`` (default) or ``zero`` (rate/phase only).
        K: phases per cycle (phase, bsnn, bsnn-rate).
        input_coding: [choice] ``analog-scaled`` x*w_k/(1-2^-K) (a cycle delivers exactly x; the
            default), ``analog`` x*w_k (unscaled), or ``bits`` (the K-bit expansion of the raw pixel).
        bias: [choice] ``spread`` (b/K at every integrating step) or ``first`` (b at phase 0).
        residual: [choice] bistable: potential left after a firing cycle is ``carry``-ed into the
            next integration (error feedback, default) or ``clear``-ed.
        gate: bistable pipeline gate: layer l is switched on only from cycle l-1.
        sn: insert synchronous (relay) neurons on residual shortcuts. ``None`` = method default
            (on for bistable methods, off otherwise).
        offphase: [choice] bistable: input that arrives while a neuron is firing or still
            switched off by the gate (only happens without SN) is ``drop``-ped (the spec: a firing
            neuron receives no input) or ``defer``-red to its next integrating cycle.
    """

    method: str = "rate"
    percentile: float = 99.99
    channelwise: bool = False
    calib_positive_only: bool = False
    balance: str = "threshold"
    v_init: float = 0.0
    reset: str = "subtract"
    K: int = 8
    input_coding: str = "analog-scaled"
    bias: str = "spread"
    residual: str = "carry"
    gate: bool = True
    sn: bool | None = None
    offphase: str = "drop"

    def __post_init__(self) -> None:
        for name, allowed in _ALLOWED.items():
            if getattr(self, name) not in allowed:
                raise MethodConfigError(
                    f"{name}={getattr(self, name)!r} is not allowed; choose one of {list(allowed)}"
                )
        if not 0 < self.percentile <= 100:
            raise MethodConfigError(f"percentile must be in (0, 100], got {self.percentile}")
        if not 1 <= self.K <= 16:
            raise MethodConfigError(f"K must be between 1 and 16, got {self.K}")
        if not 0.0 <= self.v_init < 1.0:
            raise MethodConfigError(f"v_init is a fraction of theta in [0, 1), got {self.v_init}")
        if self.bistable and self.reset != "subtract":
            raise MethodConfigError("bistable neurons always reset by subtraction; use residual=")

    @property
    def bistable(self) -> bool:
        return self.method in BISTABLE_METHODS

    @property
    def phase_weighted(self) -> bool:
        """Spikes carry phase weights 2^-(k+1) (phase, bsnn) rather than the unit weight."""
        return self.method in ("phase", "bsnn")

    @property
    def uses_sn(self) -> bool:
        return self.bistable if self.sn is None else bool(self.sn)

    @property
    def cycle_length(self) -> int:
        """Steps per cycle (1 for rate coding, K otherwise)."""
        return 1 if self.method == "rate" else self.K

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sn"] = self.uses_sn
        return d

    def label(self) -> str:
        """A short human-readable name, e.g. ``bsnn K=8`` or ``rate p=99.9 v0=0.5``."""
        if self.method == "rate":
            return f"rate p={self.percentile:g} v0={self.v_init:g}"
        extra = "" if self.uses_sn == self.bistable else (" SN" if self.uses_sn else " no-SN")
        return f"{self.method} K={self.K}{extra}"

    def replace(self, **changes: Any) -> "MethodConfig":
        return dataclasses.replace(self, **changes)


def method_config(method: str = "rate", **overrides: Any) -> MethodConfig:
    """Build a validated ``MethodConfig``; unknown option names raise a clear error."""
    names = {f.name for f in dataclasses.fields(MethodConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise MethodConfigError(f"unknown method option(s) {unknown}; known: {sorted(names)}")
    return MethodConfig(method=method, **overrides)


METHOD_PARAMETER_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(MethodConfig) if f.name != "method"
)
"""Columns that every results table carries, one per method parameter."""

__all__ = [
    "METHODS",
    "BISTABLE_METHODS",
    "MethodConfig",
    "MethodConfigError",
    "method_config",
    "METHOD_PARAMETER_COLUMNS",
]
