"""Keeping the search index in step with the catalog, fed only by the change log.

`catch_up` applies every change after the index's recorded sequence, in order, in batches;
the writer commits and records the new sequence after each batch, so an interrupted run
resumes where it stopped. `refresh_downloads` re-indexes what was downloaded recently (for
"most downloaded" sorting) without touching the change log, which mirrors also read.
`rebuild` fills a fresh generation from the catalog while search keeps answering from the
live one, catches up with what changed meanwhile, then swaps.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from repo_server.catalog.changes import changes_since, last_seq
from repo_server.catalog.base import utcnow
from repo_server.catalog.models import BlobText, Change, DownloadEvent, Resource
from repo_server.catalog.vocab import VocabIndex
from repo_server.indexer import Analyzer, IndexWriter, SearchDocument
from repo_server.ingest.formats import FAMILY_LABELS

from .context import Services
from .fields import VOCAB_FIELDS
from .search_tools import search_index, search_tools

__all__ = ["search_document", "catch_up", "refresh_downloads", "rebuild", "index_status"]

BATCH = 500


def _tokens(analyzer: Analyzer, *texts: str) -> str:
    return " ".join(token for text in texts if text for token in analyzer.index_tokens(text))


def search_document(r: Resource, text: BlobText | None, vocab: VocabIndex,
                    analyzer: Analyzer) -> SearchDocument:
    """What the index needs to know about one resource."""
    labels: list[str] = [r.chapter, r.lesson, r.creator, r.publisher,
                         FAMILY_LABELS.get(r.format, "").split("(")[-1].rstrip(")")]
    facets: dict[str, str] = {"format": r.format, "org": str(r.org_id) if r.org_id else ""}
    for name in VOCAB_FIELDS:
        term = vocab.by_id(getattr(r, f"{name}_id")) if getattr(r, f"{name}_id") else None
        facets[name] = term.code if term else ""
        if term:
            labels += [term.name, *(a.alias for a in term.aliases)]
    pinyin, sounds = analyzer.pinyin_tokens(r.title)
    body = text.text if text is not None and text.status == "done" else ""
    return SearchDocument(
        id=r.id, title=_tokens(analyzer, r.title), labels=_tokens(analyzer, *labels),
        tags=_tokens(analyzer, *r.tags), description=_tokens(analyzer, r.description),
        body=_tokens(analyzer, body), pinyin=" ".join(pinyin), sounds=" ".join(sounds),
        facets=facets, visibility=r.visibility, status=r.status,
        org_id=str(r.org_id) if r.org_id else "", owner_id=str(r.owner_id) if r.owner_id else "",
        org_path=tuple(str(i) for i in r.org.ancestor_ids) if r.org else (),
        created=int(r.created_at.timestamp()), downloads=r.download_count)


def _documents(svc: Services, session: Session, ids: Iterable[str]) -> tuple[list[SearchDocument], list[str]]:
    """Documents for the live resources among `ids`, and the ids to delete."""
    ids = list(dict.fromkeys(ids))
    tools = search_tools(svc)
    rows = {r.id: r for r in session.scalars(
        select(Resource).where(Resource.id.in_(ids)).options(selectinload(Resource.tag_rows)))}
    shas = {r.blob_sha256 for r in rows.values()}
    texts = {t.sha256: t for t in session.scalars(select(BlobText).where(BlobText.sha256.in_(shas)))}
    live = [r for r in rows.values() if r.deleted_at is None]
    documents = [search_document(r, texts.get(r.blob_sha256), tools.vocab, tools.analyzer) for r in live]
    return documents, [i for i in ids if i not in rows or rows[i].deleted_at is not None]


def catch_up(svc: Services, writer: IndexWriter, *, batch: int = BATCH,
             max_changes: int | None = None) -> int:
    """Apply the change log after the writer's sequence; return how many changes were applied."""
    applied = 0
    while max_changes is None or applied < max_changes:
        with svc.catalog.read() as session:
            changes = changes_since(session, writer.seq, limit=batch)
            if not changes:
                break
            upserts, deletes = _documents(svc, session, (c.resource_id for c in changes))
        writer.apply(upserts, deletes, seq=changes[-1].seq)
        applied += len(changes)
    return applied


def refresh_downloads(svc: Services, writer: IndexWriter) -> int:
    """Re-index resources downloaded since the last refresh (their counts moved)."""
    now = time.time()
    since = (writer.meta.extra or {}).get("downloads_until", now)
    with svc.catalog.read() as session:
        ids = list(session.scalars(select(DownloadEvent.resource_id).distinct().where(
            DownloadEvent.at > datetime.fromtimestamp(since, timezone.utc))))
        upserts, deletes = _documents(svc, session, ids) if ids else ([], [])
    writer.apply(upserts, deletes, downloads_until=now)
    return len(ids)


def rebuild(svc: Services, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Build a new generation from the whole catalog and swap it in; search keeps answering."""
    index = search_index(svc)
    started = time.monotonic()
    with svc.catalog.read() as session:
        start_seq = last_seq(session)
        total = session.query(Resource).filter(Resource.deleted_at.is_(None)).count()
    writer = index.new_generation_writer()
    try:
        done, after = 0, ""
        while True:
            with svc.catalog.read() as session:
                ids = list(session.scalars(
                    select(Resource.id).where(Resource.deleted_at.is_(None), Resource.id > after)
                    .order_by(Resource.id).limit(BATCH * 4)))
                if not ids:
                    break
                documents, _ = _documents(svc, session, ids)
            writer.apply(documents, [], seq=None)
            done, after = done + len(ids), ids[-1]
            if progress:
                progress(done, total)
        writer.apply([], [], seq=start_seq, downloads_until=time.time())
        caught_up = catch_up(svc, writer)  # what changed while we were building
        index.publish(writer)
    finally:
        writer.close()
    index.store.prune(keep=0)  # a generation the live writer still holds goes on its next switch
    return {"generation": writer.generation.name, "documents": done, "caught_up": caught_up,
            "seconds": round(time.monotonic() - started, 1)}


def index_status(svc: Services) -> dict:
    """Where the index stands against the catalog: indexed sequence and lag."""
    status = search_index(svc).status()
    with svc.catalog.read() as session:
        catalog_seq = last_seq(session)
        waiting_since = session.scalar(select(Change.at).where(Change.seq > status["seq"])
                                       .order_by(Change.seq).limit(1))
    lag_s = (utcnow() - waiting_since).total_seconds() if waiting_since else 0.0
    status.update({"catalog_seq": catalog_seq, "lag": max(catalog_seq - status["seq"], 0),
                   "lag_seconds": round(lag_s, 1)})
    return status
