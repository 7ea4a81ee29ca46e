"""What a search engine must provide for one index directory (a "generation").

Two implementations, chosen by REPO_SEARCH_ENGINE: WhooshEngine (default) and
TantivyEngine (large libraries). They receive pre-segmented SearchDocuments and
engine-neutral SearchRequests; the contract tests in tests/indexer run against both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol

from .query import SearchRequest, SearchResult
from .schema import SearchDocument

__all__ = ["Engine", "EngineReader", "EngineWriter", "engine_named", "ENGINES"]


class EngineWriter(Protocol):
    """The only writer of one index directory (the caller holds its lock)."""

    def upsert(self, docs: Iterable[SearchDocument]) -> None: ...

    def delete(self, ids: Iterable[str]) -> None: ...

    def commit(self) -> None:
        """Make everything since the last commit durable and visible to new readers."""

    def close(self) -> None: ...


class EngineReader(Protocol):
    def search(self, request: SearchRequest) -> SearchResult: ...

    def doc_freq(self, field: str, token: str) -> int: ...

    def terms_with_prefix(self, field: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        """Indexed terms of `field` starting with `prefix`, most frequent first."""

    def count(self) -> int: ...

    def refresh(self) -> None:
        """See the latest commit (cheap when nothing changed)."""

    def close(self) -> None: ...


class Engine(Protocol):
    name: str

    def create(self, path: Path) -> None:
        """Create an empty index in an empty directory."""

    def open_reader(self, path: Path, *, schema: int) -> EngineReader:
        """A reader of the generation at `path`, written with schema version `schema` (an
        engine may answer older generations differently until the rebuild replaces them)."""

    def open_writer(self, path: Path) -> EngineWriter: ...


def engine_named(name: str) -> Engine:
    """The engine for a REPO_SEARCH_ENGINE value; imported only when chosen."""
    if name == "tantivy":
        from .tantivy_engine import TantivyEngine

        return TantivyEngine()
    if name == "whoosh":
        from .whoosh_engine import WhooshEngine

        return WhooshEngine()
    raise ValueError(f"unknown search engine {name!r}")


ENGINES = ("whoosh", "tantivy")
