"""The catalog tree teachers browse: 学段 → 学科 → 教材版本 → 年级 → 册次 → 单元 → 课, with counts.

A node is a path of (level, value) pairs from the top, values as people write them (term
names for the vocabulary levels, the text of 单元 and 课). Its children are the values of the
next level among the resources under it that the asker may see, each with its count, in
vocabulary order (texts in natural order: 第2课 before 第10课). Resources without a value at
the next level are not lost: they are under the node (its total) and listed with it.

Counts are one GROUP BY over the visible resources, using the classification indexes;
the home page asks for two levels at once (学段 and its 学科). Term names and order come from
one small query on the terms involved (not the whole vocabulary with its aliases: this runs
on every home page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import ColumnElement, func, select

from repo_server.catalog.changes import last_seq
from repo_server.catalog.models import Resource, VocabTerm
from repo_server.errors import NotFound

from .actor import Actor
from .context import Services
from .memo import remembered
from .permissions import access_filter, can_view, visible_clause
from .views import resource_view

__all__ = ["LEVELS", "TreeNode", "catalog_node", "home_tree", "resources_under", "popular_resources",
           "newest_resources"]

_POPULAR_CANDIDATES = 300   # most downloaded items looked at before the asker's own full query
_POPULAR_BATCH = 40
_TREE_CACHE_SIZE = 256      # askers' views of the tree kept (a teacher's view is their school's)
_NODE_CACHE_SIZE = 1024     # (asker's view, node) answers kept: a few KB each
LEVELS = ("stage", "subject", "edition", "grade", "volume", "chapter", "lesson")
_VOCAB_LEVELS = {"stage", "subject", "edition", "grade", "volume"}
_COLUMN = {"stage": Resource.stage_id, "subject": Resource.subject_id, "edition": Resource.edition_id,
           "grade": Resource.grade_id, "volume": Resource.volume_id, "chapter": Resource.chapter,
           "lesson": Resource.lesson}


@dataclass
class TreeNode:
    path: list[tuple[str, str]]                      # (level, value) from the top
    level: str | None                                # the children's level; None at a lesson
    children: list[dict[str, Any]] = field(default_factory=list)   # {value, count}
    total: int = 0

    def query(self, extra: tuple[str, str] | None = None) -> dict[str, str]:
        """The node (or one of its children) as query parameters."""
        pairs = self.path + ([extra] if extra else [])
        return dict(pairs)


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _terms(session, ids) -> dict[int, tuple[str, tuple[int, int]]]:
    """id → (name, sort key) for these term ids."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(VocabTerm.id, VocabTerm.name, VocabTerm.position)
                           .where(VocabTerm.id.in_(wanted))).all()
    return {row.id: (row.name, (row.position, row.id)) for row in rows}


def _conditions(session, path: list[tuple[str, str]]) -> list[ColumnElement[bool]]:
    """SQL conditions for a path; vocabulary levels by exact term name (links carry names)."""
    where = []
    for level, value in path:
        if level in _VOCAB_LEVELS:
            term_id = session.scalar(select(VocabTerm.id).where(
                VocabTerm.scheme == level, VocabTerm.name == value, VocabTerm.active.is_(True)).limit(1))
            if term_id is None:
                raise NotFound(f"no {level} called {value!r}", field=level, reason="no_catalog_node", value=value)
            where.append(_COLUMN[level] == term_id)
        else:
            where.append(_COLUMN[level] == value)
    return where


def _parse_path(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """The node a query string names: a prefix of LEVELS; a gap (课 without 单元) is a 404."""
    path = []
    for level in LEVELS:
        value = (params.get(level) or "").strip()
        if not value:
            break
        path.append((level, value))
    if any((params.get(level) or "").strip() for level in LEVELS[len(path):]):
        raise NotFound("a catalog path names its levels from the top (学段 first)", reason="catalog_gap")
    return path


def _children(session, level: str, where: list) -> list[dict[str, Any]]:
    column = _COLUMN[level]
    present = column.is_not(None) if level in _VOCAB_LEVELS else column != ""
    rows = session.execute(select(column, func.count()).where(*where, present).group_by(column)).all()
    if level in _VOCAB_LEVELS:
        terms = _terms(session, (term_id for term_id, _ in rows))
        known = [(terms[term_id], count) for term_id, count in rows if term_id in terms]
        return [{"value": name, "count": count} for (name, _), count in sorted(known, key=lambda t: t[0][1])]
    return sorted(({"value": v, "count": c} for v, c in rows), key=lambda c: _natural(c["value"]))


def _asker(svc: Services, session, actor: Actor) -> tuple:
    """What keeps a counted answer valid: what the asker may see, and the catalog's state."""
    return access_filter(actor, public_access=svc.settings.public_access), last_seq(session)


def catalog_node(svc: Services, actor: Actor, params: Mapping[str, str]) -> TreeNode:
    """The node named by `params` (stage=…&subject=…), its children and its total.

    Counting a big node (初中 › 数学 holds a tenth of a library) reads every visible row
    under it, so the answer is kept per (asker's view, catalog sequence, node) (see memo)."""
    path = _parse_path(params)
    with svc.catalog.read() as session:
        key = (*_asker(svc, session, actor), tuple(path))
    return remembered(svc, "catalog_node", key, lambda: _count_node(svc, actor, path), size=_NODE_CACHE_SIZE)


def _count_node(svc: Services, actor: Actor, path: list[tuple[str, str]]) -> TreeNode:
    level = LEVELS[len(path)] if len(path) < len(LEVELS) else None
    with svc.catalog.read() as session:
        where = [visible_clause(actor, public_access=svc.settings.public_access), *_conditions(session, path)]
        node = TreeNode(path=path, level=level)
        node.total = session.scalar(select(func.count()).select_from(Resource).where(*where)) or 0
        if level is not None and node.total:
            node.children = _children(session, level, where)
    return node


def home_tree(svc: Services, actor: Actor) -> list[dict[str, Any]]:
    """The top two levels at once: [{value: 学段, count, subjects: [{value, count}]}].

    Counting every visible resource takes a few hundred milliseconds at 100k items, so the
    answer is kept per (asker's view, catalog sequence) (see memo).
    """
    with svc.catalog.read() as session:
        key = _asker(svc, session, actor)
    return remembered(svc, "home_tree", key, lambda: _count_tree(svc, actor), size=_TREE_CACHE_SIZE)


def _count_tree(svc: Services, actor: Actor) -> list[dict[str, Any]]:
    with svc.catalog.read() as session:
        rows = session.execute(
            select(Resource.stage_id, Resource.subject_id, func.count())
            .where(visible_clause(actor, public_access=svc.settings.public_access),
                   Resource.stage_id.is_not(None))
            .group_by(Resource.stage_id, Resource.subject_id)).all()
        terms = _terms(session, {i for row in rows for i in row[:2]})
    stages: dict[int, dict[str, Any]] = {}
    for stage_id, subject_id, count in rows:
        if stage_id not in terms:
            continue
        name, order = terms[stage_id]
        entry = stages.setdefault(stage_id, {"value": name, "count": 0, "subjects": [], "order": order})
        entry["count"] += count
        if subject_id in terms:
            entry["subjects"].append({"value": terms[subject_id][0], "count": count, "order": terms[subject_id][1]})
    result = sorted(stages.values(), key=lambda s: s["order"])
    for entry in result:
        del entry["order"]
        entry["subjects"].sort(key=lambda s: s["order"])
        for subject in entry["subjects"]:
            del subject["order"]
    return result


def resources_under(svc: Services, actor: Actor, node: TreeNode, *, page: int = 1, per_page: int = 20,
                    sort: str = "newest") -> dict[str, Any]:
    """The resources under a node, newest first or most downloaded first, one page.

    Newest first, the page's ids are kept like the counts (sorting a big node's rows by
    date costs as much as counting them); the rows themselves are read fresh, so download
    counts are current. Most downloaded first changes with every download: never kept."""
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    if sort == "downloads":
        ids = _page_ids(svc, actor, node.path, sort, page, per_page)
    else:
        with svc.catalog.read() as session:
            key = (*_asker(svc, session, actor), tuple(node.path), page, per_page)
        ids = remembered(svc, "catalog_page", key,
                         lambda: _page_ids(svc, actor, node.path, sort, page, per_page), size=_NODE_CACHE_SIZE)
    with svc.catalog.read() as session:
        rows = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids)))} if ids else {}
        items = [resource_view(session, rows[i], with_derivatives=False) for i in ids if i in rows]
    return {"total": node.total, "page": page, "per_page": per_page, "items": items}


def _page_ids(svc: Services, actor: Actor, path: list[tuple[str, str]], sort: str, page: int,
              per_page: int) -> list[str]:
    order = ((Resource.download_count.desc(), Resource.created_at.desc(), Resource.id) if sort == "downloads"
             else (Resource.created_at.desc(), Resource.id))
    with svc.catalog.read() as session:
        where = [visible_clause(actor, public_access=svc.settings.public_access), *_conditions(session, path)]
        return list(session.scalars(select(Resource.id).where(*where).order_by(*order)
                                    .offset((page - 1) * per_page).limit(per_page)))


def popular_resources(svc: Services, actor: Actor, *, limit: int = 10) -> list[dict[str, Any]]:
    """The most downloaded published resources the actor may see (bots not counted).

    Walks the download-count index from the top, a batch at a time, keeping what the
    permission rule (`can_view`) lets this asker see; only when the first few hundred are
    not enough does it ask the catalog for everything the asker may see. (Given the
    visibility condition, SQLite prefers another index and sorts the whole library: 0.5 s
    at 100k items, for every home page.)
    """
    public_access = svc.settings.public_access
    order = (Resource.download_count.desc(), Resource.created_at.desc(), Resource.id)
    found: list[Resource] = []
    with svc.catalog.read() as session:
        ranked = session.scalars(select(Resource.id).where(Resource.download_count > 0).order_by(*order[:2])
                                 .limit(_POPULAR_CANDIDATES)).all()
        for start in range(0, len(ranked), _POPULAR_BATCH):
            batch = ranked[start:start + _POPULAR_BATCH]
            rows = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(batch)))}
            found += [rows[i] for i in batch if i in rows and rows[i].status == "published"
                      and can_view(actor, rows[i], public_access=public_access)]
            if len(found) >= limit:
                break
        if len(found) < limit and len(ranked) == _POPULAR_CANDIDATES:
            found = list(session.scalars(select(Resource).where(
                visible_clause(actor, public_access=public_access), Resource.status == "published",
                Resource.download_count > 0).order_by(*order).limit(limit)))
        return [resource_view(session, r, with_derivatives=False) for r in found[:limit]]


def newest_resources(svc: Services, actor: Actor, *, limit: int = 10) -> list[dict[str, Any]]:
    """The newest published resources the actor may see (no total: counting every visible
    resource would cost the home page more than the rest of it)."""
    with svc.catalog.read() as session:
        rows = session.scalars(
            select(Resource).where(visible_clause(actor, public_access=svc.settings.public_access),
                                   Resource.status == "published")
            .order_by(Resource.created_at.desc()).limit(limit)).all()
        return [resource_view(session, r, with_derivatives=False) for r in rows]
