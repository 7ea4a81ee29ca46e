"""Resumable uploads (the state behind the tus protocol), kept on the staging disk.

An upload is a directory `<data>/tmp/uploads/<id>/` holding `info.json` (owner, declared
length, validated metadata, state), `data` (the bytes received so far) and `lock`. The
offset is the size of `data`: nothing else to keep in step, and it survives restarts and is
the same for every gunicorn worker. Requests on one upload take an exclusive `flock` on
`lock`, so two workers never append at once; a lock file that is gone means the upload is.

Bytes are appended by upload_bytes.py (constant memory, fsync'd before the answer, a
broken-off body kept for resuming). When the last byte arrives the file is filed through
`resources.ingest` with the metadata given at creation — from a hard link, so the bytes
survive a refusal: a file refused for its metadata or as a duplicate stays for a retry with
corrected fields (`retry`) until deleted or expired; a file refused for its content
(dangerous, unsupported, empty) is dropped at once. Uploads untouched for
REPO_UPLOAD_EXPIRE_HOURS are swept.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from repo_server.blobstore import StagedFile
from repo_server.blobstore.staging import HEAD_BYTES
from repo_server.catalog.vocab import VocabIndex
from repo_server.durable import write_atomic
from repo_server.errors import EmptyFile, NotFound, RejectedFile, RepoError, StorageError, TooLarge
from repo_server.ingest import sniff

from .actor import Actor
from .context import Services
from .fields import parse_metadata
from .permissions import require_uploader
from .resources import get_resource, ingest
from .upload_bytes import Checksum, ChecksumMismatch, NoSpace, digest, forget, receive
from .upload_metadata import UploadPlan, family_type, plan_upload

__all__ = ["UploadInfo", "Checksum", "OffsetMismatch", "UploadLocked", "ChecksumMismatch",
           "NoSpace", "UploadStateConflict", "create", "find", "offset_of", "append", "retry",
           "delete", "describe", "sweep_expired", "uploads_dir", "expires_at"]

log = logging.getLogger(__name__)

RECEIVING, DONE, FAILED = "receiving", "done", "failed"
LOCK_WAIT_S = 3.0
_RESERVE = 256 * 1024 * 1024          # free space kept beyond every upload's declared need
_SWEEP_EVERY_S = 60.0
_ID = re.compile(r"^[0-9a-f]{32}$")


class OffsetMismatch(RepoError):
    """Upload-Offset is not where the upload stands; `details['offset']` is."""
    code = "offset_mismatch"


class UploadLocked(RepoError):
    """Another request is writing this upload (often one whose connection just dropped)."""
    code = "locked"


class UploadStateConflict(RepoError):
    """The upload is not in a state that allows this (e.g. retrying a filed upload)."""
    code = "upload_state"


@dataclass
class UploadInfo:
    id: str
    owner_id: int
    length: int
    plan: UploadPlan
    created_at: float
    updated_at: float
    state: str = RECEIVING
    resource_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    kept: bool = True                  # failed: are the bytes still there for a retry?

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "UploadInfo":
        return cls(**{**data, "plan": UploadPlan(**data["plan"])})


# -- places, locks, info files ------------------------------------------------------------------
def uploads_dir(svc: Services) -> Path:
    return svc.settings.staging_dir / "uploads"


def _read_info(directory: Path) -> UploadInfo:
    try:
        return UploadInfo.from_json(json.loads((directory / "info.json").read_text("utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        raise NotFound("no such upload") from None


def _write_info(directory: Path, info: UploadInfo) -> None:
    info.updated_at = time.time()
    write_atomic(directory / "info.json", json.dumps(asdict(info), ensure_ascii=False), sync_dir=False)


@contextmanager
def _locked(directory: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[UploadInfo]:
    """Hold the upload's lock (waiting up to `wait_s`) and yield its info, read under it."""
    try:
        handle = open(directory / "lock", "rb")   # never created here: a gone upload stays gone
    except OSError:
        raise NotFound("no such upload", reason="no_upload") from None
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UploadLocked("another request is still writing this upload (a dropped "
                                       "connection is noticed within a minute); try again",
                                       reason="upload_locked") from None
                time.sleep(0.05)
        yield _read_info(directory)            # deleted while we waited: NotFound
    finally:
        handle.close()                          # releases the flock


def expires_at(svc: Services, directory: Path, info: UploadInfo) -> float:
    """Last activity (info written or bytes appended) plus REPO_UPLOAD_EXPIRE_HOURS."""
    try:
        touched = max(info.updated_at, (directory / "data").stat().st_mtime)
    except FileNotFoundError:
        touched = info.updated_at
    return touched + svc.settings.upload_expire_hours * 3600


def find(svc: Services, actor: Actor, upload_id: str) -> tuple[Path, UploadInfo]:
    """The actor's own upload: anyone else's, a missing or an expired one is NotFound."""
    require_uploader(actor)
    directory = uploads_dir(svc) / upload_id
    if not _ID.match(upload_id):
        raise NotFound("no such upload", reason="no_upload")
    info = _read_info(directory)
    if info.owner_id != actor.user_id:
        raise NotFound("no such upload", reason="no_upload")
    if expires_at(svc, directory, info) < time.time():
        raise NotFound("the upload expired and will be deleted; upload the file again",
                       reason="upload_expired")
    return directory, info


def offset_of(directory: Path, info: UploadInfo) -> int:
    if info.state != RECEIVING:
        return info.length
    try:
        return (directory / "data").stat().st_size
    except FileNotFoundError:
        return 0


# -- creation ------------------------------------------------------------------------------------
def create(svc: Services, actor: Actor, length: int, metadata: Mapping[str, str]) -> UploadInfo:
    """Validate the declared length and metadata, check the disk, make the upload."""
    require_uploader(actor)
    limit = svc.settings.max_upload_bytes
    if length > limit:
        raise TooLarge(f"the file ({length:,} bytes) is larger than the limit of {limit:,} bytes",
                       reason="too_large", limit=limit)
    with svc.catalog.read() as session:
        plan = plan_upload(VocabIndex.load(session), metadata)
    if length == 0:
        raise EmptyFile(f"{plan.filename} is empty (0 bytes); nothing was stored",
                        reason="empty_file", filename=plan.filename)
    area = uploads_dir(svc)
    area.mkdir(parents=True, exist_ok=True)
    sweep_expired(svc, throttle=True)
    _check_space(area, length)
    upload_id = secrets.token_hex(16)
    directory = area / upload_id
    directory.mkdir()
    now = time.time()
    info = UploadInfo(id=upload_id, owner_id=actor.user_id, length=length, plan=plan,
                      created_at=now, updated_at=now)
    (directory / "data").touch()
    _write_info(directory, info)
    (directory / "lock").touch()   # last: an upload is usable only once complete
    return info


def _check_space(area: Path, length: int) -> None:
    pending = 0
    for directory in area.iterdir():
        try:
            info = _read_info(directory)
            if info.state == RECEIVING:
                pending += info.length - offset_of(directory, info)
        except (NotFound, OSError):
            continue
    free = shutil.disk_usage(area).free
    if length + pending + _RESERVE > free:
        raise NoSpace(f"not enough free space on the server for this upload ({length:,} bytes; "
                      f"{free:,} free, {pending:,} promised to uploads in progress); ask an "
                      "administrator to free space", reason="no_space", needed=length)


def append(svc: Services, actor: Actor, upload_id: str, *, offset: int,
           read: Callable[[int], bytes], declared: int | None = None,
           checksum: Checksum | None = None) -> tuple[int, UploadInfo]:
    """Append a request body at `offset`; file the upload when its last byte arrived.

    Returns the new offset and the info (state done/failed once filed). `read` raising
    (a dropped connection) keeps the bytes that arrived, unless a checksum was sent.
    """
    directory, _info = find(svc, actor, upload_id)
    with _locked(directory) as info:
        current = offset_of(directory, info)
        if offset != current:
            raise OffsetMismatch(f"Upload-Offset is {offset} but the upload stands at {current}; "
                                 "ask with HEAD and continue from there", reason="offset_mismatch",
                                 offset=current)
        remaining = info.length - current
        if declared is not None and declared > remaining:
            raise TooLarge(f"this request carries {declared:,} bytes but only {remaining:,} "
                           "remain of the declared Upload-Length", reason="too_much_data",
                           remaining=remaining)
        if info.state != RECEIVING:
            return current, info
        current += receive(directory / "data", current, remaining, read, checksum)
        if current == info.length:
            info = _file(svc, actor, directory, info)
        return current, info


# -- filing --------------------------------------------------------------------------------------
def _file(svc: Services, actor: Actor, directory: Path, info: UploadInfo, *,
          raise_errors: bool = False) -> UploadInfo:
    """Ingest the complete upload; record the outcome in its info (under its lock)."""
    data = directory / "data"
    sha256 = digest(data, info.length)
    with open(data, "rb") as source:
        head = source.read(HEAD_BYTES)
    for stale in directory.glob("ingest-*"):   # left by a process that died mid-ingest
        stale.unlink(missing_ok=True)
    link = directory / f"ingest-{secrets.token_hex(4)}"
    try:
        os.link(data, link)   # ingest consumes the link; `data` stays until the outcome is known
    except OSError:           # a filesystem without hard links: a copy keeps the same promise
        shutil.copyfile(data, link)
    staged = StagedFile.received(link, sha256=sha256, size=info.length, head=head,
                                 filename=info.plan.filename)
    fields = dict(info.plan.fields)
    error: RepoError | None = None
    try:
        if info.plan.relative_path and "type" not in fields:
            with svc.catalog.read() as session:
                code = family_type(VocabIndex.load(session), sniff(head, info.plan.filename, link).family)
            if code:
                fields["type"] = code
        view = ingest(svc, actor, staged, info.plan.filename, fields,
                      allow_duplicate=info.plan.allow_duplicate)
    except RepoError as exc:
        error = exc
    except Exception:
        log.exception("filing upload %s failed", info.id)
        error = StorageError("the server could not file the upload; the bytes are kept: retry "
                             "later, or tell an administrator if it keeps failing",
                             reason="filing_failed")
    finally:
        link.unlink(missing_ok=True)
    if error is None:
        info.state, info.resource_id, info.errors = DONE, view["id"], []
        data.unlink(missing_ok=True)
    else:
        info.state = FAILED
        info.errors = error.details.get("errors") or [error.as_dict()]
        info.kept = not isinstance(error, RejectedFile)   # content refused: no retry can help
        if not info.kept:
            data.unlink(missing_ok=True)
    _write_info(directory, info)
    if error is not None and raise_errors:
        raise error
    return info


def retry(svc: Services, actor: Actor, upload_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """File a finished upload again after a refusal, with some fields changed (an empty
    value removes a field) and/or allow_duplicate; return the resource's view."""
    directory, _info = find(svc, actor, upload_id)
    with _locked(directory) as info:
        if info.state == DONE:
            raise UploadStateConflict("this upload was filed already", reason="upload_filed")
        if info.state == RECEIVING:
            raise UploadStateConflict("this upload is not finished yet", reason="upload_unfinished")
        if not info.kept:
            raise UploadStateConflict("the file itself was refused and its bytes are gone; upload a "
                                      "corrected file", reason="upload_refused")
        fields = dict(info.plan.fields)
        for name, value in changes.items():
            if name == "allow_duplicate":
                info.plan.allow_duplicate = value is True or str(value).lower() in {"1", "true", "yes", "on"}
            elif value in (None, "", []):
                fields.pop(name, None)
            else:
                fields[name] = value
        with svc.catalog.read() as session:
            parse_metadata(fields, VocabIndex.load(session))   # refuse before touching the info
        info.plan.fields = fields
        info = _file(svc, actor, directory, info, raise_errors=True)
    return get_resource(svc, actor, info.resource_id)


def delete(svc: Services, actor: Actor, upload_id: str) -> None:
    """Terminate an upload: its bytes and state are removed."""
    directory, _info = find(svc, actor, upload_id)
    with _locked(directory):
        forget(directory / "data")
        shutil.rmtree(directory)


def describe(svc: Services, actor: Actor, upload_id: str) -> dict[str, Any]:
    """State of an upload for its owner: offset, metadata, and the resource or the errors."""
    directory, info = find(svc, actor, upload_id)
    body: dict[str, Any] = {
        "id": info.id, "state": info.state, "offset": offset_of(directory, info),
        "length": info.length, "filename": info.plan.filename,
        "relative_path": info.plan.relative_path, "metadata": info.plan.fields,
        "allow_duplicate": info.plan.allow_duplicate, "warnings": info.plan.warnings,
        "expires_at": expires_at(svc, directory, info), "resource": None, "errors": info.errors,
        "retry": info.state == FAILED and info.kept}
    if info.state == DONE:
        try:
            body["resource"] = get_resource(svc, actor, info.resource_id)
        except NotFound:   # withdrawn since
            body["resource"] = {"id": info.resource_id, "deleted": True}
    return body


# -- expiry --------------------------------------------------------------------------------------
_last_sweep: dict[str, float] = {}


def sweep_expired(svc: Services, *, throttle: bool = False, now: float | None = None) -> int:
    """Delete uploads untouched for REPO_UPLOAD_EXPIRE_HOURS (skipping any being written);
    return how many. `throttle`: at most once a minute per process (called on creation)."""
    area = uploads_dir(svc)
    if throttle:
        if time.monotonic() - _last_sweep.get(str(area), -_SWEEP_EVERY_S) < _SWEEP_EVERY_S:
            return 0
        _last_sweep[str(area)] = time.monotonic()
    if not area.is_dir():
        return 0
    now = time.time() if now is None else now
    removed = 0
    for directory in area.iterdir():
        try:
            with _locked(directory, wait_s=0) as info:
                if expires_at(svc, directory, info) < now:
                    forget(directory / "data")
                    shutil.rmtree(directory)
                    removed += 1
        except UploadLocked:
            continue
        except NotFound:   # half-made or broken: judged by its age alone
            if directory.is_dir() and directory.stat().st_mtime + \
                    svc.settings.upload_expire_hours * 3600 < now:
                shutil.rmtree(directory, ignore_errors=True)
                removed += 1
    return removed
