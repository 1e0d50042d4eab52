"""The notebook series: run it headless with papermill, and the helpers its notebooks call.

    run_workbook("quick")            # = python -m bsnn_lib workbook --profile quick (make figures)

runs ``notebooks/01_...`` to ``04_...`` in order with papermill; executed copies go to
``runs/<profile>/``, figures to ``figures/<profile>/`` and tables to ``results/<profile>/<notebook>/``.
A notebook that raises stops the run with a :class:`WorkbookError` that names the notebook and
the failing cell.

The notebooks stay thin: every computation they show is one call of a function below (or of the
engine), every figure one call of :mod:`bsnn_lib.plots`. The helpers are grouped by notebook:

- all: :func:`setup` (profile, net, paths, provenance), :func:`run_results`, :func:`tables`;
- 01: :func:`neuron_demos`, :func:`demo_summary`, :func:`sin_methods`, :func:`sin_summary`,
  :func:`sin_explorer`;
- 02: :func:`raster_data`, :func:`k_sweep_cells`, :func:`ablation_cells`, :func:`exactness_check`;
- 03: :func:`shortcut_cells`, :func:`relay_table`;
- 04: :data:`REFERENCE_RESULTS`, :func:`latency_summary`, :func:`comparison_table`,
  :func:`claim_verdict`, :func:`energy_at_latency`, :func:`load_peer_csv`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsnn_lib.experiments import Cell, CellResult, build_snn, result_tables, run_cell, run_metadata, test_loader, write_tables
from bsnn_lib.methods import MethodConfig, method_config
from bsnn_lib.profiles import Profile, load_profile

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"

NOTEBOOKS: tuple[str, ...] = (
    "01_sin_analysis",
    "02_bistable_neurons",
    "03_shortcut_sync",
    "04_benchmarks",
)
"""The notebook series, in the order it runs (names of ``notebooks/<name>.ipynb``)."""

EXPECTED_FIGURES: dict[str, tuple[str, ...]] = {
    "01_sin_analysis": ("01_phase_lead", "01_late_inhibition", "01_phase_lag", "01_sin_per_layer",
                        "01_sin_vs_t", "01_error_decomposition"),
    "02_bistable_neurons": ("02_spike_raster", "02_sin_per_layer", "02_accuracy_vs_t", "02_k_sweep",
                            "02_ablations"),
    "03_shortcut_sync": ("03_shortcut_timing", "03_bsnn_sn", "03_rate_sn"),
    "04_benchmarks": ("04_latency", "04_energy"),
}
"""Figures every run of a notebook writes (each as .png, .pdf and .json). Notebook 04 also
writes ``04_accuracy_<net>`` per net and ``04_peer_spikingjelly`` when the peer CSV exists."""

EXPECTED_TABLES: dict[str, tuple[str, ...]] = {
    "01_sin_analysis": ("accuracy_vs_t.csv", "sin.csv", "latency.csv", "neuron_demos.csv", "params.json"),
    "02_bistable_neurons": ("grid/latency.csv", "grid/sin.csv", "k_sweep/latency.csv",
                            "ablations/latency.csv", "exactness.csv"),
    "03_shortcut_sync": ("accuracy_vs_t.csv", "latency.csv", "layers.csv"),
    "04_benchmarks": ("accuracy_vs_t.csv", "latency.csv", "energy.csv", "latency_summary.csv",
                      "comparison.csv", "reference.csv", "claim.csv"),
}
"""Tables (relative to ``<results_dir>/<notebook>/``) every run of a notebook writes."""

PEER_CSV = REPO_ROOT / "results" / "peer" / "spikingjelly.csv"
PEER_SUMMARY = PEER_CSV.with_name("spikingjelly_summary.json")
PEER_COMMAND = "python benchmarks/peer_spikingjelly.py"


class WorkbookError(RuntimeError):
    """A notebook of the series failed; the message names the notebook and the failing cell."""


# ---------------------------------------------------------------------------------------------
# running the series
# ---------------------------------------------------------------------------------------------
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
        progress: papermill's per-cell progress bar.

    Every notebook gets ``profile``, absolute ``figures_dir`` / ``results_dir``, ``device`` and
    ``interactive=False`` (only the parameters its ``parameters`` cell declares). Papermill runs
    each one with ``notebooks/`` (the notebook's folder) as working directory.

    Raises:
        WorkbookError: a notebook raised (message: notebook, cell index, error, executed copy).
    """
    load_profile(profile)  # a bad profile name fails here, before any kernel starts
    paths = _select(notebooks)
    runs = Path(out_dir).resolve() / profile
    figs = Path(figures_dir).resolve() if figures_dir else REPO_ROOT / "figures" / profile
    res = Path(results_dir).resolve() if results_dir else REPO_ROOT / "results" / profile
    for d in (runs, figs, res):
        d.mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "figures_dir": str(figs), "results_dir": str(res), "device": device,
              "interactive": False}
    done = []
    # executed notebooks keep their figures: let the kernel choose its inline backend even when
    # the caller runs headless with MPLBACKEND=Agg (CI); restored afterwards
    saved_backend = os.environ.pop("MPLBACKEND", None)
    try:
        for path in paths:
            done.append(_execute(path, runs, params, kernel, progress))
    finally:
        if saved_backend is not None:
            os.environ["MPLBACKEND"] = saved_backend
    return done


def _execute(path: Path, runs: Path, params: dict[str, Any], kernel: str, progress: bool) -> Path:
    """Run one notebook with papermill; a failure becomes a :class:`WorkbookError`."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    declared = _declared_parameters(path)
    given = {k: v for k, v in params.items() if declared is None or k in declared}
    target = runs / path.name
    try:
        pm.execute_notebook(str(path), str(target), parameters=given, kernel_name=kernel,
                            cwd=str(path.parent), progress_bar=progress)
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


def add_workbook_parser(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """``workbook``: run the notebook series headless (``make figures``)."""
    parser = subparsers.add_parser(
        "workbook",
        help="run the notebook series headless with papermill (figures/, results/, runs/)",
        description="Execute notebooks 01-04 in order for one profile: executed copies to "
        "<out>/<profile>/, figures to figures/<profile>/, tables to results/<profile>/.",
    )
    parser.add_argument("--profile", default="quick", help="a profile in profiles/ (default: quick)")
    parser.add_argument("--only", help="comma-separated notebook prefixes, e.g. 01,03")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: the profile's device")
    parser.add_argument("--out", default="runs", help="folder for executed notebooks (default: runs)")
    parser.add_argument("--figures-dir", help="default: figures/<profile>")
    parser.add_argument("--results-dir", help="default: results/<profile>")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.set_defaults(handler=run_workbook_command)


def run_workbook_command(args: argparse.Namespace) -> int:
    """Handler of ``workbook``: 0 on success, 1 when a notebook fails, 2 on a usage error."""
    import time

    from bsnn_lib.profiles import ProfileError

    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    start = time.perf_counter()
    try:
        done = run_workbook(args.profile, notebooks=only, out_dir=args.out, figures_dir=args.figures_dir,
                            results_dir=args.results_dir, device=args.device, progress=args.progress)
    except ProfileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except WorkbookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in done:
        print(f"executed {path}")
    print(f"workbook {args.profile}: {len(done)} notebook(s) in {time.perf_counter() - start:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bsnn_lib.workbook [--profile ...]`` without the top-level CLI."""
    parser = argparse.ArgumentParser(prog="python -m bsnn_lib.workbook")
    sub = parser.add_subparsers(dest="command")
    add_workbook_parser(sub)
    args = parser.parse_args(["workbook", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


# ---------------------------------------------------------------------------------------------
# shared by all notebooks
# ---------------------------------------------------------------------------------------------
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
    extra: dict[str, Any] = field(default_factory=dict)

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

    def params(self, **extra: Any) -> dict[str, Any]:
        from bsnn_lib.data import get_spec

        p = {"notebook": self.notebook, "profile": self.profile.name, "dataset": self.dataset,
             "dataset_name": get_spec(self.dataset).display_name, "arch": self.arch,
             "train": self.net.get("train"), "T": self.profile.T, "n_images": self.profile.n_test,
             "calib_size": self.profile.calib_size, **run_metadata()}
        p.update(extra)
        return p

    def save(self, fig, name: str, **extra: Any) -> list[Path]:
        """``plots.save_fig`` into the figures folder with this notebook's provenance."""
        from bsnn_lib.plots import save_fig

        return save_fig(fig, name, self.figures_dir, self.params(**extra))

    def write(self, tables: Mapping[str, pd.DataFrame], sub: str | None = None, **extra: Any) -> list[Path]:
        """``write_tables`` into ``<results_dir>/<notebook>[/<sub>]`` with provenance."""
        out = self.tables_dir / sub if sub else self.tables_dir
        return write_tables(dict(tables), out, params=self.params(**extra))

    def title(self, what: str, n_images: int | None = None, all_nets: bool = False) -> str:
        """``what — <dataset> <arch>, <n> test images`` (``all_nets``: the profile instead of a net)."""
        from bsnn_lib.data import get_spec

        n = n_images or self.profile.n_test
        where = f"profile {self.profile.name}" if all_nets else f"{get_spec(self.dataset).display_name} {self.arch}"
        return f"{what} — {where}, {n or 'all'} test image{'s' if n != 1 else ''}"


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
        raise ValueError(f"profile {profile.name!r} has no net whose arch contains {prefer!r}: "
                         f"{[n['arch'] for n in profile.nets]}")
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
    profile's device. Output folders are created."""
    prof = load_profile(profile)
    net = _find_net(prof, dataset, arch, prefer_arch)
    figs, res = Path(figures_dir).resolve(), Path(results_dir).resolve()
    figs.mkdir(parents=True, exist_ok=True)
    (res / notebook).mkdir(parents=True, exist_ok=True)
    return Setup(notebook, prof, net, device or prof.torch_device, figs, res)


def run_results(cells: Sequence[Cell], device: str | None = None, progress: bool = True) -> list[CellResult]:
    """``run_cell`` on each cell (simulation cache first), with one progress bar over the cells."""
    from tqdm.auto import tqdm

    out = []
    bar = tqdm(cells, desc="cells", disable=not progress)
    for c in bar:
        bar.set_postfix_str(f"{c.dataset}/{c.arch} {c.method.label()} T={c.T}")
        out.append(run_cell(c, device=device, progress=False))
    bar.close()
    return out


def tables(results: Sequence[CellResult], variants: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """``result_tables`` with a ``variant`` column naming each result (default: its label) and a
    ``T`` and a ``split_key`` column (the cell's split name), so that configurations with the same
    label (ablations) stay apart."""
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
            df["T"] = r.cell.T
            df["split_key"] = r.cell.split
            if key in ("accuracy_vs_t", "latency"):
                df["qann_accuracy"] = r.result.qann_accuracy
            parts.setdefault(key, []).append(df)
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}


def bsnn_default(**changes: Any) -> MethodConfig:
    """The reference BSNN configuration of the workbook: K = 8 and the spec's defaults."""
    return method_config("bsnn", K=8).replace(**changes) if changes else method_config("bsnn", K=8)


def pick_rate(profile: Profile, arch: str | None = None) -> MethodConfig:
    """The strongest rate-coding baseline of the profile: V(0) = theta/2 if present, then the
    highest percentile (the usual best post-training conversion setting)."""
    rates = [m for m in profile.method_configs(arch) if m.method == "rate"]
    if not rates:
        return method_config("rate", v_init=0.5)
    return max(rates, key=lambda m: (m.v_init, m.percentile))


# ---------------------------------------------------------------------------------------------
# 01: SIN
# ---------------------------------------------------------------------------------------------
DEMO_SCENARIOS: dict[str, str] = {
    "phase_lead": "+2θ then −2θ at the start of a cycle (net input 0)",
    "late_inhibition": "excitation in every phase, inhibition in the last phase (net input < 0)",
    "phase_lag": "0.75θ arriving in the last phase of a cycle, nothing after",
}


def _demo_inputs(scenario: str, K: int) -> list[float]:
    n = 3 * K
    x = [0.0] * n
    if scenario == "phase_lead":
        x[0], x[1] = 2.0, -2.0
    elif scenario == "late_inhibition":
        for k in range(K - 1):
            x[k] = 0.4
        x[K - 1] = -0.4 * (K - 1) - 0.5
    elif scenario == "phase_lag":
        x[K - 1] = 0.75
    else:
        raise ValueError(f"unknown scenario {scenario!r}; one of {list(DEMO_SCENARIOS)}")
    return x


def neuron_demos(K: int = 4, scenarios: Sequence[str] = tuple(DEMO_SCENARIOS)) -> dict[str, dict[str, pd.DataFrame]]:
    """Single neurons of rate coding, phase coding and BSNN fed the same hand-made input.

    Returns ``{scenario: {method label: trace}}`` (:func:`bsnn_lib.analysis.neuron_trace` frames
    with an extra ``threshold`` column: the firing threshold of each step where the neuron may
    fire, NaN while a bistable neuron integrates; theta = 1). One
    value per step for 3 cycles of K steps; rate coding sees the same sequence step by step."""
    from bsnn_lib.analysis import neuron_trace
    from bsnn_lib.neurons import Schedule

    cfgs = {"rate (IF, V(0)=0)": method_config("rate"), f"phase K={K}": method_config("phase", K=K),
            f"bsnn K={K}": method_config("bsnn", K=K)}
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for sc in scenarios:
        x = _demo_inputs(sc, K)
        out[sc] = {}
        for label, cfg in cfgs.items():
            df = neuron_trace(cfg, x, theta=1.0, depth=1)
            sch = Schedule(cfg)
            fires = df["state"].isin(["step", "fire"])
            df["threshold"] = [sch.weight(t - 1) if f else np.nan for t, f in zip(df["t"], fires)]
            out[sc][label] = df
    return out


def demo_summary(demos: Mapping[str, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per scenario and method: net input, the ANN's relu of it, value sent, spikes,
    whether the spikes are SIN (sent although the ANN's activation is 0), and the first step
    with a spike."""
    rows = []
    for sc, per in demos.items():
        for label, df in per.items():
            total = float(df["input"].sum())
            n = int(df["spike"].sum())
            first = df.loc[df["spike"] > 0, "t"]
            rows.append({"scenario": sc, "method": label, "net_input": total, "ann_value": max(total, 0.0),
                         "value_sent": float(df["value"].sum()), "spikes": n,
                         "sin": bool(total <= 0 and n > 0), "first_spike_t": int(first.iloc[0]) if n else None})
    return pd.DataFrame(rows)


def demo_table(demos: Mapping[str, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """All demo traces in one tidy frame (scenario, method, t, input, potential, ...)."""
    return pd.concat([df.assign(scenario=sc, method=label) for sc, per in demos.items()
                      for label, df in per.items()], ignore_index=True)


def sin_methods(profile: Profile, arch: str | None = None) -> list[tuple[str, MethodConfig]]:
    """The methods of the SIN analysis as (variant name, config): every rate and phase
    configuration of the profile, and the BSNN reference (K = 8) in its default ``carry`` mode and
    in ``clear`` mode (the one that is exact against the quantized ANN). Simulated with the
    profile's T, so the cells are shared with notebooks 02 and 04; SIN is read at ``sin_T``."""
    ms = [(m.label(), m) for m in profile.method_configs(arch) if m.method in ("rate", "phase")]
    ms += [("bsnn K=8 carry", bsnn_default()), ("bsnn K=8 clear", bsnn_default(residual="clear"))]
    return list(dict(ms).items())


def sin_summary(sin: pd.DataFrame, t: int | None = None, metric: str = "sin_neuron_rate") -> pd.DataFrame:
    """A layer x method table of a SIN metric (percent), each method read at its last
    statistics time <= t."""
    parts = []
    for _, g in sin.groupby("variant", sort=False):
        times = g["t"] if t is None else g.loc[g["t"] <= t, "t"]
        parts.append(g[g["t"] == times.max()])
    d = pd.concat(parts)
    out = d.pivot_table(index=["depth", "layer"], columns="variant", values=metric, sort=False)
    return (100 * out).round(3)


def has_frontend() -> bool:
    """True inside a running Jupyter kernel (where widgets can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def sin_explorer(sin: pd.DataFrame):
    """An ipywidgets explorer of SIN: pick a method, a layer and a time; shows the SIN neuron
    rate and spike share (float and quantized reference) and the error split at that point, and
    the layer's SIN rate against t. Returns the widget (or None without ipywidgets)."""
    try:
        import ipywidgets as w
    except ImportError:
        return None
    import matplotlib.pyplot as plt
    from IPython.display import display

    variants = list(dict.fromkeys(sin["variant"]))
    layers = list(dict.fromkeys(sin.sort_values(["depth", "layer"])["layer"]))
    method = w.Dropdown(options=variants, description="method")
    layer = w.Dropdown(options=layers, description="layer")
    tmax = int(sin["t"].max())
    t = w.IntSlider(value=tmax, min=1, max=tmax, description="t")
    out = w.Output()

    def show(*_):
        g = sin[(sin["variant"] == method.value) & (sin["layer"] == layer.value)].sort_values("t")
        row = g[g["t"] <= t.value].tail(1)
        with out:
            out.clear_output(wait=True)
            if row.empty:
                print("no statistics before this t")
                return
            cols = ["t", "sin_neuron_rate", "sin_spike_share", "sin_neuron_rate_q", "sin_spike_share_q",
                    "spikes_per_neuron", "rel_error", "err_sin_share", "err_clip_share", "err_rest_share"]
            display(row[cols].T.rename(columns=lambda _: f"{method.value} / {layer.value}"))
            fig, ax = plt.subplots(figsize=(5, 2.6))
            ax.plot(g["t"], g["sin_neuron_rate"], label="vs float ANN")
            ax.plot(g["t"], g["sin_neuron_rate_q"], ls="--", label="vs quantized ANN")
            ax.axvline(t.value, color="k", lw=0.8)
            ax.set_xlabel("t")
            ax.set_ylabel("SIN neuron rate")
            ax.legend(fontsize="x-small")
            plt.show()

    for wid in (method, layer, t):
        wid.observe(show, names="value")
    show()
    return w.VBox([w.HBox([method, layer, t]), out])


# ---------------------------------------------------------------------------------------------
# 02: bistable neurons
# ---------------------------------------------------------------------------------------------
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


def raster_data(c: Cell, T: int | None = None, n_active: int = 14, n_silent: int = 4,
                image: int = 0) -> RasterData:
    """Spike trains and membrane potentials of one test image through the net of cell ``c``.

    Per layer, the ``n_active`` neurons that spike most and ``n_silent`` neurons that never
    spike (lowest final potential) are kept; order: two active, one silent, then the rest (the
    raster plot traces the first three). T defaults to the pipeline fill plus three frames."""
    from bsnn_lib.simulate import spike_trains

    snn, _ = build_snn(c)
    sch = snn.schedule
    T = T or (snn.fill_steps - 1 + 6 * sch.K if sch.bistable else 64)
    loader = test_loader(c.dataset, image + 1, image + 1, c.split)
    x, _ = next(iter(loader))
    layers = snn.layers()
    sizes = {n: int(np.prod(s)) for n, s in zip(layers["name"], layers["shape"])}
    trains_all = spike_trains(snn, x[image:image + 1], T, max_neurons=max(sizes.values()))
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


def exactness_check(results: Sequence[CellResult], names: Sequence[str]) -> pd.DataFrame:
    """Per bistable result: ANN and quantized-ANN accuracy, the first answered step, the SNN's
    accuracy at the end of its first output frame and at T, and whether that equals the
    quantized ANN (it must, exactly, for ``residual=clear``: method.md §5)."""
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
        rows.append({"variant": name, "label": r.cell.method.label(), "residual": r.cell.method.residual,
                     "K": K, "n_images": r.result.n, "ann_accuracy": r.result.ann_accuracy,
                     "qann_accuracy": q, "first_answer_t": t_first, "first_frame_end_t": frame_end,
                     "snn_accuracy_first_frame": a_frame, "snn_accuracy_T": a_T,
                     "equal_to_qann_first_frame": q is not None and abs(a_frame - q) < 0.5 / r.result.n,
                     "equal_to_qann_T": q is not None and abs(a_T - q) < 0.5 / r.result.n})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# 03: shortcuts
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# 04: benchmarks
# ---------------------------------------------------------------------------------------------
REFERENCE_RESULTS = pd.DataFrame(
    [
        # method, venue, dataset, arch, ann_acc, snn_acc, T, note, source
        ("BSNN (paper)", "arXiv 2105.12917; Front. Neurosci. 2022", "CIFAR-10", "VGG16 / ResNet20", None, 95.16, None,
         "headline number, T not given in the abstract", "method.md §8"),
        ("BSNN (paper)", "arXiv 2105.12917; Front. Neurosci. 2022", "CIFAR-100", "VGG16 / ResNet20", None, 78.12, None,
         "headline number", "method.md §8"),
        ("BSNN (paper)", "arXiv 2105.12917; Front. Neurosci. 2022", "ImageNet", "ResNet-34", 73.27, 72.64, 989,
         "as cited by later work", "method.md §8"),
        ("RMP-SNN", "Han, Srinivasan, Roy, CVPR 2020", "CIFAR-10", "VGG16", None, 93.63, None, "thousands of steps",
         "method.md §8"),
        ("RMP-SNN", "Han, Srinivasan, Roy, CVPR 2020", "CIFAR-100", "VGG16", None, 70.93, None, "thousands of steps",
         "method.md §8"),
        ("RMP-SNN", "Han, Srinivasan, Roy, CVPR 2020", "ImageNet", "VGG16", None, 73.09, None, "thousands of steps",
         "method.md §8"),
        ("TSC", "Han, Roy, ECCV 2020", "CIFAR-10", "VGG16", None, 93.63, None, "thousands of steps", "method.md §8"),
        ("TSC", "Han, Roy, ECCV 2020", "CIFAR-100", "VGG16", None, 70.97, None, "thousands of steps", "method.md §8"),
        ("TSC", "Han, Roy, ECCV 2020", "ImageNet", "VGG16", None, 73.46, None, "thousands of steps", "method.md §8"),
        ("SNN Calibration", "Li et al., ICML 2021", "CIFAR-10", "VGG16", None, 93.65, 16, "", "method.md §8"),
        ("QCFS", "Bu et al., ICLR 2022", "CIFAR-10", "VGG16", None, 94.0, 4,
         "~94; retrains a quantized (clip-floor-shift) ANN", "method.md §8"),
        ("QCFS", "Bu et al., ICLR 2022", "ImageNet", "ResNet-34", None, 72.35, 64, "retrains a quantized ANN",
         "method.md §8"),
    ],
    columns=["method", "publication", "dataset", "arch", "ann_accuracy_pct", "snn_accuracy_pct", "T", "note",
             "source"],
)
"""Published numbers for the side-by-side table (reference only; different ANNs and data).
Sources: the publications named; values as listed in the project spec, method.md §8."""


def _net_keys(df: pd.DataFrame) -> list[str]:
    return [c for c in ("dataset", "arch", "split") if c in df.columns]


def latency_summary(latency: pd.DataFrame) -> pd.DataFrame:
    """Per net and method: ANN accuracy, final and best SNN accuracy (percent) and T within
    1% / 0.5% of the ANN (NA: not reached by T)."""
    cols = _net_keys(latency) + ["variant", "ann_accuracy", "final_accuracy", "best_accuracy",
                                 "t_within_1pct", "t_within_0p5pct", "T"]
    out = latency[[c for c in cols if c in latency.columns]].copy()
    for c in ("ann_accuracy", "final_accuracy", "best_accuracy"):
        out[c] = (100 * out[c]).round(2)
    return out.rename(columns={"variant": "method"})


def _t_or_inf(v: Any) -> float:
    return math.inf if v is None or pd.isna(v) else float(v)


def claim_table(latency: pd.DataFrame) -> pd.DataFrame:
    """Per net: the fastest BSNN (with its default SN) and the fastest baseline (rate or phase
    coding) by T within 1% of the ANN, their ratio, and whether the paper's claim holds there:
    BSNN within 1% of the ANN at T (near-lossless) in at most 1/4 of the baseline's steps. When no
    baseline gets within 1% by T, the speed-up is the lower bound (T + 1) / T_bsnn (flagged)."""
    rows = []
    for key, g in latency.groupby(_net_keys(latency), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        T = int(g["T"].max()) if "T" in g else None
        b = g[(g["method"] == "bsnn") & (g["sn"].astype(bool))]
        base = g[g["method"].isin(["rate", "phase"])]
        if b.empty or base.empty:
            continue
        b_t = b["t_within_1pct"].map(_t_or_inf)
        base_t = base["t_within_1pct"].map(_t_or_inf)
        bi, si = b_t.idxmin(), base_t.idxmin()
        tb, ts = b_t[bi], base_t[si]
        if not math.isfinite(tb):
            ratio = math.nan
        else:  # a baseline that never gets there: the ratio is at least (T + 1) / tb
            ratio = ts / tb if math.isfinite(ts) else (T + 1) / tb
        lossless = bool(math.isfinite(tb)) and float(b.loc[bi, "ann_accuracy"] - b.loc[bi, "final_accuracy"]) <= 0.01
        rows.append({**dict(zip(_net_keys(latency), key)), "T": T, "ann_accuracy": float(b.loc[bi, "ann_accuracy"]),
                     "bsnn": b.loc[bi, "variant"], "bsnn_t_1pct": None if not math.isfinite(tb) else int(tb),
                     "bsnn_final_accuracy": float(b.loc[bi, "final_accuracy"]),
                     "best_baseline": base.loc[si, "variant"], "baseline_t_1pct": None if not math.isfinite(ts) else int(ts),
                     "speedup": ratio, "speedup_is_lower_bound": bool(math.isfinite(tb) and not math.isfinite(ts)),
                     "near_lossless": lossless,
                     "claim_holds": bool(lossless and math.isfinite(ratio) and ratio >= 4)})
    out = pd.DataFrame(rows)
    for col in ("bsnn_t_1pct", "baseline_t_1pct"):
        if col in out:
            out[col] = out[col].astype("Int64")
    return out


def claim_verdict(latency: pd.DataFrame) -> str:
    """Sentences, computed from the latency table, on whether the paper's claim holds here
    ('near-lossless in 1/4 to 1/10 of the time steps of earlier methods')."""
    tab = claim_table(latency)
    if tab.empty:
        return "No net of this run has both a BSNN and a baseline: the claim cannot be checked."
    lines = []
    for _, r in tab.astype(object).where(tab.notna(), None).iterrows():
        net = " / ".join(str(r[k]) for k in _net_keys(tab))
        if r["bsnn_t_1pct"] is None:
            lines.append(f"{net}: BSNN ({r['bsnn']}) never stays within 1% of the ANN by T={r['T']}; "
                         f"the claim does not hold here.")
            continue
        base = (f"the best baseline ({r['best_baseline']}) needs {r['baseline_t_1pct']} steps"
                if r["baseline_t_1pct"] is not None else
                f"no baseline stays within 1% by T={r['T']} (speed-up > {r['speedup']:.1f}x)")
        speed = "" if r["speedup_is_lower_bound"] else f" (speed-up {r['speedup']:.2f}x)"
        verdict = "HOLDS" if r["claim_holds"] else "DOES NOT HOLD"
        why = ("" if r["claim_holds"] else
               (" (BSNN is not near-lossless at T)" if not r["near_lossless"] else
                " (BSNN is not 4x faster than the best baseline)"))
        lines.append(f"{net}: BSNN ({r['bsnn']}) is within 1% of the ANN from t={r['bsnn_t_1pct']} "
                     f"(final {100 * r['bsnn_final_accuracy']:.2f}% vs ANN {100 * r['ann_accuracy']:.2f}%); "
                     f"{base}{speed}. Claim {verdict}{why}.")
    n = int(tab["claim_holds"].sum())
    lines.append(f"Overall: the paper's latency claim holds on {n} of {len(tab)} net(s) of this profile.")
    return "\n".join(lines)


def comparison_table(latency: pd.DataFrame) -> pd.DataFrame:
    """Our rows in the layout of :data:`REFERENCE_RESULTS` (one per net and method), followed by
    the published rows, so the two can be read side by side. Ours: accuracy at T, and T within 1%."""
    from bsnn_lib.data import get_spec

    ours = pd.DataFrame({
        "method": latency["variant"] + " (ours)",
        "publication": "this workbook",
        "dataset": [get_spec(d).display_name for d in latency["dataset"]],
        "arch": latency["arch"],
        "ann_accuracy_pct": (100 * latency["ann_accuracy"]).round(2),
        "snn_accuracy_pct": (100 * latency["final_accuracy"]).round(2),
        "T": latency["t_within_1pct"],
        "note": "T = first step within 1% of the ANN; accuracy at the last simulated step",
        "source": "results/<profile>/04_benchmarks/latency.csv",
    })
    out = pd.concat([ours, REFERENCE_RESULTS], ignore_index=True)
    out["T"] = out["T"].astype("Int64")
    return out


def energy_at_latency(energy: pd.DataFrame, latency: pd.DataFrame) -> pd.DataFrame:
    """Per net and method, the energy table at the first statistics time at or after T within
    1% of the ANN (or at T): SOPs, ANN MACs and the 45 nm energy ratio."""
    rows = []
    keys = _net_keys(latency) + ["variant"]
    for _, r in latency.iterrows():
        sel = np.logical_and.reduce([energy[k] == r[k] for k in keys if k in energy.columns])
        g = energy[sel].sort_values("t")
        if g.empty:
            continue
        t1 = r["t_within_1pct"]
        h = g[g["t"] >= t1] if not pd.isna(t1) else g.tail(1)
        h = h.head(1) if not h.empty else g.tail(1)
        row = h.iloc[0]
        rows.append({**{k: r[k] for k in keys}, "t": int(row["t"]), "reached_1pct": not pd.isna(t1),
                     "sops_per_image": row["sops_per_image"], "snn_input_macs_per_image": row["snn_input_macs_per_image"],
                     "ann_macs_per_image": row["ann_macs_per_image"], "snn_energy_nj": row["snn_energy_nj"],
                     "ann_energy_nj": row["ann_energy_nj"], "energy_ratio": row["energy_ratio_snn_over_ann"]})
    return pd.DataFrame(rows)


def load_peer_csv(path: str | Path = PEER_CSV) -> pd.DataFrame | None:
    """Read the SpikingJelly side-by-side (``python benchmarks/peer_spikingjelly.py`` writes it)
    as long form: t, accuracy, implementation, plus any other columns (wall times, ...).

    Accepts a long table (an ``implementation``/``impl``/``engine``/``framework``/``source``
    column) or a wide one (``accuracy_<impl>`` / ``<impl>_accuracy`` columns). Returns None if
    the file does not exist or has no recognizable accuracy columns (a message says why)."""
    p = Path(path)
    if not p.is_file():
        print(f"no SpikingJelly comparison at {p}; produce it with `{PEER_COMMAND}`")
        return None
    df = pd.read_csv(p)
    for col in ("implementation", "impl", "engine", "framework", "source", "library"):
        if col in df.columns and "accuracy" in df.columns and "t" in df.columns:
            return df.rename(columns={col: "implementation"})
    acc_cols = [c for c in df.columns if c.startswith("accuracy_") or c.endswith("_accuracy")]
    acc_cols = [c for c in acc_cols if c != "ann_accuracy"]
    if "t" in df.columns and acc_cols:
        long = df.melt(id_vars=[c for c in df.columns if c not in acc_cols], value_vars=acc_cols,
                       var_name="implementation", value_name="accuracy")
        long["implementation"] = long["implementation"].str.replace("accuracy_", "", regex=False).str.replace(
            "_accuracy", "", regex=False)
        return long
    print(f"{p} has columns {list(df.columns)}: no t / accuracy columns recognized; not plotted")
    return None


def peer_summary(peer: pd.DataFrame, summary_json: str | Path | None = None) -> pd.DataFrame:
    """Per implementation: T, final accuracy, the largest gap to the other curve, and the wall
    times of ``spikingjelly_summary.json`` (written beside the CSV) when it exists."""
    import json

    g = peer.sort_values("t").groupby("implementation", sort=False)
    out = g.agg(T=("t", "max"), final_accuracy=("accuracy", "last")).reset_index()
    wide = peer.pivot_table(index="t", columns="implementation", values="accuracy")
    if wide.shape[1] == 2:
        out["max_abs_accuracy_difference"] = float((wide.iloc[:, 0] - wide.iloc[:, 1]).abs().max())
    path = Path(summary_json) if summary_json else None
    if path is not None and path.is_file():
        meta = json.loads(path.read_text())
        walls = meta.get("wall_seconds", {}) or {}
        out["wall_seconds"] = [walls.get("ours_fast" if impl == "ours" else impl) for impl in out["implementation"]]
        for key in ("dataset", "arch", "n_test", "our_label", "spikingjelly_version"):
            if key in meta:
                out[key] = meta[key]
    return out


__all__ = [
    "EXPECTED_FIGURES", "EXPECTED_TABLES", "NOTEBOOKS", "PEER_CSV", "REFERENCE_RESULTS", "RasterData", "Setup",
    "WorkbookError", "ablation_cells", "add_workbook_parser", "bsnn_default", "claim_table", "claim_verdict",
    "comparison_table", "demo_summary", "demo_table", "energy_at_latency", "exactness_check", "has_frontend",
    "k_sweep_cells", "latency_summary", "load_peer_csv", "neuron_demos", "peer_summary", "pick_rate",
    "raster_data", "relay_table", "run_results", "run_workbook", "run_workbook_command", "setup",
    "shortcut_cells", "sin_explorer", "sin_methods", "sin_summary", "tables",
]

if __name__ == "__main__":
    raise SystemExit(main())
