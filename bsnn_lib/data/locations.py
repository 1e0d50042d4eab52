"""Where datasets and derived files live: the data root, the cache, and the places searched.

- data root: ``$BSNN_DATA_ROOT`` or ``<repo>/data``; derived files go to ``<data root>/cache``;
- a dataset's copy: the ``root=`` argument, then ``$BSNN_<NAME>_DIR``, then its default places.
Nothing is downloaded unless ``allow_download=True`` or ``BSNN_ALLOW_DOWNLOAD=1``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bsnn_lib.data.spec import DatasetSpec
from bsnn_lib.io import REPO_ROOT

__all__ = [
    "ENV_ALLOW_DOWNLOAD",
    "ENV_DATA_ROOT",
    "cache_dir",
    "candidate_dirs",
    "data_root",
    "describe",
    "downloads_allowed",
    "env_var",
]

ENV_DATA_ROOT = "BSNN_DATA_ROOT"
ENV_ALLOW_DOWNLOAD = "BSNN_ALLOW_DOWNLOAD"


def data_root() -> Path:
    """``$BSNN_DATA_ROOT`` if set, else ``<repo>/data``."""
    env = os.environ.get(ENV_DATA_ROOT)
    return Path(env).expanduser() if env else REPO_ROOT / "data"


def cache_dir() -> Path:
    """Directory for derived files (unpacked IDX files, tensor caches): ``<data root>/cache``."""
    return data_root() / "cache"


def env_var(spec: DatasetSpec) -> str:
    """Environment variable naming a copy of ``spec``'s files, e.g. ``BSNN_CIFAR10_DIR``."""
    return "BSNN_" + spec.name.upper().replace("-", "_") + "_DIR"


def candidate_dirs(
    spec: DatasetSpec, root: str | os.PathLike[str] | None, defaults: Sequence[Path]
) -> list[tuple[str, Path | None]]:
    """Places to look, in order: the ``root`` argument, the env var, then ``defaults``."""
    env = env_var(spec)
    env_value = os.environ.get(env)
    return [
        ("root argument", Path(root).expanduser() if root is not None else None),
        (f"${env}", Path(env_value).expanduser() if env_value else None),
        *(("default location", path) for path in defaults),
    ]


def describe(candidates: Sequence[tuple[str, Path | None]], what: str) -> list[str]:
    """Human-readable lines for a :class:`DatasetNotFoundError`."""
    return [f"{label}: {path if path is not None else 'not set'} ({what})" for label, path in candidates]


def downloads_allowed(allow_download: bool | None) -> bool:
    """Explicit argument wins; else ``BSNN_ALLOW_DOWNLOAD=1`` enables downloads."""
    if allow_download is not None:
        return allow_download
    return os.environ.get(ENV_ALLOW_DOWNLOAD, "") == "1"
