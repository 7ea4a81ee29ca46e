"""What a mirror receives of a resource: catalog rows turned into manifest entries.

**Which resources.** Live (not withdrawn), published and *public* ones. Drafts and private
items never leave the server. Items visible to an organisation do not either: an rsync
module is one tree for every school that syncs from it, so an item meant for one school's
teachers would reach every school's disk, and a school server (a teacher's login there is
local) could not keep the promise "only this organisation sees it". They stay reachable on
the upstream server itself; docs/mirrors.md says so.

**What an entry holds** — everything a downstream needs to write its catalog rows and its
search document without touching the files: Dublin Core fields, the classification as
vocabulary codes (the manifest carries the vocabulary itself; ids differ between tiers,
codes do not), chapter/lesson, tags, format family, file name, the owning organisation as a
path of names, creation/update times, the original blob, every finished derivative with its
viewer metadata and files (page images one by one), and the extracted text. Download counts
are left out: they change without a change-log entry, so they would make manifests depend
on when they were built.

**Text as an object.** The extracted text is not inlined: it is written to the tree as an
object of its own (UTF-8, capped at REPO_EXTRACT_MAX_CHARS characters) and the entry names
its sha256. Texts run to 100,000 characters; inlined, a 10,000-item library's manifest
would be hundreds of MB, rewritten for every serial and fetched whole on every first sync.
As objects they are fetched once, filtered by the school's subscription like the files,
verified like them, and shared by identical uploads.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from repo_server.catalog.models import (CLASSIFICATION_SCHEMES, Blob, BlobText, Derivative, DerivativePage,
                                        Organisation, Resource, ResourceTag, VocabAlias, VocabTerm)

__all__ = ["EntryBuilder", "eligible_ids", "vocabulary_section", "MIRRORED"]

#: The condition a resource meets to be in a manifest.
MIRRORED = (Resource.deleted_at.is_(None), Resource.status == "published", Resource.visibility == "public")

_TEXT_FIELDS = ("title", "description", "creator", "publisher", "language", "license", "date",
                "chapter", "lesson", "filename", "format")
_COLUMNS = (Resource.id, *(getattr(Resource, name) for name in _TEXT_FIELDS),
            *(getattr(Resource, f"{name}_id") for name in CLASSIFICATION_SCHEMES),
            Resource.org_id, Resource.created_at, Resource.updated_at, Resource.blob_sha256,
            Resource.deleted_at, Resource.status, Resource.visibility,
            Blob.size.label("blob_size"), Blob.mime.label("blob_mime"))


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def eligible_ids(session: Session, after: str, limit: int) -> list[str]:
    """The next `limit` ids of mirrored resources above `after`, in id order. Ids are
    lowercase hex (catalog.base.new_id, kept by every tier), which every collation orders
    like Python does, so the database's order is the manifest's."""
    return list(session.scalars(select(Resource.id).where(Resource.id > after, *MIRRORED)
                                .order_by(Resource.id).limit(limit)))


def vocabulary_section(session: Session) -> list[dict[str, Any]]:
    """Every vocabulary term (inactive ones too: old resources may use them) with its
    aliases, in a stable order, as a downstream needs them to write its vocabulary rows."""
    aliases: dict[int, list[str]] = defaultdict(list)
    for term_id, alias in session.execute(select(VocabAlias.term_id, VocabAlias.alias)):
        aliases[term_id].append(alias)
    # Sorted here, not by the database: PostgreSQL orders text by the server's locale,
    # SQLite by bytes, and the manifest must not depend on which one answered.
    terms = sorted(session.scalars(select(VocabTerm)), key=lambda t: (t.scheme, t.position, t.code))
    return [{"scheme": t.scheme, "code": t.code, "name": t.name, "position": t.position,
             "active": bool(t.active), "data": dict(t.data or {}), "aliases": sorted(aliases[t.id])}
            for t in terms]


class EntryBuilder:
    """Builds entries in batches. Term codes and organisation names are loaded once per
    publish (a few thousand rows at most); `put_text(bytes) -> (sha256, size)` stores a
    text object in the tree."""

    def __init__(self, session: Session, *, max_text_chars: int,
                 put_text: Callable[[bytes], tuple[str, int]]) -> None:
        self.max_text_chars = max_text_chars
        self.put_text = put_text
        self._codes = {term_id: code for term_id, code in session.execute(select(VocabTerm.id, VocabTerm.code))}
        self._orgs = {row.id: row for row in session.execute(
            select(Organisation.id, Organisation.name, Organisation.kind, Organisation.path))}

    def entries(self, session: Session, ids: Sequence[str]) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(id, entry) for each of `ids` in the order given; entry None when the resource is
        gone or not mirrored (withdrawn, draft, not public)."""
        rows = {row.id: row for row in session.execute(
            select(*_COLUMNS).join(Blob, Blob.sha256 == Resource.blob_sha256).where(Resource.id.in_(ids)))}
        live = {i: r for i, r in rows.items()
                if r.deleted_at is None and r.status == "published" and r.visibility == "public"}
        tags: dict[str, list[str]] = defaultdict(list)
        for resource_id, tag in session.execute(select(ResourceTag.resource_id, ResourceTag.tag)
                                                .where(ResourceTag.resource_id.in_(list(live)))):
            tags[resource_id].append(tag)
        shas = sorted({r.blob_sha256 for r in live.values()})
        texts = {t.sha256: t for t in session.scalars(select(BlobText).where(BlobText.sha256.in_(shas)))}
        derivatives = self._derivatives(session, shas)
        for resource_id in ids:
            row = live.get(resource_id)
            if row is None:
                yield resource_id, None
                continue
            entry: dict[str, Any] = {name: getattr(row, name) for name in _TEXT_FIELDS}
            entry.update({name: self._codes.get(getattr(row, f"{name}_id")) for name in CLASSIFICATION_SCHEMES})
            entry.update({
                "id": row.id, "tags": sorted(tags[resource_id]), "organisation": self._org(row.org_id),
                "created": _iso(row.created_at), "updated": _iso(row.updated_at),
                "original": {"sha256": row.blob_sha256, "size": row.blob_size, "mime": row.blob_mime},
                "derivatives": derivatives.get(row.blob_sha256, []),
                "text": self._text(texts.get(row.blob_sha256)),
            })
            yield resource_id, entry

    def _org(self, org_id: int | None) -> dict[str, Any] | None:
        org = self._orgs.get(org_id) if org_id is not None else None
        if org is None:
            return None
        names = [self._orgs[int(p)].name for p in org.path.strip("/").split("/")
                 if p and int(p) in self._orgs]
        return {"name": org.name, "kind": org.kind, "path": names or [org.name]}

    def _text(self, row: BlobText | None) -> dict[str, Any] | None:
        """None while not extracted yet; else the outcome, with the text as an object."""
        if row is None:
            return None
        text: dict[str, Any] = {"status": row.status, "extractor": row.extractor}
        if row.status != "done":
            text["message"] = (row.message or "")[:500]
            return text
        body = (row.text or "")[: self.max_text_chars]
        text.update({"chars": len(body), "truncated": bool(row.truncated) or len(row.text or "") > len(body)})
        if body:
            text["sha256"], text["size"] = self.put_text(body.encode("utf-8"))
        return text

    @staticmethod
    def _derivatives(session: Session, shas: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Finished derivatives per source blob: profile, viewer metadata and files."""
        rows = session.scalars(select(Derivative).where(Derivative.source_sha256.in_(shas),
                                                        Derivative.status == "done")).all()
        pages: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for derivative_id, number, sha256 in session.execute(
                select(DerivativePage.derivative_id, DerivativePage.number, DerivativePage.blob_sha256)
                .where(DerivativePage.derivative_id.in_([d.id for d in rows]))):
            pages[derivative_id].append((number, sha256))
        needed = {d.blob_sha256 for d in rows if d.blob_sha256} | {s for p in pages.values() for _, s in p}
        blobs = {b.sha256: b for b in session.execute(
            select(Blob.sha256, Blob.size, Blob.mime).where(Blob.sha256.in_(sorted(needed))))}

        def file(sha256: str, **extra: Any) -> dict[str, Any]:
            blob = blobs[sha256]
            return {"sha256": sha256, "size": blob.size, "mime": blob.mime, **extra}

        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in sorted(rows, key=lambda d: (d.source_sha256, d.profile)):
            if pages.get(d.id):
                files = [file(sha, page=number) for number, sha in sorted(pages[d.id])]
            else:
                files = [file(d.blob_sha256)] if d.blob_sha256 else []
            found[d.source_sha256].append({"profile": d.profile, "meta": dict(d.meta or {}), "files": files})
        return found
