"""Account pages: /admin/users (list and search), /admin/users/new, /admin/users/<id> (role,
organisation, name; password reset; disable/enable). Who may do what: services.user_admin."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from repo_server.catalog.models import ROLES
from repo_server.errors import RepoError
from repo_server.services import user_admin

from .admin import bp, done, form_failure, int_or_none, svc
from .auth import current_actor

__all__ = ["users", "new_user", "user_page", "change_user", "reset_password", "set_active"]


def _roles() -> tuple[str, ...]:
    """Roles the actor may hand out (editors: teacher only)."""
    return ROLES if current_actor().is_admin else ("teacher",)


@bp.get("/users")
@login_required
def users():
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    q, role = request.args.get("q", "")[:80], request.args.get("role", "")
    result = user_admin.search_users(svc(), current_actor(), q=q, role=role, page=page)
    return render_template("admin_users.html", result=result, q=q, role=role, roles=ROLES)


def _new_form(**context):
    actor = current_actor()
    return dict(orgs=user_admin.assignable_orgs(svc(), actor), roles=_roles(), **context)


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def new_user():
    actor = current_actor()
    if request.method == "GET":
        user_admin.require_account_manager(actor)
        return render_template("admin_user_new.html", values={}, errors=[], **_new_form())
    form = request.form
    try:
        created = user_admin.create_user(
            svc(), actor, username=form.get("username", ""), role=form.get("role", ""),
            org_id=int_or_none(form.get("org")), password=form.get("password", ""),
            display_name=form.get("display_name", ""))
    except RepoError as exc:
        return form_failure(exc, "admin_user_new.html", **_new_form())
    return done(_("已创建账号 %(username)s", username=created["username"]), "admin.user_page",
                user_id=created["id"])


def _user_context(user_id: int) -> dict:
    return _new_form(user=user_admin.get_user(svc(), current_actor(), user_id))


@bp.get("/users/<int:user_id>")
@login_required
def user_page(user_id: int):
    return render_template("admin_user.html", values={}, errors=[], **_user_context(user_id))


@bp.post("/users/<int:user_id>")
@login_required
def change_user(user_id: int):
    form = request.form
    try:
        user_admin.change_user(svc(), current_actor(), user_id, role=form.get("role", ""),
                               org_id=int_or_none(form.get("org")),
                               display_name=form.get("display_name"))
    except RepoError as exc:
        return form_failure(exc, "admin_user.html", **_user_context(user_id))
    return done(_("已保存"), "admin.user_page", user_id=user_id)


@bp.post("/users/<int:user_id>/password")
@login_required
def reset_password(user_id: int):
    try:
        user_admin.reset_password(svc(), current_actor(), user_id, request.form.get("password", ""))
    except RepoError as exc:
        return form_failure(exc, "admin_user.html", values={}, **_user_context(user_id))
    return done(_("密码已重设，该用户的登录已全部失效"), "admin.user_page", user_id=user_id)


@bp.post("/users/<int:user_id>/active")
@login_required
def set_active(user_id: int):
    active = request.form.get("active") == "1"
    try:
        user_admin.set_active(svc(), current_actor(), user_id, active)
    except RepoError as exc:
        return form_failure(exc, "admin_user.html", values={}, **_user_context(user_id))
    return done(_("账号已启用") if active else _("账号已停用"), "admin.user_page", user_id=user_id)
