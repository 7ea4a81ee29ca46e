"""API tokens: bearer credentials for scripts, e-reader apps and downstream mirrors.

A token is random (`rs_` + 43 URL-safe characters), shown once when made, and stored only as
its sha256 with the first characters kept to recognise it in a list. Anyone logged in makes
and revokes their own tokens; administrators see and revoke everyone's (a lost laptop, a
school mirror retired). A revoked token, or one whose user is disabled, stops working at
once: every request looks it up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import ApiToken, User
from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound

from .actor import Actor
from .context import Services
from .plain_text import plain_name

__all__ = ["TOKEN_PREFIX", "MAX_TOKENS_PER_USER", "create_token", "issue_token", "list_tokens",
           "revoke_token", "actor_for_token"]

TOKEN_PREFIX = "rs_"
MAX_TOKENS_PER_USER = 50     # live tokens; a script that makes one per run is a bug to notice
_NAME_MAX = 100
_TOUCH_EVERY = timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _add(session: Session, user_id: int, name: str) -> str:
    name = plain_name(name, field="name")
    if len(name) > _NAME_MAX:
        raise InvalidInput(f"a token name has at most {_NAME_MAX} characters", field="name",
                           reason="token_name", maximum=_NAME_MAX)
    live = session.query(ApiToken).filter(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).count()
    if live >= MAX_TOKENS_PER_USER:
        raise InvalidInput(f"at most {MAX_TOKENS_PER_USER} live tokens per user; revoke some first",
                           field="name", reason="token_limit", maximum=MAX_TOKENS_PER_USER)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user_id, name=name, token_hash=_hash(token), prefix=token[:10]))
    return token


def create_token(svc: Services, username: str, name: str = "") -> str:
    """A new token for a user named by an operator (the CLI); returned once."""
    with svc.catalog.write() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"no user {username!r}")
        return _add(session, user.id, name)


def issue_token(svc: Services, actor: Actor, name: str) -> str:
    """A new token for the asker themselves; returned once."""
    if actor.anonymous or actor.user_id is None:
        raise AuthenticationRequired("log in to make an API token")
    with svc.catalog.write() as session:
        return _add(session, actor.user_id, name)


def _view(row: ApiToken) -> dict[str, Any]:
    iso = lambda value: value.isoformat().replace("+00:00", "Z") if value else None  # noqa: E731
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "username": row.user.username,
            "created_at": iso(row.created_at), "last_used_at": iso(row.last_used_at),
            "revoked_at": iso(row.revoked_at)}


def list_tokens(svc: Services, actor: Actor, *, everyone: bool = False,
                username: str | None = None) -> list[dict[str, Any]]:
    """The asker's tokens, newest first; administrators may ask for everyone's or one user's.
    (Nobody ever sees a token again: only its first characters.)"""
    if actor.anonymous or actor.user_id is None:
        raise AuthenticationRequired("log in to see your API tokens")
    query = select(ApiToken).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    if actor.is_admin and username:
        query = query.where(User.username == username)
    elif not (actor.is_admin and everyone):
        query = query.where(ApiToken.user_id == actor.user_id)
    with svc.catalog.read() as session:
        return [_view(row) for row in session.scalars(query)]


def revoke_token(svc: Services, actor: Actor, token_id: int) -> None:
    """Revoke one of the asker's tokens (administrators: anyone's); revoking twice is fine.
    Another user's token is "not found", not "forbidden": its existence is not revealed."""
    if actor.anonymous or actor.user_id is None:
        raise AuthenticationRequired("log in to revoke an API token")
    with svc.catalog.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (row.user_id != actor.user_id and not actor.is_admin):
            raise NotFound("no such token", reason="token_missing")
        if row.revoked_at is None:
            row.revoked_at = utcnow()


def actor_for_token(svc: Services, token: str) -> Actor | None:
    """Who a bearer token speaks for, or None (unknown, revoked, user disabled)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with svc.catalog.read() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
        if row is None or row.revoked_at is not None or not row.user.active:
            return None
        actor, stale = Actor.of(row.user), (row.last_used_at is None or
                                            utcnow() - row.last_used_at > _TOUCH_EVERY)
        token_id = row.id
    if stale:  # write at most every few minutes, not on every request
        with svc.catalog.write() as session:
            session.get(ApiToken, token_id).last_used_at = utcnow()
    return actor
