"""Refusals reach people in their language (web/error_texts.py): every page that shows a
service's refusal says it in Chinese (and in English under /lang/en), with the field's label,
keeps what was typed, changes nothing and answers 4xx; the JSON API keeps its English
`message` and adds the `reason` and values; the upload page's script gets the same words.
And no reason is raised anywhere without a text in the table."""

from __future__ import annotations

import ast
import base64
import html
import json
import re
from pathlib import Path

import pytest

from repo_server.services.resources import get_resource, ingest, list_resources
from repo_server.web.error_texts import TEXTS, error_text
from tests.support import upload_form
from tests.web.test_ui_auth import csrf_token, login

ROOT = Path(__file__).resolve().parents[2] / "repo_server"
MATH = {"stage": "初中", "subject": "数学", "grade": "八年级", "title": "勾股定理 教案", "tags": "复习"}


@pytest.fixture
def resource(services, world, stage) -> str:
    return ingest(services, world.school_editor, stage(b"%PDF-1.4 plan"), "教案.pdf", MATH)["id"]


def problems(page: str) -> set[str]:
    """The problems a page shows (its `errors` boxes, one per list item), as read."""
    found = set()
    for box in re.findall(r'class="errors" role="alert">(.*?)</(?:div|p)>', page, re.S):
        for item in re.findall(r"<li>(.*?)</li>", box, re.S) or [box]:
            found.add(" ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split()))
    return found


def in_english(client) -> None:
    assert client.get("/lang/en").status_code == 303


# -- the metadata form ------------------------------------------------------------------------------
def test_the_edit_form_names_each_field_and_its_problem(client, services, world, resource) -> None:
    login(client, world, "school_editor")
    path = f"/r/{resource}/edit"
    typed = {"title": "<b>新标题</b>", "creator": "王" * 201, "date": "昨天", "subject": "数字",
             "tags": "复习，期中", "visibility": "public", "status": "published"}
    answer = client.post(path, data={**typed, "csrf_token": csrf_token(client, path)})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    shown = problems(page)
    assert {"标题：请填写纯文本，不能包含 HTML 标记或控制字符", "作者：最多 200 个字符，现在有 201 个",
            "日期：“昨天”不是有效的日期，请写成 2024、2024-09 或 2024-09-01"} < shown
    assert any(p.startswith("学科：词表中没有“数字”；您要找的是不是：数学") for p in shown), shown
    assert len(shown) == 4 and "contains" not in page and "<strong>title</strong>" not in page
    for kept in ('value="&lt;b&gt;新标题&lt;/b&gt;"', f'value="{"王" * 201}"', 'value="昨天"', 'value="数字"',
                 'value="复习，期中"'):
        assert kept in page, kept
    assert get_resource(services, world.admin, resource)["title"] == "勾股定理 教案"    # nothing changed

    in_english(client)
    page = client.post(path, data={**typed, "csrf_token": csrf_token(client, path)}).get_data(as_text=True)
    assert {"Author: at most 200 characters; this has 201",
            "Date: “昨天” is not a date; write 2024, 2024-09 or 2024-09-01"} < problems(page)
    assert any(p.startswith("Subject: “数字” is not in the vocabulary; did you mean 数学") for p in problems(page))


# -- the upload form ---------------------------------------------------------------------------------
def _upload(client, data: bytes, filename: str, **fields):
    form = upload_form(data, filename, csrf_token=csrf_token(client, "/upload"), **fields)
    return client.post("/upload", data=form, content_type="multipart/form-data")


def test_the_upload_form_explains_refused_files_and_keeps_the_fields(client, services, world, resource) -> None:
    login(client, world, "school_editor")
    typed = {"title": "我的课件", "subject": "数学", "tags": "复习，期中", "allow_duplicate": "1"}
    dangerous = _upload(client, b"MZ\x90\x00" + b"\x00" * 200, "setup.exe", **typed)
    page = dangerous.get_data(as_text=True)
    assert dangerous.status_code == 415
    assert problems(page) == {"“setup.exe”是 .exe 文件，可以运行程序，不能上传"}
    assert 'value="我的课件"' in page and 'value="复习，期中"' in page
    assert re.search(r'name="allow_duplicate" value="1" checked', page)

    empty = _upload(client, b"", "空.pdf", title="空")
    assert empty.status_code == 422 and problems(empty.get_data(as_text=True)) == {"“空.pdf”是空文件（0 字节），没有保存"}
    long = _upload(client, b"%PDF-1.4 long", "长.pdf", title="长" * 501)
    assert long.status_code == 422
    assert problems(long.get_data(as_text=True)) == {"标题：最多 500 个字符，现在有 501 个"}   # the label, not "title"
    twice = _upload(client, b"%PDF-1.4 plan", "又一份.pdf", title="又一份")
    page = twice.get_data(as_text=True)
    assert twice.status_code == 409 and f'href="/r/{resource}">勾股定理 教案</a>' in page
    assert problems(page) == {"资源库中已有这个文件；如果要把它用于另一课，请勾选“文件已存在时仍另存一条”再上传 — 勾股定理 教案"}
    assert 'value="又一份"' in page
    mismatch = _upload(client, b"%PDF-1.4 not a video", "课堂.mp4")
    assert mismatch.status_code == 415
    assert problems(mismatch.get_data(as_text=True)) == {
        "“课堂.mp4”的扩展名 .mp4 表示视频，但内容是文档；请改正文件名或重新导出"}

    in_english(client)
    page = _upload(client, b"MZ\x90\x00" + b"\x00" * 200, "setup.exe", **typed).get_data(as_text=True)
    assert problems(page) == {"“setup.exe” is a .exe file, which can run programs and cannot be uploaded"}
    page = _upload(client, b"%PDF-1.4 long", "长.pdf", title="长" * 501).get_data(as_text=True)
    assert problems(page) == {"Title: at most 500 characters; this has 501"}
    assert list_resources(services, world.admin)["total"] == 1    # nothing was filed


# -- bulk edit ------------------------------------------------------------------------------------------
def test_a_refused_bulk_change_shows_the_list_again_with_everything_chosen(client, services, world,
                                                                           resource) -> None:
    login(client, world, "school_editor")
    token = csrf_token(client, "/admin/resources?status=all")
    typed = {"ids": [resource], "subject": "数字", "chapter": "<i>第一章</i>", "add_tags": "期末",
             "next": "/admin/resources?status=all", "action": "edit", "csrf_token": token}
    answer = client.post("/admin/resources/bulk", data=typed)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    shown = problems(page)
    assert "单元/章：请填写纯文本，不能包含 HTML 标记或控制字符" in shown and len(shown) == 2
    assert any(p.startswith("学科：词表中没有“数字”；您要找的是不是：数学") for p in shown), shown
    assert 'value="数字"' in page and 'value="&lt;i&gt;第一章&lt;/i&gt;"' in page and 'value="期末"' in page
    assert f'value="{resource}" form="bulk" checked' in page and "勾股定理 教案" in page   # the same list
    view = get_resource(services, world.admin, resource)
    assert view["subject"]["name"] == "数学" and view["tags"] == ["复习"]
    nothing = client.post("/admin/resources/bulk", data={"action": "publish", "csrf_token": token})
    assert nothing.status_code == 422 and problems(nothing.get_data(as_text=True)) == {"所选资源：请至少选择一个资源"}

    in_english(client)
    page = client.post("/admin/resources/bulk", data=typed).get_data(as_text=True)
    assert "Unit/chapter: Plain text please: no HTML markup or control characters" in problems(page)


# -- search --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "zh", "en"), [
    ("subject=数字", "学科：词表中没有“数字”；您要找的是不是：数学", "Subject: “数字” is not in the vocabulary; did you mean 数学"),
    ("q=" + "勾" * 300, "搜索词：最多 200 个字符，现在有 300 个", "Search words: at most 200 characters; this has 300"),
    ("page=abc", "页码必须是整数", "the page must be a whole number"),
    ("page=600", "页码：只能翻看前 10000 个结果，请加上关键词或筛选条件缩小范围",
     "Page: only the first 10000 results can be paged through; add words or filters to narrow the search"),
    ("format=幻灯", "格式：没有“幻灯”这种格式，可选：文档、演示文稿", "Format: there is no format “幻灯”; choose from Document, Presentation"),
])
def test_the_search_page_says_what_is_wrong_with_the_search(client, query, zh, en) -> None:
    answer = client.get(f"/search?{query}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    (shown,) = problems(page)
    assert shown.startswith(zh), shown
    if query.startswith("q="):
        assert f'value="{"勾" * 300}"' in page          # the words stay in the box
    in_english(client)
    (shown,) = problems(client.get(f"/search?{query}").get_data(as_text=True))
    assert shown.startswith(en), shown


# -- media job actions and the error page -------------------------------------------------------------------
def _error_page(answer) -> str:
    return html.unescape(re.search(r"</h1>\s*<p>(.*?)</p>", answer.get_data(as_text=True), re.S).group(1))


def test_media_job_actions_and_refused_pages_speak_the_visitors_language(client, services, world,
                                                                           resource) -> None:
    login(client, world, "school_editor")
    token = {"csrf_token": csrf_token(client, f"/r/{resource}")}
    assert client.post(f"/r/{resource}/media/cancel", data=token).status_code == 303    # was queued
    ended = client.post(f"/r/{resource}/media/cancel", data=token)
    assert ended.status_code == 422 and _error_page(ended) == "任务已经结束，无法取消"
    assert "内容有误" in ended.get_data(as_text=True)
    unknown = client.post(f"/r/{resource}/media/restart", data=token)
    assert unknown.status_code == 422 and _error_page(unknown) == "未知的操作"
    missing = client.get("/r/0123456789abcdef0123456789abcdef/edit")
    assert missing.status_code == 404 and _error_page(missing) == "没有这个资源，或者您无权查看"
    in_english(client)
    again = client.post(f"/r/{resource}/media/cancel", data=token)
    assert again.status_code == 422 and _error_page(again) == "the job has already ended and cannot be cancelled"
    login(client, world, "teacher")
    refused = client.get("/upload")
    assert refused.status_code == 403
    assert _error_page(refused) == "only editors and administrators can upload resources"


# -- the JSON API and the upload page's script -----------------------------------------------------------------
def _tus_create(client, token: str, length: int, **meta: str):
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    return client.post("/api/v1/uploads/", headers={
        "Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}", "Upload-Length": str(length),
        "Upload-Metadata": encoded})


def _as_the_script_says_it(words: dict, error: dict) -> str:
    """What static/upload.js does with an API error and the page's #error-texts."""
    def shown(name, value):   # (these errors carry no byte counts, which the script writes as sizes)
        if isinstance(value, list):
            return words["separator"].join(shown(name, v) for v in value)
        return words["labels"].get(name, {}).get(value, value) if isinstance(value, str) else str(value)
    values = {k: shown(k, v) for k, v in error.items() if v is not None}
    said = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), ""), words["texts"][error["reason"]]) \
        if error.get("reason") in words["texts"] else error["message"]
    return words["line"].replace("{label}", values["field"]).replace("{text}", said) if error.get("field") else said


def test_api_errors_keep_their_english_and_carry_the_reason_the_upload_page_explains(app, client, world) -> None:
    answer = _tus_create(client, world.tokens["school_editor"], 10, filename="课件.pdf", subject="数字",
                         date="昨天", visibility="公众", colour="红")
    body = answer.get_json()
    assert answer.status_code == 422 and body["error"] == "invalid" and body["reason"] == "fields"
    assert body["message"].startswith("4 fields are invalid")
    errors = {e["field"]: e for e in body["errors"]}
    assert errors["visibility"]["reason"] == "choice"
    assert errors["visibility"]["choices"] == ["public", "organisation", "private"]
    assert errors["subject"]["reason"] == "unknown_term_close" and "数学" in errors["subject"]["suggestions"]
    assert errors["subject"]["message"].startswith("unknown 学科 '数字'")     # English, as before
    assert errors["colour"]["reason"] == "unknown_field"
    empty = _tus_create(client, world.tokens["school_editor"], 0, filename="空.pdf").get_json()
    assert (empty["error"], empty["reason"], empty["filename"]) == ("empty_file", "empty_file", "空.pdf")

    login(client, world, "school_editor")
    for language, expected in (("zh_CN", {"visibility": "可见范围：“公众”不是可选的值，请选择公开、本单位、私有",
                                          "colour": "colour：没有这个字段"}),
                               ("en", {"visibility": "Visibility: “公众” is not one of the choices; choose "
                                                     "Public, Organisation, Private",
                                       "colour": "colour: no such field"})):
        client.get(f"/lang/{language}")
        page = client.get("/upload").get_data(as_text=True)
        words = json.loads(re.search(r'id="error-texts">(.*?)</script>', page, re.S).group(1))
        with app.test_request_context(headers={"Cookie": f"lang={language}"}):
            for error in body["errors"]:
                said = _as_the_script_says_it(words, error)
                server = error_text(error)
                assert said.endswith(server) and said != error["message"], (said, server)
                if error["field"] in expected:
                    assert said == expected[error["field"]]


# -- every reason has its words -------------------------------------------------------------------------
def _reasons(node: ast.expr) -> set[str]:
    """The reasons an expression can give: a literal, or a choice or sum of literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _reasons(node.body) | _reasons(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return {a + b for a in _reasons(node.left) for b in _reasons(node.right)}
    raise AssertionError(f"line {node.lineno}: a reason must be a literal (or a choice of literals), "
                         "so that this test can check its text")


def reasons_in_the_source() -> dict[str, str]:
    """reason → where: every `reason=` given to an error class, and every {"reason": …} body."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            values = []
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name[:1].isupper():
                    values = [k.value for k in node.keywords if k.arg == "reason"]
            elif isinstance(node, ast.Dict):   # an error's body written out ({"error": …, "reason": …})
                keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant)}
                body = {"error", "reason"} <= set(keys) and isinstance(keys["error"], ast.Constant)
                values = [keys["reason"]] if body else []
            for value in values:
                for reason in _reasons(value):
                    found.setdefault(reason, f"{path.relative_to(ROOT.parent)}:{value.lineno}")
    return found


def test_every_reason_raised_has_a_text_and_every_text_a_reason() -> None:
    found = reasons_in_the_source()
    assert len(found) > 80
    missing = {reason: where for reason, where in found.items() if reason not in TEXTS}
    assert not missing, f"reasons without a text in repo_server/web/error_texts.py TEXTS: {missing}"
    assert not set(TEXTS) - set(found), f"texts for reasons nothing raises: {set(TEXTS) - set(found)}"
