"""Engine-neutral queries and results.

A teacher's query becomes a `TextQuery`: an AND of clauses, one per word the teacher typed;
a clause is an OR of alternatives (the word itself, its synonyms from the vocabularies, its
smaller dictionary words, its pinyin); an alternative is an AND of tokens, each token
searched in one field group ("text": title, labels, tags, description, body with their
boosts; or "pinyin"). Engines translate this structure into their own query objects, so
they cannot drift apart in meaning, and no user text ever reaches an engine's query parser
(quotes, AND/OR, *, control characters mean nothing special).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .schema import SORTS

__all__ = ["Token", "Alternative", "Clause", "TextQuery", "AccessFilter", "SearchRequest",
           "SearchResult", "Hit"]

Token = tuple[str, str]                 # (field group: "text" | "pinyin", token)
Alternative = tuple[Token, ...]          # all of these
Clause = tuple[Alternative, ...]         # any of these


@dataclass(frozen=True)
class TextQuery:
    clauses: tuple[Clause, ...]
    match_all_clauses: bool = True       # False: any clause (the fallback for zero hits)

    @property
    def tokens(self) -> set[str]:
        """Every token, for highlighting."""
        return {token for clause in self.clauses for alt in clause for _, token in alt}


@dataclass(frozen=True)
class AccessFilter:
    """What the asking user may see, as index terms (see services.permissions)."""

    admin: bool = False
    public: bool = True                   # published public items
    org_ids: tuple[str, ...] = ()         # published "organisation" items of these orgs
    owner_id: str | None = None           # everything they uploaded
    managed_org_id: str | None = None     # editors: everything at or below this org

    def audience(self) -> tuple[str, ...]:
        """The audience keys (SearchDocument.audience) this reader holds: a document is
        visible when it carries any of them."""
        keys = ["public"] if self.public else []
        keys += [f"org:{org}" for org in self.org_ids]
        if self.owner_id:
            keys.append(f"owner:{self.owner_id}")
        if self.managed_org_id:
            keys.append(f"under:{self.managed_org_id}")
        return tuple(keys)


@dataclass(frozen=True)
class SearchRequest:
    text: TextQuery | None               # None: browse everything the filters allow
    access: AccessFilter
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # facet → any of codes
    sort: str = "relevance"
    offset: int = 0
    limit: int = 20
    facets: tuple[str, ...] = ()          # facet fields to count over all matches
    # True: the counts of a facet that has a filter ignore that filter (the others still
    # apply), so a teacher who chose 数学 still sees how many results 物理 would give. The
    # engine computes them in the same request, cheaper than one request per filtered facet.
    disjunctive: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}")


@dataclass(frozen=True)
class Hit:
    id: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
