"""Free tags in use, for autocompletion in the metadata forms."""

from __future__ import annotations

from sqlalchemy import func, select

from repo_server.catalog.models import Resource, ResourceTag

from .context import Services

__all__ = ["popular_tags"]


def popular_tags(svc: Services, *, limit: int = 300) -> list[str]:
    """The most used tags of live resources, most used first (ties alphabetically)."""
    uses = func.count().label("uses")
    with svc.catalog.read() as session:
        rows = session.execute(
            select(ResourceTag.tag, uses).join(Resource, Resource.id == ResourceTag.resource_id)
            .where(Resource.deleted_at.is_(None)).group_by(ResourceTag.tag)
            .order_by(uses.desc(), ResourceTag.tag).limit(limit)).all()
    return [tag for tag, _ in rows]
