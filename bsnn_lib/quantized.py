"""The K-bit quantized ANN reference (method.md §5) and the closed-form firing count.

Each ReLU becomes q(z) = theta * min(floor(relu(z) * Q / theta), n_max) / Q. For phase-weighted
bistable neurons Q = 2^K and n_max = 2^K - 1: one firing cycle of a bistable neuron in "clear" mode
sends exactly this value, so a BSNN's per-frame output equals this network (the exactness test) and
it is the second reference for SIN. For the rate-coded bistable ablation Q = n_max = K. Each method
names its (Q, n_max) (``Method.levels``).
"""

from __future__ import annotations

import torch

FIRE_TOLERANCE = 1e-3
"""A firing threshold counts as reached within this fraction of one least significant unit, in the
step rule and the closed form alike, so float rounding of sums of exact spike values (theta*2^-j)
cannot drop a bit; 1e-3 LSB is far below any modelled effect."""


def firing_count(
    v: torch.Tensor, theta: torch.Tensor, levels: int, n_max: int, eps: float = 0.0, offset: float = 0.0
) -> torch.Tensor:
    """Units of theta/levels that one firing cycle emits from potential ``v`` (closed form).

    n = clip(floor(v * levels / theta + offset + eps), 0, n_max); ``eps`` is the firing tolerance
    in units of one level (:data:`FIRE_TOLERANCE`), ``offset`` a start potential in units of one
    level (0.5: round to nearest).
    """
    if offset:
        return torch.clamp(torch.floor(v * levels / theta + offset + eps), 0, n_max)
    return torch.clamp(torch.floor(v * levels / theta + eps), 0, n_max)


def quantize(
    z: torch.Tensor, theta: torch.Tensor, levels: int, n_max: int, eps: float = 0.0, offset: float = 0.0
) -> torch.Tensor:
    """theta * min(floor(relu(z) * levels / theta + offset), n_max) / levels: the quantized,
    clipped ReLU, rounding down (offset 0) or to nearest (offset 0.5)."""
    return firing_count(torch.relu(z), theta, levels, n_max, eps, offset) * theta / levels
