"""Notebook 02 (bistable neurons): raster data, the K sweep and the one-at-a-time ablations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bsnn_lib.experiments import Cell, build_snn, test_loader
from bsnn_lib.workbook.common import Setup, bsnn_default

__all__ = ["RasterData", "ablation_cells", "k_sweep_cells", "raster_data"]


@dataclass
class RasterData:
    """Inputs of :func:`bsnn_lib.plots.plot_spike_raster` for one image."""

    trains: dict[str, dict[str, np.ndarray]]
    layers: pd.DataFrame
    states: dict[str, list[str]]
    neurons: dict[str, list[int]]
    T: int
    fill_steps: int
    label: str


def raster_data(c: Cell, T: int | None = None, n_active: int = 14, n_silent: int = 4, image: int = 0) -> RasterData:
    """Spike trains and membrane potentials of one test image through the net of cell ``c``.

    Per layer, the ``n_active`` neurons that spike most and ``n_silent`` neurons that never
    spike (lowest final potential) are kept; order: two active, one silent, then the rest (the
    raster plot traces the first three). T defaults to the pipeline fill plus three frames."""
    from bsnn_lib.simulate import spike_trains

    snn, _ = build_snn(c)
    sch = snn.schedule
    T = T or (snn.fill_steps - 1 + 6 * sch.K if snn.fill_steps > 1 else 64)
    loader = test_loader(c.dataset, image + 1, image + 1, c.split)
    x, _ = next(iter(loader))
    layers = snn.layers()
    sizes = {n: int(np.prod(s)) for n, s in zip(layers["name"], layers["shape"])}
    trains_all = spike_trains(snn, x[image : image + 1], T, max_neurons=max(sizes.values()))
    trains, neurons = {}, {}
    for name, d in trains_all.items():
        counts = (d["value"] > 0).sum(0)
        active = [int(i) for i in np.argsort(-counts, kind="stable")[:n_active] if counts[i] > 0]
        silent_idx = np.flatnonzero(counts == 0)
        silent = [int(i) for i in silent_idx[np.argsort(d["potential"][-1, silent_idx], kind="stable")][:n_silent]]
        order = active[:2] + silent[:1] + active[2:] + silent[1:]
        neurons[name] = list(range(len(order)))
        trains[name] = {k: v[:, order] for k, v in d.items()}
    states = {n: [sch.state(int(dp), t) for t in range(T)] for n, dp in zip(layers["name"], layers["depth"])}
    return RasterData(trains, layers, states, neurons, T, snn.fill_steps, c.method.label())


def k_sweep_cells(s: Setup) -> list[tuple[str, Cell]]:
    """BSNN (defaults) for every K of the profile's ``k_sweep``."""
    return [(f"K={k}", s.cell(bsnn_default(K=k))) for k in s.profile.k_sweep]


def ablation_cells(s: Setup) -> list[tuple[str, Cell]]:
    """The [choice] ablations: the BSNN default, then each option of the profile's
    ``ablations`` changed one at a time (``option=value``)."""
    base = bsnn_default()
    out = [("default (K=8, carry, analog-scaled, spread, gate)", s.cell(base))]
    for option, values in s.profile.ablations.items():
        for v in values:
            out.append((f"{option}={v}", s.cell(base.replace(**{option: v}))))
    return out
