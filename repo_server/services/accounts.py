"""Organisations, users and passwords (API tokens: api_tokens.py).

Organisations are named by id, by their path of names ("某市/某县/某小学") or by a name that
is unique. Passwords are hashed with werkzeug's scrypt.
"""

from __future__ import annotations

import functools
import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import ORG_KINDS, ROLES, Organisation, User
from repo_server.catalog.people import placement_error
from repo_server.errors import InvalidInput, NotFound

from .actor import Actor
from .context import Services

__all__ = ["add_org", "find_org", "name_taken", "list_orgs", "add_user", "list_users", "set_password",
           "authenticate", "actor_for_session", "hash_password", "MIN_PASSWORD_LENGTH"]

MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[\w.@-]{2,80}$")


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so timing does not reveal usernames.
    Computed on first use, not at import: scrypt is slow on purpose."""
    return generate_password_hash("not a real password")


def find_org(session: Session, ref: str) -> Organisation:
    ref = ref.strip()
    if ref.isdigit():
        org = session.get(Organisation, int(ref))
        if org is not None:
            return org
    parts = [p.strip() for p in ref.split("/") if p.strip()]
    candidates = session.scalars(select(Organisation).where(Organisation.name == parts[-1])).all() if parts else []
    matches = [o for o in candidates if _names_path(session, o)[-len(parts):] == parts]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidInput(f"organisation {ref!r} is ambiguous; give its path, e.g. "
                           + "/".join(_names_path(session, matches[0])), field="org")
    raise NotFound(f"no organisation {ref!r}", field="org")


def _names_path(session: Session, org: Organisation) -> list[str]:
    ids = org.ancestor_ids
    names = {o.id: o.name for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
    return [names[i] for i in ids]


def add_org(svc: Services, name: str, kind: str, parent: str | None = None) -> dict:
    name = name.strip()
    if not name or "/" in name:
        raise InvalidInput("an organisation needs a name without '/'", field="name",
                           reason="org_name")
    if kind not in ORG_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(ORG_KINDS)}", field="kind",
                           reason="org_kind")
    with svc.catalog.write() as session:
        parent_org = find_org(session, parent) if parent else None
        problem = placement_error(kind, parent_org.kind if parent_org else None)
        if problem:
            raise InvalidInput(problem, field="parent", reason="org_level", kind=kind,
                               parent_kind=parent_org.kind if parent_org else None)
        if name_taken(session, name, parent_org.id if parent_org else None):
            raise InvalidInput(f"organisation {name!r} already exists there", field="name",
                               reason="org_exists", name=name)
        org = Organisation(name=name, kind=kind, parent_id=parent_org.id if parent_org else None)
        session.add(org)
        session.flush()
        org.path = (parent_org.path if parent_org else "/") + f"{org.id}/"
        return {"id": org.id, "name": org.name, "kind": org.kind,
                "path": "/".join(_names_path(session, org))}


def name_taken(session: Session, name: str, parent_id: int | None, *, other_than: int | None = None) -> bool:
    """Whether a sibling under `parent_id` already has this name (names are unique per parent,
    so paths like 某市/某县/一小 stay unambiguous)."""
    same_parent = (Organisation.parent_id == parent_id) if parent_id is not None \
        else Organisation.parent_id.is_(None)
    query = select(Organisation.id).where(Organisation.name == name, same_parent)
    if other_than is not None:
        query = query.where(Organisation.id != other_than)
    return session.scalars(query).first() is not None


def list_orgs(svc: Services) -> list[dict]:
    with svc.catalog.read() as session:
        orgs = session.scalars(select(Organisation).order_by(Organisation.path)).all()
        return [{"id": o.id, "name": o.name, "kind": o.kind, "depth": len(o.ancestor_ids) - 1,
                 "path": "/".join(_names_path(session, o))} for o in orgs]


def add_user(svc: Services, username: str, role: str, *, org: str | None = None,
             password: str | None = None, display_name: str = "") -> Actor:
    if not _USERNAME.match(username):
        raise InvalidInput("usernames are 2-80 letters, digits or . _ @ -", field="username",
                           reason="username_format")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role", reason="role")
    with svc.catalog.write() as session:
        if session.scalars(select(User).where(User.username == username)).first():
            raise InvalidInput(f"user {username!r} already exists", field="username",
                               reason="username_taken", username=username)
        user = User(username=username, role=role, display_name=display_name.strip(),
                    org_id=find_org(session, org).id if org else None,
                    password_hash=hash_password(password) if password is not None else None)
        session.add(user)
        session.flush()
        session.refresh(user)
        return Actor.of(user)


def list_users(svc: Services) -> list[dict]:
    with svc.catalog.read() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        return [{"id": u.id, "username": u.username, "role": u.role, "active": u.active,
                 "organisation": u.org.name if u.org else "",
                 "has_password": u.password_hash is not None} for u in users]


def hash_password(password: str) -> str:
    """A scrypt hash of a password long enough to keep."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD_LENGTH} characters",
                           field="password", reason="password_short", minimum=MIN_PASSWORD_LENGTH)
    return generate_password_hash(password)


def set_password(svc: Services, username: str, password: str) -> None:
    """Change a password; existing sessions of that user stop working."""
    with svc.catalog.write() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"no user {username!r}")
        user.password_hash = hash_password(password)
        user.session_version += 1


def authenticate(svc: Services, username: str, password: str) -> tuple[Actor, int] | None:
    """(actor, session version) for a correct, active login; None otherwise."""
    with svc.catalog.write() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None or not user.password_hash:
            check_password_hash(_dummy_hash(), password)
            return None
        if not check_password_hash(user.password_hash, password) or not user.active:
            return None
        user.last_login_at = utcnow()
        return Actor.of(user), user.session_version


def actor_for_session(svc: Services, user_id: int, session_version: int) -> Actor | None:
    with svc.catalog.read() as session:
        user = session.get(User, user_id)
        if user is None or not user.active or user.session_version != session_version:
            return None
        return Actor.of(user)
