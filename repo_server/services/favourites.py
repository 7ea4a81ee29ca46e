"""Favourites: a logged-in user keeps resources for later and finds them on one page.

Marking is idempotent (marking twice keeps one mark) and needs only the right to see the
resource; the list shows only what the user may still see, so a resource made private or
withdrawn after it was marked disappears from the list without being forgotten.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import Favourite, Resource
from repo_server.errors import AuthenticationRequired

from .actor import Actor
from .context import Services
from .permissions import require_view, visible_clause
from .views import resource_view

__all__ = ["set_favourite", "is_favourite", "list_favourites"]


def _user(actor: Actor) -> int:
    if actor.user_id is None:
        raise AuthenticationRequired("log in to keep favourites")
    return actor.user_id


def set_favourite(svc: Services, actor: Actor, resource_id: str, on: bool) -> bool:
    """Mark (on=True) or unmark a resource; returns the new state."""
    user_id = _user(actor)
    with svc.catalog.write() as session:
        require_view(actor, session.get(Resource, resource_id), public_access=svc.settings.public_access)
        if on:  # a double click races with itself: the second insert does nothing
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            session.execute(insert(Favourite).values(user_id=user_id, resource_id=resource_id,
                                                     created_at=utcnow())
                            .on_conflict_do_nothing(index_elements=["user_id", "resource_id"]))
        else:
            session.execute(delete(Favourite).where(Favourite.user_id == user_id,
                                                    Favourite.resource_id == resource_id))
    return on


def is_favourite(svc: Services, actor: Actor, resource_id: str) -> bool:
    if actor.user_id is None:
        return False
    with svc.catalog.read() as session:
        return session.get(Favourite, (actor.user_id, resource_id)) is not None


def list_favourites(svc: Services, actor: Actor, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """The user's favourites they may still see, most recently marked first."""
    user_id = _user(actor)
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    where = [Favourite.user_id == user_id, visible_clause(actor, public_access=svc.settings.public_access)]
    with svc.catalog.read() as session:
        joined = select(Resource).join(Favourite, Favourite.resource_id == Resource.id).where(*where)
        total = session.scalar(select(func.count()).select_from(joined.subquery()))
        rows = session.scalars(joined.order_by(Favourite.created_at.desc(), Resource.id)
                               .offset((page - 1) * per_page).limit(per_page)).all()
        items = [resource_view(session, r, with_derivatives=False) for r in rows]
    return {"total": total, "page": page, "per_page": per_page, "items": items}
