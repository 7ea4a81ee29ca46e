"""Errors become clear answers: JSON `{error, message, …}` for the API, a page for people.

Expected failures (RepoError) carry their own message, and their `reason` and details when
the service gave them: the JSON answer carries them all (programs branch on `error` and
`reason`), the page says it in the visitor's language (error_texts.py). Anything else is
logged with its traceback and answered with a generic message that leaks nothing.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from repo_server import errors as e
from repo_server.services.searching import InvalidQuery

from .error_texts import error_text

__all__ = ["register_error_handlers", "status_for", "wants_json"]

log = logging.getLogger(__name__)

# Most specific first.
_STATUS: tuple[tuple[type[e.RepoError], int], ...] = (
    (InvalidQuery, 400),
    (e.TooLarge, 413),
    (e.IncompleteUpload, 400),
    (e.EmptyFile, 422),
    (e.DangerousFile, 415),
    (e.UnsupportedType, 415),
    (e.ExtensionMismatch, 415),
    (e.InvalidInput, 422),
    (e.Duplicate, 409),
    (e.NotFound, 404),
    (e.AuthenticationRequired, 401),
    (e.PermissionDenied, 403),
    (e.StorageError, 503),
)


def status_for(exc: e.RepoError) -> int:
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 500)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or (
        request.accept_mimetypes.best == "application/json")


def _respond(status: int, body: dict) -> Response:
    if wants_json():
        response = jsonify(body)
    else:
        response = Response(render_template("error.html", status=status, message=error_text(body)))
    response.status_code = status
    if status == 401 and request.path.startswith("/api/"):
        response.headers["WWW-Authenticate"] = 'Bearer realm="repo-server"'
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(e.RepoError)
    def _repo_error(exc: e.RepoError):
        status = status_for(exc)
        if status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return _respond(status, exc.as_dict())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        body = {"error": (exc.name or "error").lower().replace(" ", "_"),
                "message": exc.description or exc.name}
        response = _respond(exc.code or 500, body)
        headers = dict(exc.get_headers())
        for name in ("Allow", "Retry-After"):
            if name in headers:
                response.headers[name] = headers[name]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, {"error": "internal", "reason": "internal", "message": "something went "
                              "wrong on the server; the administrators can find the details in the log"})
