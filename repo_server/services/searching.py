"""Search as teachers use it: one box, facets, snippets, sorting, "did you mean".

Permission filtering happens inside the engine (access_filter), so totals and facet counts
never include what the asker may not see; hits are checked once more against the catalog
(the index may lag the catalog by a moment). Facet counts are "disjunctive": the counts of a
facet with an active filter ignore that filter, so a teacher who chose 数学 still sees how many
results 物理 would give. Query cost is bounded: at most 200 characters, 12 words, no
operators, no prefix expansion, and no paging past the first 10,000 results.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from types import SimpleNamespace
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Mapping

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from repo_server.catalog.changes import last_seq

from repo_server.catalog.models import Blob, BlobText, Organisation, Resource, ResourceTag, VocabTerm
from repo_server.errors import InvalidInput, UnknownTerm
from repo_server.indexer import (FACET_FIELDS, MAX_QUERY_CHARS, SORTS, SearchRequest, TextQuery,
                                 build_text_query, clean_query)
from repo_server.ingest.formats import FAMILY_LABELS

from .actor import Actor
from .context import Services
from .fields import VOCAB_FIELDS
from .permissions import access_filter, can_view
from .search_tools import SearchTools, search_index, search_tools

__all__ = ["SearchParams", "InvalidQuery", "search", "MAX_PER_PAGE", "MAX_RESULTS"]

MAX_PER_PAGE = 100
MIRROR_WAIT_S = 3.0     # how long a search on a mirror waits for the index to match the catalog
MAX_RESULTS = 10_000
# Snippets come from the description, else from the start of the extracted text: scanning a
# whole 100,000-character text for each of 20 hits would cost more than the search itself.
SNIPPET_SCAN_CHARS = 8_000
# 文档 → document, …: the Chinese family names teachers see and may type.
FORMAT_NAMES = {label.split("(")[-1].rstrip(")"): family for family, label in FAMILY_LABELS.items()}
FORMAT_LABELS = {family: name for name, family in FORMAT_NAMES.items()}


class InvalidQuery(InvalidInput):
    """A search request that cannot be answered as asked (HTTP 400)."""

    code = "invalid_query"


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # field → names/codes
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise InvalidQuery(f"sort must be one of {', '.join(SORTS)}", field="sort", reason="sort",
                               value=self.sort, choices=list(SORTS))
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidQuery(f"per_page must be between 1 and {MAX_PER_PAGE}", field="per_page",
                               reason="per_page", maximum=MAX_PER_PAGE)
        if self.page < 1:
            raise InvalidQuery("page starts at 1", field="page", reason="page_start")
        if self.page * self.per_page > MAX_RESULTS:
            raise InvalidQuery(f"only the first {MAX_RESULTS:,} results can be paged through; "
                               "add words or filters to narrow the search", field="page",
                               reason="page_beyond", maximum=MAX_RESULTS)
        unknown = set(self.filters) - set(FACET_FIELDS)
        if unknown:
            raise InvalidQuery(f"unknown filter {sorted(unknown)[0]!r}", field=sorted(unknown)[0],
                               reason="unknown_filter")


def _filter_codes(svc: Services, tools: SearchTools, filters: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Names, codes and aliases typed in filters → the codes the index holds."""
    resolved: dict[str, tuple[str, ...]] = {}
    stage = None
    for name in sorted(filters, key=lambda n: n != "stage"):
        codes = []
        for value in (v.strip() for v in filters[name] if v.strip()):
            try:
                if name in VOCAB_FIELDS:
                    codes.append(tools.vocab.resolve(name, value, stage=stage).code)
                elif name == "format":
                    codes.append(_format_code(value))
                else:
                    codes.append(_org_code(svc, value))
            except UnknownTerm as exc:
                raise InvalidQuery(exc.message, field=name, **exc.details) from None
        if codes:
            resolved[name] = tuple(dict.fromkeys(codes))
            if name == "stage" and len(codes) == 1:
                stage = codes[0]
    return resolved


def _format_code(value: str) -> str:
    if value in FAMILY_LABELS:
        return value
    if value in FORMAT_NAMES:
        return FORMAT_NAMES[value]
    raise InvalidQuery(f"unknown format {value!r}; one of {', '.join(FORMAT_NAMES)}", field="format",
                       reason="unknown_format", value=value, formats=list(FAMILY_LABELS))


def _org_code(svc: Services, value: str) -> str:
    with svc.catalog.read() as session:
        org = session.get(Organisation, int(value)) if value.isdigit() else \
            session.scalars(select(Organisation).where(Organisation.name == value)).first()
    if org is None:
        raise InvalidQuery(f"unknown organisation {value!r}", field="org", reason="unknown_org",
                           value=value)
    return str(org.id)


_ORG_NAMES_SQL = select(Organisation.id, Organisation.name).where(
    Organisation.id.in_(bindparam("ids", expanding=True)))


def _facet_labels(session, tools: SearchTools, facets: dict[str, dict[str, int]]) -> dict:
    """Codes → the names teachers read, vocabulary facets in the vocabulary's order."""
    org_ids = [int(code) for code in facets.get("org", {}) if code.isdigit()]
    org_names = dict(session.connection().execute(_ORG_NAMES_SQL, {"ids": org_ids}).all()) if org_ids else {}
    labelled: dict[str, dict[str, int]] = {}
    for name, counts in facets.items():
        if name in VOCAB_FIELDS:
            order = tools.facet_order[name]
            items = sorted((order[c] + (n,) for c, n in counts.items() if c in order))
            labelled[name] = {label: n for _, label, n in items}
        elif name == "format":
            labelled[name] = {FORMAT_LABELS.get(c, c): n for c, n in sorted(counts.items(), key=lambda i: -i[1])}
        else:
            labelled[name] = {org_names.get(int(c), c): n for c, n in sorted(counts.items(), key=lambda i: -i[1])}
    return labelled


_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")
_MAX_LOOKUPS = 40


def _did_you_mean(tools: SearchTools, index, q: str) -> str | None:
    """Homophone correction, the usual typo of a pinyin input method (勾古定理 → 勾股定理).

    Segmentation splits such a typo into pieces (勾 / 古 / 定理), so runs of Chinese characters
    are checked instead: the whole run, then its longest windows, against the `sounds` terms
    (pinyin → indexed title word). Bounded to a few dozen term lookups.
    """
    text, lookups = tools.analyzer.normalize(q), 0
    corrected = text
    for run in _CJK_RUN.findall(text):
        windows = [(size, start) for size in range(len(run), 1, -1)
                   for start in range(len(run) - size + 1)]
        for size, start in windows:
            if lookups >= _MAX_LOOKUPS:
                break
            piece = run[start:start + size]
            if piece not in corrected or index.doc_freq(tools.synonyms.canonical(piece)) > 0:
                continue
            lookups += 1
            candidates = index.terms_with_prefix("sounds", tools.analyzer.spell(piece) + ":", 3)
            better = next((t.split(":", 1)[1] for t, _ in candidates if t.split(":", 1)[1] != piece), None)
            if better:
                corrected = corrected.replace(piece, better)
                break
    return corrected if corrected != text else None


def _highlighted(tools: SearchTools, text: TextQuery | None) -> set[str]:
    """The words to mark in snippets: the query's tokens and every form of their synonym
    groups (the index folds 初二 into 八年级, but the snippet shows the text as written)."""
    tokens = set(text.tokens) if text else set()
    tokens |= {form for t in tokens for form in tools.synonyms.of(t)}
    return {t for t in tokens if not t.isascii() or len(t) > 1}


_TERM_COLUMNS = tuple((name, f"{name}_id") for name in VOCAB_FIELDS)
_HIT_COLUMNS = (Resource.id, Resource.title, Resource.description, Resource.creator, Resource.publisher,
                Resource.language, Resource.license, Resource.date,
                *(getattr(Resource, f"{name}_id") for name in VOCAB_FIELDS),
                Resource.chapter, Resource.lesson, Resource.visibility, Resource.status, Resource.org_id,
                Organisation.name.label("org_name"), Organisation.path.label("org_path"),
                Resource.deleted_at, Resource.owner_id, Resource.filename,
                Resource.blob_sha256, Blob.size, Blob.mime, Resource.format, Resource.created_at,
                Resource.updated_at, Resource.download_count)

_HITS_SQL = (select(*_HIT_COLUMNS).join(Blob, Blob.sha256 == Resource.blob_sha256)
             .outerjoin(Organisation, Organisation.id == Resource.org_id)
             .where(Resource.id.in_(bindparam("ids", expanding=True))))
_TAGS_SQL = select(ResourceTag.resource_id, ResourceTag.tag).where(
    ResourceTag.resource_id.in_(bindparam("ids", expanding=True)))
_TERMS_SQL = select(VocabTerm.id, VocabTerm.code, VocabTerm.name).where(
    VocabTerm.id.in_(bindparam("ids", expanding=True)))
_TEXTS_SQL = select(BlobText.sha256, func.substr(BlobText.text, 1, SNIPPET_SCAN_CHARS)).where(
    BlobText.sha256.in_(bindparam("ids", expanding=True)))


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


class _Viewable:
    """The attributes `can_view` reads, from a plain row: one rule for everything."""

    __slots__ = ("deleted_at", "owner_id", "status", "visibility", "org_id", "org")

    def __init__(self, row) -> None:
        self.deleted_at, self.owner_id, self.status = row.deleted_at, row.owner_id, row.status
        self.visibility, self.org_id = row.visibility, row.org_id
        self.org = SimpleNamespace(path=row.org_path) if row.org_id is not None else None


def _hit_rows(session, actor: Actor, ids: list[str], public_access: bool) -> tuple[dict, dict, dict]:
    """The page's resources as plain rows (ORM objects with their eight eager joins cost more
    than the search itself at 20 hits), with tags and vocabulary terms; only those the asker may
    see (`can_view`: the index can lag the catalog by a moment)."""
    connection = session.connection()  # Core statements, built once: no ORM layer per row
    found = connection.execute(_HITS_SQL, {"ids": ids}).all()
    rows = {r.id: r for r in found if can_view(actor, _Viewable(r), public_access=public_access)}
    tags: dict[str, list[str]] = {}
    if rows:
        for resource_id, tag in connection.execute(_TAGS_SQL, {"ids": list(rows)}).all():
            tags.setdefault(resource_id, []).append(tag)
    term_ids = {getattr(r, column) for r in rows.values() for _, column in _TERM_COLUMNS} - {None}
    terms = {i: {"code": code, "name": name} for i, code, name in
             connection.execute(_TERMS_SQL, {"ids": list(term_ids)}).all()} if term_ids else {}
    return rows, tags, terms


def _hit_view(r, tags: list[str], terms: dict) -> dict[str, Any]:
    """What `views.resource_view(…, with_derivatives=False)` shows, from a plain row (a test
    keeps the two identical)."""
    view: dict[str, Any] = {"id": r.id, "title": r.title, "description": r.description, "creator": r.creator,
                            "publisher": r.publisher, "language": r.language, "license": r.license,
                            "date": r.date}
    for name, column in _TERM_COLUMNS:
        term_id = getattr(r, column)
        view[name] = dict(terms[term_id]) if term_id in terms else None
    view.update({
        "chapter": r.chapter, "lesson": r.lesson, "tags": sorted(tags), "visibility": r.visibility,
        "status": r.status,
        "organisation": {"id": r.org_id, "name": r.org_name} if r.org_id is not None else None,
        "owner_id": r.owner_id, "filename": r.filename, "sha256": r.blob_sha256, "size": r.size,
        "mime": r.mime, "format": r.format, "download_count": r.download_count, "created_at": _iso(r.created_at),
        "updated_at": _iso(r.updated_at)})
    return view


def _hits(session, svc: Services, tools: SearchTools, actor: Actor, ids: list[str],
          tokens: set[str]) -> list[dict]:
    if not ids:
        return []
    rows, tags, terms = _hit_rows(session, actor, ids, svc.settings.public_access)
    snippets = {r.id: tools.highlighter.snippet(r.description, tokens) for r in rows.values()}
    # the file's text only where the description shows no match
    need_text = {r.blob_sha256 for r in rows.values() if "<mark>" not in snippets[r.id]}
    texts = dict(session.connection().execute(_TEXTS_SQL, {"ids": list(need_text)}).all()) \
        if need_text else {}
    hits = []
    for resource_id in ids:  # keep the engine's order
        r = rows.get(resource_id)
        if r is None:
            continue  # gone, or no longer visible: the index lags the catalog by a moment
        view = _hit_view(r, tags.get(r.id, []), terms)
        snippet = snippets[r.id]
        if "<mark>" not in snippet and texts.get(r.blob_sha256):
            snippet = tools.highlighter.snippet(texts[r.blob_sha256], tokens)
        view["title_html"] = tools.highlighter.mark(r.title, tokens)
        view["snippet"] = snippet
        hits.append(view)
    return hits


def search(svc: Services, actor: Actor, params: SearchParams) -> dict[str, Any]:
    q = clean_query(params.q)
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}",
                           field="q", reason="too_long", length=len(q), max_length=MAX_QUERY_CHARS)
    tools, index = search_tools(svc), search_index(svc)
    filters = _filter_codes(svc, tools, params.filters)
    text = build_text_query(tools.analyzer, tools.synonyms, q) if q else None
    answer: dict[str, Any] = {"query": q, "page": params.page, "per_page": params.per_page,
                              "sort": params.sort, "relaxed": False, "did_you_mean": None}
    if q and text is None:  # only punctuation, emoji or stop words: nothing to look for
        return {**answer, "total": 0, "hits": [], "facets": {f: {} for f in FACET_FIELDS}}
    request = SearchRequest(text=text, access=access_filter(actor, public_access=svc.settings.public_access),
                            filters=filters, sort=params.sort, offset=(params.page - 1) * params.per_page,
                            limit=params.per_page, facets=FACET_FIELDS, disjunctive=True)
    with _catalog_matching_index(svc, index) as session:
        return _answer(svc, tools, index, actor, session, request, text, q, answer)


@contextmanager
def _catalog_matching_index(svc: Services, index) -> Iterator[Session]:
    """A catalog read session for the hits. On a mirror, one snapshot whose change counter
    equals the sequence the index has applied (docs/mirrors.md, "What teachers see during a
    sync"): a sync commits the catalog and then the index, and a search between the two would
    count hits in the old index and show them from the new catalog. The index behind → wait
    for the indexer (it polls 4× a second) with a fresh snapshot each time; the index ahead of
    this snapshot → take a fresh one. After MIRROR_WAIT_S (a first sync indexes for minutes)
    the search answers anyway. Elsewhere (uploads all day) the index may lag by a moment."""
    if not svc.settings.is_mirror:
        with svc.catalog.read() as session:
            yield session
        return
    deadline = time.monotonic() + MIRROR_WAIT_S
    while True:
        with svc.catalog.read() as session:
            if not svc.catalog.is_sqlite:     # SQLite reads in one snapshot from BEGIN on already
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            counter = last_seq(session)
            applied = _applied_seq(index)
            if applied == counter or time.monotonic() > deadline:
                yield session
                return
        time.sleep(0.05 if applied < counter else 0)


def _applied_seq(index) -> int:
    """How far the live index generation has applied the change log (written after each
    index commit: equal to the counter means the commit covering it is visible)."""
    live = index.store.current()
    return index.store.read_meta(live).seq if live else 0


def _answer(svc: Services, tools: SearchTools, index, actor: Actor, session: Session, request: SearchRequest,
            text: TextQuery | None, q: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The index's answer with the hits' rows from `session`."""
    result = index.search(request)
    if text is not None and result.total == 0 and len(text.clauses) > 1:
        request = replace(request, text=replace(text, match_all_clauses=False))
        result, answer["relaxed"] = index.search(request), True
    facets = result.facets  # disjunctive: a facet's counts ignore its own filter
    if text is not None and (result.total < 3 or answer["relaxed"]):
        suggestion = _did_you_mean(tools, index, q)
        if suggestion:
            check = replace(request, text=build_text_query(tools.analyzer, tools.synonyms, suggestion),
                            offset=0, limit=0, facets=(), disjunctive=False)
            strict_total = 0 if answer["relaxed"] else result.total
            if index.search(check).total > strict_total:  # never suggest what the asker cannot see
                answer["did_you_mean"] = suggestion
    tokens = _highlighted(tools, text)
    answer.update(total=result.total, facets=_facet_labels(session, tools, facets),
                  hits=_hits(session, svc, tools, actor, [h.id for h in result.hits], tokens))
    return answer
