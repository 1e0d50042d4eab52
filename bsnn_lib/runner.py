"""The papermill runner: execute the notebook series headless, in order (``make figures``).

    run_workbook("quick")            # = python -m bsnn_lib workbook --profile quick

runs ``notebooks/00_...`` to ``05_...`` in order with papermill; executed copies go to
``runs/<profile>/``, figures to ``figures/<profile>/`` and tables to ``results/<profile>/``.
Each notebook records what it wrote in its manifest (:mod:`bsnn_lib.workbook.common`); after a
notebook ran, the runner checks that every file of the manifest exists. A notebook that raises
stops the run with a :class:`WorkbookError` that names the notebook and the failing cell.

While a notebook runs, papermill logs which cell executes, and the library's own progress bars
(training epochs, simulations, the grid) are written to this terminal (:mod:`bsnn_lib.progress`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bsnn_lib.io import REPO_ROOT
from bsnn_lib.profiles import load_profile

__all__ = ["NOTEBOOKS", "NOTEBOOK_DIR", "WorkbookError", "run_workbook"]

NOTEBOOK_DIR = REPO_ROOT / "notebooks"

NOTEBOOKS: tuple[str, ...] = (
    "00_bring_your_own_model",
    "01_sin_analysis",
    "02_bistable_neurons",
    "03_shortcut_sync",
    "04_benchmarks",
    "05_beyond_the_paper",
)
"""The notebook series, in the order it runs (names of ``notebooks/<name>.ipynb``)."""


class WorkbookError(RuntimeError):
    """A notebook of the series failed; the message names the notebook and the failing cell."""


def _select(notebooks: Iterable[str | Path] | None) -> list[Path]:
    """Notebook names (or prefixes such as ``01``) or paths to .ipynb files -> paths."""
    if notebooks is None:
        return [NOTEBOOK_DIR / f"{n}.ipynb" for n in NOTEBOOKS]
    out = []
    for item in notebooks:
        path = Path(item)
        if path.suffix == ".ipynb":
            if not path.is_file():
                raise WorkbookError(f"no notebook {path}")
            out.append(path.resolve())
            continue
        matches = [n for n in NOTEBOOKS if n == str(item) or n.startswith(f"{item}_") or n.startswith(str(item))]
        if len(matches) != 1:
            raise WorkbookError(f"{str(item)!r} names {len(matches)} notebooks; choose from {list(NOTEBOOKS)}")
        out.append(NOTEBOOK_DIR / f"{matches[0]}.ipynb")
    return out


def _declared_parameters(path: Path) -> set[str] | None:
    """Names in the notebook's ``parameters`` cell (None: it has none, pass everything)."""
    import papermill as pm

    try:
        params = pm.inspect_notebook(str(path))
    except Exception:  # noqa: BLE001 - inspection is a convenience; papermill reports real errors
        return None
    return set(params) or None


def run_workbook(
    profile: str = "quick",
    *,
    notebooks: Iterable[str | Path] | None = None,
    out_dir: str | Path = "runs",
    figures_dir: str | Path | None = None,
    results_dir: str | Path | None = None,
    device: str | None = None,
    kernel: str = "python3",
    progress: bool = True,
    log_output: bool = False,
) -> list[Path]:
    """Execute the notebook series headless with papermill, in order; return the executed copies.

    Args:
        profile: a profile name (``profiles/<name>.yaml``).
        notebooks: names or prefixes (``"01"``) of :data:`NOTEBOOKS`, or paths to .ipynb files;
            default: all, in order.
        out_dir: executed notebooks go to ``<out_dir>/<profile>/`` (relative to the current
            directory).
        figures_dir / results_dir: default ``<repo>/figures/<profile>`` and
            ``<repo>/results/<profile>``.
        device: ``cpu`` / ``cuda``; None = the profile's choice.
        kernel: the Jupyter kernel name.
        progress: papermill's per-cell bar, and the library's bars on this terminal.
        log_output: also stream every cell's printed output (papermill's ``log_output``).

    Every notebook gets ``profile``, absolute ``figures_dir`` / ``results_dir``, ``device`` and
    ``interactive=False`` (only the parameters its ``parameters`` cell declares). Papermill runs
    each one with ``notebooks/`` (the notebook's folder) as working directory.

    Raises:
        WorkbookError: a notebook raised (message: notebook, cell index, error, executed copy), or
            a file its manifest lists is missing.
    """
    load_profile(profile)  # a bad profile name fails here, before any kernel starts
    paths = _select(notebooks)
    runs = Path(out_dir).resolve() / profile
    figs = Path(figures_dir).resolve() if figures_dir else REPO_ROOT / "figures" / profile
    res = Path(results_dir).resolve() if results_dir else REPO_ROOT / "results" / profile
    for d in (runs, figs, res):
        d.mkdir(parents=True, exist_ok=True)
    params = {
        "profile": profile,
        "figures_dir": str(figs),
        "results_dir": str(res),
        "device": device,
        "interactive": False,
    }
    done = []
    # executed notebooks keep their figures: let the kernel choose its inline backend even when
    # the caller runs headless with MPLBACKEND=Agg (CI); the library's bars go to this terminal
    env = {"MPLBACKEND": None, "BSNN_PROGRESS": "terminal" if progress else "off"}
    saved = {k: os.environ.get(k) for k in env}
    try:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for i, path in enumerate(paths, 1):
            start = time.perf_counter()
            if progress:
                print(f"[{i}/{len(paths)}] {path.stem} (profile {profile})", flush=True)
            done.append(_execute(path, runs, params, kernel, progress, log_output))
            _check_manifest(path.stem, res)
            if progress:
                print(f"[{i}/{len(paths)}] {path.stem}: done in {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return done


def _check_manifest(notebook: str, results_dir: Path) -> None:
    from bsnn_lib.workbook.common import read_manifest

    missing = [
        f for out in read_manifest(results_dir, notebook)["outputs"] for f in out["files"] if not Path(f).is_file()
    ]
    if missing:
        raise WorkbookError(f"notebook {notebook} lists outputs that do not exist: {missing[:5]}")


def _execute(path: Path, runs: Path, params: dict[str, Any], kernel: str, progress: bool, log_output: bool) -> Path:
    """Run one notebook with papermill; a failure becomes a :class:`WorkbookError`."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    declared = _declared_parameters(path)
    given = {k: v for k, v in params.items() if declared is None or k in declared}
    target = runs / path.name
    try:
        pm.execute_notebook(
            str(path),
            str(target),
            parameters=given,
            kernel_name=kernel,
            cwd=str(path.parent),
            progress_bar=progress,
            log_output=log_output,
        )
    except PapermillExecutionError as err:
        first = (err.source or "").strip().splitlines()
        raise WorkbookError(
            f"notebook {path.stem} failed in cell {err.cell_index} "
            f"({first[0][:80] if first else 'empty cell'}): {err.ename}: {err.evalue}; "
            f"executed copy with the traceback: {target}"
        ) from err
    except Exception as err:  # kernel death, missing kernel, ...
        raise WorkbookError(f"notebook {path.stem} could not run: {type(err).__name__}: {err}") from err
    return target
