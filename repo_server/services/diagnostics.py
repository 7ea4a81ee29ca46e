"""`repo-server doctor`'s checks: is this installation able to work, and if not, what to fix.

Each check returns `Check`s: a level (ok, WARN: works but something is missing or risky,
FAIL: something will not work), what was found, and the fix. Checks touch the real things:
the catalog is connected to and its schema compared with this version's; a probe blob is
written, read back and deleted in the blob store; the tools are run for their versions. The
job queue is checked by the CLI (only the queue module knows Huey). Nothing here changes
the catalog.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from repo_server.blobstore import BlobStore, BlobStoreError, Staging, open_blobstore
from repo_server.catalog import Catalog
from repo_server.catalog.base import utcnow
from repo_server.catalog.migrate import current_revision, head_revision
from repo_server.catalog.models import MediaJob
from repo_server.config import Settings
from repo_server.errors import RepoError

from .context import Services
from .indexing import index_status
from .mirror_reports import local_mirror_status
from .monitoring import downstream_mirror_counts

__all__ = ["Check", "OK", "WARN", "FAIL", "check_settings", "check_catalog", "check_blob_store",
           "check_disk", "check_tools", "check_index", "check_jobs", "check_mirrors",
           "catalog_services", "shown_url", "run_checks"]

OK, WARN, FAIL = "ok", "WARN", "FAIL"
LOW_DISK_FRACTION = 0.10
INDEX_LAG_WARN_S = 300        # changes waiting longer than this: is anyone indexing?
JOB_WAIT_WARN = timedelta(hours=1)
_TOOL_TIMEOUT_S = 60          # soffice --version starts LibreOffice's launcher


@dataclass(frozen=True)
class Check:
    name: str
    level: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def shown_url(url: str) -> str:
    """A database URL fit for a terminal: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (an unparsable URL is shown as given: it has no password part)
        return url


# -- settings ------------------------------------------------------------------------------------
def check_settings(settings: Settings) -> list[Check]:
    """Settings that parse (Settings.from_env did that) but do not fit together."""
    postgres = settings.catalog_url.startswith("postgresql")
    checks = []
    if postgres and not settings.queue_url:
        checks.append(Check("settings", WARN, "PostgreSQL catalog with the embedded SQLite job queue: "
                            "media workers on other machines cannot reach it",
                            "set REPO_QUEUE_URL=redis://… on every node (fine while everything runs "
                            "on this one machine)"))
    if postgres and not settings.secret_key:
        checks.append(Check("settings", WARN, "REPO_SECRET_KEY is empty: each node generates its own "
                            "key, so a session or form from one node fails on another",
                            "set the same REPO_SECRET_KEY on every node (a long random string)"))
    if postgres and settings.blobstore == "local":
        checks.append(Check("settings", WARN, "PostgreSQL catalog with the local blob store: other "
                            "nodes cannot serve files stored on this machine's disk",
                            "use REPO_BLOBSTORE=minio for several nodes (fine on one machine)"))
    if settings.oai_admin_email == "admin@localhost.localdomain":
        checks.append(Check("settings", WARN, "REPO_OAI_ADMIN_EMAIL is the placeholder address "
                            "harvesters would write to", "set REPO_OAI_ADMIN_EMAIL"))
    if any(network.prefixlen == 0 for network in settings.metrics_networks):
        checks.append(Check("settings", WARN, "REPO_METRICS_ALLOW lets every address read /metrics",
                            "list only your Prometheus servers in REPO_METRICS_ALLOW"))
    if not checks:
        checks.append(Check("settings", OK, f"catalog {settings.catalog_url.split(':')[0]}, blobs "
                            f"{settings.blobstore}, queue {'redis' if settings.queue_url else 'sqlite'}"))
    return checks


# -- catalog -------------------------------------------------------------------------------------
def check_catalog(settings: Settings) -> Check:
    """Reachable, and migrated to this version's head."""
    url = settings.catalog_url
    where = shown_url(settings.database_url) if settings.database_url else url.removeprefix("sqlite:///")
    if url.startswith("sqlite") and not (settings.data_dir / "catalog.sqlite3").is_file() \
            and not settings.database_url:
        return Check("catalog", FAIL, f"no catalog at {where}", "run `repo-server init`")
    args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    engine = create_engine(url, connect_args=args)
    try:
        current = current_revision(engine)
    except Exception as exc:  # noqa: BLE001  (any driver error: unreachable, refused, no database)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        return Check("catalog", FAIL, f"cannot connect to {where}: {reason}",
                     "start the database server, or fix REPO_DATABASE_URL (host, port, user, database)")
    finally:
        engine.dispose()
    head = head_revision()
    if current is None:
        return Check("catalog", FAIL, f"{where} has no repo-server schema", "run `repo-server init`")
    if current != head:
        return Check("catalog", FAIL, f"{where} is at schema {current}, this version needs {head}",
                     "run `repo-server init` (it migrates; back up first: docs/deploy.md)")
    return Check("catalog", OK, f"{where}, schema {head} (current)")


def catalog_services(settings: Settings, blobs: BlobStore | None) -> Services:
    """Services for the checks that read the catalog (index, jobs, mirrors); `blobs` may be
    None when the store could not be opened: those checks never touch it."""
    return Services(settings=settings, catalog=Catalog(settings.catalog_url), blobs=blobs,  # type: ignore[arg-type]
                    staging=Staging(settings.staging_dir))


# -- blob store ----------------------------------------------------------------------------------
def _storage_fix(settings: Settings, message: str) -> str:
    if settings.blobstore == "local":
        return f"make {settings.blob_dir} writable by this user (and check the disk)"
    if any(code in message for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken")):
        return "check REPO_S3_ACCESS_KEY and REPO_S3_SECRET_KEY"
    if any(code in message for code in ("AccessDenied", "NoSuchBucket", "AllAccessDisabled")):
        return "check REPO_S3_BUCKET and that the key may read and write it"
    return "check that the S3 endpoint REPO_S3_ENDPOINT is up and reachable (and REPO_S3_SECURE)"


def _s3_listing_refusal(settings: Settings) -> str:
    """Why S3 refuses a GET on the bucket. A refused HEAD (the bucket check) has no body, so
    the client can only say "AccessDenied", for wrong keys as for missing permissions; a GET
    carries the server's real code (InvalidAccessKeyId, SignatureDoesNotMatch, …)."""
    from repo_server.blobstore.minio_store import MinioBlobStore   # only for S3 (see blobstore)

    try:
        client = MinioBlobStore.from_settings(settings).client
        next(iter(client.list_objects(settings.s3_bucket)), None)
    except Exception as exc:  # noqa: BLE001  (minio's S3Error names the code in its text)
        text = " ".join(str(exc).split())
        found = re.search(r"code: (\w+), message: (.*?), resource:", text)
        return f"{found.group(1)}: {found.group(2)}" if found else text[:300]
    return "nothing: listing works, writing does not"


def check_blob_store(settings: Settings) -> tuple[Check, BlobStore | None]:
    """Open the store, then write a probe blob, read it back and delete it."""
    where = str(settings.blob_dir) if settings.blobstore == "local" else \
        f"s3 {settings.s3_endpoint}, bucket {settings.s3_bucket}"
    store: BlobStore | None = None
    try:
        store = open_blobstore(settings)
        probe = b"repo-server doctor probe " + secrets.token_hex(16).encode()
        staged = Staging(settings.staging_dir).new()
        staged.write(probe)
        sha256 = staged.finish()
        store.add(staged)
        try:
            with store.open(sha256) as stream:
                back = stream.read()
        finally:
            store.delete(sha256)
        if back != probe:
            return Check("blob store", FAIL, f"{where}: the probe read back differs from what was "
                         "written", "check the storage server's health"), store
    except (BlobStoreError, OSError, RepoError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        if settings.blobstore == "minio" and "AccessDenied" in message:
            message += f" (listing the bucket says: {_s3_listing_refusal(settings)})"
        return Check("blob store", FAIL, f"{where}: {message[:400]}", _storage_fix(settings, message)), store
    return Check("blob store", OK, f"{where}: probe written, read back, deleted"), store


# -- disk ----------------------------------------------------------------------------------------
def _existing(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def check_disk(settings: Settings) -> Check:
    """Room for the largest upload (staged on this disk) and 10 % headroom."""
    usage = shutil.disk_usage(_existing(settings.data_dir))
    found = f"{_size(usage.free)} free of {_size(usage.total)} under {settings.data_dir}"
    if usage.free < settings.max_upload_bytes:
        return Check("disk", FAIL, f"{found}: less than one upload of REPO_MAX_UPLOAD_BYTES "
                     f"({_size(settings.max_upload_bytes)})",
                     "free space or move REPO_DATA_DIR to a larger disk (or lower REPO_MAX_UPLOAD_BYTES)")
    if usage.free < LOW_DISK_FRACTION * usage.total:
        return Check("disk", WARN, f"{found}: below {LOW_DISK_FRACTION:.0%}",
                     "free space or grow the disk before uploads start failing")
    return Check("disk", OK, found)


# -- tools ---------------------------------------------------------------------------------------
def _version(executable: str, flag: str) -> str:
    try:
        done = subprocess.run([executable, flag], capture_output=True, text=True,
                              timeout=_TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(did not answer {flag}: {exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    # "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) …": the part before the copyright
    return " ".join(lines[0].split(" Copyright")[0].split())[:80] if lines else "(no version)"


def check_tools(settings: Settings) -> list[Check]:
    """ffmpeg/ffprobe, LibreOffice and rsync: present (with versions), else what is lost."""
    mirror = settings.is_mirror
    tools = [  # name, command, version flag, level when missing, what needs it, the fix
        ("ffmpeg", "ffmpeg", "-version", OK if mirror else FAIL,
         "video and audio renditions, posters and storyboards", "apt-get install ffmpeg"),
        ("ffprobe", "ffprobe", "-version", OK if mirror else FAIL,
         "reading videos' length and streams (every video job)", "apt-get install ffmpeg"),
        ("soffice", settings.soffice, "--version", OK if mirror else WARN,
         "text of legacy DOC/PPT/XLS/WPS files and page previews of Office documents",
         "apt-get install libreoffice-core libreoffice-writer libreoffice-impress libreoffice-calc "
         "fonts-noto-cjk, or set REPO_SOFFICE"),
        ("rsync", "rsync", "--version", FAIL if mirror else WARN,
         "school mirrors: scripts/repo-sync and the rsync module schools sync from",
         "apt-get install rsync"),
    ]
    checks = []
    for name, command, flag, missing, needs, fix in tools:
        path = shutil.which(command)
        if path is None:
            if missing == OK:
                checks.append(Check(name, OK, f"{command} not found; not needed on a mirror "
                                    "(renditions and texts arrive with the sync)"))
            else:
                checks.append(Check(name, missing, f"{command} not found on PATH: no {needs}", fix))
            continue
        checks.append(Check(name, OK, f"{_version(path, flag)} ({path})"))
    return checks


# -- what the catalog says -----------------------------------------------------------------------
def check_index(svc: Services) -> Check:
    status = index_status(svc)
    if status["generation"] is None:
        return Check("index", WARN, f"no search index yet in {status['root']}",
                     "start `repo-server serve` (its background work builds it) or `repo-server index "
                     "run`; `repo-server index rebuild` builds it now")
    if status["outdated"]:
        return Check("index", WARN, f"index schema {status['schema']} is older than this version's",
                     "run `repo-server index rebuild` (the indexer also rebuilds it on start)")
    found = (f"{status['documents']:,} documents, change {status['seq']:,} of "
             f"{status['catalog_seq']:,} applied")
    if status["lag"] and status["lag_seconds"] > INDEX_LAG_WARN_S:
        return Check("index", WARN, f"{found}: {status['lag']:,} changes waiting for "
                     f"{status['lag_seconds']:.0f} s",
                     "is anything indexing? `repo-server serve` with REPO_BACKGROUND_WORK on, or "
                     "`repo-server index run`")
    return Check("index", OK, found)


def check_jobs(svc: Services) -> Check:
    with svc.catalog.read() as session:
        failed = session.scalar(select(func.count()).where(MediaJob.status == "failed")) or 0
        oldest = session.scalar(select(func.min(MediaJob.updated_at)).where(MediaJob.status == "queued"))
    found = f"{failed} failed media jobs (`repo-server media status --status failed`)"
    if oldest is not None and utcnow() - oldest > JOB_WAIT_WARN:
        hours = (utcnow() - oldest).total_seconds() / 3600
        return Check("jobs", WARN, f"{found}; a queued job has waited {hours:.1f} h",
                     "is a media worker running? `repo-server serve` starts one unless "
                     "REPO_EMBEDDED_WORKER=false, else run `repo-server worker`")
    return Check("jobs", OK, found)


def check_mirrors(svc: Services) -> list[Check]:
    """This server's own sync state when it is a mirror; stale downstream mirrors."""
    checks = []
    status = local_mirror_status(svc)
    if status is not None and not status["readable"]:
        checks.append(Check("mirror", FAIL, f"{status['path']}: {status['problem']}",
                            "run scripts/repo-sync again (it rewrites the status)"))
    elif status is not None:
        found = (f"serial {status['serial']} of upstream {status['upstream']}, last result "
                 f"{status['result']}")
        if status["stale"]:
            checks.append(Check("mirror", WARN, f"{found}; no success for longer than "
                                f"{svc.settings.mirror_stale_hours} h ({status['error'] or 'no error recorded'})",
                                "check the repo-sync timer/cron and the link to the upstream"))
        else:
            checks.append(Check("mirror", OK, found))
    counts = downstream_mirror_counts(svc)
    if counts.get("stale"):
        checks.append(Check("downstream", WARN, f"{counts['stale']} of {sum(counts.values())} "
                            "downstream mirrors have not synced successfully for longer than "
                            f"{svc.settings.mirror_stale_hours} h", "see /admin/mirrors"))
    elif counts.get("fresh"):
        checks.append(Check("downstream", OK, f"{counts['fresh']} downstream mirrors, none stale"))
    return checks


def run_checks(checks: Iterable[tuple[str, Callable[[], list[Check] | Check]]]) -> list[Check]:
    """Run named checks in order; one that crashes becomes a FAIL naming the error."""
    out: list[Check] = []
    for name, check in checks:
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001  (the report goes on with the other checks)
            out.append(Check(name, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}",
                             "report this with the output of `repo-server doctor`"))
            continue
        out.extend(result if isinstance(result, list) else [result])
    return out
