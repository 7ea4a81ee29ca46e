"""Teachers' pages around the catalog: the home page, the catalog tree, favourites.

Thin views: parse the query string, call one service, render.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import login_required

from repo_server.services import browse, favourites

from .auth import current_actor, safe_next

__all__ = ["bp"]

bp = Blueprint("library", __name__)


def _svc():
    return current_app.extensions["repo"]


def _page() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def home():
    """New and popular resources and the top of the catalog tree (ui.index renders this)."""
    svc, actor = _svc(), current_actor()
    return render_template("index.html", tree=browse.home_tree(svc, actor),
                           newest=browse.newest_resources(svc, actor, limit=10),
                           popular=browse.popular_resources(svc, actor, limit=10))


@bp.get("/browse")
def browse_page():
    """One node of 学段 → 学科 → 教材版本 → 年级 → 册次 → 单元 → 课: its children and resources."""
    svc, actor = _svc(), current_actor()
    node = browse.catalog_node(svc, actor, request.args)
    sort = "downloads" if request.args.get("sort") == "downloads" else "newest"
    listing = browse.resources_under(svc, actor, node, page=_page(), per_page=20, sort=sort)
    return render_template("browse.html", node=node, listing=listing, sort=sort, levels=browse.LEVELS)


@bp.get("/favourites")
@login_required
def favourites_page():
    listing = favourites.list_favourites(_svc(), current_actor(), page=_page(), per_page=20)
    return render_template("favourites.html", listing=listing)


@bp.post("/r/<resource_id>/favourite")
@login_required
def favourite(resource_id: str):
    """Mark (on=1) or unmark (on=0) a favourite, then go back where the form was."""
    favourites.set_favourite(_svc(), current_actor(), resource_id, request.form.get("on") == "1")
    back = request.form.get("next")
    return redirect(safe_next(back) if back else url_for("ui.resource", resource_id=resource_id), 303)
