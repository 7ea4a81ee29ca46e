"""One publish run: the next manifest, its objects, its delta and CURRENT, in that order.

The previous manifest is the base. Only the resources `feed.changed_ids` names are read
from the catalog; every other line is copied from the base unread (a full run recomputes
them all). The merge walks base and recomputed entries in id order (manifest.join_sorted),
exporting the objects of each new or changed entry before its line is written, so memory
stays constant for any library size. When no line differs, nothing left and the vocabulary
is the same, no serial is made. Otherwise: objects made durable (tree.py), manifest renamed
into place, delta, CURRENT by rename — "pool first, indices last". Serial numbers are never
reused: a run killed after its manifest appeared leaves that file alone and the next run
takes the number after it, so a manifest file, once it exists, never changes.

The base is trusted only while the private state file (.state/publisher.json) agrees with
CURRENT; otherwise (first run, a restored or copied tree) the run is a full one.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from repo_server.blobstore import BlobIntegrityError, BlobNotFound, BlobStore
from repo_server.catalog import Catalog
from repo_server.catalog.base import utcnow
from repo_server.catalog.changes import last_seq
from repo_server.config import Settings
from repo_server.errors import RepoError

from .delta import write_delta
from .entries import EntryBuilder, vocabulary_section
from .feed import all_entries, changed_ids, entries_of
from .gc import GcReport, collect_garbage
from .manifest import (ABSENT, LineWriter, ManifestRef, entry_line, entry_objects, iter_entries, join_sorted,
                       line_objects, read_manifest_head, strip_item, write_manifest)
from .tree import Current, MirrorTree

__all__ = ["Build", "Wiring", "PublishReport", "PublishError", "mirror_name", "upstream_chain", "GC_EVERY"]

GC_EVERY = timedelta(hours=1)


class Wiring(Protocol):
    """What a publish needs; `repo_server.services.Services` is one."""

    settings: Settings
    catalog: Catalog
    blobs: BlobStore


class PublishError(RepoError):
    """The catalog names a blob the store cannot give (or gives damaged): nothing was published."""

    code = "publish_failed"


@dataclass
class PublishReport:
    root: str
    serial: int                 # the published serial after the run (new or unchanged)
    previous: int | None
    published: bool             # a new serial was made
    full: bool
    resources: int = 0
    objects: int = 0
    bytes: int = 0
    upserts: int = 0
    removed: int = 0
    exported: int = 0           # objects added to the tree by this run
    exported_bytes: int = 0
    linked: int = 0
    copied: int = 0
    manifest_bytes: int = 0
    delta_bytes: int = 0
    seconds: float = 0.0
    gc: GcReport | None = None


def mirror_name(settings: Settings) -> str:
    return " ".join(settings.mirror_name.split()) or socket.gethostname()


def upstream_chain(data_dir: Path) -> list[dict[str, Any]]:
    """The chain of the upstream this server mirrors, from the upstream CURRENT the sync
    script keeps at <data dir>/sync/CURRENT (docs/mirrors.md); [] for an origin."""
    try:
        chain = json.loads((data_dir / "sync" / "CURRENT").read_text(encoding="utf-8")).get("chain")
    except (OSError, ValueError, AttributeError):
        return []
    return [dict(link) for link in chain if isinstance(link, dict)] if isinstance(chain, list) else []


class _Totals:
    """Resources, objects and bytes of a manifest, kept up to date line by line."""

    def __init__(self, resources: int = 0, objects: int = 0, size: int = 0) -> None:
        self.resources, self.objects, self.bytes = resources, objects, size

    def add(self, line: bytes, sign: int = 1) -> None:
        found = line_objects(line)
        self.resources += sign
        self.objects += sign * len(found)
        self.bytes += sign * sum(size for _, size in found)


@dataclass
class Build:
    """Call `run` once, under the tree's lock (publisher.publish takes it)."""

    wiring: Wiring
    tree: MirrorTree
    step: Callable[[str], None]
    removed: list[str] = field(default_factory=list)
    report: PublishReport = field(init=False)

    @property
    def state_path(self) -> Path:
        return self.tree.state_dir / "publisher.json"

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict[str, Any]) -> None:
        temp = self.tree.temp_path("state")
        temp.write_text(json.dumps(state))
        self.tree.install(temp, self.state_path, mode=0o600)

    def run(self, *, full: bool, gc: bool | None) -> PublishReport:
        started = time.monotonic()
        settings, tree, catalog = self.wiring.settings, self.tree, self.wiring.catalog
        current, state = tree.read_current(), self._state()
        base = tree.manifest_path(current.serial) if current is not None else None
        if base is not None and not base.is_file():
            base = None    # CURRENT names a manifest that is gone: rebuild from the catalog
        incremental = (not full and base is not None and state.get("serial") == current.serial
                       and state.get("sha256") == current.sha256)
        scan_started = utcnow()
        with catalog.read() as session:
            seq = last_seq(session)     # changes up to here are committed (events.ChangeCounter)
            incremental = incremental and int(state.get("seq") or 0) <= seq   # else: a restored catalog
            vocabulary = vocabulary_section(session)
            builder = EntryBuilder(session, max_text_chars=settings.extract_max_chars, put_text=tree.put_bytes)
            since = datetime.fromisoformat(state["media_since"]) if state.get("media_since") else None
            ids = changed_ids(session, int(state.get("seq") or 0), seq, since) if incremental else None
        base_vocabulary = read_manifest_head(base)[1] if base is not None else None
        report = self.report = PublishReport(
            root=str(tree.root), serial=current.serial if current else 0,
            previous=current.serial if current else None, published=False, full=not incremental)
        new_state = {"seq": seq, "media_since": scan_started.isoformat(), "gc_at": state.get("gc_at")}
        same = {**new_state, "serial": current.serial, "sha256": current.sha256} if current else {}
        if incremental and not ids and vocabulary == base_vocabulary:   # the common cron run
            self._save_state(same)
            report.resources, report.objects, report.bytes = current.resources, current.objects, current.bytes
            report.seconds = round(time.monotonic() - started, 2)
            return report

        serial = max([current.serial if current else 0, *tree.serials()]) + 1
        totals = _Totals(current.resources, current.objects, current.bytes) if incremental else _Totals()
        computed = entries_of(catalog, builder, sorted(ids)) if ids is not None else all_entries(catalog, builder)
        manifest, upserts = LineWriter(tree.temp_path("manifest")), LineWriter(tree.temp_path("upserts"))
        lines = self._lines(iter_entries(base) if base is not None else (), computed, incremental, totals, upserts)
        try:
            write_manifest(manifest, serial, vocabulary, lines)
            sha256, size = manifest.finish()
            upserts.finish()
        except BaseException:
            lines.close()    # closes the base file and the catalog batches at once
            manifest.abort()
            upserts.abort()
            raise
        report.resources, report.objects, report.bytes = totals.resources, totals.objects, totals.bytes
        report.removed = len(self.removed)
        if base is not None and not report.upserts and not self.removed and vocabulary == base_vocabulary:
            self._save_state(same)
            report.seconds = round(time.monotonic() - started, 2)
            return report   # the same content: no new serial

        tree.make_durable()
        self.step("objects")
        tree.install(manifest.path, tree.manifest_path(serial))
        report.manifest_bytes = size
        self.step("manifest")
        target, delta = ManifestRef(serial, sha256, size), None
        if base is not None:
            delta = self._write_delta(current, target, upserts.path,
                                      vocabulary if vocabulary != base_vocabulary else None)
        self.step("delta")
        chain = upstream_chain(settings.data_dir) + [{"name": mirror_name(settings), "serial": serial}]
        tree.write_current(Current(
            serial=serial, manifest=f"manifests/{serial}.json", sha256=sha256, size=size, delta=delta,
            chain=chain, created=utcnow().isoformat().replace("+00:00", "Z"), seq=seq,
            resources=totals.resources, objects=totals.objects, bytes=totals.bytes))
        new_state.update(serial=serial, sha256=sha256)
        self._save_state(new_state)
        report.serial, report.published = serial, True
        self.step("current")
        if gc or (gc is None and _due(state.get("gc_at"))):
            report.gc = collect_garbage(tree, keep_serials=settings.mirror_keep_serials,
                                        keep_days=settings.mirror_keep_days)
            self._save_state({**new_state, "gc_at": utcnow().isoformat()})
        report.seconds = round(time.monotonic() - started, 2)
        return report

    def _lines(self, base: Iterable[tuple[str, bytes]], computed: Iterable[tuple[str, dict | None]],
               incremental: bool, totals: _Totals, upserts: LineWriter) -> Iterator[bytes]:
        """Merge the base with the recomputed entries: keep, replace, add or drop each line;
        export the objects of every new or changed entry before its line is written."""
        for resource_id, old, new in join_sorted(base, computed):
            if new is ABSENT:
                if incremental:      # not recomputed: the base line stands
                    yield old
                    continue
                new = None           # a full run met every mirrored resource: this one left
            if new is None:
                if old is not ABSENT:
                    self.removed.append(resource_id)
                    if incremental:
                        totals.add(old, -1)
                continue
            line = entry_line(new)
            if line != old or not incremental:   # a full run also re-checks the tree
                self._export(new)
            if line != old:
                upserts.item(line)
                self.report.upserts += 1
                if incremental and old is not ABSENT:
                    totals.add(old, -1)
            if line != old or not incremental:
                totals.add(line)
            yield line

    def _export(self, entry: dict[str, Any]) -> None:
        """Put every object of an entry into the tree (texts are there already)."""
        report = self.report
        for obj in entry_objects(entry):
            if obj["role"] == "text":
                continue
            try:
                how = self.tree.put_blob(self.wiring.blobs, obj["sha256"], obj["size"])
            except (BlobNotFound, BlobIntegrityError) as exc:
                what = f"{obj['role']} {obj['profile']}".strip()
                raise PublishError(
                    f"resource {entry['id']} ({entry['title']}) needs its {what} {obj['sha256']}: "
                    f"{exc.message}. Nothing was published; CURRENT still names serial "
                    f"{report.previous or 'none'} (`repo-server check` lists what is missing)",
                    resource=entry["id"], sha256=obj["sha256"]) from exc
            if how != "present":
                report.exported += 1
                report.exported_bytes += obj["size"]
                report.linked += how == "linked"
                report.copied += how == "copied"

    def _write_delta(self, current: Current, target: ManifestRef, upserts: Path,
                     vocabulary: list[dict[str, Any]] | None) -> dict[str, Any]:
        tree = self.tree
        writer = LineWriter(tree.temp_path("delta"))
        try:
            write_delta(writer, base=ManifestRef(current.serial, current.sha256, current.size),
                        target=target, vocabulary=vocabulary, removed=self.removed,
                        upserts=_scratch_lines(upserts))
            sha256, size = writer.finish()
        except BaseException:
            writer.abort()
            raise
        tree.install(writer.path, tree.delta_path(target.serial))
        self.report.delta_bytes = size
        return {"path": f"manifests/{target.serial}.delta.json", "base": current.serial,
                "sha256": sha256, "size": size}


def _scratch_lines(path: Path) -> Iterator[bytes]:
    """The lines a LineWriter wrote as a bare list (the upserts scratch file)."""
    with open(path, "rb") as stream:
        for raw in stream:
            if raw.strip():
                yield strip_item(raw)


def _due(gc_at: str | None) -> bool:
    return gc_at is None or utcnow() - datetime.fromisoformat(gc_at) >= GC_EVERY
