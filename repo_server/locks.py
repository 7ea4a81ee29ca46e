"""An exclusive, non-blocking lock on a file, held by at most one process at a time.

Used to elect the single writer of a search index generation and the single text
extractor among several web workers and CLI processes. It is an OS lock (flock): it goes
away with the process that held it, so a crashed holder never blocks the next one.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

__all__ = ["FileLock"]


class FileLock:
    def __init__(self, handle: IO[str], path: Path) -> None:
        self._handle = handle
        self.path = path

    @classmethod
    def try_acquire(cls, path: Path) -> "FileLock | None":
        """The lock on `path` (created if missing), or None when another process holds it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle, path)

    def release(self) -> None:
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
