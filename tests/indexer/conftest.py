"""Fixtures for the engine contract suite: every test runs on Whoosh and on Tantivy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest
import tantivy

from repo_server.indexer import (AccessFilter, Analyzer, SearchDocument, SearchIndex, SearchRequest,
                                 Synonyms, build_text_query, fold)
from repo_server.indexer import tantivy_engine
from repo_server.indexer.engine import ENGINES
from repo_server.services.search_tools import shared_analyzer

VOCAB_GROUPS = [["统编版", "部编版", "部编本"], ["七年级", "初一"], ["生物学", "生物"],
                ["道德与法治", "思想品德", "思品"]]


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return shared_analyzer()


@pytest.fixture(scope="session")
def synonyms(analyzer: Analyzer) -> Synonyms:
    return Synonyms(analyzer, VOCAB_GROUPS)


def _schema_1_generation(idx: SearchIndex) -> None:
    """Make the live generation one that the previous version wrote (no audience field), as
    found right after an upgrade: it must answer correctly until the rebuild replaces it."""
    live = idx.store.ensure_current()
    for path in live.iterdir():
        if path.name != "repo-meta.json":
            path.unlink()
    tantivy.Index(tantivy_engine._schema(with_audience=False), path=str(live), reuse=False)
    idx.store.write_meta(live, replace(idx.store.read_meta(live), schema=1))


def _schema_3_generation(idx: SearchIndex) -> None:
    """A generation marked as written before the "hidden" audience key: the reader must
    filter by the union of the asker's keys, not by excluding hidden documents."""
    live = idx.store.ensure_current()
    idx.store.write_meta(live, replace(idx.store.read_meta(live), schema=3))


@pytest.fixture(params=[*ENGINES, "tantivy-schema-1", "tantivy-schema-3"])
def index(request, tmp_path: Path) -> Iterator[SearchIndex]:
    """Every engine, and Tantivy on generations of earlier schemas."""
    idx = SearchIndex(tmp_path / "index", request.param.split("-")[0])
    if request.param == "tantivy-schema-1":
        _schema_1_generation(idx)
    elif request.param == "tantivy-schema-3":
        _schema_3_generation(idx)
    yield idx
    idx.close()


@pytest.fixture
def doc(analyzer: Analyzer, synonyms: Synonyms) -> Callable[..., SearchDocument]:
    """A SearchDocument from plain text, segmented and folded the way services.indexing does it."""
    def make(id: str, title: str, *, body: str = "", description: str = "", tags: str = "",
             labels: str = "", facets: dict | None = None, visibility: str = "public",
             status: str = "published", org_id: str = "", owner_id: str = "",
             org_path: tuple[str, ...] = (), created: int = 0, downloads: int = 0) -> SearchDocument:
        seg = lambda text: " ".join(fold(analyzer.index_tokens(text), synonyms.folding))  # noqa: E731
        pinyin, sounds = analyzer.pinyin_tokens(title)
        return SearchDocument(id=id, title=seg(title), body=seg(body), description=seg(description),
                              tags=seg(tags), labels=seg(labels), pinyin=" ".join(pinyin),
                              sounds=" ".join(sounds), facets=facets or {}, visibility=visibility,
                              status=status, org_id=org_id, owner_id=owner_id, org_path=org_path,
                              created=created, downloads=downloads)
    return make


@pytest.fixture
def find(index: SearchIndex, analyzer: Analyzer, synonyms: Synonyms) -> Callable[..., list[str]]:
    """Ids found for a query, as a teacher with public access would see them."""
    def run(q: str | None, **options) -> list[str]:
        text = build_text_query(analyzer, synonyms, q) if q else None
        options.setdefault("access", AccessFilter())
        options.setdefault("limit", 100)
        return [hit.id for hit in index.search(SearchRequest(text=text, **options)).hits]
    return run
