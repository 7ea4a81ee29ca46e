"""WhooshEngine: the default, pure-Python engine (libraries up to ~100,000 items).

Same documents and the same query structure as TantivyEngine. Whoosh specifics handled
here: searchers are not thread-safe (one per thread, refreshed when the index moved on),
writers are single-use (one per commit), and permissions/filters go in `filter=`, which
restricts results and facet counts without scoring.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable

from whoosh import analysis, fields, index, sorting
from whoosh import query as wq
from whoosh.reading import EmptyReader

from .query import AccessFilter, Hit, SearchRequest, SearchResult, TextQuery
from .schema import (FACET_FIELDS, PINYIN_BOOST, PINYIN_FIELD, SOUNDS_FIELD, TEXT_BOOSTS,
                     SearchDocument)

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

    def open_reader(self, path: Path) -> "WhooshReader":
        return WhooshReader(index.open_dir(str(path)))

    def open_writer(self, path: Path) -> "WhooshWriter":
        return WhooshWriter(index.open_dir(str(path)))


class WhooshWriter:
    def __init__(self, ix: index.Index) -> None:
        self._ix = ix
        self._writer = None

    def _open(self):
        if self._writer is None:
            self._writer = self._ix.writer(limitmb=128)
        return self._writer

    def upsert(self, docs: Iterable[SearchDocument]) -> None:
        writer = self._open()
        for doc in docs:
            writer.update_document(**_fields(doc))

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


class WhooshReader:
    def __init__(self, ix: index.Index) -> None:
        self._ix = ix
        self._local = threading.local()

    def _searcher(self):
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._local.searcher = self._ix.searcher()
        elif not searcher.up_to_date():
            # whoosh's refresh() fails when the old reader is an EmptyReader (the index had no
            # segment yet): open a new searcher then; otherwise refresh reuses segment readers.
            # (refresh() hands the old reader's resources to the new searcher: never close it.)
            if isinstance(searcher.reader(), EmptyReader):
                searcher.close()
                searcher = self._ix.searcher()
            else:
                searcher = searcher.refresh()
            self._local.searcher = searcher
        return searcher

    # -- query translation ------------------------------------------------------------------
    @staticmethod
    def _token(group: str, token: str) -> wq.Query:
        if group == "pinyin":
            return wq.Term(PINYIN_FIELD, token, boost=PINYIN_BOOST)
        return wq.DisjunctionMax([wq.Term(f, token, boost=b) for f, b in TEXT_BOOSTS.items()],
                                 tiebreak=0.1)

    def _text(self, text: TextQuery) -> wq.Query:
        clauses = [wq.Or([wq.And([self._token(g, t) for g, t in alt]) for alt in clause])
                   for clause in text.clauses]
        return wq.And(clauses) if text.match_all_clauses else wq.Or(clauses)

    @staticmethod
    def _access(access: AccessFilter) -> wq.Query | None:
        if access.admin:
            return None
        published = wq.Term("status", "published")
        options: list[wq.Query] = []
        if access.public:
            options.append(wq.And([published, wq.Term("visibility", "public")]))
        if access.org_ids:
            options.append(wq.And([published, wq.Term("visibility", "organisation"),
                                   wq.Or([wq.Term("org_id", o) for o in access.org_ids])]))
        if access.owner_id:
            options.append(wq.Term("owner_id", access.owner_id))
        if access.managed_org_id:
            options.append(wq.Term("org_path", access.managed_org_id))
        return wq.Or(options) if options else wq.NullQuery

    def search(self, request: SearchRequest) -> SearchResult:
        query = self._text(request.text) if request.text else wq.Every()
        filters = [f for f in [self._access(request.access)] if f is not None]
        filters += [wq.Or([wq.Term(field, v) for v in values])
                    for field, values in request.filters.items() if values]
        facets = sorting.Facets()
        for name in request.facets:
            facets.add_field(name)
        sortedby = {"newest": "created", "downloads": "downloads"}.get(request.sort)
        searcher = self._searcher()
        results = searcher.search(
            query, limit=request.offset + max(request.limit, 1),
            filter=wq.And(filters) if filters else None,
            groupedby=facets if request.facets else None, maptype=sorting.Count,
            sortedby=sortedby, reverse=sortedby is not None)
        hits = [Hit(hit["id"], float(hit.score or 0.0))
                for hit in results[request.offset: request.offset + request.limit]]
        counts = {name: {k: v for k, v in results.groups(name).items() if k}
                  for name in request.facets}
        return SearchResult(total=len(results), hits=hits, facets=counts)

    def doc_freq(self, field: str, token: str) -> int:
        return self._searcher().doc_frequency(field, token)

    def terms_with_prefix(self, field: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        searcher = self._searcher()
        found = []
        for term in searcher.reader().expand_prefix(field, prefix):
            text = term.decode("utf-8") if isinstance(term, bytes) else term
            found.append((text, searcher.doc_frequency(field, text)))
            if len(found) >= 1000:  # bounded: prefixes here are specific ("gougu:")
                break
        found.sort(key=lambda item: (-item[1], item[0]))
        return found[:limit]

    def count(self) -> int:
        return self._searcher().doc_count()

    def refresh(self) -> None:
        self._searcher()

    def close(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
