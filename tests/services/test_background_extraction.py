"""The background extractor looks for blobs without text only when the change log moved or
every `rescan_s` (an idle 100k library cost half a core when it looked every second); it
must still find both new uploads and texts forgotten elsewhere."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import delete

from repo_server.catalog.models import BlobText
from repo_server.services.background import BackgroundWork
from repo_server.services.resources import ingest


def _wait_for_text(services, sha256: str, timeout: float = 60) -> BlobText:
    deadline = time.monotonic() + timeout
    while True:
        with services.catalog.read() as session:
            row = session.get(BlobText, sha256)
            if row is not None:
                return row
        assert time.monotonic() < deadline, "the text was never extracted"
        time.sleep(0.1)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_extractor_finds_new_uploads_and_texts_forgotten_elsewhere(services, world, stage) -> None:
    work = BackgroundWork(services, poll_s=0.05, retry_s=0.2, rescan_s=3.0).start()
    try:
        time.sleep(0.5)   # idle first: the loop has looked once and now waits for the change log
        view = ingest(services, world.school_editor, stage("本课学习配方法。".encode()), "配方法.txt", {})
        row = _wait_for_text(services, view["sha256"], timeout=30)
        assert row.status == "done" and "配方法" in row.text
        # Forgotten without a change-log entry (as `repo-server index retry-failed` does from
        # another process): found again by the periodic rescan.
        with services.catalog.write() as session:
            session.execute(delete(BlobText).where(BlobText.sha256 == view["sha256"]))
        assert _wait_for_text(services, view["sha256"], timeout=30).status == "done"
    finally:
        work.stop()
