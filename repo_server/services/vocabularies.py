"""Vocabulary use-cases: list them for pickers and clients, add terms and aliases, and (for
administrators) rename terms and remove aliases.

Who: editors and administrators add terms and aliases; only administrators rename a term or
remove an alias (both change how the whole district's resources are found).
Search: a resource's search document carries the names and aliases of its terms, so every
alias added or removed and every rename appends an "update" change for each live resource
the term classifies; the indexer rewrites them from the change log like any other change.
A new term classifies nothing yet and changes no document.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import func, select

from repo_server.catalog.changes import record_changes
from repo_server.catalog.models import SCHEMES, Resource, VocabTerm
from repo_server.catalog.resources import CLASSIFICATION_SCHEMES
from repo_server.catalog.vocab import VocabIndex, add_alias, add_term
from repo_server.catalog.vocab_edits import (count_resources_using, get_term, remove_alias, rename_term,
                                             resources_using)
from repo_server.errors import InvalidInput, PermissionDenied

from .actor import Actor
from .context import Services
from .permissions import require_uploader
from .plain_text import plain_name

__all__ = ["list_vocabularies", "scheme_terms", "create_term", "create_alias", "add_alias_to",
           "remove_alias_from", "rename", "require_vocab_admin", "term_detail"]


def list_vocabularies(svc: Services) -> dict[str, Any]:
    with svc.catalog.read() as session:
        index = VocabIndex.load(session)
        return {scheme: {"label": label, "terms": [
            {"code": t.code, "name": t.name, "aliases": [a.alias for a in t.aliases],
             **({"stage": t.data["stage"]} if "stage" in t.data else {})}
            for t in index.terms(scheme)]} for scheme, label in SCHEMES.items()}


def create_term(svc: Services, actor: Actor | None, scheme: str, name: str, *,
                code: str | None = None, aliases: Iterable[str] = ()) -> dict[str, Any]:
    """Add a term. `actor=None` means the operator at the command line."""
    if actor is not None:
        require_uploader(actor)
    name = plain_name(name, field="name")
    aliases = [plain_name(a, field="alias") for a in aliases]
    with svc.catalog.write() as session:
        term = add_term(session, scheme, name, code=code)
        for alias in aliases:  # one by one: each is checked against the other terms
            if alias.strip():
                add_alias(session, scheme, term.name, alias)
        session.refresh(term)
        return {"scheme": scheme, "code": term.code, "name": term.name,
                "aliases": [a.alias for a in term.aliases]}


def create_alias(svc: Services, actor: Actor | None, scheme: str, term: str, alias: str) -> dict[str, Any]:
    if actor is not None:
        require_uploader(actor)
    with svc.catalog.write() as session:
        found = add_alias(session, scheme, term, alias)
        session.refresh(found)
        _reindex_users_of(session, found, actor)
        return {"scheme": scheme, "code": found.code, "name": found.name,
                "aliases": [a.alias for a in found.aliases]}


def require_vocab_admin(actor: Actor) -> None:
    require_uploader(actor)
    if not actor.is_admin:
        raise PermissionDenied("only administrators rename terms or remove aliases")


def _reindex_users_of(session, term: VocabTerm, actor: Actor | None) -> int:
    """Queue every live resource the term classifies for re-indexing (see module docstring)."""
    return record_changes(session, resources_using(session, term), "update",
                          actor.user_id if actor else None)


def _term_view(term: VocabTerm, usage: int = 0) -> dict[str, Any]:
    return {"id": term.id, "scheme": term.scheme, "code": term.code, "name": term.name,
            "aliases": [{"id": a.id, "alias": a.alias} for a in term.aliases],
            "data": dict(term.data or {}), "resources": usage}


def scheme_terms(svc: Services, actor: Actor, scheme: str) -> list[dict[str, Any]]:
    """A scheme's active terms in order, with alias ids and how many resources use each."""
    require_uploader(actor)
    if scheme not in SCHEMES:
        raise InvalidInput(f"unknown vocabulary {scheme!r}", field="scheme", reason="scheme")
    column = next(getattr(Resource, f"{attr}_id") for attr, s in CLASSIFICATION_SCHEMES.items()
                  if s == scheme)
    with svc.catalog.read() as session:
        usage = dict(session.execute(select(column, func.count()).where(
            Resource.deleted_at.is_(None), column.is_not(None)).group_by(column)).all())
        terms = session.scalars(select(VocabTerm).where(
            VocabTerm.scheme == scheme, VocabTerm.active.is_(True))
            .order_by(VocabTerm.position, VocabTerm.id)).all()
        return [_term_view(t, usage.get(t.id, 0)) for t in terms]


def term_detail(svc: Services, actor: Actor, term_id: int) -> dict[str, Any]:
    require_uploader(actor)
    with svc.catalog.read() as session:
        term = get_term(session, term_id)
        return _term_view(term, count_resources_using(session, term))


def add_alias_to(svc: Services, actor: Actor, term_id: int, alias: str) -> dict[str, Any]:
    """Add an alias to the term with this id; returns the term and how many resources were
    queued for re-indexing."""
    require_uploader(actor)
    alias = plain_name(alias, field="alias")
    with svc.catalog.write() as session:
        term = get_term(session, term_id)
        found = add_alias(session, term.scheme, term.name, alias)
        session.refresh(found)
        return {**_term_view(found), "reindexed": _reindex_users_of(session, found, actor)}


def remove_alias_from(svc: Services, actor: Actor, term_id: int, alias_id: int) -> dict[str, Any]:
    require_vocab_admin(actor)
    with svc.catalog.write() as session:
        term = remove_alias(session, term_id, alias_id)
        return {**_term_view(term), "reindexed": _reindex_users_of(session, term, actor)}


def rename(svc: Services, actor: Actor, term_id: int, name: str, *,
           keep_old_as_alias: bool = True) -> dict[str, Any]:
    require_vocab_admin(actor)
    name = plain_name(name, field="name")
    with svc.catalog.write() as session:
        term = rename_term(session, term_id, name, keep_old_as_alias=keep_old_as_alias)
        return {**_term_view(term), "reindexed": _reindex_users_of(session, term, actor)}
