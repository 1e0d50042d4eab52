"""The verdict on "near-lossless in 1/4 to 1/10 of the time steps": a protocol a reviewer accepts.

For every net of a profile's ``verdict`` section:

1. **Select** each family's variant on images that are never reported: every variant of the
   family's search (e.g. rate: percentile x layer/channel-wise thresholds x V(0)) is simulated on
   ``select.n`` images of ``select.split`` (the held-out validation split of the training set);
   the variant with the smallest T within 0.5% of the ANN wins (then T within 1%, then the
   final accuracy; a censored latency counts as infinite).
2. **Report** the chosen variants on ``report.n`` images of ``report.split``, with per-image
   correctness at every t kept (``curves/*.npz``), so every statistic can be recomputed.
3. **Intervals**: T within 1% and 0.5% and the ratios T(baseline) / T(BSNN) get 95% paired
   bootstrap intervals over the report images (:mod:`bsnn_lib.analysis.bootstrap`); a latency the
   horizon cuts off is "> T".
4. **Verdict** per net and baseline: *holds* when the whole ratio interval is at or above 4x,
   *does not hold* when it is all below 4x, else *undetermined*.

Profile section (all keys but ``nets`` and ``families`` optional)::

    verdict:
      nets:                           # a net may override select / report, families' T and grid,
                                      # bsnn_frames, and skip families
        - {dataset: cifar10, arch: vgg16}
        - {dataset: cifar10, arch: resnet20, select: {n: 250}, T: {rate: 512}, skip: [bsnn-mixed]}
        - {dataset: cifar10, arch: vgg16, name: cifar10-vgg16-qcfs, train: {activation: qcfs},
           grid: {rate: {percentile: [99.9]}}}   # a net's own grid entries replace the family's
      select: {split: val, n: 500}
      report: {split: test-lossless-1k, n: 1000}
      bsnn_frames: 8                  # BSNN horizon: its pipeline fill + 8 frames of 2K steps
      tolerance_select: 0.005
      n_boot: 2000
      families:                       # name -> method, fixed options, grid of options, T
        rate: {method: rate, T: 1024, grid: {percentile: [99.9, 99.99], channelwise: [false, true], v_init: [0, 0.5]}}
        rate-classic: {method: rate, T: 1024,
          grid: {percentile: [99.9, 99.99], channelwise: [false, true], v_init: [0]}}
        bsnn: {method: bsnn, grid: {K: [3, 4, 5, 6, 8], rounding: [down, nearest]}}
        bsnn-mixed: {method: bsnn-mixed, grid: {rounding: [nearest]},
          search: {start: [4], tolerance: 0.005}}   # bits per layer found on the selection images
      bsnn_family: bsnn
      baselines: [rate-classic, rate, phase]
      in_workbook: false              # true: notebook 04 runs it (small profiles), else reads its tables
      peers: {fs: results/peer/fewspike-cifar10-vgg16}   # a peer run's per-image curves, same report images

A **peer** is a converter run outside this library (few-spike conversion through SpikingJelly,
``benchmarks/peer_fewspike.py``) on the same ANN and report images. Where its folder holds
``curves/<net>-<name>.npz``, it joins the latency table (family ``<name>``) and the ratios
T(peer) / T(BSNN family), from the same bootstrap resamples; it is not part of the claim, so its
ratios carry the verdict ``peer`` and stay out of the verdict table. A missing file is skipped
with a note (the peer needs ``make peer``).

Cells are cached like every other simulation, so the protocol resumes where it stopped.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsnn_lib.analysis.bootstrap import bootstrap_latency, ratio_interval
from bsnn_lib.analysis.latency import latency_row
from bsnn_lib.experiments import Cell, CellResult, build_snn, cell, run_cell
from bsnn_lib.io import REPO_ROOT, run_metadata, write_bytes, write_csv, write_json
from bsnn_lib.methods import MethodConfig, method_config
from bsnn_lib.methods.bistable_mixed import parse_bits
from bsnn_lib.progress import bar as progress_bar

__all__ = [
    "TABLES",
    "Family",
    "VerdictSpec",
    "default_out_dir",
    "load_curves",
    "load_verdict",
    "run_verdict",
    "select_nets",
    "verdict_figures",
    "verdict_spec",
]

CLAIM_FACTOR = 4.0
"""The paper's lower end: "1/4 to 1/10 of the time steps"."""


@dataclass
class Family:
    """A method family and the search over its options."""

    name: str
    method: str
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    T: int | None = None  # None: the method's pipeline fill + bsnn_frames frames
    search: dict[str, Any] | None = None  # bsnn-mixed: {start: [4], tolerance: 0.005}, per net

    def variants(self) -> list[MethodConfig]:
        keys = list(self.grid)
        out = []
        for values in itertools.product(*(self.grid[k] for k in keys)):
            out.append(method_config(self.method, **self.fixed, **dict(zip(keys, values))))
        return list(dict.fromkeys(out))


@dataclass
class VerdictSpec:
    nets: list[dict[str, Any]]
    families: list[Family]
    select: dict[str, Any] = field(default_factory=lambda: {"split": "val", "n": 500})
    report: dict[str, Any] = field(default_factory=lambda: {"split": "test", "n": 1000})
    bsnn_frames: int = 8
    tolerance_select: float = 0.005
    n_boot: int = 2000
    seed: int = 0
    bsnn_family: str | list[str] = "bsnn"  # one family or several, each judged against every baseline
    baselines: list[str] = field(default_factory=list)
    batch_size: int = 250
    calib_size: int = 1000
    in_workbook: bool = False  # notebook 04 runs the protocol itself (small profiles) or reads its tables
    peers: dict[str, str] = field(default_factory=dict)  # name -> folder with curves/<net>-<name>.npz

    @property
    def bsnn_families(self) -> list[str]:
        return [self.bsnn_family] if isinstance(self.bsnn_family, str) else list(self.bsnn_family)

    def family(self, name: str) -> Family:
        return next(f for f in self.families if f.name == name)


NET_KEYS = frozenset(
    {"dataset", "arch", "name", "train", "select", "report", "T", "grid", "skip", "bsnn_frames", "peers"}
)
"""What a verdict net may set (a typo is an error, never silently ignored)."""


def _frames_ok(frames: Any) -> bool:
    """Is ``frames`` a valid ``bsnn_frames`` (an integer, at least 1; not a bool)?"""
    return isinstance(frames, int) and not isinstance(frames, bool) and frames >= 1


def verdict_spec(raw: dict[str, Any]) -> VerdictSpec:
    """A :class:`VerdictSpec` from a profile's ``verdict`` section (validated now)."""
    fams = [
        Family(
            name=k,
            method=v["method"],
            fixed={x: y for x, y in v.items() if x not in ("method", "grid", "T", "search")},
            grid=dict(v.get("grid", {})),
            T=v.get("T"),
            search=v.get("search"),
        )
        for k, v in raw["families"].items()
    ]
    spec = VerdictSpec(
        nets=list(raw["nets"]), families=fams, **{k: v for k, v in raw.items() if k not in ("nets", "families")}
    )
    for f in spec.families:
        f.variants()  # every option and value checked now, with a clear error
    if not _frames_ok(spec.bsnn_frames):
        raise ValueError(f"verdict: bsnn_frames={spec.bsnn_frames!r}; an integer, at least 1")
    names = {f.name for f in spec.families}
    for net in spec.nets:
        unknown = sorted(set(net) - NET_KEYS)
        if unknown:
            raise ValueError(f"verdict: net {net_name(net)} has unknown key(s) {unknown}; known: {sorted(NET_KEYS)}")
        unknown = sorted(set(net.get("T", {})) - names)
        if unknown:
            raise ValueError(f"verdict: net {net_name(net)} sets T of families {unknown}, which are not defined")
        peers = net.get("peers", {})
        if not isinstance(peers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in peers.items()):
            raise ValueError(f"verdict: net {net_name(net)} sets peers={peers!r}; a mapping name -> folder")
        frames = net.get("bsnn_frames", 1)
        if not _frames_ok(frames):
            raise ValueError(f"verdict: net {net_name(net)} sets bsnn_frames={frames!r}; an integer, at least 1")
        unknown = sorted(set(net.get("skip", [])) - names)
        if unknown:
            raise ValueError(f"verdict: net {net_name(net)} skips families {unknown}, which are not defined")
        unknown = sorted(set(net.get("grid", {})) - names)
        if unknown:
            raise ValueError(f"verdict: net {net_name(net)} sets the grid of families {unknown}, which are not defined")
        for f in _families(spec, net):
            f.variants()  # the net's own grid values checked now too
    missing = [n for n in [*spec.bsnn_families, *spec.baselines] if n not in names]
    if missing:
        raise ValueError(f"verdict: families {missing} are named but not defined; defined: {sorted(names)}")
    return spec


def net_name(net: dict[str, Any]) -> str:
    """The net's ``name``, else ``<dataset>-<arch>``: its name in every table."""
    return str(net.get("name") or f"{net['dataset']}-{net['arch']}")


def select_nets(profile, names: list[str]):
    """``profile`` with its verdict section restricted to the nets ``names`` (clear error if one
    is not in the section)."""
    import dataclasses

    nets = profile.verdict["nets"]
    known = [net_name(n) for n in nets]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"verdict: nets {unknown} are not in profile {profile.name!r}; it has {known}")
    section = {**profile.verdict, "nets": [n for n in nets if net_name(n) in names]}
    return dataclasses.replace(profile, verdict=section)


def _merged(path: Path, df: pd.DataFrame, nets: list[str]) -> pd.DataFrame:
    """``df`` plus the rows of an earlier run's table at ``path`` for nets not run now, so nets
    can be run one at a time (``verdict --nets``)."""
    if not path.is_file():
        return df
    old = pd.read_csv(path)
    if "net" not in old.columns:
        return df
    keep = old[~old["net"].isin(nets)]
    return pd.concat([keep, df], ignore_index=True) if len(keep) else df


def _images(spec: VerdictSpec, net: dict[str, Any], part: str) -> dict[str, Any]:
    """The section's ``select`` / ``report`` images, updated by the net's own entry (if any)."""
    base = spec.select if part == "select" else spec.report
    return {**base, **net.get(part, {})}


def _select_cell(spec: VerdictSpec, net: dict[str, Any], m: MethodConfig, T: int, part: str) -> Cell:
    select, report = _images(spec, net, "select"), _images(spec, net, "report")
    where = select if part == "select" else report
    exclude = report["n"] if part == "select" and where["split"] == report["split"] else None
    return cell(
        net["dataset"],
        net["arch"],
        m,
        T,
        train=net.get("train"),
        n_test=where["n"],
        split=where["split"],
        batch_size=spec.batch_size,
        calib_size=spec.calib_size,
        stats=False,
        exclude_n=exclude,
    )


def _horizon(spec: VerdictSpec, fam: Family, net: dict[str, Any], m: MethodConfig, device) -> tuple[int, int]:
    """(T, fill): the family's T, or the pipeline fill + bsnn_frames frames of 2K steps (the
    net's own ``bsnn_frames`` where it sets one)."""
    probe = _select_cell(spec, net, m, 1, "select")
    snn, _ = build_snn(probe, device=device, progress=False)
    fill = snn.fill_steps
    T = net.get("T", {}).get(fam.name, fam.T)
    if T is not None:
        return int(T), fill
    frames = int(net.get("bsnn_frames", spec.bsnn_frames))
    return fill - 1 + frames * 2 * snn.schedule.K, fill


def _families(spec: VerdictSpec, net: dict[str, Any]) -> list[Family]:
    """The families run on this net: all but those in its ``skip`` list (e.g. bsnn-mixed, which
    converts feed-forward nets only, on a ResNet), each with the grid entries the net's ``grid``
    replaces (e.g. one percentile on a QCFS net, whose thresholds are learned, not calibrated)."""
    import dataclasses

    own = net.get("grid", {})
    return [
        dataclasses.replace(f, grid={**f.grid, **own.get(f.name, {})})
        for f in spec.families
        if f.name not in net.get("skip", [])
    ]


def _family_variants(spec: VerdictSpec, fam: Family, net: dict[str, Any], device, out: Path) -> list[MethodConfig]:
    """The family's variants for this net: its grid, and for a ``search`` family (bsnn-mixed)
    each grid point with the bits that :func:`bsnn_lib.bit_allocation.search_bits` finds on the
    net's selection images for every ``start`` (cached; the search path is written beside the
    tables as ``bits/<net>-<family>-K<start>.csv``)."""
    if not fam.search:
        return fam.variants()
    variants = []
    for m in fam.variants():
        for start in fam.search.get("start", [4]):
            variants.append(m.replace(bits=_allocation(spec, fam, net, m, int(start), device, out)))
    return list(dict.fromkeys(variants))


def _allocation(spec: VerdictSpec, fam: Family, net: dict[str, Any], m: MethodConfig, start: int, device, out: Path):
    import json

    from bsnn_lib.bit_allocation import search_bits
    from bsnn_lib.checkpoints import config_key
    from bsnn_lib.data import data_root
    from bsnn_lib.experiments import trained_ann

    tol = float(fam.search.get("tolerance", spec.tolerance_select))
    probe = _select_cell(spec, net, m.replace(bits="1"), 1, "select")
    key = config_key({"cell": probe.key(), "start": start, "tolerance": tol, "version": 1})
    cache = data_root() / "cache" / "bits" / f"{probe.dataset}-{probe.arch}-{key}.json"
    if cache.is_file():
        found = json.loads(cache.read_text())
    else:
        ann, _ = trained_ann(probe.train_config(), device=device, progress=False)
        ann = ann.cpu().eval()
        opts = {k: v for k, v in m.given().items() if k != "bits"}
        calib, batches = probe.calibration_loader(), list(probe.test_loader())
        search = search_bits(ann, calib, batches, start=start, tolerance=tol, progress=False, **opts)
        # read back what was written, so a first run and a cached rerun write the same table
        found = json.loads(
            write_json(cache, {"bits": search.bits, "path": search.path.to_dict(orient="list")}).read_text()
        )
    path = pd.DataFrame(found["path"]).assign(net=net_name(net), family=fam.name, start=start, variant=m.label())
    write_csv(out / "bits" / f"{net_name(net)}-{fam.name}-K{start}.csv", path)
    return found["bits"]


def _score(res) -> tuple[float, float, float]:
    acc = res.correct / res.n
    row = latency_row(acc, res.ann_accuracy)
    inf = math.inf
    t05 = row["t_within_0p5pct"] or inf
    t1 = row["t_within_1pct"] or inf
    return (t05, t1, -row["final_accuracy"])


def default_out_dir(profile: str) -> Path:
    """Where a profile's verdict tables go by default: ``results/<profile>/verdict``."""
    return REPO_ROOT / "results" / profile / "verdict"


def run_verdict(
    profile,
    out_dir: str | Path | None = None,
    device: str | None = None,
    progress: bool = True,
    section: dict[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the protocol of the module docstring for ``profile`` (a Profile with a ``verdict``
    section, or the given ``section``, e.g. its ``beyond``); write and return the tables
    ``selection``, ``latency``, ``ratios``, ``verdict``."""
    section = section if section is not None else profile.verdict
    spec = verdict_spec(section)
    out = Path(out_dir) if out_dir else default_out_dir(profile.name)
    selection, latency, ratios, verdicts = [], [], [], []
    jobs = [
        (net, fam, m)
        for net in spec.nets
        for fam in _families(spec, net)
        for m in fam.variants()
        for _ in (fam.search or {}).get("start", [None])
    ]
    bar = progress_bar(total=len(jobs), desc="verdict: selection cells", unit="cell", disable=not progress)
    chosen: dict[tuple[str, str], tuple[MethodConfig, int, int]] = {}
    for net in spec.nets:
        key_net = net_name(net)
        for fam in _families(spec, net):
            best = None
            for m in _family_variants(spec, fam, net, device, out):
                T, fill = _horizon(spec, fam, net, m, device)
                bar.set_postfix_str(f"{key_net} {m.label()} T={T}")
                r = run_cell(_select_cell(spec, net, m, T, "select"), device=device, progress=False).result
                row = latency_row(r.correct / r.n, r.ann_accuracy)
                selection.append(
                    {
                        "net": key_net,
                        "family": fam.name,
                        "variant": m.label(),
                        "T": T,
                        "fill": fill,
                        "n_images": r.n,
                        "split": _images(spec, net, "select")["split"],
                        **row,
                        **{k: v for k, v in m.options().items()},
                    }
                )
                if best is None or _score(r) < best[0]:
                    best = (_score(r), m, T, fill)
                bar.update(1)
            chosen[(key_net, fam.name)] = best[1:]
    bar.close()
    sel = pd.DataFrame(selection)
    sel["chosen"] = [chosen[(n, f)][0].label() == v for n, f, v in zip(sel["net"], sel["family"], sel["variant"])]
    curves_dir = out / "curves"
    for net in spec.nets:
        key_net = net_name(net)
        results: dict[str, CellResult] = {}
        for fam in _families(spec, net):
            m, T, fill = chosen[(key_net, fam.name)]
            results[fam.name] = run_cell(_select_cell(spec, net, m, T, "report"), device=device, progress=progress)
            r = results[fam.name].result
            buf = _npz(r)
            write_bytes(curves_dir / f"{key_net}-{fam.name}.npz", buf)
        peers = _peer_curves({**spec.peers, **net.get("peers", {})}, key_net, results)
        all_curves = {k: v.result.curves() for k, v in results.items()} | {p: c for p, (c, _) in peers.items()}
        boot = bootstrap_latency(all_curves, n_boot=spec.n_boot, seed=spec.seed)
        for fam in _families(spec, net):
            m, T, fill = chosen[(key_net, fam.name)]
            r = results[fam.name].result
            row = {
                "net": key_net,
                "family": fam.name,
                "variant": m.label(),
                "T": T,
                "n_images": r.n,
                "split": _images(spec, net, "report")["split"],
                "ann_accuracy": r.ann_accuracy,
                "final_accuracy": r.correct[-1] / r.n,
                "fill": fill if m.spec.role != "baseline" else 1,
            }
            if m.spec.role == "bsnn":
                bits = parse_bits(m.bits) if m.bits else [m.K] * int(r.layer_meta["depth"].max())
                row["L_times_K"] = sum(bits)  # sum of K_l with per-layer bits (bsnn-mixed)
            latency.append(row | _interval_columns(boot[fam.name]))
        for p, (c, variant) in peers.items():
            write_bytes(curves_dir / f"{key_net}-{p}.npz", curves_npz(c.correct, c.ann))  # the folder stands alone
            latency.append(_peer_latency_row(key_net, p, variant, c, boot[p], _images(spec, net, "report")["split"]))
            chosen[(key_net, p)] = (variant, c.T, c.T)
        for b in spec.bsnn_families:
            for base in [*spec.baselines, *peers]:
                if (key_net, b) not in chosen or (key_net, base) not in chosen:
                    continue
                rows = _ratio_rows(key_net, base, b, chosen, boot)
                for r in rows if base in peers else []:
                    r["verdict"] = "peer"  # not a method of the claim
                ratios.extend(rows)
        verdicts.extend(_verdict_rows(key_net, [r for r in ratios if r["verdict"] != "peer"]))
    tables = {
        "selection": sel,
        "latency": pd.DataFrame(latency),
        "ratios": pd.DataFrame(ratios),
        "verdict": pd.DataFrame(verdicts),
    }
    run_nets = [net_name(n) for n in spec.nets]
    for name, df in tables.items():
        tables[name] = _merged(out / f"{name}.csv", df, run_nets)
        write_csv(out / f"{name}.csv", tables[name])
    runs = {}
    if (out / "params.json").is_file():
        import json

        runs = json.loads((out / "params.json").read_text()).get("runs", {})
    meta = run_metadata()
    runs.update({n: {"verdict": section, "run": meta} for n in run_nets})
    write_json(
        out / "params.json",
        {"profile": profile.name, "claim_factor": CLAIM_FACTOR, "runs": dict(sorted(runs.items()))},
    )
    return tables


def _peer_curves(peers: dict[str, str], net: str, results: dict[str, CellResult]) -> dict[str, tuple[Any, str]]:
    """name -> (curves, variant label) of the ``peers`` (the section's, updated name by name by
    the net's own ``peers``) that ran on this net's report images."""
    out = {}
    ann = next(iter(results.values())).result.ann_per_image if results else None
    for name, folder in peers.items():
        folder = Path(folder) if Path(folder).is_absolute() else REPO_ROOT / folder
        path = folder / "curves" / f"{net}-{name}.npz"
        if not path.is_file():
            print(f"verdict: no {name} peer curves for {net} ({path}; `make peer` writes them): row skipped")
            continue
        c = load_curves(path)
        if ann is not None and (c.n != len(ann) or not np.array_equal(c.ann, ann)):
            print(f"verdict: {path} is not on this net's report images (ANN answers differ): row skipped")
            continue
        variant = name
        report = folder / "report.csv"
        if report.is_file():
            rep = pd.read_csv(report)
            picked = rep[rep["chosen"].astype(bool)] if "chosen" in rep else rep.iloc[:0]
            variant = picked["variant"].iloc[0] if len(picked) else variant
        out[name] = (c, f"{variant} (peer)")  # the mark the curves figure draws dotted
    return out


def _peer_latency_row(net: str, name: str, variant: str, c, boot: dict, split: str) -> dict[str, Any]:
    row = {
        "net": net,
        "family": name,
        "variant": variant,
        "T": c.T,
        "n_images": c.n,
        "split": split,
        "ann_accuracy": float(c.ann.mean()),
        "final_accuracy": float(c.correct[:, -1].mean()),
        "fill": c.T,  # a one-frame answer: complete at the pipeline fill
    }
    return row | _interval_columns(boot)


def _label(variant) -> str:
    return variant if isinstance(variant, str) else variant.label()


def _interval_columns(boot: dict) -> dict[str, Any]:
    """The latency table's columns of one bootstrapped curve: T within 1% and 0.5%, intervals."""
    cols: dict[str, Any] = {}
    for tol, tag in ((0.01, "1pct"), (0.005, "0p5pct")):
        iv = boot[tol]["interval"]
        cols.update(
            {
                f"t_{tag}": iv.estimate,
                f"t_{tag}_lo": iv.lo,
                f"t_{tag}_hi": iv.hi,
                f"t_{tag}_censored": iv.censored_estimate,
                f"t_{tag}_hi_censored": iv.censored_hi,
                f"t_{tag}_text": iv.text(),
            }
        )
    return cols


def _ratio_rows(net: str, base: str, b: str, chosen: dict, boot: dict) -> list[dict]:
    """T(base) / T(b) at both tolerances, with the verdict against :data:`CLAIM_FACTOR`."""
    rows = []
    T_base = chosen[(net, base)][1]
    for tol, tag in ((0.01, "1pct"), (0.005, "0p5pct")):
        r = ratio_interval(boot[base][tol], boot[b][tol], T_base)
        decided = r["denominator_censored_share"] <= 0.025
        verdict = (
            "holds"
            if r["lo"] >= CLAIM_FACTOR and decided
            else "does not hold"
            if r["hi"] < CLAIM_FACTOR and decided
            else "undetermined"
        )
        rows.append(
            {
                "net": net,
                "baseline": base,
                "bsnn_family": b,
                "baseline_variant": _label(chosen[(net, base)][0]),
                "bsnn_variant": _label(chosen[(net, b)][0]),
                "tolerance": tag,
                **r,
                "verdict": verdict,
            }
        )
    return rows


def _verdict_rows(net: str, ratios: list[dict]) -> list[dict]:
    return [
        {
            "net": net,
            "baseline": r["baseline"],
            "bsnn_family": r["bsnn_family"],
            "tolerance": r["tolerance"],
            "ratio": r["estimate"],
            "ratio_lo": r["lo"],
            "ratio_hi": r["hi"],
            "ratio_is_lower_bound": r["estimate_is_lower_bound"],
            "verdict": r["verdict"],
        }
        for r in ratios
        if r["net"] == net
    ]


def curves_npz(correct: np.ndarray, ann: np.ndarray) -> bytes:
    """One cell's per-image record (``correct[i, t-1]``, ``ann[i]``) as the bytes of the
    ``curves/<net>-<family>.npz`` file that :func:`load_curves` reads."""
    import io

    buf = io.BytesIO()
    n, T = correct.shape
    np.savez_compressed(buf, correct_packed=np.packbits(correct, axis=1), T=T, n=n, ann=ann.astype(np.uint8))
    return buf.getvalue()


def _npz(r) -> bytes:
    return curves_npz(r.per_image, r.ann_per_image)


def load_curves(path: str | Path):
    """The per-image record of one reported cell (:class:`~bsnn_lib.analysis.bootstrap.Curves`)."""
    from bsnn_lib.analysis.bootstrap import Curves

    d = np.load(path)
    correct = np.unpackbits(d["correct_packed"], axis=1, count=int(d["T"])).astype(bool)
    return Curves(correct, d["ann"].astype(bool))


TABLES = ("selection", "latency", "ratios", "verdict")
"""The tables :func:`run_verdict` writes (``<name>.csv``)."""


def load_verdict(out_dir: str | Path) -> dict[str, Any] | None:
    """The tables of an earlier :func:`run_verdict` in ``out_dir`` plus ``curves``
    (``{net: {family: Curves}}``), ``bits`` (the bit-allocation search paths of bsnn-mixed
    families, or None) and ``params``; None when it has not been run there."""
    import json

    out = Path(out_dir)
    if not all((out / f"{name}.csv").is_file() for name in TABLES):
        return None
    found: dict[str, Any] = {name: pd.read_csv(out / f"{name}.csv") for name in TABLES}
    curves: dict[str, dict[str, Any]] = {}
    for _, r in found["latency"].iterrows():
        path = out / "curves" / f"{r['net']}-{r['family']}.npz"
        if path.is_file():
            curves.setdefault(r["net"], {})[r["family"]] = load_curves(path)
    found["curves"] = curves
    bits = sorted((out / "bits").glob("*.csv"))
    found["bits"] = pd.concat([pd.read_csv(b) for b in bits], ignore_index=True) if bits else None
    found["params"] = json.loads((out / "params.json").read_text()) if (out / "params.json").is_file() else {}
    return found


def verdict_figures(out_dir: str | Path, figures_dir: str | Path, profile: str) -> dict[str, Any]:
    """Draw the verdict figures of the tables in ``out_dir`` (all nets run so far) into
    ``figures_dir`` as ``04_verdict_1pct``, ``04_verdict_0p5pct`` and ``04_accuracy_curves``
    (notebook 04's names), each with its parameters beside it; return the tables."""
    import matplotlib.pyplot as plt

    from bsnn_lib import plots

    found = load_verdict(out_dir)
    if found is None:
        raise FileNotFoundError(f"no verdict tables in {out_dir}")
    params = {
        "profile": profile,
        "source": str(out_dir),
        "nets": sorted(set(found["latency"]["net"])),
        **run_metadata(),
    }
    for name, fig in plots.verdict_figure_set(found, "Verdict on the latency claim"):
        plots.save_fig(fig, f"04_{name}", figures_dir, params)
        plt.close(fig)
    return found
