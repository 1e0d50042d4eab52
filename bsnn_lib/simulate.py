"""Simulate a converted SNN for T steps: acc(t) at every step and per-layer statistics, one pass.

Two engines, same answers (tests/test_simulate.py compares them spike for spike):

- ``reference``: the plain loop, one call of the network per time step.
- ``fast``: the method's fast path (``Method.fast_path``): ``chunk`` folds steps into the batch
  (one conv call per layer per chunk, the neurons loop over the chunk); ``cycle`` runs one
  closed-form bistable cycle per call (one matrix product per layer per cycle, method.md §5
  "exact fast simulation").

Both call the network's views (:mod:`bsnn_lib.network`): ``snn.view("step")(x_t, t)``, etc.

In the same pass, the simulator runs the float ANN and (for phase-weighted and bistable methods)
the K-bit quantized ANN on the same batch, and at every statistics time t it records, per spiking
layer: SIN against both references, spike counts, and the output error split into its SIN,
clipping and remaining parts (method.md §4). Memory is bounded: state is one tensor per layer,
never T copies.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from bsnn_lib import kernels
from bsnn_lib.cost import ann_macs, energy_table, fanout_maps
from bsnn_lib.network import SpikingNetwork, build_view
from bsnn_lib.neurons import Zeros
from bsnn_lib.progress import bar as progress_bar
from bsnn_lib.quantized import FIRE_TOLERANCE, firing_count

ENGINES = ("reference", "fast")

_STAT_FIELDS = (
    "neurons",
    "spikes",
    "inactive",
    "sin_neurons",
    "sin_spikes",
    "inactive_q",
    "sin_neurons_q",
    "sin_spikes_q",
    "err_sin",
    "err_clip",
    "err_rest",
    "a_sq",
    "sops",
)


@dataclass
class SimResult:
    """Everything one simulation measured. Frames are tidy (one row per t, or per layer and t)."""

    T: int
    n: int
    correct: np.ndarray  # [T] number of correct answers after step t (t = 1..T)
    answered: np.ndarray  # [T] number of images with an answer after step t
    ann_correct: int
    qann_correct: int | None
    layer_sums: dict[tuple[str, int], dict[str, float]]
    layer_meta: pd.DataFrame
    macs: dict[str, float]  # ANN multiply-accumulates per image, per weighted layer
    input_steps: np.ndarray  # [T] cumulative steps at which analog input was injected
    input_macs: float  # MACs of the first layer for one analog input step, per image
    engine: str
    wall_time: float
    label: str = ""
    extra: dict = field(default_factory=dict)
    per_image: np.ndarray | None = None  # [n, T] bool: image i answered right after step t
    ann_per_image: np.ndarray | None = None  # [n] bool: the ANN right on image i

    def curves(self):
        """The per-image results for the bootstrap (:class:`bsnn_lib.analysis.bootstrap.Curves`)."""
        from bsnn_lib.analysis.bootstrap import Curves

        if self.per_image is None or self.ann_per_image is None:
            raise ValueError("this result has no per-image record (simulated before it was kept)")
        return Curves(self.per_image, self.ann_per_image)

    @property
    def ann_accuracy(self) -> float:
        return self.ann_correct / self.n

    @property
    def qann_accuracy(self) -> float | None:
        return None if self.qann_correct is None else self.qann_correct / self.n

    def accuracy(self) -> pd.DataFrame:
        """t, accuracy, answered (share of images with an answer), for t = 1..T."""
        return pd.DataFrame(
            {
                "t": np.arange(1, self.T + 1),
                "accuracy": self.correct / self.n,
                "answered": self.answered / self.n,
            }
        )

    def layer_stats(self) -> pd.DataFrame:
        """Per spiking layer and statistics time: SIN rates, firing rate, error decomposition."""
        rows = []
        meta = self.layer_meta.set_index("name")
        for (name, t), s in sorted(self.layer_sums.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            err = s["err_sin"] + s["err_clip"] + s["err_rest"]
            rows.append(
                {
                    "layer": name,
                    "depth": int(meta.loc[name, "depth"]),
                    "kind": meta.loc[name, "kind"],
                    "t": t,
                    "sin_neuron_rate": _ratio(s["sin_neurons"], s["inactive"]),
                    "sin_spike_share": _ratio(s["sin_spikes"], s["spikes"]),
                    "sin_neuron_rate_q": _ratio(s["sin_neurons_q"], s["inactive_q"]),
                    "sin_spike_share_q": _ratio(s["sin_spikes_q"], s["spikes"]),
                    "inactive_share": _ratio(s["inactive"], s["neurons"]),
                    "spikes_per_neuron": _ratio(s["spikes"], s["neurons"]),
                    "rel_error": math.sqrt(_ratio(err, s["a_sq"])),
                    "err_sin_share": _ratio(s["err_sin"], err),
                    "err_clip_share": _ratio(s["err_clip"], err),
                    "err_rest_share": _ratio(s["err_rest"], err),
                    "sops_per_image": s["sops"] / self.n,
                }
            )
        return pd.DataFrame(rows)

    def energy(self, e_mac_pj: float = 4.6, e_ac_pj: float = 0.9) -> pd.DataFrame:
        """SOPs and the 45 nm energy estimate against the ANN, per statistics time t."""
        return energy_table(self, e_mac_pj, e_ac_pj)


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def default_stat_every(snn: SpikingNetwork) -> int:
    """Statistics every cycle for phase/bistable methods, every 8 steps for rate coding."""
    return snn.schedule.K if snn.schedule.K > 1 else 8


def default_chunk(x: torch.Tensor) -> int:
    """Steps the fast path folds into one call: 1 on a CPU (folding time into the batch was
    measured slower than the step loop there: the working set outgrows the cache), 16 on a GPU."""
    return 1 if x.device.type == "cpu" else 16


def stat_times(T: int, every: int) -> list[int]:
    """Statistics times: multiples of ``every``, each unit for the first 16, then every 2nd
    unit for the next 16, every 4th ... (16 per doubling of t, so the cost stays logarithmic
    in T), and always T itself."""
    times, m, step = [], 1, 1
    while m * every <= T:
        times.append(m * every)
        if m >= 16 * step:
            step *= 2
        m += step
    if not times or times[-1] != T:
        times.append(T)
    return times


class _LayerReference:
    """What the statistics need of one layer's ANN references, computed once per batch."""

    def __init__(self, a: torch.Tensor, inactive_q: torch.Tensor, theta: torch.Tensor) -> None:
        self.a = a  # the float ANN's activation (ReLU, or the trained QCFS)
        self.inactive = a <= 0
        self.inactive_q = inactive_q
        self.clip = self.a > theta
        self.a_sq = float((self.a.double() ** 2).sum())
        self.n_inactive, self.n_inactive_q = float(self.inactive.sum()), float(inactive_q.sum())


_SUMMED_AS_IS = tuple(k for k in kernels.STAT_KEYS if k not in ("err_total", "sops"))
"""The layer statistics summed as they come (the error rest and the SOPs are derived first)."""


class _StatCollector:
    """Per-batch references (float and quantized ANN) and the running per-layer sums."""

    def __init__(self, snn: SpikingNetwork, fanout: dict[str, torch.Tensor]):
        self.snn, self.fanout = snn, fanout
        self.sums: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: dict.fromkeys(_STAT_FIELDS, 0.0))
        self.refs: dict[str, _LayerReference] = {}

    def set_references(self, pre: dict[str, torch.Tensor], pre_q: dict[str, torch.Tensor] | None) -> None:
        self.refs = {}
        for n in self.snn.neurons():
            a = n.activation(pre[n.name])
            if pre_q is None:
                inactive_q = a <= 0
            else:
                levels, n_max, offset = n.quantizer()
                cnt = firing_count(torch.relu(pre_q[n.name]), n.threshold, levels, n_max, FIRE_TOLERANCE, offset)
                inactive_q = cnt == 0
            self.refs[n.name] = _LayerReference(a, inactive_q, n.threshold)

    @torch.no_grad()
    def snapshot(self, t: int) -> None:
        for n in self.snn.neurons():
            if n.count is None:
                continue
            ref, s = self.refs[n.name], self.sums[(n.name, t)]
            norm = self.snn.schedule.emitted_units(n.depth, t)
            fan = self.fanout.get(n.name)
            fused = kernels.layer_stats(n.count, n.out_sum, norm, ref.a, ref.inactive, ref.inactive_q, ref.clip, fan)
            if fused is None:  # the same sums with eager ops (GPU, other layouts, no compiler)
                fused = self._eager(n, ref, norm, fan)
            s["inactive"] += ref.n_inactive
            s["inactive_q"] += ref.n_inactive_q
            for key in _SUMMED_AS_IS:
                s[key] += fused[key]
            s["err_rest"] += max(fused["err_total"] - fused["err_sin"] - fused["err_clip"], 0.0)
            if fan is not None:
                s["sops"] += fused["sops"]
            s["neurons"] += n.count.numel()
            s["a_sq"] += ref.a_sq

    @staticmethod
    def _eager(n, ref: _LayerReference, norm: float, fan: torch.Tensor | None) -> dict[str, float]:
        """:func:`bsnn_lib.kernels.layer_stats` with eager ops (the fallback, and its test)."""
        out = sin_counts(n.count, ref.inactive)
        out.update({k + "_q": v for k, v in sin_counts(n.count, ref.inactive_q).items() if k != "spikes"})
        rate = n.out_sum / norm if norm > 0 else torch.zeros_like(n.out_sum)
        out.update(_error_parts(rate, ref.a, ref.inactive, ref.clip))
        out["err_total"] = out["err_sin"] + out["err_clip"] + out.pop("err_rest")
        out["sops"] = 0.0 if fan is None else float((n.count * fan).sum(dtype=torch.float64))
        return out


def sin_counts(count: torch.Tensor, inactive: torch.Tensor) -> dict[str, float]:
    """SIN counts of one layer: inactivated neurons, those of them that spiked, and spikes.

    ``count`` is spikes per neuron, ``inactive`` (bool) marks neurons whose reference activation
    is 0. SIN neuron rate = sin_neurons / inactive; SIN spike share = sin_spikes / spikes."""
    return {
        "inactive": float(inactive.sum()),
        "sin_neurons": float(((count > 0) & inactive).sum()),
        "sin_spikes": float((count * inactive).sum(dtype=torch.float64)),
        "spikes": float(count.sum(dtype=torch.float64)),
    }


def error_parts(rate: torch.Tensor, pre: torch.Tensor, theta: torch.Tensor) -> dict[str, float]:
    """Squared error of a layer's decoded output against the ANN, split three ways.

    SIN part: ANN activation 0 but the SNN sent something; clipping part: ANN activation above
    the threshold; the rest. Also the ANN's squared norm, for relative errors."""
    a = torch.relu(pre)
    parts = _error_parts(rate, a, pre <= 0, a > theta)
    parts["a_sq"] = float((a.double() ** 2).sum())
    return parts


def _error_parts(rate: torch.Tensor, a: torch.Tensor, inactive: torch.Tensor, clip: torch.Tensor) -> dict[str, float]:
    e2 = (rate - a) ** 2
    total = float(e2.sum(dtype=torch.float64))
    err_sin = float((e2 * (inactive & (rate > 0))).sum(dtype=torch.float64))
    err_clip = float((e2 * clip).sum(dtype=torch.float64))  # clipping and SIN are disjoint
    return {"err_sin": err_sin, "err_clip": err_clip, "err_rest": max(total - err_sin - err_clip, 0.0)}


def memory_layout(snn: SpikingNetwork, device, channels_last: bool | None) -> torch.memory_format:
    """Put the network's conv weights in the layout of this run and return it (channels-last by
    default on a CPU)."""
    if channels_last is None:
        channels_last = torch.device(device).type == "cpu"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    snn.graph.to(memory_format=fmt)
    return fmt


def check_input(snn: SpikingNetwork, x: torch.Tensor) -> None:
    """Refuse a batch the network cannot take: the wrong shape, or NaN / infinite values."""
    if tuple(x.shape[1:]) != tuple(snn.input_shape):
        raise ValueError(
            f"the network was converted for images of shape {tuple(snn.input_shape)} (C, H, W), "
            f"this batch has shape {tuple(x.shape[1:])}"
        )
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"the input holds {bad} NaN or infinite value(s): spiking neurons would turn them "
            "into arbitrary spikes; clean the data first"
        )


def warn_if_before_fill(snn: SpikingNetwork, T: int) -> None:
    """Warn when no answer can reach the readout within T steps."""
    if T < snn.fill_steps:
        warnings.warn(
            f"T={T} ends before the first answer can reach the readout: {snn.cfg.label()} has "
            f"{snn.num_layers} spiking layers, its first answer comes at t = {snn.fill_steps} "
            "(SpikingNetwork.fill_steps); every step before counts as wrong",
            stacklevel=3,
        )


@torch.no_grad()
def predict(snn: SpikingNetwork, x: torch.Tensor, T: int, engine: str = "fast") -> torch.Tensor:
    """The class the readout gives after every step t = 1..T for a batch of images: ``[T, B]``,
    -1 where no spike has reached the readout yet. The network is left reset."""
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}; choose one of {ENGINES}")
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    warn_if_before_fill(snn, T)
    param = next(snn.graph.parameters())
    x = x.to(param.device, dtype=param.dtype)
    check_input(snn, x)
    fmt = memory_layout(snn, param.device, None)
    x = x.contiguous(memory_format=fmt) if x.dim() == 4 else x
    snn.reset()
    try:
        if engine == "reference":
            _run_reference(snn, x, T, set(), None)
        else:
            _run_fast(snn, x, T, set(), None, default_chunk(x))
        return torch.stack(snn.readout.predictions[:T])
    finally:
        snn.reset()


def _input_current(snn: SpikingNetwork, x: torch.Tensor, t: int) -> torch.Tensor:
    if snn.schedule.input_on(t):
        return snn.encoder.step(x, t)
    return torch.zeros_like(x)


def _noop(_steps: int) -> None:
    pass


def _run_reference(snn: SpikingNetwork, x: torch.Tensor, T: int, times: set[int], stats, tick=_noop) -> None:
    step = snn.view("step")
    for t in range(T):
        step(_input_current(snn, x, t), t)
        tick(1)
        if stats is not None and t + 1 in times:
            stats.snapshot(t + 1)


def _run_fast(snn: SpikingNetwork, x: torch.Tensor, T: int, times: set[int], stats, chunk: int, tick=_noop) -> None:
    """The fast engine: the method's fast path through the fast views (constant input computed
    once, silent layers skipped), or ``chunk`` steps folded into the batch."""
    sch = snn.schedule
    if snn.method.fast_path == "cycle":
        cycle = snn.view("cycle", fast=True)
        current = snn.encoder.cycle_current(x)  # the same object every input cycle: cached layers
        silent = Zeros(torch.zeros_like(current))
        for c in range(math.ceil(T / sch.K)):
            t0 = c * sch.K
            cycle(current if sch.input_on(t0) else silent, t0, min(sch.K, T - t0))
            end = min((c + 1) * sch.K, T)
            tick(end - t0)
            if stats is not None and end in times:
                stats.snapshot(end)
        return
    if chunk == 1:
        step = snn.view("fast_step", fast=True)
        for t in range(T):
            step(_input_current(snn, x, t), t)  # rate coding: the same x object, first layers cached
            tick(1)
            if stats is not None and t + 1 in times:
                stats.snapshot(t + 1)
        return
    run_chunk = snn.view("chunk", fast=True)
    folded: dict[int, torch.Tensor] = {}
    t0 = 0
    while t0 < T:
        steps = min(chunk, T - t0)
        nxt = sorted(t for t in times if t > t0)
        if nxt:
            steps = min(steps, nxt[0] - t0)
        if snn.encoder.constant:  # one folded input per chunk length: first layers cached
            inp = folded.setdefault(steps, torch.cat([x] * steps))
        else:
            inp = torch.cat([_input_current(snn, x, t0 + i) for i in range(steps)])
        run_chunk(inp, t0, steps)
        tick(steps)
        t0 += steps
        if stats is not None and t0 in times:
            stats.snapshot(t0)


@torch.no_grad()
def simulate(
    snn: SpikingNetwork,
    loader: Iterable,
    T: int,
    *,
    engine: str = "fast",
    device: torch.device | str = "cpu",
    stats: bool = True,
    stat_every: int | None = None,
    chunk: int | None = None,
    progress: bool = True,
    max_batches: int | None = None,
    channels_last: bool | None = None,
) -> SimResult:
    """Run ``snn`` for ``T`` steps on every batch of ``loader``; one pass gives acc(t), t=1..T.

    Args:
        engine: ``reference`` (plain step loop) or ``fast`` (time folded / closed-form cycles).
        stats: collect per-layer SIN, error and SOP statistics at the statistics times.
        stat_every: statistics every this many steps (default: one cycle, or 8 for rate coding);
            T is always included. The bistable fast path needs a multiple of K.
        chunk: steps folded into the batch by the fast path of rate/phase coding (default:
            :func:`default_chunk`: 1 on a CPU, 16 on a GPU).
        channels_last: run the network in the channels-last memory layout (default: on a CPU,
            where convolutions and pooling are 1.1-5x faster in it); both engines use the same.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}; choose one of {ENGINES}")
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    warn_if_before_fill(snn, T)
    sch = snn.schedule
    every = stat_every or default_stat_every(snn)
    if engine == "fast" and snn.method.fast_path == "cycle" and every % sch.K:
        raise ValueError(
            f"the bistable fast path records statistics per cycle: stat_every must be a multiple of K={sch.K}"
        )
    times = set(stat_times(T, every))
    snn = snn.to(device).eval()
    fmt = memory_layout(snn, device, channels_last)
    dtype = next(snn.graph.parameters()).dtype
    fanout = {k: v.to(device) for k, v in fanout_maps(snn).items()} if stats else {}
    collector = _StatCollector(snn, fanout) if stats else None
    correct = np.zeros(T, dtype=np.int64)
    answered = np.zeros(T, dtype=np.int64)
    n = ann_correct = 0
    rows: list[np.ndarray] = []
    ann_rows: list[np.ndarray] = []
    qann_correct: int | None = 0 if sch.q_levels is not None and stats else None
    start = time.perf_counter()
    n_batches = len(loader) if hasattr(loader, "__len__") else None  # type: ignore[arg-type]
    total = n_batches if max_batches is None or n_batches is None else min(n_batches, max_batches)
    bar = progress_bar(
        total=None if total is None else total * T,
        desc=f"{snn.cfg.label()} [{engine}] T={T}",
        disable=not progress,
        leave=False,
        unit="step",
        unit_scale=False,
    )
    for b, batch in enumerate(loader):
        if max_batches is not None and b >= max_batches:
            break
        if not isinstance(batch, (list, tuple)) or len(batch) < 2:
            raise ValueError("simulate needs batches of (images, labels); for images alone use snn(x, T=...)")
        x, y = batch[0].to(device, dtype=dtype), batch[1].to(device)
        check_input(snn, x)
        x = x.contiguous(memory_format=fmt) if x.dim() == 4 else x
        logits, pre = snn.ann(x, capture=stats)
        ann_ok = logits.argmax(1) == y
        ann_correct += int(ann_ok.sum())
        ann_rows.append(ann_ok.cpu().numpy())
        pre_q = None
        if qann_correct is not None and stats:  # the quantized ANN: only for statistics
            qlogits, pre_q = snn.ann(x, quantized=True, capture=stats)
            qann_correct += int((qlogits.argmax(1) == y).sum())
        if collector is not None:
            collector.set_references(pre, pre_q)
        snn.reset(record=stats)
        if engine == "reference":
            _run_reference(snn, x, T, times, collector, bar.update)
        else:
            _run_fast(snn, x, T, times, collector, chunk or default_chunk(x), bar.update)
        preds = torch.stack(snn.readout.predictions[:T])  # [T, B]
        ok = preds == y.view(1, -1)
        correct += ok.sum(1).cpu().numpy()
        rows.append(ok.T.cpu().numpy())
        answered += (preds >= 0).sum(1).cpu().numpy()
        n += y.shape[0]
        snn.reset()
        bar.set_postfix(acc=f"{correct[-1] / n:.4f}", ann=f"{ann_correct / n:.4f}")
    bar.close()
    wall = time.perf_counter() - start
    input_on = np.cumsum([sch.input_on(t) for t in range(T)])
    macs = ann_macs(snn)
    return SimResult(
        T=T,
        n=n,
        correct=correct,
        answered=answered,
        ann_correct=ann_correct,
        qann_correct=qann_correct,
        layer_sums=dict(collector.sums) if collector is not None else {},
        layer_meta=snn.layers(),
        macs=macs,
        input_steps=input_on,
        input_macs=macs.get("__input__", 0.0),
        engine=engine,
        wall_time=wall,
        label=snn.cfg.label(),
        per_image=np.concatenate(rows) if rows else np.zeros((0, T), dtype=bool),
        ann_per_image=np.concatenate(ann_rows) if ann_rows else np.zeros(0, dtype=bool),
    )


def _run(snn: SpikingNetwork, x: torch.Tensor, T: int, engine: str, chunk: int = 8) -> None:
    snn.reset(record=True)
    if engine == "reference":
        _run_reference(snn, x, T, set(), None)
    else:
        _run_fast(snn, x, T, set(), None, chunk)


@torch.no_grad()
def spike_counts(
    snn: SpikingNetwork, x: torch.Tensor, T: int, engine: str = "fast", chunk: int = 8
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Spikes per neuron of every layer after T steps, and the predictions [T, B], for one batch.

    The building block of the engine-agreement tests: both engines must give the same tensors."""
    try:
        _run(snn, x, T, engine, chunk)
        counts = {n.name: n.count.clone() for n in snn.neurons()}
        preds = torch.stack(snn.readout.predictions[:T])
    finally:
        snn.reset()
    return counts, preds


@torch.no_grad()
def spike_trains(
    snn: SpikingNetwork, x: torch.Tensor, T: int, layers: list[str] | None = None, max_neurons: int = 64
) -> dict[str, dict[str, np.ndarray]]:
    """Per-step output and membrane potential of the first ``max_neurons`` neurons of each layer
    (image 0), from the reference engine: ``{layer: {"value": [T, N], "potential": [T, N]}}``.

    For rasters and membrane traces; costs one reference run of a single image."""
    names = set(layers or snn.neuron_names)
    out: dict[str, dict[str, list]] = {n: {"value": [], "potential": []} for n in names}

    def tap(name: str, o: torch.Tensor, m) -> None:
        if name in out:
            out[name]["value"].append(o[0].flatten()[:max_neurons].cpu().numpy())
            out[name]["potential"].append(m.v[0].flatten()[:max_neurons].cpu().numpy().copy())

    x = x[:1]
    step = build_view(snn.graph, "step", tap=tap)
    snn.reset()
    try:
        for t in range(T):
            step(_input_current(snn, x, t), t)
    finally:
        snn.reset()
    return {n: {k: np.stack(v) for k, v in out[n].items()} for n in (layers or snn.neuron_names)}
