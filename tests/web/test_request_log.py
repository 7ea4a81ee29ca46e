"""Structured logs (repo_server/logs.py, web/tracking.py): with REPO_LOG_FORMAT=json every line
a real `repo-server serve` writes — gunicorn's own included — is a JSON object, and a
request's line carries the id nginx sent (echoed in the response) and who asked."""

from __future__ import annotations

import json
import time

import pytest
import requests


def lines(log) -> list[dict]:
    text = log.read_text()
    assert text.strip(), "the server wrote nothing"
    parsed = []
    for line in text.splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    return parsed


def wait_for(log, condition, timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        parsed = lines(log)
        if any(condition(line) for line in parsed) or time.monotonic() > deadline:
            return parsed
        time.sleep(0.1)


@pytest.mark.server_env(REPO_LOG_FORMAT="json", REPO_LOG_LEVEL="info", REPO_WORKERS="2")
def test_every_line_is_json_and_requests_carry_their_id(live_server, world) -> None:
    sent = requests.get(live_server.url + "/api/v1/vocabularies", timeout=10,
                        headers={"X-Request-ID": "nginx-4f2a9c", "Authorization": f"Bearer {world.tokens['teacher']}"})
    assert sent.status_code == 200 and sent.headers["X-Request-ID"] == "nginx-4f2a9c"
    fresh = requests.get(live_server.url + "/no-such-page", timeout=10)
    generated = fresh.headers["X-Request-ID"]
    assert fresh.status_code == 404 and len(generated) == 32
    junk = requests.get(live_server.url + "/healthz", headers={"X-Request-ID": "bad id\twith junk"}, timeout=10)
    assert junk.headers["X-Request-ID"] != "bad id\twith junk"      # replaced, not echoed

    parsed = wait_for(live_server.log, lambda line: line.get("request_id") == generated)
    for line in parsed:
        assert {"time", "level", "logger", "message"} <= set(line), line
    mine = [line for line in parsed if line.get("request_id") == "nginx-4f2a9c"]
    assert len(mine) == 1, parsed
    assert mine[0] | {"duration_ms": 0} == {
        "time": mine[0]["time"], "level": "info", "logger": "repo_server.request",
        "message": "GET /api/v1/vocabularies 200", "request_id": "nginx-4f2a9c", "method": "GET",
        "path": "/api/v1/vocabularies", "endpoint": "api.vocabularies", "status": 200,
        "duration_ms": 0, "user_id": world.teacher.user_id, "client": "127.0.0.1"}
    assert mine[0]["duration_ms"] >= 0
    missing = next(line for line in parsed if line.get("request_id") == generated)
    assert missing["endpoint"] is None and missing["status"] == 404 and missing["user_id"] is None
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in parsed)
    assert not any(line["logger"] == "gunicorn.access" for line in parsed)   # the app's line replaces it


@pytest.mark.server_env(REPO_LOG_LEVEL="info")
def test_text_logs_stay_as_they_were_and_still_echo_an_id(live_server) -> None:
    answer = requests.get(live_server.url + "/healthz", headers={"X-Request-ID": "abc-123"}, timeout=10)
    assert answer.headers["X-Request-ID"] == "abc-123"
    deadline = time.monotonic() + 15
    while '"GET /healthz HTTP/1.1" 200' not in live_server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = live_server.log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text      # gunicorn's access log, as before
    assert not text.lstrip().startswith("{")
