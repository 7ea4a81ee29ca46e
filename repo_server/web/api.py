"""The JSON API, /api/v1 (described by /api/v1/openapi.json), and /healthz.

Views are thin: parse the request, call one service, shape the answer. Scripts and mirrors
authenticate with `Authorization: Bearer <token>`; browsers with their session, in which
case changing requests need the CSRF token (header X-CSRFToken).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from repo_server.errors import InvalidInput
from repo_server.indexer import FACET_FIELDS
from repo_server.services import resources as resource_service
from repo_server.services import searching
from repo_server.services.downloads import DownloadTarget, download_target, record_download
from repo_server.services.maintenance import health
from repo_server.services.searching import InvalidQuery, SearchParams
from repo_server.services.vocabularies import list_vocabularies

from .auth import current_actor
from .csrf import csrf
from .files import PREVIEW_CACHE, REVALIDATE, accel_location, blob_response
from .openapi import openapi_document
from .uploads import received_file

__all__ = ["bp", "health_bp", "with_links", "form_metadata", "send_download", "send_target",
           "search_params", "derivative_links"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")
health_bp = Blueprint("health", __name__)
_CONTROL_FIELDS = {"allow_duplicate", "csrf_token"}
_TRUE = {"1", "true", "yes", "on"}


def _svc():
    return current_app.extensions["repo"]


@bp.before_request
def _csrf_for_sessions() -> None:
    # Load the user first: a bearer token marks the request as token-authenticated.
    current_actor()
    if request.method not in {"GET", "HEAD", "OPTIONS"} and not g.get("auth_via_token"):
        csrf.protect()


def with_links(view: dict[str, Any]) -> dict[str, Any]:
    rid = view["id"]
    view["url"] = url_for("api.resource", resource_id=rid)
    view["download_url"] = url_for("api.download", resource_id=rid)
    view["page_url"] = url_for("ui.resource", resource_id=rid)
    for derivative in view.get("derivatives", ()):
        derivative_links(rid, derivative)
    return view


def derivative_links(rid: str, derivative: dict[str, Any]) -> None:
    """`url` of a finished derivative (None until then); page and WebVTT links where they apply."""
    done, profile = derivative["status"] == "done", derivative["profile"]
    derivative["url"] = (url_for("api.derivative", resource_id=rid, profile=profile)
                         if done and derivative.get("sha256") else None)
    if done and profile == "pages":
        derivative["page_urls"] = [url_for("api.derivative_page", resource_id=rid, number=n)
                                   for n in range(1, derivative.get("pages", 0) + 1)]
    if done and profile == "storyboard":
        derivative["vtt_url"] = url_for("api.storyboard_vtt", resource_id=rid)


def form_metadata(form: MultiDict) -> dict[str, Any]:
    """Metadata fields from a submitted form; `tags` may repeat, other fields take one value."""
    raw: dict[str, Any] = {}
    for key in form.keys():
        if key not in _CONTROL_FIELDS:
            values = form.getlist(key)
            raw[key] = values if key == "tags" else values[-1]
    return raw


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/resources")
def resources():
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 20))
    except ValueError:
        raise InvalidInput("page and per_page must be whole numbers") from None
    result = resource_service.list_resources(_svc(), current_actor(), page=page, per_page=per_page)
    result["items"] = [with_links(item) for item in result["items"]]
    return jsonify(result)


@bp.post("/resources")
def create_resource():
    staged, filename = received_file(request)
    view = resource_service.ingest(
        _svc(), current_actor(), staged, filename, form_metadata(request.form),
        allow_duplicate=request.form.get("allow_duplicate", "").lower() in _TRUE)
    response = jsonify(with_links(view))
    response.status_code = 201
    response.headers["Location"] = view["url"]
    return response


@bp.post("/resources/bulk")
def bulk_update():
    """The same change to many resources: {ids, changes, add_tags, remove_tags}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("ids"), list):
        raise InvalidInput("send {\"ids\": [...], \"changes\": {...}, \"add_tags\": [...], "
                           "\"remove_tags\": [...]} as JSON (Content-Type: application/json)")
    changes = body.get("changes") or {}
    lists = [body.get("ids"), body.get("add_tags") or [], body.get("remove_tags") or []]
    if not isinstance(changes, dict) or not all(isinstance(v, list) and all(isinstance(i, str) for i in v)
                                                for v in lists):
        raise InvalidInput("ids, add_tags and remove_tags are lists of strings; changes is an object")
    return jsonify(resource_service.bulk_update(_svc(), current_actor(), lists[0], changes,
                                                add_tags=lists[1], remove_tags=lists[2]))


@bp.get("/resources/<resource_id>")
def resource(resource_id: str):
    return jsonify(with_links(resource_service.get_resource(_svc(), current_actor(), resource_id)))


@bp.patch("/resources/<resource_id>")
def update_resource(resource_id: str):
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        raise InvalidInput("send the changed fields as a JSON object "
                           "(Content-Type: application/json)")
    view = resource_service.update_resource(_svc(), current_actor(), resource_id, changes)
    return jsonify(with_links(view))


@bp.delete("/resources/<resource_id>")
def delete_resource(resource_id: str):
    resource_service.delete_resource(_svc(), current_actor(), resource_id)
    return "", 204


@bp.route("/resources/<resource_id>/download", methods=["GET", "HEAD"])
def download(resource_id: str):
    return send_download(resource_id, inline=request.args.get("inline", "") in _TRUE)


def send_download(resource_id: str, *, inline: bool):
    """Send a resource's original file, count the download, honour the store's mode."""
    return send_target(download_target(_svc(), current_actor(), resource_id), inline=inline)


def send_target(target: DownloadTarget, *, inline: bool, count: bool = True, actor=None):
    """Send an original or a derivative file (Range, ETag, presigned redirect for S3,
    X-Accel-Redirect to nginx for the local store when REPO_ACCEL_REDIRECT is set); count it
    as a download when `count`, for `actor` (default: the session's or token's). Derivatives
    shown, not downloaded, may be cached by the browser for a day (PREVIEW_CACHE)."""
    svc = _svc()
    presigned = None
    # Active content is never redirected: S3 cannot add nosniff and the sandbox policy.
    if svc.settings.s3_download == "redirect" and request.method == "GET" and not target.active:
        presigned = svc.blobs.presigned_url(target.sha256, filename=target.filename,
                                            mime=target.mime, inline=inline)
    if presigned:
        requested = request.range
        if count and (requested is None or requested.ranges[0][0] == 0):  # as blob_response
            _count(target, actor)
        return redirect(presigned, code=302)
    accel = None
    if svc.settings.accel_redirect:
        accel = accel_location(svc.settings.accel_redirect, svc.blobs.local_path(target.sha256),
                               svc.settings.blob_dir)
    response, first_byte = blob_response(
        lambda start, length: svc.blobs.open(target.sha256, start, length),
        sha256=target.sha256, size=target.size, mime=target.mime, filename=target.filename,
        inline=inline, last_modified=target.last_modified, active=target.active, accel=accel,
        cache_control=PREVIEW_CACHE if target.profile and not count else REVALIDATE)
    if count and first_byte == 0:
        _count(target, actor)
    return response


def _count(target, actor=None) -> None:
    record_download(_svc(), actor or current_actor(), target, client=request.remote_addr or "",
                    user_agent=request.headers.get("User-Agent", ""))


def search_params(args) -> SearchParams:
    """SearchParams from a query string; filters may repeat (subject=数学&subject=物理)."""
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", 20))
    except ValueError:
        raise InvalidQuery("page and per_page must be whole numbers", reason="page_number") from None
    filters = {name: tuple(args.getlist(name)) for name in FACET_FIELDS if args.getlist(name)}
    return SearchParams(q=args.get("q", ""), filters=filters, sort=args.get("sort", "relevance"),
                        page=page, per_page=per_page)


@bp.get("/search")
def search():
    unknown = set(request.args) - {"q", "sort", "page", "per_page", *FACET_FIELDS}
    if unknown:
        raise InvalidQuery(f"unknown parameter {sorted(unknown)[0]!r}", reason="unknown_parameter",
                           name=sorted(unknown)[0])
    answer = searching.search(_svc(), current_actor(), search_params(request.args))
    answer["hits"] = [with_links(hit) for hit in answer["hits"]]
    return jsonify(answer)


@bp.get("/vocabularies")
def vocabularies():
    return jsonify(list_vocabularies(_svc()))


@health_bp.get("/healthz")
def healthz():
    report = health(_svc())
    response = jsonify(report)
    response.status_code = 200 if report["status"] == "ok" else 503
    return response
