"""Editing existing vocabulary terms: rename a term, remove an alias, and find the resources a
term classifies (whose search documents carry its name and aliases).

Codes never change: facets, filters and mirrors name terms by code, so a rename only changes
what people read and type.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repo_server.errors import InvalidInput, NotFound

from .resources import CLASSIFICATION_SCHEMES, Resource
from .terms import SCHEMES, VocabAlias, VocabTerm, term_key
from .vocab import alias_conflict

__all__ = ["get_term", "rename_term", "remove_alias", "resources_using", "count_resources_using"]


def get_term(session: Session, term_id: int) -> VocabTerm:
    term = session.get(VocabTerm, term_id)
    if term is None:
        raise NotFound("no such vocabulary term", field="term")
    return term


def rename_term(session: Session, term_id: int, name: str, *, keep_old_as_alias: bool = True) -> VocabTerm:
    """Give a term a new name. The new name may be one of its own aliases (it is promoted),
    never another term's name or alias; the old name stays as an alias unless told not to,
    so what teachers typed yesterday still finds the same resources."""
    term = get_term(session, term_id)
    name = name.strip()
    key = term_key(name)
    if not key or len(name) > 100:
        raise InvalidInput("a term needs a name of at most 100 characters", field="name",
                           reason="term_name")
    if key == term.key:
        term.name = name  # spacing or case only
        session.flush()
        return term
    other = alias_conflict(session, term, key)
    if other is not None:
        raise InvalidInput(f"{name!r} already names {SCHEMES[term.scheme]} {other.name!r}",
                           field="name", reason="alias_taken", alias=name, term=other.name)
    old_name, old_key = term.name, term.key
    for alias in [a for a in term.aliases if a.key == key]:
        term.aliases.remove(alias)
    session.flush()  # the promoted alias row goes before the name takes its key
    term.name, term.key = name, key
    if keep_old_as_alias and not any(a.key == old_key for a in term.aliases):
        term.aliases.append(VocabAlias(alias=old_name, key=old_key))
    session.flush()
    return term


def remove_alias(session: Session, term_id: int, alias_id: int) -> VocabTerm:
    term = get_term(session, term_id)
    alias = next((a for a in term.aliases if a.id == alias_id), None)
    if alias is None:
        raise NotFound("the term has no such alias", field="alias")
    term.aliases.remove(alias)
    session.flush()
    return term


def _column(term: VocabTerm):
    return next(getattr(Resource, f"{attr}_id") for attr, scheme in CLASSIFICATION_SCHEMES.items()
                if scheme == term.scheme)


def resources_using(session: Session, term: VocabTerm) -> list[str]:
    """Ids of the live resources classified by `term` (one column per scheme)."""
    return list(session.scalars(select(Resource.id).where(
        _column(term) == term.id, Resource.deleted_at.is_(None)).order_by(Resource.id)))


def count_resources_using(session: Session, term: VocabTerm) -> int:
    return session.scalar(select(func.count()).select_from(Resource).where(
        _column(term) == term.id, Resource.deleted_at.is_(None))) or 0
