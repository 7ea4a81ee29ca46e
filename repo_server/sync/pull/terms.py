"""Stage 2, the shared rows: vocabulary terms by (scheme, code) and organisations by their
path of names — ids differ between tiers, codes and names do not (docs/mirrors.md)."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from repo_server.catalog.models import ORG_KINDS, Organisation, VocabAlias, VocabTerm, term_key

__all__ = ["sync_vocabulary", "OrgResolver"]


def sync_vocabulary(session: Session, vocabulary: Iterable[dict[str, Any]]) -> tuple[dict[tuple[str, str], int], bool]:
    """Make the local terms and aliases those of the manifest (terms the manifest lacks stay:
    old resources may use them). Returns ((scheme, code) → local id, whether anything changed)."""
    terms = {(t.scheme, t.code): t for t in session.scalars(select(VocabTerm))}
    aliases: dict[int, set[str]] = {}
    for term_id, alias in session.execute(select(VocabAlias.term_id, VocabAlias.alias)):
        aliases.setdefault(term_id, set()).add(alias)
    changed = False
    wanted = list(vocabulary)
    # Keys are unique per scheme: free the keys of renamed terms first, then set them.
    for item in wanted:
        term = terms.get((item["scheme"], item["code"]))
        if term is not None and term.name != item["name"]:
            term.key = f"~{term.id}"
    session.flush()
    for item in wanted:
        key = (item["scheme"], item["code"])
        term = terms.get(key)
        fields = {"name": item["name"], "key": term_key(item["name"]), "position": item["position"],
                  "data": dict(item.get("data") or {}), "active": bool(item["active"])}
        if term is None:
            term = terms[key] = VocabTerm(scheme=item["scheme"], code=item["code"], **fields)
            session.add(term)
            session.flush()
            changed = True
        elif any(getattr(term, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(term, name, value)
            changed = True
        if set(item.get("aliases") or ()) != aliases.get(term.id, set()):
            session.execute(delete(VocabAlias).where(VocabAlias.term_id == term.id))
            session.add_all(VocabAlias(term_id=term.id, alias=a, key=term_key(a))
                            for a in dict.fromkeys(item.get("aliases") or ()) if term_key(a))
            changed = True
    session.flush()
    return {key: term.id for key, term in terms.items()}, changed


class OrgResolver:
    """Local organisation ids for manifest `organisation` values, creating the missing ones
    along the path (the leaf with its kind; a missing ancestor as "other")."""

    def __init__(self, session: Session) -> None:
        self.session = session
        rows = list(session.scalars(select(Organisation)))
        by_id = {org.id: org for org in rows}
        self._paths: dict[tuple[str, ...], Organisation] = {}
        for org in rows:
            names = tuple(by_id[i].name for i in org.ancestor_ids if i in by_id)
            self._paths[names or (org.name,)] = org

    def resolve(self, organisation: dict[str, Any] | None) -> int | None:
        if not organisation:
            return None
        path = tuple(organisation.get("path") or [organisation["name"]])
        parent: Organisation | None = None
        for depth in range(1, len(path) + 1):
            org = self._paths.get(path[:depth])
            if org is None:
                kind = organisation.get("kind") if depth == len(path) else "other"
                org = Organisation(name=path[depth - 1], kind=kind if kind in ORG_KINDS else "other",
                                   parent_id=parent.id if parent else None)
                self.session.add(org)
                self.session.flush()
                org.path = (parent.path if parent else "/") + f"{org.id}/"
                self._paths[path[:depth]] = org
            parent = org
        return parent.id if parent else None
