"""Login rate limit (Flask-Limiter): failed logins per real client address.

Only failed attempts count (`deduct_when` a 401), so a school whose teachers all share one
NAT address is not locked out by successful logins; once the limit is reached every attempt
from that address, right or wrong, answers 429 with Retry-After until the window passes,
which is what stops password guessing. The key is `request.remote_addr`, which ProxyFix
sets from X-Forwarded-For only for the configured number of trusted proxies
(REPO_PROXY_HOPS), so a client cannot pick its own key by sending that header.

Counters live in Redis when the deployment has one (REPO_RATE_LIMIT_URL, else
REPO_QUEUE_URL), so every worker and every app node shares them; otherwise in each web
worker's memory.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter

__all__ = ["init_app", "storage_uri"]


def _client_address() -> str:
    return request.remote_addr or "unknown"


def storage_uri(settings) -> str:
    if settings.rate_limit_url:
        return settings.rate_limit_url
    if settings.queue_url.startswith(("redis://", "rediss://")):
        return settings.queue_url
    return "memory://"


def _login_limit() -> str:
    return current_app.extensions["repo"].settings.login_limit


def _failed_login(response) -> bool:
    return response.status_code == 401


def init_app(app: Flask) -> None:
    """One limiter per app (its own counters), limiting POST /login; call after the auth
    blueprint is registered."""
    settings = app.extensions["repo"].settings
    limiter = Limiter(key_func=_client_address, app=app, storage_uri=storage_uri(settings),
                      key_prefix="repo-server", headers_enabled=True)
    login = app.view_functions["auth.login"]
    app.view_functions["auth.login"] = limiter.limit(_login_limit, methods=["POST"],
                                                     deduct_when=_failed_login)(login)
    app.extensions["repo.limiter"] = limiter
