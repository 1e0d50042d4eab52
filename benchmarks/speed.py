"""Speed suite: simulator throughput per method and engine, against the ANN forward pass.

For each net (default: MNIST small VGG and small ResNet, the trained default configs) and each
method (rate p=99.9, phase K=8, bsnn K=8, bsnn-rate K=8) it simulates the same preloaded test
batches for T steps with the ``reference`` (plain step loop) and the ``fast`` engine, and times
the ANN's forward pass on the same batches. For rate coding it also times SpikingJelly's ann2snn
conversion of the same ANN in the same run (if SpikingJelly imports).

    .venv/bin/python benchmarks/speed.py                 # 500 images, T=64 (a few minutes)
    .venv/bin/python benchmarks/speed.py --nets vgg-small --n-test 250 --T 32

Columns of ``results/speed/speed.csv``: net, method, engine, n, T, wall_s,
image_steps_per_s (n*T/wall), step_ms (wall per time step for all n images), ann_forward_ms (one
ANN forward over the same n images, default layout), step_over_ann (step_ms / ann_forward_ms),
fast_over_reference (speed-up of the fast engine; on fast rows), acc_T (accuracy at T; fast and
reference must agree), ann_forward_cl_ms (ANN forward in channels_last layout, for reference),
differing_steps and max_images_differing (on fast rows: at how many of the T steps the number of
correct images differs from the reference's, and by how much at most; both are lower bounds on
the images that differ, since two images that swap right and wrong cancel in the count).

Timings run with the statistics off (``stats=False``; acc(t) is still scored at every step); the
wall time includes the float (and, for phase/bistable methods, the quantized) ANN forward that
``simulate`` runs once per batch. The markdown table is printed and saved as ``speed.md``;
``params.json`` records the machine load before and after. Timing is only meaningful on an idle
machine: check ``top`` first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from peer_spikingjelly import (  # noqa: E402
    machine_state,
    preload,
    sj_convert,
    sj_simulate,
    sj_version,
    write_bytes,
    write_csv,
)

from bsnn_lib.experiments import build_snn, cell, test_loader, trained_ann  # noqa: E402
from bsnn_lib.io import run_metadata  # noqa: E402
from bsnn_lib.methods import method_config  # noqa: E402
from bsnn_lib.simulate import simulate  # noqa: E402
from bsnn_lib.train import default_config  # noqa: E402

METHODS = {
    "rate": {"method": "rate", "percentile": 99.9},
    "phase": {"method": "phase", "K": 8},
    "bsnn": {"method": "bsnn", "K": 8},
    "bsnn-rate": {"method": "bsnn-rate", "K": 8},
}


@torch.no_grad()
def time_ann(model: torch.nn.Module, batches, repeat: int = 3, channels_last: bool = False) -> float:
    """Best-of-``repeat`` seconds of one forward pass of ``model`` over all ``batches``."""
    model = model.eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        batches = [(x.to(memory_format=torch.channels_last), y) for x, y in batches]
    model(batches[0][0])  # warm-up, on a whole batch
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x, _ in batches:
            model(x)
        best = min(best, time.perf_counter() - t0)
    if channels_last:
        model.to(memory_format=torch.contiguous_format)
    return best


def _warm_up(snn, batches, T: int, engine: str) -> None:
    """A few steps on the first whole batch: kernels built, layouts chosen and the allocator
    holding buffers of the timed size (a warm-up on 4 images left the first timed run of a
    250-image batch up to 3x slower than the next)."""
    with warnings.catch_warnings():  # a warm-up shorter than the fill is meant: no "T ends before" warning
        warnings.filterwarnings("ignore", message=r"T=\d+ ends before", category=UserWarning)
        simulate(snn, batches[:1], min(T, 2 * snn.schedule.K), engine=engine, stats=False, progress=False)


def bench_net(
    dataset: str,
    arch: str,
    methods: Sequence[str],
    n: int,
    T: int,
    batch_size: int,
    engines: Sequence[str],
    with_sj: bool,
    progress: bool,
    chunk: int | None = None,
    repeat: int = 1,
) -> list[dict[str, Any]]:
    ann, _ = trained_ann(default_config(dataset, arch), progress=progress)
    batches = preload(test_loader(dataset, n, batch_size))
    n_img = sum(len(y) for _, y in batches)
    ann_s = time_ann(ann, batches, repeat=max(3, 2 * repeat))
    ann_cl_s = time_ann(ann, batches, repeat=max(3, 2 * repeat), channels_last=True)
    net = f"{dataset}/{arch}"
    rows: list[dict[str, Any]] = []

    def row(method: str, engine: str, wall: float, correct_T: int) -> dict[str, Any]:
        step_ms = 1000 * wall / T
        return {
            "net": net,
            "method": method,
            "engine": engine,
            "n": n_img,
            "T": T,
            "wall_s": wall,
            "image_steps_per_s": n_img * T / wall,
            "step_ms": step_ms,
            "ann_forward_ms": 1000 * ann_s,
            "step_over_ann": step_ms / (1000 * ann_s),
            "fast_over_reference": np.nan,
            "differing_steps": np.nan,
            "max_images_differing": np.nan,
            "acc_T": correct_T / n_img,
            "ann_forward_cl_ms": 1000 * ann_cl_s,
        }

    for name in methods:
        cfg = method_config(**METHODS[name])
        c = cell(dataset, arch, cfg, T, n_test=n, batch_size=batch_size)
        snn, _ = build_snn(c, progress=progress)
        sj = None
        if name == "rate" and with_sj:
            from bsnn_lib.data import calibration_subset

            sj = sj_convert(ann, calibration_subset(dataset, c.calib_size, c.calib_seed), cfg.percentile)
            sj_simulate(sj, batches[:1], 4)  # warm-up, on a whole batch as ours
        for engine in engines:
            _warm_up(snn, batches, T, engine)
        walls: dict[str, float] = {}
        finals: dict[str, np.ndarray] = {}
        # best of `repeat`, the engines (and SpikingJelly) interleaved, so that a slow spell of
        # the machine cannot favour one side of a ratio
        for _ in range(repeat):
            for engine in engines:
                res = simulate(snn, batches, T, engine=engine, stats=False, progress=progress, chunk=chunk)
                walls[engine] = min(walls.get(engine, float("inf")), res.wall_time)
                finals[engine] = res.correct
                print(f"  {net} {cfg.label():24s} {engine:9s} {res.wall_time:7.2f} s", flush=True)
            if sj is not None:
                sj_res = sj_simulate(sj, batches, T)
                walls["sj"] = min(walls.get("sj", float("inf")), sj_res["wall_time"])
                finals["sj"] = sj_res["correct"]
                print(f"  {net} {'rate (SpikingJelly)':24s} {'sj':9s} {sj_res['wall_time']:7.2f} s", flush=True)
        for engine in engines:
            rows.append(row(cfg.label(), engine, walls[engine], int(finals[engine][-1])))
        if "fast" in walls and "reference" in walls:
            fast_row = rows[-len(engines) + engines.index("fast")]
            diff = np.abs(np.asarray(finals["fast"]) - np.asarray(finals["reference"]))
            fast_row["fast_over_reference"] = walls["reference"] / walls["fast"]
            fast_row["differing_steps"] = int((diff > 0).sum())
            fast_row["max_images_differing"] = int(diff.max(initial=0))
            if fast_row["differing_steps"]:
                print(
                    f"WARNING: engines disagree for {cfg.label()} on {net}: correct counts differ at "
                    f"{fast_row['differing_steps']} of {T} steps, "
                    f"by at most {fast_row['max_images_differing']} image(s) "
                    "(float32 rounding at a threshold; the tests check float64 agreement)",
                    file=sys.stderr,
                )
        if sj is not None:
            label = f"{cfg.label()} (SpikingJelly {sj_version()})"
            rows.append(row(label, "spikingjelly", walls["sj"], int(finals["sj"][-1])))
    return rows


def markdown(df: pd.DataFrame) -> str:
    lines = [
        "| net | method | engine | wall s | image-steps/s | step / ANN fwd | fast / ref | acc(T) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in df.itertuples(index=False):
        speed = "" if pd.isna(r.fast_over_reference) else f"{r.fast_over_reference:.1f}x"
        lines.append(
            f"| {r.net} | {r.method} | {r.engine} | {r.wall_s:.2f} | {r.image_steps_per_s:,.0f} | "
            f"{r.step_over_ann:.2f} | {speed} | {100 * r.acc_T:.2f}% |"
        )
    first = df.drop_duplicates("net")
    lines.append("")
    lines += [
        f"ANN forward over the same {r.n} images, {r.net}: {r.ann_forward_ms:.1f} ms "
        f"(channels_last: {r.ann_forward_cl_ms:.1f} ms)"
        for r in first.itertuples(index=False)
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--nets", nargs="+", default=["vgg-small", "resnet-small"], help="architectures")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--engines", nargs="+", default=["reference", "fast"], choices=["reference", "fast"])
    p.add_argument("--n-test", type=int, default=500, help="evenly spaced test images (bsnn_lib.data.evenly_spaced)")
    p.add_argument("--T", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="steps folded into the batch by the fast engine for rate/phase (default: the library's, "
        "simulate.default_chunk: 1 on a CPU, 16 on a GPU)",
    )
    p.add_argument("--no-sj", dest="sj", action="store_false", help="skip SpikingJelly")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time every simulation this many times, interleaved with SpikingJelly's, and keep the "
        "best (the ANN forward: best of max(3, 2*repeat))",
    )
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's default)")
    p.add_argument("--out", default=str(REPO / "results" / "speed"))
    p.add_argument("--progress", action="store_true", help="progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with_sj = args.sj and sj_version() is not None
    if args.sj and not with_sj:
        print("note: spikingjelly not importable; skipping it", file=sys.stderr)
    for arch in args.nets:  # train/load first, so that training never overlaps the timings
        trained_ann(default_config(args.dataset, arch), progress=args.progress)
    before = machine_state()
    print(
        f"machine before: loadavg {before['loadavg']}, busy {before['cpu_busy_1s']:.0%}, "
        f"{before['torch_threads']} torch threads",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for arch in args.nets:
        rows += bench_net(
            args.dataset,
            arch,
            args.methods,
            args.n_test,
            args.T,
            args.batch_size,
            args.engines,
            with_sj,
            args.progress,
            args.chunk,
            args.repeat,
        )
    after = machine_state()
    df = pd.DataFrame(rows)
    out = Path(args.out)
    write_csv(out / "speed.csv", df)
    md = markdown(df)
    write_bytes(out / "speed.md", (md + "\n").encode())
    params = {
        "args": vars(args),
        "spikingjelly": sj_version(),
        "machine_before": before,
        "machine_after": after,
        "total_seconds": time.perf_counter() - t0,
        "run": run_metadata(),
    }
    write_bytes(out / "params.json", json.dumps(params, indent=2, default=str).encode())
    print()
    print(md)
    print(f"\nmachine after: loadavg {after['loadavg']}, busy {after['cpu_busy_1s']:.0%}")
    print(f"wrote {out / 'speed.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
