"""Appending a request body to a resumable upload's data file, and hashing the result.

Bytes go to disk in 1 MiB steps (constant memory, whatever the request size) and are
fsync'd before the caller answers, so an offset the client was told is durable. A body that
breaks off keeps what arrived — resuming continues after it — except when it cannot be
trusted: it carried a checksum (which can then not be verified), it ran past the declared
length, or a write failed midway (the file is cut back to the last whole write).

The sha256 the blob store needs is kept incrementally, per process, while the requests of
one upload arrive contiguously at the same process (the usual case); otherwise the finished
file is read once more. Bytes before an acknowledged offset never change, which is what
makes a saved hash state safe to continue. The caller holds the upload's lock.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from repo_server.errors import RepoError, StorageError, TooLarge

__all__ = ["Checksum", "ChecksumMismatch", "NoSpace", "STEP", "receive", "digest", "forget"]

STEP = 1024 * 1024
_MAX_HASHES = 256      # uploads in progress whose hash state this process keeps

_hashes: dict[str, tuple[int, Any]] = {}   # data file → (bytes hashed, sha256 state)
_hashes_lock = threading.Lock()


class ChecksumMismatch(RepoError):
    code = "checksum_mismatch"


class NoSpace(StorageError):
    code = "insufficient_storage"


@dataclass(frozen=True)
class Checksum:
    """Upload-Checksum of one request body."""

    algorithm: str      # hashlib name: sha1, sha256, md5
    digest: bytes


def _cached(path: Path, start: int) -> Any | None:
    with _hashes_lock:
        entry = _hashes.get(str(path))
    if entry is not None and entry[0] == start:
        return entry[1].copy()
    return hashlib.sha256() if start == 0 else None


def _keep(path: Path, offset: int, hasher: Any | None) -> None:
    with _hashes_lock:
        _hashes.pop(str(path), None)
        if hasher is not None:
            if len(_hashes) >= _MAX_HASHES:
                _hashes.pop(next(iter(_hashes)))   # the oldest: it is re-read if it finishes
            _hashes[str(path)] = (offset, hasher)


def forget(path: Path) -> None:
    """Drop the hash state of a data file (deleted or expired upload)."""
    _keep(path, 0, None)


def receive(path: Path, start: int, remaining: int, read: Callable[[int], bytes],
            checksum: Checksum | None = None) -> int:
    """Append what `read` yields at `start` (the file's size); return how many bytes were kept.

    Raises TooLarge past `remaining`, ChecksumMismatch, NoSpace on a full disk, and whatever
    `read` raises (a dropped connection) after keeping the bytes that arrived.
    """
    hasher = _cached(path, start)
    check = hashlib.new(checksum.algorithm) if checksum else None
    written = 0
    with open(path, "r+b", buffering=0) as out:
        out.seek(start)
        try:
            while chunk := read(STEP):
                if written + len(chunk) > remaining:
                    raise TooLarge(f"the request carries more than the {remaining:,} bytes that "
                                   "remain of the declared Upload-Length", reason="too_much_data",
                                   remaining=remaining)
                view = memoryview(chunk)
                while view:
                    n = out.write(view)
                    written += n
                    view = view[n:]
                for h in (hasher, check):
                    if h is not None:
                        h.update(chunk)
            if check is not None and check.digest() != checksum.digest:
                raise ChecksumMismatch(f"the {checksum.algorithm} checksum of this request's body "
                                       "does not match Upload-Checksum; nothing was appended",
                                       reason="checksum")
        except BaseException as exc:
            keep = 0 if check is not None or isinstance(exc, TooLarge) else written
            if keep != written or isinstance(exc, OSError):   # a failed write tears a chunk
                hasher = None
            out.truncate(start + keep)
            os.fsync(out.fileno())
            _keep(path, start + keep, hasher)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise NoSpace("the server's disk is full; the bytes received so far are kept, "
                              "resume when space was freed", reason="disk_full") from None
            raise
        os.fsync(out.fileno())
    _keep(path, start + written, hasher)
    return written


def digest(path: Path, length: int) -> str:
    """sha256 of the complete data file: the kept state when it covers all of it, else read."""
    with _hashes_lock:
        entry = _hashes.pop(str(path), None)
    if entry is not None and entry[0] == length:
        return entry[1].hexdigest()
    hasher = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(STEP):
            hasher.update(chunk)
    return hasher.hexdigest()
