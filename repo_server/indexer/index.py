"""SearchIndex: the engine-neutral face of search, over the generations of one index root.

Readers follow CURRENT (a rebuild's swap is picked up on the next search); the writer is
whoever holds the live generation's lock — exactly one process per directory, so several
web workers never fight over Whoosh's or Tantivy's own write locks.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Iterable

from .engine import Engine, EngineReader, EngineWriter, engine_named
from .query import SearchRequest, SearchResult
from .schema import SCHEMA_VERSION, TEXT_FIELDS, SearchDocument
from repo_server.locks import FileLock

from .store import IndexStore, Meta, writer_lock

__all__ = ["SearchIndex", "IndexWriter"]


class IndexWriter:
    """The single writer of one generation: applies documents and records the change-log
    sequence they bring the index up to."""

    def __init__(self, store: IndexStore, generation: Path, lock: FileLock) -> None:
        self.store, self.generation, self._lock = store, generation, lock
        self._engine_writer: EngineWriter = store.engine.open_writer(generation)
        self.meta = store.read_meta(generation)

    @property
    def seq(self) -> int:
        return self.meta.seq

    @property
    def outdated(self) -> bool:
        """Written by an older version of the schema: only a rebuild brings it up to date."""
        return self.meta.schema != SCHEMA_VERSION

    def apply(self, upserts: Iterable[SearchDocument], deletes: Iterable[str], seq: int | None = None,
              *, commit: bool = True, **extra) -> None:
        """Write, commit, then record `seq`: after a crash between the two, changes are applied
        again, which is harmless (upserts replace by id). `commit=False` only writes (bulk
        rebuilds commit once at the end: every commit makes Whoosh merge segments)."""
        self._engine_writer.upsert(upserts)
        self._engine_writer.delete(deletes)
        if not commit:
            return
        self._engine_writer.commit()
        if seq is not None:
            self.meta.seq = max(self.meta.seq, seq)
        if extra:
            self.meta.extra = {**(self.meta.extra or {}), **extra}
        self.meta.updated = time.time()
        self.store.write_meta(self.generation, self.meta)

    @property
    def is_live(self) -> bool:
        return self.store.current() == self.generation

    def close(self) -> None:
        self._engine_writer.close()
        self._lock.release()


class SearchIndex:
    def __init__(self, root: Path | str, engine: Engine | str) -> None:
        engine = engine_named(engine) if isinstance(engine, str) else engine
        self.engine = engine
        self.store = IndexStore(Path(root), engine)
        self._reader: EngineReader | None = None
        self._reader_generation: Path | None = None
        self._lock = threading.Lock()

    # -- reading ----------------------------------------------------------------------------
    def reader(self) -> EngineReader:
        """The reader of the live generation, reopened after a swap, refreshed after commits."""
        live = self.store.ensure_current()
        with self._lock:
            if self._reader is None or self._reader_generation != live:
                old, self._reader = self._reader, self.engine.open_reader(
                    live, schema=self.store.read_meta(live).schema)
                self._reader_generation = live
                if old is not None:
                    old.close()
            reader = self._reader
        reader.refresh()
        return reader

    def search(self, request: SearchRequest) -> SearchResult:
        return self.reader().search(request)

    def doc_freq(self, token: str) -> int:
        """How many documents contain `token` in any text field."""
        reader = self.reader()
        return max(reader.doc_freq(field, token) for field in TEXT_FIELDS)

    def terms_with_prefix(self, field: str, prefix: str, limit: int = 10) -> list[tuple[str, int]]:
        return self.reader().terms_with_prefix(field, prefix, limit)

    def status(self) -> dict:
        live = self.store.current()
        meta = self.store.read_meta(live) if live else Meta()
        return {"engine": self.engine.name, "root": str(self.store.root),
                "generation": live.name if live else None, "seq": meta.seq,
                "schema": meta.schema, "outdated": meta.schema != SCHEMA_VERSION,
                "documents": self.reader().count() if live else 0,
                "size_bytes": self.store.size_bytes(live) if live else 0,
                "updated": meta.updated, "generations": [g.name for g in self.store.generations()]}

    # -- writing ----------------------------------------------------------------------------
    def try_writer(self) -> IndexWriter | None:
        """The writer of the live generation, or None when another process holds it."""
        live = self.store.ensure_current()
        lock = writer_lock(live)
        return IndexWriter(self.store, live, lock) if lock else None

    def new_generation_writer(self) -> IndexWriter:
        """A writer for a fresh generation (rebuild); publish it with `publish`."""
        generation = self.store.create_generation()
        lock = writer_lock(generation)
        assert lock is not None, "a brand-new generation cannot be locked by anyone else"
        return IndexWriter(self.store, generation, lock)

    def publish(self, writer: IndexWriter) -> None:
        self.store.publish(writer.generation)

    def discard(self, writer: IndexWriter) -> None:
        """Close a writer of a generation that will never be live, and delete that generation."""
        writer.close()
        if not writer.is_live:
            shutil.rmtree(writer.generation, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
