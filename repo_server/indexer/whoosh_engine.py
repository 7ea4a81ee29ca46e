"""WhooshEngine: the default, pure-Python engine (libraries up to ~100,000 items).

Same documents and the same query structure as TantivyEngine. This module holds the schema
and the writer (Whoosh writers are single-use: one per commit); searching, with its caches,
is whoosh_reader.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

from whoosh import analysis, fields, index

from .schema import FACET_FIELDS, PINYIN_FIELD, SOUNDS_FIELD, TEXT_BOOSTS, SearchDocument
from .whoosh_reader import WhooshReader

__all__ = ["WhooshEngine"]


def _schema() -> fields.Schema:
    tokens = analysis.SpaceSeparatedTokenizer()
    spec: dict[str, fields.FieldType] = {"id": fields.ID(stored=True, unique=True)}
    for name in (*TEXT_BOOSTS, PINYIN_FIELD, SOUNDS_FIELD):
        spec[name] = fields.TEXT(analyzer=tokens, phrase=False)
    for name in FACET_FIELDS:
        spec[name] = fields.ID(sortable=True)
    for name in ("visibility", "status", "org_id", "owner_id"):
        spec[name] = fields.ID()
    spec["org_path"] = fields.KEYWORD()
    for name in ("created", "downloads"):
        spec[name] = fields.NUMERIC(int, bits=64, signed=True, sortable=True)
    return fields.Schema(**spec)


class WhooshEngine:
    name = "whoosh"

    def create(self, path: Path) -> None:
        index.create_in(str(path), _schema())

    def open_reader(self, path: Path, *, schema: int) -> WhooshReader:
        return WhooshReader(_open_dir(path))

    def open_writer(self, path: Path) -> "WhooshWriter":
        return WhooshWriter(_open_dir(path))


def _open_dir(path: Path, attempts: int = 20):
    """`index.open_dir`, retried when a commit in another thread or process replaced the
    table of contents between Whoosh listing it and opening it (FileNotFoundError on
    `_MAIN_<n>.toc`). Whoosh retries the same race when a reader refreshes, but not when an
    index is opened: a search arriving during a commit would fail."""
    for attempt in range(attempts):
        try:
            return index.open_dir(str(path))
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


# Whoosh buffers postings in a pool; when the pool is full it pickles a sorted run to a
# temporary file, and the commit merges every run back (heapq.merge in Python). At 100,000
# items that external sort was most of the rebuild (limitmb 128: ~37 runs). Instead, a pool
# about to spill becomes a segment of its own (committed without merging), sorted in memory:
# a rebuild leaves one segment per ~500 MB of postings (~10 at 100,000 items), which the
# reader searches side by side. Merging them would re-add every posting in Python, as costly
# as writing them, so they stay; later small commits merge only small segments (MERGE_SMALL).
_POOL_MB = 512
_SPILL_AT = 0.9        # flush a segment before the pool's own limit is reached


class WhooshWriter:
    def __init__(self, ix: index.Index, pool_mb: int = _POOL_MB) -> None:
        self._ix = ix
        self._pool_mb = pool_mb
        self._writer = None

    def _open(self):
        if self._writer is None:
            self._writer = self._ix.writer(limitmb=self._pool_mb)
        return self._writer

    def upsert(self, docs: Iterable[SearchDocument]) -> None:
        writer = self._open()
        for doc in docs:
            writer.update_document(**_fields(doc))
            pool = getattr(writer, "pool", None)
            if pool is not None and pool.currentsize > _SPILL_AT * pool.limit:
                writer.commit(merge=False)   # a segment, sorted in memory, instead of a run on disk
                self._writer = None
                writer = self._open()

    def delete(self, ids: Iterable[str]) -> None:
        writer = self._open()
        for doc_id in ids:
            writer.delete_by_term("id", doc_id)

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer = None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None


def _fields(doc: SearchDocument) -> dict:
    values = {"id": doc.id, "created": doc.created, "downloads": doc.downloads}
    for name in (*TEXT_BOOSTS, PINYIN_FIELD, SOUNDS_FIELD, "visibility", "status", "org_id", "owner_id"):
        if getattr(doc, name):
            values[name] = getattr(doc, name)
    values.update({name: value for name, value in doc.facets.items() if value})
    if doc.org_path:
        values["org_path"] = " ".join(doc.org_path)
    return values
