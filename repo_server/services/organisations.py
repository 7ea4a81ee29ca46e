"""The organisation tree from the administration pages: show it, add, rename and move.

Only administrators change the tree; editors see their own subtree (read-only), teachers
nothing. Levels are enforced (catalog.people.ALLOWED_PARENTS): city → county → school, a
school may sit directly under a city, "other" units sit under a city or a county.

Why a move goes through the change log and a rename does not: search documents carry an
organisation's id and its chain of ancestor ids (the permission filter inside the index),
never its name (facet labels are looked up at query time). Moving an organisation changes
the chain for everything below it, so every resource of the moved subtree gets an "update"
change and the indexer rewrites it; renaming changes no document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session

from repo_server.catalog.changes import record_changes
from repo_server.catalog.models import Organisation, Resource, User
from repo_server.catalog.people import placement_error
from repo_server.errors import InvalidInput, NotFound, PermissionDenied

from . import accounts
from .actor import Actor
from .context import Services
from .plain_text import plain_name
from .user_admin import require_account_manager

__all__ = ["org_tree", "create_org", "rename_org", "move_org", "require_org_admin"]


def require_org_admin(actor: Actor) -> None:
    require_account_manager(actor)
    if not actor.is_admin:
        raise PermissionDenied("only administrators change the organisation tree")


def org_tree(svc: Services, actor: Actor) -> list[dict[str, Any]]:
    """The tree in path order (parents before children) with depth, counts of users and
    resources; editors get their subtree only."""
    require_account_manager(actor)
    with svc.catalog.read() as session:
        users = dict(session.execute(select(User.org_id, func.count()).group_by(User.org_id)).all())
        resources = dict(session.execute(
            select(Resource.org_id, func.count()).where(Resource.deleted_at.is_(None))
            .group_by(Resource.org_id)).all())
    rows = accounts.list_orgs(svc)
    if not actor.is_admin:
        if actor.org_id is None:
            return []
        with svc.catalog.read() as session:
            allowed = set(session.scalars(select(Organisation.id).where(
                Organisation.path.startswith(actor.org_path))))
        rows = [r for r in rows if r["id"] in allowed]
        top = min((r["depth"] for r in rows), default=0)
        rows = [{**r, "depth": r["depth"] - top} for r in rows]
    return [{**r, "users": users.get(r["id"], 0), "resources": resources.get(r["id"], 0)}
            for r in rows]


def _get(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation", field="org")
    return org


def create_org(svc: Services, actor: Actor, name: str, kind: str, parent_id: int | None) -> dict[str, Any]:
    require_org_admin(actor)
    name = plain_name(name, field="name")
    if len(name) > 200:
        raise InvalidInput("an organisation name has at most 200 characters", field="name",
                           reason="org_name")
    return accounts.add_org(svc, name, kind, str(parent_id) if parent_id is not None else None)


def rename_org(svc: Services, actor: Actor, org_id: int, name: str) -> dict[str, Any]:
    """Rename an organisation (no search document changes: see the module docstring)."""
    require_org_admin(actor)
    name = plain_name(name, field="name")
    if not name or "/" in name or len(name) > 200:
        raise InvalidInput("an organisation needs a name without '/'", field="name",
                           reason="org_name")
    with svc.catalog.write() as session:
        org = _get(session, org_id)
        if accounts.name_taken(session, name, org.parent_id, other_than=org.id):
            raise InvalidInput(f"organisation {name!r} already exists there", field="name",
                               reason="org_exists", name=name)
        org.name = name
        return {"id": org.id, "name": org.name, "kind": org.kind}


def move_org(svc: Services, actor: Actor, org_id: int, parent_id: int | None) -> dict[str, Any]:
    """Put an organisation (with everything below it) under another parent.

    Refused: under itself or one of its own descendants, against the levels, or where a
    sibling has the same name. The materialised paths of the whole subtree are rewritten in
    one statement, and every resource of the subtree is queued for re-indexing through the
    change log. Returns the organisation and how many resources were queued."""
    require_org_admin(actor)
    with svc.catalog.write() as session:
        org = _get(session, org_id)
        parent = _get(session, parent_id) if parent_id is not None else None
        if parent is not None and parent.path.startswith(org.path):
            raise InvalidInput("an organisation cannot move under itself or one of its own "
                               "organisations", field="parent", reason="org_cycle")
        problem = placement_error(org.kind, parent.kind if parent else None)
        if problem:
            raise InvalidInput(problem, field="parent", reason="org_level", kind=org.kind,
                               parent_kind=parent.kind if parent else None)
        if accounts.name_taken(session, org.name, parent.id if parent else None, other_than=org.id):
            raise InvalidInput(f"organisation {org.name!r} already exists there", field="parent",
                               reason="org_exists", name=org.name)
        old_path = org.path
        new_path = (parent.path if parent else "/") + f"{org.id}/"
        if new_path == old_path:
            return {"id": org.id, "name": org.name, "reindexed": 0}
        # Prefix replacement for the subtree, the same SQL on SQLite and PostgreSQL.
        session.execute(
            update(Organisation).where(Organisation.path.startswith(old_path))
            .values(path=literal(new_path, String)
                    + func.substr(Organisation.path, len(old_path) + 1, type_=String))
            .execution_options(synchronize_session=False))
        org.parent_id = parent.id if parent else None
        session.flush()
        session.expire_all()
        subtree = select(Organisation.id).where(Organisation.path.startswith(new_path))
        ids = list(session.scalars(select(Resource.id).where(
            Resource.org_id.in_(subtree), Resource.deleted_at.is_(None)).order_by(Resource.id)))
        queued = record_changes(session, ids, "update", actor.user_id)
        return {"id": org_id, "name": org.name, "reindexed": queued}
