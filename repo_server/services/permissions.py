"""Who may see and change which resource: one set of rules, as Python and as SQL.

- admin: everything.
- editor: everything of their organisation and the organisations below it (drafts and
  private items included), and their own uploads.
- teacher (and any logged-in user): published items that are public, or that are marked
  "organisation" and belong to their organisation or one above it (a county's item reaches
  the county's schools; a school's item stays in the school); plus their own.
- anonymous visitors: published public items, when REPO_PUBLIC_ACCESS is on.
`can_view`, `visible_clause` (SQL) and `access_filter` (search-index terms) must agree, and so
must `can_edit` and `editable_clause`; tests check them against each other.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select

from repo_server.catalog.models import Organisation, Resource
from repo_server.errors import AuthenticationRequired, NotFound, PermissionDenied
from repo_server.indexer import AccessFilter

from .actor import Actor

__all__ = ["can_view", "can_edit", "visible_clause", "editable_clause", "access_filter", "require_uploader",
           "require_view", "require_edit"]


def _manages(actor: Actor, resource: Resource) -> bool:
    if actor.is_admin:
        return True
    if not actor.is_editor or actor.org_id is None or resource.org is None:
        return False
    return resource.org.path.startswith(actor.org_path)


def can_view(actor: Actor, resource: Resource, *, public_access: bool = True) -> bool:
    if resource.deleted_at is not None:
        return False
    if actor.is_admin or _manages(actor, resource):
        return True
    if actor.user_id is not None and resource.owner_id == actor.user_id:
        return True
    if resource.status != "published":
        return False
    if resource.visibility == "public":
        return public_access or not actor.anonymous
    if resource.visibility == "organisation":
        return resource.org_id is not None and resource.org_id in actor.org_ancestor_ids
    return False


def can_edit(actor: Actor, resource: Resource) -> bool:
    if resource.deleted_at is not None:
        return False
    if _manages(actor, resource):
        return True
    return actor.is_editor and actor.user_id is not None and resource.owner_id == actor.user_id


def visible_clause(actor: Actor, *, public_access: bool = True) -> ColumnElement[bool]:
    """SQL condition selecting exactly the resources `can_view` allows."""
    live = Resource.deleted_at.is_(None)
    if actor.is_admin:
        return live
    published = Resource.status == "published"
    options = []
    if public_access or not actor.anonymous:
        options.append(and_(published, Resource.visibility == "public"))
    if actor.org_ancestor_ids:
        options.append(and_(published, Resource.visibility == "organisation",
                            Resource.org_id.in_(actor.org_ancestor_ids)))
    if actor.user_id is not None:
        options.append(Resource.owner_id == actor.user_id)
    if actor.is_editor and actor.org_id is not None:
        managed = select(Organisation.id).where(Organisation.path.startswith(actor.org_path))
        options.append(Resource.org_id.in_(managed))
    return and_(live, or_(*options) if options else false())


def editable_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL condition selecting exactly the resources `can_edit` allows."""
    live = Resource.deleted_at.is_(None)
    if actor.is_admin:
        return live
    if not actor.is_editor:
        return false()
    options = []
    if actor.user_id is not None:
        options.append(Resource.owner_id == actor.user_id)
    if actor.org_id is not None:
        options.append(Resource.org_id.in_(select(Organisation.id).where(Organisation.path.startswith(actor.org_path))))
    return and_(live, or_(*options) if options else false())


def access_filter(actor: Actor, *, public_access: bool = True) -> AccessFilter:
    """The same rule as index terms, so search filters inside the engine (counts included)."""
    if actor.is_admin:
        return AccessFilter(admin=True)
    return AccessFilter(
        public=public_access or not actor.anonymous,
        org_ids=tuple(str(i) for i in actor.org_ancestor_ids),
        owner_id=str(actor.user_id) if actor.user_id is not None else None,
        managed_org_id=str(actor.org_id) if actor.is_editor and actor.org_id is not None else None)


def require_uploader(actor: Actor) -> None:
    if actor.anonymous:
        raise AuthenticationRequired("log in to upload", reason="login")
    if not actor.is_editor:
        raise PermissionDenied("only editors and administrators upload resources", reason="uploaders_only")


def require_view(actor: Actor, resource: Resource | None, *, public_access: bool) -> Resource:
    """The resource, or NotFound: a hidden resource is indistinguishable from a missing one."""
    if resource is None or not can_view(actor, resource, public_access=public_access):
        raise NotFound("no such resource", reason="no_resource")
    return resource


def require_edit(actor: Actor, resource: Resource, *, public_access: bool) -> Resource:
    require_view(actor, resource, public_access=public_access)
    if not can_edit(actor, resource):
        if actor.anonymous:
            raise AuthenticationRequired("log in to change resources", reason="login")
        raise PermissionDenied("you may not change this resource", reason="not_editable")
    return resource

