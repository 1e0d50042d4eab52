"""Shared by every notebook: what it works on (:class:`Setup`), running cells, and result tables.

A notebook calls :func:`setup` once; ``s.save(fig, name, data=...)`` and ``s.write(tables)`` then
write its figures and tables with provenance, and record each output in the notebook's manifest
(``<results>/<profile>/<notebook>/outputs.json``), which the runner checks after the notebook ran:
what a notebook writes is declared in one place, the notebook itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bsnn_lib.experiments import Cell, CellResult, result_tables, run_cell, write_tables
from bsnn_lib.io import run_metadata, write_json
from bsnn_lib.methods import MethodConfig, method_config
from bsnn_lib.profiles import Profile, load_profile

__all__ = [
    "MANIFEST",
    "Setup",
    "bsnn_default",
    "describe_data",
    "grid_tables",
    "net_rows",
    "pick_rate",
    "run_results",
    "setup",
    "tables",
]

MANIFEST = "outputs.json"
"""The file, in a notebook's results folder, that lists everything the notebook wrote."""


def describe_data(df: pd.DataFrame | None) -> dict[str, Any]:
    """What a figure or table shows, read off the table it was drawn from: datasets, nets,
    splits, methods, number of images and the largest t."""
    if df is None or df.empty:
        return {}
    out: dict[str, Any] = {}
    for col, key in (
        ("dataset", "dataset"),
        ("arch", "arch"),
        ("split", "split"),
        ("variant", "methods"),
        ("label", "labels"),
    ):
        if col in df.columns:
            vals = list(dict.fromkeys(df[col].dropna().tolist()))
            out[key] = vals[0] if len(vals) == 1 and key in ("dataset", "arch", "split") else vals
    if "n_images" in df.columns:
        ns = sorted({int(v) for v in df["n_images"].dropna()})
        out["n_images"] = ns[0] if len(ns) == 1 else ns
    if "T" in df.columns:
        Ts = sorted({int(v) for v in df["T"].dropna()})
        out["T"] = Ts[0] if len(Ts) == 1 else Ts
    elif "t" in df.columns:
        out["T"] = int(df["t"].max())
    return out


@dataclass
class Setup:
    """What a notebook works on: the profile, one trained net, the device and the output paths.

    ``params(...)`` is the provenance written beside every figure and table."""

    notebook: str
    profile: Profile
    net: dict[str, Any]
    device: str | None
    figures_dir: Path
    results_dir: Path
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        return self.net["dataset"]

    @property
    def arch(self) -> str:
        return self.net["arch"]

    @property
    def tables_dir(self) -> Path:
        return self.results_dir / self.notebook

    def cell(self, method: MethodConfig, **kw: Any) -> Cell:
        """A cell of this net with the profile's T, n_test, ... (``kw`` overrides them)."""
        return self.profile.net_cell(self.net, method, **kw)

    def params(self, data: pd.DataFrame | None = None, **extra: Any) -> dict[str, Any]:
        """Provenance: notebook, profile, what ``data`` shows (dataset, nets, T, images, ...;
        the notebook's net when no data is given), the run metadata, and ``extra``."""
        from bsnn_lib.data import get_spec

        shown = describe_data(data)
        if not shown:
            shown = {"dataset": self.dataset, "arch": self.arch}
        p: dict[str, Any] = {"notebook": self.notebook, "profile": self.profile.name, **shown}
        if isinstance(shown.get("dataset"), str):
            p["dataset_name"] = get_spec(shown["dataset"]).display_name
        p.update(run_metadata())
        p.update(extra)
        return p

    def _record(self, kind: str, name: str, paths: Sequence[Path]) -> None:
        # relative to the manifest's folder, so that a manifest reads the same in every clone
        files = [_relative_to(Path(p), self.tables_dir) for p in paths]
        self.outputs.append({"kind": kind, "name": name, "files": files})
        write_json(
            self.tables_dir / MANIFEST,
            {"notebook": self.notebook, "profile": self.profile.name, "outputs": self.outputs},
        )

    def save(
        self, fig, name: str, data: pd.DataFrame | None = None, folder: str | Path | None = None, **extra: Any
    ) -> list[Path]:
        """``plots.save_fig`` into the figures folder (or ``folder``); the sidecar describes
        ``data`` (the table the figure was drawn from) plus ``extra``."""
        import matplotlib.pyplot as plt

        from bsnn_lib.plots import save_fig

        paths = save_fig(fig, name, folder or self.figures_dir, self.params(data, **extra))
        self._record("figure", name, paths)
        if not _interactive():  # a script: nothing will display it; a kernel shows it inline
            plt.close(fig)
        return paths

    def write(
        self, tables: Mapping[str, pd.DataFrame], sub: str | None = None, data: pd.DataFrame | None = None, **extra: Any
    ) -> list[Path]:
        """``write_tables`` into ``<results_dir>/<notebook>[/<sub>]`` with provenance (what
        ``data`` shows, by default the first table, plus ``extra``)."""
        out = self.tables_dir / sub if sub else self.tables_dir
        if data is None:
            data = next((df for df in tables.values() if df is not None and not df.empty), None)
        paths = write_tables(dict(tables), out, params=self.params(data, **extra))
        self._record("tables", sub or ".", paths)
        return paths

    def title(self, what: str, n_images: int | None = None, all_nets: bool = False) -> str:
        """``what — <dataset> <arch>, <n> test images`` (``all_nets``: the profile instead of a net)."""
        from bsnn_lib.data import get_spec

        n = n_images or self.net.get("n_test", self.profile.n_test)
        where = f"profile {self.profile.name}" if all_nets else f"{get_spec(self.dataset).display_name} {self.arch}"
        return f"{what} — {where}, {n or 'all'} test image{'s' if n != 1 else ''}"


def _interactive() -> bool:
    from bsnn_lib.plots import has_frontend

    return has_frontend()


def _find_net(profile: Profile, dataset: str | None, arch: str | None, prefer: str | None) -> dict[str, Any]:
    if dataset or arch:
        for net in profile.nets:
            if (dataset in (None, net["dataset"])) and (arch in (None, net["arch"])):
                return net
        if not (dataset and arch):
            raise ValueError(f"profile {profile.name!r} has no net with dataset={dataset!r} arch={arch!r}")
        return {"dataset": dataset, "arch": arch}
    if prefer:
        for net in profile.nets:
            if prefer in net["arch"]:
                return net
        raise ValueError(
            f"profile {profile.name!r} has no net whose arch contains {prefer!r}: {[n['arch'] for n in profile.nets]}"
        )
    return profile.nets[0]


def setup(
    notebook: str,
    profile: str,
    figures_dir: str | Path,
    results_dir: str | Path,
    device: str | None = None,
    *,
    dataset: str | None = None,
    arch: str | None = None,
    prefer_arch: str | None = None,
) -> Setup:
    """Load the profile and pick the net a notebook studies.

    ``dataset``/``arch`` override the profile (None: its first net, or with ``prefer_arch`` its
    first net whose arch contains that string, e.g. ``"resnet"``). ``device`` None = the
    profile's device. Output folders are created, and the notebook's manifest starts empty."""
    prof = load_profile(profile)
    net = _find_net(prof, dataset, arch, prefer_arch)
    figs, res = Path(figures_dir).resolve(), Path(results_dir).resolve()
    figs.mkdir(parents=True, exist_ok=True)
    (res / notebook).mkdir(parents=True, exist_ok=True)
    s = Setup(notebook, prof, net, device or prof.torch_device, figs, res)
    write_json(s.tables_dir / MANIFEST, {"notebook": notebook, "profile": prof.name, "outputs": []})
    return s


def _relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder``, with forward slashes (the committed manifests read the
    same on every OS); the absolute path where none exists (another drive)."""
    try:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def read_manifest(results_dir: str | Path, notebook: str) -> dict[str, Any]:
    """The manifest a notebook run wrote (empty outputs if it wrote none), its files resolved
    against the manifest's folder (they are stored relative to it)."""
    path = Path(results_dir) / notebook / MANIFEST
    if not path.is_file():
        return {"notebook": notebook, "outputs": []}
    manifest = json.loads(path.read_text())
    for out in manifest["outputs"]:
        out["files"] = [str((path.parent / f).resolve()) for f in out["files"]]
    return manifest


def run_results(cells: Sequence[Cell], device: str | None = None, progress: bool = True) -> list[CellResult]:
    """``run_cell`` on each cell (simulation cache first), with one progress bar over the cells."""
    from bsnn_lib.progress import bar as progress_bar

    out = []
    bar = progress_bar(cells, desc="cells", disable=not progress)
    for c in bar:
        bar.set_postfix_str(f"{c.dataset}/{c.arch} {c.method.label()} T={c.T}")
        out.append(run_cell(c, device=device, progress=False))
    bar.close()
    return out


def tables(results: Sequence[CellResult], variants: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """``result_tables`` with a ``variant`` column naming each result (default: its label), so
    that configurations with the same label (ablations) stay apart."""
    names = list(variants) if variants is not None else [r.cell.method.label() for r in results]
    if len(names) != len(results):
        raise ValueError("one variant name per result")
    parts: dict[str, list[pd.DataFrame]] = {}
    for r, name in zip(results, names):
        for key, df in result_tables([r]).items():
            if df is None or df.empty:
                continue
            df = df.copy()
            df.insert(3, "variant", name)
            parts.setdefault(key, []).append(df)
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}


def grid_tables(s: Setup, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The profile's benchmark grid (every net x split x method), run resumably or read from its
    finished cells, written once to ``<results>/<profile>/*.csv``; a ``variant`` column (= the
    label) is added for the plots."""
    from bsnn_lib.grid import run_grid

    out = {}
    for name, df in run_grid(s.profile, out_dir=s.results_dir, device=s.device, progress=progress).items():
        if not df.empty:
            df = df.copy()
            df.insert(3, "variant", df["label"])
        out[name] = df
    return out


def net_rows(tabs: Mapping[str, pd.DataFrame], s: Setup, split: str | None = None) -> dict[str, pd.DataFrame]:
    """The rows of the notebook's net (its dataset and arch; the first split unless given)."""
    split = split or s.net.get("splits", ["test"])[0]
    out = {}
    for name, df in tabs.items():
        if df.empty:
            out[name] = df
            continue
        sel = (df["dataset"] == s.dataset) & (df["arch"] == s.arch)
        if "split_key" in df.columns:
            sel &= df["split_key"] == split
        out[name] = df[sel].reset_index(drop=True)
    return out


def bsnn_default(**changes: Any) -> MethodConfig:
    """The reference BSNN configuration of the workbook: K = 8 and the spec's defaults."""
    return method_config("bsnn", K=8).replace(**changes) if changes else method_config("bsnn", K=8)


def pick_rate(profile: Profile, arch: str | None = None, method: str = "rate") -> MethodConfig:
    """The strongest rate-coding baseline among the profile's entries of ``method``: V(0) = theta/2
    if present, then the highest percentile (the usual best post-training conversion setting)."""
    rates = [m for m in profile.method_configs(arch) if m.method == method]
    if not rates:
        return method_config(method, v_init=0.5)
    return max(rates, key=lambda m: (m.v_init, m.percentile))
