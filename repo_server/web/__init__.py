"""The HTTP face of repo-server: JSON API, downloads, HTML pages, login.

`register(app)` installs blueprints, login, CSRF, languages, error handlers and security
headers.
Views stay thin: parse, call one service, render.
"""

from __future__ import annotations

from flask import Flask

from . import api, auth, editorial, i18n, lesson_zip, library, media, resumable, ui  # noqa: F401  (media adds routes to the API)
from . import admin, admin_orgs, admin_users, admin_vocab, stats  # noqa: F401  (issue 5: admin pages, statistics)
from . import mirrors, throttle, tokens  # noqa: F401  (mirrors adds routes to the API and admin)
from . import oai, opds  # issue 7: OAI-PMH provider, OPDS catalog for e-readers
from .csrf import csrf
from .errors import register_error_handlers
from .labels import label_context
from .mirror_mode import init_app as init_mirror_mode
from .uploads import StagingRequest, discard_staged_files

__all__ = ["register", "StagingRequest"]


def register(app: Flask) -> None:
    app.request_class = StagingRequest
    init_mirror_mode(app)  # a mirror refuses writes before anything else looks at them
    auth.login_manager.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    app.context_processor(label_context)
    csrf.exempt(api.bp)  # the API checks CSRF itself, only for session-authenticated requests
    app.register_blueprint(auth.bp)
    throttle.init_app(app)  # limits POST /login
    app.register_blueprint(api.bp)
    app.register_blueprint(api.health_bp)
    csrf.exempt(mirrors.report_bp)  # bearer tokens only (mirrors.py)
    app.register_blueprint(mirrors.report_bp)
    csrf.exempt(resumable.bp)  # tus uploads: CSRF checked like the API (resumable.py)
    app.register_blueprint(resumable.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(library.bp)
    app.register_blueprint(editorial.bp)
    app.register_blueprint(lesson_zip.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(opds.bp)
    app.register_blueprint(opds.bp, name="opds_auth", url_prefix=opds.AUTH_PREFIX)
    throttle.limit_basic_auth(app, "opds", "opds_auth")
    csrf.exempt(oai.bp)  # POST /oai is a read-only harvesting request (OAI-PMH 3.1.1.2)
    app.register_blueprint(oai.bp)
    register_error_handlers(app)
    app.teardown_request(discard_staged_files)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
