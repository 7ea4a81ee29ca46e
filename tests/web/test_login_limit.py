"""Login rate limit: failed logins per real client address (Flask-Limiter).

After REPO_LOGIN_LIMIT failures from one address every login from it answers 429, the right
password included; other addresses are unaffected; behind a trusted proxy the forwarded
address is the key, and without one a forged X-Forwarded-For changes nothing. With Redis
the counters are shared by separate app instances (several workers, several machines).
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from repo_server.app import create_app
from tests.web.test_ui_auth import csrf_token

SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def _attempt(client, password: str, address: str = "203.0.113.7", **headers):
    token = csrf_token(client)
    return client.post("/login", data={"username": "teacher", "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def _app(services, **overrides):
    services.settings = dataclasses.replace(services.settings, **overrides) if overrides else services.settings
    application = create_app(services.settings, services)
    application.config["TESTING"] = True
    return application


@SQLITE_ONLY
def test_failed_logins_are_limited_per_address(services, world) -> None:
    client = _app(services, login_limit="3 per 15 minutes").test_client()
    for _ in range(3):
        assert _attempt(client, "wrong").status_code == 401
    blocked = _attempt(client, world.passwords["teacher"])
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "请求太频繁" in blocked.get_data(as_text=True)
    assert _attempt(client, world.passwords["teacher"], address="198.51.100.9").status_code == 302


@SQLITE_ONLY
def test_successful_logins_do_not_count(services, world) -> None:
    client = _app(services, login_limit="2 per 15 minutes").test_client()
    for _ in range(5):
        assert _attempt(client, world.passwords["teacher"]).status_code == 302


@SQLITE_ONLY
def test_the_key_is_the_forwarded_address_only_behind_a_trusted_proxy(services, world) -> None:
    direct = _app(services, login_limit="2 per 15 minutes").test_client()
    for n in range(2):
        _attempt(direct, "wrong", **{"X-Forwarded-For": f"10.0.0.{n}"})
    assert _attempt(direct, "wrong", **{"X-Forwarded-For": "10.0.0.99"}).status_code == 429   # forged header ignored

    proxied = _app(services, login_limit="2 per 15 minutes", proxy_hops=1).test_client()
    for _ in range(2):
        _attempt(proxied, "wrong", address="127.0.0.1", **{"X-Forwarded-For": "192.0.2.1"})
    assert _attempt(proxied, "wrong", address="127.0.0.1", **{"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    assert _attempt(proxied, world.passwords["teacher"], address="127.0.0.1",
                    **{"X-Forwarded-For": "192.0.2.2"}).status_code == 302


@SQLITE_ONLY
def test_with_redis_the_counters_are_shared_between_app_instances(services, world) -> None:
    url = "redis://127.0.0.1:6379/15"
    services.settings = dataclasses.replace(services.settings, login_limit="2 per 15 minutes", rate_limit_url=url)
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    first, second = (_app(services).test_client() for _ in range(2))
    try:
        assert _attempt(first, "wrong", address=address).status_code == 401
        assert _attempt(second, "wrong", address=address).status_code == 401
        assert _attempt(first, world.passwords["teacher"], address=address).status_code == 429
    finally:
        import redis
        client = redis.Redis.from_url(url)
        for key in client.scan_iter("repo-server*"):
            client.delete(key)
