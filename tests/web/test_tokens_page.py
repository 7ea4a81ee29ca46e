"""/account/tokens: make a token (shown once), use it, revoke it; CSRF; administrators."""

from __future__ import annotations

import re

from tests.web.test_ui_auth import csrf_token, login


def _created(page: str) -> str:
    return re.search(r'<code class="token" id="new-token">(rs_[^<]+)</code>', page).group(1)


def test_a_teacher_makes_uses_and_revokes_a_token(client, world) -> None:
    login(client, world, "teacher")
    token = csrf_token(client, "/account/tokens")
    assert client.post("/account/tokens", data={"name": "镜像"}).status_code == 400     # no CSRF token
    made = client.post("/account/tokens", data={"name": "镜像", "csrf_token": token})
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    secret = _created(made.get_data(as_text=True))
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in listing and secret[:10] in listing and "镜像" in listing      # shown once
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/favourites", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    login(client, world, "teacher")
    token_id = re.search(r'/account/tokens/(\d+)/revoke', client.get("/account/tokens").get_data(as_text=True)).group(1)
    revoked = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/account/tokens")})
    assert revoked.status_code == 303
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/tokens")})
    assert client.get("/favourites", headers={"Authorization": f"Bearer {secret}"}).status_code in (302, 401)


def test_a_bad_name_is_shown_in_chinese_and_kept(client, world) -> None:
    login(client, world, "teacher")
    page = client.post("/account/tokens", data={"name": "<b>x</b>", "csrf_token": csrf_token(client, "/account/tokens")})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and 'role="alert"' in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert 'id="new-token"' not in text


def test_others_tokens_are_invisible_except_to_administrators(client, world) -> None:
    login(client, world, "teacher")
    page = client.get("/account/tokens?all=1").get_data(as_text=True)
    assert world.tokens["school_editor"][:10] not in page and world.tokens["teacher"][:10] in page
    theirs = client.get("/account/tokens")   # the teacher's own page has only their token
    assert theirs.status_code == 200
    login(client, world, "admin")
    everyone = client.get("/account/tokens?all=1").get_data(as_text=True)
    assert world.tokens["school_editor"][:10] in everyone and world.tokens["teacher"][:10] in everyone


def test_the_page_needs_a_login(client) -> None:
    assert client.get("/account/tokens").status_code in (302, 401)


def test_a_revoked_token_on_a_page_is_a_401_page_not_a_crash(client, world) -> None:
    """The error page asks who is there too; a bad token must not fail a second time."""
    page = client.get("/favourites", headers={"Authorization": "Bearer rs_not-a-real-token"})
    assert page.status_code == 401 and "API 令牌无效或已撤销" in page.get_data(as_text=True)
    api = client.get("/api/v1/resources", headers={"Authorization": "Bearer rs_not-a-real-token"})
    assert api.status_code == 401 and api.get_json()["reason"] == "bad_token"
