"""The administration pages: every action through the forms, every refusal shown on the form
with nothing lost, CSRF on every form, escaping, and who reaches which page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from repo_server.catalog.models import Organisation, User, VocabTerm
from repo_server.services import accounts
from tests.web.test_ui_auth import csrf_token, login

SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def org_id(services, name: str) -> int:
    with services.catalog.read() as session:
        return session.scalars(select(Organisation.id).where(Organisation.name == name)).one()


def term_id(services, scheme: str, name: str) -> int:
    with services.catalog.read() as session:
        return session.scalars(select(VocabTerm.id).where(VocabTerm.scheme == scheme,
                                                          VocabTerm.name == name)).one()


def post(client, path: str, data: dict, *, token_page: str = "/admin/users"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_page)})


def user(services, username: str) -> User | None:
    with services.catalog.read() as session:
        return session.scalars(select(User).where(User.username == username)).first()


# -- users ------------------------------------------------------------------------------------------
def test_admin_creates_a_user_and_manages_it(client, world, services) -> None:
    login(client, world, "admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "一小" in page and 'value="editor"' in page
    response = post(client, "/admin/users/new", {
        "username": "liu", "display_name": "刘老师", "role": "teacher",
        "org": org_id(services, "二小"), "password": "long enough"})
    assert response.status_code == 303
    created = user(services, "liu")
    assert response.headers["Location"] == f"/admin/users/{created.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已创建账号 liu" in page and "二小" in page

    assert post(client, f"/admin/users/{created.id}", {"role": "editor", "org": org_id(services, "一小"),
                                                        "display_name": "刘 老师"}).status_code == 303
    assert (user(services, "liu").role, user(services, "liu").org_id) == ("editor", org_id(services, "一小"))
    assert post(client, f"/admin/users/{created.id}/password", {"password": "another one!"}).status_code == 303
    assert accounts.authenticate(services, "liu", "another one!") is not None
    assert post(client, f"/admin/users/{created.id}/active", {"active": "0"}).status_code == 303
    assert not user(services, "liu").active
    assert "已停用" in client.get("/admin/users?q=liu").get_data(as_text=True)
    assert post(client, f"/admin/users/{created.id}/active", {"active": "1"}).status_code == 303
    assert user(services, "liu").active


def test_refusals_show_on_the_form_with_the_typed_values(client, world, services) -> None:
    login(client, world, "admin")
    response = post(client, "/admin/users/new", {
        "username": "teacher", "display_name": "王 & \"李\" <3", "role": "editor",
        "org": org_id(services, "二小"), "password": "long enough"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "用户名“teacher”已被使用" in page
    assert 'value="teacher"' in page and 'value="王 &amp; &#34;李&#34; &lt;3"' in page
    assert re.search(r'<option value="editor"\s+selected', page)
    assert re.search(rf'<option value="{org_id(services, "二小")}" selected', page)
    short = post(client, "/admin/users/new", {"username": "new1", "role": "teacher", "password": "x"})
    assert short.status_code == 422 and "密码至少需要 8 个字符" in short.get_data(as_text=True)
    own = post(client, f"/admin/users/{world.admin.user_id}", {"role": "teacher", "org": ""})
    assert own.status_code == 403 and "不能修改自己的角色" in own.get_data(as_text=True)


def test_editor_sees_their_subtree_and_manages_teachers_only(client, world, services) -> None:
    login(client, world, "school_editor")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "teacher" in page and "other_teacher" not in page and "county_teacher" not in page
    assert f"/admin/users/{world.teacher.user_id}" in page
    assert f'/admin/users/{world.school_editor.user_id}"' not in page     # editors: no link
    new = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="editor"' not in new and "二小" not in new and "一小" in new
    refused = post(client, "/admin/users/new", {"username": "zhou", "role": "editor",
                                                "org": org_id(services, "一小"), "password": "long enough"})
    assert refused.status_code == 403 and "编辑只能创建和管理教师账号" in refused.get_data(as_text=True)
    assert user(services, "zhou") is None
    assert client.get(f"/admin/users/{world.other_teacher.user_id}").status_code == 404
    assert client.get(f"/admin/users/{world.admin.user_id}").status_code == 404
    ok = post(client, "/admin/users/new", {"username": "zhou", "role": "teacher",
                                           "org": org_id(services, "一小"), "password": "long enough"})
    assert ok.status_code == 303 and user(services, "zhou").role == "teacher"


def test_password_reset_logs_the_user_out(app, client, world) -> None:
    other = app.test_client()
    login(other, world, "teacher")
    assert "teacher" in other.get("/").get_data(as_text=True)
    login(client, world, "school_editor")
    post(client, f"/admin/users/{world.teacher.user_id}/password", {"password": "brand new pw"})
    assert "登录" in other.get("/").get_data(as_text=True)
    assert client.get("/admin/users").status_code == 200   # the editor's own session stays


def test_teachers_and_visitors_are_kept_out(client, world) -> None:
    for path in ("/admin/users", "/admin/users/new", "/admin/orgs", "/admin/vocab"):
        assert client.get(path).status_code == 302
    login(client, world, "teacher")
    for path in ("/admin/users", "/admin/users/new", "/admin/orgs", "/admin/vocab",
                 f"/admin/users/{world.teacher.user_id}"):
        assert client.get(path).status_code == 403, path
    assert post(client, "/admin/orgs", {"name": "x", "kind": "school"}, token_page="/").status_code == 403
    assert "/admin/users" not in client.get("/").get_data(as_text=True)


def test_every_form_needs_the_csrf_token(client, world, services) -> None:
    login(client, world, "admin")
    maths = term_id(services, "subject", "数学")
    school = org_id(services, "一小")
    for path, data in [
        ("/admin/users/new", {"username": "csrf1", "role": "teacher", "password": "long enough"}),
        (f"/admin/users/{world.teacher.user_id}", {"role": "editor"}),
        (f"/admin/users/{world.teacher.user_id}/password", {"password": "long enough"}),
        (f"/admin/users/{world.teacher.user_id}/active", {"active": "0"}),
        ("/admin/orgs", {"name": "三小", "kind": "school"}),
        (f"/admin/orgs/{school}/rename", {"name": "x"}),
        (f"/admin/orgs/{school}/move", {"parent": ""}),
        ("/admin/vocab", {"scheme": "subject", "name": "书法"}),
        (f"/admin/vocab/{maths}/aliases", {"alias": "算学"}),
        (f"/admin/vocab/{maths}/aliases/1/delete", {}),
        (f"/admin/vocab/{maths}/rename", {"name": "算术"}),
    ]:
        assert client.post(path, data=data).status_code == 400, path
    assert user(services, "csrf1") is None and user(services, "teacher").role == "teacher"
    for page in ("/admin/users", "/admin/users/new", f"/admin/users/{world.teacher.user_id}",
                 "/admin/orgs", f"/admin/orgs/{school}", "/admin/vocab", f"/admin/vocab/{maths}"):
        html = client.get(page).get_data(as_text=True)
        assert html.count('<form method="post"') == html.count('name="csrf_token"'), page


# -- organisations -------------------------------------------------------------------------------------
def test_org_tree_add_rename_move(client, world, services) -> None:
    login(client, world, "admin")
    page = client.get("/admin/orgs").get_data(as_text=True)
    assert page.index("示例市") < page.index("示例县") < page.index("一小")
    added = post(client, "/admin/orgs", {"name": "<三小>", "kind": "school",
                                         "parent": org_id(services, "示例县")}, token_page="/admin/orgs")
    assert added.status_code == 303
    page = client.get("/admin/orgs").get_data(as_text=True)
    assert "&lt;三小&gt;" in page and "<三小>" not in page
    new = org_id(services, "<三小>")
    assert post(client, f"/admin/orgs/{new}/rename", {"name": "三小"}).status_code == 303
    city = post(client, "/admin/orgs", {"name": "另一县", "kind": "county",
                                        "parent": org_id(services, "示例市")})
    assert city.status_code == 303
    moved = post(client, f"/admin/orgs/{new}/move", {"parent": org_id(services, "另一县")})
    assert moved.status_code == 303
    assert "已移动" in client.get(moved.headers["Location"]).get_data(as_text=True)
    assert ("示例市/另一县/三小", 2) in [(o["path"], o["depth"]) for o in accounts.list_orgs(services)]


def test_org_refusals_keep_the_form(client, world, services) -> None:
    login(client, world, "admin")
    county, school = org_id(services, "示例县"), org_id(services, "一小")
    cycle = post(client, f"/admin/orgs/{county}/move", {"parent": school})
    assert cycle.status_code == 422 and "不能把单位移到它自己或它的下属单位之下" in cycle.get_data(as_text=True)
    level = post(client, "/admin/orgs", {"name": "新学校", "kind": "school", "parent": school})
    page = level.get_data(as_text=True)
    assert level.status_code == 422 and "学校不能位于学校之下" in page and 'value="新学校"' in page
    dup = post(client, f"/admin/orgs/{school}/rename", {"name": "二小"})
    assert dup.status_code == 422 and "同一上级单位下已有“二小”" in dup.get_data(as_text=True)
    assert 'value="二小"' in dup.get_data(as_text=True)


def test_editors_see_the_tree_read_only(client, world, services) -> None:
    login(client, world, "county_editor")
    page = client.get("/admin/orgs").get_data(as_text=True)
    assert "一小" in page and "示例市" not in page and 'action="/admin/orgs"' not in page
    assert client.get(f"/admin/orgs/{org_id(services, '一小')}").status_code == 403
    assert post(client, "/admin/orgs", {"name": "三小", "kind": "school",
                                        "parent": org_id(services, "示例县")}).status_code == 403


# -- vocabularies ---------------------------------------------------------------------------------------
def test_vocabulary_pages(client, world, services) -> None:
    login(client, world, "admin")
    page = client.get("/admin/vocab?scheme=subject").get_data(as_text=True)
    assert "数学" in page and "生物学" in page and "生物" in page
    maths = term_id(services, "subject", "数学")
    added = post(client, f"/admin/vocab/{maths}/aliases", {"alias": "算学"})
    assert added.status_code == 303 and added.headers["Location"].endswith(f"#term-{maths}")
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "算学" in page and "1 个资源" not in page
    with services.catalog.read() as session:
        alias = next(a for a in session.get(VocabTerm, maths).aliases if a.alias == "算学")
    assert post(client, f"/admin/vocab/{maths}/aliases/{alias.id}/delete", {}).status_code == 303
    assert "算学" not in client.get("/admin/vocab?scheme=subject").get_data(as_text=True)
    new = post(client, "/admin/vocab", {"scheme": "subject", "name": "围棋", "aliases": "手谈，弈"})
    assert new.status_code == 303 and new.headers["Location"].endswith("scheme=subject")
    page = client.get("/admin/vocab?scheme=subject").get_data(as_text=True)
    assert "围棋" in page and "手谈" in page
    renamed = post(client, f"/admin/vocab/{maths}/rename", {"name": "数学学科", "keep_old": "1"})
    assert renamed.status_code == 303
    assert "数学学科" in client.get(f"/admin/vocab/{maths}").get_data(as_text=True)


def test_vocabulary_refusals_keep_the_form(client, world, services) -> None:
    login(client, world, "admin")
    maths = term_id(services, "subject", "数学")
    taken = post(client, f"/admin/vocab/{maths}/aliases", {"alias": "生物"})
    page = taken.get_data(as_text=True)
    assert taken.status_code == 422 and "“生物”已是“生物学”的名称或别名" in page
    assert 'value="生物" aria-invalid="true"' in page
    dup = post(client, "/admin/vocab", {"scheme": "subject", "name": "<b>语文</b>"})
    assert dup.status_code == 422 and "&lt;b&gt;语文&lt;/b&gt;" in dup.get_data(as_text=True)
    assert "不能包含 HTML 标记" in dup.get_data(as_text=True)
    same = post(client, "/admin/vocab", {"scheme": "subject", "name": "语文"})
    assert same.status_code == 422 and "“语文”已是本词表中的词条或别名" in same.get_data(as_text=True)
    rename = post(client, f"/admin/vocab/{maths}/rename", {"name": "语文"})
    assert rename.status_code == 422 and 'value="语文"' in rename.get_data(as_text=True)


def test_editors_add_aliases_but_do_not_rename(client, world, services) -> None:
    login(client, world, "school_editor")
    maths = term_id(services, "subject", "数学")
    page = client.get("/admin/vocab").get_data(as_text=True)
    assert '/aliases"' in page and "/delete" not in page and f"/admin/vocab/{maths}\"" not in page
    assert post(client, f"/admin/vocab/{maths}/aliases", {"alias": "算学"}).status_code == 303
    assert post(client, f"/admin/vocab/{maths}/rename", {"name": "算术"}).status_code == 403
    assert client.get(f"/admin/vocab/{maths}").status_code == 403


@SQLITE_ONLY
def test_pages_in_english(client, world) -> None:
    login(client, world, "admin")
    client.get("/lang/en")
    for path, words in [("/admin/users", "Users"), ("/admin/orgs", "Organisation"),
                        ("/admin/vocab", "Vocabularies"), ("/admin/stats", "Statistics")]:
        page = client.get(path).get_data(as_text=True)
        assert words in page, path
    refused = post(client, "/admin/users/new", {"username": "admin", "role": "teacher",
                                                "password": "long enough"})
    assert "already" in refused.get_data(as_text=True)
