"""The search schema, declared once for every engine.

A `SearchDocument` is what the services layer hands the index for one resource: text fields
already segmented by the shared Analyzer (tokens joined by single spaces), keyword fields
for facets and permissions, and numbers for sorting. Engines map these fields to their own
types; nothing else about the schema lives in engine code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SearchDocument", "TEXT_FIELDS", "TEXT_BOOSTS", "PINYIN_FIELD", "PINYIN_BOOST",
           "SOUNDS_FIELD", "FACET_FIELDS", "ACCESS_FIELDS", "AUDIENCE_FIELD", "HIDDEN_KEY", "SORTS",
           "SCHEMA_VERSION"]

SCHEMA_VERSION = 4   # 2: the audience field; 3: synonyms folded into one canonical term;
                     # 4: the "hidden" audience key on what is not public

# Full-text fields and how much a match in each counts (title first, body text last).
TEXT_BOOSTS = {"title": 5.0, "labels": 2.0, "tags": 2.0, "description": 1.5, "body": 1.0}
TEXT_FIELDS = tuple(TEXT_BOOSTS)
PINYIN_FIELD, PINYIN_BOOST = "pinyin", 3.0
SOUNDS_FIELD = "sounds"          # "gougudingli:勾股定理": homophone lookups for "did you mean"
# Facet fields hold vocabulary codes (stage, grade, …), the format family and the org id.
FACET_FIELDS = ("stage", "grade", "subject", "edition", "volume", "type", "format", "org")
# Permission fields, filtered inside the engine (see query.AccessFilter).
ACCESS_FIELDS = ("visibility", "status", "org_id", "owner_id", "org_path")
# The same rule folded into one keyword field, one key per kind of reader who may see the
# document: a permission filter is then a union of a few terms instead of a union of
# intersections over large posting lists (it halved Tantivy's query time at 100k items).
AUDIENCE_FIELD = "audience"
# The audience key of every document that is not public and published: an engine may then
# filter by *excluding* the hidden documents the reader may not see (a few, usually)
# instead of intersecting with everything they may see (nearly the whole library).
HIDDEN_KEY = "hidden"
SORTS = ("relevance", "newest", "downloads")


@dataclass(frozen=True)
class SearchDocument:
    id: str
    title: str = ""            # segmented tokens, space-separated
    labels: str = ""           # classification names and their aliases, segmented
    tags: str = ""
    description: str = ""
    body: str = ""             # extracted text
    pinyin: str = ""
    sounds: str = ""
    facets: dict[str, str] = field(default_factory=dict)   # FACET_FIELDS → code ("" = none)
    visibility: str = "public"
    status: str = "published"
    org_id: str = ""
    owner_id: str = ""
    org_path: tuple[str, ...] = ()   # ids of the owning organisation and those above it
    created: int = 0                 # epoch seconds
    downloads: int = 0

    @property
    def audience(self) -> tuple[str, ...]:
        """Who may find this document, as the keys `AccessFilter.audience` produces: "public"
        (published public items), "org:<id>" (published items visible to that organisation),
        "owner:<id>" (the uploader, any status) and "under:<id>" for the owning organisation and
        each one above it (their editors, any status); and HIDDEN_KEY for everything that is
        not public ("public" and "hidden" split the library in two)."""
        keys = []
        if self.status == "published" and self.visibility == "public":
            keys.append("public")
        else:
            keys.append(HIDDEN_KEY)
        if self.status == "published" and self.visibility == "organisation" and self.org_id:
            keys.append(f"org:{self.org_id}")
        if self.owner_id:
            keys.append(f"owner:{self.owner_id}")
        keys += [f"under:{org}" for org in self.org_path]
        return tuple(keys)
