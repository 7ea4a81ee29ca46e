"""Two app nodes' background work on one catalog (two data dirs, as two machines have): each
keeps its own search index replica, and exactly one of them extracts texts (the catalog
lease), on PostgreSQL and on a SQLite catalog shared by two data dirs."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from repo_server.catalog.models import BlobText, Change
from repo_server.services import Services
from repo_server.services import background
from repo_server.services.background import BackgroundWork
from repo_server.services.resources import ingest
from repo_server.services.search_tools import search_index

FILES = 6


def _second_node(services: Services, tmp_path: Path) -> Services:
    """Node B: its own data dir (index, staging), the same catalog and the same blob store, as
    app nodes have (MinIO in production). With this test's local store, node B's data dir
    would hold an empty store of its own: whichever node won the extractor's election would
    then decide whether the files could be read at all."""
    settings = dataclasses.replace(services.settings, data_dir=tmp_path / "node-b",
                                   database_url=services.settings.catalog_url)
    node = Services.open(settings)
    node.blobs = services.blobs
    return node


def _wait(what: str, condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


@pytest.mark.parametrize("first", ["node-a", "node-b"])
def test_two_nodes_extract_each_text_once_and_each_keeps_its_own_index(
        services, world, stage, tmp_path, caplog, first) -> None:
    """Either node may win the election (the one started first usually does): both ways, each
    text is extracted once and each node keeps its own index."""
    caplog.set_level(logging.INFO, logger="repo_server.services.background")
    node_b = _second_node(services, tmp_path)
    order = (services, node_b) if first == "node-a" else (node_b, services)
    works = [BackgroundWork(svc, poll_s=0.05, retry_s=0.2, rescan_s=3.0).start() for svc in order]
    try:
        views = [ingest(services, world.school_editor, stage(f"第{n}课 配方法讲义 编号{n}".encode()), f"讲义{n}.txt", {})
                 for n in range(FILES)]
        shas = {view["sha256"] for view in views}

        def texts_done() -> bool:
            with services.catalog.read() as session:
                return session.scalar(select(func.count()).select_from(BlobText)
                                      .where(BlobText.sha256.in_(shas), BlobText.status == "done")) == FILES
        _wait("extracting every text", texts_done)
        with services.catalog.read() as session:
            updates = session.execute(select(Change.resource_id, func.count()).where(Change.op == "update")
                                      .group_by(Change.resource_id)).all()
        # One extraction per blob: two extractors would each store the text and announce it.
        assert sorted(count for _, count in updates) == [1] * FILES, updates
        elected = [r for r in caplog.records if r.getMessage().startswith("extractor: elected")]
        assert len(elected) == 1, [r.getMessage() for r in elected]

        def indexed(svc: Services) -> bool:
            return search_index(svc).status()["documents"] == FILES
        for svc in (services, node_b):   # each node's writer feeds its own replica from the change log
            _wait(f"the index of {svc.settings.data_dir.name} to hold every upload", lambda svc=svc: indexed(svc))
        roots = [Path(search_index(svc).status()["root"]).resolve() for svc in (services, node_b)]
        assert roots == [svc.settings.index_dir.resolve() for svc in (services, node_b)] and roots[0] != roots[1]
    finally:
        for work in works:
            work.stop()
        node_b.close()


def test_a_node_added_to_a_long_change_log_builds_its_index_in_bulk(
        services, world, stage, tmp_path, caplog, monkeypatch) -> None:
    """A new node (empty data dir) facing more changes than BULK_BUILD_CHANGES rebuilds from
    the catalog instead of replaying the log; the replica then follows the log as usual."""
    monkeypatch.setattr(background, "BULK_BUILD_CHANGES", 3)
    caplog.set_level(logging.INFO, logger="repo_server.services.background")
    for n in range(5):
        ingest(services, world.school_editor, stage(f"勾股定理 练习{n}".encode()), f"练习{n}.txt", {})
    node_b = _second_node(services, tmp_path)
    work = BackgroundWork(node_b, poll_s=0.05, retry_s=0.2, extract=False).start()
    try:
        _wait("the new node's index to hold the library", lambda: search_index(node_b).status()["documents"] == 5)
        assert any("building it in bulk" in r.getMessage() for r in caplog.records)
        ingest(services, world.school_editor, stage("勾股定理 练习新".encode()), "练习新.txt", {})
        _wait("a later upload in the new node's index", lambda: search_index(node_b).status()["documents"] == 6)
    finally:
        work.stop()
        node_b.close()
