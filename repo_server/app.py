"""create_app(settings): the only place that knows every layer.

Nothing connects, reads the environment or logs at import time: gunicorn workers, tests and
the CLI each call this with their own settings (gunicorn can also use the factory string
'repo_server.app:create_app()', which reads REPO_* variables).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from repo_server.config import Settings
from repo_server.logs import configure_logging
from repo_server.services import Services
from repo_server.services.monitoring import MonitoringFigures
from repo_server.tasks import MediaQueue

from . import web
from .web import metrics, tracking

__all__ = ["create_app"]

# Room for the multipart envelope and metadata fields around the file itself.
_FORM_OVERHEAD = 1024 * 1024


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    services = services or Services.open(settings)
    services.require_current_schema()
    queue = MediaQueue(settings, services)
    if services.enqueue is None:  # media jobs of uploads go to the queue after their commit
        services.enqueue = queue.enqueue
    configure_logging(settings)

    app = Flask(__name__.rsplit(".", 1)[0] + ".web")
    app.config.update(
        SECRET_KEY=services.secret_key(),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + _FORM_OVERHEAD,
        MAX_FORM_MEMORY_SIZE=512 * 1024,   # text fields; files stream to staging
        MAX_FORM_PARTS=200,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,          # a token lives as long as the session
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # Chinese stays readable in API answers
    app.json.sort_keys = False     # facet values keep their order (学段 by vocabulary order)
    app.extensions["repo"] = services
    web.register(app)
    tracking.init_app(app, json_lines=settings.log_format == "json")  # request ids, timing, log
    metrics.init_app(app, MonitoringFigures(services, queue_depth=queue.pending))  # /metrics
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,
                                x_proto=settings.proxy_hops, x_host=settings.proxy_hops)
    return app
