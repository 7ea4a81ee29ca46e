"""The two halves of issue 6 agree: the real scripts/repo-sync syncs a school from the
county's published tree, reports to the county's real server (gunicorn, over a socket) with
the school's token, and the county lists the school with its lag; the school's own
status.json reads as a healthy mirror status, and a refused report never fails the sync."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from repo_server.config import Settings
from repo_server.services import Services
from repo_server.services.mirror_reports import local_mirror_status
from repo_server.services.resources import ingest
from repo_server.sync import publish
from tests.sync.pull.conftest import repo_sync

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def publish_lesson(services, world, stage, n: int) -> None:
    ingest(services, world.school_editor, stage(f"%PDF-1.4 live lesson {n}".encode()), f"第{n}课.pdf",
           {"subject": "数学", "grade": "八年级", "visibility": "public", "status": "published"})
    assert publish(services).published


def test_a_synced_school_reports_to_its_county_and_is_listed(live_server, services, world, stage,
                                                             tmp_path: Path) -> None:
    publish_lesson(services, world, stage, 1)
    token = tmp_path / "token"
    token.write_text(world.tokens["teacher"] + "\n")
    token.chmod(0o600)
    school = tmp_path / "yixiao"
    run = repo_sync(school, services.settings.mirror_dir, "--report-url",
                    f"{live_server.url}/api/v1/mirrors/report", "--token-file", str(token))
    assert run.returncode == 0, run.stdout + run.stderr
    publish_lesson(services, world, stage, 2)      # the county moves on; the school has not synced yet

    listing = requests.get(f"{live_server.url}/api/v1/mirrors", timeout=10,
                           headers={"Authorization": f"Bearer {world.tokens['county_editor']}"}).json()
    (mirror,) = listing["mirrors"]
    assert (mirror["name"], mirror["username"], mirror["result"]) == ("yixiao", "teacher", "ok")
    assert (mirror["serial"], listing["published_serial"], mirror["behind"]) == (1, 2, 1)
    assert mirror["stale"] is False and mirror["chain"][-1] == "yixiao"

    school_services = Services.open(Settings(data_dir=school, secret_key="test-secret"))
    try:
        own = local_mirror_status(school_services)
    finally:
        school_services.close()
    assert own["readable"] and own["result"] == "ok" and own["serial"] == 1 and own["stale"] is False


def test_a_refused_report_does_not_fail_the_sync(live_server, services, world, stage, tmp_path: Path) -> None:
    publish_lesson(services, world, stage, 1)
    requests.post(f"{live_server.url}/api/v1/mirrors/report", timeout=10,   # another school took the name
                  headers={"Authorization": f"Bearer {world.tokens['other_teacher']}"},
                  json={"name": "yixiao", "upstream": "x", "serial": None, "upstream_serial": None,
                        "result": "config", "error": None, "last_success_at": None,
                        "last_attempt_at": "2026-11-24T03:00:00Z", "bytes": 0, "duration_s": 0, "chain": []})
    token = tmp_path / "token"
    token.write_text(world.tokens["teacher"])
    token.chmod(0o600)
    run = repo_sync(tmp_path / "yixiao", services.settings.mirror_dir, "--report-url",
                    f"{live_server.url}/api/v1/mirrors/report", "--token-file", str(token))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "403" in run.stdout + run.stderr
    listing = requests.get(f"{live_server.url}/api/v1/mirrors", timeout=10,
                           headers={"Authorization": f"Bearer {world.tokens['admin']}"}).json()
    assert [(m["name"], m["username"], m["result"]) for m in listing["mirrors"]] == [("yixiao", "other_teacher", "config")]
