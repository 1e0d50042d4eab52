"""Inter-process locks: one process does a piece of work, the others wait and reuse its result."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["file_lock"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], what: str = "work") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created as needed) for the ``with`` block.

    A second process asking for the same lock logs that it waits for ``what`` and blocks until
    the first one leaves the block (or dies: the kernel drops a dead process's lock)."""
    lock = Path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is %s (lock %s); waiting for it", what, lock)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
