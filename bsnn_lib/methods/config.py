"""MethodConfig: one validated, hashable value for "this method with these options".

    cfg = method_config("bsnn", K=6, residual="clear")
    cfg.K, cfg.residual, cfg.spec            # 6, 'clear', the Bsnn method object
    cfg.replace(K=8).label()                 # 'bsnn K=8'

Options that a method does not use are refused when given and stored as None (so a rate-coding
row of a results table has no K). ``to_dict`` lists every declared option in declaration order:
it is the cache key's and the results tables' view of the config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bsnn_lib.methods.options import COMMON, OPTIONS, MethodConfigError

if TYPE_CHECKING:
    from bsnn_lib.methods.base import Method

__all__ = ["MethodConfig", "MethodConfigError", "get_method", "method_config"]


def get_method(name: str) -> Method:
    """The :class:`~bsnn_lib.methods.base.Method` registered as ``name``."""
    from bsnn_lib.methods.registry import REGISTRY

    try:
        return REGISTRY[name]
    except KeyError:
        raise MethodConfigError(f"method={name!r} is not allowed; choose one of {list(REGISTRY)}") from None


class MethodConfig:
    """Everything that defines one converted SNN besides the trained ANN (immutable, hashable).

    Attributes:
        method: a name in :data:`~bsnn_lib.methods.registry.REGISTRY`.
        <option>: every option of :data:`~bsnn_lib.methods.options.OPTIONS` (None where the
            method does not use it), e.g. ``cfg.K``, ``cfg.percentile``.
    """

    __slots__ = ("method", "_values")

    def __init__(self, method: str = "rate", **options: Any) -> None:
        spec = get_method(method)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise MethodConfigError(f"unknown method option(s) {unknown}; known: {sorted(OPTIONS)}")
        used = set(COMMON) | set(spec.options)
        foreign = sorted(set(options) - used)
        if foreign:
            raise MethodConfigError(
                f"option(s) {foreign} do not apply to method {method!r}; its options: "
                f"{[n for n in OPTIONS if n in used]}"
            )
        values = {
            name: (opt.coerce(options.get(name, opt.default)) if name in used else None)
            for name, opt in OPTIONS.items()
        }
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "_values", values)

    # ---- attribute access and immutability ---------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"MethodConfig has no option {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("MethodConfig is immutable; use .replace(...)")

    def __reduce__(self):
        return (_rebuild, (self.method, self.given()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MethodConfig) and (self.method, self._values) == (other.method, other._values)

    def __hash__(self) -> int:
        return hash((self.method, tuple(self._values.items())))

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.given().items())
        return f"method_config({self.method!r}{', ' if given else ''}{given})"

    # ---- views ------------------------------------------------------------------------
    @property
    def spec(self) -> Method:
        """The method object (neuron class, schedule, input rule, fast path, ...)."""
        return get_method(self.method)

    def given(self) -> dict[str, Any]:
        """The options that differ from their defaults."""
        return {k: v for k, v in self._values.items() if v is not None and v != OPTIONS[k].default}

    def options(self) -> dict[str, Any]:
        """The values of the options this method uses."""
        used = set(COMMON) | set(self.spec.options)
        return {k: v for k, v in self._values.items() if k in used}

    @property
    def uses_sn(self) -> bool:
        """Synchronous neurons on shortcuts: ``sn`` if given, else the method's default."""
        return self.spec.default_sn if self.sn is None else bool(self.sn)

    def to_dict(self) -> dict[str, Any]:
        """``method`` and every declared option (``sn`` resolved), in declaration order; a
        ``late`` option only where it is set."""
        d: dict[str, Any] = {
            "method": self.method,
            **{k: v for k, v in self._values.items() if v is not None or not OPTIONS[k].late},
        }
        d["sn"] = self.uses_sn
        return d

    def label(self) -> str:
        """A short human-readable name, e.g. ``bsnn K=8`` or ``rate p=99.9 v0=0.5``."""
        return self.spec.label(self)

    def replace(self, **changes: Any) -> MethodConfig:
        """A copy with some options changed (``method=`` switches the method, keeping the
        options the new one uses)."""
        method = changes.pop("method", self.method)
        spec = get_method(method)
        used = set(COMMON) | set(spec.options)
        kept = {k: v for k, v in self._values.items() if k in used and v is not None}
        kept.update(changes)
        return MethodConfig(method, **kept)


def _rebuild(method: str, given: dict[str, Any]) -> MethodConfig:
    return MethodConfig(method, **given)


def method_config(method: str = "rate", **options: Any) -> MethodConfig:
    """Build a validated :class:`MethodConfig`; unknown, foreign or bad options raise
    :class:`MethodConfigError` with the allowed values."""
    return MethodConfig(method, **options)
