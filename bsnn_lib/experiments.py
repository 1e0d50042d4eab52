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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Subset

from bsnn_lib import distributed
from bsnn_lib.analysis.latency import latency_row
from bsnn_lib.checkpoints import CorruptCheckpointError, config_key, load_checkpoint, save_checkpoint
from bsnn_lib.convert import calibrate, convert, fold_batchnorm, trace
from bsnn_lib.data import calibration_subset, data_root, evenly_spaced, get_spec, load_dataset, make_loader
from bsnn_lib.io import write_csv, write_json
from bsnn_lib.methods import METHOD_PARAMETER_COLUMNS, MethodConfig
from bsnn_lib.network import SpikingNetwork
from bsnn_lib.simulate import SimResult, simulate
from bsnn_lib.train import TrainConfig, default_config, load_or_train, resolve_device

SIM_CACHE_VERSION = 3
_METHOD_FIXES = {("offphase", "defer"): 1}
"""Fixes that changed the results of only some cells: (option, value) -> revision. A cell whose
method has that option value gets a new cache key; the others keep theirs. (Revision 1 of
offphase=defer: input reaching a neuron still switched off by the gate is deferred too.)"""
_TRAIN_FIXES = {("activation", "qcfs"): 1}
"""The same for training options. (Revision 1 of activation=qcfs: the converted net's ANN view,
the reference of every latency, is the QCFS ANN, clip and levels included, not a ReLU net.)"""


def semantics_version(method: MethodConfig, train: TrainConfig | None = None) -> str:
    """The simulation-cache version of a cell: the global one plus any fix that touches its
    method or its training config."""
    fixes = [f"{k}={v}.{rev}" for (k, v), rev in _METHOD_FIXES.items() if getattr(method, k) == v]
    if train is not None:
        fixes += [f"{k}={v}.{rev}" for (k, v), rev in _TRAIN_FIXES.items() if getattr(train, k) == v]
    return ".".join([str(SIM_CACHE_VERSION), *fixes])


@dataclass(frozen=True)
class Cell:
    """One simulation: a trained ANN (dataset, arch, training config), a method, T and the data.

    Attributes:
        n_test: n evenly spaced images of the split (None = all).
        split: ``test`` or, for CIFAR-10, ``test-lossless-1k``.
        calib_size / calib_seed: the fixed calibration subset of the training set.
        stat_every: statistics interval (None = one cycle; 8 steps for rate coding).
        stats: collect the per-layer SIN / error / SOP statistics (off: acc(t) only, faster).
        exclude_n: take the n_test images among those *not* in the evenly spaced ``exclude_n``
            images of the split (a selection set disjoint from a report set).
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
    stats: bool = True
    exclude_n: int | None = None

    def train_config(self) -> TrainConfig:
        base = default_config(self.dataset, self.arch)
        return dataclasses.replace(base, **dict(self.train)) if self.train else base

    def calibration_loader(self):
        """The cell's calibration subset of the training set (the validation split held out
        when the ANN was trained without it)."""
        return calibration_loader(self.dataset, self.calib_size, self.calib_seed, holdout=self.train_config().holdout)

    def test_loader(self):
        """The cell's images: ``n_test`` evenly spaced images of ``split`` (``exclude_n`` applied)."""
        return test_loader(self.dataset, self.n_test, self.batch_size, self.split, self.exclude_n)

    def key(self) -> str:
        d = dataclasses.asdict(self)
        d["method"] = self.method.to_dict()
        d["train"] = self.train_config().to_dict()
        d["engine"] = "any"  # both engines give the same answer (tested); share the cache
        d["version"] = semantics_version(self.method, self.train_config())
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


def test_loader(dataset: str, n: int | None, batch_size: int, split: str = "test", exclude_n: int | None = None):
    """n evenly spaced images of a split (``exclude_n``: of those outside its evenly spaced
    ``exclude_n`` images)."""
    data = load_dataset(dataset, split)
    if exclude_n:
        total = len(data)
        taken = {i * total // exclude_n for i in range(min(exclude_n, total))}
        data = Subset(data, [i for i in range(total) if i not in taken])
    return make_loader(evenly_spaced(data, n), batch_size)


test_loader.__test__ = False  # not a pytest test


def calibration_loader(dataset: str, n: int, seed: int = 0, batch_size: int = 256, holdout: bool = False):
    return make_loader(calibration_subset(dataset, n, seed, holdout=holdout), batch_size)


def build_snn(
    c: Cell,
    device=None,
    progress: bool = True,
    *,
    model: torch.nn.Module | None = None,
    calib=None,
    meta: dict | None = None,
) -> tuple[SpikingNetwork, dict]:
    """Train-or-load the ANN of a cell and convert it with the cell's method.

    ``model`` / ``calib`` (a loader of the calibration subset) may be given, e.g. by a script
    that carries its data as tensors; by default they come from the checkpoint cache and the
    dataset registry."""
    if model is None:
        model, meta = trained_ann(c.train_config(), device=device, progress=progress)
    spec = get_spec(c.dataset)
    calib = calib if calib is not None else c.calibration_loader()
    m = c.method
    lam_key = config_key(
        {
            "ckpt": c.train_config().key(),
            "p": m.percentile,
            "cw": m.channelwise,
            "pos": m.calib_positive_only,
            "n": c.calib_size,
            "seed": c.calib_seed,
            "model": id(model),
        }
    )
    if lam_key not in _LAMBDA_CACHE:
        _LAMBDA_CACHE[lam_key] = calibrate(fold_batchnorm(trace(model)), calib, m, device=device or "cpu")
    snn = convert(
        model,
        calib,
        m,
        mean=spec.mean,
        std=spec.std,
        lambdas=_LAMBDA_CACHE[lam_key],
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
    if r.per_image is not None:  # one bit per image and step
        d["per_image"] = torch.from_numpy(np.packbits(r.per_image, axis=1))
        d["ann_per_image"] = torch.from_numpy(r.ann_per_image.astype(np.uint8))
    return d


def _from_state(d: dict[str, Any]) -> SimResult:
    d = dict(d)
    d["correct"], d["answered"] = d["correct"].numpy(), d["answered"].numpy()
    d["input_steps"] = d["input_steps"].numpy()
    d["layer_sums"] = {(k.rsplit("|", 1)[0], int(k.rsplit("|", 1)[1])): v for k, v in d["layer_sums"].items()}
    d["layer_meta"] = pd.DataFrame(d["layer_meta"])
    if d.get("per_image") is not None:
        d["per_image"] = np.unpackbits(d["per_image"].numpy(), axis=1, count=int(d["T"])).astype(bool)
        d["ann_per_image"] = d["ann_per_image"].numpy().astype(bool)
    return SimResult(**d)


def _cache_twins(c: Cell) -> tuple[Cell, ...]:
    """Cached cells that also answer ``c``: a cell without statistics gets the same acc(t) and
    per-image record from its twin with statistics (the engines' predictions do not depend on
    them, tested), so a selection or report cell reuses a notebook's grid cell. The served
    result keeps the twin's ``wall_time`` (a run with statistics; ``extra["served_by"]`` names
    the file)."""
    return () if c.stats else (dataclasses.replace(c, stats=True),)


def _load_cached(source: Cell, c: Cell) -> CellResult | None:
    """``source``'s cached result as the result of ``c`` (None: not cached); a broken cache
    entry is deleted and recomputed, never trusted."""
    path = _sim_path(source)
    if not path.is_file():
        return None
    try:
        state = load_checkpoint(path)
        r, meta = _from_state(state["result"]), state["ann_meta"]
    except (CorruptCheckpointError, KeyError, TypeError) as err:
        path.unlink(missing_ok=True)
        print(f"note: discarded unreadable simulation cache {path.name}: {err}")
        return None
    if source.stats and not c.stats:  # what a run without statistics returns
        r = dataclasses.replace(r, layer_sums={}, qann_correct=None)
        r.extra["served_by"] = path.name
    return CellResult(c, r, meta, from_cache=True)


def run_cell(
    c: Cell,
    *,
    device=None,
    progress: bool = True,
    use_cache: bool = True,
    model: torch.nn.Module | None = None,
    calib=None,
    loader=None,
    meta: dict | None = None,
) -> CellResult:
    """Simulate one cell (or load it from the simulation cache).

    ``model``, ``calib`` and ``loader`` override the checkpoint cache, the calibration subset and
    the test loader (then the result is not cached, since the cache key cannot see them)."""
    injected = model is not None or calib is not None or loader is not None
    use_cache = use_cache and not injected
    path = _sim_path(c)
    if use_cache:
        for source in (c, *_cache_twins(c)):
            hit = _load_cached(source, c)
            if hit is not None:
                return hit
    device = resolve_device(device)
    snn, meta = build_snn(c, device=device, progress=progress, model=model, calib=calib, meta=meta)
    loader = loader if loader is not None else c.test_loader()
    res = simulate(
        snn, loader, c.T, engine=c.engine, device=device, stats=c.stats, stat_every=c.stat_every, progress=progress
    )
    res.extra["device"] = str(device)
    ann_meta = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool)) or v is None}
    if use_cache:
        save_checkpoint(path, {"result": _to_state(res), "ann_meta": ann_meta, "cell": repr(c)})
    return CellResult(c, res, ann_meta)


def evaluate_distributed(
    c: Cell,
    *,
    device: str | torch.device | None = None,
    progress: bool = False,
    shard: str = "strided",
    stats: bool = True,
) -> CellResult:
    """Simulate cell ``c`` data-parallel over the current process group (launched by
    ``torchrun``); every rank gets the merged result, equal to the single-process one
    (:mod:`bsnn_lib.distributed`). Works in a single process too."""
    rank, world_size = distributed.world()
    dev = distributed.rank_device(device)
    show = progress and rank == 0
    if rank == 0:  # rank 0 trains (or loads) the ANN while the others wait, then they load it
        trained_ann(c.train_config(), device=dev, progress=show)
    distributed.barrier()
    snn, meta = build_snn(c, device=dev, progress=show)
    dataset = evenly_spaced(load_dataset(c.dataset, c.split), c.n_test)
    batches = distributed.shard_batches(len(dataset), c.batch_size, rank, world_size, shard)
    loader = distributed.shard_loader(dataset, c.batch_size, rank, world_size, shard)
    local = simulate(snn, loader, c.T, engine=c.engine, device=dev, stats=stats, stat_every=c.stat_every, progress=show)
    local.extra["device"] = str(dev)
    res = distributed.all_reduce_result(local, dev, order=[i for b in batches for i in b])
    res.extra.update({"world_size": world_size, "shard_mode": shard})
    ann_meta = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool)) or v is None}
    return CellResult(c, res, ann_meta)


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
    """accuracy_vs_t, sin, energy and latency tables of several cells (one row per t/layer).

    Every row carries the cell's net (dataset, arch, split, width), its method and every method
    option (None where the method does not use it), the number of images, ``T`` and
    ``split_key`` (the split's name)."""
    acc, sin, energy, lat = [], [], [], []
    for cr in results:
        ids, r = _ids(cr), cr.result
        ids.update({"T": cr.cell.T, "split_key": cr.cell.split})
        a = r.accuracy()
        a.insert(0, "ann_accuracy", r.ann_accuracy)
        a["qann_accuracy"] = r.qann_accuracy
        acc.append(a.assign(**ids))
        s = r.layer_stats()
        if not s.empty:
            sin.append(s.assign(**ids))
            energy.append(r.energy().assign(**ids))
        lat.append(
            {
                **ids,
                **latency_row(a.accuracy.to_numpy(), r.ann_accuracy),
                "qann_accuracy": r.qann_accuracy,
                "sim_seconds": r.wall_time,
                "engine": r.engine,
            }
        )
    first = ["dataset", "arch", "method"]
    frames = {
        "accuracy_vs_t": _order(pd.concat(acc, ignore_index=True), first + ["t", "accuracy", "ann_accuracy"]),
        "sin": _order(pd.concat(sin, ignore_index=True), first + ["layer", "t", "sin_neuron_rate", "sin_spike_share"])
        if sin
        else pd.DataFrame(),
        "energy": _order(pd.concat(energy, ignore_index=True), first + ["t"]) if energy else pd.DataFrame(),
        "latency": _order(
            pd.DataFrame(lat), first + ["ann_accuracy", "best_accuracy", "t_within_1pct", "t_within_0p5pct"]
        ),
    }
    for col in ("t_within_1pct", "t_within_0p5pct"):
        frames["latency"][col] = frames["latency"][col].astype("Int64")
    return {k: type_option_columns(v) for k, v in frames.items()}


_PANDAS_DTYPES = {bool: "boolean", int: "Int64", float: "Float64", str: "string"}


def type_option_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Give every method-option column its nullable pandas type (Int64, boolean, ...), so that a
    table mixing methods (K = NA for rate coding) reads and writes the same from CSV."""
    from bsnn_lib.methods import OPTIONS

    for name, opt in OPTIONS.items():
        if name in df.columns:
            kind = _PANDAS_DTYPES[opt.kind] if name != "sn" else "boolean"
            if kind == "Float64":
                df[name] = df[name].astype(float)
            elif kind == "string":
                df[name] = df[name].astype("str")  # missing stays missing (NaN)
            else:
                df[name] = df[name].astype(kind)
    return df


def read_table(path: str | Path) -> pd.DataFrame:
    """A results CSV read back with the types :func:`result_tables` gives (nullable integers for
    the latencies and the integer/boolean method options; NA where a method has no such option)."""
    df = pd.read_csv(path)
    for col in ("t_within_1pct", "t_within_0p5pct"):
        if col in df.columns:
            df[col] = df[col].astype("Int64")
    return type_option_columns(df)


def _order(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return df[first + [c for c in df.columns if c not in first]]


def write_tables(
    tables: dict[str, pd.DataFrame], out_dir: str | Path, params: dict[str, Any] | None = None
) -> list[Path]:
    """Write each table as ``<out_dir>/<name>.csv`` atomically, plus ``params.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        if df is None or df.empty:
            continue
        written.append(write_csv(out / f"{name}.csv", df))
    if params is not None:
        written.append(write_json(out / "params.json", params))
    return written
