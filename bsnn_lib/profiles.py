"""Profiles: a whole workbook run described by one YAML parameter file in ``profiles/``.

A profile is data, not a code path. The workbook notebooks and the benchmark grid read the same
file. Schema (every key optional except ``name`` and ``nets``)::

    name: quick
    description: one line
    device: auto            # auto | cpu | cuda
    T: 256                  # time steps of every simulation (acc(t) is kept for all t <= T)
    n_test: 1000            # first n test images (null = all)
    calib_size: 1000        # fixed calibration subset of the training set
    batch_size: 250
    nets:                   # trained ANNs; `train` overrides the default training config;
                            # T, n_test, batch_size, calib_size override the profile's values
      - {dataset: mnist, arch: vgg-small}
      - {dataset: cifar10, arch: vgg16, train: {width: 0.25}, splits: [test-lossless-1k], T: 384, n_test: 250}
    methods:                # the grid; each entry is method_config(**entry); `archs` filters nets
      - {method: rate, percentile: 99.9}
      - {method: bsnn, K: 8, sn: false, archs: [resnet-small]}
    k_sweep: [4, 6, 8]      # notebook 02: BSNN K sweep
    ablations:              # notebook 02: one-at-a-time changes of the BSNN defaults
      residual: [clear]
    sin_T: 64               # notebook 01: T of the SIN analysis
    verdict: {...}          # notebook 04: the selection / report / bootstrap protocol (bsnn_lib.verdict)
    beyond: {...}           # notebook 05: the same protocol for the options beyond the paper
                            # (bsnn-double, QCFS-trained nets: a net may set `name` and `train`)
    release:                # notebook 05: early release (bsnn-early), fill and SIN against delta
      {K: 4, deltas: [1, 2, 3, 4], corrections: [carry, signed], rounding: nearest, T: 64}

Use :func:`load_profile` (a name in ``profiles/`` or a path) and :meth:`Profile.cells`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bsnn_lib.experiments import Cell, cell
from bsnn_lib.methods import MethodConfig, method_config

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"


NET_OVERRIDES = ("T", "n_test", "batch_size", "calib_size")
NET_KEYS = {"dataset", "arch", "train", "splits", *NET_OVERRIDES}


class ProfileError(ValueError):
    """A profile file is missing or malformed (the message names the file and the key)."""


@dataclass
class Profile:
    """A parsed profile; see the module docstring for the keys."""

    name: str
    nets: list[dict[str, Any]]
    methods: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    device: str = "auto"
    T: int = 128
    n_test: int | None = 1000
    calib_size: int = 1000
    batch_size: int = 250
    k_sweep: list[int] = field(default_factory=lambda: [4, 6, 8])
    ablations: dict[str, list[Any]] = field(default_factory=dict)
    sin_T: int = 64
    verdict: dict[str, Any] | None = None
    beyond: dict[str, Any] | None = None
    release: dict[str, Any] | None = None
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def torch_device(self) -> str | None:
        return None if self.device == "auto" else self.device

    def method_configs(self, arch: str | None = None) -> list[MethodConfig]:
        """The grid's methods, those whose ``archs`` filter admits ``arch``."""
        out = []
        for entry in self.methods:
            archs = entry.get("archs")
            if arch is not None and archs is not None and arch not in archs:
                continue
            out.append(method_config(**{k: v for k, v in entry.items() if k != "archs"}))
        return out

    def release_configs(self) -> list[tuple[int, str, MethodConfig]]:
        """(delta, correction, config) of the ``release`` section's bsnn-early sweep (empty
        without one)."""
        r = self.release or {}
        if not r:
            return []
        unknown = sorted(set(r) - {"K", "deltas", "corrections", "rounding", "T"})
        if unknown:
            raise ProfileError(f"release: unknown key(s) {unknown}; known: K, deltas, corrections, rounding, T")
        K, rounding = int(r.get("K", 4)), r.get("rounding", "nearest")
        out = []
        for corr in r.get("corrections", ["carry"]):
            for d in r.get("deltas", list(range(1, K + 1))):
                cfg = method_config("bsnn-early", K=K, release=d, correction=corr, rounding=rounding)
                out.append((int(d), str(corr), cfg))
        return out

    def net_cell(self, net: dict[str, Any], method: MethodConfig, split: str = "test", **kw: Any) -> Cell:
        """A simulation cell for one net of this profile (profile-wide T, n_test, ... unless given)."""
        opts = {"T": self.T, "n_test": self.n_test, "calib_size": self.calib_size, "batch_size": self.batch_size}
        opts.update({k: net[k] for k in NET_OVERRIDES if k in net})
        opts.update(kw)
        T = opts.pop("T")
        return cell(net["dataset"], net["arch"], method, T, train=net.get("train"), split=split, **opts)

    def cells(self) -> Iterator[Cell]:
        """Every cell of the grid: nets x splits x methods."""
        for net in self.nets:
            for split in net.get("splits", ["test"]):
                for m in self.method_configs(net["arch"]):
                    yield self.net_cell(net, m, split)


def load_profile(name_or_path: str | Path) -> Profile:
    """Load ``profiles/<name>.yaml`` or a YAML file at a path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
        raise ProfileError(f"no profile {str(name_or_path)!r} (looked for {path}); known profiles: {known}")
    raw = yaml.safe_load(path.read_text()) or {}
    known_keys = set(Profile.__dataclass_fields__) - {"path", "raw"}
    unknown = sorted(set(raw) - known_keys)
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) {unknown}; known: {sorted(known_keys)}")
    if "name" not in raw or not raw.get("nets"):
        raise ProfileError(f"{path}: a profile needs 'name' and a non-empty 'nets' list")
    for i, net in enumerate(raw["nets"]):
        if not {"dataset", "arch"} <= set(net):
            raise ProfileError(f"{path}: nets[{i}] needs 'dataset' and 'arch'")
        if set(net) - NET_KEYS:
            raise ProfileError(
                f"{path}: nets[{i}] has unknown key(s) {sorted(set(net) - NET_KEYS)}; known: {sorted(NET_KEYS)}"
            )
    profile = Profile(**raw, path=str(path), raw=raw)
    profile.method_configs()  # validate every method entry now, with a clear error
    profile.release_configs()
    from bsnn_lib.verdict import verdict_spec

    for key in ("verdict", "beyond"):
        if getattr(profile, key) is not None:
            try:
                verdict_spec(getattr(profile, key))
            except (KeyError, TypeError, ValueError) as err:
                raise ProfileError(f"{path}: {key} section: {err}") from err
    return profile


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
