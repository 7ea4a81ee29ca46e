"""Login rate limit (Flask-Limiter): failed logins per real client address.

Only failed attempts count (`deduct_when` a 401), so a school whose teachers all share one
NAT address is not locked out by successful logins; once the limit is reached every attempt
from that address, right or wrong, answers 429 with Retry-After until the window passes,
which is what stops password guessing. The key is `request.remote_addr`, which ProxyFix
sets from X-Forwarded-For only for the configured number of trusted proxies
(REPO_PROXY_HOPS), so a client cannot pick its own key by sending that header.

HTTP Basic credentials (the OPDS catalog, web/opds.py) share the same counter ("login"
scope): a wrong password sent by Basic auth counts exactly like a failed login form, and
once the limit is reached Basic requests answer 429 too, so Basic auth cannot be used to
guess passwords around the form's limit. Requests without Basic credentials are not
limited by it.

Counters live in Redis when the deployment has one (REPO_RATE_LIMIT_URL, else
REPO_QUEUE_URL), so every worker and every app node shares them; otherwise in each web
worker's memory.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_limiter import Limiter

__all__ = ["init_app", "storage_uri", "limit_basic_auth"]


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


def _no_basic_credentials() -> bool:
    auth = request.authorization
    return auth is None or auth.type != "basic"


def _failed_basic(response) -> bool:
    return response.status_code == 401 and bool(g.get("basic_auth_failed"))


def init_app(app: Flask) -> None:
    """One limiter per app (its own counters), limiting POST /login; call after the auth
    blueprint is registered."""
    settings = app.extensions["repo"].settings
    limiter = Limiter(key_func=_client_address, app=app, storage_uri=storage_uri(settings),
                      key_prefix="repo-server", headers_enabled=True)
    login = app.view_functions["auth.login"]
    app.view_functions["auth.login"] = limiter.shared_limit(_login_limit, scope="login", methods=["POST"],
                                                            deduct_when=_failed_login)(login)
    app.extensions["repo.limiter"] = limiter


def limit_basic_auth(app: Flask, *blueprints: str) -> None:
    """Put every view of these (registered) blueprints under the login limit, for requests
    that carry Basic credentials; the views set `g.basic_auth_failed` on a wrong one."""
    limiter = app.extensions["repo.limiter"]
    wrapped: dict[object, object] = {}   # a blueprint registered twice shares its functions
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.split(".", 1)[0] in blueprints:
            if view not in wrapped:
                wrapped[view] = limiter.shared_limit(_login_limit, scope="login", exempt_when=_no_basic_credentials,
                                                     deduct_when=_failed_basic)(view)
            app.view_functions[endpoint] = wrapped[view]
