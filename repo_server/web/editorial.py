"""Editors' pages: the review queue (draft → published) and bulk edit / bulk tag of a selection.

`/admin/resources` lists what the editor may change (drafts first, oldest first: the review
queue; or every status), with a checkbox per row and one form for the whole selection: set
classification fields, add or remove tags, publish or unpublish. The service validates the
change once and applies it to each chosen resource the editor may change; the page then says
how many changed and which were skipped. A refused change (an unknown 学科, too many tags …)
changes nothing and shows the list again with the problems, the typed values and the same
resources chosen.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, current_app, flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from repo_server.errors import RepoError
from repo_server.services import resources as resource_service
from repo_server.services.fields import FIELDS, split_tags
from repo_server.services.vocabularies import list_vocabularies

from .auth import current_actor, safe_next
from .forms import form_failure

__all__ = ["bp", "BULK_FIELDS"]

bp = Blueprint("editorial", __name__)

#: Fields a bulk change may set (the rest are per resource: title, description, …).
BULK_FIELDS = ("stage", "grade", "subject", "edition", "volume", "chapter", "lesson", "type",
               "visibility", "status")
_STATUSES = {"draft", "published", "all"}


def _svc():
    return current_app.extensions["repo"]


@bp.get("/admin/resources")
@login_required
def resources_page():
    return render_template("editorial.html", values={}, chosen=(), errors=[], **_page_context(request.args))


def _page_context(args) -> dict[str, Any]:
    """The list (status and page from `args`) and what the bulk form offers."""
    status = args.get("status", "draft")
    status = status if status in _STATUSES else "draft"
    try:
        page = max(int(args.get("page", 1)), 1)
    except ValueError:
        page = 1
    listing = resource_service.editable_resources(_svc(), current_actor(), page=page, per_page=50,
                                                  status=None if status == "all" else status)
    return {"listing": listing, "status": status, "fields": [f for f in FIELDS if f.name in BULK_FIELDS],
            "vocab": list_vocabularies(_svc()), "notices": get_flashed_messages(with_categories=True)}


@bp.post("/admin/resources/bulk")
@login_required
def bulk():
    """Apply the form's change to the chosen resources; back to the list with a summary, or
    the list again with the problems."""
    form = request.form
    changes = {name: form[name].strip() for name in BULK_FIELDS if form.get(name, "").strip()}
    if form.get("action") == "publish":
        changes["status"] = "published"
    elif form.get("action") == "unpublish":
        changes["status"] = "draft"
    back = safe_next(form.get("next")) if form.get("next") else url_for("editorial.resources_page")
    try:
        result = resource_service.bulk_update(
            _svc(), current_actor(), form.getlist("ids"), changes,
            add_tags=split_tags([form.get("add_tags", "")]), remove_tags=split_tags([form.get("remove_tags", "")]))
    except RepoError as exc:
        return form_failure(exc, "editorial.html", chosen=set(form.getlist("ids")),
                            **_page_context(dict(parse_qsl(urlsplit(back).query))))
    flash(_("已修改 %(changed)s 个资源，%(unchanged)s 个无需修改。", changed=len(result["changed"]),
            unchanged=len(result["unchanged"])), "ok")
    if result["skipped"]:
        flash(_("%(num)s 个资源无权修改或已不存在，已跳过。", num=len(result["skipped"])), "error")
    return redirect(back, 303)
