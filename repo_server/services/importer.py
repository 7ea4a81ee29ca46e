"""Bulk import of an existing district library: folder trees in, resources out.

`import_tree` walks the given folders (import_paths.walk), derives metadata from each path
(PathMapper) and from CSV sidecars (import_sidecar), and files every file through
`resources.ingest`, the one way bytes enter the library, so the type policy, validation,
dedup and the all-or-nothing storage guarantee are the same as for web uploads.

Resumable: every imported (or duplicate) file gets an ImportRecord keyed by the sha256 of
its absolute path bytes with its size and mtime; a re-run skips files whose record still
matches without opening them, so a 250 GB library is not read twice. The record is written
after the ingest commits: if the process dies in between, the re-run reads the file again,
finds its bytes already in the library and records it as a duplicate; nothing is doubled,
nothing lost. Failures are not recorded, so a re-run retries them.

One file's problem never stops the run (it is counted with its reason); a storage failure,
a database failure or Ctrl-C does, leaving the files done so far recorded and the current
one discarded. Pass a `report` to keep the partial counts when that happens.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from repo_server.blobstore.staging import HEAD_BYTES
from repo_server.catalog.base import utcnow
from repo_server.catalog.events import ImportRecord
from repo_server.catalog.models import User
from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import (ConfigError, Duplicate, InvalidInput, NotFound, PermissionDenied,
                                RejectedFile, StorageError, TooLarge)
from repo_server.ingest import check_acceptable, sniff

from .accounts import find_org
from .actor import Actor
from .context import Services
from .fields import parse_metadata
from .import_paths import PathMapper, SourceFile, Undecodable, decode_parts, escaped, walk
from .import_sidecar import Sidecars, merge_metadata, shown_metadata
from .permissions import require_uploader
from .resources import ingest

__all__ = ["ImportOptions", "ImportReport", "FileResult", "Progress", "import_tree", "import_actor",
           "MAX_LISTED"]

MAX_LISTED = 1000   # failures/warnings/skips kept in the report; counts are always complete
_BATCH = 200        # files whose import records are looked up in one query
Progress = Callable[[int, int, "FileResult | None"], None]


@dataclass(frozen=True)
class ImportOptions:
    org: str | None = None           # organisation id, path or unique name
    status: str | None = None        # draft | published (default: ingest's, published)
    visibility: str | None = None    # public | organisation | private
    csv: Path | None = None          # sidecar applying to every root
    dry_run: bool = False
    allow_duplicates: bool = False


@dataclass
class FileResult:
    path: str                        # shown to people; escapes where a name is undecodable
    outcome: str                     # imported | skipped | failed
    reason: str = ""                 # already_imported, duplicate, link, or an error code
    message: str = ""
    resource_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool = False
    finished: bool = False           # False: interrupted or aborted; the counts so far
    total: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0                 # junk: .DS_Store, Thumbs.db, ~$ lock files …
    warning_count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)   # "failed:empty_file" → 3
    failures: list[dict[str, str]] = field(default_factory=list)
    skips: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)
        key = f"{result.outcome}:{result.reason}" if result.reason else result.outcome
        self.reasons[key] = self.reasons.get(key, 0) + 1
        entry = {"path": result.path, "reason": result.reason, "message": result.message}
        listing = {"failed": self.failures, "skipped": self.skips}.get(result.outcome)
        if listing is not None and len(listing) < MAX_LISTED \
                and result.reason != "already_imported":  # normal on re-runs: counted only
            listing.append(entry)
        for message in result.warnings:
            self.warning_count += 1
            if len(self.warnings) < MAX_LISTED:
                self.warnings.append({"path": result.path, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_actor(svc: Services, username: str | None) -> Actor:
    """The user an import acts as: USERNAME (an editor or admin), else the first admin.

    Imported resources need a real owner and the change log a real actor, so there is no
    anonymous "system" actor; by default the oldest active administrator is used.
    """
    with svc.catalog.read() as session:
        query = select(User).order_by(User.id).limit(1)
        if username:
            user = session.scalars(query.where(User.username == username)).first()
            if user is None:
                raise NotFound(f"no user {username!r}")
        else:
            user = session.scalars(query.where(User.role == "admin", User.active.is_(True))).first()
            if user is None:
                raise ConfigError("there is no administrator to import as: create one with "
                                  "`repo-server user add NAME --role admin` or pass --as USERNAME")
        if not user.active:
            raise PermissionDenied(f"user {user.username!r} is disabled")
        actor = Actor.of(user)
    require_uploader(actor)
    return actor


def import_tree(svc: Services, actor: Actor, roots: Sequence[str | bytes | os.PathLike],
                *, options: ImportOptions = ImportOptions(), progress: Progress | None = None,
                report: ImportReport | None = None) -> ImportReport:
    """Import every file under `roots`; `progress(done, total, result)` is called once with
    (0, total, None) after counting and then after each file."""
    require_uploader(actor)
    return _Run(svc, actor, roots, options, progress, report or ImportReport()).run()


class _SourceError(Exception):
    """Reading the source file failed (as opposed to writing the staging copy)."""


class _Reader:
    """The source file as a stream whose read errors are told apart from staging errors."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def read(self, size: int = -1) -> bytes:
        try:
            return self.handle.read(size)
        except OSError as exc:
            raise _SourceError(exc.strerror or str(exc)) from exc


class _Run:
    """One import: the roots, sidecars and vocabulary snapshot, and the per-file steps."""

    def __init__(self, svc: Services, actor: Actor, roots: Sequence, options: ImportOptions,
                 progress: Progress | None, report: ImportReport) -> None:
        self.svc, self.actor, self.options, self.report = svc, actor, options, report
        self.progress = progress or (lambda done, total, result: None)
        self.roots = [os.path.realpath(os.fsencode(root)) for root in roots]
        for root, given in zip(self.roots, roots, strict=True):
            if not os.path.isdir(root):
                raise InvalidInput(f"not a folder: {escaped(os.fsencode(given))}", field="path")
        self.sidecars = Sidecars.load(self.roots, options.csv)
        # Never import the sidecars, nor this server's own data (an import of "/" …).
        own_data = os.path.realpath(os.fsencode(svc.settings.data_dir))
        self.exclude = frozenset(self.sidecars.paths | {own_data})
        with svc.catalog.read() as session:
            self.vocab = VocabIndex.load(session)
            self.org_id = self._org(session) if options.org else None
            session.expunge_all()  # keep the terms usable after the session ends
        self.mapper = PathMapper(self.vocab)
        self.report.dry_run = options.dry_run

    def _org(self, session: Session) -> int:
        org = find_org(session, self.options.org)
        if not self.actor.is_admin and not (self.actor.org_path and
                                            org.path.startswith(self.actor.org_path)):
            raise PermissionDenied(f"{self.actor.username} may not file resources under {org.name}")
        return org.id

    def _items(self, *, count_ignored: bool) -> Iterator[SourceFile]:
        ignored: list[bytes] | None = [] if count_ignored else None
        for root in self.roots:
            yield from walk(root, exclude=self.exclude, ignored=ignored)
            if ignored is not None:
                self.report.ignored, ignored = self.report.ignored + len(ignored), []

    def run(self) -> ImportReport:
        report = self.report
        report.total = sum(1 for _ in self._items(count_ignored=False))
        self.progress(0, report.total, None)
        done, batch = 0, []
        for item in self._items(count_ignored=True):
            batch.append(item)
            if len(batch) >= _BATCH:
                done = self._batch(batch, done)
                batch = []
        self._batch(batch, done)
        for row in self.sidecars.unused():
            report.add(FileResult(f"{row.source} line {row.line}", "failed", "csv_row_unmatched",
                                  f"no file {row.path} under the import folder"))
        report.finished = True
        return report

    def _batch(self, items: list[SourceFile], done: int) -> int:
        keys = {item: _source_key(item.path) for item in items}
        with self.svc.catalog.read() as session:
            records = {r.source_key: (r.size, r.mtime_ns, r.resource_id) for r in session.scalars(
                select(ImportRecord).where(ImportRecord.source_key.in_(set(keys.values()))))}
        for item in items:
            result = self._one(item, keys[item], records.get(keys[item]))
            self.report.add(result)
            done += 1
            self.progress(done, self.report.total, result)
        return done

    def _label(self, item: SourceFile) -> str:
        return item.display if len(self.roots) == 1 else f"{escaped(item.root)}/{item.display}"

    def _one(self, item: SourceFile, key: str,
             record: tuple[int, int, str | None] | None) -> FileResult:
        label = self._label(item)
        if item.error:
            return FileResult(label, "failed", "unreadable", item.error)
        if item.skip:
            return FileResult(label, "skipped", "link", item.skip)
        try:
            names, warnings = decode_parts(item.parts)
        except Undecodable as exc:
            return FileResult(label, "failed", "undecodable_name",
                              f"{exc}; rename it (e.g. `convmv -f gbk -t utf-8 -r --notest`) "
                              "and run the import again")
        csv = self.sidecars.values(item.root, "/".join(names))  # before any skip: marks rows used
        try:
            st = os.stat(item.path)
        except OSError as exc:
            return FileResult(label, "failed", "unreadable", f"cannot read: {exc.strerror}")
        if record and record[0] == st.st_size and record[1] == st.st_mtime_ns:
            return FileResult(label, "skipped", "already_imported", "already imported",
                              resource_id=record[2])
        meta = self.mapper.map(names[:-1], PurePosixPath(names[-1]).stem or names[-1])
        base = {k: v for k, v in (("status", self.options.status),
                                  ("visibility", self.options.visibility)) if v}
        raw, more = merge_metadata(self.vocab, base, meta, csv)
        result = FileResult(label, "failed", warnings=warnings + meta.warnings + more)
        limit = self.svc.settings.max_upload_bytes
        if st.st_size > limit:
            result.reason, result.message = TooLarge.code, f"larger than the {limit:,} byte limit"
            return result
        try:
            if self.options.dry_run:
                return self._dry(item, names[-1], st.st_size, raw, result)
            return self._ingest(item, key, names[-1], raw, result)
        except (RejectedFile, InvalidInput) as exc:
            result.reason, result.message = exc.code, exc.message
        except _SourceError as exc:
            result.reason, result.message = "unreadable", f"cannot read: {exc}"
        return result

    def _with_type(self, raw: dict[str, Any], family: str) -> dict[str, Any]:
        if "type" not in raw:
            term = self.mapper.family_type(family)
            if term is not None:
                return {**raw, "type": term.code}
        return raw

    def _dry(self, item: SourceFile, name: str, size: int, raw: dict[str, Any],
             result: FileResult) -> FileResult:
        """What the file would get: type policy from its first bytes, metadata validated."""
        try:
            with open(item.path, "rb") as handle:
                head = _Reader(handle).read(HEAD_BYTES)
        except OSError as exc:
            raise _SourceError(exc.strerror or str(exc)) from exc
        sniffed = check_acceptable(head, size, name, Path(os.fsdecode(item.path)))
        fields = parse_metadata(self._with_type(raw, sniffed.family), self.vocab)
        result.outcome, result.metadata = "imported", shown_metadata(fields)
        return result

    def _ingest(self, item: SourceFile, key: str, name: str, raw: dict[str, Any],
                result: FileResult) -> FileResult:
        try:
            handle = open(item.path, "rb")
        except OSError as exc:
            raise _SourceError(exc.strerror or str(exc)) from exc
        staged = None
        try:
            with handle:
                st = os.fstat(handle.fileno())  # what is recorded is what was read
                try:
                    staged = self.svc.staging.receive(_Reader(handle), filename=name,
                                                      max_bytes=self.svc.settings.max_upload_bytes)
                except OSError as exc:  # writing the staging copy: the server's disk, not the file
                    raise StorageError(f"cannot write to the staging area "
                                       f"{self.svc.settings.staging_dir}: {exc.strerror}") from exc
            raw = self._with_type(raw, sniff(staged.head, name, staged.path).family)
            view = ingest(self.svc, self.actor, staged, name, raw, vocab=self.vocab,
                          allow_duplicate=self.options.allow_duplicates, org_id=self.org_id)
        except Duplicate as exc:
            existing = exc.details.get("existing") or {}
            where = f" as “{existing['title']}” ({existing['id']})" if existing else ""
            self._record(item, key, st, staged.sha256, existing.get("id"), "duplicate")
            result.outcome, result.reason = "skipped", "duplicate"
            result.message = f"the same content is already in the library{where}"
            return result
        finally:
            if staged is not None:
                staged.discard()  # ingest consumed it; this covers failures before ingest
        self._record(item, key, st, view["sha256"], view["id"], "imported")
        result.outcome, result.resource_id = "imported", view["id"]
        result.metadata = shown_metadata(view)
        return result

    def _record(self, item: SourceFile, key: str, st: os.stat_result, sha256: str | None,
                resource_id: str | None, outcome: str) -> None:
        with self.svc.catalog.write() as session:
            session.merge(ImportRecord(
                source_key=key, source=f"{escaped(item.root)}/{item.display}", size=st.st_size,
                mtime_ns=st.st_mtime_ns, sha256=sha256 or "", resource_id=resource_id,
                outcome=outcome, at=utcnow()))


def _source_key(path: bytes) -> str:
    return hashlib.sha256(path).hexdigest()

