"""Keeping the search index in step with the catalog, fed only by the change log.

`catch_up` applies every change after the index's recorded sequence, in order, in batches;
the writer commits and records the new sequence after each batch, so an interrupted run
resumes where it stopped. `refresh_downloads` re-indexes what was downloaded recently (for
"most downloaded" sorting) without touching the change log, which mirrors also read.
`rebuild` fills a fresh generation from the catalog while search keeps answering from the
live one, catches up with what changed meanwhile, then swaps. `prepare_generation` fills one
from a session whose transaction is still open (a mirror's first sync) and leaves the swap to
the caller, after its commit.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, ContextManager, Iterable, Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from repo_server.catalog.changes import changes_since, last_seq
from repo_server.catalog.base import utcnow
from repo_server.catalog.models import Change, DownloadEvent, Resource
from repo_server.catalog.vocab import VocabIndex
from repo_server.indexer import IndexWriter, SearchDocument, SearchIndex, Synonyms

from .context import Services
from .analysis_pool import AnalysisPool
from .search_documents import RawDocument, analyze, raw_documents
from .search_tools import search_index, search_tools, learn_words, vocabulary_groups

__all__ = ["catch_up", "refresh_downloads", "rebuild", "prepare_generation", "PreparedGeneration", "index_status",
           "BULK_BUILD_CHANGES"]

BATCH = 500
# An empty index facing more changes than this is built in bulk (a rebuild) instead of by
# replaying the change log (a node added to a cluster, a mirror's first sync): a replay commits
# every BATCH changes and re-reads resources changed several times, a bulk build analyses each
# live resource once, in a pool of processes, and commits once.
BULK_BUILD_CHANGES = 5_000


def _documents(svc: Services, session: Session, ids: Iterable[str]) -> tuple[list[SearchDocument], list[str]]:
    """Documents for the live resources among `ids`, and the ids to delete."""
    tools = search_tools(svc)
    # A fresh vocabulary snapshot, not the per-process one (up to REFRESH_S old): a renamed
    # term or a new alias announces itself by "update" changes of the resources it classifies
    # (services/vocabularies.py), and those documents must carry the new names. A few hundred
    # rows per batch.
    raws, deletes = raw_documents(session, ids, VocabIndex.load(session))
    return [analyze(raw, tools.analyzer, tools.synonyms.folding) for raw in raws], deletes


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


def _raw_batches(read: Callable[[], ContextManager[Session]], vocab: VocabIndex,
                 size: int = BATCH * 2) -> Iterator[list[RawDocument]]:
    """Every live resource as RawDocuments, in id order, a few database queries per batch.
    Batches are keyed on the primary key alone (deleted rows are skipped afterwards): a
    `deleted_at IS NULL` condition would let the database pick another index and sort, once
    per batch. `read` opens the session of each batch."""
    after = ""
    while True:
        with read() as session:
            ids = list(session.scalars(select(Resource.id).where(Resource.id > after)
                                       .order_by(Resource.id).limit(size)))
            if not ids:
                return
            raws, _ = raw_documents(session, ids, vocab)
        yield raws
        after = ids[-1]


def _fill(writer: IndexWriter, batches: Iterable[list[RawDocument]], vocab: VocabIndex,
          folding: Mapping[str, str], *, total: int, workers: int | None,
          progress: Callable[[int, int], None] | None = None) -> int:
    """Analyse `batches` (in `workers` processes; default one per core, at most 4, for a real
    library) into `writer` without committing; how many documents."""
    words = [n for t in vocab.all_terms() for n in (t.name, *(a.alias for a in t.aliases))]
    if workers is None:  # worker start-up (~1 s) pays off only for real libraries
        workers = min(os.cpu_count() or 1, 4) if total > 5_000 else 1
    done = 0
    with AnalysisPool(words, folding, workers=workers) as pool:
        for documents in pool.analyze(batches):
            writer.apply(documents, [], seq=None, commit=False)
            done += len(documents)
            if progress:
                progress(done, total)
    return done


def _live_count(session: Session) -> int:
    return session.query(Resource).filter(Resource.deleted_at.is_(None)).count()


def rebuild(svc: Services, *, progress: Callable[[int, int], None] | None = None,
            workers: int | None = None) -> dict:
    """Build a new generation from the whole catalog and swap it in; search keeps answering.
    Analysis runs in `workers` processes (default: one per core, at most 4)."""
    index = search_index(svc)
    started = time.monotonic()
    with svc.catalog.read() as session:
        start_seq = last_seq(session)
        total = _live_count(session)
    writer = index.new_generation_writer()
    tools = search_tools(svc)
    try:
        done = _fill(writer, _raw_batches(svc.catalog.read, tools.vocab), tools.vocab, tools.synonyms.folding,
                     total=total, workers=workers, progress=progress)
        writer.apply([], [], seq=start_seq, downloads_until=time.time())
        caught_up = catch_up(svc, writer)  # what changed while we were building
        index.publish(writer)
    finally:
        writer.close()
    index.store.prune(keep=0)  # a generation the live writer still holds goes on its next switch
    return {"generation": writer.generation.name, "documents": done, "caught_up": caught_up,
            "seconds": round(time.monotonic() - started, 1)}


@dataclass
class PreparedGeneration:
    """A complete generation not yet live: `publish` it once the catalog transaction it was
    built from has committed, or `discard` it when that transaction rolled back."""

    index: SearchIndex
    writer: IndexWriter
    documents: int
    seconds: float

    def publish(self) -> str:
        try:
            self.index.publish(self.writer)
        finally:
            self.writer.close()
        self.index.store.prune(keep=0)  # a generation the live writer still holds goes on its next switch
        return f"index built: {self.documents} documents in {self.seconds} s"

    def discard(self) -> None:
        self.index.discard(self.writer)


def prepare_generation(svc: Services, session: Session) -> PreparedGeneration:
    """A new generation of every live resource as `session` sees them, its own uncommitted
    rows included, with the change-log sequence of that view: a mirror's first sync builds
    its index while its catalog transaction is still open (and its objects still arrive),
    and makes it live right after the commit. The vocabulary too is the session's (a first
    sync brings the upstream's)."""
    index = search_index(svc)
    started = time.monotonic()
    vocab, seq, total = VocabIndex.load(session), last_seq(session), _live_count(session)
    groups = vocabulary_groups(vocab)
    folding = Synonyms(learn_words(name for names in groups for name in names), groups).folding
    writer = index.new_generation_writer()
    try:
        done = _fill(writer, _raw_batches(lambda: nullcontext(session), vocab), vocab, folding,
                     total=total, workers=None)
        writer.apply([], [], seq=seq, downloads_until=time.time())
    except BaseException:
        index.discard(writer)
        raise
    return PreparedGeneration(index, writer, done, round(time.monotonic() - started, 1))


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
