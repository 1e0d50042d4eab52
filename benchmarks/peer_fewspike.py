"""Peer check: few-spike (FS) conversion (Stoeckl & Maass 2021) through SpikingJelly 2.0.0.

An FS neuron sends at most K weighted spikes per image: at its k-th step it fires if its potential
v >= theta_k, sends d_k, and subtracts h_k (``spikingjelly.activation_based.neuron.FewSpikeNode``
with a ``FewSpikeTable``). The layers are pipelined, each one frame of K steps behind the one
before, so the answer of an L-layer net is complete after L*K steps and never changes after (one
frame per image). It is BSNN's closest published relative; this script puts it beside BSNN on the
same trained ANN, the same thresholds lambda_l (our calibration at percentile p) and the same
images.

Tables per spiking layer, in units of lambda_l, with w_k = 2^-k (k = 1..K):

- ``binary``: theta_k = h_k = d_k = w_k: the K-bit clipped ReLU rounded down (BSNN's firing cycle
  with rounding=down);
- ``nearest``: theta_k = w_k - 2^-(K+1): rounded to nearest (BSNN rounding=nearest);
- ``fitted``: theta, h and d fitted to the layer's ReLU on its calibration pre-activations
  (mean squared error, surrogate gradient, Adam, from ``nearest``): Stoeckl & Maass's recipe.

With ``--qcfs-levels L`` the ANN is the one trained with the QCFS activation of L levels
(``bsnn_lib.qcfs``): the thresholds are its learned lambdas (no percentile), a K-spike table spans
``[0, lambda]`` (lambda_FS = lambda * 2^K / (2^K - 1), so with L = 2^K - 1 the ``nearest`` table is
the QCFS activation itself, as for BSNN), and ``fitted`` fits the layer's QCFS activation instead
of the ReLU. The tables then take the QCFS activation's tolerance (a potential within 1e-3 of a
level counts as reaching it, ``bsnn_lib.quantized.FIRE_TOLERANCE``): without it the K=4 ``nearest``
table of the QCFS VGG16 missed the QCFS ANN on 3 of 500 selection images, with it on none. The
report is then against the QCFS ANN. (The ReLU runs keep exact thresholds.)

Variants (K, table, percentile) are chosen on the selection images (the smallest K whose accuracy
is within ``--tolerance`` of the ANN there, best table and percentile for it), then every K's best
variant is reported on the report images with a paired bootstrap interval of its accuracy gap to
the ANN and of its latency (the step its answer is complete; censored "> fill" when the answer is
not within the tolerance). Spikes are counted per layer, and SOPs = spikes x fan-out.

    .venv/bin/python benchmarks/peer_fewspike.py                              # MNIST vgg-small
    .venv/bin/python benchmarks/peer_fewspike.py --dataset cifar10 --arch vgg16 \\
        --select-split val --report-split test-lossless-1k
    .venv/bin/python benchmarks/peer_fewspike.py --dataset cifar10 --arch vgg16 --qcfs-levels 15 \
        --select-split val --report-split test-lossless-1k --verdict results/cpu-full/verdict

Writes ``results/peer/fewspike-<dataset>-<arch>/{selection,report}.csv``, ``summary.md`` and
``params.json``. With ``--verdict DIR`` (a ``results/<profile>/verdict`` folder of the same net and
report images) the report also gives the ratio T(BSNN) / T(FS) from the same bootstrap resamples.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from peer_spikingjelly import SJ_INSTALL, machine_state, preload, sj_version  # noqa: E402

from bsnn_lib.analysis.bootstrap import Curves, bootstrap_latency, ratio_interval  # noqa: E402
from bsnn_lib.convert import fold_batchnorm, trace  # noqa: E402
from bsnn_lib.cost import ann_macs, fanout_maps  # noqa: E402
from bsnn_lib.experiments import build_snn, cell, test_loader, trained_ann  # noqa: E402
from bsnn_lib.io import run_metadata, write_bytes, write_csv, write_json, write_text  # noqa: E402
from bsnn_lib.methods import method_config  # noqa: E402
from bsnn_lib.progress import bar  # noqa: E402
from bsnn_lib.quantized import FIRE_TOLERANCE, quantize  # noqa: E402
from bsnn_lib.verdict import curves_npz  # noqa: E402

TABLES = ("binary", "nearest", "fitted")


# ---------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------
def table_values(K: int, kind: str, tolerance: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(theta, h, d) of a ``binary`` or ``nearest`` table, in units of lambda; ``tolerance`` (in
    units of one level 2^-K) lowers every threshold: a potential that far below counts as reached."""
    w = 2.0 ** -torch.arange(1, K + 1, dtype=torch.float64)
    theta = w - (2.0 ** -(K + 1) if kind == "nearest" else 0.0) - tolerance * 2.0**-K
    return theta, w.clone(), w.clone()


def fs_value(x: torch.Tensor, theta, h, d, spike) -> torch.Tensor:
    """The FS neuron's output sum_k d_k z_k for gate x (``spike``: Heaviside or its surrogate)."""
    v, y = x, torch.zeros_like(x)
    for k in range(len(theta)):
        z = spike(v - theta[k])
        y = y + d[k] * z
        v = v - h[k] * z
    return y


def qcfs_target(levels: int, scale: float):
    """The QCFS activation of ``levels`` levels in units of lambda_FS = lambda * ``scale``
    (``bsnn_lib.qcfs.QCFS``, with its firing tolerance)."""

    def target(x: torch.Tensor) -> torch.Tensor:  # the library's quantizer, rounding to nearest
        return quantize(x * scale, torch.ones((), dtype=x.dtype), levels, levels, FIRE_TOLERANCE, 0.5) / scale

    return target


def fit_table(
    pre: torch.Tensor,
    K: int,
    steps: int = 400,
    lr: float = 0.01,
    seed: int = 0,
    target_fn=torch.relu,
    tolerance: float = 0.0,
):
    """theta, h, d (units of lambda) that minimize E[(FS(x) - target_fn(x))^2] (the ReLU, or a
    QCFS activation: :func:`qcfs_target`) over the layer's calibration pre-activations ``pre``
    (already divided by lambda), by Adam through SpikingJelly's sigmoid surrogate; starts from
    the ``nearest`` table, keeps the best seen."""
    from spikingjelly.activation_based import surrogate

    torch.manual_seed(seed)
    x = pre.double()
    target = target_fn(x)
    params = [t.clone().requires_grad_(True) for t in table_values(K, "nearest", tolerance)]
    opt = torch.optim.Adam(params, lr=lr)
    sg = surrogate.Sigmoid(alpha=4.0 * 2**K)

    def exact_loss():
        with torch.no_grad():
            return float(((fs_value(x, *params, lambda u: (u >= 0).double()) - target) ** 2).mean())

    best, best_loss = [p.detach().clone() for p in params], exact_loss()
    for _ in range(steps):
        opt.zero_grad()
        loss = ((fs_value(x, *params, sg) - target) ** 2).mean()
        loss.backward()
        opt.step()
        cur = exact_loss()
        if cur < best_loss:
            best, best_loss = [p.detach().clone() for p in params], cur
    return tuple(best)


# ---------------------------------------------------------------------------------------------
# the FS network: the folded ANN with every ReLU replaced by a SpikingJelly FewSpikeNode
# ---------------------------------------------------------------------------------------------
class FSActivation(nn.Module):
    """A ReLU replaced by SpikingJelly's FewSpikeNode (run in multi-step mode over its K steps);
    counts the spikes of every neuron of the batch."""

    def __init__(self, lam: torch.Tensor, table: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        from spikingjelly.activation_based.neuron import FewSpikeNode, FewSpikeTable

        theta, h, d = (t.float() for t in table)
        self.lam = float(lam)
        self.node = FewSpikeNode(FewSpikeTable(theta * self.lam, h * self.lam, d * self.lam), step_mode="m")
        self.K = len(theta)
        self.spikes: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = torch.zeros((self.K, *x.shape), dtype=x.dtype, device=x.device)
        seq[0] = x  # the whole frame's input arrives before the neuron fires (one gate value)
        out = self.node(seq)  # [K, ...] weighted spikes d_k z_k
        self.spikes = (out != 0).sum(0)
        return out.sum(0)


def fs_network(gm: torch.fx.GraphModule, lams: dict[str, torch.Tensor], tables: dict[str, tuple]) -> nn.Module:
    net = copy.deepcopy(gm)
    for name in lams:
        parent, _, leaf = name.rpartition(".")
        setattr(net.get_submodule(parent) if parent else net, leaf, FSActivation(lams[name], tables[name]))
    return net.eval()


@torch.no_grad()
def pre_activations(gm: torch.fx.GraphModule, names: Sequence[str], batches, per_layer: int = 200_000, seed: int = 0):
    """A random sample of each ReLU's input over ``batches`` (for fitting the tables)."""
    grabbed: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    hooks = [
        gm.get_submodule(n).register_forward_hook(lambda _m, inp, _o, n=n: grabbed[n].append(inp[0].flatten()))
        for n in names
    ]
    try:
        for x, _ in batches:
            gm(x)
    finally:
        for h in hooks:
            h.remove()
    g = torch.Generator().manual_seed(seed)
    out = {}
    for n, parts in grabbed.items():
        flat = torch.cat(parts)
        idx = torch.randint(0, flat.numel(), (min(per_layer, flat.numel()),), generator=g)
        out[n] = flat[idx]
    return out


@torch.no_grad()
def ann_answers(snn, batches) -> np.ndarray:
    """Per image: is the converted net's ANN view right (``SpikingNetwork.ann`` in the memory
    layout :func:`bsnn_lib.simulate.simulate` uses, so the answers equal the verdict's)?"""
    from bsnn_lib.simulate import memory_layout

    snn = snn.to("cpu").eval()
    fmt = memory_layout(snn, "cpu", None)
    out = []
    for x, y in batches:
        x = x.contiguous(memory_format=fmt) if x.dim() == 4 else x
        out.append((snn.ann(x)[0].argmax(1) == y).numpy())
    return np.concatenate(out)


@torch.no_grad()
def evaluate(net: nn.Module, batches, fanout: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Per-image correctness, mean spikes and SOPs per image, per layer and in total."""
    ok, spikes, sops = [], {}, 0.0
    n = 0
    for x, y in batches:
        ok.append((net(x).argmax(1) == y).numpy())
        n += len(y)
        for name, m in net.named_modules():
            if isinstance(m, FSActivation):
                spikes[name] = spikes.get(name, 0.0) + float(m.spikes.sum())
                sops += float((m.spikes * fanout[name]).sum(dtype=torch.float64))
    return {
        "correct": np.concatenate(ok),
        "spikes_per_image": sum(spikes.values()) / n,
        "sops_per_image": sops / n,
        "layer_spikes_per_image": {k: v / n for k, v in spikes.items()},
    }


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    if sj_version() is None:
        raise SystemExit(f"spikingjelly does not import: {SJ_INSTALL}")
    show = not args.quiet
    start = time.perf_counter()
    before = machine_state()
    qcfs = args.qcfs_levels is not None
    train = {"activation": "qcfs", "qcfs_levels": args.qcfs_levels} if qcfs else None
    if qcfs:  # learned thresholds: the percentile does not enter
        args.percentiles = args.percentiles[:1]
    base = cell(args.dataset, args.arch, method_config("rate"), 1, calib_size=args.calib_size, train=train)
    ann, meta = trained_ann(base.train_config(), progress=show)
    gm = fold_batchnorm(trace(ann)).eval()
    # the verdict's images (bsnn_lib.verdict): the report set is the split's evenly spaced report_n
    # images, the selection set avoids them when both come from the same split
    exclude = args.report_n if args.select_split == args.report_split else None
    select = preload(test_loader(args.dataset, args.select_n, args.batch_size, args.select_split, exclude))
    report = preload(test_loader(args.dataset, args.report_n, args.batch_size, args.report_split))

    per_p: dict[float, dict[str, Any]] = {}
    pre: dict[str, torch.Tensor] | None = None  # the layers' calibration pre-activations: any percentile
    for p in args.percentiles:  # thresholds and fan-outs from our own conversion of the same ANN
        snn, _ = build_snn(dataclasses.replace(base, method=method_config("rate", percentile=p)), progress=show)
        lams = {m.name: m.threshold.detach().float().reshape(-1)[0] for m in snn.neurons()}
        if pre is None:
            pre = pre_activations(gm, list(lams), preload(base.calibration_loader()))
            # the ANN reference of the verdict: the converted net's ANN view, run as simulate runs
            # it (a QCFS floor can turn float rounding into one image's answer, so not gm's)
            ann_sel, ann_rep = ann_answers(snn, select), ann_answers(snn, report)
        per_p[p] = {
            "lams": lams,
            "pre": {k: v / lams[k] for k, v in pre.items()},
            "fanout": fanout_maps(snn),
            "L": snn.num_layers,
            "macs": sum(v for k, v in ann_macs(snn).items() if k != "__input__"),
        }

    rows, tables_of = [], {}
    combos = [(p, K, kind) for p in args.percentiles for K in args.K for kind in TABLES]
    with bar(total=len(combos), desc="FS variants (selection)", unit="variant", disable=not show) as b:
        for p, K, kind in combos:
            info = per_p[p]
            lams, pre_k, target_fn = _scaled(info, K, args.qcfs_levels)
            tol = FIRE_TOLERANCE if qcfs else 0.0  # the QCFS activation's own (bsnn_lib.qcfs)
            if kind == "fitted":
                tables = {
                    n: fit_table(pre_k[n], K, steps=args.fit_steps, target_fn=target_fn, tolerance=tol) for n in lams
                }
            else:
                tables = {n: table_values(K, kind, tol) for n in lams}
            tables_of[(p, K, kind)] = tables
            res = evaluate(fs_network(gm, lams, tables), select, info["fanout"])
            rows.append(
                {
                    "percentile": p,
                    "K": K,
                    "table": kind,
                    "fill": info["L"] * K,
                    "accuracy": float(res["correct"].mean()),
                    "ann_accuracy": float(ann_sel.mean()),
                    "gap": float(ann_sel.mean() - res["correct"].mean()),
                    "sops_per_image": res["sops_per_image"],
                }
            )
            b.update(1)
    sel = pd.DataFrame(rows)
    best_per_K = sel.sort_values(["K", "gap", "sops_per_image"]).groupby("K", sort=True).head(1)
    within = best_per_K[best_per_K["gap"] <= args.tolerance]
    chosen_K = int(within["K"].min()) if len(within) else int(best_per_K.loc[best_per_K["gap"].idxmin(), "K"])

    rep_rows, curves = [], {}
    for r in best_per_K.itertuples():
        info = per_p[r.percentile]
        lams = _scaled(info, int(r.K), args.qcfs_levels)[0]
        res = evaluate(fs_network(gm, lams, tables_of[(r.percentile, r.K, r.table)]), report, info["fanout"])
        fill = int(r.fill)
        correct = np.zeros((len(res["correct"]), fill), dtype=bool)
        correct[:, fill - 1] = res["correct"]  # the answer is complete at step fill, not before
        name = f"fs K={r.K}"
        curves[name] = Curves(correct, ann_rep)
        gap_b = _paired_gap(ann_rep, res["correct"], args.n_boot)
        rep_rows.append(
            {
                "variant": f"fs K={r.K} {r.table} " + ("λ learned" if qcfs else f"p={r.percentile:g}"),
                "K": int(r.K),
                "table": r.table,
                "percentile": r.percentile,
                "chosen": int(r.K) == chosen_K,
                "fill": fill,
                "accuracy": float(res["correct"].mean()),
                "ann_accuracy": float(ann_rep.mean()),
                "gap_points": 100 * float(ann_rep.mean() - res["correct"].mean()),
                "gap_lo": 100 * gap_b[0],
                "gap_hi": 100 * gap_b[1],
                "spikes_per_image": res["spikes_per_image"],
                "sops_per_image": res["sops_per_image"],
                "ann_macs_per_image": info["macs"],
            }
        )
    boot = bootstrap_latency(curves, n_boot=args.n_boot)
    for row in rep_rows:
        b = boot[f"fs K={row['K']}"]
        row["T_1pct"] = b[0.01]["interval"].text()
        row["T_0p5pct"] = b[0.005]["interval"].text()
    rep = pd.DataFrame(rep_rows)
    ratios = _verdict_ratios(args, curves, rep, chosen_K) if args.verdict else []

    out = Path(args.out) if args.out else REPO / "results" / "peer" / f"fewspike-{_net_name(args)}"
    write_csv(out / "selection.csv", sel)
    write_csv(out / "report.csv", rep)
    if ratios:
        write_csv(out / "ratios.csv", pd.DataFrame(ratios))
    # the chosen variant's per-image record, in the verdict's format: notebook 05 puts FS beside
    # the verdict families (same report images, same bootstrap)
    net = _net_name(args)
    chosen = curves[f"fs K={chosen_K}"]
    write_bytes(out / "curves" / f"{net}-fs.npz", curves_npz(chosen.correct, chosen.ann))
    summary = {
        "spikingjelly_version": sj_version(),
        "args": vars(args),
        "ann_checkpoint": meta.get("checkpoint_path"),
        "chosen_K": chosen_K,
        "thresholds": "learned QCFS lambdas" if qcfs else "calibration percentile",
        "spiking_layers": next(iter(per_p.values()))["L"],
        "seconds": time.perf_counter() - start,
        "machine_before": before,
        "run": run_metadata(),
    }
    write_json(out / "params.json", summary)
    md = markdown(args, rep, ratios, summary)
    write_text(out / "summary.md", md + "\n")
    print(md)
    print(f"wrote {out}")
    return summary


def _net_name(args: argparse.Namespace) -> str:
    """The verdict's name of the net (``bsnn_lib.verdict.net_name``): dataset-arch, or the one given."""
    return args.net or f"{args.dataset}-{args.arch}" + ("-qcfs" if args.qcfs_levels is not None else "")


def _scaled(info: dict[str, Any], K: int, qcfs_levels: int | None):
    """(lambdas, pre-activations in their units, fit target) for K spikes: as calibrated for a
    ReLU net; for a QCFS net lambda_FS = lambda * 2^K / (2^K - 1), so the table spans [0, lambda]."""
    if qcfs_levels is None:
        return info["lams"], info["pre"], torch.relu
    s = 2.0**K / (2.0**K - 1)
    lams = {n: lam * s for n, lam in info["lams"].items()}
    return lams, {n: v / s for n, v in info["pre"].items()}, qcfs_target(qcfs_levels, s)


def _paired_gap(ann: np.ndarray, fs: np.ndarray, n_boot: int, seed: int = 0) -> tuple[float, float]:
    """95% paired bootstrap interval of accuracy(ANN) - accuracy(FS) over the same images."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ann), size=(n_boot, len(ann)))
    d = ann[idx].mean(1) - fs[idx].mean(1)
    return float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))


def _verdict_ratios(args, curves: dict[str, Curves], rep: pd.DataFrame, chosen_K: int) -> list[dict[str, Any]]:
    """T(family) / T(FS, chosen K) for every family of a verdict run on the same report images."""
    from bsnn_lib.verdict import load_curves

    net = _net_name(args)
    out = []
    fs_name = f"fs K={chosen_K}"
    lat = pd.read_csv(Path(args.verdict, "latency.csv"))
    families = sorted(set(lat.loc[lat["net"] == net, "family"]))  # this net's only (not net-qcfs-...)
    for path in [Path(args.verdict, "curves", f"{net}-{f}.npz") for f in families]:
        if not path.is_file():
            continue
        other = load_curves(path)
        if other.n != curves[fs_name].n or not np.array_equal(other.ann, curves[fs_name].ann):
            print(f"skipping {path.name}: not the same report images as this run", file=sys.stderr)
            continue
        fam = path.stem[len(net) + 1 :]
        if fam == "fs":  # the verdict's copy of this script's own curves
            continue
        boot = bootstrap_latency({fam: other, fs_name: curves[fs_name]}, n_boot=args.n_boot)
        for tol, key in ((0.01, "1pct"), (0.005, "0p5pct")):
            r = ratio_interval(boot[fam][tol], boot[fs_name][tol], other.T)
            out.append(
                {
                    "family": fam,
                    "tolerance": key,
                    "T_family": boot[fam][tol]["interval"].text(),
                    "T_fs": boot[fs_name][tol]["interval"].text(),
                    "ratio_family_over_fs": r["estimate"],
                    "lo": r["lo"],
                    "hi": r["hi"],
                }
            )
    return out


def markdown(args, rep: pd.DataFrame, ratios: list[dict[str, Any]], s: dict[str, Any]) -> str:
    lines = [
        f"## Few-spike conversion (SpikingJelly {s['spikingjelly_version']} FewSpikeNode), "
        f"{_net_name(args)}, {s['spiking_layers']} spiking layers, thresholds: {s['thresholds']}",
        "",
        f"Selection: {args.select_n} images of `{args.select_split}`; report: {args.report_n} images of "
        f"`{args.report_split}`; {args.n_boot} paired bootstrap resamples. Chosen K = {s['chosen_K']}.",
        "",
        "| variant | fill | accuracy | ANN | gap (points) [95%] | T(1%) | T(0.5%) | spikes/img | SOPs/img |",
        "|---|---:|---:|---:|---|---|---|---:|---:|",
    ]
    for r in rep.itertuples():
        mark = " (chosen)" if r.chosen else ""
        lines.append(
            f"| {r.variant}{mark} | {r.fill} | {100 * r.accuracy:.2f}% | {100 * r.ann_accuracy:.2f}% | "
            f"{r.gap_points:.2f} [{r.gap_lo:.2f}, {r.gap_hi:.2f}] | {r.T_1pct} | {r.T_0p5pct} | "
            f"{r.spikes_per_image:,.0f} | {r.sops_per_image:,.0f} |"
        )
    if ratios:
        lines += ["", "| family | tolerance | T(family) | T(FS) | T(family) / T(FS) [95%] |", "|---|---|---|---|---|"]
        for r in ratios:
            lines.append(
                f"| {r['family']} | {r['tolerance']} | {r['T_family']} | {r['T_fs']} | "
                f"{r['ratio_family_over_fs']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}] |"
            )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="vgg-small")
    p.add_argument("--K", type=int, nargs="+", default=[2, 3, 4, 5, 6, 8], help="spikes per neuron and frame")
    p.add_argument("--percentiles", type=float, nargs="+", default=[99.9, 99.99])
    p.add_argument("--select-split", default="test", help="split of the selection images (CIFAR-10: val)")
    p.add_argument("--select-n", type=int, default=500)
    p.add_argument("--report-split", default="test", help="split of the report images (CIFAR-10: test-lossless-1k)")
    p.add_argument("--report-n", type=int, default=1000)
    p.add_argument("--tolerance", type=float, default=0.005, help="selection tolerance (default 0.005)")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--fit-steps", type=int, default=300, help="Adam steps per fitted table")
    p.add_argument("--calib-size", type=int, default=1000, help="calibration images (thresholds, and the tables' fit)")
    p.add_argument(
        "--qcfs-levels",
        type=int,
        help="the ANN trained with the QCFS activation of this many levels: learned thresholds, tables "
        "spanning [0, lambda], fitted to the QCFS activation (module docstring)",
    )
    p.add_argument("--net", help="the verdict's name of the net (default dataset-arch, + -qcfs with --qcfs-levels)")
    p.add_argument("--verdict", help="a verdict folder of the same net: ratios T(family) / T(FS) on the same images")
    p.add_argument("--out", help="output folder (default results/peer/fewspike-<dataset>-<arch>)")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
