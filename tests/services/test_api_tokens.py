"""API tokens: made by their owner (or an operator), listed without the secret, revoked by
their owner or an administrator, and dead at once when revoked or when the user is disabled."""

from __future__ import annotations

import pytest

from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound
from repo_server.services import ANONYMOUS, api_tokens, user_admin
from repo_server.services.actor import OPERATOR


def test_a_user_makes_lists_and_revokes_their_own_tokens(services, world) -> None:
    token = api_tokens.issue_token(services, world.teacher, "备课电脑")
    assert token.startswith("rs_") and api_tokens.actor_for_token(services, token).username == "teacher"
    mine = api_tokens.list_tokens(services, world.teacher)
    assert [t["name"] for t in mine] == ["备课电脑", "tests"]                  # newest first
    assert all(token not in str(t) for t in mine) and mine[0]["prefix"] == token[:10]
    assert {t["username"] for t in mine} == {"teacher"}
    api_tokens.revoke_token(services, world.teacher, mine[0]["id"])
    api_tokens.revoke_token(services, world.teacher, mine[0]["id"])          # twice is fine
    assert api_tokens.actor_for_token(services, token) is None
    assert api_tokens.list_tokens(services, world.teacher)[0]["revoked_at"] is not None
    assert api_tokens.actor_for_token(services, world.tokens["teacher"]) is not None   # the other lives


def test_only_administrators_see_and_revoke_other_peoples_tokens(services, world) -> None:
    theirs = api_tokens.list_tokens(services, world.school_editor)[0]
    with pytest.raises(NotFound):
        api_tokens.revoke_token(services, world.teacher, theirs["id"])       # not even "forbidden"
    assert {t["username"] for t in api_tokens.list_tokens(services, world.teacher, everyone=True)} == {"teacher"}
    everyone = api_tokens.list_tokens(services, world.admin, everyone=True)
    assert {t["username"] for t in everyone} >= {"teacher", "school_editor", "admin"}
    assert {t["username"] for t in api_tokens.list_tokens(services, OPERATOR, username="teacher")} == {"teacher"}
    api_tokens.revoke_token(services, world.admin, theirs["id"])
    assert api_tokens.actor_for_token(services, world.tokens["school_editor"]) is None
    with pytest.raises(NotFound):
        api_tokens.revoke_token(services, world.admin, 999_999)


def test_anonymous_visitors_have_no_tokens(services, world) -> None:
    for call in (lambda: api_tokens.issue_token(services, ANONYMOUS, "x"),
                 lambda: api_tokens.list_tokens(services, ANONYMOUS),
                 lambda: api_tokens.revoke_token(services, ANONYMOUS, 1)):
        with pytest.raises(AuthenticationRequired):
            call()


@pytest.mark.parametrize("name", ["<script>x</script>", "a\x00b", "长" * 101])
def test_a_bad_name_is_refused_and_nothing_is_made(services, world, name) -> None:
    before = len(api_tokens.list_tokens(services, world.teacher))
    with pytest.raises(InvalidInput) as caught:
        api_tokens.issue_token(services, world.teacher, name)
    assert caught.value.field == "name"
    assert len(api_tokens.list_tokens(services, world.teacher)) == before


def test_live_tokens_per_user_are_bounded(services, world, monkeypatch) -> None:
    monkeypatch.setattr(api_tokens, "MAX_TOKENS_PER_USER", 3)
    made = [api_tokens.issue_token(services, world.teacher, f"t{n}") for n in range(2)]   # + "tests"
    with pytest.raises(InvalidInput) as caught:
        api_tokens.issue_token(services, world.teacher, "one too many")
    assert caught.value.details["reason"] == "token_limit"
    api_tokens.revoke_token(services, world.teacher, api_tokens.list_tokens(services, world.teacher)[0]["id"])
    assert api_tokens.issue_token(services, world.teacher, "after revoking") and made


def test_a_disabled_users_tokens_stop_working(services, world) -> None:
    token = api_tokens.issue_token(services, world.teacher, "x")
    user_admin.set_active(services, world.admin, world.teacher.user_id, False)
    assert api_tokens.actor_for_token(services, token) is None
