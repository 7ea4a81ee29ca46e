"""/account/tokens: a person's API tokens (for scripts, e-reader apps, a school mirror's
status reports). The new token is shown once, on the page that answers the form; afterwards
only its first characters. Administrators may list everyone's (?all=1) and revoke any.

Thin views: parse, call services/api_tokens.py, render.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import login_required

from repo_server.errors import RepoError
from repo_server.services import api_tokens

from .auth import current_actor
from .forms import form_failure

__all__ = ["bp"]

bp = Blueprint("tokens", __name__, url_prefix="/account")


def _page(*, created: str | None = None, status: int = 200, **context):
    svc, actor = current_app.extensions["repo"], current_actor()
    everyone = actor.is_admin and request.values.get("all") == "1"
    tokens = api_tokens.list_tokens(svc, actor, everyone=everyone)
    return render_template("tokens.html", tokens=tokens, created=created, everyone=everyone,
                           **context), status


@bp.get("/tokens")
@login_required
def tokens_page():
    return _page(values={})


@bp.post("/tokens")
@login_required
def create():
    """Make a token and show it, this once (never in a redirect's URL or a log line)."""
    try:
        token = api_tokens.issue_token(current_app.extensions["repo"], current_actor(),
                                       request.form.get("name", ""))
    except RepoError as exc:
        svc, actor = current_app.extensions["repo"], current_actor()
        return form_failure(exc, "tokens.html", tokens=api_tokens.list_tokens(svc, actor),
                            created=None, everyone=False)
    response, status = _page(created=token, status=201, values={})
    return response, status, {"Cache-Control": "no-store"}


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    api_tokens.revoke_token(current_app.extensions["repo"], current_actor(), token_id)
    everyone = request.form.get("all") == "1"
    return redirect(url_for("tokens.tokens_page", **({"all": "1"} if everyone else {})), 303)
