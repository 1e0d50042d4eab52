"""What each engine optimisation gives: the fast engine with one optimisation switched off at a time.

The same preloaded test batches, the same T, in one run (ratios, not absolute times, are the
result; run on an idle machine). Configurations, for rate coding (IF, p=99.9) and BSNN (K=8):

- ``all on``: the library's defaults (channels_last on a CPU, the fused C++ IF update, one step
  per call);
- ``no fused IF``: ``BSNN_KERNELS=0``, the eager elementwise update (rate coding only uses it);
- ``default layout``: ``channels_last=False``;
- ``chunk=4``: four time steps folded into the batch per call (rate/phase fast path);
- ``reference``: the plain step loop, for scale.

Every configuration must give the same correct counts at every t as ``all on`` (a disagreement is
printed and recorded in the table: ``same_curve``).

    .venv/bin/python benchmarks/optimisations.py                          # MNIST vgg-small, T=64
    BSNN_CIFAR10_DIR=../shared/data/cifar10 .venv/bin/python benchmarks/optimisations.py \\
        --dataset cifar10 --arch vgg16 --T 64 --n-test 250

Writes ``optimisations.csv`` / ``optimisations.md`` / ``optimisations_params.json`` under ``--out``
(``optimisations_stats.*`` with ``--stats``: the statistics on, as the notebooks run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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

from peer_spikingjelly import machine_state, preload  # noqa: E402

from bsnn_lib.experiments import build_snn, cell, test_loader  # noqa: E402
from bsnn_lib.io import run_metadata, write_bytes, write_csv  # noqa: E402
from bsnn_lib.kernels import ENV as KERNELS_ENV  # noqa: E402
from bsnn_lib.methods import method_config  # noqa: E402
from bsnn_lib.simulate import simulate  # noqa: E402

METHODS = {
    "rate": {"method": "rate", "percentile": 99.9},
    "bsnn": {"method": "bsnn", "K": 8},
    "bsnn-early": {"method": "bsnn-early", "K": 4, "release": 2, "correction": "carry", "rounding": "nearest"},
}
CONFIGS: dict[str, dict[str, Any]] = {
    "all on": {},
    "no fused IF": {"kernels": False},
    "default layout": {"channels_last": False},
    "chunk=4": {"chunk": 4},
    "reference": {"engine": "reference"},
}


def run_config(
    snn, batches, T: int, spec: dict[str, Any], repeat: int = 2, stats: bool = False
) -> tuple[float, np.ndarray]:
    """Best-of-``repeat`` wall seconds and the correct counts at every t of one configuration
    (the first run of a process pays one-off costs: the best of two removes them)."""
    old = os.environ.get(KERNELS_ENV)
    os.environ[KERNELS_ENV] = "1" if spec.get("kernels", True) else "0"
    try:
        kw = {"engine": spec.get("engine", "fast"), "channels_last": spec.get("channels_last")}
        if "chunk" in spec:
            kw["chunk"] = spec["chunk"]
        x, y = batches[0]
        simulate(snn, [(x[:4], y[:4])], min(T, 16), stats=False, progress=False, **kw)  # warm-up
        runs = [simulate(snn, batches, T, stats=stats, progress=False, **kw) for _ in range(repeat)]
        return min(r.wall_time for r in runs), np.asarray(runs[-1].correct)
    finally:
        if old is None:
            os.environ.pop(KERNELS_ENV, None)
        else:
            os.environ[KERNELS_ENV] = old


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="vgg-small")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--T", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2, help="runs per configuration; the best counts")
    p.add_argument(
        "--stats",
        action="store_true",
        help="with the per-layer statistics on, as the notebooks run (spike counters in the fused "
        "kernels, a snapshot per cycle); writes optimisations_stats.*",
    )
    p.add_argument("--out", default=str(REPO / "results" / "speed"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    batches = preload(test_loader(args.dataset, args.n_test, args.batch_size))
    before = machine_state()
    rows = []
    for name in args.methods:
        cfg = method_config(**METHODS[name])
        c = cell(args.dataset, args.arch, cfg, args.T, n_test=args.n_test, batch_size=args.batch_size)
        snn, _ = build_snn(c, progress=False)
        base = None
        for conf in args.configs:
            wall, correct = run_config(snn, batches, args.T, CONFIGS[conf], args.repeat, args.stats)
            base = (wall, correct) if base is None else base
            same = bool(np.array_equal(correct, base[1]))
            rows.append(
                {
                    "net": f"{args.dataset}/{args.arch}",
                    "method": cfg.label(),
                    "config": conf,
                    "wall_s": wall,
                    "slowdown_vs_all_on": wall / base[0],
                    "same_curve": same,
                    "acc_T": correct[-1] / sum(len(y) for _, y in batches),
                }
            )
            print(f"  {cfg.label():22s} {conf:15s} {wall:7.2f} s  x{wall / base[0]:.2f}  same={same}", flush=True)
    after = machine_state()
    df = pd.DataFrame(rows)
    out = Path(args.out)
    stem = "optimisations_stats" if args.stats else "optimisations"
    write_csv(out / f"{stem}.csv", df)
    lines = [
        "| net | method | configuration | wall s | time / all on | same acc(t) |",
        "|---|---|---|---:|---:|---|",
        *(
            f"| {r.net} | {r.method} | {r.config} | {r.wall_s:.2f} | {r.slowdown_vs_all_on:.2f} | "
            f"{'yes' if r.same_curve else 'NO'} |"
            for r in df.itertuples()
        ),
    ]
    md = "\n".join(lines) + (
        f"\n\n{args.n_test} images, T={args.T}, batch {args.batch_size}, {args.threads} threads, "
        f"best of {args.repeat} runs per configuration, statistics {'on' if args.stats else 'off'}\n"
    )
    write_bytes(out / f"{stem}.md", md.encode())
    params = {"args": vars(args), "machine_before": before, "machine_after": after, "run": run_metadata()}
    write_bytes(out / f"{stem}_params.json", json.dumps(params, indent=2, default=str).encode())
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
