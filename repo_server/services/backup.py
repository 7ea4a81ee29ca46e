"""`repo-server backup DEST`: a consistent catalog copy plus the blobs, while the server runs.

Order, and why:
1. MANIFEST.json of an earlier backup in DEST is removed first: from now on DEST is not a
   complete backup until step 5 says so.
2. The catalog is copied as one consistent snapshot — SQLite through its online backup API
   (one step, inside one read transaction: WAL lets the server keep writing), PostgreSQL
   with `pg_dump --format=custom --snapshot=…` of a snapshot this process exported, in whose
   transaction the blob list and the counts are read too, so they describe the same state.
3. Every blob that snapshot knows is copied unless DEST has it already (blobs never change,
   so a second backup copies only the new ones), hashed while it streams. A blob stored
   after the snapshot is not needed by it; a blob is deleted from the store only when no
   catalog state references it any more, so none the snapshot needs can vanish.
4. The generated secret key, the rsync school accounts, the last mirror manifest.
5. MANIFEST.json, by rename, last.

Not copied: the search index (derived: rebuilt from the catalog on restore, smaller and
faster than copying a live index that is being written), the mirror tree's objects (links
to the blobs; `mirror publish --full` re-exports them), the job queue (job states live in
the catalog; the worker's sweep re-queues them), uploads in progress.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from repo_server import __version__
from repo_server.blobstore import LocalBlobStore, Staging
from repo_server.catalog.base import utcnow
from repo_server.locks import FileLock
from repo_server.sync import MirrorTree

from .backup_format import (BLOB_DIR, BLOB_LIST, EXTRA_FILES, FORMAT, MANIFEST, MIRROR_MANIFESTS,
                            PG_FILE, SQLITE_FILE, BackupError, CopyStats, copy_blob, read_blob_list,
                            write_manifest)
from .context import Services
from .pg_tools import check_dump_tools, run_pg_dump

__all__ = ["backup", "file_sha256", "catalog_facts"]

Progress = Callable[[int, int], None]


def backup(svc: Services, dest: Path, *, progress: Progress | None = None) -> dict:
    """Back up the catalog and the blob store of `svc` into directory `dest`; returns the
    manifest written. Run it again on the same `dest` to copy only what is new."""
    started = time.monotonic()
    dest = dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)   # the catalog holds password and token hashes
    lock = FileLock.try_acquire(dest / ".backup.lock")
    if lock is None:
        raise BackupError(f"another backup is writing to {dest}")
    try:
        return _backup(svc, dest, started, progress)
    except OSError as exc:    # a full or failing backup disk, a vanished source file
        raise BackupError(f"the backup into {dest} failed: {exc}; it is incomplete (no {MANIFEST})") from exc
    finally:
        lock.release()


def _backup(svc: Services, dest: Path, started: float, progress: Progress | None) -> dict:
    (dest / MANIFEST).unlink(missing_ok=True)
    staging = Staging(dest / "tmp")
    catalog = _sqlite_snapshot(svc, dest) if svc.catalog.is_sqlite else _postgres_snapshot(svc, dest)
    stats = _copy_blobs(svc, dest, staging, catalog["counts"]["blobs"], progress)
    files = _copy_extras(svc, dest)
    shutil.rmtree(staging.directory, ignore_errors=True)
    manifest = {
        "format": FORMAT, "created": utcnow().isoformat().replace("+00:00", "Z"),
        "repo_server_version": __version__, "alembic_revision": catalog.pop("revision"),
        "counts": catalog.pop("counts"), "catalog": catalog,
        "blob_list": {"file": BLOB_LIST, "sha256": file_sha256(dest / BLOB_LIST)},
        "blobs": {"count": stats.copied + stats.present, "copied": stats.copied,
                  "copied_bytes": stats.copied_bytes, "already_present": stats.present},
        "files": files, "seconds": round(time.monotonic() - started, 2),
    }
    write_manifest(dest, manifest)
    return manifest


# -- the catalog ------------------------------------------------------------------------------
def _sqlite_snapshot(svc: Services, dest: Path) -> dict:
    source_path = make_url(svc.settings.catalog_url).database
    part = dest / f"{SQLITE_FILE}.part"
    part.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(part)
    try:
        source.backup(target)                        # all pages in one step: one snapshot
        target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        target.close()
        source.close()
    engine = create_engine(f"sqlite:///{part}")
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("PRAGMA integrity_check").scalar() != "ok":
                raise BackupError(f"the SQLite copy in {part} fails its integrity check")
            facts = catalog_facts(conn, dest / BLOB_LIST)
    finally:
        engine.dispose()
    part.replace(dest / SQLITE_FILE)
    (dest / PG_FILE).unlink(missing_ok=True)
    return {"engine": "sqlite", "file": SQLITE_FILE, "sha256": file_sha256(dest / SQLITE_FILE),
            "size": (dest / SQLITE_FILE).stat().st_size, **facts}


def _postgres_snapshot(svc: Services, dest: Path) -> dict:
    part = dest / f"{PG_FILE}.part"
    part.unlink(missing_ok=True)
    with svc.catalog.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            server = int(conn.execute(text("SHOW server_version_num")).scalar_one())
            tools = check_dump_tools(server)
            facts = catalog_facts(conn, dest / BLOB_LIST)
            run_pg_dump(svc.settings.catalog_url, part, snapshot=snapshot)   # while the snapshot lives
    part.replace(dest / PG_FILE)
    (dest / SQLITE_FILE).unlink(missing_ok=True)
    return {"engine": "postgresql", "file": PG_FILE, "sha256": file_sha256(dest / PG_FILE),
            "size": (dest / PG_FILE).stat().st_size, "server_version": server // 10000,
            "pg_dump_version": f"{tools[0]}.{tools[1]}", **facts}


def catalog_facts(conn: Connection, blob_list: Path) -> dict:
    """Schema revision and counts of a catalog, and its blob list written to `blob_list`."""
    def scalar(sql: str) -> int:
        return int(conn.execute(text(sql)).scalar() or 0)

    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    counts = {
        "resources": scalar("SELECT count(*) FROM resources WHERE deleted_at IS NULL"),
        "deleted_resources": scalar("SELECT count(*) FROM resources WHERE deleted_at IS NOT NULL"),
        "derivatives": scalar("SELECT count(*) FROM derivatives"),
        "texts": scalar("SELECT count(*) FROM blob_texts"),
        "users": scalar("SELECT count(*) FROM users"),
        "api_tokens": scalar("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL"),
        "last_change": scalar("SELECT value FROM change_counter WHERE id = 1"),
        "blobs": 0, "blob_bytes": 0,
    }
    temp = blob_list.with_name(f"{blob_list.name}.part")
    with open(temp, "w", encoding="ascii") as out:
        rows = conn.execution_options(stream_results=True, yield_per=5000).execute(
            text("SELECT sha256, size FROM blobs ORDER BY sha256"))
        for sha256, size in rows:
            out.write(f"{sha256} {size}\n")
            counts["blobs"] += 1
            counts["blob_bytes"] += int(size)
    temp.replace(blob_list)
    return {"revision": revision, "counts": counts}


# -- blobs and small files ---------------------------------------------------------------------
def _copy_blobs(svc: Services, dest: Path, staging: Staging, total: int,
                progress: Progress | None) -> CopyStats:
    target, stats = LocalBlobStore(dest / BLOB_DIR), CopyStats()
    where = f"the blob store ({svc.blobs.name})"
    for done, (sha256, size) in enumerate(read_blob_list(dest / BLOB_LIST), 1):
        copy_blob(svc.blobs, target, staging, sha256, size, stats, source_name=where)
        if progress is not None:
            progress(done, total)
    return stats


def _copy_extras(svc: Services, dest: Path) -> dict[str, str]:
    """The data dir's small irreplaceable files, and the last mirror manifest; name → sha256."""
    settings, files = svc.settings, {}
    for name in EXTRA_FILES:
        source = settings.data_dir / name
        in_use = not (name == "secret_key" and settings.secret_key)   # REPO_SECRET_KEY wins
        (dest / name).unlink(missing_ok=True)
        if in_use and source.is_file():
            _copy_file(source, dest / name)
            files[name] = file_sha256(dest / name)
    manifests = dest / MIRROR_MANIFESTS
    shutil.rmtree(manifests, ignore_errors=True)
    current = MirrorTree(settings.mirror_dir).read_current()
    if current is not None and (settings.mirror_dir / current.manifest).is_file():
        manifests.mkdir(parents=True)
        name = str(MIRROR_MANIFESTS / f"{current.serial}.json")
        _copy_file(settings.mirror_dir / current.manifest, dest / name)
        files[name] = file_sha256(dest / name)
    return files


def _copy_file(source: Path, target: Path) -> None:
    temp = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, temp)
    temp.chmod(0o600)
    temp.replace(target)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
