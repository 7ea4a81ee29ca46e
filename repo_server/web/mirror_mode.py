"""Mirror mode: a data dir kept by scripts/repo-sync is served read-only, refused in ONE place.

Its catalog is a copy of the upstream's selection: a local edit would be overwritten (or
tombstoned) by the next sync and would never reach the upstream. So, when
`Settings.is_mirror` (REPO_MIRROR_MODE, auto-detected from <data dir>/sync/CURRENT), every
request that would change the catalog — any POST/PUT/PATCH/DELETE, and the upload and edit
forms — answers 403 `mirror_read_only` (JSON for the API, the error page for browsers),
before any view runs. Allowed: reading (search, browse, resource pages, previews,
downloads, admin pages that only show), logging in and out (local accounts; anonymous
teachers read what is public, which is all a mirror holds), a teacher's favourites (local
to this server, not catalog content), the language choice, and the reports of mirrors
further down the chain (a county mirror is its schools' upstream) and removing a retired one.
"""

from __future__ import annotations

from flask import Flask, request

from repo_server.errors import PermissionDenied

__all__ = ["init_app", "ALLOWED_WRITES", "REFUSED_PAGES"]

#: endpoints that may write on a mirror (they change no catalog content)
ALLOWED_WRITES = frozenset({"auth.login", "auth.logout", "library.favourite", "mirror_reports.report",
                            "api.remove_json", "admin.remove_page"})
#: forms that only lead to a write
REFUSED_PAGES = frozenset({"ui.upload", "ui.edit", "admin.new_user", "editorial.resources_page"})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class MirrorReadOnly(PermissionDenied):
    """This server is a mirror: its catalog changes only by syncing from its upstream."""

    code = "mirror_read_only"


def init_app(app: Flask) -> None:
    settings = app.extensions["repo"].settings

    @app.before_request
    def _refuse_writes_on_a_mirror() -> None:
        endpoint = request.endpoint or ""
        writes = request.method not in _READS or endpoint in REFUSED_PAGES or endpoint.startswith("uploads.")
        if writes and endpoint not in ALLOWED_WRITES and settings.is_mirror:
            raise MirrorReadOnly("this server is a read-only mirror of its upstream: upload and edit "
                                 "resources on the upstream server; they arrive here with the next sync",
                                 reason="mirror_read_only")
