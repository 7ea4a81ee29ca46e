"""Download events: one per real download, repeats within the window ignored, bots flagged."""

from __future__ import annotations

from sqlalchemy import select

from repo_server.catalog.models import DownloadEvent
from repo_server.services import ANONYMOUS
from repo_server.services.downloads import download_target, is_bot, record_download
from repo_server.services.resources import ingest

BROWSER = "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 Chrome/109.0 Safari/537.36"


def test_repeats_within_the_window_count_once(services, world, stage) -> None:
    view = ingest(services, world.school_editor, stage(b"%PDF-1.4 d"), "d.pdf", {})
    target = download_target(services, world.teacher, view["id"])
    assert record_download(services, world.teacher, target, client="10.0.0.5", user_agent=BROWSER)
    assert not record_download(services, world.teacher, target, client="10.0.0.5", user_agent=BROWSER)
    assert record_download(services, world.other_teacher, target, client="10.0.0.5", user_agent=BROWSER)
    assert record_download(services, ANONYMOUS, target, client="10.0.0.9", user_agent="curl/7.88")
    with services.catalog.read() as session:
        events = session.scalars(select(DownloadEvent).order_by(DownloadEvent.id)).all()
    assert [(e.user_id, e.is_bot) for e in events] == [
        (world.teacher.user_id, False), (world.other_teacher.user_id, False), (None, True)]
    assert events[0].org_id == world.teacher.org_id


def test_bot_detection() -> None:
    assert is_bot("Baiduspider+(+http://www.baidu.com/search/spider.htm)")
    assert is_bot("")
    assert is_bot("python-requests/2.32")
    assert not is_bot(BROWSER)
