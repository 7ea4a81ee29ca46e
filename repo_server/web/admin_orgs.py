"""Organisation pages: /admin/orgs (the tree, and adding an organisation) and
/admin/orgs/<id> (rename, move). Who may do what: services.organisations."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from repo_server.catalog.models import ORG_KINDS
from repo_server.errors import NotFound, RepoError
from repo_server.services import organisations

from .admin import bp, done, form_failure, int_or_none, svc
from .auth import current_actor

__all__ = ["orgs", "create_org", "org_page", "rename_org", "move_org"]


def _tree_context(**extra) -> dict:
    return dict(tree=organisations.org_tree(svc(), current_actor()), kinds=ORG_KINDS, **extra)


@bp.get("/orgs")
@login_required
def orgs():
    return render_template("admin_orgs.html", values={}, errors=[], **_tree_context())


@bp.post("/orgs")
@login_required
def create_org():
    form = request.form
    try:
        created = organisations.create_org(svc(), current_actor(), form.get("name", ""),
                                           form.get("kind", ""), int_or_none(form.get("parent")))
    except RepoError as exc:
        return form_failure(exc, "admin_orgs.html", **_tree_context())
    return done(_("已添加单位 %(name)s", name=created["name"]), "admin.orgs")


def _org_context(org_id: int) -> dict:
    context = _tree_context()
    org = next((o for o in context["tree"] if o["id"] == org_id), None)
    if org is None:
        raise NotFound("no such organisation")
    below = {o["id"] for o in context["tree"] if o["path"] == org["path"]
             or o["path"].startswith(org["path"] + "/")}
    return dict(context, org=org, parents=[o for o in context["tree"] if o["id"] not in below])


@bp.get("/orgs/<int:org_id>")
@login_required
def org_page(org_id: int):
    organisations.require_org_admin(current_actor())
    return render_template("admin_org.html", values={}, errors=[], **_org_context(org_id))


@bp.post("/orgs/<int:org_id>/rename")
@login_required
def rename_org(org_id: int):
    try:
        renamed = organisations.rename_org(svc(), current_actor(), org_id, request.form.get("name", ""))
    except RepoError as exc:
        return form_failure(exc, "admin_org.html", **_org_context(org_id))
    return done(_("已改名为 %(name)s", name=renamed["name"]), "admin.org_page", org_id=org_id)


@bp.post("/orgs/<int:org_id>/move")
@login_required
def move_org(org_id: int):
    try:
        moved = organisations.move_org(svc(), current_actor(), org_id,
                                       int_or_none(request.form.get("parent")))
    except RepoError as exc:
        return form_failure(exc, "admin_org.html", **_org_context(org_id))
    return done(_("已移动；%(count)s 个资源将重新编入搜索索引", count=moved["reindexed"]),
                "admin.org_page", org_id=org_id)
