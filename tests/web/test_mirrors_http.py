"""Mirror status over HTTP: POST /api/v1/mirrors/report (bearer tokens only, strict checks,
nothing stored on refusal), GET /api/v1/mirrors (editors and admins), and /admin/mirrors
(this server's own status from status.json, the downstream table, stale rows highlighted,
everything a mirror sent escaped)."""

from __future__ import annotations

import json
import re

import pytest

from repo_server.services.mirror_reports import list_mirrors, status_path
from tests.services.test_mirror_reports import HOUR, status, stored
from tests.web.test_ui_auth import csrf_token, login

REPORT = "/api/v1/mirrors/report"


def report(client, world, username: str, payload, **headers):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(REPORT, data=body, content_type="application/json",
                       headers={"Authorization": f"Bearer {world.tokens[username]}", **headers})


def write_status(services, payload) -> None:
    path = status_path(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload if isinstance(payload, bytes) else json.dumps(payload).encode())


# -- the report ------------------------------------------------------------------------------------------
def test_a_mirror_reports_with_its_token_and_is_listed(client, api, world, services) -> None:
    answer = report(client, world, "teacher", status(serial=3, result="up_to_date"))
    assert answer.status_code == 200
    assert answer.get_json()["name"] == "一小镜像" and answer.get_json()["username"] == "teacher"
    listing = api("county_editor").get("/api/v1/mirrors")
    assert listing.status_code == 200
    (mirror,) = listing.get_json()["mirrors"]
    assert (mirror["serial"], mirror["result"], mirror["remote_addr"]) == (3, "up_to_date", "127.0.0.1")
    again = report(client, world, "teacher", status(serial=4, result="retry", error="timeout"))
    assert again.status_code == 200 and [(r.serial, r.error) for r in stored(services)] == [(4, "timeout")]


def test_reports_need_a_valid_bearer_token(client, world, services) -> None:
    anonymous = client.post(REPORT, json=status())
    assert anonymous.status_code == 401 and anonymous.get_json()["reason"] == "mirror_token"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.post(REPORT, json=status(), headers={"Authorization": "Bearer rs_not-a-token"})
    assert bad.status_code == 401 and bad.get_json()["reason"] == "bad_token"
    login(client, world, "admin")        # a browser session, even with its CSRF token, does not report
    session = client.post(REPORT, json=status(), headers={"X-CSRFToken": csrf_token(client, "/")})
    assert session.status_code == 401 and session.get_json()["reason"] == "mirror_token"
    assert stored(services) == []


def test_another_account_is_refused_an_administrator_is_not(client, world, services) -> None:
    assert report(client, world, "teacher", status(serial=1)).status_code == 200
    taken = report(client, world, "other_teacher", status(serial=7))
    assert taken.status_code == 403
    assert (taken.get_json()["reason"], taken.get_json()["name"]) == ("mirror_owned", "一小镜像")
    assert stored(services)[0].serial == 1
    assert report(client, world, "admin", status(serial=8)).status_code == 200
    assert stored(services)[0].serial == 8


@pytest.mark.parametrize(("body", "status_code", "reason"), [
    (b"this is not json", 422, "json_object"),
    (b"[1, 2]", 422, "json_object"),
    (json.dumps({"name": "一小"}).encode(), 422, "fields"),
    (json.dumps(status(result="excellent")).encode(), 422, "choice"),
    (json.dumps(status(last_success_at="2026-11-24 03:00")).encode(), 422, "mirror_time"),
    (json.dumps(status(serial="12")).encode(), 422, "mirror_number"),
    (json.dumps(status(error="e" * 5000)).encode(), 422, "too_long"),
    (json.dumps(status(name="镜" * 200_000)).encode(), 413, "report_too_large"),
])
def test_bad_reports_are_refused_with_a_reason_and_nothing_is_stored(client, world, services, body,
                                                                      status_code, reason) -> None:
    answer = report(client, world, "teacher", body)
    assert answer.status_code == status_code, answer.get_data(as_text=True)
    error = answer.get_json()
    assert error["reason"] == reason and error["message"] and error["error"]
    assert stored(services) == []


def test_the_list_is_for_editors_and_administrators(client, api, world) -> None:
    report(client, world, "teacher", status("一小镜像"))
    report(client, world, "other_teacher", status("二小镜像"))
    assert [m["name"] for m in api("school_editor").get("/api/v1/mirrors").get_json()["mirrors"]] == ["一小镜像"]
    assert len(api("admin").get("/api/v1/mirrors").get_json()["mirrors"]) == 2
    refused = api("teacher").get("/api/v1/mirrors")
    assert refused.status_code == 403 and refused.get_json()["reason"] == "mirrors_editors_only"
    assert client.get("/api/v1/mirrors").status_code == 401


# -- the page ---------------------------------------------------------------------------------------------
def rows(page: str) -> list[str]:
    return re.findall(r"<tr( class=\"stale\")?>\s*<td>(.*?)<br>", page, re.S)


def test_the_page_lists_downstream_mirrors_with_stale_ones_highlighted(client, world, services) -> None:
    report(client, world, "teacher", status("一小镜像", ago=2 * HOUR, serial=1))
    report(client, world, "other_teacher", status("二小镜像", ago=60 * HOUR, result="retry",
                                                  error="@ERROR: max connections (10) reached"))
    login(client, world, "admin")
    answer = client.get("/admin/mirrors")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert rows(page) == [(' class="stale"', "二小镜像"), ("", "一小镜像")]
    assert "2小时前" in page and "2天前" in page and "<strong>过期</strong>" in page and "暂时失败，将重试" in page
    assert "@ERROR: max connections (10) reached" in page and "示例市电教馆 → 示例县电教站" in page
    assert "共 2 个镜像，1 个过期。" in page and "本服务器还没有发布镜像版本" in page
    assert 'id="this-server"' not in page                        # no status.json: not a mirror
    assert 'href="/admin/mirrors"' in client.get("/admin/users").get_data(as_text=True)

    client.get("/lang/en")
    page = client.get("/admin/mirrors").get_data(as_text=True)
    assert "2 hours ago" in page and "Downstream mirrors" in page and "Failed for now, will retry" in page


def test_the_page_shows_this_servers_own_status(client, world, services) -> None:
    write_status(services, status("本县镜像", serial=40, upstream_serial=42, ago=3 * HOUR))
    login(client, world, "admin")
    page = client.get("/admin/mirrors").get_data(as_text=True)
    own = page[page.index('id="this-server"'):page.index("</section>")]
    assert "本县镜像" in own and "rsync://county.example/repo" in own and "上游 42" in own
    assert "2 个版本" in own and "3小时前" in own and "成功" in own and "上次错误" not in own
    assert "mirror-self stale" not in page and "还没有镜像报告过同步状态。" in page


def test_the_page_shows_a_failed_sync_with_its_error(client, world, services) -> None:
    write_status(services, status("本县镜像", ago=72 * HOUR, result="config",
                                  error="@ERROR: auth failed on module repo"))
    login(client, world, "school_editor")
    page = client.get("/admin/mirrors").get_data(as_text=True)
    own = page[page.index('id="this-server"'):page.index("</section>")]
    assert "mirror-self stale" in page and "配置错误" in own and "已超过 48 小时没有成功同步" in own
    assert "@ERROR: auth failed on module repo" in own


def test_a_garbled_status_file_is_shown_not_a_crash(client, world, services) -> None:
    write_status(services, b'{"name": "half wri')
    login(client, world, "admin")
    answer = client.get("/admin/mirrors")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "同步状态无法读取" in page and "sync/status.json" in page and 'role="alert"' in page
    api_view = list_mirrors(services, world.admin)["local"]
    assert api_view["readable"] is False and "JSON" in api_view["problem"]


def test_what_mirrors_send_is_escaped(client, world, services) -> None:
    hostile = '一小 "镜像" & <b'
    report(client, world, "teacher", status(hostile, error='<script>alert("x")</script>'))
    write_status(services, status("本县", upstream='<img src=x onerror="alert(1)">',
                                  error="<iframe src=//evil>"))
    login(client, world, "admin")
    page = client.get("/admin/mirrors").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "<iframe" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "一小 &#34;镜像&#34; &amp; &lt;b" in page and "&lt;img src=x" in page


def test_teachers_and_visitors_are_kept_out_of_the_page(client, world) -> None:
    assert client.get("/admin/mirrors").status_code == 302
    login(client, world, "teacher")
    assert client.get("/admin/mirrors").status_code == 403


# -- removing a retired mirror ----------------------------------------------------------------------------
def test_an_editor_removes_a_retired_mirror_of_their_subtree(client, api, world, services) -> None:
    report(client, world, "teacher", status("一小镜像"))
    report(client, world, "other_teacher", status("二小镜像"))
    hidden = api("school_editor").delete("/api/v1/mirrors/二小镜像")   # not in 一小's subtree
    assert hidden.status_code == 404 and hidden.get_json()["reason"] == "no_mirror"
    assert api("teacher").delete("/api/v1/mirrors/一小镜像").status_code == 403
    anonymous = client.delete("/api/v1/mirrors/一小镜像")    # no token: a cookie session, which needs CSRF
    assert anonymous.status_code == 400 and "CSRF" in anonymous.get_json()["message"]
    assert sorted(r.name for r in stored(services)) == ["一小镜像", "二小镜像"]
    assert api("school_editor").delete("/api/v1/mirrors/一小镜像").status_code == 204
    assert [r.name for r in stored(services)] == ["二小镜像"]
    assert api("admin").delete("/api/v1/mirrors/一小镜像").status_code == 404   # gone
    assert report(client, world, "teacher", status("一小镜像")).status_code == 200   # reports again: back
    assert sorted(r.name for r in stored(services)) == ["一小镜像", "二小镜像"]


def test_the_page_removes_a_mirror_with_csrf(client, world, services) -> None:
    report(client, world, "teacher", status("一小镜像"))
    login(client, world, "admin")
    page = client.get("/admin/mirrors").get_data(as_text=True)
    assert 'action="/admin/mirrors/remove"' in page
    forged = client.post("/admin/mirrors/remove", data={"name": "一小镜像"})
    assert forged.status_code == 400 and [r.name for r in stored(services)] == ["一小镜像"]
    removed = client.post("/admin/mirrors/remove", data={"name": "一小镜像",
                                                        "csrf_token": csrf_token(client, "/admin/mirrors")})
    assert removed.status_code == 303 and stored(services) == []
    after = client.get(removed.headers["Location"]).get_data(as_text=True)
    assert "已移除镜像 一小镜像" in after and "还没有镜像报告过同步状态" in after
    missing = client.post("/admin/mirrors/remove", data={"name": "三小镜像",
                                                        "csrf_token": csrf_token(client, "/admin/mirrors")})
    assert missing.status_code == 404 and "没有名为“三小镜像”的镜像" in missing.get_data(as_text=True)
