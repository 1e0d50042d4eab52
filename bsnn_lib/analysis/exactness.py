"""Exactness: a bistable network in ``clear`` mode computes the K-bit quantized ANN frame by frame."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

__all__ = ["exactness_check"]


def exactness_check(results: Sequence, names: Sequence[str]) -> pd.DataFrame:
    """Per bistable result (:class:`~bsnn_lib.experiments.CellResult`): ANN and quantized-ANN
    accuracy, the first answered step, the SNN's accuracy at the end of its first output frame
    and at T, and whether that equals the quantized ANN (it must, exactly, for
    ``residual=clear``: method.md §5)."""
    rows = []
    for r, name in zip(results, names):
        acc = r.result.accuracy()
        answered = acc.loc[acc["answered"] > 0, "t"]
        t_first = int(answered.iloc[0]) if not answered.empty else None
        K = r.cell.method.K
        frame_end = min(t_first + K - 1, r.cell.T) if t_first else None
        a_frame = float(acc.loc[acc["t"] == frame_end, "accuracy"].iloc[0]) if frame_end else math.nan
        a_T = float(acc["accuracy"].iloc[-1])
        q = r.result.qann_accuracy
        rows.append(
            {
                "variant": name,
                "label": r.cell.method.label(),
                "residual": r.cell.method.residual,
                "K": K,
                "n_images": r.result.n,
                "ann_accuracy": r.result.ann_accuracy,
                "qann_accuracy": q,
                "first_answer_t": t_first,
                "first_frame_end_t": frame_end,
                "snn_accuracy_first_frame": a_frame,
                "snn_accuracy_T": a_T,
                "equal_to_qann_first_frame": q is not None and abs(a_frame - q) < 0.5 / r.result.n,
                "equal_to_qann_T": q is not None and abs(a_T - q) < 0.5 / r.result.n,
            }
        )
    return pd.DataFrame(rows)
