"""Mirror status reports (services/mirror_reports.py, mirror_status.py): a report is checked
strictly and kept as its mirror's latest; the first account owns the name; editors see their
subtree's mirrors; lag is measured against the serial the real publisher wrote; this
server's own status.json is read without ever raising."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import MirrorReport
from repo_server.errors import AuthenticationRequired, InvalidInput, PermissionDenied
from repo_server.services import ANONYMOUS
from repo_server.services.mirror_reports import (list_mirrors, local_mirror_status, published_serial,
                                                 record_report, status_path)
from repo_server.services.mirror_status import iso, parse_status
from repo_server.services.resources import ingest
from repo_server.sync import publish

HOUR = timedelta(hours=1)


def status(name: str = "一小镜像", *, ago: timedelta | None = 3 * HOUR, **changes: Any) -> dict[str, Any]:
    """A valid status object as the sync script writes it, last successful `ago` ago."""
    now = utcnow()
    return {"name": name, "upstream": "rsync://county.example/repo", "serial": 1, "upstream_serial": 1,
            "result": "ok", "error": None, "last_success_at": iso(now - ago) if ago is not None else None,
            "last_attempt_at": iso(now - (ago or HOUR)), "bytes": 2_000_000, "duration_s": 12.5,
            "chain": ["示例市电教馆", "示例县电教站"], **changes}


def stored(services) -> list[MirrorReport]:
    with services.catalog.read() as session:
        return list(session.scalars(select(MirrorReport).order_by(MirrorReport.name)))


def publish_serials(services, world, stage, count: int) -> int:
    """Publish `count` serials with the real publisher, one new public resource each."""
    for n in range(count):
        ingest(services, world.school_editor, stage(f"%PDF-1.4 lesson {n}".encode()), f"第{n}课.pdf",
               {"subject": "数学", "grade": "八年级", "visibility": "public", "status": "published"})
        assert publish(services).published
    return published_serial(services)


# -- reporting --------------------------------------------------------------------------------------
def test_a_report_is_stored_and_listed_with_its_lag(services, world, stage) -> None:
    assert published_serial(services) is None
    assert publish_serials(services, world, stage, 3) == 3
    answer = record_report(services, world.teacher, status(serial=1, upstream_serial=3), "10.1.2.3")
    assert (answer["serial"], answer["behind"], answer["stale"], answer["username"]) == (1, 2, False, "teacher")

    listing = list_mirrors(services, world.admin)
    (mirror,) = listing["mirrors"]
    assert listing["published_serial"] == 3 and listing["stale"] == 0 and listing["local"] is None
    assert mirror["name"] == "一小镜像" and mirror["organisation"] == "一小" and mirror["remote_addr"] == "10.1.2.3"
    assert mirror["behind"] == 2 and abs(mirror["since_success_s"] - 3 * 3600) < 60
    assert mirror["chain"] == ["示例市电教馆", "示例县电教站"] and mirror["bytes"] == 2_000_000
    assert mirror["last_success_at"].endswith("Z") and mirror["duration_s"] == 12.5


def test_a_second_report_replaces_the_first(services, world) -> None:
    record_report(services, world.teacher, status(result="retry", error="@ERROR: max connections (10) reached"), "")
    record_report(services, world.teacher, status(serial=2, upstream_serial=2, result="up_to_date"), "10.0.0.9")
    (row,) = stored(services)
    assert (row.serial, row.result, row.error, row.remote_addr) == (2, "up_to_date", None, "10.0.0.9")


def test_another_account_cannot_take_a_name_but_an_administrator_can_update_it(services, world) -> None:
    record_report(services, world.teacher, status(serial=1), "")
    with pytest.raises(PermissionDenied) as refused:
        record_report(services, world.other_teacher, status(serial=9), "")
    assert refused.value.details["reason"] == "mirror_owned" and refused.value.details["name"] == "一小镜像"
    assert stored(services)[0].serial == 1
    record_report(services, world.admin, status(serial=5, result="failed", error="disk full"), "")
    (row,) = stored(services)
    assert (row.serial, row.error, row.user.username) == (5, "disk full", "teacher")   # the owner stays
    record_report(services, world.teacher, status(serial=6), "")                        # and may go on
    assert stored(services)[0].serial == 6


def test_anonymous_visitors_cannot_report(services, world) -> None:
    with pytest.raises(AuthenticationRequired):
        record_report(services, ANONYMOUS, status(), "")
    assert stored(services) == []


BAD = [
    ("not an object", ["a", "list"], "json_object", None),
    ("missing key", {k: v for k, v in status().items() if k != "serial"}, "mirror_missing", "serial"),
    ("serial as text", status(serial="3"), "mirror_number", "serial"),
    ("serial as boolean", status(serial=True), "mirror_number", "serial"),
    ("negative bytes", status(bytes=-1), "mirror_number", "bytes"),
    ("serial beyond the column", status(serial=2**31), "mirror_number", "serial"),
    ("infinite duration", status(duration_s=math.inf), "mirror_number", "duration_s"),
    ("enormous name", status(name="镜" * 1_000_000), "too_long", "name"),
    ("long error", status(error="x" * 2001), "too_long", "error"),
    ("empty name", status(name="  "), "mirror_name", "name"),
    ("markup in the name", status(name="<script>alert(1)</script>"), "markup", "name"),
    ("control characters", status(upstream="rsync://a\x00b/repo"), "control_chars", "upstream"),
    ("unknown result", status(result="great"), "choice", "result"),
    ("result as a number", status(result=0), "not_text", "result"),
    ("a date without a time", status(last_attempt_at="2026-11-24"), "mirror_time", "last_attempt_at"),
    ("no time zone", status(last_attempt_at="2026-11-24T03:00:00"), "mirror_time", "last_attempt_at"),
    ("no such month", status(last_success_at="2026-13-01T00:00:00Z"), "mirror_time", "last_success_at"),
    ("words for a time", status(last_success_at="yesterday"), "mirror_time", "last_success_at"),
    ("attempt time null", status(last_attempt_at=None), "not_text", "last_attempt_at"),
    ("chain as text", status(chain="市 → 县"), "mirror_chain", "chain"),
    ("too long a chain", status(chain=["t"] * 17), "mirror_chain", "chain"),
    ("a number in the chain", status(chain=["市", 3]), "not_text", "chain"),
]


@pytest.mark.parametrize(("case", "payload", "reason", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_reports_are_refused_with_their_reason_and_nothing_is_stored(services, world, case, payload,
                                                                          reason, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        record_report(services, world.teacher, payload, "")
    body = refused.value.as_dict()
    assert (body["reason"], body.get("field")) == (reason, field), body
    assert len(json.dumps(body, ensure_ascii=False)) < 1000      # a megabyte is not echoed back
    assert stored(services) == []


def test_every_problem_is_listed_at_once(services, world) -> None:
    payload = status(serial=-1, result="?", chain=None)
    del payload["bytes"]
    with pytest.raises(InvalidInput) as refused:
        record_report(services, world.teacher, payload, "")
    body = refused.value.as_dict()
    assert body["reason"] == "fields" and body["count"] == 4
    assert {(e["field"], e["reason"]) for e in body["errors"]} == {
        ("serial", "mirror_number"), ("result", "choice"), ("chain", "mirror_chain"), ("bytes", "mirror_missing")}


def test_times_are_read_in_any_zone_and_kept_in_utc_and_unknown_keys_are_ignored() -> None:
    checked = parse_status(status(last_attempt_at="2026-11-24T11:00:00.123456789+08:00",
                                  last_success_at=None, error="", future_key={"any": "thing"}))
    assert checked.last_attempt_at == datetime(2026, 11, 24, 3, 0, 0, 123456, tzinfo=timezone.utc)
    assert checked.last_success_at is None and checked.error is None


# -- who sees what, and staleness ---------------------------------------------------------------------
def test_editors_see_their_subtrees_mirrors_and_teachers_none(services, world) -> None:
    record_report(services, world.teacher, status("一小镜像"), "")
    record_report(services, world.other_teacher, status("二小镜像"), "")
    record_report(services, world.admin, status("市直镜像"), "")
    names = lambda actor: [m["name"] for m in list_mirrors(services, actor)["mirrors"]]  # noqa: E731
    assert names(world.admin) == ["一小镜像", "二小镜像", "市直镜像"]
    assert names(world.county_editor) == ["一小镜像", "二小镜像"]
    assert names(world.school_editor) == ["一小镜像"]
    with pytest.raises(PermissionDenied) as refused:
        list_mirrors(services, world.teacher)
    assert refused.value.details["reason"] == "mirrors_editors_only"
    with pytest.raises(AuthenticationRequired):
        list_mirrors(services, ANONYMOUS)


def test_mirrors_without_a_recent_success_are_stale_and_listed_first(services, world) -> None:
    record_report(services, world.teacher, status("按时", ago=HOUR), "")
    record_report(services, world.teacher, status("两天没成功", ago=49 * HOUR, result="retry", error="timeout"), "")
    record_report(services, world.teacher, status("从未成功", ago=None, result="config"), "")
    listing = list_mirrors(services, world.admin)
    assert [(m["name"], m["stale"]) for m in listing["mirrors"]] == [
        ("两天没成功", True), ("从未成功", True), ("按时", False)]
    assert listing["stale"] == 2 and listing["stale_hours"] == 48
    assert listing["mirrors"][1]["since_success_s"] is None
    services.settings = replace(services.settings, mirror_stale_hours=72)
    assert list_mirrors(services, world.admin)["stale"] == 1


# -- this server's own status ---------------------------------------------------------------------------
def write_status(services, content: str | bytes) -> None:
    path = status_path(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


def test_no_status_file_means_not_a_mirror(services) -> None:
    assert local_mirror_status(services) is None


def test_the_status_file_is_read_with_its_lag(services) -> None:
    write_status(services, json.dumps(status("本县", serial=40, upstream_serial=42, ago=50 * HOUR,
                                             result="failed", error="@ERROR: auth failed on module repo")))
    own = local_mirror_status(services)
    assert own["readable"] and own["name"] == "本县" and own["behind"] == 2 and own["stale"]
    assert own["error"] == "@ERROR: auth failed on module repo" and own["chain"][0] == "示例市电教馆"
    assert own["last_success_at"].endswith("Z")


@pytest.mark.parametrize("content", [b"{\"name\": \"half writ", b"\xff\xfe not utf-8", b"[]",
                                     json.dumps(status(result="great")).encode(), b" " * 70_000])
def test_an_unreadable_status_file_is_a_state_not_an_error(services, world, content) -> None:
    write_status(services, content)
    own = local_mirror_status(services)
    assert own["readable"] is False and own["problem"] and own["path"].endswith("sync/status.json")
    assert list_mirrors(services, world.admin)["local"] == own


def test_a_status_path_that_is_a_directory_is_unreadable_too(services) -> None:
    status_path(services).mkdir(parents=True)
    assert local_mirror_status(services)["readable"] is False


def test_the_row_count_stays_one_per_mirror(services, world) -> None:
    for serial in range(5):
        record_report(services, world.teacher, status(serial=serial), "")
    with services.catalog.read() as session:
        assert session.scalar(select(func.count()).select_from(MirrorReport)) == 1
