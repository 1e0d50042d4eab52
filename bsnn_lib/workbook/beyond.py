"""Notebook 05 (beyond the paper): the profile's ``beyond`` section through the verdict protocol."""

from __future__ import annotations

from typing import Any

from bsnn_lib.workbook.common import Setup

__all__ = ["run_beyond"]


def run_beyond(s: Setup, progress: bool = True) -> dict[str, Any] | None:
    """Run (cached cells resume) the verdict protocol on the profile's ``beyond`` section into
    ``<results_dir>/05_beyond_the_paper/verdict`` and return its tables (``load_verdict``); None,
    with a message, when the profile has no such section."""
    from bsnn_lib.verdict import load_verdict, run_verdict

    if not s.profile.beyond:
        print(f"profile {s.profile.name} has no 'beyond' section: nothing to run")
        return None
    out = s.tables_dir / "verdict"
    run_verdict(s.profile, out_dir=out, device=s.device, progress=progress, section=s.profile.beyond)
    return load_verdict(out)
