"""CIFAR-10 on a lent GPU machine that cannot read the dataset files: pack here, run there.

The GPU machine receives only the repository (at most 64 MiB a call) and has no network, so
CIFAR-10 travels as 8-bit tensors in four folders (three thirds of the training set, then the
test sets), one per call, and ``bsnn_lib.data.register_tensors`` serves them to the library:

    python benchmarks/device_check.py pack                    # here -> .devcheck/{part1,part2,part3,test}
    python benchmarks/device_check.py run --out $OUT          # there, after the four folders arrived

``run`` starts three processes at once on the one GPU and waits for them:

- ``vgg16`` and ``resnet20``: train the ``cpu-full`` profile's CIFAR-10 nets with their default
  configs through the library's own ``train()`` (so the checkpoints are the profile's), then
  simulate every method of the profile on both test splits (evenly spaced 1,000 images of the
  JPEG-q75 test copy, and test-lossless-1k). Tables as the grid writes them.
- ``paper``: the paper's full-width VGG16, trained for a few epochs (not the paper's schedule),
  then rate, phase and BSNN (K = 6, 8, 10) up to T = 1024 on test-lossless-1k, with wall times.

Everything comes back as ``$OUT/results.tar.gz`` (tables, logs) and the two checkpoints.
``--smoke`` runs the same code on the CPU with tiny settings, to check it before a GPU call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bsnn_lib.data import get_spec, load_dataset, register_tensors  # noqa: E402
from bsnn_lib.experiments import cell, result_tables, run_cell, write_tables  # noqa: E402
from bsnn_lib.io import run_metadata  # noqa: E402
from bsnn_lib.methods import method_config  # noqa: E402
from bsnn_lib.profiles import load_profile  # noqa: E402
from bsnn_lib.train import default_config, load_or_train  # noqa: E402

PARTS = 3


def _uint8(ds) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw 8-bit images and labels of a normalized dataset (undoes the normalization exactly)."""
    spec = get_spec("cifar10")
    mean = torch.tensor(spec.mean).view(-1, 1, 1)
    std = torch.tensor(spec.std).view(-1, 1, 1)
    xs, ys = zip(*((torch.round((x * std + mean) * 255).clamp(0, 255).to(torch.uint8), y) for x, y in ds))
    return torch.stack(xs), torch.tensor(ys)


def pack(out: Path) -> None:
    """Write .devcheck/part{1,2,3}/train.pt (thirds of the training set) and test/test.pt."""
    x, y = _uint8(load_dataset("cifar10", "train"))
    bounds = [round(i * len(x) / PARTS) for i in range(PARTS + 1)]
    for i in range(PARTS):
        folder = out / f"part{i + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(
            {"x": x[bounds[i] : bounds[i + 1]].clone(), "y": y[bounds[i] : bounds[i + 1]].clone()}, folder / "train.pt"
        )
    test = {
        split: dict(zip(("x", "y"), _uint8(load_dataset("cifar10", split)))) for split in ("test", "test-lossless-1k")
    }
    (out / "test").mkdir(parents=True, exist_ok=True)
    torch.save(test, out / "test" / "test.pt")
    for folder in sorted(out.iterdir()):
        size = sum(p.stat().st_size for p in folder.rglob("*")) / 2**20
        print(f"{folder}: {size:.1f} MiB")


def _register(pack_dir: Path, smoke: bool) -> None:
    parts = [torch.load(p) for p in sorted(pack_dir.glob("part*/train.pt"))]
    x, y = torch.cat([p["x"] for p in parts]), torch.cat([p["y"] for p in parts])
    if smoke:
        x, y = x[:: len(x) // 512], y[:: len(y) // 512]
    register_tensors("cifar10", "train", x, y)
    for split, d in torch.load(pack_dir / "test" / "test.pt").items():
        register_tensors("cifar10", split, d["x"], d["y"])
    print(f"registered {len(x)} training images", flush=True)


def job_profile_net(arch: str, out: Path, device: str, smoke: bool) -> None:
    """Train one cpu-full CIFAR-10 net with its default config, then all its cells."""
    prof = load_profile("cpu-full")
    net = next(n for n in prof.nets if n["dataset"] == "cifar10" and n["arch"] == arch)
    extra = {"T": 16, "n_test": 64, "calib_size": 200} if smoke else {"batch_size": 500}
    if smoke:
        net = dict(net, train={"epochs": 1})
    results = []
    for split in net.get("splits", ["test"]):
        for m in prof.method_configs(arch):
            c = prof.net_cell(net, m, split, **extra)
            t0 = time.perf_counter()
            r = run_cell(c, device=device, progress=False)
            res = r.result
            print(
                f"{arch} {split} {m.label()}: acc(T)={res.correct[-1] / res.n:.4f} ANN={res.ann_accuracy:.4f} "
                f"{time.perf_counter() - t0:.1f}s",
                flush=True,
            )
            results.append(r)
            write_tables(
                result_tables(results),
                out / f"cpu-full-cifar10-{arch}",
                params={
                    "profile": "cpu-full",
                    "run": run_metadata(),
                    "ann": r.ann_meta,
                    "note": "cpu-full CIFAR-10 cells, trained and simulated on the GPU machine",
                },
            )


def job_paper(out: Path, device: str, smoke: bool, epochs: int, T: int) -> None:
    """Full-width VGG16: a few epochs, then the latency sweep of the methods."""
    config = default_config("cifar10", "vgg16")
    config = type(config)(**{**config.to_dict(), "width": 1.0, "epochs": 1 if smoke else epochs})
    model, meta = load_or_train(config, device=device, progress=False)
    print(
        f"paper vgg16 width 1: test acc {meta['test_accuracy']:.4f} after {config.epochs} epochs "
        f"({meta['train_seconds']:.0f}s)",
        flush=True,
    )
    methods = [
        method_config("rate", percentile=99.99),
        method_config("rate", percentile=99.99, v_init=0.5),
        method_config("phase", K=8),
    ] + [method_config("bsnn", K=k) for k in (6, 8, 10)]
    results = []
    for m in methods:
        c = cell(
            "cifar10",
            "vgg16",
            m,
            16 if smoke else T,
            train={"width": 1.0, "epochs": config.epochs},
            split="test-lossless-1k",
            n_test=64 if smoke else 1000,
            batch_size=500,
            calib_size=200 if smoke else 1000,
        )
        r = run_cell(c, device=device, progress=False)
        results.append(r)
        print(
            f"paper vgg16 {m.label()}: acc(T)={r.result.correct[-1] / r.result.n:.4f} "
            f"ANN={r.result.ann_accuracy:.4f} sim {r.result.wall_time:.1f}s",
            flush=True,
        )
        write_tables(
            result_tables(results),
            out / "paper-vgg16-width1",
            params={
                "train": config.to_dict(),
                "ann": r.ann_meta,
                "run": run_metadata(),
                "note": f"full-width VGG16 after only {config.epochs} epochs (not the paper's training)",
            },
        )


def run(args: argparse.Namespace) -> int:
    """Start the three jobs as processes, wait, pack the results."""
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    jobs = {name: out / f"{name}.log" for name in ("vgg16", "resnet20", "paper")}
    env = dict(
        os.environ,
        BSNN_DATA_ROOT=str(Path(args.data_root).resolve()),
        BSNN_NUM_WORKERS=str(args.workers),
        PYTHONUNBUFFERED="1",
    )
    procs = {}
    for name, log in jobs.items():
        cmd = [
            sys.executable,
            __file__,
            "job",
            name,
            "--out",
            str(out / "tables"),
            "--pack",
            args.pack,
            "--device",
            args.device,
            "--epochs",
            str(args.epochs),
            "--T",
            str(args.T),
        ] + (["--smoke"] if args.smoke else [])
        procs[name] = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + args.budget
    for name, p in procs.items():
        try:
            p.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            print(f"{name}: stopped at the time budget", flush=True)
        print(f"{name}: exit {p.returncode}", flush=True)
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        for path in [out / "tables", *jobs.values()]:
            if path.exists():
                tar.add(path, arcname=path.name)
    for ckpt in Path(args.data_root).glob("checkpoints/cifar10-*.pt"):
        if ckpt.stat().st_size < 15 * 2**20:  # the two profile nets (the width-1 VGG16 stays)
            (out / ckpt.name).write_bytes(ckpt.read_bytes())
    print(json.dumps(run_metadata()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="write .devcheck/{part1,part2,part3,test} from BSNN_CIFAR10_DIR")
    p.add_argument("--out", default=".devcheck")
    for name in ("run", "job"):
        r = sub.add_parser(name, help="run everything (on the GPU machine)" if name == "run" else "one job (internal)")
        if name == "job":
            r.add_argument("job", choices=("vgg16", "resnet20", "paper"))
        r.add_argument("--pack", default=".devcheck")
        r.add_argument("--out", required=True)
        r.add_argument("--data-root", default="/tmp/bsnn-data")
        r.add_argument("--device", default="cuda")
        r.add_argument("--epochs", type=int, default=10, help="epochs of the full-width VGG16")
        r.add_argument("--T", type=int, default=1024, help="T of the full-width VGG16 sweep")
        r.add_argument("--workers", type=int, default=6, help="DataLoader workers per training")
        r.add_argument("--budget", type=float, default=420, help="seconds before the jobs are stopped")
        r.add_argument("--smoke", action="store_true", help="tiny settings, for a CPU check")
    args = parser.parse_args(argv)
    if args.cmd == "pack":
        pack(Path(args.out))
        return 0
    if args.cmd == "run":
        return run(args)
    _register(Path(args.pack), args.smoke)
    out = Path(args.out)
    if args.job == "paper":
        job_paper(out, args.device, args.smoke, args.epochs, args.T)
    else:
        job_profile_net(args.job, out, args.device, args.smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
