"""Mirror status over HTTP: downstream mirrors report to POST /api/v1/mirrors/report, editors
and administrators read GET /api/v1/mirrors and the page /admin/mirrors (this server's own
status as a mirror at the top, then its downstream mirrors, stale ones highlighted) and
remove a retired mirror (DELETE /api/v1/mirrors/<name>, or the page's button).

Thin views: parse, call services/mirror_reports.py, render. Who may report and who sees
which mirror is decided there. The report has a blueprint of its own, outside the API's
"sessions need a CSRF token" rule: it takes nothing but a bearer token, so a request
without one is a 401 saying so (not a CSRF refusal) and a browser session cannot report.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import format_datetime, format_timedelta
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from repo_server.errors import AuthenticationRequired, InvalidInput, TooLarge
from repo_server.services.mirror_reports import STATUS_MAX_BYTES, list_mirrors, record_report, remove_mirror

from .admin import bp, done, svc
from .api import bp as api_bp
from .auth import current_actor

__all__ = ["report_bp", "report", "mirrors_json", "remove_json", "mirrors_page", "remove_page", "RESULT_LABELS"]

report_bp = Blueprint("mirror_reports", __name__, url_prefix="/api/v1/mirrors")

#: How the pages name a sync's result (services/mirror_status.py, SYNC_RESULTS).
RESULT_LABELS = {"ok": _l("成功"), "up_to_date": _l("已是最新"), "retry": _l("暂时失败，将重试"),
                 "config": _l("配置错误"), "failed": _l("失败")}


@report_bp.post("/report")
def report():
    """A downstream mirror's status after a sync run (the sync script sends it with its
    API token); answers with what was stored."""
    current_actor()   # a bearer token is looked up (and a bad one refused) here
    if not g.get("auth_via_token"):
        raise AuthenticationRequired("report with an API token (Authorization: Bearer …)",
                                     reason="mirror_token")
    if request.content_length is None or request.content_length > STATUS_MAX_BYTES:
        raise TooLarge(f"a report is at most {STATUS_MAX_BYTES} bytes, with a Content-Length",
                       reason="report_too_large", limit=STATUS_MAX_BYTES)
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        raise InvalidInput("send the status object as JSON", reason="json_object")
    return jsonify(record_report(svc(), current_actor(), payload, request.remote_addr or ""))


@api_bp.get("/mirrors")
def mirrors_json():
    """The downstream mirrors the caller may see, with their lag, and this server's own status."""
    return jsonify(list_mirrors(svc(), current_actor()))


@api_bp.delete("/mirrors/<path:name>")
def remove_json(name: str):
    """Forget a retired mirror (editors: one of their subtree; administrators: any)."""
    remove_mirror(svc(), current_actor(), name)
    return "", 204


def _ago(seconds: int | None) -> str:
    return format_timedelta(timedelta(seconds=-seconds), add_direction=True) if seconds is not None else ""


def _when(value: str | None) -> str:
    return format_datetime(datetime.fromisoformat(value), "yyyy-MM-dd HH:mm") if value else ""


@bp.get("/mirrors")
@login_required
def mirrors_page():
    return render_template("admin_mirrors.html", overview=list_mirrors(svc(), current_actor()),
                           ago=_ago, when=_when, result_labels=RESULT_LABELS)


@bp.post("/mirrors/remove")
@login_required
def remove_page():
    name = request.form.get("name", "")
    remove_mirror(svc(), current_actor(), name)
    return done(_("已移除镜像 %(name)s。", name=name), "admin.mirrors_page")
