"""Managing accounts, organisations and vocabularies: each action, each refusal, and the
changes that must reach the search index through the change log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from repo_server.catalog.changes import last_seq
from repo_server.catalog.models import Change, Organisation, User
from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound, PermissionDenied
from repo_server.services import ANONYMOUS, accounts, api_tokens, organisations, user_admin, vocabularies
from repo_server.services.indexing import catch_up
from repo_server.services.resources import ingest
from repo_server.services.search_tools import search_index
from repo_server.services.searching import SearchParams, search


def org_id(services, path: str) -> int:
    with services.catalog.read() as session:
        return accounts.find_org(session, path).id


def user_id(services, username: str) -> int:
    with services.catalog.read() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def reason(caught) -> str:
    return caught.value.details.get("reason")


# -- who may manage whom --------------------------------------------------------------------------
def test_admin_creates_any_account_and_changes_it(services, world) -> None:
    school = org_id(services, "二小")
    made = user_admin.create_user(services, world.admin, username="li", role="editor",
                                  org_id=school, password="long enough", display_name="李老师")
    assert made["role"] == "editor" and made["organisation"] == "二小" and made["manageable"]
    changed = user_admin.change_user(services, world.admin, made["id"], role="teacher",
                                     org_id=org_id(services, "一小"), display_name="李 老师")
    assert (changed["role"], changed["organisation"], changed["display_name"]) == ("teacher", "一小", "李 老师")
    assert accounts.authenticate(services, "li", "long enough") is not None


def test_editor_manages_teachers_of_their_subtree_only(services, world) -> None:
    county = world.county_editor
    made = user_admin.create_user(services, county, username="wang", role="teacher",
                                  org_id=org_id(services, "二小"), password="long enough")
    assert made["manageable"]
    moved = user_admin.change_user(services, county, made["id"], role="teacher",
                                   org_id=org_id(services, "一小"))
    assert moved["organisation"] == "一小"
    listed = {u["username"]: u["manageable"] for u in
              user_admin.search_users(services, county)["users"]}
    # the county's own people and its schools'; not the admin (no organisation)
    assert listed == {"county_editor": False, "county_teacher": True, "school_editor": False,
                      "teacher": True, "other_teacher": True, "wang": True}
    school = {u["username"] for u in user_admin.search_users(services, world.school_editor)["users"]}
    assert school == {"school_editor", "teacher", "wang"}


@pytest.mark.parametrize(("who", "role", "org", "why"), [
    ("school_editor", "editor", "一小", "assign_role"),      # editors never make editors
    ("school_editor", "admin", "一小", "assign_role"),
    ("school_editor", "teacher", "二小", "assign_org"),      # outside their school
    ("school_editor", "teacher", "示例县", "assign_org"),    # above their school
    ("school_editor", "teacher", None, "assign_org"),
])
def test_editor_refusals_when_creating(services, world, who, role, org, why) -> None:
    with pytest.raises(PermissionDenied) as caught:
        user_admin.create_user(services, getattr(world, who), username="zhao", role=role,
                               org_id=org_id(services, org) if org else None, password="long enough")
    assert reason(caught) == why
    assert not any(u["username"] == "zhao" for u in accounts.list_users(services))


def test_editor_cannot_touch_editors_admins_or_other_schools(services, world) -> None:
    editor = world.school_editor
    with pytest.raises(NotFound):               # another school's teacher: not even found
        user_admin.reset_password(services, editor, world.other_teacher.user_id, "long enough")
    with pytest.raises(NotFound):
        user_admin.set_active(services, editor, world.admin.user_id, False)
    with pytest.raises(PermissionDenied) as caught:  # an editor of their own subtree: seen, not managed
        user_admin.set_active(services, world.county_editor, world.school_editor.user_id, False)
    assert reason(caught) == "not_manageable"
    with pytest.raises(PermissionDenied) as caught:   # promoting their teacher
        user_admin.change_user(services, editor, world.teacher.user_id, role="editor",
                               org_id=world.teacher.org_id)
    assert reason(caught) == "assign_role"
    with pytest.raises(PermissionDenied) as caught:   # moving their teacher out of reach
        user_admin.change_user(services, editor, world.teacher.user_id, role="teacher",
                               org_id=world.other_teacher.org_id)
    assert reason(caught) == "assign_org"


def test_teachers_and_visitors_manage_nobody(services, world) -> None:
    with pytest.raises(PermissionDenied):
        user_admin.search_users(services, world.teacher)
    with pytest.raises(AuthenticationRequired):
        user_admin.search_users(services, ANONYMOUS)
    with pytest.raises(PermissionDenied):
        organisations.org_tree(services, world.teacher)


def test_admins_cannot_lock_themselves_out(services, world) -> None:
    with pytest.raises(PermissionDenied) as caught:
        user_admin.change_user(services, world.admin, world.admin.user_id, role="teacher", org_id=None)
    assert reason(caught) == "own_role"
    with pytest.raises(PermissionDenied) as caught:
        user_admin.set_active(services, world.admin, world.admin.user_id, False)
    assert reason(caught) == "own_account"


def test_bad_input_when_creating(services, world) -> None:
    with pytest.raises(InvalidInput) as caught:
        user_admin.create_user(services, world.admin, username="teacher", role="teacher",
                               org_id=None, password="long enough")
    assert reason(caught) == "username_taken"
    with pytest.raises(InvalidInput) as caught:
        user_admin.create_user(services, world.admin, username="new", role="teacher",
                               org_id=None, password="short")
    assert reason(caught) == "password_short"
    with pytest.raises(InvalidInput) as caught:
        user_admin.create_user(services, world.admin, username="new", role="boss",
                               org_id=None, password="long enough")
    assert reason(caught) == "role"
    with pytest.raises(InvalidInput) as caught:
        user_admin.create_user(services, world.admin, username="new", role="teacher",
                               org_id=99999, password="long enough")
    assert reason(caught) == "org_missing"


def test_search_by_name_and_role(services, world) -> None:
    user_admin.create_user(services, world.admin, username="zhang_san", role="teacher",
                           org_id=None, password="long enough", display_name="张三")
    assert [u["username"] for u in user_admin.search_users(services, world.admin, q="张")["users"]] == ["zhang_san"]
    assert [u["username"] for u in user_admin.search_users(services, world.admin, q="_s")["users"]] == ["zhang_san"]
    assert user_admin.search_users(services, world.admin, q="%")["total"] == 0
    editors = user_admin.search_users(services, world.admin, role="editor")
    assert {u["username"] for u in editors["users"]} == {"county_editor", "school_editor"}


# -- sessions -----------------------------------------------------------------------------------
def test_password_reset_and_disabling_end_sessions_for_good(services, world) -> None:
    actor, version = accounts.authenticate(services, "teacher", world.passwords["teacher"])
    user_admin.reset_password(services, world.school_editor, actor.user_id, "a new password 1")
    assert accounts.actor_for_session(services, actor.user_id, version) is None
    assert accounts.authenticate(services, "teacher", world.passwords["teacher"]) is None
    actor, version = accounts.authenticate(services, "teacher", "a new password 1")
    user_admin.set_active(services, world.school_editor, actor.user_id, False)
    assert accounts.authenticate(services, "teacher", "a new password 1") is None
    assert api_tokens.actor_for_token(services, world.tokens["teacher"]) is None
    user_admin.set_active(services, world.school_editor, actor.user_id, True)
    assert accounts.actor_for_session(services, actor.user_id, version) is None   # not revived
    assert accounts.authenticate(services, "teacher", "a new password 1") is not None
    assert api_tokens.actor_for_token(services, world.tokens["teacher"]) is not None
    with pytest.raises(InvalidInput):
        user_admin.reset_password(services, world.admin, actor.user_id, "short")


# -- organisations --------------------------------------------------------------------------------
def test_org_levels_are_enforced(services, world) -> None:
    city = org_id(services, "示例市")
    for kind, parent, ok in [("county", "示例市", True), ("school", "示例市", True),
                             ("other", "示例县", True), ("county", "示例县", False),
                             ("city", "示例市", False), ("school", None, False),
                             ("school", "一小", False), ("other", "一小", False)]:
        parent_id = org_id(services, parent) if parent else None
        if ok:
            organisations.create_org(services, world.admin, f"新{kind}{parent}", kind, parent_id)
        else:
            with pytest.raises(InvalidInput) as caught:
                organisations.create_org(services, world.admin, f"新{kind}", kind, parent_id)
            assert reason(caught) == "org_level", (kind, parent)
    with pytest.raises(InvalidInput) as caught:
        organisations.create_org(services, world.admin, "示例县", "county", city)
    assert reason(caught) == "org_exists"
    with pytest.raises(PermissionDenied):
        organisations.create_org(services, world.county_editor, "三小", "school",
                                 org_id(services, "示例县"))


def test_rename_org(services, world) -> None:
    school = org_id(services, "一小")
    organisations.rename_org(services, world.admin, school, "第一小学")
    with services.catalog.read() as session:
        assert session.get(Organisation, school).name == "第一小学"
    with pytest.raises(InvalidInput) as caught:
        organisations.rename_org(services, world.admin, school, "二小")
    assert reason(caught) == "org_exists"
    with pytest.raises(InvalidInput):
        organisations.rename_org(services, world.admin, school, "a/b")
    with pytest.raises(PermissionDenied):
        organisations.rename_org(services, world.school_editor, school, "x")


def test_move_org_refusals(services, world) -> None:
    county, school = org_id(services, "示例县"), org_id(services, "一小")
    with pytest.raises(InvalidInput) as caught:
        organisations.move_org(services, world.admin, county, school)      # under its own child
    assert reason(caught) == "org_cycle"
    with pytest.raises(InvalidInput) as caught:
        organisations.move_org(services, world.admin, county, county)
    assert reason(caught) == "org_cycle"
    with pytest.raises(InvalidInput) as caught:
        organisations.move_org(services, world.admin, school, org_id(services, "二小"))
    assert reason(caught) == "org_level"
    with pytest.raises(PermissionDenied):
        organisations.move_org(services, world.county_editor, school, county)


def reindex(services) -> int:
    """Apply the change log to the index, as the background indexer does."""
    writer = search_index(services).try_writer()
    try:
        return catch_up(services, writer)
    finally:
        writer.close()


def test_moving_a_school_moves_its_subtree_and_its_permissions_in_search(services, world, stage) -> None:
    city, school = org_id(services, "示例市"), org_id(services, "一小")
    other_county = organisations.create_org(services, world.admin, "另一县", "county", city)["id"]
    editor = user_admin.create_user(services, world.admin, username="other_editor", role="editor",
                                    org_id=other_county, password="long enough")
    rid = ingest(services, world.school_editor, stage(b"%PDF-1.4 m"), "校本作业.pdf",
                 {"visibility": "private"})["id"]
    reindex(services)
    other = accounts.actor_for_session(services, editor["id"], 1)
    assert search(services, other, SearchParams(q="校本作业"))["total"] == 0
    before = _seq(services)
    moved = organisations.move_org(services, world.admin, school, other_county)
    assert moved["reindexed"] == 1
    with services.catalog.read() as session:
        rows = session.scalars(select(Change).where(Change.seq > before)).all()
        assert [(c.resource_id, c.op) for c in rows] == [(rid, "update")]
        assert session.get(Organisation, school).path == f"/{city}/{other_county}/{school}/"
    assert accounts.list_orgs(services)[-1]["path"] in {"示例市/另一县/一小", "示例市/示例县/二小"}
    reindex(services)
    assert search(services, other, SearchParams(q="校本作业"))["total"] == 1
    assert search(services, world.county_editor, SearchParams(q="校本作业"))["total"] == 0
    # the school's people follow: their editor and teachers now answer to the other county
    assert {u["username"] for u in user_admin.search_users(services, other)["users"]} == \
        {"other_editor", "school_editor", "teacher"}
    assert organisations.move_org(services, world.admin, school, other_county)["reindexed"] == 0


def _seq(services) -> int:
    with services.catalog.read() as session:
        return last_seq(session)


# -- vocabularies ---------------------------------------------------------------------------------
def _term(services, scheme: str, name: str) -> dict:
    return next(t for t in vocabularies.scheme_terms(services, _admin(services), scheme) if t["name"] == name)


def _admin(services):
    return accounts.actor_for_session(services, user_id(services, "admin"), 1)


def test_vocabulary_edits_reach_the_index(services, world, stage) -> None:
    rid = ingest(services, world.school_editor, stage(b"%PDF-1.4 v"), "课件.pdf",
                 {"subject": "数学", "title": "分数的意义"})["id"]
    ingest(services, world.school_editor, stage(b"%PDF-1.4 w"), "别的.pdf", {"subject": "语文"})
    reindex(services)
    maths = _term(services, "subject", "数学")
    assert maths["resources"] == 1
    before = _seq(services)
    added = vocabularies.add_alias_to(services, world.school_editor, maths["id"], "算学")
    assert added["reindexed"] == 1 and "算学" in [a["alias"] for a in added["aliases"]]
    with services.catalog.read() as session:
        assert session.scalars(select(Change.resource_id).where(Change.seq > before)).all() == [rid]
    reindex(services)
    assert search(services, world.admin, SearchParams(q="算学"))["total"] == 1

    renamed = vocabularies.rename(services, world.admin, maths["id"], "数学（新）")
    assert renamed["reindexed"] == 1 and renamed["code"] == maths["code"]
    assert "数学" in [a["alias"] for a in renamed["aliases"]]     # the old name kept as an alias
    reindex(services)
    assert search(services, world.admin, SearchParams(q="数学（新）"))["total"] == 1

    alias_id = next(a["id"] for a in renamed["aliases"] if a["alias"] == "算学")
    removed = vocabularies.remove_alias_from(services, world.admin, maths["id"], alias_id)
    assert "算学" not in [a["alias"] for a in removed["aliases"]] and removed["reindexed"] == 1
    with services.catalog.read() as session:
        assert session.scalar(select(func.count()).select_from(Change).where(Change.seq > before)) == 3


def test_vocabulary_refusals(services, world) -> None:
    maths, chinese = _term(services, "subject", "数学"), _term(services, "subject", "语文")
    with pytest.raises(InvalidInput) as caught:
        vocabularies.add_alias_to(services, world.admin, chinese["id"], "数学")   # another's name
    assert reason(caught) == "alias_taken"
    biology = _term(services, "subject", "生物学")
    with pytest.raises(InvalidInput) as caught:
        vocabularies.add_alias_to(services, world.admin, maths["id"], "生物")      # another's alias
    assert reason(caught) == "alias_taken" and caught.value.details["term"] == biology["name"]
    with pytest.raises(InvalidInput) as caught:
        vocabularies.rename(services, world.admin, maths["id"], "语文")
    assert reason(caught) == "alias_taken"
    with pytest.raises(InvalidInput) as caught:
        vocabularies.create_term(services, world.admin, "subject", "生物")
    assert reason(caught) == "term_taken"
    with pytest.raises(InvalidInput) as caught:
        vocabularies.add_alias_to(services, world.admin, maths["id"], "  ")
    assert reason(caught) == "alias_empty"
    with pytest.raises(PermissionDenied):
        vocabularies.rename(services, world.school_editor, maths["id"], "算术")
    with pytest.raises(PermissionDenied):
        vocabularies.remove_alias_from(services, world.school_editor, maths["id"], 1)
    with pytest.raises(PermissionDenied):
        vocabularies.scheme_terms(services, world.teacher, "subject")
    with pytest.raises(NotFound):
        vocabularies.remove_alias_from(services, world.admin, maths["id"], 10 ** 9)


def test_rename_can_promote_an_alias_and_drop_the_old_name(services, world) -> None:
    biology = _term(services, "subject", "生物学")
    renamed = vocabularies.rename(services, world.admin, biology["id"], "生物", keep_old_as_alias=False)
    assert renamed["name"] == "生物" and "生物" not in [a["alias"] for a in renamed["aliases"]]
    assert "生物学" not in [a["alias"] for a in renamed["aliases"]]
    created = vocabularies.create_term(services, world.school_editor, "edition", "某省版",
                                       aliases=["省版", "地方版"])
    assert created["aliases"] == ["省版", "地方版"]
