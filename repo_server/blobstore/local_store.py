"""LocalBlobStore: blobs as files under `<data dir>/blobs/ab/cd/<sha256>`.

The embedded default. A staged file enters by `os.replace` (atomic on one filesystem,
which is why the staging directory sits beside the blob tree), followed by an fsync of the
directory so a power cut cannot lose a blob the catalog already points at. Stored files
are made read-only: blobs are immutable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Iterator

from repo_server.durable import fsync_dir

from .base import BlobNotFound, BlobStat, BlobStoreError, blob_key, check_sha256
from .ranged import RangeReader
from .staging import StagedFile

__all__ = ["LocalBlobStore"]


class LocalBlobStore:
    """Content-addressed files on the local filesystem."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def add(self, staged: StagedFile) -> bool:
        sha256 = staged.finish()
        target = self._path(sha256)
        try:
            if target.exists():
                staged.discard()
                return False
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged.path, 0o444)
            os.replace(staged.path, target)
            fsync_dir(target.parent)
        except OSError as exc:
            staged.discard()
            raise BlobStoreError(f"cannot store blob {sha256}: {exc}") from exc
        return True

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def stat(self, sha256: str) -> BlobStat:
        try:
            return BlobStat(sha256, self._path(sha256).stat().st_size)
        except FileNotFoundError:
            raise BlobNotFound(f"blob {sha256} is not in the store") from None
        except OSError as exc:
            raise BlobStoreError(f"cannot stat blob {sha256}: {exc}") from exc

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        try:
            handle = open(self._path(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {sha256} is not in the store") from None
        except OSError as exc:
            raise BlobStoreError(f"cannot open blob {sha256}: {exc}") from exc
        if start == 0 and length is None:
            return handle
        handle.seek(start)
        return RangeReader(handle, length)

    def delete(self, sha256: str) -> None:
        try:
            self._path(sha256).unlink(missing_ok=True)
        except OSError as exc:
            raise BlobStoreError(f"cannot delete blob {sha256}: {exc}") from exc

    def iter_sha256(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        # Only files exactly where blob_key puts them count; anything else (Thumbs.db,
        # editor backups, a blob filed under the wrong shard) is not a blob of this store.
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if len(second.name) != 2 or not second.is_dir():
                    continue
                for entry in sorted(second.iterdir()):
                    try:
                        check_sha256(entry.name)
                    except BlobNotFound:
                        continue
                    if entry.name[:2] == first.name and entry.name[2:4] == second.name:
                        yield entry.name

    def local_path(self, sha256: str) -> Path | None:
        return self._path(sha256)

    def presigned_url(self, sha256: str, *, filename: str, mime: str, inline: bool = False,
                      expires_s: int = 300) -> str | None:
        return None


