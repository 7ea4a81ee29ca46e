"""Managing user accounts from the administration pages: list, create, change role and
organisation, reset a password, disable and enable.

Who may manage whom (the one place this rule lives; docs/admin.md explains it):

- admins manage every account, except that they cannot change their own role or disable
  themselves (so a district cannot lock out its last administrator by a slip);
- editors manage *teachers* whose organisation is their own or one below it: create them
  there, move them within that subtree, reset their passwords, disable and enable them. They
  see every account of their subtree but cannot touch editors or admins, nor make anyone
  an editor; an editor without an organisation manages nobody;
- teachers manage no one.

Resetting a password and disabling an account both bump the user's session version, so
sessions (and a later re-enable) never revive a login made before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from repo_server.catalog.models import ROLES, Organisation, User
from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound, PermissionDenied

from . import accounts
from .actor import Actor
from .context import Services
from .plain_text import plain_name

__all__ = ["can_manage", "require_account_manager", "assignable_orgs", "search_users", "get_user",
           "create_user", "change_user", "reset_password", "set_active", "PER_PAGE"]

PER_PAGE = 50


def require_account_manager(actor: Actor) -> None:
    """Editors and admins reach the account pages; everybody else is refused."""
    if actor.anonymous:
        raise AuthenticationRequired("log in to manage accounts")
    if not actor.is_editor:
        raise PermissionDenied("only editors and administrators manage accounts")


def _in_subtree(actor: Actor, org_path: str | None) -> bool:
    return bool(actor.org_id is not None and org_path and org_path.startswith(actor.org_path))


def can_manage(actor: Actor, user: User) -> bool:
    """Whether `actor` may change `user` at all (see the module docstring)."""
    if actor.is_admin:
        return True
    return (actor.role == "editor" and user.role == "teacher"
            and _in_subtree(actor, user.org.path if user.org else None))


def _may_assign(actor: Actor, role: str, org: Organisation | None) -> str | None:
    """Why `actor` may not give an account this role and organisation, or None."""
    if actor.is_admin:
        return None
    if role != "teacher":
        return "editors create and manage teacher accounts only"
    if org is None or not _in_subtree(actor, org.path):
        return "choose your organisation or one below it"
    return None


def assignable_orgs(svc: Services, actor: Actor) -> list[dict[str, Any]]:
    """Organisations the actor may put accounts in (for the organisation picker)."""
    require_account_manager(actor)
    orgs = accounts.list_orgs(svc)
    if actor.is_admin:
        return orgs
    with svc.catalog.read() as session:
        allowed = set(session.scalars(select(Organisation.id).where(
            Organisation.path.startswith(actor.org_path)))) if actor.org_id is not None else set()
    return [o for o in orgs if o["id"] in allowed]


def _view(user: User, actor: Actor) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "role": user.role, "active": user.active, "org_id": user.org_id,
            "organisation": user.org.name if user.org else "",
            "has_password": user.password_hash is not None,
            "created_at": user.created_at, "last_login_at": user.last_login_at,
            "manageable": can_manage(actor, user), "is_self": user.id == actor.user_id}


def search_users(svc: Services, actor: Actor, *, q: str = "", role: str = "",
                 page: int = 1) -> dict[str, Any]:
    """Accounts the actor may see (admins: all; editors: their subtree), by username or name."""
    require_account_manager(actor)
    query = select(User).outerjoin(Organisation, Organisation.id == User.org_id)
    if not actor.is_admin:
        if actor.org_id is None:
            return {"users": [], "total": 0, "page": 1, "per_page": PER_PAGE}
        query = query.where(Organisation.path.startswith(actor.org_path))
    q = q.strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.username.ilike(pattern, escape="\\"),
                                User.display_name.ilike(pattern, escape="\\")))
    if role in ROLES:
        query = query.where(User.role == role)
    page = max(page, 1)
    with svc.catalog.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        users = session.scalars(query.order_by(User.username)
                                .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
        return {"users": [_view(u, actor) for u in users], "total": total, "page": page,
                "per_page": PER_PAGE}


def _load(session: Session, actor: Actor, user_id: int) -> User:
    """A user the actor may manage; someone outside their reach is simply not found."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if not can_manage(actor, user):
        if actor.is_editor and _in_subtree(actor, user.org.path if user.org else None):
            raise PermissionDenied("editors manage teacher accounts only", reason="not_manageable")
        raise NotFound("no such user")
    return user


def get_user(svc: Services, actor: Actor, user_id: int) -> dict[str, Any]:
    require_account_manager(actor)
    with svc.catalog.read() as session:
        return _view(_load(session, actor, user_id), actor)


def _org(session: Session, org_id: int | None) -> Organisation | None:
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    if org is None:
        raise InvalidInput("no such organisation", field="org", reason="org_missing")
    return org


def create_user(svc: Services, actor: Actor, *, username: str, role: str, org_id: int | None,
                password: str, display_name: str = "") -> dict[str, Any]:
    """Create an account with an initial password, within what the actor may assign."""
    require_account_manager(actor)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role", reason="role")
    with svc.catalog.read() as session:
        problem = _may_assign(actor, role, _org(session, org_id))
    if problem:
        raise PermissionDenied(problem, field="role" if role != "teacher" else "org",
                               reason="assign_" + ("role" if role != "teacher" else "org"))
    display_name = plain_name(display_name, field="display_name")[:200]
    created = accounts.add_user(svc, username.strip(), role,
                                org=str(org_id) if org_id is not None else None,
                                password=password, display_name=display_name)
    return get_user(svc, actor, created.user_id)


def change_user(svc: Services, actor: Actor, user_id: int, *, role: str, org_id: int | None,
                display_name: str | None = None) -> dict[str, Any]:
    """Change an account's role, organisation (and shown name). The new values must also be
    within the actor's reach; admins cannot change their own role."""
    require_account_manager(actor)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role", reason="role")
    if display_name is not None:
        display_name = plain_name(display_name, field="display_name")[:200]
    with svc.catalog.write() as session:
        user = _load(session, actor, user_id)
        if user.id == actor.user_id and role != user.role:
            raise PermissionDenied("you cannot change your own role; ask another administrator",
                                   field="role", reason="own_role")
        org = _org(session, org_id)
        problem = _may_assign(actor, role, org)
        if problem:
            raise PermissionDenied(problem, field="org" if role == "teacher" else "role",
                                   reason="assign_" + ("org" if role == "teacher" else "role"))
        user.role, user.org_id = role, org.id if org else None
        if display_name is not None:
            user.display_name = display_name
        session.flush()
        session.refresh(user)
        return _view(user, actor)


def reset_password(svc: Services, actor: Actor, user_id: int, password: str) -> None:
    """Set a new password; the user's sessions end (their session version moves)."""
    require_account_manager(actor)
    with svc.catalog.write() as session:
        user = _load(session, actor, user_id)
        user.password_hash = accounts.hash_password(password)
        user.session_version += 1


def set_active(svc: Services, actor: Actor, user_id: int, active: bool) -> dict[str, Any]:
    """Disable or enable an account. Disabling ends its sessions for good (tokens stop
    working while disabled); nobody disables themselves."""
    require_account_manager(actor)
    with svc.catalog.write() as session:
        user = _load(session, actor, user_id)
        if user.id == actor.user_id and not active:
            raise PermissionDenied("you cannot disable your own account", reason="own_account")
        if user.active and not active:
            user.session_version += 1
        user.active = active
        session.flush()
        return _view(user, actor)
