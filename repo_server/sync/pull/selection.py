"""Which resources and which of their files a mirror takes: the school's subscription.

`--only FIELD=VALUE` (repeatable, or `only = ["subject=数学", …]` in the config file):
FIELD is stage, subject, grade, edition, volume, type or tag. Values of the same field are
alternatives, different fields must all match ("subject=数学 subject=物理 stage=初中": maths
or physics, of junior secondary). Vocabulary values may be a term's name, code or any alias
("初中", "CZ", "初级中学") and are resolved against the *manifest's* vocabulary, which is
the upstream's: a school's catalog may be empty before its first sync. A resource whose
classification stops matching leaves the mirror at the next sync, like a deleted one.

`--renditions 360p,720p` picks the video renditions (profiles video-<name>); the default is
all of them. Other derivatives (posters, thumbnails, storyboards, audio, covers, contents)
always come along: they are small and the viewer needs them. Page images of documents come
unless `pages = false` (`--no-pages`): the previewer then offers the download only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


from ..manifest import entry_objects
from .errors import SyncFailure

__all__ = ["Selection", "FIELDS", "parse_only"]

FIELDS = ("stage", "subject", "grade", "edition", "volume", "type", "tag")


def parse_only(items: Iterable[str]) -> dict[str, list[str]]:
    """{"subject": ["数学", …], …} from FIELD=VALUE strings; SyncFailure("config") if malformed."""
    found: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not value:
            raise SyncFailure("config", f"--only {item!r}: expected FIELD=VALUE (e.g. subject=数学)")
        if name not in FIELDS:
            raise SyncFailure("config", f"--only {item!r}: FIELD is one of {', '.join(FIELDS)}")
        found.setdefault(name, [])
        if value not in found[name]:
            found[name].append(value)
    return found


@dataclass(frozen=True)
class Selection:
    only: dict[str, list[str]] = field(default_factory=dict)   # field → codes (tags: tags)
    renditions: tuple[str, ...] | None = None                   # None: every video rendition
    pages: bool = True

    @classmethod
    def resolve(cls, only: Mapping[str, list[str]], vocabulary: list[dict[str, Any]], *,
                renditions: Iterable[str] | None, pages: bool) -> "Selection":
        """Names, codes and aliases turned into the manifest's codes; an unknown value is a
        configuration error (a typo would otherwise empty the mirror)."""
        from repo_server.catalog.terms import term_key    # the catalog package: only when a run applies

        codes: dict[str, list[str]] = {}
        for name, values in only.items():
            if name == "tag":
                codes[name] = sorted(values)
                continue
            terms = [t for t in vocabulary if t["scheme"] == name]
            chosen: set[str] = set()
            for value in values:
                key = term_key(value)
                matches = {t["code"] for t in terms
                           if key in {term_key(t["code"]), term_key(t["name"]), *map(term_key, t["aliases"])}}
                if not matches:
                    raise SyncFailure("config", f"--only {name}={value}: the upstream vocabulary has no such "
                                                f"{name} (names, codes and aliases are accepted)")
                chosen |= matches
            codes[name] = sorted(chosen)
        wanted = None
        if renditions is not None:
            wanted = tuple(sorted({r.strip().removeprefix("video-") for r in renditions if r.strip()}))
        return cls(only=codes, renditions=wanted, pages=pages)

    def as_dict(self) -> dict[str, Any]:
        return {"only": self.only, "renditions": list(self.renditions) if self.renditions is not None else None,
                "pages": self.pages}

    def matches(self, entry: Mapping[str, Any]) -> bool:
        for name, codes in self.only.items():
            if name == "tag":
                if not set(entry.get("tags") or ()) & set(codes):
                    return False
            elif entry.get(name) not in codes:
                return False
        return True

    def keeps_profile(self, profile: str) -> bool:
        if profile.startswith("video-") and self.renditions is not None:
            return profile.removeprefix("video-") in self.renditions
        return profile != "pages" or self.pages

    def derivatives(self, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The entry's derivatives this mirror holds."""
        return [d for d in entry.get("derivatives") or () if self.keeps_profile(d["profile"])]

    def objects(self, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The entry's objects this mirror holds (entry_objects, minus unwanted profiles)."""
        return [o for o in entry_objects(entry) if o["role"] != "derivative" or self.keeps_profile(o["profile"])]
