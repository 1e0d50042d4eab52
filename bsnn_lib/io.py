"""Files: atomic writes, CSV and JSON writers, provenance and the repository root.

Every file the library writes goes through :func:`atomic_writer`: the bytes go to a temporary file
in the target directory, which is flushed, fsynced and renamed over the target with
``os.replace``, so a reader (or an interrupted run) never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository (or source tree) this package lives in."""

_FILE_MODE = 0o644  # mkstemp creates 0600; written files should be readable like any other

__all__ = [
    "REPO_ROOT",
    "atomic_save",
    "atomic_writer",
    "git_commit",
    "run_metadata",
    "to_jsonable",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_text",
]


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a binary temp file next to ``path``; on clean exit fsync it and rename it to ``path``.

    On an exception the temp file is removed and ``path`` is left untouched. Parent directories
    are created as needed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.chmod(tmp_name, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_directory(target.parent)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Persist a rename by fsyncing its directory (best effort; not possible on every OS)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_save(path: str | os.PathLike[str], save: Callable[[str], Any]) -> Path:
    """Call ``save(tmp_path)`` (e.g. ``fig.savefig``) on a temp file beside ``path``, then rename
    it to ``path``; nothing is left behind when ``save`` raises."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        save(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_csv(path: str | os.PathLike[str], df: Any) -> Path:
    """Write a DataFrame as CSV (no index) atomically."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return write_text(path, buf.getvalue())


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write :func:`to_jsonable` of ``obj`` as indented, key-sorted JSON atomically."""
    return write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values for parameter files: configs (``to_dict`` or dataclasses), mappings,
    sequences, numpy scalars, paths; NaN becomes null; anything else its ``str``."""
    if hasattr(obj, "to_dict") and not isinstance(obj, type):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def git_commit(repo: str | Path = REPO_ROOT) -> str | None:
    """The current commit of ``repo`` (with ``-dirty`` if tracked files changed), or None."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha or None


def run_metadata() -> dict[str, Any]:
    """Provenance saved beside every result: versions, device, threads, date."""
    import torch

    return {
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
    }
