"""The HTML pages: home, search, a resource page with previews, downloads, its lesson and
favourites, the upload form, the media jobs page. (Catalog tree and favourites: library.py;
review queue and bulk edit: editorial.py.)

Server-rendered Jinja, all text escaped, CSRF on every form, no asset from the internet.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import login_required

from repo_server.catalog.models import JOB_STATES
from repo_server.errors import PermissionDenied, RepoError
from repo_server.services import resources as resource_service
from repo_server.services import favourites, lessons, media_jobs, searching
from repo_server.services.searching import InvalidQuery
from repo_server.services.fields import FIELDS, split_tags
from repo_server.services.permissions import require_uploader
from repo_server.services.tags import popular_tags
from repo_server.services.vocabularies import list_vocabularies

from . import library
from .api import form_metadata, search_params, send_download, with_links
from .auth import current_actor, safe_next
from .error_texts import error_line, script_texts
from .forms import form_failure
from .labels import FACET_LABELS
from .uploads import received_file

__all__ = ["bp"]

bp = Blueprint("ui", __name__)


def _svc():
    return current_app.extensions["repo"]


@bp.get("/")
def index():
    return library.home()


@bp.get("/search")
def search():
    try:
        params = search_params(request.args)
        answer = searching.search(_svc(), current_actor(), params)
        answer["hits"] = [with_links(hit) for hit in answer["hits"]]
        error = None
    except InvalidQuery as exc:
        answer, error = None, error_line(exc)
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
    view = with_links(resource_service.get_resource(_svc(), current_actor(), resource_id))
    made = {d["profile"]: d for d in view["derivatives"] if d["status"] == "done"}
    renditions = [made[p] for p in ("video-360p", "video-720p") if p in made]
    chosen = next((d for d in renditions if d["profile"] == f"video-{request.args.get('q')}"),
                  renditions[0] if renditions else None)
    svc, actor = _svc(), current_actor()
    lesson = lessons.lesson_of(svc, actor, resource_id, limit=lessons.SHOWN_ON_PAGE)
    return render_template("resource.html", r=view, made=made, renditions=renditions, chosen=chosen,
                           browser_plays=view["mime"] in _BROWSER_PLAYS, lesson=lesson,
                           favourite=favourites.is_favourite(svc, actor, resource_id),
                           can_edit=resource_service.may_edit(svc, actor, resource_id))


# What a browser plays or shows by itself while (or when) no derivative exists.
_BROWSER_PLAYS = {"video/mp4", "video/webm", "audio/mpeg", "audio/mp4", "audio/x-m4a", "audio/ogg",
                  "audio/wav", "audio/x-wav", "image/jpeg", "image/png", "image/gif", "image/webp"}


@bp.post("/r/<resource_id>/media/<action>")
@login_required
def media_action(resource_id: str, action: str):
    """Retry or cancel the resource's media job (editors who may change the resource)."""
    svc = _svc()
    media_jobs.hand_over(svc, media_jobs.queued_for_actor_action(svc, current_actor(), resource_id, action))
    back = request.form.get("next")
    return redirect(safe_next(back) if back else url_for("ui.resource", resource_id=resource_id), 303)


@bp.get("/admin/media")
@login_required
def media_jobs_page():
    """Media jobs for editors: counts, and the latest jobs with progress and messages."""
    require_uploader(current_actor())
    state = request.args.get("status") or None
    if state not in (None, *JOB_STATES):
        state = None
    report = media_jobs.list_jobs(_svc(), status=state, limit=100)
    return render_template("media_jobs.html", report=report, state=state, states=JOB_STATES)


@bp.route("/r/<resource_id>/file", methods=["GET", "HEAD"])
def inline_file(resource_id: str):
    """The original, inline: what the page's <video>, <audio> and <img> elements load."""
    return send_download(resource_id, inline=True)


def _form_values(view: dict) -> dict:
    """A resource view as the edit form's values: terms by name, tags as a list."""
    values = {f.name: view.get(f.name) for f in FIELDS}
    for name, value in values.items():
        if isinstance(value, dict):
            values[name] = value.get("name")
    return values


@bp.route("/r/<resource_id>/edit", methods=["GET", "POST"])
@login_required
def edit(resource_id: str):
    """The metadata form of one resource: every field, vocabulary pickers, tag completion."""
    svc, actor = _svc(), current_actor()
    view = resource_service.get_resource(svc, actor, resource_id)
    if not resource_service.may_edit(svc, actor, resource_id):
        raise PermissionDenied("you may not change this resource", reason="not_editable")
    page = {"r": view, "fields": FIELDS, "vocab": list_vocabularies(svc), "known_tags": popular_tags(svc)}
    if request.method == "GET":
        return render_template("edit.html", values=_form_values(view), errors=[], **page)
    values = form_metadata(request.form)
    try:
        resource_service.update_resource(svc, actor, resource_id, values)
    except RepoError as exc:
        return form_failure(exc, "edit.html", values={**values, "tags": split_tags(values.get("tags") or [])},
                            **page)
    return redirect(url_for("ui.resource", resource_id=resource_id), 303)


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload():
    require_uploader(current_actor())
    form = {"fields": FIELDS, "vocab": list_vocabularies(_svc()), "known_tags": popular_tags(_svc()),
            "error_texts": script_texts()}
    if request.method == "GET":
        return render_template("upload.html", values={}, errors=[], **form)
    values = form_metadata(request.form)
    try:
        staged, filename = received_file(request)
        view = resource_service.ingest(
            _svc(), current_actor(), staged, filename, values,
            allow_duplicate=request.form.get("allow_duplicate") == "1")
    except RepoError as exc:
        return form_failure(exc, "upload.html", values=values, **form)
    return redirect(url_for("ui.resource", resource_id=view["id"]))
