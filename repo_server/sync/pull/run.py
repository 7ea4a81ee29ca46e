"""One sync run, start to end (DESIGN.md §4, docs/mirrors.md "The downstream"):

lock → end an orphan rsync → fetch CURRENT, stop when unchanged → the new manifest (the
delta applied to the held one when its base is ours, else the whole manifest; hashes
checked either way) → selection → plan → stage 1: missing objects into the staging area,
verified, then adopted by the blob store (a rename with the local store: no copy) → stage 2:
the catalog in one transaction, the local index caught up (a first sync: both prepared while
the objects still arrive, overlap.py) → `sync/CURRENT` LAST by rename →
garbage collection one version late → status.json, trace.jsonl, report upstream.

Nothing here knows Flask or the search index: the caller passes `catch_up` and
`prepare_index` (the index) and the catalog and blob store (`Wiring`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from repo_server.blobstore import BlobStore, StagedFile
from repo_server.errors import RepoError, StorageError
from repo_server.locks import FileLock

from ..delta import apply_delta
from ..manifest import ManifestError, file_sha256, parse_line, read_manifest_head
from ...durable import fsync_dir
from ..tree import Current, _syncfs
from .errors import EXIT_CODES, SyncFailure
from .fetch import Fetcher
from .gc import LocalGc, collect_local
from .plan import Plan, make_plan
from .report import post_status
from .rsync import Rsync, end_orphan
from .selection import Selection
from .source import parse_upstream
from .state import SyncState, utc_now
from .options import SyncOptions

if TYPE_CHECKING:      # the catalog (SQLAlchemy) is imported only by a run that applies something
    from sqlalchemy.orm import Session

    from ..build import Wiring
    from .apply import ApplyReport
    from .overlap import PreparedIndex

    WiringOrOpener = Union[Wiring, Callable[[], Wiring]]

__all__ = ["SyncOutcome", "run_sync"]


@dataclass
class SyncOutcome:
    status: dict[str, Any]
    summary: list[str] = field(default_factory=list)
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status["result"]]


class _Run:
    def __init__(self, options: SyncOptions, wiring: "WiringOrOpener", state: SyncState,
                 catch_up: Callable[[], str] | None, prepare_index: "Callable[[Session], PreparedIndex] | None",
                 log: Callable[[str], None], outcome: SyncOutcome) -> None:
        self.options, self._wiring, self.state, self.catch_up, self.log = options, wiring, state, catch_up, log
        self.prepare_index = prepare_index
        self.outcome, self.trace = outcome, outcome.trace
        self.upstream = parse_upstream(options.upstream)
        rsync = Rsync(rsync=options.rsync, pgid_file=state.pgid_file, stall_s=options.stall_s,
                      run_timeout_s=options.run_timeout_s, log=log)
        common = [f"--timeout={options.io_timeout_s}", "--no-motd"]
        if options.bwlimit:
            common.append(f"--bwlimit={options.bwlimit}")
        common += self.upstream.transport_options(password_file=options.password_file,
                                                  connect_timeout=options.connect_timeout_s, ssh_command=options.ssh)
        self.fetcher = Fetcher(rsync, self.upstream, common, retries=options.retries,
                               backoff_s=options.backoff_s, batch=options.batch, log=log)

    @property
    def wiring(self) -> "Wiring":
        """The catalog and blob store, opened on first use: a run that ends "up to date"
        never opens them (no SQLAlchemy import, no migration check — goal ≤ 2 s)."""
        if isinstance(self._wiring, Future):
            self._wiring = self._wiring.result()
        elif callable(self._wiring):
            self._wiring = self._wiring()
        return self._wiring

    def open_early(self) -> None:
        """Start opening the catalog and blob store in a thread, while the manifest travels:
        the imports and a new mirror's migrations took ~1.4 s, the manifest ~1.4 s."""
        if callable(self._wiring) and not isinstance(self._wiring, Future):
            opener = ThreadPoolExecutor(1, thread_name_prefix="repo-sync open")
            self._wiring = opener.submit(self._wiring)
            opener.shutdown(wait=False)

    def settle(self) -> None:
        """Wait for an early opening the run did not get to use (the caller closes it)."""
        if isinstance(self._wiring, Future):
            wait([self._wiring])

    # -- the steps -----------------------------------------------------------------------
    def go(self) -> None:
        state, status = self.state, self.outcome.status
        if end_orphan(state.pgid_file):
            self.log("ended an rsync left running by a killed earlier run")
        current_path = self.fetcher.file("CURRENT", state.incoming)
        current_bytes = current_path.read_bytes()
        try:
            remote = Current.from_dict(json.loads(current_bytes))
        except (ValueError, ManifestError) as exc:
            raise SyncFailure("failed", f"the upstream CURRENT is unreadable: {exc}") from None
        status["upstream_serial"] = remote.serial
        status["chain"] = [str(link.get("name", "")) for link in remote.chain] + [self.outcome.status["name"]]
        self.trace.update(upstream_serial=remote.serial, upstream_chain=remote.chain)
        applied = state.applied_current()
        recorded = state.recorded()
        if (applied and applied.get("sha256") == remote.sha256 and applied.get("serial") == remote.serial
                and recorded.get("request") == self.options.request() and state.manifest.is_file()):
            status["result"] = "up_to_date"
            self.outcome.summary.append(f"up to date: serial {remote.serial} from {self.upstream.spec}")
            if self.options.force:      # the operator confirms a collection the guard refused
                self._collect(state.referenced_objects() | state.referenced_objects(previous=True))
            return
        self.open_early()
        new = self._manifest(remote, applied)
        _, vocabulary = read_manifest_head(new)
        selection = Selection.resolve(self.options.only, vocabulary, renditions=self.options.renditions,
                                      pages=self.options.pages)
        incremental = applied is not None and recorded.get("selection") == selection.as_dict() and state.manifest.is_file()
        plan = make_plan(state.manifest if incremental else None, new, selection, self._have())
        self.trace.update(incremental=incremental, needed_objects=len(plan.needed), needed_bytes=plan.needed_bytes)
        texts = self.state.incoming / "texts"
        texts.mkdir(exist_ok=True)
        report = self._stages(vocabulary, plan, selection, texts)
        previous = state.commit(new, current_bytes, {"selection": selection.as_dict(), "request": self.options.request()},
                                plan.referenced)
        shutil.rmtree(texts, ignore_errors=True)
        status.update(result="ok", serial=remote.serial)
        self._summarise(applied, remote, plan, report)
        self._collect(plan.referenced | previous)

    def _collect(self, keep: set[str]) -> LocalGc:
        """Local garbage collection (gc.py): `keep` is this version's objects and the one's before."""
        gc = collect_local(self.wiring.blobs, keep, max_percent=self.options.max_delete_percent,
                           force=self.options.force)
        self.trace.update(gc_deleted=gc.deleted, gc_refused=gc.refused)
        lines = self.outcome.summary
        if gc.refused:
            lines.append(f"gc refused to delete {gc.refused} of {gc.total} objects (more than "
                         f"{self.options.max_delete_percent:g} %): run with --force if that is intended")
        elif gc.deleted:
            lines.append(f"gc deleted {gc.deleted} objects no longer referenced")
        return gc

    def _manifest(self, remote: Current, applied: dict[str, Any] | None) -> Path:
        """The target manifest in incoming/, proven to be what CURRENT names."""
        state, target = self.state, self.state.incoming / "manifest.json"
        delta = remote.delta
        if delta and applied and delta.get("base") == applied.get("serial") and state.manifest.is_file():
            try:
                path = self.fetcher.file(delta["path"], state.incoming, compress=True)
                if file_sha256(path) != (delta["sha256"], delta["size"]):
                    raise ManifestError("the delta does not hash to what CURRENT says")
                apply_delta(state.manifest, path, target)
                path.unlink()
                self.trace["manifest_from"] = "delta"
                return target
            except ManifestError as exc:
                self.log(f"delta not usable ({exc.message}): fetching the whole manifest")
        basis = state.incoming / remote.manifest.rsplit("/", 1)[-1]
        if state.manifest.is_file():          # rsync's delta transfer finds the unchanged lines
            shutil.copyfile(state.manifest, basis)
        path = self.fetcher.file(remote.manifest, state.incoming, keep=True, compress=True)
        if file_sha256(path) != (remote.sha256, remote.size):
            path.unlink()
            raise SyncFailure("retry", f"{remote.manifest} does not hash to what CURRENT names "
                                       "(the upstream published meanwhile?)")
        path.replace(target)
        self.trace["manifest_from"] = "manifest"
        return target

    def _have(self) -> Callable[[str], bool]:
        blobs = self.wiring.blobs
        if blobs.local_path(_ZERO) is not None:
            return lambda sha256: (blobs.local_path(sha256) or Path("/nonexistent")).is_file()
        stored = set(blobs.iter_sha256())     # S3: one listing instead of a HEAD per object
        return stored.__contains__

    def _stages(self, vocabulary: list[dict[str, Any]], plan: Plan, selection: Selection, texts: Path) -> ApplyReport:
        """Stage 1 then stage 2; for a first sync, stage 2 runs beside the transfer (overlap.py)."""
        from .apply import apply_entries, holds_live_resources    # SQLAlchemy and the models: only now
        from .overlap import Stage2InBackground

        def apply(session: Session) -> ApplyReport:
            return apply_entries(session, vocabulary, (parse_line(line) for line in plan.changed), plan.keep,
                                 selection, self._text_reader(texts))

        # Texts first, compressed (18 MB of a 10,000-item library's texts cross as ~4 MB).
        needed = sorted(plan.needed.items())
        text_objects = [n for n in needed if n[0] in plan.texts]
        other_objects = [n for n in needed if n[0] not in plan.texts]
        catalog = self.wiring.catalog
        with catalog.read() as session:
            first = not holds_live_resources(session)
        self.trace["overlap"] = first
        if not first:
            self._stage1(plan, text_objects, texts, compress=True)
            self._stage1(plan, other_objects, texts)
            started = time.monotonic()
            with catalog.write() as session:
                report = apply(session)
            self.trace["apply_s"] = round(time.monotonic() - started, 3)
            self._catch_up_index()
            return report

        def apply_then_clear(session: Session) -> ApplyReport:
            report = apply(session)     # the texts are in the transaction: their files can go
            shutil.rmtree(texts, ignore_errors=True)    # while the line is busy (~1 s at the end)
            return report

        self._stage1(plan, text_objects, texts, compress=True)
        background = Stage2InBackground(catalog.write, apply_then_clear, self.prepare_index).start()
        try:
            self._stage1(plan, other_objects, texts)
        except BaseException:
            background.abandon()
            raise
        started = time.monotonic()
        result = background.finish()
        self.trace.update(apply_s=result.apply_s, stage2_wait_s=round(time.monotonic() - started, 3))
        if result.index is None:
            self._catch_up_index()
        else:
            self.trace.update(index=result.index, index_s=result.index_s)
        return result.report

    def _stage1(self, plan: Plan, needed: list[tuple[str, int]], texts: Path, *, compress: bool = False) -> None:
        """Fetch, verify, adopt `needed` (rsync -z when `compress`). Texts wait in
        sync/incoming/texts for stage 2."""
        blobs: BlobStore = self.wiring.blobs
        local = blobs.local_path(_ZERO) is not None
        adopted: list[Path] = []
        shards: set[Path] = set()

        def accept(sha256: str, path: Path) -> None:
            if sha256 in plan.texts:
                if sha256 in plan.referenced:     # a text that is also a blob (a .txt upload)
                    shutil.copyfile(path, texts / sha256)
                else:
                    path.replace(texts / sha256)
                    return
            if local:       # verified already (fetch.py): a rename; durable below, all at once
                target = blobs.local_path(sha256)
                if target.parent not in shards:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shards.add(target.parent)
                os.chmod(path, 0o444)
                os.replace(path, target)
                adopted.append(target)
                return
            with open(path, "rb") as stream:
                head = stream.read(4096)
            blobs.add(StagedFile.received(path, sha256=sha256, size=path.stat().st_size, head=head))

        def settle() -> None:
            """The batch's adopted objects on disk before the catalog names them (and before
            the next run counts them as held), flushed while the next batch travels."""
            if adopted:
                _make_durable(adopted)
                adopted.clear()

        started = time.monotonic()
        try:
            self.fetcher.objects(needed, self.state.staging, accept, settle, compress=compress)
        finally:        # a failed batch: what its predecessors adopted is durable all the same
            settle()
        self.trace["stage1_s"] = round(self.trace.get("stage1_s", 0) + time.monotonic() - started, 3)

    def _text_reader(self, texts: Path) -> Callable[[str], str]:
        blobs = self.wiring.blobs

        def read_text(sha256: str) -> str:
            path = texts / sha256
            if path.is_file():
                return path.read_text(encoding="utf-8")
            with blobs.open(sha256) as stream:
                return stream.read().decode("utf-8")
        return read_text

    def _catch_up_index(self) -> None:
        if self.catch_up is not None:
            started = time.monotonic()
            self.trace["index"] = self.catch_up()
            self.trace["index_s"] = round(time.monotonic() - started, 3)

    def _summarise(self, applied: dict[str, Any] | None, remote: Current, plan: Plan, report: ApplyReport) -> None:
        was = applied.get("serial") if applied else None
        fetched = self.fetcher
        self.trace.update(created=len(report.created), updated=len(report.updated), removed=len(report.removed),
                          objects=fetched.objects_fetched, object_bytes=fetched.bytes_fetched,
                          resources=len(plan.keep))
        lines = self.outcome.summary
        lines.append(f"serial {was or 'none'} → {remote.serial} from {self.upstream.spec} "
                     f"({self.trace.get('manifest_from')}): {len(report.created)} new, {len(report.updated)} changed, "
                     f"{len(report.removed)} removed; {len(plan.keep)} resources held")
        lines.append(f"fetched {fetched.objects_fetched} objects, {_size(fetched.bytes_fetched)} "
                     f"({_size(fetched.bytes)} on the wire)")


_ZERO = "0" * 64


def _make_durable(paths: list[Path]) -> None:
    """The adopted objects and their directory entries on disk before the catalog names
    them: one syncfs of the blob store's filesystem (one fsync per object and directory cost
    ~5 ms each: 10,000 objects, 50 s), else fsync one by one."""
    syncfs = _syncfs()
    if syncfs is not None:
        descriptor = os.open(paths[0].parent, os.O_RDONLY)
        try:
            if syncfs(descriptor) == 0:
                return
        finally:
            os.close(descriptor)
    for path in paths:
        with open(path, "rb") as stream:
            os.fsync(stream.fileno())
    for directory in sorted({p.parent for p in paths}):
        fsync_dir(directory)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def run_sync(options: SyncOptions, wiring: "WiringOrOpener", *, name: str, catch_up: Callable[[], str] | None = None,
             prepare_index: "Callable[[Session], PreparedIndex] | None" = None,
             log: Callable[[str], None] = lambda _: None) -> SyncOutcome:
    """Run one sync of `options.data_dir`; never raises for the outcomes listed in errors.py.
    `wiring`: the catalog and blob store, or a function opening them (called only when the
    run has something to apply). `catch_up` brings the index up to the committed catalog;
    `prepare_index` builds a first sync's index generation from the open transaction
    (overlap.py)."""
    state = SyncState.of(options.data_dir)
    state.prepare()
    previous = state.status() or {}
    applied = state.applied_current() or {}
    outcome = SyncOutcome(status={
        "name": name, "upstream": options.upstream, "serial": applied.get("serial"),
        "upstream_serial": previous.get("upstream_serial"), "result": "failed", "error": None,
        "last_success_at": previous.get("last_success_at"), "last_attempt_at": utc_now(), "bytes": 0,
        "duration_s": 0.0, "chain": [str(c.get("name", "")) for c in applied.get("chain", [])] + [name]})
    lock = FileLock.try_acquire(state.lock_file)
    if lock is None:
        outcome.status.update(result="retry", error="another repo-sync is running for this data dir")
        return outcome          # the running one owns status.json and the trace
    started = time.monotonic()
    run: _Run | None = None
    try:
        run = _Run(options, wiring, state, catch_up, prepare_index, log, outcome)
        run.go()
    except SyncFailure as failure:
        outcome.status.update(result=failure.kind, error=failure.message)
    except StorageError as exc:    # the local blob store: disk full, MinIO unreachable
        outcome.status.update(result="retry", error=exc.message)
    except RepoError as exc:       # the local catalog, a malformed manifest
        outcome.status.update(result="failed", error=exc.message)
    finally:
        if run is not None:
            run.settle()
        lock.release()
    status = outcome.status
    if status["result"] in ("ok", "up_to_date"):
        status["last_success_at"] = status["last_attempt_at"]
    status["bytes"] = run.fetcher.bytes if run else 0
    status["duration_s"] = round(time.monotonic() - started, 3)
    if status["error"]:
        outcome.summary.append(f"{status['result']}: {status['error']}")
    outcome.trace.update(at=status["last_attempt_at"], serial=status["serial"], bytes=status["bytes"],
                         duration_s=status["duration_s"], chain=status["chain"], result=status["result"],
                         error=status["error"])
    state.write_status(status)
    state.append_trace(outcome.trace)
    if options.report_url and options.token:
        post_status(options.report_url, options.token, {k: status[k] for k in status}, log=log)
    return outcome
