"""`repo-server restore SRC`: a backup into an empty data dir, database and bucket.

Order, and why:
1. The backup is checked before anything is touched: MANIFEST.json present (else the backup
   never finished), catalog file, blob list and small files match the sha256 the manifest
   records, every listed blob is there with its size (with `deep`, re-hashed as well).
2. The target is checked: an empty (or missing) data dir, a catalog with no tables, an
   empty blob store. Anything else is refused and left exactly as it was: a restore never
   mixes two libraries.
3. Catalog, then blobs (each hashed again while copied, so bytes damaged after step 1 are
   still caught), then the small files; then `initialise` migrates a backup from an older
   version to this version's schema and seeds missing vocabulary rows.
4. The search index is rebuilt from the restored catalog (it is never backed up).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Callable

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from repo_server.blobstore import LocalBlobStore, check_sha256, open_blobstore
from repo_server.catalog.migrate import MIGRATIONS, head_revision
from repo_server.config import Settings

from .backup import file_sha256
from .backup_format import (BLOB_DIR, BLOB_LIST, EXTRA_FILES, MIRROR_MANIFESTS, PG_FILE, SQLITE_FILE,
                            BackupDamaged, BackupError, CopyStats, TargetNotEmpty, copy_blob,
                            read_blob_list, read_manifest)
from .context import Services
from .indexing import rebuild
from .maintenance import initialise
from .pg_tools import archive_dumped_by, check_restore_tools, run_pg_restore

__all__ = ["verify_backup", "restore"]

Progress = Callable[[int, int], None]


def verify_backup(src: Path, *, deep: bool = False) -> dict:
    """The manifest of a complete, intact backup; BackupDamaged naming the first problem."""
    src = src.resolve()
    manifest = read_manifest(src)
    catalog = manifest.get("catalog") or {}
    if catalog.get("file") not in (SQLITE_FILE, PG_FILE):
        raise BackupDamaged(f"{src}/MANIFEST.json names no catalog file")
    recorded = {catalog["file"]: catalog.get("sha256"), BLOB_LIST: (manifest.get("blob_list") or {}).get("sha256"),
                **(manifest.get("files") or {})}
    for name, sha256 in recorded.items():
        path = src / name
        if not path.is_file():
            raise BackupDamaged(f"{path} is missing from the backup")
        if file_sha256(path) != sha256:
            raise BackupDamaged(f"{path} does not match the sha256 in MANIFEST.json: the backup is damaged")
    store, count = LocalBlobStore(src / BLOB_DIR), 0
    for sha256, size in read_blob_list(src / BLOB_LIST):
        check_sha256(sha256)
        try:
            stored = store.stat(sha256).size
        except Exception:   # BlobNotFound, or an unreadable file: the same verdict
            raise BackupDamaged(f"blob {sha256} is missing from the backup {src}") from None
        if stored != size:
            raise BackupDamaged(f"blob {sha256} in the backup has {stored:,} bytes, {size:,} expected")
        if deep and _hash(store, sha256) != sha256:
            raise BackupDamaged(f"blob {sha256} in the backup is damaged: its bytes do not hash to its name")
        count += 1
    if count != manifest["counts"]["blobs"]:
        raise BackupDamaged(f"the blob list holds {count} blobs, MANIFEST.json says {manifest['counts']['blobs']}")
    return manifest


def restore(settings: Settings, src: Path, *, deep: bool = True, progress: Progress | None = None) -> dict:
    """Restore backup `src` into the empty target `settings` describe; returns a report."""
    src = src.resolve()
    manifest = verify_backup(src, deep=deep)
    engine = manifest["catalog"]["engine"]
    known = _known_revisions()
    if manifest["alembic_revision"] not in known:
        raise BackupError(f"the backup's catalog is at schema {manifest['alembic_revision']}, which this "
                          f"version ({head_revision()}) does not know: restore it with repo-server "
                          f"{manifest['repo_server_version']} or newer")
    is_sqlite = settings.catalog_url.startswith("sqlite")
    if is_sqlite != (engine == "sqlite"):
        wanted = "an empty REPO_DATABASE_URL (SQLite)" if engine == "sqlite" else "REPO_DATABASE_URL=postgresql://…"
        raise BackupError(f"the backup holds a {engine} catalog: restore it with {wanted}; to move "
                          "between engines, restore first, then copy the data over")
    archive = src / manifest["catalog"]["file"]
    if not is_sqlite:
        check_restore_tools(archive_dumped_by(archive))
    _refuse_unless_empty(settings)

    try:
        return _restore(settings, src, manifest, archive, progress)
    except OSError as exc:
        raise BackupError(f"the restore failed: {exc}. The target may hold a partial restore: empty "
                          "it (data dir, database, bucket) before restoring again") from exc


def _restore(settings: Settings, src: Path, manifest: dict, archive: Path, progress: Progress | None) -> dict:
    is_sqlite = manifest["catalog"]["engine"] == "sqlite"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if is_sqlite:
        target = Path(make_url(settings.catalog_url).database)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.part")
        shutil.copyfile(archive, temp)
        temp.replace(target)
    else:
        run_pg_restore(settings.catalog_url, archive)
    svc = Services.open(settings)
    try:
        try:
            stats = _restore_blobs(svc, src, manifest, progress)
        except BackupError as exc:
            raise type(exc)(f"{exc.message}. The target now holds a partial restore: empty it "
                            "(data dir, database, bucket) before restoring another backup") from None
        _restore_files(settings, src, manifest)
        init = initialise(svc)
        index = rebuild(svc)
    finally:
        svc.close()
    return {"source": str(src), "created": manifest["created"], "engine": manifest["catalog"]["engine"],
            "schema_before": manifest["alembic_revision"], "schema": init["schema"],
            "counts": manifest["counts"], "blobs_copied": stats.copied, "bytes_copied": stats.copied_bytes,
            "documents_indexed": index["documents"]}


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def _refuse_unless_empty(settings: Settings) -> None:
    """TargetNotEmpty, touching nothing, unless data dir, catalog and blob store are empty."""
    data = settings.data_dir
    if data.exists() and (not data.is_dir() or any(data.iterdir())):
        raise TargetNotEmpty(f"{data} (REPO_DATA_DIR) is not empty: restore only into an empty "
                             "data dir, so two libraries never mix; move it aside or point "
                             "REPO_DATA_DIR elsewhere")
    if settings.catalog_url.startswith("sqlite"):
        database = Path(make_url(settings.catalog_url).database)
        if database.exists():
            raise TargetNotEmpty(f"{database} (the SQLite catalog of REPO_DATABASE_URL) exists already: "
                                 "restore only into a new catalog")
    else:
        engine = create_engine(settings.catalog_url)
        try:
            tables = inspect(engine).get_table_names()
        except Exception as exc:
            raise BackupError(f"cannot reach the database of REPO_DATABASE_URL: {exc}") from None
        finally:
            engine.dispose()
        if tables:
            raise TargetNotEmpty(f"the database {make_url(settings.catalog_url).database} already has "
                                 f"{len(tables)} tables: restore only into an empty database "
                                 "(createdb a new one, or drop this one first)")
    if settings.blobstore != "local":
        if next(iter(open_blobstore(settings).iter_sha256()), None) is not None:
            raise TargetNotEmpty(f"the bucket {settings.s3_bucket} already holds blobs: restore only "
                                 "into an empty bucket (REPO_S3_BUCKET)")


def _restore_blobs(svc: Services, src: Path, manifest: dict, progress: Progress | None) -> CopyStats:
    """Every blob the restored catalog knows, from the backup, hashed while copied."""
    source, stats = LocalBlobStore(src / BLOB_DIR), CopyStats()
    total = manifest["counts"]["blobs"]
    for done, (sha256, size) in enumerate(read_blob_list(src / BLOB_LIST), 1):
        copy_blob(source, svc.blobs, svc.staging, sha256, size, stats, source_name=f"the backup {src}")
        if progress is not None:
            progress(done, total)
    return stats


def _restore_files(settings: Settings, src: Path, manifest: dict) -> None:
    for name in manifest.get("files") or {}:
        inside = name.startswith(str(MIRROR_MANIFESTS) + "/") and ".." not in Path(name).parts
        if name not in EXTRA_FILES and not inside:
            raise BackupDamaged(f"MANIFEST.json lists an unexpected file {name!r}")
        target = settings.data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, target)
        target.chmod(0o600 if name in EXTRA_FILES else 0o644)


def _hash(store: LocalBlobStore, sha256: str) -> str:
    digest = hashlib.sha256()
    with store.open(sha256) as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
