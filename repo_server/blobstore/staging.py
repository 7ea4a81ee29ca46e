"""Receiving bytes safely: write to a staging file while hashing, never hold it in memory.

A `StagedFile` is what every upload, import and derivative becomes before it enters a blob
store. It is written under a random name in the staging directory (same filesystem as the
local blob store, so adoption is an atomic rename), hashed and counted while written, keeps
its first bytes for type sniffing, and is fsync'd when finished. Until `finish()` it is not
a blob; if anything goes wrong it is discarded and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from repo_server.errors import IncompleteUpload, TooLarge

from .writeback import start_writeback

__all__ = ["Staging", "StagedFile", "HEAD_BYTES", "COPY_CHUNK"]

HEAD_BYTES = 256 * 1024  # enough for libmagic to tell OOXML, OLE2, EPUB, media containers apart
COPY_CHUNK = 1024 * 1024
WRITEBACK_EVERY = 32 * 1024 * 1024  # see writeback.py


class StagedFile:
    """A file being received. Writable like a file; werkzeug's multipart parser writes here.

    `complete` becomes True when the producer signals the end of the data (werkzeug calls
    `seek(0)` only after a part's last byte), which is how truncated uploads are told apart
    from finished ones.
    """

    def __init__(self, directory: Path, *, max_bytes: int | None = None, filename: str | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="incoming-", suffix=".part")
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.filename = filename
        self.max_bytes = max_bytes
        self.size = 0
        self.complete = False
        self.sha256: str | None = None
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._written_back = 0  # bytes already handed to the kernel for writeback

    @classmethod
    def received(cls, path: Path, *, sha256: str, size: int, head: bytes,
                 filename: str | None = None) -> "StagedFile":
        """A finished StagedFile for bytes already written and hashed on the staging disk by
        other means (a resumable upload, received over many requests). Like any finished
        staged file it is consumed by a blob store's `add`; `discard` removes `path`."""
        staged = cls.__new__(cls)
        staged._file, staged.path, staged.filename, staged.max_bytes = None, path, filename, None
        staged.size, staged.complete, staged.sha256 = size, True, sha256
        staged._hash, staged._head, staged._written_back = hashlib.sha256(), bytearray(head[:HEAD_BYTES]), size
        return staged

    # -- the file-like surface the producers need ----------------------------------------
    def write(self, data: bytes) -> int:
        if self._file is None:
            raise ValueError("staged file is closed")
        n = len(data)
        if self.max_bytes is not None and self.size + n > self.max_bytes:
            self.discard()
            raise TooLarge(f"file is larger than the {self.max_bytes:,} byte limit",
                           reason="too_large", limit=self.max_bytes)
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._hash.update(data)
        self._file.write(data)
        self.size += n
        if self.size - self._written_back >= WRITEBACK_EVERY:
            self._file.flush()
            start_writeback(self._file.fileno(), self._written_back, self.size - self._written_back)
            self._written_back = self.size
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        # werkzeug seeks to 0 once the part is fully received; we never read back from here.
        self.complete = True
        return 0

    def tell(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        raise OSError("a staged upload is write-only; use the blob store to read it")

    readline = read

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """No-op: werkzeug closes FileStorage streams on teardown; `discard` or `finish` end us."""

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def head(self) -> bytes:
        """The first HEAD_BYTES of the content, for sniffing."""
        return bytes(self._head)

    def finish(self) -> str:
        """Flush and fsync; return the sha256. After this the bytes are durable on disk."""
        if self.sha256 is not None:
            return self.sha256
        if self._file is None:
            raise IncompleteUpload("the upload was discarded before it finished",
                                   reason="incomplete_upload")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.complete = True
        self.sha256 = self._hash.hexdigest()
        return self.sha256

    def discard(self) -> None:
        """Forget the bytes. Safe to call twice and after the file was adopted by a store."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "StagedFile":
        return self

    def __exit__(self, *exc: object) -> None:
        # Adopted files were renamed away: unlink is then a no-op.
        self.discard()


class Staging:
    """The staging area of one data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def new(self, *, max_bytes: int | None = None, filename: str | None = None) -> StagedFile:
        return StagedFile(self.directory, max_bytes=max_bytes, filename=filename)

    def receive(self, stream: BinaryIO, *, max_bytes: int | None = None,
                filename: str | None = None) -> StagedFile:
        """Copy a readable stream into a new finished StagedFile, in constant memory."""
        staged = self.new(max_bytes=max_bytes, filename=filename)
        try:
            while chunk := stream.read(COPY_CHUNK):
                staged.write(chunk)
            staged.finish()
        except BaseException:
            staged.discard()
            raise
        return staged

    def sweep(self, older_than_s: float = 24 * 3600) -> int:
        """Delete staged files and media scratch directories left by crashed processes;
        returns how many were removed."""
        if not self.directory.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in self.directory.iterdir():
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.name.startswith("incoming-"):
                entry.unlink(missing_ok=True)
                removed += 1
            elif entry.name.startswith("media-") and entry.is_dir():  # a media job's scratch
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed

    def free_bytes(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.directory).free
