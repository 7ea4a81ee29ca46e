"""Organisations, users, passwords, sessions and API tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from repo_server.catalog.models import ApiToken
from repo_server.errors import InvalidInput, NotFound
from repo_server.services import accounts, api_tokens


def test_org_tree_paths_and_lookup(services, world) -> None:
    with services.catalog.read() as session:
        school = accounts.find_org(session, "示例市/示例县/一小")
        assert accounts.find_org(session, "一小").id == school.id
        assert accounts.find_org(session, "示例县/一小").id == school.id
        assert accounts.find_org(session, str(school.id)).id == school.id
        county = accounts.find_org(session, "示例县")
        assert school.path.startswith(county.path) and school.ancestor_ids[-1] == school.id
        with pytest.raises(NotFound):
            accounts.find_org(session, "三小")
    listed = [(o["path"], o["depth"]) for o in accounts.list_orgs(services)]
    assert ("示例市/示例县/二小", 2) in listed and ("示例市", 0) in listed


def test_same_school_name_in_two_counties_needs_a_path(services, world) -> None:
    accounts.add_org(services, "另一县", "county", "示例市")
    accounts.add_org(services, "一小", "school", "另一县")
    with services.catalog.read() as session:
        with pytest.raises(InvalidInput, match="ambiguous"):
            accounts.find_org(session, "一小")
        assert accounts.find_org(session, "另一县/一小").name == "一小"
    with pytest.raises(InvalidInput, match="already exists"):
        accounts.add_org(services, "一小", "school", "另一县")


@pytest.mark.parametrize(("username", "role", "password", "match"), [
    ("a b", "teacher", "long enough", "usernames"),
    ("x", "teacher", "long enough", "usernames"),
    ("zhang", "principal", "long enough", "role"),
    ("zhang", "teacher", "short", "at least"),
])
def test_bad_user_input(services, username, role, password, match) -> None:
    with pytest.raises(InvalidInput, match=match):
        accounts.add_user(services, username, role, password=password)


def test_authenticate(services, world) -> None:
    actor, version = accounts.authenticate(services, "teacher", world.passwords["teacher"])
    assert actor.username == "teacher" and actor.org_path
    assert accounts.authenticate(services, "teacher", "wrong password") is None
    assert accounts.authenticate(services, "nobody", "whatever pw") is None
    assert accounts.actor_for_session(services, actor.user_id, version).username == "teacher"


def test_password_change_ends_sessions(services, world) -> None:
    actor, version = accounts.authenticate(services, "teacher", world.passwords["teacher"])
    accounts.set_password(services, "teacher", "a brand new password")
    assert accounts.actor_for_session(services, actor.user_id, version) is None
    assert accounts.authenticate(services, "teacher", world.passwords["teacher"]) is None
    assert accounts.authenticate(services, "teacher", "a brand new password") is not None


def test_tokens(services, world) -> None:
    token = world.tokens["county_editor"]
    assert token.startswith("rs_") and len(token) > 40
    assert api_tokens.actor_for_token(services, token).username == "county_editor"
    assert api_tokens.actor_for_token(services, token[:-1] + "x") is None
    assert api_tokens.actor_for_token(services, "not-a-token") is None
    with services.catalog.read() as session:
        stored = [row.token_hash for row in session.scalars(select(ApiToken))]
    assert token not in stored  # only the hash is kept
    with services.catalog.write() as session:
        for row in session.scalars(select(ApiToken)):
            row.revoked_at = row.created_at
    assert api_tokens.actor_for_token(services, token) is None
