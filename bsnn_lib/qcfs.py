"""QCFS: the quantization-clip-floor-shift activation (Bu et al., ICLR 2022), a training option.

An ANN trained with it instead of ReLU converts to rate-coded IF neurons that are near-lossless
at small T: each activation is

    qcfs(x) = lambda * clip(floor(x * L / lambda + 1/2), 0, L) / L

with L levels and a trainable threshold lambda per layer. Gradients pass the floor straight
through and lambda gets the gradient of the clip; the floor counts a value within 1e-3 of a level
as reached (:data:`bsnn_lib.quantized.FIRE_TOLERANCE`), as the spiking side does.

It converts with theta = lambda and V(0) = theta/2 for rate coding. A K-bit bistable firing
cycle sends one of the 2^K values n*theta/2^K, n = 0 .. 2^K - 1; with L = 2^K - 1 levels and
theta = lambda * 2^K / L the two grids coincide, and with the half-LSB start
(``rounding="nearest"``) clear-mode BSNN computes exactly this network, frame by frame (the
quantized-ANN view of the converted net equals the QCFS ANN; tests/test_qcfs.py).

``QCFS`` subclasses ``nn.ReLU`` so the converter (and every model of the zoo) treats it as the
ReLU it replaces; :func:`bsnn_lib.convert.convert` takes its thresholds from the learned lambdas
instead of the calibration percentile. ``TrainConfig(activation="qcfs", qcfs_levels=L)`` trains
with it.
"""

from __future__ import annotations

import torch
from torch import nn

from bsnn_lib.quantized import FIRE_TOLERANCE

__all__ = ["ACTIVATIONS", "QCFS", "qcfs_thresholds", "to_qcfs"]

ACTIVATIONS = ("relu", "qcfs")
"""Values of ``TrainConfig.activation``."""


class QCFS(nn.ReLU):
    """``lambda * clip(floor(x L / lambda + 1/2), 0, L) / L`` with a trainable ``lambda``."""

    def __init__(self, levels: int = 15, threshold: float = 4.0) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"QCFS needs at least 1 level, got {levels}")
        self.levels = int(levels)
        self.threshold = nn.Parameter(torch.tensor(float(threshold)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam = self.threshold.to(x.dtype)
        y = torch.clamp(x / lam, 0.0, 1.0)
        # the firing tolerance of the spiking side, so the converted net computes exactly this
        q = torch.floor(y * self.levels + 0.5 + FIRE_TOLERANCE) / self.levels
        return lam * (y + (q - y).detach())  # straight-through floor

    def extra_repr(self) -> str:
        return f"levels={self.levels}, threshold={self.threshold.item():.4g}"


def to_qcfs(model: nn.Module, levels: int, threshold: float = 4.0) -> nn.Module:
    """Replace every ``nn.ReLU`` module of ``model`` by a fresh :class:`QCFS` (in place; module
    names and so checkpoint keys are kept, plus one ``threshold`` per activation)."""
    for name, child in list(model.named_children()):
        if type(child) is nn.ReLU:
            setattr(model, name, QCFS(levels, threshold))
        else:
            to_qcfs(child, levels, threshold)
    return model


def qcfs_thresholds(gm: nn.Module, lambdas: dict[str, torch.Tensor], schedule) -> dict[str, torch.Tensor]:
    """``lambdas`` with every QCFS activation's threshold set from its learned lambda, so that the
    method's largest value (``fire_max / fire_levels`` of theta) is lambda: theta = lambda for
    rate coding, lambda * 2^K / (2^K - 1) for a K-bit phase-weighted cycle."""
    out = dict(lambdas)
    scale = schedule.fire_levels / schedule.fire_max if schedule.phase_weighted else 1.0
    for name, mod in gm.named_modules():
        if isinstance(mod, QCFS) and name in out:
            lam = mod.threshold.detach().float().abs()
            out[name] = (lam * scale).expand_as(out[name]).clone() if out[name].dim() else lam * scale
    return out
