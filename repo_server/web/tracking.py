"""Every request gets an id, a duration, a place in the metrics and (REPO_LOG_FORMAT=json) a
log line.

The id is nginx's `X-Request-ID` when it sent a sane one (so the proxy's access log and ours
share it), else a new random one; it is echoed in the response's `X-Request-ID`. The JSON
line (logger `repo_server.request`) carries request_id, method, path (without the query
string: searches are teachers' words), endpoint, status, duration_ms, user_id when logged in
and the client address (the real one behind REPO_PROXY_HOPS proxies). In text mode
gunicorn's access log stays the request log, as before.

Timing starts in a WSGI middleware, before any other hook, and ends when the app hands the
response over; "in flight" lasts until the server closes the response, so a long download
counts until its last byte (gunicorn's sendfile path included).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Callable, Iterable

from flask import Flask, Response, g, request
from werkzeug.wsgi import ClosingIterator

from . import metrics

__all__ = ["init_app", "REQUEST_ID_HEADER", "TrackRequests"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,128}$")
_STARTED, _ID = "repo.started", "repo.request_id"

log = logging.getLogger("repo_server.request")


def _request_id(environ: dict) -> str:
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if _SANE_ID.match(given) else uuid.uuid4().hex


class TrackRequests:
    """WSGI middleware: stamps the start time and request id into the environ and keeps the
    in-flight gauge, until the server closes the response."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ[_STARTED] = time.perf_counter()
        environ[_ID] = _request_id(environ)
        metrics.request_started()
        try:
            result = self.app(environ, start_response)
        except BaseException:
            metrics.request_ended()
            raise
        return _when_closed(result, environ, metrics.request_ended)


def _when_closed(result: Any, environ: dict, callback: Callable[[], None]) -> Iterable[bytes]:
    file_wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
        # Wrapping it would hide it from gunicorn, which sends such files with sendfile; its
        # close is an instance attribute (gunicorn's FileWrapper), so chain onto that.
        original = getattr(result, "close", None)

        def close() -> None:
            try:
                if original is not None:
                    original()
            finally:
                callback()
        result.close = close
        return result
    return ClosingIterator(result, callback)


def _user_id() -> int | None:
    user = g.get("_login_user")       # only when this request loaded one: no extra query
    actor = getattr(user, "actor", None)
    return getattr(actor, "user_id", None) or None


def init_app(app: Flask, *, json_lines: bool) -> None:
    """Install the middleware and the after-request hook (one JSON line per request when
    `json_lines`)."""
    app.wsgi_app = TrackRequests(app.wsgi_app)

    @app.after_request
    def _finished(response: Response) -> Response:
        environ = request.environ
        request_id = environ.get(_ID) or _request_id(environ)
        response.headers[REQUEST_ID_HEADER] = request_id
        seconds = time.perf_counter() - environ.get(_STARTED, time.perf_counter())
        metrics.observe_request(request.endpoint, request.method, response.status_code, seconds)
        if json_lines and log.isEnabledFor(logging.INFO):
            fields = {"request_id": request_id, "method": request.method, "path": request.path,
                      "endpoint": request.endpoint, "status": response.status_code,
                      "duration_ms": round(seconds * 1000, 1), "user_id": _user_id(),
                      "client": request.remote_addr}
            log.info("%s %s %s", request.method, request.path, response.status_code,
                     extra={"fields": fields})
        return response
