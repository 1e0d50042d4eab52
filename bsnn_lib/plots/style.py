"""The workbook's look and the saving of figures: style, colours per method family, save_fig.

Colours come from the method registry: every :class:`~bsnn_lib.methods.base.Method` names its
seaborn palette; the labels of one method get shades of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bsnn_lib.io import atomic_save, git_commit, write_json

__all__ = ["FAMILY_PALETTES", "STATE_COLORS", "label_palette", "method_family", "save_fig", "use_style"]

#: Background colours of the bistable states (integrating, firing, switched off).
STATE_COLORS: dict[str, str] = {"integrate": "#dbe9f6", "fire": "#fde2c8", "off": "#eeeeee"}


def _family_palettes() -> dict[str, str]:
    from bsnn_lib.methods import REGISTRY

    return {name: m.palette for name, m in REGISTRY.items()}


FAMILY_PALETTES: dict[str, str] = _family_palettes()
"""A seaborn palette per method (from the registry); labels of one method get shades of it."""


def use_style() -> None:
    """The workbook's seaborn style (white grid, 'notebook' context, readable small fonts)."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.9)
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.titlesize": "medium",
            "legend.fontsize": "small",
            "legend.title_fontsize": "small",
        }
    )


def method_family(label: str) -> str:
    """The method of a label such as ``'bsnn K=8'`` or ``'rate p=99.9 v0=0.5'``."""
    head = str(label).split()[0] if str(label).split() else str(label)
    return head if head in FAMILY_PALETTES else "other"


def label_palette(labels: Sequence[Any]) -> dict[Any, Any]:
    """A colour per label: each method family its own hue, its labels shades of it.

    Labels that are not method labels (e.g. ablation variant names) get the ``tab10`` colours."""
    uniq = list(dict.fromkeys(labels))
    out: dict[Any, Any] = {}
    families: dict[str, list[Any]] = {}
    for lab in uniq:
        families.setdefault(method_family(lab), []).append(lab)
    other = iter(sns.color_palette("tab10", max(len(families.get("other", [])), 1)))
    for fam, labs in families.items():
        if fam == "other":
            for lab in labs:
                out[lab] = next(other)
            continue
        shades = (
            sns.color_palette(FAMILY_PALETTES[fam], len(labs) + 1)[1:]
            if len(labs) > 1
            else [sns.color_palette(FAMILY_PALETTES[fam], 3)[1]]
        )
        for lab, col in zip(labs, shades):
            out[lab] = col
    return out


def save_fig(fig: Figure, name: str, out_dir, params: Mapping[str, Any] | None = None) -> list:
    """Write ``<out_dir>/<name>.png``, ``.pdf`` and ``.json`` atomically; return the three paths.

    The JSON holds ``params`` (profile, dataset, arch, methods, T, number of images, ... whatever
    the caller knows) plus ``figure``, ``git_commit`` and ``date``, which are filled in here.
    Each file is first written to a temporary name in ``out_dir`` and then renamed, so a reader
    never sees a half-written figure."""
    import datetime as _dt
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"figure": name, **dict(params or {})}
    meta.setdefault("git_commit", git_commit())
    meta.setdefault("date", _dt.datetime.now().isoformat(timespec="seconds"))
    paths = []
    for ext in ("png", "pdf"):
        paths.append(
            atomic_save(
                out / f"{name}.{ext}",
                # no creation date in the PDF: the same figure gives the same bytes on every run
                lambda tmp, ext=ext: fig.savefig(
                    tmp, format=ext, bbox_inches="tight", metadata={"CreationDate": None} if ext == "pdf" else None
                ),
            )
        )
    paths.append(write_json(out / f"{name}.json", meta))
    return paths


def hue_order(df: pd.DataFrame, hue: str) -> list[Any]:
    return list(dict.fromkeys(df[hue].tolist()))


def layer_order(df: pd.DataFrame) -> list[str]:
    """Layers by depth (then name); relays marked."""
    g = df.drop_duplicates("layer").sort_values(["depth", "layer"], kind="stable")
    return g["layer"].tolist()


def layer_ticklabels(df: pd.DataFrame, layers: Sequence[str]) -> list[str]:
    info = df.drop_duplicates("layer").set_index("layer")
    out = []
    for lay in layers:
        depth = int(info.loc[lay, "depth"])
        relay = "kind" in info.columns and info.loc[lay, "kind"] == "relay"
        out.append(f"{depth}: {lay}{' (SN)' if relay else ''}")
    return out


def panel_grid(n: int, width: float, height: float, max_cols: int = 4, **kw: Any):
    """``n`` panels in rows of at most ``max_cols``; returns (fig, list of n axes, axes grid)."""
    ncols = min(n, max_cols)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(width * ncols + 1.2, height * nrows), squeeze=False, **kw)
    flat = list(grid.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n], grid


def at_time(df: pd.DataFrame, t: int | None, hue: str) -> pd.DataFrame:
    """Rows of each hue at its last statistics time <= t (t=None: its last time)."""
    parts = []
    for _, g in df.groupby(hue, sort=False):
        times = g["t"] if t is None else g.loc[g["t"] <= t, "t"]
        if times.empty:
            continue
        parts.append(g[g["t"] == times.max()])
    return pd.concat(parts) if parts else df.iloc[:0]
