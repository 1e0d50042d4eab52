"""The benchmark grid: every cell of a profile, resumable, written as tidy CSVs.

    from bsnn_lib.grid import run_grid
    tables = run_grid("quick")          # -> results/quick/{accuracy_vs_t,sin,energy,latency}.csv

A profile (``profiles/<name>.yaml``, see :mod:`bsnn_lib.profiles`) lists nets and methods; its
cells are nets x splits x methods, each one simulation of T steps (acc(t) for every t <= T).

Layout of ``out_dir`` (default ``results/<profile name>``)::

    cells/<dataset>-<arch>-<method>-<cell key>/     one finished cell ("part")
        accuracy_vs_t.csv sin.csv energy.csv latency.csv cell.json
    accuracy_vs_t.csv sin.csv energy.csv latency.csv  every finished part, in profile order
    params.json                                       the profile, the run metadata, completeness

Resumability and atomicity:

- A part is written into a hidden temporary directory next to its final name and renamed into
  place only when all its files are complete (``os.rename`` of a directory is atomic on POSIX).
  An interrupted cell therefore leaves either no part or a complete one, never half a table;
  stray temporary directories of an interrupted run are removed at the next start.
- A cell whose part exists is skipped without loading its ANN or simulating anything. Cells
  without a part still go through :func:`~bsnn_lib.experiments.run_cell`, whose simulation cache
  (``<data root>/cache/sims``) makes a re-run of an already simulated cell cheap.
- The combined CSVs are always rebuilt from the parts (atomic writes), after the last cell and
  also when the run is interrupted (then ``params.json`` says ``"complete": false``).

Determinism: cells run in profile order; training, calibration and simulation are seeded and
deterministic on one device, so every column of every table is identical across runs except
``latency.csv:sim_seconds`` (a wall time) and the date in ``params.json``.

The part key is :meth:`Cell.key`, which ignores the engine (both engines give the same answer,
tested), so a grid run with ``engine="reference"`` reuses parts of a ``fast`` run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bsnn_lib.experiments import Cell, read_table, result_tables, run_cell, type_option_columns, write_tables
from bsnn_lib.io import REPO_ROOT, fsync_directory, run_metadata, write_csv, write_json
from bsnn_lib.profiles import Profile, load_profile
from bsnn_lib.progress import bar as progress_bar
from bsnn_lib.simulate import ENGINES

__all__ = ["TABLES", "cell_part_dir", "grid_cells", "load_parts", "run_grid"]

TABLES = ("accuracy_vs_t", "sin", "energy", "latency")
"""The tidy tables of a grid, one CSV each (see :func:`bsnn_lib.experiments.result_tables`)."""

_FIRST_COLUMNS = {
    "accuracy_vs_t": ["dataset", "arch", "method", "t", "accuracy", "ann_accuracy"],
    "sin": ["dataset", "arch", "method", "layer", "t", "sin_neuron_rate", "sin_spike_share"],
    "energy": ["dataset", "arch", "method", "t"],
    "latency": ["dataset", "arch", "method", "ann_accuracy", "best_accuracy", "t_within_1pct", "t_within_0p5pct"],
}
_INT_COLUMNS = {"latency": ("t_within_1pct", "t_within_0p5pct")}
_TMP_PREFIX = ".tmp-"


# ---------------------------------------------------------------------------------------------
# cells and parts
# ---------------------------------------------------------------------------------------------
def _as_profile(profile: Profile | str | os.PathLike[str]) -> Profile:
    return profile if isinstance(profile, Profile) else load_profile(profile)


def grid_cells(profile: Profile | str | os.PathLike[str], engine: str = "fast") -> list[Cell]:
    """The cells of ``profile`` in run order, with ``engine`` set."""
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}; choose one of {ENGINES}")
    return [dataclasses.replace(c, engine=engine) for c in _as_profile(profile).cells()]


def cell_part_dir(out_dir: str | os.PathLike[str], c: Cell) -> Path:
    """Where the finished part of cell ``c`` lives: ``<out_dir>/cells/<ds>-<arch>-<method>-<key>``."""
    return Path(out_dir) / "cells" / f"{c.dataset}-{c.arch}-{c.method.method}-{c.key()}"


def _cell_description(c: Cell) -> dict[str, Any]:
    d = dataclasses.asdict(c)
    d["method"] = c.method.to_dict()
    d["label"] = c.method.label()
    d["key"] = c.key()
    return json.loads(json.dumps(d, default=str))


def _write_part(part: Path, c: Cell, tables: dict[str, pd.DataFrame], from_cache: bool) -> None:
    """Write every table of one cell into a temporary directory, then rename it to ``part``."""
    part.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=part.parent, prefix=f"{_TMP_PREFIX}{part.name}."))
    try:
        for name in TABLES:
            df = tables.get(name)
            if df is not None and not df.empty:
                write_csv(tmp / f"{name}.csv", df)
        write_json(tmp / "cell.json", {"cell": _cell_description(c), "from_cache": from_cache})
        os.chmod(tmp, 0o755)
        if part.exists():  # a finished part of an identical cell: keep the first one
            shutil.rmtree(tmp)
            return
        os.rename(tmp, part)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_directory(part.parent)


def _clean_stale_parts(out_dir: Path) -> int:
    """Remove temporary part directories left by an interrupted run; return how many."""
    cells = out_dir / "cells"
    if not cells.is_dir():
        return 0
    stale = [p for p in cells.iterdir() if p.name.startswith(_TMP_PREFIX)]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)


def _read_csv(path: Path) -> pd.DataFrame:
    # pandas >= 3 parses floats round-trip exactly: rebuilding the combined CSVs is idempotent
    return read_table(path)


def load_parts(out_dir: str | os.PathLike[str], cells: Sequence[Cell]) -> dict[str, pd.DataFrame]:
    """The combined tables of the finished parts among ``cells``, in the order of ``cells``."""
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for c in cells:
        part = cell_part_dir(out_dir, c)
        if not part.is_dir():
            continue
        for name in TABLES:
            path = part / f"{name}.csv"
            if path.is_file():
                frames[name].append(_read_csv(path))
    out: dict[str, pd.DataFrame] = {}
    for name, dfs in frames.items():
        if not dfs:
            out[name] = pd.DataFrame()
            continue
        df = pd.concat(dfs, ignore_index=True)
        first = [col for col in _FIRST_COLUMNS[name] if col in df.columns]
        df = df[first + [col for col in df.columns if col not in first]]
        for col in _INT_COLUMNS.get(name, ()):
            if col in df.columns:
                df[col] = df[col].astype("Int64")
        out[name] = type_option_columns(df)
    return out


# ---------------------------------------------------------------------------------------------
# the grid
# ---------------------------------------------------------------------------------------------
def _params(
    profile: Profile, cells: Sequence[Cell], done: Sequence[bool], engine: str, device: str | None
) -> dict[str, Any]:
    raw = dict(profile.raw) or {"name": profile.name}
    return {
        "profile": {"name": profile.name, "path": profile.path, "settings": raw},
        "engine": engine,
        "device": device,
        "complete": all(done),
        "cells_done": int(sum(done)),
        "cells_total": len(cells),
        "cells": [
            {
                "key": c.key(),
                "dataset": c.dataset,
                "arch": c.arch,
                "split": c.split,
                "label": c.method.label(),
                "T": c.T,
                "done": bool(d),
            }
            for c, d in zip(cells, done)
        ],
        "run": run_metadata(),
    }


def _rebuild(
    out: Path, profile: Profile, cells: Sequence[Cell], engine: str, device: str | None
) -> dict[str, pd.DataFrame]:
    tables = load_parts(out, cells)
    done = [cell_part_dir(out, c).is_dir() for c in cells]
    write_tables(tables, out, params=_params(profile, cells, done, engine, device))
    return tables


def run_grid(
    profile: Profile | str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    progress: bool = True,
    engine: str = "fast",
    use_cache: bool = True,
) -> dict[str, pd.DataFrame]:
    """Run every cell of ``profile`` (resumably) and write the tidy tables; return them.

    Args:
        profile: a :class:`~bsnn_lib.profiles.Profile`, a profile name or a YAML path.
        out_dir: output directory (default ``results/<profile name>`` in the repository).
        device: ``cpu`` / ``cuda`` / None (None: the profile's ``device``; ``auto`` = CUDA if any).
        progress: an overall bar over cells (and the per-cell bars of training/simulation).
        engine: ``fast`` or ``reference`` simulator.
        use_cache: use the simulation cache of :func:`run_cell` (finished parts are always reused;
            delete ``<out_dir>/cells`` to recompute them).

    Returns:
        ``{"accuracy_vs_t", "sin", "energy", "latency"}`` -> DataFrame, as written (read back from
        the parts, so that a fresh and a resumed run return the same thing).
    """
    prof = _as_profile(profile)
    cells = grid_cells(prof, engine)
    out = Path(out_dir) if out_dir is not None else REPO_ROOT / "results" / prof.name
    out.mkdir(parents=True, exist_ok=True)
    _clean_stale_parts(out)
    dev = device if device is not None else prof.torch_device
    todo = [c for c in cells if not cell_part_dir(out, c).is_dir()]
    bar = progress_bar(
        total=len(cells), initial=len(cells) - len(todo), desc=f"grid {prof.name}", unit="cell", disable=not progress
    )
    finished = False
    try:
        for c in todo:
            bar.set_postfix_str(f"{c.dataset}/{c.arch} {c.method.label()} {c.split}")
            cr = run_cell(c, device=dev, progress=progress, use_cache=use_cache)
            _write_part(cell_part_dir(out, c), c, result_tables([cr]), cr.from_cache)
            bar.update(1)
        finished = True
    finally:
        bar.close()
        if not finished:
            # interrupted: publish what is finished (params.json says complete: false), re-raise
            try:
                _rebuild(out, prof, cells, engine, dev)
            except Exception:  # noqa: BLE001 - never mask the original error
                pass
    return _rebuild(out, prof, cells, engine, dev)
