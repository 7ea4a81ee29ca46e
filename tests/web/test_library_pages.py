"""Teachers' and editors' pages over HTTP: home, catalog tree, favourites, the lesson zip,
the edit form, the review queue and bulk edit (form and API)."""

from __future__ import annotations

import hashlib
import html
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
import requests

from repo_server.services.resources import get_resource, ingest
from tests.web.test_ui_auth import csrf_token, login

MATH8 = {"stage": "初中", "subject": "数学", "edition": "人教版", "grade": "八年级", "volume": "上册",
         "chapter": "第十七章 勾股定理", "lesson": "第1课 勾股定理"}
SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@pytest.fixture
def lesson(services, world, stage, corpus):
    """Three files of one lesson, one of them private to 一小, and a related draft."""
    def add(data: bytes, filename: str, **fields):
        return ingest(services, world.school_editor, stage(data), filename, {**MATH8, **fields})["id"]
    return {
        "plan": add(b"%PDF-1.4 plan", "勾股定理 教案.pdf", title="勾股定理 教案", type="教案"),
        "slides": add(corpus("hopper.png").read_bytes(), "勾股定理.png", title="勾股定理 图片", type="素材"),
        "same_name": add(b"%PDF-1.4 other plan", "勾股定理 教案.pdf", title="勾股定理 教案（二）", type="教案"),
        "private": add(b"%PDF-1.4 private", "校本.pdf", title="校本练习", visibility="private"),
        "draft": add(b"%PDF-1.4 draft", "草稿.pdf", title="待审草稿", status="draft", lesson=""),
    }


def test_home_shows_the_tree_the_newest_and_the_most_downloaded(client, world, lesson) -> None:
    client.get(f"/api/v1/resources/{lesson['plan']}/download")     # one real download
    page = client.get("/").get_data(as_text=True)
    assert 'href="/browse?stage=%E5%88%9D%E4%B8%AD">初中</a> <span class="count">3</span>' in page
    assert "数学</a> <span class=\"count\">3</span>" in page
    newest = page.split('id="new-h"')[1].split("</section>")[0]
    assert newest.count("<li>") == 3 and "校本练习" not in newest and "待审草稿" not in newest
    popular = page.split('id="popular-h"')[1].split("</section>")[0]
    assert popular.count("<li>") == 1 and "勾股定理 教案" in popular


def test_browse_walks_down_to_the_lesson_with_breadcrumbs(client, world, lesson) -> None:
    page = client.get("/browse", query_string={k: MATH8[k] for k in ("stage", "subject", "edition", "grade",
                                                                     "volume", "chapter")})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "第1课 勾股定理</a> <span class=\"count\">3</span>" in html
    assert html.count('class="crumbs"') == 1 and ">人教版</a>" in html and "<strong>第十七章 勾股定理</strong>" in html
    gap = client.get("/browse?lesson=x")
    assert gap.status_code == 404 and "目录路径须从学段开始逐级填写" in gap.get_data(as_text=True)
    unknown = client.get("/browse?stage=火星")
    assert unknown.status_code == 404 and "目录中没有“火星”" in unknown.get_data(as_text=True)


def test_favourites_need_login_and_csrf_and_toggle(client, world, lesson) -> None:
    assert client.get("/favourites").status_code == 302
    login(client, world, "teacher")
    token = csrf_token(client, f"/r/{lesson['plan']}")
    assert client.post(f"/r/{lesson['plan']}/favourite", data={"on": "1"}).status_code == 400   # no token
    response = client.post(f"/r/{lesson['plan']}/favourite", data={"on": "1", "csrf_token": token})
    assert response.status_code == 303
    page = client.get(f"/r/{lesson['plan']}").get_data(as_text=True)
    assert "★ 已收藏" in page and 'aria-pressed="true"' in page
    assert "勾股定理 教案" in client.get("/favourites").get_data(as_text=True)
    client.post(f"/r/{lesson['plan']}/favourite", data={"on": "0", "csrf_token": token})
    assert "还没有收藏" in client.get("/favourites").get_data(as_text=True)
    hidden = client.post(f"/r/{lesson['private']}/favourite", data={"on": "1", "csrf_token": token})
    assert hidden.status_code == 404


def test_the_resource_page_lists_its_lesson_and_offers_the_zip(client, world, lesson) -> None:
    login(client, world, "teacher")
    page = client.get(f"/r/{lesson['plan']}").get_data(as_text=True)
    section = page.split('id="lesson-h"')[1].split("</section>")[0]
    assert "勾股定理 图片" in section and "勾股定理 教案（二）" in section and "校本练习" not in section
    assert f'href="/r/{lesson["plan"]}/lesson.zip"' in page and "下载整课（3 个文件）" in page
    assert "编辑" not in page.split('class="downloads"')[1].split("</div>")[0]   # teachers do not edit


def test_a_big_lesson_lists_a_few_files_and_links_to_the_rest(client, world, lesson, monkeypatch) -> None:
    from repo_server.services import lessons
    monkeypatch.setattr(lessons, "SHOWN_ON_PAGE", 1)
    login(client, world, "teacher")
    page = client.get(f"/r/{lesson['plan']}").get_data(as_text=True)
    assert "下载整课（3 个文件）" in page                  # the zip still takes them all
    section = page.split('id="lesson-h"')[1].split("</section>")[0]
    listed = section.count('<li>')
    assert listed <= 1 and f"另有 {2 - listed} 个资源" in section
    link = re.search(r'<a href="(/browse\?[^"]+)">查看整课</a>', section).group(1)
    node = client.get(html.unescape(link)).get_data(as_text=True)
    assert "勾股定理 图片" in node and "勾股定理 教案（二）" in node and "校本练习" not in node


def test_the_lesson_zip_holds_exactly_the_visible_files(client, services, world, lesson, corpus) -> None:
    login(client, world, "other_teacher")
    response = client.get(f"/r/{lesson['slides']}/lesson.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    body = response.get_data()
    assert int(response.headers["Content-Length"]) == len(body)
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    folder = "人教版 八年级 上册 第1课 勾股定理"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
        assert names == sorted([f"{folder}/勾股定理 教案.pdf", f"{folder}/勾股定理 教案 (2).pdf",
                                f"{folder}/勾股定理.png"])
        assert archive.read(f"{folder}/勾股定理.png") == corpus("hopper.png").read_bytes()
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    # Every file counted as a download of its resource.
    assert get_resource(services, world.admin, lesson["plan"])["download_count"] == 1
    assert client.get(f"/r/{lesson['private']}/lesson.zip").status_code == 404
    assert client.get(f"/r/{lesson['draft']}/lesson.zip").status_code == 404


@SQLITE_ONLY
def test_a_big_lesson_zip_streams_in_constant_memory(services, world, stage, live_server, tmp_path: Path) -> None:
    """96 MiB through the real server: its memory must not grow by the file's size."""
    big = tmp_path / "lesson.mp4"
    with open(big, "wb") as out:
        out.write(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
        block = hashlib.sha256(b"seed").digest() * (1 << 15)       # 1 MiB of incompressible-ish bytes
        for _ in range(96):
            out.write(block)
    staged = services.staging.new()
    staged.write(big.read_bytes())
    staged.seek(0)
    video = ingest(services, world.school_editor, staged, "课堂实录.mp4", {**MATH8, "type": "视频课"})["id"]
    ingest(services, world.school_editor, stage(b"%PDF-1.4 notes"), "notes.pdf", MATH8)
    (worker,) = live_server.worker_pids()      # REPO_WORKERS=1, no embedded media worker
    # Let the worker's background indexer take in the new resources first (loading the Chinese
    # analysis costs it ~100 MB once): this measures the zip, not the indexer.
    deadline = time.monotonic() + 60
    while requests.get(f"{live_server.url}/api/v1/search", params={"q": "课堂实录"}, timeout=30).json()["total"] < 1:
        assert time.monotonic() < deadline, "the new resources never became searchable"
        time.sleep(0.2)
    requests.get(f"{live_server.url}/r/{video}", timeout=30)
    before = _peak_rss_kb(worker)
    digest, size = hashlib.sha256(), 0
    with requests.get(f"{live_server.url}/r/{video}/lesson.zip", stream=True, timeout=60) as response:
        assert response.status_code == 200
        declared = int(response.headers["Content-Length"])
        for chunk in response.iter_content(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    assert size == declared > 96 * (1 << 20)
    grown = _peak_rss_kb(worker) - before
    assert grown < 32 * 1024, f"the server's peak memory grew by {grown} kB while zipping 96 MiB"


def _peak_rss_kb(pid: int) -> int:
    """VmHWM: the highest resident memory the process ever had, in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1))


def test_the_edit_form_shows_every_field_and_keeps_input_on_errors(client, services, world, lesson) -> None:
    login(client, world, "school_editor")
    form_page = client.get(f"/r/{lesson['plan']}/edit").get_data(as_text=True)
    assert 'name="lesson" value="第1课 勾股定理"' in form_page and '<option value="初一" label="七年级">' in form_page
    token = csrf_token(client, f"/r/{lesson['plan']}/edit")
    bad = client.post(f"/r/{lesson['plan']}/edit", data={"title": "<b>新标题</b>", "subject": "炼金术",
                                                         "tags": "复习，期中", "csrf_token": token})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "炼金术" in html and 'value="复习，期中"' in html
    assert "<b>新标题</b>" not in html and "&lt;b&gt;新标题&lt;/b&gt;" in html
    good = client.post(f"/r/{lesson['plan']}/edit", data={**{k: v for k, v in MATH8.items()}, "title": "新标题",
                                                          "grade": "初二", "tags": "复习，期中", "visibility": "public",
                                                          "status": "published", "csrf_token": token})
    assert good.status_code == 303
    view = get_resource(services, world.admin, lesson["plan"])
    assert view["title"] == "新标题" and view["grade"]["name"] == "八年级" and view["tags"] == ["复习", "期中"]
    login(client, world, "teacher")
    assert client.get(f"/r/{lesson['plan']}/edit").status_code == 403


def test_review_and_bulk_edit_through_the_page(client, services, world, lesson) -> None:
    login(client, world, "school_editor")
    queue = client.get("/admin/resources").get_data(as_text=True)
    assert "待审草稿" in queue and "勾股定理 教案" not in queue
    token = csrf_token(client, "/admin/resources")
    response = client.post("/admin/resources/bulk", data={
        "ids": [lesson["draft"], lesson["plan"]], "action": "publish", "add_tags": "复习，三角形",
        "type": "课件", "csrf_token": token})
    assert response.status_code == 303
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已修改 2 个资源" in after and "待审草稿" not in after
    draft = get_resource(services, world.teacher, lesson["draft"])
    assert draft["status"] == "published" and draft["type"]["name"] == "课件" and draft["tags"] == ["三角形", "复习"]
    refused = client.post("/admin/resources/bulk", data={"ids": [lesson["plan"]], "subject": "炼金术",
                                                         "csrf_token": token}, follow_redirects=True)
    assert "炼金术" in refused.get_data(as_text=True)
    assert get_resource(services, world.admin, lesson["plan"])["subject"]["name"] == "数学"
    assert client.post("/admin/resources/bulk", data={"ids": [lesson["plan"]], "action": "publish"}).status_code == 400
    login(client, world, "teacher")
    assert client.get("/admin/resources").status_code == 403


def test_bulk_update_through_the_api(api, services, world, lesson) -> None:
    answer = api("county_editor").post("/api/v1/resources/bulk", json={
        "ids": [lesson["plan"], lesson["slides"], "missing"], "changes": {"edition": "人教版", "volume": "下册"},
        "add_tags": ["县级精品"]})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["changed"] == [lesson["plan"], lesson["slides"]] and body["skipped"] == {"missing": "not found"}
    assert get_resource(services, world.admin, lesson["slides"])["volume"]["name"] == "下册"
    assert api("county_editor").post("/api/v1/resources/bulk", json={"ids": "x"}).status_code == 422
    assert api("teacher").post("/api/v1/resources/bulk", json={"ids": [lesson["plan"]]}).status_code == 403


@SQLITE_ONLY
def test_every_page_links_the_interfaces_for_other_software(client, world) -> None:
    """The footer names the e-book catalog (OPDS), OAI-PMH and the API description, and each
    link answers in its own format."""
    page = client.get("/").get_data(as_text=True)
    footer = page[page.index('<footer class="site">'):]
    links = re.findall(r'href="([^"]+)"', footer)
    assert len(links) == 3
    kinds = [client.get(html.unescape(link)).headers["Content-Type"] for link in links]
    assert kinds[0].startswith("application/atom+xml")
    assert kinds[1].startswith("text/xml")
    assert kinds[2].startswith("application/json")
