"""Peer check: our rate-coded conversion against SpikingJelly's ann2snn on the same trained ANN.

Both sides get the SAME trained ANN (``trained_ann(default_config(dataset, arch))``), the same
calibration subset (the library's fixed ``calibration_subset``), the same percentile, the same
test images, batch size and T, and are scored at every t = 1..T. SpikingJelly is called as a
library (``spikingjelly.activation_based.ann2snn.Converter``); none of its code is copied here.

    .venv/bin/python benchmarks/peer_spikingjelly.py            # MNIST small VGG, T=64, 10k images
    .venv/bin/python benchmarks/peer_spikingjelly.py --n-test 1000 --T 32

Writes ``results/peer/spikingjelly.csv`` (t, accuracy_ours, accuracy_spikingjelly, ...) and
``results/peer/spikingjelly_summary.json`` (wall times, ratios, thresholds, versions). The
semantic differences between the two sides are listed in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import io
import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bsnn_lib.data import calibration_subset  # noqa: E402
from bsnn_lib.experiments import build_snn, cell, test_loader, trained_ann  # noqa: E402
from bsnn_lib.io import run_metadata, write_bytes, write_csv  # noqa: E402  (speed.py takes them from here)
from bsnn_lib.methods import method_config  # noqa: E402
from bsnn_lib.simulate import simulate  # noqa: E402

MARK_TIMES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
SJ_INSTALL = ".venv/bin/pip install --no-deps spikingjelly==2.0.0 loguru==0.7.3"
"""SpikingJelly 2.0.0 requires a torchaudio that has no wheel for torch 2.14.1; without its
dependencies it imports and runs."""


# ---------------------------------------------------------------------------------------------
# SpikingJelly, called as a library
# ---------------------------------------------------------------------------------------------
def sj_version() -> str | None:
    """The installed SpikingJelly version, or None if it does not import."""
    try:
        import importlib.metadata

        import spikingjelly.activation_based.ann2snn  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    return importlib.metadata.version("spikingjelly")


def sj_mode(percentile: float) -> str:
    """SpikingJelly's ``mode`` for our percentile: ``'max'`` for 100, else ``'<p>%'``."""
    return "max" if percentile >= 100 else f"{percentile:g}%"


SJ_VARIANTS: dict[str, dict[str, bool]] = {
    "layer": {"channel_wise": False, "v0_half": False},
    "layer-half": {"channel_wise": False, "v0_half": True},
    "channel": {"channel_wise": True, "v0_half": False},
    "channel-half": {"channel_wise": True, "v0_half": True},
}
"""SpikingJelly conversions compared with ours: layer- or channel-wise thresholds, V(0) = 0 or
theta/2. Our method config for each: :func:`our_config`."""


def our_config(variant: str, percentile: float):
    """Our rate-coding config that matches a SpikingJelly variant of :data:`SJ_VARIANTS`."""
    v = SJ_VARIANTS[variant]
    return method_config(
        "rate", percentile=percentile, channelwise=v["channel_wise"], v_init=0.5 if v["v0_half"] else 0.0
    )


def sj_convert(
    ann: nn.Module,
    calib_dataset,
    percentile: float,
    *,
    channel_wise: bool = False,
    v0_half: bool = False,
    half_threshold_flag: bool | None = None,
    calib_batch: int | None = None,
    device: str = "cpu",
    quiet: bool = True,
) -> torch.fx.GraphModule:
    """Convert a copy of ``ann`` with SpikingJelly 2.0.0's ``Converter(recipe=RateCodingRecipe(...))``.

    ``v0_half``: IF neurons that start at half their threshold. SpikingJelly's
    ``half_threshold=True`` does this only together with ``channel_wise=True``; with layer-wise
    thresholds the recipe ignores the flag (it builds plain IF nodes), so the layer-wise
    variant passes a ``neuron_factory`` that builds ``HalfThresholdIFNode`` neurons instead.
    ``half_threshold_flag`` overrides the flag that is passed (to show that it is ignored).

    ``calib_batch=None`` feeds the whole calibration subset as ONE batch: SpikingJelly's hooks
    keep an exponential moving average (momentum 0.1) of per-batch percentiles, so with a single
    batch its scale is the true percentile over the subset, as ours is. Pass a batch size to see
    SpikingJelly's default (running-average) behaviour instead."""
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.ann2snn import Converter, RateCodingRecipe

    loader = torch.utils.data.DataLoader(calib_dataset, batch_size=calib_batch or len(calib_dataset))
    factory = None
    if v0_half and not channel_wise:

        def factory(_scale: float) -> nn.Module:
            return neuron.HalfThresholdIFNode(v_threshold=1.0)

    flag = (v0_half and channel_wise) if half_threshold_flag is None else half_threshold_flag
    recipe = RateCodingRecipe(
        loader, mode=sj_mode(percentile), channel_wise=channel_wise, half_threshold=flag, neuron_factory=factory
    )
    model = copy.deepcopy(ann).to(device).eval()
    converter = Converter(recipe=recipe, device=device)
    if quiet:  # the Converter logs and draws a bar over the calibration loader
        import contextlib

        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            snn = converter.convert(model)
    else:
        snn = converter.convert(model)
    return snn.eval()


def sj_thresholds(snn: torch.fx.GraphModule) -> list[float]:
    """The per-layer scales (= thresholds in activation units; the mean over channels for
    channel-wise ones) of a converted SpikingJelly net, in graph order (the scaler after each
    IF node holds the scale)."""
    return [
        float(torch.as_tensor(m.scale).float().mean())
        for name, m in snn.named_modules()
        if name.endswith("scaler1") and hasattr(m, "scale")
    ]


@torch.no_grad()
def sj_simulate(snn: torch.fx.GraphModule, batches: Iterable, T: int, device: str = "cpu") -> dict[str, Any]:
    """SpikingJelly's usual evaluation loop: single-step mode, the output summed over time,
    prediction = argmax of the sum after each step. Returns correct counts per t and wall time."""
    from spikingjelly.activation_based import functional

    correct = np.zeros(T, dtype=np.int64)
    n = 0
    start = time.perf_counter()
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        functional.reset_net(snn)
        acc = None
        preds = []
        for _ in range(T):
            out = snn(x)
            acc = out if acc is None else acc + out
            preds.append(acc.argmax(1))
        correct += (torch.stack(preds) == y.view(1, -1)).sum(1).cpu().numpy()
        n += y.shape[0]
    functional.reset_net(snn)
    return {"correct": correct, "n": n, "wall_time": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------
# helpers shared with speed.py
# ---------------------------------------------------------------------------------------------
def preload(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Materialize a loader's batches, so that data loading is outside every timed region."""
    return [(x.contiguous(), y) for x, y in loader]


def cpu_busy(seconds: float = 1.0) -> float | None:
    """Share of CPU time (all cores) that was busy over ``seconds`` (from /proc/stat)."""

    def snap():
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return idle, sum(vals)

    try:
        i0, t0 = snap()
        time.sleep(seconds)
        i1, t1 = snap()
    except OSError:
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere): timings of
    two runs compare only on the same model."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_state() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "loadavg": list(os.getloadavg()),
        "cpu_busy_1s": cpu_busy(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------------------
# the comparison
# ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    version = sj_version()
    if version is None:
        raise SystemExit(f"spikingjelly does not import: {SJ_INSTALL}")
    before = machine_state()
    show = not args.quiet
    base = cell(
        args.dataset,
        args.arch,
        our_config("layer", args.percentile),
        args.T,
        n_test=args.n_test,
        batch_size=args.batch_size,
        calib_size=args.calib_size,
    )
    ann, meta = trained_ann(base.train_config(), progress=show)
    batches = preload(test_loader(args.dataset, args.n_test, args.batch_size))
    n = sum(len(y) for _, y in batches)
    calib = calibration_subset(args.dataset, args.calib_size, base.calib_seed)

    table: dict[str, Any] = {"t": np.arange(1, args.T + 1)}
    walls: dict[str, float | None] = {}
    variants: dict[str, Any] = {}
    ours_ref = None
    agree = None
    ann_accuracy = None
    for name in args.variants:
        cfg = our_config(name, args.percentile)
        snn, _ = build_snn(dataclasses.replace(base, method=cfg), progress=show)
        ours = simulate(snn, batches, args.T, engine="fast", stats=False, progress=show)
        ann_accuracy = ours.ann_accuracy
        if name == "layer" and not args.skip_reference:
            ours_ref = simulate(snn, batches, args.T, engine="reference", stats=False, progress=show)
            agree = bool(np.array_equal(ours_ref.correct, ours.correct))
            if not agree:
                print("WARNING: our fast and reference engines disagree", file=sys.stderr)
            walls["ours_reference_layer"] = ours_ref.wall_time
        t0 = time.perf_counter()
        sj = sj_convert(ann, calib, args.percentile, **SJ_VARIANTS[name])
        convert_s = time.perf_counter() - t0
        sj_simulate(sj, [(batches[0][0][:4], batches[0][1][:4])], 2)  # warm-up (first-call costs)
        sj_res = sj_simulate(sj, batches, args.T)
        acc_ours, acc_sj = ours.correct / n, sj_res["correct"] / n
        table[f"accuracy_ours_{name}"] = acc_ours
        table[f"accuracy_spikingjelly_{name}"] = acc_sj
        walls[f"ours_fast_{name}"] = ours.wall_time
        walls[f"spikingjelly_{name}"] = sj_res["wall_time"]
        walls[f"spikingjelly_convert_{name}"] = convert_s
        variants[name] = {
            "ours": cfg.label(),
            "ours_config": cfg.to_dict(),
            "spikingjelly": {"mode": sj_mode(args.percentile), **SJ_VARIANTS[name]},
            "accuracy_at": {
                str(t): {"ours": float(acc_ours[t - 1]), "spikingjelly": float(acc_sj[t - 1])}
                for t in MARK_TIMES
                if t <= args.T
            },
            "max_abs_accuracy_difference": float(np.max(np.abs(acc_ours - acc_sj))),
            "max_abs_accuracy_difference_t_ge_8": (
                float(np.max(np.abs(acc_ours[7:] - acc_sj[7:]))) if args.T >= 8 else None
            ),
            "ratio_spikingjelly_over_ours_fast": sj_res["wall_time"] / ours.wall_time,
            "thresholds": {
                "ours": [float(m.threshold.float().mean()) for m in snn.neurons()],
                "spikingjelly": sj_thresholds(sj),
            },
        }
    # does SpikingJelly's half_threshold flag act without channel_wise? (its docstring says no)
    flag_check = None
    if "layer" in variants:
        sj_flag = sj_convert(ann, calib, args.percentile, half_threshold_flag=True)
        res_flag = sj_simulate(sj_flag, batches, args.T)
        flag_check = {
            "half_threshold_true_layerwise_equals_false": bool(
                np.array_equal(res_flag["correct"] / n, table["accuracy_spikingjelly_layer"])
            ),
            "neurons_built": sorted({type(m).__name__ for m in sj_flag.modules() if "IFNode" in type(m).__name__}),
        }
        sj_ema = sj_thresholds(sj_convert(ann, calib, args.percentile, calib_batch=args.ema_batch))
        variants["layer"]["thresholds"][f"spikingjelly_ema_batch{args.ema_batch}"] = sj_ema
    after = machine_state()
    df = pd.DataFrame(table)
    df["n"] = n
    df["ann_accuracy"] = ann_accuracy
    summary = {
        "spikingjelly_version": version,
        "dataset": args.dataset,
        "arch": args.arch,
        "T": args.T,
        "n_test": n,
        "batch_size": args.batch_size,
        "calib_size": args.calib_size,
        "percentile": args.percentile,
        "checkpoint": meta.get("checkpoint_path"),
        "ann_test_accuracy_full": meta.get("test_accuracy"),
        "ann_accuracy_on_these_images": ann_accuracy,
        "variants": variants,
        "half_threshold_flag_layerwise": flag_check,
        "wall_seconds": walls,
        "ratio_spikingjelly_over_ours_reference": (
            walls["spikingjelly_layer"] / ours_ref.wall_time if ours_ref is not None and "layer" in variants else None
        ),
        "image_steps_per_second": {k: n * args.T / v for k, v in walls.items() if v and "convert" not in k},
        "engines_agree": agree,
        "stats_collected": False,
        "torch_threads": torch.get_num_threads(),
        "machine_before": before,
        "machine_after": after,
        "run": run_metadata(),
    }
    out = Path(args.out)
    write_csv(out / "spikingjelly.csv", df)
    write_bytes(out / "spikingjelly_summary.json", json.dumps(summary, indent=2).encode())
    write_bytes(out / "spikingjelly.md", (report(summary) + "\n").encode())
    print(report(summary))
    print(f"wrote {out / 'spikingjelly.csv'}, spikingjelly_summary.json and spikingjelly.md")
    return summary


def report(s: dict[str, Any]) -> str:
    """The summary as markdown: accuracy at marked t per variant, wall times, the flag check."""
    lines = [
        f"## SpikingJelly {s['spikingjelly_version']} vs bsnn, {s['dataset']}/{s['arch']}, "
        f"{s['n_test']} images, T={s['T']}, batch {s['batch_size']}, p={s['percentile']:g}, "
        f"{s['torch_threads']} threads",
        "",
        f"ANN accuracy on these images: {100 * s['ann_accuracy_on_these_images']:.2f}%",
        "",
    ]
    names = list(s["variants"])
    marks = list(next(iter(s["variants"].values()))["accuracy_at"]) if names else []
    lines.append("| t | " + " | ".join(f"ours {v} | SJ {v}" for v in names) + " |")
    lines.append("|---:|" + "---:|---:|" * len(names))
    for t in marks:
        cells = []
        for v in names:
            a = s["variants"][v]["accuracy_at"][t]
            cells += [f"{100 * a['ours']:.2f}%", f"{100 * a['spikingjelly']:.2f}%"]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "| variant | ours | ours fast (s) | SpikingJelly (s) | SJ / ours |", "|---|---|---:|---:|---:|"]
    w = s["wall_seconds"]
    for v in names:
        lines.append(
            f"| {v} | {s['variants'][v]['ours']} | {w[f'ours_fast_{v}']:.1f} | {w[f'spikingjelly_{v}']:.1f} | "
            f"{s['variants'][v]['ratio_spikingjelly_over_ours_fast']:.2f}x |"
        )
    if w.get("ours_reference_layer"):
        lines.append(f"\nour step-loop reference engine (layer): {w['ours_reference_layer']:.1f} s")
    flag = s.get("half_threshold_flag_layerwise")
    if flag:
        lines.append(
            f"\n`RateCodingRecipe(half_threshold=True)` with layer-wise thresholds builds {flag['neurons_built']}; "
            f"its curve equals `half_threshold=False`: {flag['half_threshold_true_layerwise_equals_false']}"
        )
    mb = s["machine_before"]
    lines.append(f"\nmachine before: loadavg {mb['loadavg']}, busy {mb['cpu_busy_1s']:.0%}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="vgg-small")
    p.add_argument("--T", type=int, default=64)
    p.add_argument(
        "--n-test",
        type=int,
        default=1000,
        help="N evenly spaced test images, bsnn_lib.data.evenly_spaced (default: 1000)",
    )
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--calib-size", type=int, default=1000)
    p.add_argument("--percentile", type=float, default=99.9)
    p.add_argument(
        "--ema-batch",
        type=int,
        default=256,
        help="also report SJ's thresholds when calibrated with this batch size (EMA)",
    )
    p.add_argument(
        "--variants",
        nargs="+",
        default=list(SJ_VARIANTS),
        choices=list(SJ_VARIANTS),
        help="threshold granularity and V(0) pairs to compare (default: all four)",
    )
    p.add_argument("--skip-reference", action="store_true", help="do not time our reference engine")
    p.add_argument("--out", default=str(REPO / "results" / "peer"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
