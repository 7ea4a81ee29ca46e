"""The statistics page and /api/v1/stats: well-formed inline SVG with accessible titles, the
numbers as tables, the period switch, and who may look."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import DownloadEvent
from repo_server.services.resources import ingest
from repo_server.web.charts import bar_chart, line_chart, nice_ticks
from tests.web.test_ui_auth import login

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def downloads(services, world, stage) -> str:
    rid = ingest(services, world.school_editor, stage(b"%PDF-1.4 s"), "<b>勾股</b>定理.pdf",
                 {"subject": "数学", "title": "勾股定理 & 证明"})["id"]
    with services.catalog.write() as session:
        for who, days_ago, bot in [(world.teacher, 0, False), (world.other_teacher, 1, False),
                                   (world.teacher, 40, False), (world.teacher, 0, True)]:
            session.add(DownloadEvent(resource_id=rid, user_id=who.user_id, org_id=who.org_id,
                                      at=utcnow() - timedelta(days=days_ago), is_bot=bot))
    return rid


def svgs(page: str) -> list[ET.Element]:
    """Every inline <svg> of the page, parsed as XML (fails on malformed markup)."""
    charts, start = [], 0
    while (start := page.find("<svg", start)) != -1:
        end = page.index("</svg>", start) + len("</svg>")
        charts.append(ET.fromstring(page[start:end]))
        start = end
    return charts


def test_admin_sees_charts_and_tables(client, world, downloads) -> None:
    login(client, world, "admin")
    response = client.get("/admin/stats")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    charts = svgs(page)
    assert len(charts) == 5 and "<script" not in page
    for chart in charts:
        assert chart.get("role") == "img" and chart.get("viewBox")
        title = chart.find(f"{SVG}title")
        assert title is not None and title.text
        assert set(chart.get("aria-labelledby").split()) == {title.get("id"), chart.find(f"{SVG}desc").get("id")}
    per_day = next(c for c in charts if c.get("id") == "chart-per-day")
    assert len(per_day.findall(f"{SVG}circle")) == 30            # one point per day, zero-filled
    assert "最近 30 天" in per_day.find(f"{SVG}title").text
    tips = [t.text for t in per_day.iter(f"{SVG}title")]
    assert tips.count(None) == 0 and sum(t.endswith(": 1") for t in tips) == 2
    top = next(c for c in charts if c.get("id") == "chart-top")
    assert any(t.text == "勾股定理 & 证明: 2" for t in top.iter(f"{SVG}title"))
    assert "勾股定理 &amp; 证明" in page and "<b>" not in page
    assert "一小" in page and "二小" in page and "数学" in page
    assert "<table class=\"numbers\">" in page


def test_period_switch(client, world, downloads) -> None:
    login(client, world, "admin")
    page = client.get("/admin/stats?days=90").get_data(as_text=True)
    per_day = next(c for c in svgs(page) if c.get("id") == "chart-per-day")
    assert len(per_day.findall(f"{SVG}circle")) == 90
    assert "/admin/stats?days=30" in page and "/admin/stats?days=365" in page
    year = svgs(client.get("/admin/stats?days=365").get_data(as_text=True))
    assert next(c for c in year if c.get("id") == "chart-per-day").find(f"{SVG}polyline") is not None
    assert client.get("/admin/stats?days=7").status_code == 422
    assert client.get("/admin/stats?days=x").status_code == 422


def test_who_may_look(client, world, downloads) -> None:
    assert client.get("/admin/stats").status_code == 302            # to the login page
    login(client, world, "teacher")
    assert client.get("/admin/stats").status_code == 403
    assert "统计" not in client.get("/").get_data(as_text=True)


def test_editors_see_their_school_only(client, world, downloads) -> None:
    login(client, world, "school_editor")
    page = client.get("/admin/stats").get_data(as_text=True)
    assert "一小 及下属单位" in page and "二小" not in page
    assert "/admin/stats" in client.get("/").get_data(as_text=True)    # the nav link


def test_json_api(api, world, downloads) -> None:
    answer = api("admin").get("/api/v1/stats?days=30")
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["downloads"] == 2 and data["bot_downloads"] == 1 and len(data["per_day"]) == 30
    assert data["top_resources"][0]["id"] == downloads
    assert api("school_editor").get("/api/v1/stats").get_json()["downloads"] == 1
    assert api("teacher").get("/api/v1/stats").status_code == 403
    assert api("admin").get("/api/v1/stats?days=12").status_code == 422


def test_json_api_needs_a_login(client, world) -> None:
    assert client.get("/api/v1/stats").status_code == 401


def test_charts_escape_and_scale() -> None:
    svg = bar_chart([("<script>x</script>", 3), ("零", 0)], chart_id="c\"1", title="T & <b>")
    root = ET.fromstring(str(svg))
    assert root.find(f"{SVG}title").text == "T & <b>"
    assert "<script>" not in str(svg)
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] > 0 and widths[1] == 0
    empty = ET.fromstring(str(bar_chart([], chart_id="e", title="空", empty="没有下载")))
    assert any(t.text == "没有下载" for t in empty.iter(f"{SVG}text"))
    flat = ET.fromstring(str(line_chart([("a", 0), ("b", 0)], chart_id="f", title="零")))
    assert flat.find(f"{SVG}polyline") is not None
    assert nice_ticks(0) == [0, 1] and nice_ticks(7) == [0, 2, 4, 6, 8] and nice_ticks(1000)[-1] >= 1000
