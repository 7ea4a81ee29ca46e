"""TantivyEngine: the embedded Rust engine for large libraries (up to ~1,000,000 items).

Text fields use tantivy's whitespace tokenizer over our pre-segmented tokens (term
frequencies, no positions: we never run phrase queries). Facet fields are raw fast fields
counted with a terms aggregation; permissions (the audience keys) and filters are
constant-score clauses so they narrow results without changing their order. A request is two
passes over its matches: the top hits (with the total), then one aggregation with every facet
count — disjunctive counts included, as filter buckets (see `_disjunctive_facets`).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Iterable

import tantivy
from tantivy import Occur, Query

from .query import AccessFilter, Hit, SearchRequest, SearchResult, TextQuery
from .schema import (ACCESS_FIELDS, AUDIENCE_FIELD, FACET_FIELDS, HIDDEN_KEY, PINYIN_BOOST, PINYIN_FIELD,
                     SOUNDS_FIELD, TEXT_BOOSTS, SearchDocument)

__all__ = ["TantivyEngine"]

_WRITER_HEAP = 128 * 1024 * 1024
_FACET_SIZE = 500
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.\-]+")   # codes an aggregation's filter string can carry as they are


def _terms(fields) -> dict:
    return {f: {"terms": {"field": f, "size": _FACET_SIZE}} for f in fields}


def _bucket_counts(terms: dict) -> dict[str, int]:
    return {b["key"]: b["doc_count"] for b in terms["buckets"]}


def _buckets(result: dict) -> dict[str, dict[str, int]]:
    """{field: {code: count}} from the terms aggregations in `result`."""
    return {name: _bucket_counts(part) for name, part in result.items()
            if isinstance(part, dict) and "buckets" in part}


def _query_string(filters: dict[str, tuple[str, ...]]) -> str:
    """Filters in tantivy's query syntax (for filter aggregations): AND of fields, OR of codes."""
    return " AND ".join("(" + " OR ".join(f'{field}:"{code}"' for code in codes) + ")"
                        for field, codes in filters.items())


def _schema(*, with_audience: bool = True) -> tantivy.Schema:
    """The index schema; `with_audience=False` is schema 1's (kept to test upgrades)."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in (*TEXT_BOOSTS, PINYIN_FIELD, SOUNDS_FIELD):
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    for name in FACET_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    for name in ((AUDIENCE_FIELD,) if with_audience else ()) + ACCESS_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("created", fast=True, indexed=True)
    builder.add_integer_field("downloads", fast=True, indexed=True)
    return builder.build()


class TantivyEngine:
    name = "tantivy"

    def create(self, path: Path) -> None:
        tantivy.Index(_schema(), path=str(path), reuse=False)

    def open_reader(self, path: Path, *, schema: int) -> "TantivyReader":
        return TantivyReader(tantivy.Index.open(str(path)), hidden_key=schema >= 4)

    def open_writer(self, path: Path) -> "TantivyWriter":
        return TantivyWriter(tantivy.Index.open(str(path)))


def _has_audience(schema: tantivy.Schema) -> bool:
    """False for generations of schema 1: they keep working (permissions from the separate
    access fields) until the indexer's rebuild replaces them."""
    try:
        Query.term_query(schema, AUDIENCE_FIELD, "public")
    except ValueError:
        return False
    return True


class TantivyWriter:
    def __init__(self, index: tantivy.Index) -> None:
        self._writer = index.writer(_WRITER_HEAP, 1)
        self._audience = _has_audience(index.schema)

    def upsert(self, docs: Iterable[SearchDocument]) -> None:
        for doc in docs:
            self._writer.delete_documents_by_term("id", doc.id)
            self._writer.add_document(_document(doc, audience=self._audience))

    def delete(self, ids: Iterable[str]) -> None:
        for doc_id in ids:
            self._writer.delete_documents_by_term("id", doc_id)

    def commit(self) -> None:
        self._writer.commit()

    def close(self) -> None:
        self._writer.wait_merging_threads()


def _document(doc: SearchDocument, *, audience: bool = True) -> tantivy.Document:
    out = tantivy.Document()
    out.add_text("id", doc.id)
    for name in (*TEXT_BOOSTS, PINYIN_FIELD, SOUNDS_FIELD):
        value = getattr(doc, name)
        if value:
            out.add_text(name, value)
    for name, value in doc.facets.items():
        if value:
            out.add_text(name, value)
    for name in ("visibility", "status", "org_id", "owner_id"):
        if getattr(doc, name):
            out.add_text(name, getattr(doc, name))
    for org in doc.org_path:
        out.add_text("org_path", org)
    for key in doc.audience if audience else ():
        out.add_text(AUDIENCE_FIELD, key)
    out.add_integer("created", doc.created)
    out.add_integer("downloads", doc.downloads)
    return out


class TantivyReader:
    def __init__(self, index: tantivy.Index, *, hidden_key: bool = True) -> None:
        self._index = index
        self._schema = index.schema
        self._lock = threading.Lock()
        self._has_audience = _has_audience(self._schema)
        self._hidden_key = hidden_key and self._has_audience   # schema ≥ 4: see _access

    # -- query translation ------------------------------------------------------------------
    def _term(self, field: str, token: str, boost: float = 1.0) -> Query:
        query = Query.term_query(self._schema, field, token)
        return Query.boost_query(query, boost) if boost != 1.0 else query

    def _token(self, group: str, token: str) -> Query:
        if group == "pinyin":
            return self._term(PINYIN_FIELD, token, PINYIN_BOOST)
        return Query.disjunction_max_query(
            [self._term(field, token, boost) for field, boost in TEXT_BOOSTS.items()], 0.1)

    def _text(self, text: TextQuery) -> Query:
        clauses = []
        for clause in text.clauses:
            alternatives = [Query.boolean_query([(Occur.Must, self._token(g, t)) for g, t in alt])
                            for alt in clause]
            clauses.append(Query.boolean_query([(Occur.Should, a) for a in alternatives]))
        occur = Occur.Must if text.match_all_clauses else Occur.Should
        return Query.boolean_query([(occur, c) for c in clauses])

    def _access(self, access: AccessFilter, *, narrowed: bool = True) -> list[tuple[Occur, Query]]:
        """The permission rule as clauses (none for administrators). When words or filters
        narrow the request, a reader who sees public items is filtered by excluding the
        hidden documents they may not see: most of the library is public, and intersecting a
        broad query with "everything visible" cost a fifth of its time at a million items.
        Otherwise (browsing everything, or no public access) by the union of their audience
        keys, which is then the cheaper way to walk the library."""
        if access.admin:
            return []
        if self._has_audience:
            keys = access.audience()
            if not keys:
                return [(Occur.Must, Query.empty_query())]
            if access.public and self._hidden_key and narrowed:
                hidden = self._term(AUDIENCE_FIELD, HIDDEN_KEY)
                own = [(Occur.Should, self._term(AUDIENCE_FIELD, k)) for k in keys if k != "public"]
                if own:
                    hidden = Query.boolean_query([(Occur.Must, hidden), (Occur.MustNot, Query.boolean_query(own))])
                return [(Occur.MustNot, hidden)]
            union = Query.boolean_query([(Occur.Should, self._term(AUDIENCE_FIELD, k)) for k in keys])
            return [(Occur.Must, Query.const_score_query(union, 0.0))]
        published = (Occur.Must, self._term("status", "published"))
        options = []
        if access.public:
            options.append(Query.boolean_query([published, (Occur.Must, self._term("visibility", "public"))]))
        if access.org_ids:
            options.append(Query.boolean_query([
                published, (Occur.Must, self._term("visibility", "organisation")),
                (Occur.Must, Query.term_set_query(self._schema, "org_id", list(access.org_ids)))]))
        if access.owner_id:
            options.append(self._term("owner_id", access.owner_id))
        if access.managed_org_id:
            options.append(self._term("org_path", access.managed_org_id))
        if not options:
            return [(Occur.Must, Query.empty_query())]
        union = Query.boolean_query([(Occur.Should, o) for o in options])
        return [(Occur.Must, Query.const_score_query(union, 0.0))]

    def _base(self, request: SearchRequest) -> list[tuple[Occur, Query]]:
        """Text and permissions: what every count of the request starts from."""
        return [(Occur.Must, self._text(request.text) if request.text else Query.all_query()),
                *self._access(request.access, narrowed=request.text is not None or any(request.filters.values()))]

    def _filter(self, field: str, values: tuple[str, ...]) -> Query:
        return Query.const_score_query(Query.term_set_query(self._schema, field, list(values)), 0.0)

    # -- reading -----------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        searcher = self._index.searcher()
        base = self._base(request)
        filters = {f: tuple(v) for f, v in request.filters.items() if v}
        query = Query.boolean_query(base + [(Occur.Must, self._filter(f, v)) for f, v in filters.items()])
        order = {"newest": "created", "downloads": "downloads"}.get(request.sort)
        found = searcher.search(query, limit=max(request.limit, 1), count=True,
                                offset=request.offset, order_by_field=order)
        hits = [Hit(searcher.doc(address)["id"][0], float(key) if order is None else 0.0)
                for key, address in found.hits][: request.limit]
        facets: dict[str, dict[str, int]] = {f: {} for f in request.facets}
        disjunctive = [f for f in request.facets if f in filters] if request.disjunctive else []
        if disjunctive and all(_SAFE_CODE.fullmatch(c) for v in filters.values() for c in v):
            facets.update(self._disjunctive_facets(searcher, base, filters, request.facets))
        else:
            for name in disjunctive:  # codes the aggregation's query syntax cannot carry
                others = [(Occur.Must, self._filter(f, v)) for f, v in filters.items() if f != name]
                facets.update(_buckets(searcher.aggregate(Query.boolean_query(base + others), _terms((name,)))))
            plain = [f for f in request.facets if f not in disjunctive]
            if plain and found.count:
                facets.update(_buckets(searcher.aggregate(query, _terms(plain))))
        return SearchResult(total=found.count, hits=hits, facets=facets)

    def _disjunctive_facets(self, searcher, base, filters: dict[str, tuple[str, ...]],
                            wanted: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """Every facet count in one aggregation pass: over the documents that fail at most one
        filter, a filter bucket per count — all filters for the unfiltered facets, all but its
        own for each filtered facet."""
        names = list(filters)
        if len(names) > 1:  # at least n − 1 of the n filters hold
            alternatives = [Query.boolean_query([(Occur.Must, self._filter(f, filters[f])) for f in names if f != skip])
                            for skip in names]
            base = base + [(Occur.Must, Query.boolean_query([(Occur.Should, a) for a in alternatives]))]
        spec: dict = {}
        plain = [f for f in wanted if f not in filters]
        if plain:
            spec["all"] = {"filter": _query_string(filters), "aggs": _terms(plain)}
        for name in (f for f in wanted if f in filters):
            others = {f: v for f, v in filters.items() if f != name}
            spec[f"but_{name}"] = {"filter": _query_string(others), "aggs": _terms((name,))} if others \
                else _terms((name,))[name]
        result = searcher.aggregate(Query.boolean_query(base), spec)
        facets: dict[str, dict[str, int]] = {}
        if plain:
            facets.update(_buckets(result["all"]))
        for name in (f for f in wanted if f in filters):
            part = result[f"but_{name}"]
            facets[name] = _buckets(part)[name] if name in part else _bucket_counts(part)
        return facets

    def doc_freq(self, field: str, token: str) -> int:
        return self._index.searcher().doc_freq(field, token)

    def terms_with_prefix(self, field: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        return list(self._index.searcher().terms_with_prefix(field, prefix, limit=limit))

    def count(self) -> int:
        return self._index.searcher().num_docs

    def refresh(self) -> None:
        with self._lock:
            self._index.reload()

    def close(self) -> None:
        pass
