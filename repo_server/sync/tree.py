"""The exported mirror tree on disk, and the only code that writes into it.

    <root>/objects/ab/cd/<sha256>        immutable blobs and text objects (mode 0444)
    <root>/manifests/<serial>.json       one manifest per published serial (manifest.py)
    <root>/manifests/<serial>.delta.json its delta against the serial before (delta.py)
    <root>/CURRENT                       the pointer: which manifest is the published one
    <root>/.state/                       the publisher's own: lock, state, temp files

Every file appears whole or not at all: it is written under .state/tmp (same filesystem)
and renamed into place. Objects are made durable together, before the manifest naming them
appears (`make_durable`: one syncfs(2) of the tree's filesystem; where that is missing, an
fsync per new file and per directory that gained entries: the first export of 10,000
resources took 43 s that way here, 9 s with one syncfs). Manifests, deltas
and CURRENT are fsync'd one by one. So after a power cut the tree never holds a manifest
whose objects are missing, nor a CURRENT whose manifest is. The rsync module hides
`.state` (rsyncd.py).

Objects come from the blob store: with a local store as a hard link (no copy, no extra
space; the store's files are read-only already), falling back to a copy when the tree is on
another filesystem; with MinIO/S3 streamed into the tree. Copies are hashed while written
and refused unless they hash to their name; a link is checked by size (the store is
verified by `repo-server check --deep`, and every downstream verifies what it fetches).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from repo_server.blobstore import BlobIntegrityError, BlobStore, LocalBlobStore, blob_key, check_sha256
from repo_server.durable import fsync_dir

from .manifest import ManifestError, dumps

__all__ = ["MirrorTree", "Current", "CURRENT_FORMAT"]

CURRENT_FORMAT = "repo-server-current/1"
_CHUNK = 1024 * 1024


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    try:
        function = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


@dataclass(frozen=True)
class Current:
    """The CURRENT pointer: the published serial, its manifest and delta, and where it
    came from (`chain`: origin first, this server last, each with the serial it had)."""

    serial: int
    manifest: str                      # relative path, "manifests/<serial>.json"
    sha256: str
    size: int
    delta: dict[str, Any] | None       # {"path", "base", "sha256", "size"} or None
    chain: list[dict[str, Any]]
    created: str
    seq: int                           # the change-log position this serial includes
    resources: int
    objects: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"format": CURRENT_FORMAT, **self.__dict__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Current":
        if data.get("format") != CURRENT_FORMAT:
            raise ManifestError(f"CURRENT is in format {data.get('format')!r}, this version reads "
                                f"{CURRENT_FORMAT}")
        try:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except KeyError as exc:
            raise ManifestError(f"CURRENT lacks {exc.args[0]!r}") from None


@dataclass
class MirrorTree:
    root: Path
    _touched: set[Path] = field(default_factory=set, repr=False)    # directories that gained entries
    _unsynced: list[Path] = field(default_factory=list, repr=False)  # objects written since make_durable

    # -- layout ----------------------------------------------------------------------------
    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def state_dir(self) -> Path:
        return self.root / ".state"

    @property
    def tmp(self) -> Path:
        return self.state_dir / "tmp"

    @property
    def current_path(self) -> Path:
        return self.root / "CURRENT"

    def object_path(self, sha256: str) -> Path:
        return self.objects / blob_key(sha256)

    def manifest_path(self, serial: int) -> Path:
        return self.manifests / f"{serial}.json"

    def delta_path(self, serial: int) -> Path:
        return self.manifests / f"{serial}.delta.json"

    def prepare(self) -> None:
        """Create the directories; the exported ones world-readable (the rsync daemon reads
        them as nobody), the publisher's own private."""
        for directory, mode in ((self.root, 0o755), (self.objects, 0o755), (self.manifests, 0o755),
                                (self.state_dir, 0o700), (self.tmp, 0o700)):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(mode)

    # -- temp files and installing them --------------------------------------------------------
    def temp_path(self, label: str) -> Path:
        return self.tmp / f"{label}.{secrets.token_hex(6)}"

    def install(self, temp: Path, final: Path, mode: int = 0o644) -> None:
        """Rename a finished temp file into place. An object waits for `make_durable`;
        anything else must have been fsync'd, and its directory is fsync'd here."""
        os.chmod(temp, mode)
        os.replace(temp, final)
        if final.parent.parent.parent == self.objects:
            self._touched.add(final.parent)
            self._unsynced.append(final)
        else:
            fsync_dir(final.parent)

    def make_durable(self) -> None:
        """Every object written or linked since the last call reaches the disk, with its
        directory entry: one syncfs of the tree's filesystem, else fsync one by one."""
        syncfs = _syncfs()
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            if syncfs is not None and syncfs(descriptor) == 0:
                self._touched.clear()
                self._unsynced.clear()
                return
        finally:
            os.close(descriptor)
        for path in self._unsynced:
            with open(path, "rb") as stream:
                os.fsync(stream.fileno())
        for directory in sorted(self._touched):
            fsync_dir(directory)
        self._touched.clear()
        self._unsynced.clear()

    def clear_tmp(self) -> int:
        """Remove temp files a killed publisher left (call under the publisher lock)."""
        removed = 0
        for entry in self.tmp.iterdir() if self.tmp.is_dir() else ():
            entry.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- objects -------------------------------------------------------------------------------
    def has_object(self, sha256: str, size: int) -> bool:
        try:
            return self.object_path(sha256).stat().st_size == size
        except FileNotFoundError:
            return False

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes (a text) as an object; returns (sha256, size)."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.has_object(sha256, len(data)):
            temp = self.temp_path("object")
            temp.write_bytes(data)
            self._place(temp, sha256)
        return sha256, len(data)

    def put_blob(self, blobs: BlobStore, sha256: str, size: int) -> str:
        """Export one blob: "present", "linked" or "copied". Raises BlobNotFound when the
        store lacks it and BlobIntegrityError when its bytes do not match the catalog."""
        check_sha256(sha256)
        target = self.object_path(sha256)
        if self.has_object(sha256, size):
            return "present"
        target.unlink(missing_ok=True)  # a damaged copy (wrong size) is replaced
        source = blobs.local_path(sha256)
        if source is not None and self._link(source, target, sha256, size):
            return "linked"
        temp = self.temp_path("object")
        digest, written = hashlib.sha256(), 0
        try:
            with blobs.open(sha256) as stream, open(temp, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
            if digest.hexdigest() != sha256 or written != size:
                raise BlobIntegrityError(
                    f"blob {sha256} in the {blobs.name} store reads as {written} bytes hashing to "
                    f"{digest.hexdigest()}; the catalog expects {size} bytes: the store is damaged "
                    "(`repo-server check --deep`)")
            self._place(temp, sha256, mode=0o444)
        finally:
            temp.unlink(missing_ok=True)
        return "copied"

    def _link(self, source: Path, target: Path, sha256: str, size: int) -> bool:
        """Hard-link a local blob; False when links cannot cross to the tree's filesystem."""
        try:
            actual = source.stat().st_size
        except FileNotFoundError:
            return False  # let open() raise the store's own BlobNotFound
        if actual != size:
            raise BlobIntegrityError(f"blob {sha256} in the local store is {actual} bytes, the "
                                     f"catalog says {size}: the store is damaged")
        self._shard(target)
        try:
            os.link(source, target)
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                return False
            raise
        self._touched.add(target.parent)
        return True

    def _place(self, temp: Path, sha256: str, mode: int = 0o444) -> None:
        target = self.object_path(sha256)
        self._shard(target)
        self.install(temp, target, mode)

    def _shard(self, target: Path) -> None:
        """Create an object's ab/cd directories, readable by the rsync daemon whatever the
        umask; a new directory is fsync'd into its parent with the objects."""
        if target.parent.is_dir():
            return
        for directory in (target.parent.parent, target.parent):
            if not directory.is_dir():
                directory.mkdir(exist_ok=True)
                directory.chmod(0o755)
                self._touched.add(directory.parent)

    def iter_objects(self) -> Iterator[tuple[str, Path]]:
        """(sha256, path) of every object file where blob_key puts it (the same layout as
        the local blob store, so its walk serves)."""
        for sha256 in LocalBlobStore(self.objects).iter_sha256():
            yield sha256, self.object_path(sha256)

    # -- manifests and CURRENT -----------------------------------------------------------------
    def serials(self) -> list[int]:
        """Serials with a manifest file, ascending."""
        if not self.manifests.is_dir():
            return []
        found = []
        for entry in self.manifests.iterdir():
            stem, _, suffix = entry.name.partition(".")
            if suffix == "json" and stem.isdigit():
                found.append(int(stem))
        return sorted(found)

    def read_current(self) -> Current | None:
        try:
            text = self.current_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return Current.from_dict(json.loads(text))
        except ValueError as exc:
            raise ManifestError(f"{self.current_path} is not JSON: {exc}") from None

    def write_current(self, current: Current) -> None:
        """Replace CURRENT atomically: the last step of a publish."""
        temp = self.temp_path("CURRENT")
        with open(temp, "w", encoding="utf-8") as out:
            out.write(dumps(current.as_dict()) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.install(temp, self.current_path)
