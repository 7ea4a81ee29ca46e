"""Vocabulary use-cases: list them for pickers and clients, add terms and aliases."""

from __future__ import annotations

from typing import Any, Iterable

from repo_server.catalog.models import SCHEMES
from repo_server.catalog.vocab import VocabIndex, add_alias, add_term

from .actor import Actor
from .context import Services
from .permissions import require_uploader

__all__ = ["list_vocabularies", "create_term", "create_alias"]


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
    with svc.catalog.write() as session:
        term = add_term(session, scheme, name, code=code, aliases=aliases)
        return {"scheme": scheme, "code": term.code, "name": term.name,
                "aliases": [a.alias for a in term.aliases]}


def create_alias(svc: Services, actor: Actor | None, scheme: str, term: str, alias: str) -> dict[str, Any]:
    if actor is not None:
        require_uploader(actor)
    with svc.catalog.write() as session:
        found = add_alias(session, scheme, term, alias)
        session.refresh(found)
        return {"scheme": scheme, "code": found.code, "name": found.name,
                "aliases": [a.alias for a in found.aliases]}
