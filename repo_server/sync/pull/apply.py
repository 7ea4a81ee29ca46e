"""Stage 2: the selected manifest entries written into the local catalog, in the caller's
one transaction — teachers searching meanwhile see the previous version whole, then the new
one whole, never a mix.

Per entry: the blob rows of every object held, the resource by its upstream `id` with the
upstream's codes and timestamps (so a county re-exporting publishes the same entries), its
tags, the extracted text (`blob_texts`, from the text object: a mirror never runs
LibreOffice or PDF parsing; failed and unsupported outcomes are recorded too, so no local
extractor retries them), the derivatives held (status done) with their page images. A live
local resource that the selection no longer contains — deleted upstream, made private,
or no longer matching --only — becomes a tombstone. Every change goes to the local change
log, which the local index and a county's own publisher follow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, lazyload

from repo_server.catalog.base import utcnow
from repo_server.catalog.changes import record_changes
from repo_server.catalog.models import (CLASSIFICATION_SCHEMES, Blob, BlobText, Derivative, DerivativePage, Resource,
                                        ResourceTag)

from .selection import Selection
from .terms import OrgResolver, sync_vocabulary

__all__ = ["ApplyReport", "apply_entries", "holds_live_resources", "CHUNK"]

CHUNK = 500
_TEXT_FIELDS = ("title", "description", "creator", "publisher", "language", "license", "date",
                "chapter", "lesson", "filename", "format")


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    vocabulary_changed: bool = False


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _Writer:
    def __init__(self, session: Session, terms: dict[tuple[str, str], int], selection: Selection,
                 read_text: Callable[[str], str]) -> None:
        self.session, self.terms, self.selection, self.read_text = session, terms, selection, read_text
        self.orgs = OrgResolver(session)

    def chunk(self, entries: Sequence[dict[str, Any]], report: ApplyReport) -> None:
        """Write one chunk. New rows go in as multi-row INSERTs (a first sync writes a whole
        library: the ORM's unit of work spent most of stage 2 building and flushing one
        object per row); rows held already are updated through the ORM, without loading
        the relationships a resource eagerly joins for the web pages."""
        session = self.session
        self._blobs(entries)
        ids = [e["id"] for e in entries]
        session.execute(delete(ResourceTag).where(ResourceTag.resource_id.in_(ids))
                        .execution_options(synchronize_session=False))
        existing = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids))
                                                     .options(lazyload("*"))
                                                     .execution_options(populate_existing=True))}
        new_rows = []
        for entry in entries:
            values = self._resource_values(entry)
            resource = existing.get(entry["id"])
            if resource is None:
                new_rows.append(values)
                report.created.append(entry["id"])
            else:
                for name, value in values.items():
                    setattr(resource, name, value)
                report.updated.append(entry["id"])
        if new_rows:
            session.execute(insert(Resource), new_rows)
        session.flush()
        tags = [{"resource_id": e["id"], "tag": tag} for e in entries for tag in dict.fromkeys(e["tags"])]
        if tags:
            session.execute(insert(ResourceTag), tags)
        self._texts(entries)
        self._derivatives(entries)
        session.flush()

    def _resource_values(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The resource's columns from its entry, with this catalog's term and organisation ids."""
        values: dict[str, Any] = {name: entry.get(name) or ("zh-CN" if name == "language" else "")
                                  for name in _TEXT_FIELDS}
        for name, scheme in CLASSIFICATION_SCHEMES.items():
            code = entry.get(name)
            values[f"{name}_id"] = self.terms.get((scheme, code)) if code else None
        values.update(id=entry["id"], org_id=self.orgs.resolve(entry.get("organisation")),
                      blob_sha256=entry["original"]["sha256"], visibility="public", status="published",
                      deleted_at=None, created_at=_time(entry["created"]), updated_at=_time(entry["updated"]))
        return values

    def _blobs(self, entries: Sequence[dict[str, Any]]) -> None:
        wanted: dict[str, tuple[int, str, str]] = {}
        for entry in entries:
            original = entry["original"]
            wanted.setdefault(original["sha256"], (original["size"], original["mime"], entry.get("filename") or ""))
            for derivative in self.selection.derivatives(entry):
                for file in derivative["files"]:
                    wanted.setdefault(file["sha256"], (file["size"], file.get("mime") or "application/octet-stream", ""))
        have = set(self.session.scalars(select(Blob.sha256).where(Blob.sha256.in_(list(wanted)))))
        rows = [{"sha256": sha, "size": size, "mime": mime, "original_filename": name[:255]}
                for sha, (size, mime, name) in wanted.items() if sha not in have]
        if rows:
            self.session.execute(insert(Blob), rows)

    def _texts(self, entries: Sequence[dict[str, Any]]) -> None:
        texts = {e["original"]["sha256"]: e["text"] for e in entries if e.get("text")}
        rows = {t.sha256: t for t in self.session.scalars(select(BlobText).where(BlobText.sha256.in_(list(texts))))}
        new_rows = []
        for sha256, text in texts.items():
            row = rows.get(sha256)
            if row is not None and row.status == text["status"] and text.get("sha256") and \
                    hashlib.sha256((row.text or "").encode("utf-8")).hexdigest() == text["sha256"]:
                continue        # the text held already (plan.py did not fetch it)
            body = self.read_text(text["sha256"]) if text.get("sha256") else ""
            values = {"status": text["status"], "extractor": text.get("extractor") or "",
                      "message": text.get("message") or "", "text": body, "chars": text.get("chars", len(body)),
                      "truncated": bool(text.get("truncated")), "extracted_at": utcnow()}
            if row is None:
                new_rows.append({"sha256": sha256, **values})
            else:
                for name, value in values.items():
                    setattr(row, name, value)
        if new_rows:
            self.session.execute(insert(BlobText), new_rows)

    def _derivatives(self, entries: Sequence[dict[str, Any]]) -> None:
        wanted = {e["original"]["sha256"]: {d["profile"]: d for d in self.selection.derivatives(e)} for e in entries}
        rows = list(self.session.scalars(select(Derivative).where(Derivative.source_sha256.in_(list(wanted)))))
        self.session.execute(delete(DerivativePage).where(DerivativePage.derivative_id.in_([r.id for r in rows])))
        held = {(r.source_sha256, r.profile): r for r in rows}
        for (source, profile), row in held.items():
            if profile not in wanted[source]:
                self.session.delete(row)
        now = utcnow()
        for source, derivatives in wanted.items():
            for profile, item in derivatives.items():
                row = held.get((source, profile))
                if row is None:
                    row = Derivative(source_sha256=source, profile=profile, created_at=now)
                    self.session.add(row)
                files = item["files"]
                row.status, row.message, row.meta, row.updated_at = "done", "", dict(item["meta"]), now
                row.blob_sha256 = files[0]["sha256"] if files else None
                if any("page" in f for f in files):
                    self.session.flush()
                    self.session.add_all(DerivativePage(derivative_id=row.id, number=f["page"], blob_sha256=f["sha256"])
                                         for f in files)


def holds_live_resources(session: Session) -> bool:
    """Whether the catalog serves anything yet (a first sync's stage 2 may overlap stage 1)."""
    return session.scalar(select(Resource.id).where(Resource.deleted_at.is_(None)).limit(1)) is not None


def apply_entries(session: Session, vocabulary: list[dict[str, Any]], upserts: Iterable[dict[str, Any]],
                  keep: set[str], selection: Selection, read_text: Callable[[str], str]) -> ApplyReport:
    """Write `upserts` (parsed entries, any order) and tombstone every live resource not in
    `keep`, recording each in the change log. The caller owns the transaction."""
    report = ApplyReport()
    terms, report.vocabulary_changed = sync_vocabulary(session, vocabulary)
    writer, chunk = _Writer(session, terms, selection, read_text), []
    for entry in upserts:
        chunk.append(entry)
        if len(chunk) >= CHUNK:
            writer.chunk(chunk, report)
            chunk = []
    if chunk:
        writer.chunk(chunk, report)
    # Ids only: a county's catalog holds a million live resources, and every sync asks which
    # of them the selection dropped.
    report.removed = [i for i in session.scalars(select(Resource.id).where(Resource.deleted_at.is_(None)))
                      if i not in keep]
    now = utcnow()
    for start in range(0, len(report.removed), CHUNK):
        session.execute(update(Resource).where(Resource.id.in_(report.removed[start:start + CHUNK]))
                        .values(deleted_at=now))
    touched = set(report.created) | set(report.updated)
    record_changes(session, report.created, "create", None)
    record_changes(session, report.updated, "update", None)
    record_changes(session, report.removed, "delete", None)
    if report.vocabulary_changed:   # term names are in the search documents: re-index the rest
        others = [i for i in session.scalars(select(Resource.id).where(Resource.deleted_at.is_(None))) if i not in touched]
        record_changes(session, others, "update", None)
    return report
