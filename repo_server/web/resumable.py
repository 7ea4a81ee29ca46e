"""Resumable uploads over HTTP: the tus 1.0.0 protocol (core, creation, termination,
checksum, expiration) under /api/v1/uploads/.

    OPTIONS /api/v1/uploads/           what this server speaks (no login needed)
    POST    /api/v1/uploads/           create: Upload-Length, Upload-Metadata → 201 Location
    HEAD    /api/v1/uploads/<id>       Upload-Offset: where to continue
    PATCH   /api/v1/uploads/<id>       append (application/offset+octet-stream at Upload-Offset)
    DELETE  /api/v1/uploads/<id>       terminate
    GET     /api/v1/uploads/<id>       (ours) JSON state: the resource once filed, or the errors
    POST    /api/v1/uploads/<id>/ingest  (ours) file a refused upload again with changed fields

Authenticated like the rest of the API (bearer token, or the session plus an X-CSRFToken
header); editors and admins only; an upload belongs to its creator and is a 404 to anyone
else. The state lives on disk (services/upload_sessions.py), so any worker, and a restarted
server, continues an upload. The view only translates HTTP to the service and back.
"""

from __future__ import annotations

import base64
import binascii
import socket
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import BadRequest, ClientDisconnected
from werkzeug.http import http_date

from repo_server.errors import IncompleteUpload, InvalidInput
from repo_server.services import upload_sessions as uploads
from repo_server.services.upload_sessions import (Checksum, ChecksumMismatch, NoSpace,
                                                  OffsetMismatch, UploadLocked,
                                                  UploadStateConflict)

from .api import with_links
from .auth import current_actor
from .csrf import csrf

__all__ = ["bp", "TUS_VERSION"]

bp = Blueprint("uploads", __name__, url_prefix="/api/v1")
TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,checksum,expiration"
CHECKSUMS = ("sha1", "sha256", "md5")
_TUS_METHODS = {"POST", "HEAD", "PATCH", "DELETE"}


def _svc():
    return current_app.extensions["repo"]


@bp.before_request
def _guard() -> Response | None:
    current_actor()   # a bearer token marks the request as token-authenticated
    if request.method not in {"GET", "HEAD", "OPTIONS"} and not g.get("auth_via_token"):
        csrf.protect()
    is_tus = request.method in _TUS_METHODS and not request.path.endswith("/ingest")
    if is_tus and request.headers.get("Tus-Resumable") != TUS_VERSION:
        response = jsonify(error="unsupported_version",
                           message=f"send the header Tus-Resumable: {TUS_VERSION}")
        response.status_code = 412
        response.headers["Tus-Version"] = TUS_VERSION
        return response
    return None


@bp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error(exc, status: int, **headers: str):
    response = jsonify(exc.as_dict())
    response.status_code = status
    response.headers.update(headers)
    return response


@bp.errorhandler(OffsetMismatch)
def _offset_mismatch(exc: OffsetMismatch):
    return _error(exc, 409, **{"Upload-Offset": str(exc.details["offset"])})


@bp.errorhandler(UploadStateConflict)
def _state_conflict(exc):
    return _error(exc, 409)


@bp.errorhandler(UploadLocked)
def _locked(exc):
    return _error(exc, 423, **{"Retry-After": "2"})


@bp.errorhandler(ChecksumMismatch)
def _checksum(exc):
    return _error(exc, 460)


@bp.errorhandler(NoSpace)
def _no_space(exc):
    return _error(exc, 507)


# -- the protocol ------------------------------------------------------------------------------
@bp.route("/uploads/", methods=["OPTIONS"], strict_slashes=False)
@bp.route("/uploads/<upload_id>", methods=["OPTIONS"])
def options(upload_id: str | None = None):
    response = Response(status=204)
    response.headers.update({
        "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(_svc().settings.max_upload_bytes),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        "Allow": "OPTIONS, POST" if upload_id is None else "OPTIONS, GET, HEAD, PATCH, DELETE"})
    return response


@bp.post("/uploads/", strict_slashes=False, provide_automatic_options=False)
def create():
    if request.headers.get("Upload-Defer-Length"):
        raise BadRequest("Upload-Defer-Length is not supported: send Upload-Length")
    length = _header_int("Upload-Length")
    info = uploads.create(_svc(), current_actor(), length,
                          parse_metadata_header(request.headers.get("Upload-Metadata", "")))
    response = Response(status=201)
    response.headers["Location"] = url_for("uploads.upload", upload_id=info.id)
    response.headers["Upload-Expires"] = http_date(
        info.updated_at + _svc().settings.upload_expire_hours * 3600)
    return response


@bp.route("/uploads/<upload_id>", methods=["GET", "HEAD"], provide_automatic_options=False)
def upload(upload_id: str):
    """HEAD: the tus offset. GET: the same as JSON, with the resource or the errors."""
    body = uploads.describe(_svc(), current_actor(), upload_id)
    if body["resource"] and not body["resource"].get("deleted"):
        body["resource"] = with_links(body["resource"])
    expires = http_date(body["expires_at"])
    body["expires_at"] = expires
    response = jsonify(body) if request.method == "GET" else Response(status=200)
    response.headers.update({"Upload-Offset": str(body["offset"]),
                             "Upload-Length": str(body["length"]),
                             "Upload-Expires": expires, "Upload-State": body["state"]})
    return response


@bp.patch("/uploads/<upload_id>", provide_automatic_options=False)
def append(upload_id: str):
    if request.mimetype != "application/offset+octet-stream":
        response = jsonify(error="unsupported_media_type",
                           message="send the bytes as Content-Type: application/offset+octet-stream")
        response.status_code = 415
        return response
    offset = _header_int("Upload-Offset")
    checksum = _checksum_header(request.headers.get("Upload-Checksum"))
    sock = request.environ.get("gunicorn.socket")
    previous = sock.gettimeout() if isinstance(sock, socket.socket) else None
    if isinstance(sock, socket.socket):
        # A silently dead link must not hold the upload's lock for hours. (What gunicorn had
        # buffered of the current 1 MiB step when the timeout fires is lost: sent again.)
        sock.settimeout(_svc().settings.upload_stall_seconds)
    try:
        new_offset, info = uploads.append(_svc(), current_actor(), upload_id, offset=offset,
                                          read=_body_reader(), declared=request.content_length,
                                          checksum=checksum)
    finally:
        if isinstance(sock, socket.socket):
            sock.settimeout(previous)
    response = Response(status=204)
    response.headers.update({"Upload-Offset": str(new_offset), "Upload-State": info.state})
    if info.state == uploads.DONE:
        response.headers["Upload-Resource"] = url_for("api.resource", resource_id=info.resource_id)
    return response


@bp.delete("/uploads/<upload_id>", provide_automatic_options=False)
def terminate(upload_id: str):
    uploads.delete(_svc(), current_actor(), upload_id)
    return Response(status=204)


@bp.post("/uploads/<upload_id>/ingest")
def retry(upload_id: str):
    """File a finished upload again after a refusal, with changed fields (JSON object)."""
    changes = request.get_json(silent=True)
    if changes is None:
        changes = {}
    if not isinstance(changes, dict):
        raise InvalidInput("send the changed fields as a JSON object", reason="json_object")
    view = with_links(uploads.retry(_svc(), current_actor(), upload_id, changes))
    response = jsonify(view)
    response.status_code = 201
    response.headers["Location"] = view["url"]
    return response


# -- header parsing ----------------------------------------------------------------------------
def _header_int(name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit():
        raise BadRequest(f"the header {name} must be a non-negative whole number (got {raw!r})")
    return int(raw)


def parse_metadata_header(raw: str) -> dict[str, str]:
    """Upload-Metadata: `key base64,key base64,key` → {key: text}; values must be UTF-8."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(f"Upload-Metadata: the value of {key!r} is not base64-encoded "
                             "UTF-8") from None
        if key in metadata:
            raise BadRequest(f"Upload-Metadata: {key!r} is given twice")
        metadata[key] = value
    return metadata


def _checksum_header(raw: str | None) -> Checksum | None:
    if not raw:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    if algorithm.lower() not in CHECKSUMS:
        raise BadRequest(f"Upload-Checksum: unsupported algorithm {algorithm!r}; "
                         f"use one of {', '.join(CHECKSUMS)}")
    try:
        return Checksum(algorithm.lower(), base64.b64decode(encoded.strip(), validate=True))
    except binascii.Error:
        raise BadRequest("Upload-Checksum: the digest is not base64") from None


def _body_reader() -> Any:
    """request.stream.read, with a dropped or stalled connection as IncompleteUpload."""
    stream = request.stream

    def read(size: int) -> bytes:
        try:
            return stream.read(size)
        except (ClientDisconnected, OSError) as exc:
            raise IncompleteUpload("the connection dropped during the upload; the bytes that "
                                   "arrived are kept: ask with HEAD and continue",
                                   reason="connection_dropped") from exc
    return read
