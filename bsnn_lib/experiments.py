"""Experiments: trained ANN + method + T -> cached simulation -> tidy result tables.

This is the one place where the stages meet; the CLI, the benchmark grid and the notebooks all
call it:

    res = run_cell(Cell("mnist", "vgg-small", method_config("bsnn", K=8), T=128, n_test=1000))
    tables = result_tables([res])            # accuracy_vs_t, sin, energy, latency
    write_tables(tables, "results/demo", params={...})

Simulations are cached (atomically, verified) under ``<data root>/cache/sims/``, keyed by the
trained checkpoint and every parameter of the cell, so a re-run of a notebook or the grid costs
nothing. ``SIM_CACHE_VERSION`` is part of the key: bump it when the engine's semantics change.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from bsnn_lib.analysis import latency_row
from bsnn_lib.checkpoints import CorruptCheckpointError, atomic_writer, config_key, load_checkpoint, save_checkpoint
from bsnn_lib.convert import SpikingNetwork, calibrate, convert, fold_batchnorm, trace
from bsnn_lib.data import calibration_subset, data_root, get_spec, load_dataset, make_loader, test_subset
from bsnn_lib.methods import METHOD_PARAMETER_COLUMNS, MethodConfig
from bsnn_lib.simulate import SimResult, simulate
from bsnn_lib.train import TrainConfig, default_config, load_or_train, resolve_device

SIM_CACHE_VERSION = 2
_METHOD_FIXES = {("offphase", "defer"): 1}
"""Fixes that changed the results of only some cells: (option, value) -> revision. A cell whose
method has that option value gets a new cache key; the others keep theirs. (Revision 1 of
offphase=defer: input reaching a neuron still switched off by the gate is deferred too.)"""


def semantics_version(method: MethodConfig) -> str:
    """The simulation-cache version of a method: the global one plus any fix that touches it."""
    fixes = [f"{k}={v}.{rev}" for (k, v), rev in _METHOD_FIXES.items() if getattr(method, k) == v]
    return ".".join([str(SIM_CACHE_VERSION), *fixes])
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Cell:
    """One simulation: a trained ANN (dataset, arch, training config), a method, T and the data.

    Attributes:
        n_test: n evenly spaced images of the split (None = all).
        split: ``test`` or, for CIFAR-10, ``test-lossless-1k``.
        calib_size / calib_seed: the fixed calibration subset of the training set.
        stat_every: statistics interval (None = one cycle; 8 steps for rate coding).
        train: overrides of the default training config (e.g. ``{"epochs": 1}``).
    """

    dataset: str
    arch: str
    method: MethodConfig
    T: int
    n_test: int | None = None
    split: str = "test"
    calib_size: int = 1000
    calib_seed: int = 0
    batch_size: int = 128
    engine: str = "fast"
    stat_every: int | None = None
    train: tuple[tuple[str, Any], ...] = ()

    def train_config(self) -> TrainConfig:
        base = default_config(self.dataset, self.arch)
        return dataclasses.replace(base, **dict(self.train)) if self.train else base

    def key(self) -> str:
        d = dataclasses.asdict(self)
        d["method"] = self.method.to_dict()
        d["train"] = self.train_config().to_dict()
        d["engine"] = "any"  # both engines give the same answer (tested); share the cache
        d["version"] = semantics_version(self.method)
        return config_key(d)


def cell(dataset: str, arch: str, method: MethodConfig, T: int, *, train: dict | None = None, **kw: Any) -> Cell:
    """Convenience constructor taking training overrides as a dict."""
    return Cell(dataset, arch, method, T, train=tuple(sorted((train or {}).items())), **kw)


@dataclass
class CellResult:
    """A cell and what its simulation measured."""

    cell: Cell
    result: SimResult
    ann_meta: dict = field(default_factory=dict)
    from_cache: bool = False


# ---------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------
_ANN_CACHE: dict[str, tuple[torch.nn.Module, dict]] = {}
_LAMBDA_CACHE: dict[str, dict[str, torch.Tensor]] = {}


def trained_ann(config: TrainConfig, device=None, progress: bool = True) -> tuple[torch.nn.Module, dict]:
    """The trained ANN for ``config`` (checkpoint cache, then an in-process cache)."""
    key = config.key()
    if key not in _ANN_CACHE:
        model, meta = load_or_train(config, device=device, progress=progress)
        _ANN_CACHE[key] = (model.cpu().eval(), meta)
    return _ANN_CACHE[key]


def test_loader(dataset: str, n: int | None, batch_size: int, split: str = "test"):
    return make_loader(test_subset(load_dataset(dataset, split), n), batch_size)


test_loader.__test__ = False  # not a pytest test


def calibration_loader(dataset: str, n: int, seed: int = 0, batch_size: int = 256, holdout: bool = False):
    return make_loader(calibration_subset(dataset, n, seed, holdout=holdout), batch_size)


def build_snn(
    c: Cell, device=None, progress: bool = True, *, model: torch.nn.Module | None = None,
    calib=None, meta: dict | None = None,
) -> tuple[SpikingNetwork, dict]:
    """Train-or-load the ANN of a cell and convert it with the cell's method.

    ``model`` / ``calib`` (a loader of the calibration subset) may be given, e.g. by a script
    that carries its data as tensors; by default they come from the checkpoint cache and the
    dataset registry."""
    if model is None:
        model, meta = trained_ann(c.train_config(), device=device, progress=progress)
    spec = get_spec(c.dataset)
    calib = calib if calib is not None else calibration_loader(
        c.dataset, c.calib_size, c.calib_seed, holdout=c.train_config().holdout)
    m = c.method
    lam_key = config_key(
        {"ckpt": c.train_config().key(), "p": m.percentile, "cw": m.channelwise, "pos": m.calib_positive_only,
         "n": c.calib_size, "seed": c.calib_seed, "model": id(model)}
    )
    if lam_key not in _LAMBDA_CACHE:
        _LAMBDA_CACHE[lam_key] = calibrate(fold_batchnorm(trace(model)), calib, m, device=device or "cpu")
    snn = convert(
        model, calib, m, mean=spec.mean, std=spec.std, lambdas=_LAMBDA_CACHE[lam_key],
        input_shape=(spec.in_channels, spec.image_size, spec.image_size),
    )
    return snn, dict(meta or {})


# ---------------------------------------------------------------------------------------------
# the cached simulation
# ---------------------------------------------------------------------------------------------
def _sim_path(c: Cell) -> Path:
    return data_root() / "cache" / "sims" / f"{c.dataset}-{c.arch}-{c.method.method}-{c.key()}.pt"


def _to_state(r: SimResult) -> dict[str, Any]:
    d = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
    d["correct"], d["answered"] = torch.from_numpy(r.correct), torch.from_numpy(r.answered)
    d["input_steps"] = torch.from_numpy(np.asarray(r.input_steps, dtype=np.int64))
    d["layer_sums"] = {f"{k[0]}|{k[1]}": v for k, v in r.layer_sums.items()}
    d["layer_meta"] = r.layer_meta.astype({"shape": str}).to_dict(orient="list")
    return d


def _from_state(d: dict[str, Any]) -> SimResult:
    d = dict(d)
    d["correct"], d["answered"] = d["correct"].numpy(), d["answered"].numpy()
    d["input_steps"] = d["input_steps"].numpy()
    d["layer_sums"] = {(k.rsplit("|", 1)[0], int(k.rsplit("|", 1)[1])): v for k, v in d["layer_sums"].items()}
    d["layer_meta"] = pd.DataFrame(d["layer_meta"])
    return SimResult(**d)


def run_cell(
    c: Cell, *, device=None, progress: bool = True, use_cache: bool = True,
    model: torch.nn.Module | None = None, calib=None, loader=None, meta: dict | None = None,
) -> CellResult:
    """Simulate one cell (or load it from the simulation cache).

    ``model``, ``calib`` and ``loader`` override the checkpoint cache, the calibration subset and
    the test loader (then the result is not cached, since the cache key cannot see them)."""
    injected = model is not None or calib is not None or loader is not None
    use_cache = use_cache and not injected
    path = _sim_path(c)
    if use_cache and path.is_file():
        try:
            state = load_checkpoint(path)
            return CellResult(c, _from_state(state["result"]), state["ann_meta"], from_cache=True)
        except (CorruptCheckpointError, KeyError, TypeError) as err:
            path.unlink(missing_ok=True)  # a broken cache entry is recomputed, never trusted
            print(f"note: discarded unreadable simulation cache {path.name}: {err}")
    device = resolve_device(device)
    snn, meta = build_snn(c, device=device, progress=progress, model=model, calib=calib, meta=meta)
    loader = loader if loader is not None else test_loader(c.dataset, c.n_test, c.batch_size, c.split)
    res = simulate(snn, loader, c.T, engine=c.engine, device=device, stat_every=c.stat_every, progress=progress)
    res.extra["device"] = str(device)
    ann_meta = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool)) or v is None}
    if use_cache:
        save_checkpoint(path, {"result": _to_state(res), "ann_meta": ann_meta, "cell": repr(c)})
    return CellResult(c, res, ann_meta)


def run_cells(cells: Iterable[Cell], **kw: Any) -> list[CellResult]:
    return [run_cell(c, **kw) for c in cells]


# ---------------------------------------------------------------------------------------------
# tidy tables
# ---------------------------------------------------------------------------------------------
def _ids(cr: CellResult) -> dict[str, Any]:
    c, m = cr.cell, cr.cell.method
    spec = get_spec(c.dataset)
    ids = {"dataset": c.dataset, "arch": c.arch, "method": m.method, "label": m.label()}
    ids.update({k: v for k, v in m.to_dict().items() if k in METHOD_PARAMETER_COLUMNS})
    ids.update({"split": spec.split_label(c.split), "n_images": cr.result.n, "width": c.train_config().width})
    return ids


def result_tables(results: Sequence[CellResult]) -> dict[str, pd.DataFrame]:
    """accuracy_vs_t, sin, energy and latency tables of several cells (one row per t/layer)."""
    acc, sin, energy, lat = [], [], [], []
    for cr in results:
        ids, r = _ids(cr), cr.result
        a = r.accuracy()
        a.insert(0, "ann_accuracy", r.ann_accuracy)
        a["qann_accuracy"] = r.qann_accuracy
        acc.append(a.assign(**ids))
        s = r.layer_stats()
        if not s.empty:
            sin.append(s.assign(**ids))
            energy.append(r.energy().assign(**ids))
        lat.append({**ids, **latency_row(a.accuracy.to_numpy(), r.ann_accuracy),
                    "sim_seconds": r.wall_time, "engine": r.engine})
    first = ["dataset", "arch", "method"]
    frames = {
        "accuracy_vs_t": _order(pd.concat(acc, ignore_index=True), first + ["t", "accuracy", "ann_accuracy"]),
        "sin": _order(pd.concat(sin, ignore_index=True), first + ["layer", "t", "sin_neuron_rate", "sin_spike_share"]) if sin else pd.DataFrame(),
        "energy": _order(pd.concat(energy, ignore_index=True), first + ["t"]) if energy else pd.DataFrame(),
        "latency": _order(pd.DataFrame(lat), first + ["ann_accuracy", "best_accuracy", "t_within_1pct", "t_within_0p5pct"]),
    }
    for col in ("t_within_1pct", "t_within_0p5pct"):
        frames["latency"][col] = frames["latency"][col].astype("Int64")
    return frames


def _order(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return df[first + [c for c in df.columns if c not in first]]


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path, params: dict[str, Any] | None = None) -> list[Path]:
    """Write each table as ``<out_dir>/<name>.csv`` atomically, plus ``params.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        if df is None or df.empty:
            continue
        path = out / f"{name}.csv"
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        with atomic_writer(path) as fh:
            fh.write(buf.getvalue().encode())
        written.append(path)
    if params is not None:
        with atomic_writer(out / "params.json") as fh:
            fh.write(json.dumps(to_jsonable(params), indent=2, sort_keys=True).encode())
        written.append(out / "params.json")
    return written


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values for parameter files: configs (``to_dict`` or dataclasses), mappings,
    sequences, numpy scalars, paths; NaN becomes null; anything else its ``str``."""
    if hasattr(obj, "to_dict") and not isinstance(obj, type):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def run_metadata() -> dict[str, Any]:
    """Provenance saved beside every result: versions, device, date."""
    return {
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
