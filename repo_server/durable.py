"""Writing files so that a crash leaves the old version or the new one, never a torn mix.

Several parts keep small state files whose loss or truncation would hurt (the live index
generation's pointer, a mirror's CURRENT and selection, resumable-upload state, the rsync
secrets): they are written to a temp file in the same directory, fsync'd, renamed over the
old one, and the directory is fsync'd so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["fsync_dir", "write_atomic"]


def fsync_dir(directory: Path) -> None:
    """Make the entries of `directory` (a rename, a new file) durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: Path, data: str | bytes, *, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Replace `path` with `data` atomically and durably. The temp file is created with
    `mode` from the start (a secrets file is never readable by others, not even briefly);
    `sync_dir=False` skips the directory fsync where the caller syncs it anyway or where a
    lost rename only costs a retry."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)
