"""Conversion methods: one file per method, a registry, and one validated config type.

===========  ==========================================================================================
rate         integrate-and-fire, reset by subtraction (Rueckauer 2017, SpikingJelly ann2snn)
phase        weighted spikes / periodically varying threshold (Kim et al. 2018), K phases
bsnn         bistable neurons: alternate integrating and firing cycles of K phase-weighted steps
bsnn-rate    ablation: the bistable two-state schedule with plain IF spikes (no phase weights)
bsnn-double  beyond the paper: two compartments, fire one frame while integrating the next (period K)
bsnn-mixed   beyond the paper: per-layer bits K_l (fill K_1 + sum K_l + 1), feed-forward nets
bsnn-early   beyond the paper: fire after delta < K input phases, correct late input (fill L*delta + 1)
===========  ==========================================================================================

    from bsnn_lib.methods import method_config
    cfg = method_config("bsnn", K=8)

Every option the paper leaves open is a [choice] (``OPTIONS[name].choice``), documented in
``docs/method.md`` and compared in the notebooks. See :mod:`bsnn_lib.methods.base` for what a
method owns and how to add one.
"""

from __future__ import annotations

from bsnn_lib.methods.base import InputEncoder, Method, PhaseEncoder, Schedule
from bsnn_lib.methods.config import MethodConfig, MethodConfigError, get_method, method_config
from bsnn_lib.methods.options import COMMON, OPTIONS, Option
from bsnn_lib.methods.registry import REGISTRY

METHODS: tuple[str, ...] = tuple(REGISTRY)
"""The registered method names."""

METHOD_PARAMETER_COLUMNS: tuple[str, ...] = tuple(OPTIONS)
"""Columns that every results table carries, one per method option (None where unused)."""

__all__ = [
    "COMMON",
    "METHODS",
    "METHOD_PARAMETER_COLUMNS",
    "OPTIONS",
    "REGISTRY",
    "InputEncoder",
    "Method",
    "MethodConfig",
    "MethodConfigError",
    "Option",
    "PhaseEncoder",
    "Schedule",
    "get_method",
    "method_config",
]
