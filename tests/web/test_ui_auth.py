"""The HTML side: login with session rotation, CSRF on every form, escaping, upload form."""

from __future__ import annotations

import re

import pytest

from tests.support import upload_form


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, world, username: str) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": world.passwords[username],
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_login_rotates_the_session_and_logout_needs_csrf(client, world) -> None:
    client.get("/login")
    before = session_cookie(client)
    login(client, world, "teacher")
    after = session_cookie(client)
    assert after and after != before
    assert "teacher" in client.get("/").get_data(as_text=True)
    assert client.post("/logout").status_code == 400           # no CSRF token
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert "登录" in client.get("/").get_data(as_text=True)


def test_wrong_password_and_missing_csrf(client, world) -> None:
    token = csrf_token(client)
    wrong = client.post("/login", data={"username": "teacher", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    no_token = client.post("/login", data={"username": "teacher", "password": world.passwords["teacher"]})
    assert no_token.status_code == 400


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/upload", "/upload"), ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("upload", "/")])
def test_login_redirects_only_within_the_site(client, world, next_url, expected) -> None:
    token = csrf_token(client)
    response = client.post(f"/login?next={next_url}", data={
        "username": "school_editor", "password": world.passwords["school_editor"], "csrf_token": token})
    assert response.headers["Location"] == expected


def test_session_api_writes_need_the_csrf_header(client, world, api) -> None:
    created = api("school_editor").post("/api/v1/resources", data=upload_form(b"%PDF-1.4 c", "c.pdf"),
                                        content_type="multipart/form-data").get_json()
    login(client, world, "school_editor")
    assert client.patch(created["url"], json={"title": "x"}).status_code == 400
    token = csrf_token(client, "/upload")
    ok = client.patch(created["url"], json={"title": "新"}, headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json()["title"] == "新"


def test_upload_form_flow(client, world, corpus) -> None:
    assert client.get("/upload").status_code == 302            # login first
    login(client, world, "school_editor")
    form = upload_form(corpus("hopper.png"), "示意图.png", title="<<静夜思>> 插图", subject="语文",
                       tags="古诗，插图", csrf_token=csrf_token(client, "/upload"))
    response = client.post("/upload", data=form, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "&lt;&lt;静夜思&gt;&gt; 插图" in page and "<<静夜思>>" not in page
    assert "古诗" in page and "插图" in page and "<img src=" in page


def test_upload_form_shows_every_problem(client, world) -> None:
    login(client, world, "school_editor")
    form = upload_form(b"%PDF-1.4 x", "x.pdf", subject="数字", date="yesterday",
                       csrf_token=csrf_token(client, "/upload"))
    response = client.post("/upload", data=form, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "您要找的是不是：数学" in page and "2024-09-01" in page and 'value="数字"' in page  # suggestion, rule, kept input
    assert client.post("/upload", data=upload_form(b"%PDF-1.4 x", "x.pdf"),
                       content_type="multipart/form-data").status_code == 400   # no CSRF


def test_teacher_does_not_see_upload_and_other_school_private_is_404(client, world, api) -> None:
    created = api("school_editor").post(
        "/api/v1/resources", data=upload_form(b"%PDF-1.4 p", "p.pdf", title="一小内部资料",
                                              visibility="private"),
        content_type="multipart/form-data").get_json()
    login(client, world, "other_teacher")
    home = client.get("/").get_data(as_text=True)
    assert "上传资源" not in home and "一小内部资料" not in home
    assert client.get(f"/r/{created['id']}").status_code == 404
    assert client.get("/upload").status_code == 403


def test_error_pages_leak_nothing(client, world) -> None:
    page = client.get("/r/does-not-exist").get_data(as_text=True)
    assert "找不到" in page and "Traceback" not in page
