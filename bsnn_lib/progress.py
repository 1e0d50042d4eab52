"""Progress bars (tqdm, with an ETA) that reach the user wherever the work runs.

In a terminal or a notebook, :func:`bar` is ``tqdm.auto``. Inside a notebook executed headless by
the workbook runner (``make figures``), the runner sets ``BSNN_PROGRESS=terminal`` and the bars go
to the kernel's original standard error, which is the terminal that started the run, so a long
training or simulation inside one cell shows its progress there (papermill itself only knows
which cell runs). ``BSNN_PROGRESS=off`` disables every bar.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENV = "BSNN_PROGRESS"

__all__ = ["ENV", "bar"]


def bar(iterable: Any = None, *, disable: bool = False, **kwargs: Any):
    """A tqdm progress bar (same arguments as ``tqdm``), routed as the module docstring says."""
    mode = os.environ.get(ENV, "auto")
    if mode == "off":
        disable = True
    if mode == "terminal" and sys.__stderr__ is not None:
        from tqdm.std import tqdm

        kwargs.setdefault("mininterval", 2.0)
        return tqdm(iterable, disable=disable, file=sys.__stderr__, dynamic_ncols=True, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=disable, **kwargs)
