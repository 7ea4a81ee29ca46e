"""The index step of scripts/repo-sync: an empty index facing a whole library (a first sync)
is built in bulk as a new generation, later syncs catch up in one commit."""

from __future__ import annotations

import pytest

from repo_server.cli.repo_sync import _index_catch_up
from repo_server.services import indexing
from repo_server.services.resources import ingest
from repo_server.services.search_tools import search_index
from repo_server.services.searching import SearchParams, search

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def _add(services, world, stage, n: int, word: str) -> list[str]:
    return [ingest(services, world.school_editor, stage(f"{word} 第{i}课 讲义".encode()), f"{word}{i}.txt",
                   {"title": f"{word} 第{i}课", "stage": "初中", "subject": "数学"})["id"] for i in range(n)]


def _found(services, world, word: str) -> int:
    return search(services, world.school_editor, SearchParams(q=word))["total"]


def test_first_sync_builds_in_bulk_then_catches_up(services, world, stage, monkeypatch) -> None:
    monkeypatch.setattr(indexing, "BULK_BUILD_CHANGES", 5)
    _add(services, world, stage, 8, "勾股定理")
    index = search_index(services)
    assert index.store.current() is None or index.store.read_meta(index.store.current()).seq == 0
    first = _index_catch_up(services)
    assert first.startswith("index built: 8 documents"), first
    live = index.store.current()
    assert index.store.read_meta(live).seq > 0 and _found(services, world, "勾股定理") == 8
    _add(services, world, stage, 2, "欧姆定律")
    second = _index_catch_up(services)
    assert second == "2 changes indexed", second
    assert index.store.current() == live            # caught up in place, no new generation
    assert _found(services, world, "欧姆定律") == 2
