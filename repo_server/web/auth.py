"""Who is asking: browser sessions (flask-login) and bearer tokens (scripts, mirrors).

Session ids carry the user's session version, so changing a password ends old sessions. On
login the session is cleared first (rotation: a fixated pre-login session is worthless).
A request with `Authorization: Bearer …` is judged by the token alone: an invalid token is a
401 even if a session cookie is also present, and token requests need no CSRF token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, login_user, logout_user

from repo_server.errors import AuthenticationRequired
from repo_server.services import ANONYMOUS, Actor
from repo_server.services.accounts import actor_for_session, authenticate
from repo_server.services.api_tokens import actor_for_token

__all__ = ["login_manager", "bp", "current_actor", "SessionUser", "bearer_token", "safe_next"]

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("请先登录")


class SessionUser(UserMixin):
    def __init__(self, actor: Actor, session_version: int) -> None:
        self.actor = actor
        self.session_version = session_version

    def get_id(self) -> str:
        return f"{self.actor.user_id}:{self.session_version}"


class Anonymous(AnonymousUserMixin):
    actor = ANONYMOUS


login_manager.anonymous_user = Anonymous


def _services():
    return current_app.extensions["repo"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@login_manager.user_loader
def _load_session_user(user_id: str) -> SessionUser | None:
    if bearer_token() is not None:
        return None  # the token decides (see module docstring)
    try:
        uid, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    actor = actor_for_session(_services(), uid, version)
    return SessionUser(actor, version) if actor else None


@login_manager.request_loader
def _load_token_user(req) -> SessionUser | None:
    token = bearer_token()
    if token is None:
        return None
    actor = actor_for_token(_services(), token)
    if actor is None:
        if g.get("bad_token"):  # the 401 page itself asks who is there: nobody
            return None
        g.bad_token = True
        raise AuthenticationRequired("the API token is invalid or revoked", reason="bad_token")
    g.auth_via_token = True
    return SessionUser(actor, 0)


def current_actor() -> Actor:
    return current_user.actor


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect a login to another host."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and target.startswith("/")
                and not target.startswith("//") and "\\" not in target):  # "/\\x" is "//x" to browsers
            return target
    return url_for("ui.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        result = authenticate(_services(), username, request.form.get("password", ""))
        if result is not None:
            actor, version = result
            session.clear()
            login_user(SessionUser(actor, version))
            return redirect(safe_next(request.args.get("next")))
        error = _("用户名或密码错误")
    status = 401 if error else 200
    return render_template("login.html", error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("ui.index"))
