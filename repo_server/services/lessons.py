"""A lesson (课) and everything filed under it: the courseware, lesson plan, video, exercises.

A resource belongs to a lesson when its 课 is filled in; the lesson's other resources are
those with the same 课 under the same 学段/学科/教材版本/年级/册次 (the 单元 is not required to
match: uploads often leave it out). Only what the asker may see is ever listed or zipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from repo_server.catalog.models import Resource, VocabTerm
from repo_server.ingest.formats import ACTIVE_MIMES

from .actor import Actor
from .context import Services
from .downloads import DownloadTarget
from .permissions import require_view, visible_clause
from .views import resource_view

__all__ = ["Lesson", "lesson_of", "MAX_LESSON_FILES", "SHOWN_ON_PAGE"]

#: A lesson zip holds at most this many files (a lesson has a handful; this bounds a
#: mis-filed batch of thousands).
MAX_LESSON_FILES = 200
#: The resource page lists this many of the lesson's files and links to the rest: a page
#: listing a mis-filed batch of hundreds would be slow to build and useless to read.
SHOWN_ON_PAGE = 24
_KEY_COLUMNS = ("stage_id", "subject_id", "edition_id", "grade_id", "volume_id", "lesson")


@dataclass
class Lesson:
    name: str                         # e.g. "人教版 八年级 上册 勾股定理"
    members: list[dict[str, Any]]     # resource views, the asked-for resource included
    files: list[DownloadTarget]       # the originals, in the same order
    total: int                        # every file of the lesson the asker may see (≤ MAX_LESSON_FILES)
    path: dict[str, str] | None       # its catalog node (browse parameters), when every level is filled


def _title(session, resource: Resource) -> str:
    names = []
    for column in ("edition_id", "grade_id", "volume_id"):
        term_id = getattr(resource, column)
        if term_id is not None:
            names.append(session.get(VocabTerm, term_id).name)
    return " ".join([*names, resource.lesson])


def _path(session, resource: Resource) -> dict[str, str] | None:
    """The lesson's node in the catalog tree, or None when a level above it is empty."""
    path = {}
    for level in ("stage", "subject", "edition", "grade", "volume"):
        term_id = getattr(resource, f"{level}_id")
        if term_id is None:
            return None
        path[level] = session.get(VocabTerm, term_id).name
    if not resource.chapter.strip():
        return None
    return {**path, "chapter": resource.chapter, "lesson": resource.lesson}


def lesson_of(svc: Services, actor: Actor, resource_id: str, *,
              limit: int = MAX_LESSON_FILES) -> Lesson | None:
    """The lesson of a resource the actor may see (NotFound otherwise), or None if it has none.

    `members` and `files` hold the first `limit` files (the zip takes them all, the page a
    few); `total` counts every file, up to MAX_LESSON_FILES."""
    with svc.catalog.read() as session:
        resource = require_view(actor, session.get(Resource, resource_id),
                                public_access=svc.settings.public_access)
        if not resource.lesson.strip():
            return None
        where = [visible_clause(actor, public_access=svc.settings.public_access)]
        for column in _KEY_COLUMNS:
            value = getattr(resource, column)
            attr = getattr(Resource, column)
            where.append(attr.is_(None) if value is None else attr == value)
        limit = min(limit, MAX_LESSON_FILES)
        rows = session.scalars(select(Resource).where(*where)
                               .order_by(Resource.type_id, Resource.title, Resource.id)
                               .limit(limit)).all()
        total = len(rows) if len(rows) < limit else min(MAX_LESSON_FILES, session.scalar(
            select(func.count()).select_from(select(Resource.id).where(*where).limit(MAX_LESSON_FILES).subquery())))
        members = [resource_view(session, r, with_derivatives=False) for r in rows]
        files = [DownloadTarget(resource_id=r.id, sha256=r.blob_sha256, size=r.blob.size, mime=r.blob.mime,
                                filename=r.filename, active=r.blob.mime in ACTIVE_MIMES,
                                last_modified=r.blob.created_at) for r in rows]
        return Lesson(name=_title(session, resource), members=members, files=files, total=total,
                      path=_path(session, resource))
