"""What a backup directory holds, and the verified blob copy that fills it and empties it.

    DEST/
      catalog.sqlite3 | catalog.pgdump   the catalog: SQLite's own file, or a pg_dump custom archive
      blobs.list                         "<sha256> <size>" of every blob the catalog knows, sorted
      blobs/ab/cd/<sha256>               the blobs, the local store's layout, read-only files
      secret_key, rsyncd.secrets         when present in the data dir (generated key; school accounts)
      mirror/manifests/<serial>.json     the last published mirror manifest (keeps serials going up)
      MANIFEST.json                      written LAST, by rename: without it the backup is incomplete

Blobs are immutable and named by their sha256, so a blob already in DEST is never copied
again (incremental backups), and every copy is hashed while it streams (constant memory):
bytes that do not hash to their name are refused, whichever side they come from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from repo_server.blobstore import BlobNotFound, BlobStore, Staging
from repo_server.errors import RepoError

__all__ = ["BackupError", "BackupDamaged", "TargetNotEmpty", "FORMAT", "MANIFEST", "SQLITE_FILE",
           "PG_FILE", "BLOB_LIST", "BLOB_DIR", "EXTRA_FILES", "MIRROR_MANIFESTS", "CopyStats",
           "copy_blob", "write_manifest", "read_manifest", "read_blob_list", "write_atomic"]

FORMAT = "repo-server-backup/1"
MANIFEST = "MANIFEST.json"
SQLITE_FILE = "catalog.sqlite3"
PG_FILE = "catalog.pgdump"
BLOB_LIST = "blobs.list"
BLOB_DIR = "blobs"
EXTRA_FILES = ("secret_key", "rsyncd.secrets")   # from the data dir, mode 0600 both ways
MIRROR_MANIFESTS = Path("mirror") / "manifests"


class BackupError(RepoError):
    """A backup or restore cannot go on (clear message, nothing silently half-done)."""

    code = "backup"


class BackupDamaged(BackupError):
    """The backup directory is incomplete or its bytes do not match what it records."""

    code = "backup_damaged"


class TargetNotEmpty(BackupError):
    """Restore refuses to mix a backup into a data dir, database or bucket that holds data."""

    code = "target_not_empty"


@dataclass
class CopyStats:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0


def copy_blob(source: BlobStore, target: BlobStore, staging: Staging, sha256: str, size: int,
              stats: CopyStats, *, source_name: str) -> None:
    """Copy one blob unless `target` has it (with the right size), hashing while copying.

    Raises BackupDamaged when `source` lacks the blob or holds bytes that do not hash to its
    name; the target is left without it.
    """
    if target.exists(sha256):
        if target.stat(sha256).size == size:
            stats.present += 1
            return
        target.delete(sha256)   # a wrong-sized copy (damaged by hand): replace it
    try:
        stream = source.open(sha256)
    except BlobNotFound:
        raise BackupDamaged(f"blob {sha256} is missing from {source_name}") from None
    with stream:
        staged = staging.receive(stream)
    if staged.sha256 != sha256 or staged.size != size:
        staged.discard()
        raise BackupDamaged(f"blob {sha256} in {source_name} is damaged: its bytes hash to "
                            f"{staged.sha256} ({staged.size:,} bytes, {size:,} expected)")
    target.add(staged)
    stats.copied += 1
    stats.copied_bytes += size


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a small file by temp name + fsync + rename, so it is whole or absent."""
    temp = path.with_name(f".{path.name}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def write_manifest(dest: Path, manifest: dict[str, Any]) -> None:
    """MANIFEST.json, the last file written: its presence says the backup is complete."""
    write_atomic(dest / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode(), 0o644)
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of a complete backup, or BackupDamaged saying what is wrong."""
    if not src.is_dir():
        raise BackupError(f"{src} is not a directory")
    path = src / MANIFEST
    if not path.is_file():
        raise BackupDamaged(f"{src} has no {MANIFEST}: the backup did not finish (or this is not a "
                            "repo-server backup); use another backup")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupDamaged(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupDamaged(f"{path} is not a {FORMAT} manifest")
    return manifest


def read_blob_list(path: Path) -> Iterator[tuple[str, int]]:
    """(sha256, size) per line of a blob list, read lazily (a million lines stay on disk)."""
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if len(parts) != 2 or len(parts[0]) != 64 or not parts[1].isdigit():
                raise BackupDamaged(f"{path}, line {number}: not '<sha256> <size>'")
            yield parts[0], int(parts[1])
