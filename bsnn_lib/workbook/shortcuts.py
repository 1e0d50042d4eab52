"""Notebook 03 (shortcuts): BSNN and rate coding with and without synchronous neurons."""

from __future__ import annotations

import pandas as pd

from bsnn_lib.experiments import Cell, build_snn
from bsnn_lib.workbook.common import Setup, bsnn_default, pick_rate

__all__ = ["relay_table", "shortcut_cells"]


def shortcut_cells(s: Setup) -> list[tuple[str, Cell]]:
    """BSNN with SN, without SN (offphase drop, defer); the rate baseline without and with SN."""
    b = bsnn_default()
    rate = pick_rate(s.profile, s.arch)
    rl = rate.label()
    return [
        ("bsnn K=8, SN", s.cell(b)),
        ("bsnn K=8, no SN, off-phase input dropped", s.cell(b.replace(sn=False, offphase="drop"))),
        ("bsnn K=8, no SN, off-phase input deferred", s.cell(b.replace(sn=False, offphase="defer"))),
        (f"{rl}, no SN", s.cell(rate.replace(sn=False))),
        (f"{rl}, SN relays", s.cell(rate.replace(sn=True))),
    ]


def relay_table(c: Cell) -> pd.DataFrame:
    """The spiking layers of the converted net of ``c`` (relays: kind ``relay``, with the layer
    whose threshold they copy as ``source``)."""
    snn, _ = build_snn(c)
    df = snn.layers()
    df["shape"] = df["shape"].astype(str)
    return df
