"""Published numbers beside ours: the paper's headline results and its peers.

The numbers live in a data file, ``bsnn_lib/resources/reference_results.csv`` (one row per
publication, dataset and net; ``publication`` names the paper, ``source`` where the number was
taken from). They are reference only: other ANNs, other data, often far larger T.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["REFERENCE_CSV", "comparison_table", "reference_results"]

REFERENCE_CSV = Path(__file__).resolve().parent.parent / "resources" / "reference_results.csv"


def reference_results(path: str | Path = REFERENCE_CSV) -> pd.DataFrame:
    """The published rows: method, publication, dataset, arch, ann_accuracy_pct,
    snn_accuracy_pct, T, note, source."""
    return pd.read_csv(path)


def comparison_table(latency: pd.DataFrame) -> pd.DataFrame:
    """Our rows in the layout of :func:`reference_results` (one per net and method), followed by
    the published rows, so the two can be read side by side. Ours: accuracy at T, and T within 1%."""
    from bsnn_lib.data import get_spec

    ours = pd.DataFrame(
        {
            "method": latency["variant"] + " (ours)",
            "publication": "this workbook",
            "dataset": [get_spec(d).display_name for d in latency["dataset"]],
            "arch": latency["arch"],
            "ann_accuracy_pct": (100 * latency["ann_accuracy"]).round(2),
            "snn_accuracy_pct": (100 * latency["final_accuracy"]).round(2),
            "T": latency["t_within_1pct"],
            "note": "T = the step from which acc(t) stays within 1% of the ANN; accuracy at the last simulated step",
            "source": "results/<profile>/04_benchmarks/latency.csv",
        }
    )
    out = pd.concat([ours, reference_results()], ignore_index=True)
    out["T"] = out["T"].astype("Int64")
    return out
