"""The BlobStore protocol: content-addressed, immutable file contents.

Keys are the sha256 of the bytes, laid out `ab/cd/<sha256>` in every backend. Names,
titles and Chinese filenames never appear in keys: they live in the catalog. Blobs enter a
store only as a fully received, hashed `StagedFile` (see staging.py), so a store never holds
half-written content under a real key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, runtime_checkable

from repo_server.errors import NotFound, StorageError

from .staging import StagedFile

__all__ = ["BlobStore", "BlobStat", "BlobNotFound", "BlobStoreError", "BlobIntegrityError",
           "blob_key", "check_sha256"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(NotFound):
    """No blob with this sha256 in the store."""

    code = "blob_not_found"


class BlobStoreError(StorageError):
    """The backend failed (I/O error, S3 unreachable, permission problem)."""


class BlobIntegrityError(BlobStoreError):
    """Stored bytes do not hash to their key: the store is damaged."""

    code = "blob_integrity"


def check_sha256(sha256: str) -> str:
    """Return `sha256` if it is 64 lowercase hex digits, else raise BlobNotFound.

    Keys come from URLs and manifests; refusing anything else keeps `../` and friends
    out of paths and object names.
    """
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise BlobNotFound(f"not a sha256 key: {sha256!r}")
    return sha256


def blob_key(sha256: str) -> str:
    """The sharded key of a blob: `ab/cd/<sha256>` (65,536 directories spread 1M files)."""
    check_sha256(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


@dataclass(frozen=True)
class BlobStat:
    sha256: str
    size: int


@runtime_checkable
class BlobStore(Protocol):
    """What the catalog and services need from file storage. Both backends raise the same
    exceptions: BlobNotFound for a missing key, BlobStoreError for backend failures."""

    name: str

    def add(self, staged: StagedFile) -> bool:
        """Move a finished staged file into the store under its sha256.

        Returns True when the blob is new, False when identical bytes were already stored
        (the staged copy is then discarded). Either way the staged file is consumed.
        """

    def exists(self, sha256: str) -> bool: ...

    def stat(self, sha256: str) -> BlobStat: ...

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        """A readable stream of the blob, or of `length` bytes from `start`. Caller closes."""

    def delete(self, sha256: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""

    def iter_sha256(self) -> Iterator[str]:
        """Every stored key (for consistency checks and garbage collection)."""

    def local_path(self, sha256: str) -> Path | None:
        """A filesystem path to the bytes when the backend has one (sendfile, X-Accel), else None."""

    def presigned_url(self, sha256: str, *, filename: str, mime: str, inline: bool = False,
                      expires_s: int = 300) -> str | None:
        """A short-lived URL a client can GET directly, or None when the backend has none."""
