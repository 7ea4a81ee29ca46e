"""The e-book shelf behind the OPDS catalog: what counts as an e-book, the 学段 → 学科 → 年级
navigation with counts, newest-first pages and search, all limited to what the asker may see.

An e-book is a published resource whose file is an e-book format (EPUB, MOBI, AZW3: format
family "ebook") or whose resource type is 电子图书 or 电子教材 (a PDF textbook is read on the
same e-reader apps). Paths name vocabulary terms by code (stage=CZ&subject=SX&grade=G8):
e-reader apps cope better with ASCII URLs than with percent-encoded Chinese.

Search reuses the search service (permission filtering inside the engine); because the
engine's filters are AND across fields, "format is e-book OR type is 电子图书/电子教材" is two
searches whose ranked lists are interleaved (rank 1 of each, then rank 2 …, duplicates
dropped), the first `SEARCH_WINDOW` hits of each at most.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from repo_server.catalog.models import Derivative, Resource, VocabTerm
from repo_server.errors import NotFound

from .actor import Actor
from .context import Services
from .media_plan import THUMBNAIL
from .permissions import visible_clause
from .searching import MAX_PER_PAGE, SearchParams, search
from .views import resource_view

__all__ = ["EBOOK_FORMAT", "EBOOK_TYPE_CODES", "NAV_LEVELS", "SEARCH_WINDOW", "Shelf", "ebook_clause",
           "shelf", "books", "search_books"]

EBOOK_FORMAT = "ebook"
EBOOK_TYPE_CODES = ("DZTS", "DZJC")          # 电子图书, 电子教材
NAV_LEVELS = ("stage", "subject", "grade")
SEARCH_WINDOW = 500                          # hits looked at per sub-search
_COLUMN = {"stage": Resource.stage_id, "subject": Resource.subject_id, "grade": Resource.grade_id}
_IMAGES = ("cover", THUMBNAIL)


@dataclass
class Shelf:
    """One navigation level: the path so far ({level, code, name}), the next level's values
    with counts ({code, name, count}), and how many e-books are under the path."""

    path: list[dict[str, str]]
    level: str | None
    children: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def codes(self) -> dict[str, str]:
        return {step["level"]: step["code"] for step in self.path}


def ebook_clause() -> ColumnElement[bool]:
    """SQL condition: the resource is an e-book (format family or resource type)."""
    types = select(VocabTerm.id).where(VocabTerm.scheme == "type", VocabTerm.code.in_(EBOOK_TYPE_CODES))
    return or_(Resource.format == EBOOK_FORMAT, Resource.type_id.in_(types))


def _where(svc: Services, actor: Actor) -> list[ColumnElement[bool]]:
    return [visible_clause(actor, public_access=svc.settings.public_access), Resource.status == "published",
            ebook_clause()]


def _path(session: Session, codes: Mapping[str, str]) -> list[dict[str, Any]]:
    """The named prefix of NAV_LEVELS as terms; an unknown code or a gap is NotFound."""
    path: list[dict[str, Any]] = []
    for level in NAV_LEVELS:
        code = (codes.get(level) or "").strip()
        if not code:
            break
        term = session.scalar(select(VocabTerm).where(VocabTerm.scheme == level, VocabTerm.code == code))
        if term is None:
            raise NotFound(f"no {level} with code {code!r}", field=level, reason="no_catalog_node", value=code)
        path.append({"level": level, "code": term.code, "name": term.name, "id": term.id})
    if any((codes.get(level) or "").strip() for level in NAV_LEVELS[len(path):]):
        raise NotFound("a catalog path names its levels from the top (学段 first)", reason="catalog_gap")
    return path


def _conditions(path: list[dict[str, Any]]) -> list[ColumnElement[bool]]:
    return [_COLUMN[step["level"]] == step["id"] for step in path]


def _public(path: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: step[k] for k in ("level", "code", "name")} for step in path]


def shelf(svc: Services, actor: Actor, codes: Mapping[str, str]) -> Shelf:
    """The navigation node named by `codes` with its children's counts (vocabulary order)."""
    with svc.catalog.read() as session:
        path = _path(session, codes)
        level = NAV_LEVELS[len(path)] if len(path) < len(NAV_LEVELS) else None
        where = [*_where(svc, actor), *_conditions(path)]
        node = Shelf(path=_public(path), level=level)
        node.total = session.scalar(select(func.count()).select_from(Resource).where(*where)) or 0
        if level is not None and node.total:
            column = _COLUMN[level]
            rows = session.execute(select(VocabTerm.code, VocabTerm.name, func.count()).select_from(Resource)
                                   .join(VocabTerm, VocabTerm.id == column).where(*where)
                                   .group_by(VocabTerm.id, VocabTerm.code, VocabTerm.name, VocabTerm.position)
                                   .order_by(VocabTerm.position, VocabTerm.id)).all()
            node.children = [{"code": code, "name": name, "count": count} for code, name, count in rows]
    return node


def _views(session: Session, rows: list[Resource]) -> list[dict[str, Any]]:
    """Resource views with `images`: {profile: mime} of the cover/thumbnail each file has."""
    shas = {r.blob_sha256 for r in rows}
    done: dict[str, dict[str, str]] = {}
    if shas:
        for sha, profile, meta in session.execute(select(
                Derivative.source_sha256, Derivative.profile, Derivative.meta).where(
                Derivative.source_sha256.in_(shas), Derivative.profile.in_(_IMAGES),
                Derivative.status == "done", Derivative.blob_sha256.is_not(None))):
            done.setdefault(sha, {})[profile] = (meta or {}).get("mime") or "image/jpeg"
    views = []
    for r in rows:
        view = resource_view(session, r, with_derivatives=False)
        view["images"] = done.get(r.blob_sha256, {})
        views.append(view)
    return views


def books(svc: Services, actor: Actor, codes: Mapping[str, str], *, page: int = 1,
          per_page: int = 20) -> dict[str, Any]:
    """One page of the e-books under a path (all e-books for an empty one), newest first."""
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    with svc.catalog.read() as session:
        path = _path(session, codes)
        where = [*_where(svc, actor), *_conditions(path)]
        total = session.scalar(select(func.count()).select_from(Resource).where(*where)) or 0
        rows = list(session.scalars(select(Resource).where(*where)
                                    .order_by(Resource.created_at.desc(), Resource.id)
                                    .offset((page - 1) * per_page).limit(per_page)))
        return {"path": _public(path), "total": total, "page": page, "per_page": per_page,
                "items": _views(session, rows)}


def _ranked(svc: Services, actor: Actor, q: str, filters: dict[str, tuple[str, ...]], want: int) -> list[str]:
    ids: list[str] = []
    page = 1
    while len(ids) < want:
        answer = search(svc, actor, SearchParams(q=q, filters=filters, page=page, per_page=MAX_PER_PAGE))
        ids += [hit["id"] for hit in answer["hits"]]
        if len(answer["hits"]) < MAX_PER_PAGE or page * MAX_PER_PAGE >= answer["total"]:
            break
        page += 1
    return ids[:want]


def search_books(svc: Services, actor: Actor, q: str, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """E-books matching `q`, by relevance, one page; `more` says whether a next page exists."""
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    want = min(page * per_page + 1, SEARCH_WINDOW)
    by_format = _ranked(svc, actor, q, {"format": (EBOOK_FORMAT,)}, want)
    by_type = _ranked(svc, actor, q, {"type": EBOOK_TYPE_CODES}, want)
    merged: list[str] = []
    for pair in itertools.zip_longest(by_format, by_type):
        merged += [i for i in pair if i is not None and i not in merged]
    start = (page - 1) * per_page
    wanted = merged[start:start + per_page]
    with svc.catalog.read() as session:
        rows = {r.id: r for r in session.scalars(select(Resource).where(
            Resource.id.in_(wanted), *_where(svc, actor)))} if wanted else {}
        items = _views(session, [rows[i] for i in wanted if i in rows])
    return {"query": q, "page": page, "per_page": per_page, "items": items,
            "more": len(merged) > start + per_page}
