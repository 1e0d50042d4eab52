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
import io
import json
import os
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
from bsnn_lib.io import atomic_writer, run_metadata  # noqa: E402
from bsnn_lib.methods import method_config  # noqa: E402
from bsnn_lib.simulate import simulate  # noqa: E402

MARK_TIMES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


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


def sj_convert(
    ann: nn.Module,
    calib_dataset,
    percentile: float,
    *,
    calib_batch: int | None = None,
    device: str = "cpu",
    quiet: bool = True,
) -> torch.fx.GraphModule:
    """Convert a copy of ``ann`` with SpikingJelly's ``ann2snn.Converter``.

    ``calib_batch=None`` feeds the whole calibration subset as ONE batch: SpikingJelly's
    VoltageHook keeps an exponential moving average (momentum 0.1) of per-batch percentiles, so
    with a single batch its scale is the true percentile over the subset, as ours is. Pass a
    batch size to see SpikingJelly's default (running-average) behaviour instead."""
    from spikingjelly.activation_based.ann2snn import Converter

    loader = torch.utils.data.DataLoader(calib_dataset, batch_size=calib_batch or len(calib_dataset))
    converter = Converter(dataloader=loader, mode=sj_mode(percentile), device=device)
    model = copy.deepcopy(ann).to(device).eval()
    if quiet:  # the Converter prints a tqdm bar over the calibration loader
        import contextlib

        with contextlib.redirect_stderr(io.StringIO()):
            snn = converter(model)
    else:
        snn = converter(model)
    return snn.eval()


def sj_thresholds(snn: torch.fx.GraphModule) -> list[float]:
    """The per-layer scales (= thresholds in activation units) of a converted SpikingJelly net,
    in layer order (the ``VoltageScaler`` after each IF node holds the scale s)."""
    out = []
    for name, m in snn.named_modules():
        if type(m).__name__ == "VoltageScaler" and name.endswith(".2"):
            out.append((int(name.split(".")[-2]), float(m.scale)))
    return [s for _, s in sorted(out)]


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


def machine_state() -> dict[str, Any]:
    return {
        "loadavg": list(os.getloadavg()),
        "cpu_busy_1s": cpu_busy(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path) as fh:
        fh.write(data)


def write_csv(path: Path, df: pd.DataFrame) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    write_bytes(path, buf.getvalue().encode())


# ---------------------------------------------------------------------------------------------
# the comparison
# ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    version = sj_version()
    if version is None:
        raise SystemExit("spikingjelly does not import: .venv/bin/pip install spikingjelly==0.0.0.0.14")
    before = machine_state()
    cfg = method_config("rate", percentile=args.percentile)
    c = cell(
        args.dataset, args.arch, cfg, args.T, n_test=args.n_test, batch_size=args.batch_size, calib_size=args.calib_size
    )
    ann, meta = trained_ann(c.train_config(), progress=not args.quiet)
    snn, _ = build_snn(c, progress=not args.quiet)
    batches = preload(test_loader(args.dataset, args.n_test, args.batch_size))
    n = sum(len(y) for _, y in batches)
    show = not args.quiet

    ours = simulate(snn, batches, args.T, engine="fast", stats=False, progress=show)
    ours_ref = None
    if not args.skip_reference:
        ours_ref = simulate(snn, batches, args.T, engine="reference", stats=False, progress=show)
        if not np.array_equal(ours_ref.correct, ours.correct):
            print("WARNING: our fast and reference engines disagree", file=sys.stderr)

    calib = calibration_subset(args.dataset, args.calib_size, c.calib_seed)
    t0 = time.perf_counter()
    sj = sj_convert(ann, calib, args.percentile)
    sj_convert_s = time.perf_counter() - t0
    sj_res = sj_simulate(sj, batches, args.T)
    sj_ema = sj_thresholds(sj_convert(ann, calib, args.percentile, calib_batch=args.ema_batch))
    after = machine_state()

    ours_th = [float(nn_.threshold.float().mean()) for nn_ in snn.neurons()]
    sj_th = sj_thresholds(sj)
    acc_ours = ours.correct / n
    acc_sj = sj_res["correct"] / n
    table = pd.DataFrame(
        {
            "t": np.arange(1, args.T + 1),
            "accuracy_ours": acc_ours,
            "accuracy_spikingjelly": acc_sj,
            "answered_ours": ours.answered / n,
            "correct_ours": ours.correct,
            "correct_spikingjelly": sj_res["correct"],
            "n": n,
            "ann_accuracy": ours.ann_accuracy,
        }
    )
    walls = {
        "ours_fast": ours.wall_time,
        "ours_reference": ours_ref.wall_time if ours_ref else None,
        "spikingjelly": sj_res["wall_time"],
        "spikingjelly_convert": sj_convert_s,
    }
    summary = {
        "spikingjelly_version": version,
        "dataset": args.dataset,
        "arch": args.arch,
        "T": args.T,
        "n_test": n,
        "batch_size": args.batch_size,
        "calib_size": args.calib_size,
        "percentile": args.percentile,
        "spikingjelly_mode": sj_mode(args.percentile),
        "our_method": cfg.to_dict(),
        "our_label": cfg.label(),
        "checkpoint": meta.get("checkpoint_path"),
        "ann_test_accuracy_full": meta.get("test_accuracy"),
        "ann_accuracy_on_these_images": ours.ann_accuracy,
        "wall_seconds": walls,
        "ratio_spikingjelly_over_ours_fast": sj_res["wall_time"] / ours.wall_time,
        "ratio_spikingjelly_over_ours_reference": (sj_res["wall_time"] / ours_ref.wall_time) if ours_ref else None,
        "image_steps_per_second": {k: n * args.T / v for k, v in walls.items() if v and k != "spikingjelly_convert"},
        "accuracy_at": {
            str(t): {"ours": float(acc_ours[t - 1]), "spikingjelly": float(acc_sj[t - 1])}
            for t in MARK_TIMES
            if t <= args.T
        },
        "max_abs_accuracy_difference": float(np.max(np.abs(acc_ours - acc_sj))),
        "max_abs_accuracy_difference_t_ge_8": float(np.max(np.abs(acc_ours[7:] - acc_sj[7:]))) if args.T >= 8 else None,
        "thresholds": {
            "ours_inverted_cdf": ours_th,
            "spikingjelly_one_batch": sj_th,
            f"spikingjelly_ema_batch{args.ema_batch}": sj_ema,
        },
        "engines_agree": None if ours_ref is None else bool(np.array_equal(ours_ref.correct, ours.correct)),
        "stats_collected": False,
        "machine_before": before,
        "machine_after": after,
        "run": run_metadata(),
    }
    out = Path(args.out)
    write_csv(out / "spikingjelly.csv", table)
    write_bytes(out / "spikingjelly_summary.json", json.dumps(summary, indent=2).encode())
    print_report(summary)
    print(f"wrote {out / 'spikingjelly.csv'} and {out / 'spikingjelly_summary.json'}")
    return summary


def print_report(s: dict[str, Any]) -> None:
    print(
        f"\n## SpikingJelly {s['spikingjelly_version']} vs bsnn ({s['our_label']}), "
        f"{s['dataset']}/{s['arch']}, {s['n_test']} images, T={s['T']}, batch {s['batch_size']}\n"
    )
    print(f"ANN accuracy on these images: {100 * s['ann_accuracy_on_these_images']:.2f}%\n")
    print("| t | ours | SpikingJelly |\n|---:|---:|---:|")
    for t, a in s["accuracy_at"].items():
        print(f"| {t} | {100 * a['ours']:.2f}% | {100 * a['spikingjelly']:.2f}% |")
    w = s["wall_seconds"]
    ref = f"{w['ours_reference']:.1f} s" if w["ours_reference"] else "skipped"
    print(
        f"\nwall: ours fast {w['ours_fast']:.1f} s, ours reference {ref}, SpikingJelly "
        f"{w['spikingjelly']:.1f} s; SJ/ours-fast = {s['ratio_spikingjelly_over_ours_fast']:.2f}x"
        + (
            f", SJ/ours-reference = {s['ratio_spikingjelly_over_ours_reference']:.2f}x"
            if s["ratio_spikingjelly_over_ours_reference"]
            else ""
        )
    )
    print(f"machine before: loadavg {s['machine_before']['loadavg']}, busy {s['machine_before']['cpu_busy_1s']:.0%}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="vgg-small")
    p.add_argument("--T", type=int, default=64)
    p.add_argument(
        "--n-test",
        type=int,
        default=10000,
        help="N evenly spaced test images, bsnn_lib.data.evenly_spaced (default: 10000 = all)",
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
    p.add_argument("--skip-reference", action="store_true", help="do not time our reference engine")
    p.add_argument("--out", default=str(REPO / "results" / "peer"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
