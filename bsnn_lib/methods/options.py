"""Method options: every knob of a conversion, declared once with its default, values and help.

An :class:`Option` is data: the config validates against it, the CLI builds its flags from it,
the results tables get one column per option, in declaration order. The options shared by several
methods are declared here; a method file declares its own new options with :func:`declare` and
lists every option it uses in ``Method.options``. Options marked ``choice=True`` are the
specification's **[choice]**\\ s (``docs/method.md``): readings of the paper that the notebooks
compare instead of deciding silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class MethodConfigError(ValueError):
    """A method option has a value that is not allowed (the message lists the allowed ones)."""


@dataclass(frozen=True)
class Option:
    """One method option.

    Attributes:
        name: the keyword of :func:`~bsnn_lib.methods.method_config` and the table column.
        default: the value when not given.
        help: one line for ``--help`` and the docs.
        values: the allowed values (None: any value of ``kind`` that passes ``check``).
        kind: ``str``, ``int``, ``float`` or ``bool`` (values are coerced to it).
        check: returns an error message for a bad value, or None.
        choice: a [choice] of the specification.
        flag: the CLI flag (default ``--<name with dashes>``).
        late: declared after results were cached: ``MethodConfig.to_dict`` (the cache keys and
            the tables) lists it only where it is set, so older cells keep their keys.
    """

    name: str
    default: Any
    help: str
    values: tuple[Any, ...] | None = None
    kind: type = str
    check: Callable[[Any], str | None] | None = None
    choice: bool = False
    flag: str | None = None
    late: bool = False

    def coerce(self, value: Any) -> Any:
        """``value`` converted to :attr:`kind` and validated; raises :class:`MethodConfigError`."""
        if value is None and self.default is None:
            return None
        try:
            if self.kind is bool and not isinstance(value, bool):
                raise TypeError
            if self.kind is int and (isinstance(value, bool) or int(value) != value):
                raise TypeError
            v = self.kind(value)
        except (TypeError, ValueError):
            raise MethodConfigError(f"{self.name}={value!r} is not a {self.kind.__name__}") from None
        if self.values is not None and v not in self.values:
            raise MethodConfigError(f"{self.name}={value!r} is not allowed; choose one of {list(self.values)}")
        problem = self.check(v) if self.check is not None else None
        if problem:
            raise MethodConfigError(f"{self.name}={value!r}: {problem}")
        return v

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


OPTIONS: dict[str, Option] = {}
"""Every declared option, in declaration order (= the order of the table columns)."""


def declare(*options: Option) -> None:
    """Register options (a method file calls this for the options it introduces)."""
    for opt in options:
        if opt.name in OPTIONS and OPTIONS[opt.name] != opt:
            raise ValueError(f"option {opt.name!r} is declared twice, differently")
        OPTIONS[opt.name] = opt


def _between(lo: float, hi: float, closed_low: bool = True, closed_high: bool = True):
    def check(v: float) -> str | None:
        ok_lo = v >= lo if closed_low else v > lo
        ok_hi = v <= hi if closed_high else v < hi
        if ok_lo and ok_hi:
            return None
        return f"must be in {'[' if closed_low else '('}{lo:g}, {hi:g}{']' if closed_high else ')'}"

    return check


COMMON = ("percentile", "channelwise", "calib_positive_only", "balance", "sn")
"""Options of the conversion pipeline itself: every method has them."""

declare(
    Option(
        "percentile",
        99.99,
        "calibration percentile of ReLU outputs (100 = max)",
        kind=float,
        check=_between(0, 100, closed_low=False),
    ),
    Option("channelwise", False, "one threshold per channel instead of per layer", kind=bool),
    Option(
        "calib_positive_only",
        False,
        "percentile over positive activations only (default: zeros included, as the spec says)",
        kind=bool,
        choice=True,
    ),
    Option(
        "balance",
        "threshold",
        "theta_l = lambda_l with weights kept, or weights scaled and theta = 1 "
        "(equivalent; weights only without identity shortcuts)",
        values=("threshold", "weights"),
    ),
    Option(
        "v_init",
        0.0,
        "initial potential as a fraction of theta (0.5: the half-threshold shift)",
        kind=float,
        check=_between(0, 1, closed_high=False),
    ),
    Option("reset", "subtract", "reset by subtraction or to zero", values=("subtract", "zero")),
    Option("K", 8, "phases (time steps) per cycle", kind=int, check=_between(1, 16)),
    Option(
        "input_coding",
        "analog-scaled",
        "input current per phase: x*w_k/(1-2^-K) (a cycle delivers "
        "exactly x), x*w_k, or the K-bit expansion of the raw pixel",
        values=("analog-scaled", "analog", "bits"),
        choice=True,
    ),
    Option(
        "bias",
        "spread",
        "bias injection: b/K at every integrating step, or b at phase 0",
        values=("spread", "first"),
        choice=True,
    ),
    Option(
        "residual",
        "carry",
        "potential left after a firing cycle: carried into the next integration (error feedback) or cleared",
        values=("carry", "clear"),
        choice=True,
    ),
    Option("gate", True, "pipeline gate: layer l is switched on only from cycle l-1", kind=bool, flag="--gate"),
    Option("sn", None, "synchronous (relay) neurons on residual shortcuts (default: the method's)", kind=bool),
    Option(
        "offphase",
        "drop",
        "input arriving while a neuron fires or is still switched off: dropped "
        "(the spec) or deferred to its next integration",
        values=("drop", "defer"),
        choice=True,
    ),
    Option(
        "rounding",
        "down",
        "a firing cycle rounds down (V starts at 0) or to nearest (V starts half a least significant "
        "unit up: theta*2^-(K+1) for phase-weighted spikes, theta/2 for unit spikes)",
        values=("down", "nearest"),
        choice=True,
    ),
    Option(
        "readout",
        "step",
        "the answer at step t: the readout's argmax at every step (partial frames scored) or held "
        "from its last complete frame",
        values=("step", "frame"),
        choice=True,
    ),
)
