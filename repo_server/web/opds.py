"""OPDS 1.2 catalog of the library's e-books, for e-reader apps: /opds/ (docs/interop.md).

Navigation feeds walk 学段 → 学科 → 年级 (counts of what the asker may see); acquisition
feeds list e-books newest first, paged with first/previous/next; search is described by an
OpenSearch document. Views are thin: parse, call one service (services/ebooks), render
(opds_feed).

Who is asking: HTTP Basic credentials (a password, or an API token as the password:
services/basic_auth), else the browser session or a bearer token like the rest of the site.
Wrong Basic credentials answer 401 and count against the login rate limit (throttle.py).
Anonymous visitors get public e-books when REPO_PUBLIC_ACCESS is on, else a 401 challenge.
The same catalog is also mounted at /opds/auth/, which always challenges anonymous
visitors: apps that send credentials only after a 401 are pointed there.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import Blueprint, Response, current_app, g, request, url_for

from repo_server.errors import AuthenticationRequired, NotFound, RepoError
from repo_server.services import ebooks
from repo_server.services.basic_auth import actor_for_basic
from repo_server.services.derivatives import derivative_target
from repo_server.services.downloads import download_target

from .api import send_target
from .auth import current_actor
from .errors import status_for
from .opds_feed import ACQUISITION, NAVIGATION, OPENSEARCH, Feed, opensearch_description

__all__ = ["bp", "REALM", "AUTH_PREFIX"]

bp = Blueprint("opds", __name__, url_prefix="/opds")
REALM = "repo-server"
AUTH_PREFIX = "/opds/auth"          # the second mount (see module docstring), name "opds_auth"
_PER_PAGE = 20
_LEVEL_NAMES = {"stage": "学段", "subject": "学科", "grade": "年级"}


def _svc():
    return current_app.extensions["repo"]


def _actor():
    return g.opds_actor


def _who_is_asking() -> None:
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        actor = actor_for_basic(_svc(), auth.username or "", auth.password or "")
        if actor is None:
            g.basic_auth_failed = True   # counted by the login limit (throttle.py)
            raise AuthenticationRequired("wrong user name, password or token", reason="login")
    else:
        actor = current_actor()
    if actor.anonymous and (request.blueprint == "opds_auth" or not _svc().settings.public_access):
        raise AuthenticationRequired("log in to read the catalog", reason="login")
    g.opds_actor = actor


def _asker(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decide who is asking inside the view, not in before_request: the login limit
    (throttle.limit_basic_auth) wraps the view and must see the 401 of wrong credentials."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _who_is_asking()
        return view(*args, **kwargs)
    return wrapper


@bp.errorhandler(RepoError)
def _refusal(exc: RepoError):
    status = status_for(exc)
    response = Response(f"{exc.message}\n", status=status, mimetype="text/plain")
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def _url(endpoint: str, **values: Any) -> str:
    return url_for(f"{request.blueprint}.{endpoint}", _external=True, **values)


def _xml(body: bytes, mime: str) -> Response:
    response = Response(body, mimetype=None, content_type=f"{mime};charset=utf-8")
    response.headers["Cache-Control"] = "private, no-cache"   # what one sees depends on who asks
    response.headers["Vary"] = "Authorization, Cookie"
    return response


def _page() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def _codes() -> dict[str, str]:
    return {level: request.args[level] for level in ebooks.NAV_LEVELS if request.args.get(level)}


def _feed(title: str, self_url: str, kind: str, feed_id: str) -> Feed:
    return Feed(feed_id=feed_id, title=title, self_url=self_url, kind=kind, start_url=_url("root"),
                search_url=_url("opensearch"))


@bp.get("/")
@_asker
def root():
    """The start: 最新 (new), the whole shelf, then one entry per 学段 with its count."""
    node = ebooks.shelf(_svc(), _actor(), {})
    feed = _feed("电子图书", _url("root"), NAVIGATION, "urn:repo-server:opds:root")
    feed.link("http://opds-spec.org/sort/new", _url("new"), ACQUISITION, title="最新")
    feed.navigation_entry(entry_id_="urn:repo-server:opds:new", title="最新电子图书", href=_url("new"),
                          kind=ACQUISITION, content=f"全部 {node.total} 本，最新的在前", count=node.total,
                          rel="http://opds-spec.org/sort/new")
    _children(feed, node)
    return _xml(feed.to_bytes(), NAVIGATION)


def _children(feed: Feed, node: ebooks.Shelf) -> None:
    codes = node.codes()
    for child in node.children:
        target = {**codes, node.level: child["code"]}
        last = len(target) == len(ebooks.NAV_LEVELS)
        href = _url("books", **target) if last else _url("nav", **target)
        feed.navigation_entry(entry_id_="urn:repo-server:opds:" + ":".join(f"{k}={v}" for k, v in target.items()),
                              title=child["name"], href=href, kind=ACQUISITION if last else NAVIGATION,
                              content=f"{child['count']} 本", count=child["count"])


@bp.get("/nav")
@_asker
def nav():
    """A 学段's 学科 or a 学科's 年级, plus "全部" (every e-book under the node)."""
    node = ebooks.shelf(_svc(), _actor(), _codes())
    codes = node.codes()
    title = " › ".join(step["name"] for step in node.path) or "电子图书"
    feed = _feed(title, _url("nav", **codes), NAVIGATION, "urn:repo-server:opds:nav:" +
                 ":".join(f"{k}={v}" for k, v in codes.items()))
    feed.link("up", _url("nav", **dict(list(codes.items())[:-1])) if len(codes) > 1 else _url("root"), NAVIGATION)
    feed.navigation_entry(entry_id_=f"urn:repo-server:opds:all:{':'.join(codes.values())}",
                          title=f"全部（{title}）", href=_url("books", **codes), kind=ACQUISITION,
                          content=f"{node.total} 本", count=node.total)
    _children(feed, node)
    return _xml(feed.to_bytes(), NAVIGATION)


def _acquisition(title: str, feed_id: str, endpoint: str, answer: dict[str, Any], params: dict[str, str],
                 *, total: int | None, has_next: bool) -> Response:
    page, per_page = answer["page"], answer["per_page"]
    feed = _feed(title, _url(endpoint, **params, **({"page": page} if page > 1 else {})), ACQUISITION, feed_id)
    feed.paging(total, page, per_page, lambda n: _url(endpoint, **params, **({"page": n} if n > 1 else {})),
                has_next)
    for book in answer["items"]:
        rid = book["id"]
        images = {profile: (_url("image", resource_id=rid, profile=profile), mime)
                  for profile, mime in book["images"].items()}
        feed.book_entry(book, download_url=_url("download", resource_id=rid), images=images,
                        page_url=url_for("ui.resource", resource_id=rid, _external=True))
    return _xml(feed.to_bytes(), ACQUISITION)


@bp.get("/books")
@_asker
def books():
    """E-books under a 学段/学科/年级 path, newest first."""
    params = _codes()
    answer = ebooks.books(_svc(), _actor(), params, page=_page(), per_page=_PER_PAGE)
    title = " › ".join(step["name"] for step in answer["path"]) or "全部电子图书"
    more = answer["page"] * answer["per_page"] < answer["total"]
    return _acquisition(title, "urn:repo-server:opds:books:" + ":".join(f"{k}={v}" for k, v in params.items()),
                        "books", answer, params, total=answer["total"], has_next=more)


@bp.get("/new")
@_asker
def new():
    """Every e-book the asker may see, newest first."""
    answer = ebooks.books(_svc(), _actor(), {}, page=_page(), per_page=_PER_PAGE)
    more = answer["page"] * answer["per_page"] < answer["total"]
    return _acquisition("最新电子图书", "urn:repo-server:opds:new", "new", answer, {}, total=answer["total"],
                        has_next=more)


@bp.get("/search")
@_asker
def search():
    """Search results (the OpenSearch template's target), by relevance."""
    q = request.args.get("q", "").strip()
    answer = ebooks.search_books(_svc(), _actor(), q, page=_page(), per_page=_PER_PAGE)
    return _acquisition(f"搜索：{q}", f"urn:repo-server:opds:search:{q}", "search", answer, {"q": q},
                        total=None, has_next=answer["more"])


@bp.get("/opensearch.xml")
@_asker
def opensearch():
    template = _url("search") + "?q={searchTerms}"
    body = opensearch_description(short_name="电子图书", description="搜索资源库中的电子图书",
                                  template=template)
    return _xml(body, OPENSEARCH)


@bp.route("/books/<resource_id>/file", methods=["GET", "HEAD"])
@_asker
def download(resource_id: str):
    """The original file (counted as a download), with Range and the right Content-Type."""
    return send_target(download_target(_svc(), _actor(), resource_id), inline=False, actor=_actor())


@bp.route("/books/<resource_id>/<profile>", methods=["GET", "HEAD"])
@_asker
def image(resource_id: str, profile: str):
    """The cover or thumbnail derivative (not counted)."""
    if profile not in ("cover", "thumbnail"):
        raise NotFound("no such image", reason="no_derivative")
    return send_target(derivative_target(_svc(), _actor(), resource_id, profile), inline=True, count=False)
