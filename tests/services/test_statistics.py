"""Statistics: numbers checked against download events created here, zero-filled days in
China Standard Time, bots left out, and scoping by the permission rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from repo_server.catalog.models import DownloadEvent, Resource
from repo_server.errors import AuthenticationRequired, InvalidInput, PermissionDenied
from repo_server.services import ANONYMOUS
from repo_server.services.downloads import download_target, record_download
from repo_server.services.resources import delete_resource, ingest
from repo_server.services.statistics import statistics

# 2026-03-10 12:00 in Beijing.
NOW = datetime(2026, 3, 10, 4, 0, tzinfo=timezone.utc)
BROWSER = "Mozilla/5.0 (Windows NT 10.0) Chrome/120"


@pytest.fixture
def library(services, world, stage) -> dict[str, str]:
    """Three resources of 一小 (two maths, one Chinese) and one of the county (no subject)."""
    made = {}
    for key, editor, name, meta in [
        ("maths", world.school_editor, "勾股定理.pdf", {"subject": "数学", "type": "课件"}),
        ("maths2", world.school_editor, "方程.pdf", {"subject": "数学", "type": "教案"}),
        ("chinese", world.school_editor, "静夜思.pdf", {"subject": "语文", "type": "课件",
                                                        "visibility": "private"}),
        ("county", world.county_editor, "县通知.pdf", {}),
    ]:
        made[key] = ingest(services, editor, stage(f"%PDF-1.4 {key}".encode()), name, meta)["id"]
    return made


def add_events(services, world, library, spec) -> None:
    """spec: (resource key, who (World attribute or None for a visitor), local time, bot)."""
    with services.catalog.write() as session:
        for key, who, local, bot in spec:
            actor = getattr(world, who) if who else ANONYMOUS
            session.add(DownloadEvent(resource_id=library[key], user_id=actor.user_id,
                                      org_id=actor.org_id, at=local - timedelta(hours=8),
                                      client="10.0.0.9", user_agent="x", is_bot=bot))


def local(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=timezone.utc)  # read as Beijing wall time


def test_downloads_per_day_are_zero_filled_local_days_without_bots(services, world, library) -> None:
    add_events(services, world, library, [
        ("maths", "teacher", local(10, 7), False),        # 07:00 Beijing = 23:00 UTC the day before
        ("maths", "other_teacher", local(10, 9), False),
        ("maths2", "teacher", local(8), False),
        ("maths", None, local(8), False),                  # a visitor
        ("maths", None, local(9), True),                   # a crawler
        ("chinese", "teacher", local(1, 0), False),        # 00:00 Beijing on 1 March
        ("maths", "teacher", datetime(2026, 2, 8, 12, tzinfo=timezone.utc), False),  # 31 days ago
    ])
    stats = statistics(services, world.admin, 30, now=NOW)
    days = {d["day"]: d["downloads"] for d in stats["per_day"]}
    assert len(stats["per_day"]) == 30
    assert stats["first_day"] == "2026-02-09" and stats["last_day"] == "2026-03-10"
    assert list(days) == sorted(days)
    assert days["2026-03-10"] == 2 and days["2026-03-09"] == 0 and days["2026-03-08"] == 2
    assert days["2026-03-01"] == 1 and days["2026-02-28"] == 0
    assert sum(days.values()) == stats["downloads"] == 5
    assert stats["bot_downloads"] == 1
    longer = statistics(services, world.admin, 90, now=NOW)
    assert len(longer["per_day"]) == 90 and longer["downloads"] == 6


def test_per_subject_per_organisation_and_top_resources(services, world, library) -> None:
    add_events(services, world, library, [
        ("maths", "teacher", local(9), False), ("maths", "other_teacher", local(9), False),
        ("maths", "county_teacher", local(9), False), ("maths2", "teacher", local(9), False),
        ("chinese", "teacher", local(9), False), ("county", None, local(9), False),
        ("county", "admin", local(9), False), ("chinese", None, local(9), True),
    ])
    stats = statistics(services, world.admin, 30, now=NOW)
    subjects = {(s["name"] or "—"): s["downloads"] for s in stats["per_subject"]}
    assert subjects == {"数学": 4, "语文": 1, "—": 2}
    assert stats["per_subject"][0]["code"] and stats["per_subject"][0]["name"] == "数学"
    orgs = {(o["name"] or o["kind"]): o["downloads"] for o in stats["per_organisation"]}
    assert orgs == {"一小": 3, "二小": 1, "示例县": 1, "visitor": 1, "none": 1}
    top = [(r["title"], r["downloads"]) for r in stats["top_resources"]]
    assert top[0] == ("勾股定理", 3) and ("县通知", 2) in top and len(top) == 4


def test_editors_see_their_subtree_only(services, world, library) -> None:
    add_events(services, world, library, [
        ("maths", "teacher", local(9), False), ("chinese", "teacher", local(9), False),
        ("maths", "other_teacher", local(9), False), ("maths", "county_teacher", local(9), False),
        ("maths", None, local(9), False),
    ])
    school = statistics(services, world.school_editor, 30, now=NOW)
    assert school["scope"] == {"kind": "organisation", "org_id": world.school_editor.org_id,
                               "org_name": "一小"}
    assert school["downloads"] == 2
    assert {o["name"] for o in school["per_organisation"]} == {"一小"}
    assert school["library"]["resources"] == 3           # the county's notice is not 一小's

    county = statistics(services, world.county_editor, 30, now=NOW)
    assert county["downloads"] == 4                       # no visitors: not a county's people
    assert {o["name"] for o in county["per_organisation"]} == {"一小", "二小", "示例县"}
    assert county["library"]["resources"] == 4


def test_top_resources_never_show_titles_the_asker_cannot_see(services, world, library, stage) -> None:
    # An administrator's private upload that a county teacher downloaded (say, before it was
    # made private) is counted for the county but not listed to its editor.
    secret = ingest(services, world.admin, stage(b"%PDF-1.4 secret"), "机密.pdf",
                    {"visibility": "private"})["id"]
    with services.catalog.write() as session:
        session.add(DownloadEvent(resource_id=secret, user_id=world.county_teacher.user_id,
                                  org_id=world.county_teacher.org_id, at=local(9) - timedelta(hours=8)))
    county = statistics(services, world.county_editor, 30, now=NOW)
    assert county["downloads"] == 1 and county["top_resources"] == []
    assert statistics(services, world.admin, 30, now=NOW)["top_resources"][0]["title"] == "机密"


def test_library_totals_by_format_type_and_month(services, world, library) -> None:
    with services.catalog.write() as session:
        session.get(Resource, library["maths"]).created_at = datetime(2026, 3, 5, tzinfo=timezone.utc)
        session.get(Resource, library["maths2"]).created_at = datetime(2025, 12, 31, 17, tzinfo=timezone.utc)
        session.get(Resource, library["county"]).created_at = datetime(2025, 3, 1, tzinfo=timezone.utc)
    delete_resource(services, world.school_editor, library["chinese"])
    stats = statistics(services, world.admin, 30, now=NOW)["library"]
    assert stats["resources"] == 3
    assert stats["by_format"] == [{"format": "document", "count": 3}]
    assert {(t["name"] or "—"): t["count"] for t in stats["by_type"]} == {"课件": 1, "教案": 1, "—": 1}
    months = {m["month"]: m["uploads"] for m in stats["uploads_per_month"]}
    assert list(months)[0] == "2025-04" and list(months)[-1] == "2026-03" and len(months) == 12
    assert months["2026-01"] == 1           # 17:00 UTC on 31 December is 1 January in Beijing
    assert months["2026-03"] == 1 and sum(months.values()) == 2   # 2025-03 is outside the year


def test_real_downloads_counted_once_and_all_time_totals(services, world, library) -> None:
    target = download_target(services, world.teacher, library["maths"])
    assert record_download(services, world.teacher, target, client="10.0.0.1", user_agent=BROWSER)
    assert not record_download(services, world.teacher, target, client="10.0.0.1", user_agent=BROWSER)
    assert record_download(services, ANONYMOUS, target, client="10.0.0.2", user_agent="curl/8.0")
    stats = statistics(services, world.admin, 30)
    assert stats["downloads"] == 1 and stats["bot_downloads"] == 1
    assert stats["per_day"][-1]["downloads"] == 1
    assert stats["library"]["downloads_all_time"] == 1
    assert stats["top_resources"][0]["all_time"] == 1


def test_who_may_ask_and_which_periods(services, world) -> None:
    with pytest.raises(PermissionDenied):
        statistics(services, world.teacher, 30)
    with pytest.raises(AuthenticationRequired):
        statistics(services, ANONYMOUS, 30)
    with pytest.raises(InvalidInput):
        statistics(services, world.admin, 7)
