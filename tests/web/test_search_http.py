"""Search over HTTP: the JSON API and the HTML page."""

from __future__ import annotations

import re

import pytest

from repo_server.services.indexing import catch_up
from repo_server.services.search_tools import search_index
from tests.support import upload_form


@pytest.fixture
def indexed(api, services):
    editor = api("school_editor")
    for name, meta in [("勾股定理 课件.pdf", {"grade": "初二", "subject": "数学"}),
                       ("秋天 <朗读>.pdf", {"grade": "一年级", "subject": "语文", "title": "秋天 <<朗读>>"}),
                       ("内部资料 勾股定理.pdf", {"subject": "数学", "visibility": "private"})]:
        response = editor.post("/api/v1/resources", data=upload_form(f"%PDF-1.4 {name}".encode(), name, **meta),
                               content_type="multipart/form-data")
        assert response.status_code == 201
    writer = search_index(services).try_writer()
    catch_up(services, writer)
    writer.close()


def test_search_api_shape(client, indexed) -> None:
    body = client.get("/api/v1/search?q=勾股定理&subject=数学").get_json()
    assert set(body) >= {"total", "page", "per_page", "hits", "facets", "query", "did_you_mean"}
    assert body["total"] == 1  # the private one is invisible to visitors, counts included
    hit = body["hits"][0]
    assert hit["title_html"] == "<mark>勾股定理</mark> 课件" and hit["download_url"].endswith("/download")
    assert body["facets"]["subject"] == {"数学": 1}
    assert list(client.get("/api/v1/search").get_json()["facets"]["stage"]) == ["小学", "初中"]


@pytest.mark.parametrize(("query", "field"), [
    ("q=" + "勾" * 300, "q"), ("subject=数字", "subject"), ("page=abc", None), ("page=1000", "page"),
    ("per_page=0", "per_page"), ("sort=x", "sort"), ("colour=red", None),
])
def test_bad_search_requests_are_400(client, indexed, query, field) -> None:
    response = client.get(f"/api/v1/search?{query}")
    body = response.get_json()
    assert response.status_code == 400 and body["error"] == "invalid_query" and body["message"]
    if field:
        assert body["field"] == field


def test_search_page(client, indexed) -> None:
    page = client.get("/search?q=秋天").get_data(as_text=True)
    assert "&lt;&lt;朗读&gt;&gt;" in page and "<<朗读>>" not in page and "<mark>秋天</mark>" in page
    assert 'href="/search?q=%E7%A7%8B%E5%A4%A9&amp;subject=%E8%AF%AD%E6%96%87"' in page  # facet link
    assert "共 1 个结果" in page
    assert re.search(r'<a class="title" href="/r/[0-9a-f]{32}">', page)          # each hit links to its page
    typo = client.get("/search?q=勾古定理").get_data(as_text=True)
    assert "你要找的是不是" in typo and "勾股定理" in typo
    bad = client.get("/search?subject=数字")
    assert bad.status_code == 400 and "数学" in bad.get_data(as_text=True)


def test_long_facets_fold_after_eight_values(client, services, world, api) -> None:
    grades = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级", "高一"]
    for n, grade in enumerate(grades):
        assert api("school_editor").post("/api/v1/resources", data=upload_form(
            f"%PDF-1.4 {n}".encode(), f"{n}.pdf", title=f"复习 {n}", grade=grade),
            content_type="multipart/form-data").status_code == 201
    writer = search_index(services).try_writer()
    catch_up(services, writer)
    writer.close()
    page = client.get("/search?q=复习").get_data(as_text=True)
    grade_box = page.split("<h3>年级</h3>")[1].split("</section>")[0]
    shown, folded = grade_box.split("<details>")
    assert shown.count("<li") == 8 and folded.count("<li") == 2 and "更多（2）" in folded
    chosen = client.get("/search?q=复习&grade=高一").get_data(as_text=True)
    assert "<details open>" in chosen.split("<h3>年级</h3>")[1].split("</section>")[0]


def test_search_page_respects_permissions(client, indexed, world) -> None:
    assert "内部资料" not in client.get("/search?q=勾股定理").get_data(as_text=True)


def test_search_page_pager(client, indexed) -> None:
    first = client.get("/search?per_page=1").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "上一页" not in first
    assert 'href="/search?per_page=1&amp;page=2" rel="next">下一页' in first
    second = client.get("/search?per_page=1&page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in second and "下一页" not in second and "page=1" in second
    assert "pager" not in client.get("/search?q=秋天").get_data(as_text=True)   # one page: no pager
