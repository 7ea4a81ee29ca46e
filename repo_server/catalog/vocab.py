"""Seeding, editing and resolving the controlled vocabularies.

`seed_vocabularies` is idempotent and never overwrites an administrator's edits: it only adds
terms and aliases that are missing. `VocabIndex` is an immutable in-memory snapshot (a few
hundred `Term`s, plain frozen data, no database session attached) used to resolve what
people type — names, codes, aliases, with or without spaces — to terms, and to suggest close
matches when nothing fits. Because it holds no ORM objects, one snapshot can serve a whole
bulk import instead of being reloaded for every file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from repo_server.errors import InvalidInput, UnknownTerm

from .terms import SCHEMES, VocabAlias, VocabTerm, term_key

__all__ = ["seed_vocabularies", "VocabIndex", "Term", "Alias", "add_term", "add_alias",
           "alias_conflict"]

_CN_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4"}


@dataclass(frozen=True)
class Alias:
    alias: str
    key: str


@dataclass(frozen=True)
class Term:
    """A vocabulary term as the rest of the application sees it: immutable, session-free."""

    id: int
    scheme: str
    code: str
    name: str
    key: str
    position: int
    data: Mapping[str, Any]
    aliases: tuple[Alias, ...]

    @classmethod
    def of(cls, row: VocabTerm) -> "Term":
        return cls(id=row.id, scheme=row.scheme, code=row.code, name=row.name, key=row.key,
                   position=row.position, data=MappingProxyType(dict(row.data or {})),
                   aliases=tuple(Alias(a.alias, a.key) for a in row.aliases))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name}


def _derived_code(prefix: str, name: str) -> str:
    """Stable ASCII code for seed entries that have none (editions, volumes): independent of
    the order of the seed file, so every mirror derives the same code."""
    return prefix + hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def _volume_aliases(name: str) -> list[str]:
    """'必修 第一册' is also written 必修1 / 必修一 / 必修第1册."""
    aliases = []
    for cn, digit in _CN_DIGITS.items():
        marker = f"第{cn}册"
        if marker in name:
            base = name.replace(marker, "").strip()
            aliases += [f"{base}{digit}", f"{base}{cn}", name.replace(marker, f"第{digit}册")]
    return aliases


def _seed_entries(seed: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """(scheme, {code, name, aliases, data}) for every term in the seed file."""
    for scheme, key in (("stage", "stages"), ("grade", "grades"), ("subject", "subjects"),
                        ("type", "resource_types")):
        for item in seed.get(key, []):
            data = {k: v for k, v in item.items() if k not in {"code", "name", "aliases"}}
            yield scheme, {"code": item["code"], "name": item["name"],
                           "aliases": item.get("aliases", []), "data": data}
    for item in seed.get("editions", []):
        data = {k: v for k, v in item.items() if k not in {"name", "aliases"}}
        yield "edition", {"code": _derived_code("E", item["name"]), "name": item["name"],
                          "aliases": item.get("aliases", []), "data": data}
    for band, names in seed.get("volumes", {}).items():
        if not isinstance(names, list):
            continue  # the seed's "note" entry
        for name in names:
            yield "volume", {"code": _derived_code("V", name), "name": name,
                             "aliases": _volume_aliases(name), "data": {"band": band}}


def seed_vocabularies(session: Session, seed_path: Path) -> int:
    """Add missing terms and aliases from the seed file; return how many rows were added."""
    seed = json.loads(seed_path.read_text(encoding="utf-8"))
    existing = {(t.scheme, t.code): t for t in session.scalars(
        select(VocabTerm).options(selectinload(VocabTerm.aliases)))}
    added = 0
    positions: dict[str, int] = defaultdict(int)
    for scheme, entry in _seed_entries(seed):
        positions[scheme] += 1
        term = existing.get((scheme, entry["code"]))
        if term is None:
            term = VocabTerm(scheme=scheme, code=entry["code"], name=entry["name"],
                             key=term_key(entry["name"]), position=positions[scheme],
                             data=entry["data"], active=True)
            session.add(term)
            existing[(scheme, entry["code"])] = term
            added += 1
        have = {a.key for a in term.aliases} | {term.key}
        for alias in entry["aliases"]:
            if term_key(alias) not in have:
                term.aliases.append(VocabAlias(alias=alias, key=term_key(alias)))
                have.add(term_key(alias))
                added += 1
    session.flush()
    return added


def add_term(session: Session, scheme: str, name: str, *, code: str | None = None,
             aliases: Iterable[str] = (), data: dict[str, Any] | None = None) -> VocabTerm:
    """Add a term an administrator asked for (a local edition, a school-based subject)."""
    if scheme not in SCHEMES:
        raise InvalidInput(f"unknown vocabulary {scheme!r}; one of {', '.join(SCHEMES)}",
                           field="scheme", reason="scheme")
    name = name.strip()
    if not term_key(name) or len(name) > 100:
        raise InvalidInput("a term needs a name of at most 100 characters", field="name",
                           reason="term_name")
    index = VocabIndex.load(session)
    if index.find_exact(scheme, name):
        raise InvalidInput(f"{SCHEMES[scheme]} already has a term or alias {name!r}", field="name",
                           reason="term_taken", name=name)
    position = 1 + max((t.position for t in index.terms(scheme)), default=0)
    term = VocabTerm(scheme=scheme, code=code or _derived_code("L", f"{scheme}:{name}"),
                     name=name, key=term_key(name), position=position, data=data or {})
    session.add(term)
    for alias in aliases:
        term.aliases.append(VocabAlias(alias=alias, key=term_key(alias)))
    session.flush()
    return term


def add_alias(session: Session, scheme: str, term_text: str, alias: str) -> VocabTerm:
    """Teach the vocabulary another name for an existing term."""
    term = session.get(VocabTerm, VocabIndex.load(session).resolve(scheme, term_text).id)
    key = term_key(alias)
    if not key or len(alias.strip()) > 100:
        raise InvalidInput("an alias needs 1 to 100 characters", field="alias", reason="alias_empty")
    if key == term.key or any(a.key == key for a in term.aliases):
        return term
    other = alias_conflict(session, term, key)
    if other is not None:
        raise InvalidInput(f"{alias.strip()!r} already names {SCHEMES[term.scheme]} {other.name!r}",
                           field="alias", reason="alias_taken", alias=alias.strip(), term=other.name)
    term.aliases.append(VocabAlias(alias=alias.strip(), key=key))  # keeps the loaded collection true
    session.flush()
    return term


def _stages(data: Mapping[str, Any] | None) -> set[str]:
    data = data or {}
    return ({data["stage"]} if "stage" in data else set()) | set(data.get("stages", []))


def alias_conflict(session: Session, term: VocabTerm, key: str) -> VocabTerm | None:
    """Another term of the same scheme that already answers to `key` (as its name or an
    alias), or None. Sharing is allowed only between terms of different stages, where the
    stage settles what a teacher meant (信息技术 is 小学/初中 信息科技, 高中 信息技术)."""
    named = session.scalars(select(VocabTerm).where(
        VocabTerm.scheme == term.scheme, VocabTerm.key == key, VocabTerm.id != term.id)).first()
    if named is not None:
        return named
    mine = _stages(term.data)
    for other in session.scalars(select(VocabTerm).join(VocabAlias).where(
            VocabTerm.scheme == term.scheme, VocabAlias.key == key, VocabTerm.id != term.id)):
        theirs = _stages(other.data)
        if not (mine and theirs and not mine & theirs):
            return other
    return None


class VocabIndex:
    """Snapshot of all active terms with their aliases, for resolving user input."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self._terms: dict[str, list[Term]] = defaultdict(list)
        self._by_key: dict[tuple[str, str], Term] = {}
        self._by_code: dict[tuple[str, str], Term] = {}
        self._by_alias: dict[tuple[str, str], list[Term]] = defaultdict(list)
        self._by_id: dict[int, Term] = {}
        for term in sorted(terms, key=lambda t: (t.scheme, t.position, t.id)):
            self._terms[term.scheme].append(term)
            self._by_id[term.id] = term
            self._by_key[(term.scheme, term.key)] = term
            self._by_code[(term.scheme, term.code)] = term
            for alias in term.aliases:
                self._by_alias[(term.scheme, alias.key)].append(term)

    @classmethod
    def load(cls, session: Session) -> "VocabIndex":
        rows = session.scalars(select(VocabTerm).where(VocabTerm.active.is_(True))
                               .options(selectinload(VocabTerm.aliases))).all()
        return cls(Term.of(row) for row in rows)

    def all_terms(self) -> list[Term]:
        return list(self._by_id.values())

    def terms(self, scheme: str) -> list[Term]:
        return list(self._terms.get(scheme, []))

    def by_id(self, term_id: int) -> Term | None:
        return self._by_id.get(term_id)

    def find_exact(self, scheme: str, text: str, *, stage: str | None = None) -> Term | None:
        """Name, then code, then alias; an alias shared by several terms is settled by the
        stage code (信息技术 in 高中 is 信息技术, elsewhere 信息科技). None when nothing fits."""
        key = term_key(text)
        if not key:
            return None
        named = self._by_key.get((scheme, key)) or self._by_code.get((scheme, text.strip()))
        candidates = self._by_alias.get((scheme, key), [])
        if stage:
            if named is not None and _fits_stage(named, stage):
                return named
            fitting = [t for t in candidates if _fits_stage(t, stage)]
            if len(fitting) == 1:
                return fitting[0]
        if named is not None:
            return named
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise UnknownTerm(
                f"{SCHEMES[scheme]} {text!r} is ambiguous: " + ", ".join(t.name for t in candidates),
                field=scheme, reason="ambiguous_term", value=text.strip(),
                suggestions=[t.name for t in candidates])
        return None

    def resolve(self, scheme: str, text: str, *, stage: str | None = None) -> Term:
        """Like find_exact, but an unknown term is an error that suggests close matches."""
        if scheme not in SCHEMES:
            raise InvalidInput(f"unknown vocabulary {scheme!r}", field=scheme, reason="scheme")
        term = self.find_exact(scheme, text, stage=stage)
        if term is not None:
            return term
        names = [t.name for t in self._terms.get(scheme, [])]
        names += [a.alias for t in self._terms.get(scheme, []) for a in t.aliases]
        suggestions = difflib.get_close_matches(text.strip(), names, n=5, cutoff=0.4)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        raise UnknownTerm(f"unknown {SCHEMES[scheme]} {text!r}{hint}", field=scheme,
                          reason="unknown_term_close" if suggestions else "unknown_term",
                          value=text.strip(), suggestions=suggestions)


def _fits_stage(term: Term, stage: str) -> bool:
    """Whether a term belongs to a stage; terms that say nothing about stages fit all."""
    data = term.data or {}
    if "stage" not in data and "stages" not in data:
        return True
    return data.get("stage") == stage or stage in data.get("stages", [])
