"""Verified, atomic checkpoint files and stable config keys.

File format (version 1)::

    MAGIC (8 bytes, b"BSNNCKPT") | version (uint32, little endian)
    | payload length (uint64, LE) | sha256 of payload (32 bytes) | payload

where the payload is the ``torch.save`` serialization of a plain ``dict``. Every load checks the
magic, the version, the length and the hash, so a truncated, partially written or bit-flipped file
raises :class:`CorruptCheckpointError` instead of being loaded silently. Payloads are read back
with ``torch.load(weights_only=True)``: store only tensors and plain Python values in them.

Writes are atomic (:func:`bsnn_lib.io.atomic_writer`): readers never see a half-written file
under the final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from pathlib import Path
from typing import Any

import torch

from bsnn_lib.io import atomic_writer

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "CorruptCheckpointError",
    "config_key",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT_VERSION = 1
_MAGIC = b"BSNNCKPT"
_HEADER = struct.Struct("<8sIQ32s")  # magic, version, payload length, payload sha256


class CorruptCheckpointError(RuntimeError):
    """A checkpoint (or tensor cache) file is truncated, corrupt or of an unknown format."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"checkpoint file {self.path} is unusable: {reason}. Delete it (rm '{self.path}'); "
            "it is rebuilt (the model retrained, the cache re-decoded) on the next run."
        )


def config_key(config: dict[str, Any]) -> str:
    """Return a stable 16-hex-digit key of ``config`` (sha256 of its canonical JSON).

    Canonical JSON = sorted keys, no whitespace, so dict order does not change the key. Values must
    be JSON-serializable (str, int, float, bool, None, lists, dicts).
    """
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Atomically write ``state`` to ``path`` in the verified format (see module docstring)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = _HEADER.pack(_MAGIC, CHECKPOINT_FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest())
    with atomic_writer(path) as handle:
        handle.write(header)
        handle.write(payload)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and verify a file written by :func:`save_checkpoint`; return its ``state`` dict.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CorruptCheckpointError: wrong magic/version, truncated or extended file, hash mismatch,
            or an undecodable payload.
    """
    raw = Path(path).read_bytes()
    payload = _verified_payload(path, raw)
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means an unusable file
        raise CorruptCheckpointError(path, f"payload does not decode ({exc})") from exc
    if not isinstance(state, dict):
        raise CorruptCheckpointError(path, f"payload is a {type(state).__name__}, not a dict")
    return state


def _verified_payload(path: str | os.PathLike[str], raw: bytes) -> bytes:
    """Check header, length and sha256 of ``raw``; return the payload bytes."""
    if len(raw) < _HEADER.size:
        raise CorruptCheckpointError(path, f"file has {len(raw)} bytes, shorter than the header")
    magic, version, length, digest = _HEADER.unpack_from(raw)
    if magic != _MAGIC:
        raise CorruptCheckpointError(path, "not a bsnn checkpoint (bad magic bytes)")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CorruptCheckpointError(
            path, f"format version {version}, this code reads version {CHECKPOINT_FORMAT_VERSION}"
        )
    payload = raw[_HEADER.size :]
    if len(payload) != length:
        raise CorruptCheckpointError(path, f"payload has {len(payload)} bytes, header says {length} (truncated write?)")
    if hashlib.sha256(payload).digest() != digest:
        raise CorruptCheckpointError(path, "payload sha256 does not match the header")
    return payload
