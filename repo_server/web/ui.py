"""The HTML pages: newest resources, a resource page with download, the upload form.

Deliberately small (the full interface is a later issue) but built to grow: server-rendered
Jinja, all text escaped, CSRF on every form, no asset from the internet.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import login_required

from repo_server.errors import RepoError
from repo_server.services import resources as resource_service
from repo_server.services import searching
from repo_server.services.searching import InvalidQuery
from repo_server.services.fields import FIELDS
from repo_server.services.permissions import require_uploader
from repo_server.services.vocabularies import list_vocabularies

from .api import form_metadata, search_params, send_download
from .auth import current_actor
from .errors import status_for
from .uploads import received_file

__all__ = ["bp"]

bp = Blueprint("ui", __name__)


def _svc():
    return current_app.extensions["repo"]


@bp.get("/")
def index():
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    result = resource_service.list_resources(_svc(), current_actor(), page=page, per_page=30)
    return render_template("index.html", result=result)


FACET_LABELS = {"stage": "学段", "grade": "年级", "subject": "学科", "edition": "教材版本",
                "volume": "册次", "type": "资源类型", "format": "格式", "org": "单位"}


@bp.get("/search")
def search():
    try:
        params = search_params(request.args)
        answer = searching.search(_svc(), current_actor(), params)
        error = None
    except InvalidQuery as exc:
        answer, error = None, exc.message
    chosen = {name: request.args.getlist(name) for name in FACET_LABELS if request.args.getlist(name)}
    return render_template("search.html", answer=answer, error=error, q=request.args.get("q", ""),
                           sort=request.args.get("sort", "relevance"), chosen=chosen,
                           facet_labels=FACET_LABELS, link=_search_link), 400 if error else 200


def _search_link(**changes) -> str:
    """This search's URL with some parameters replaced (None removes one); page resets."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value if isinstance(value, list) else [value]
    return url_for("ui.search", **args)


@bp.get("/r/<resource_id>")
def resource(resource_id: str):
    view = resource_service.get_resource(_svc(), current_actor(), resource_id)
    return render_template("resource.html", r=view)


@bp.route("/r/<resource_id>/file", methods=["GET", "HEAD"])
def inline_file(resource_id: str):
    """The original, inline: what the page's <video>, <audio> and <img> elements load."""
    return send_download(resource_id, inline=True)


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload():
    require_uploader(current_actor())
    vocabularies = list_vocabularies(_svc())
    if request.method == "GET":
        return render_template("upload.html", fields=FIELDS, vocab=vocabularies, values={},
                               errors=[])
    values = form_metadata(request.form)
    try:
        staged, filename = received_file(request)
        view = resource_service.ingest(
            _svc(), current_actor(), staged, filename, values,
            allow_duplicate=request.form.get("allow_duplicate") == "1")
    except RepoError as exc:
        status = status_for(exc)
        if status >= 500:
            raise
        errors = exc.details.get("errors") or [exc.as_dict()]
        return render_template("upload.html", fields=FIELDS, vocab=vocabularies, values=values,
                               errors=errors), status
    return redirect(url_for("ui.resource", resource_id=view["id"]))
