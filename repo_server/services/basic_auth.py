"""HTTP Basic credentials for e-reader apps (OPDS): a password or an API token as password.

Many e-reader apps (KOReader, Moon+ Reader, Thorium) can send only a user name and a
password. A token (`rs_…`, see api_tokens) is accepted in the password field too, so a
teacher need not type their real password into an app; it must belong to the named user.

Apps send the credentials with every request (each feed page, each cover), and a password
check is a deliberately slow scrypt hash. A correct password is therefore remembered for
`CACHE_SECONDS` under an HMAC of the credentials (never the password itself), and each
reuse re-reads the user, so a disabled account or a changed password (its session version
moves on) stops working at once. Wrong credentials are never cached: the caller counts them
against the login rate limit.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

from .accounts import actor_for_session, authenticate
from .actor import Actor
from .api_tokens import TOKEN_PREFIX, actor_for_token
from .context import Services

__all__ = ["CACHE_SECONDS", "actor_for_basic"]

CACHE_SECONDS = 300
_CACHE_SIZE = 1024
_lock = threading.Lock()


def _cache(svc: Services) -> dict[bytes, tuple[int, int, float]]:
    """digest → (user id, session version, expiry), one per Services (one per app)."""
    with _lock:
        return svc.cache.setdefault("basic_auth", {})


def actor_for_basic(svc: Services, username: str, password: str) -> Actor | None:
    """Who these Basic credentials speak for, or None (wrong, disabled, revoked)."""
    if not username or not password:
        return None
    if password.startswith(TOKEN_PREFIX):
        actor = actor_for_token(svc, password)
        return actor if actor is not None and actor.username == username else None
    digest = hmac.new(svc.secret_key().encode(), f"{username}\0{password}".encode(), hashlib.sha256).digest()
    cache, now = _cache(svc), time.monotonic()
    with _lock:
        hit = cache.get(digest)
    if hit is not None and hit[2] > now:
        actor = actor_for_session(svc, hit[0], hit[1])
        if actor is not None and actor.username == username:
            return actor
    result = authenticate(svc, username, password)
    if result is None:
        with _lock:
            cache.pop(digest, None)
        return None
    actor, version = result
    with _lock:
        if len(cache) >= _CACHE_SIZE:
            for key in [k for k, v in cache.items() if v[2] <= now] or list(cache)[: _CACHE_SIZE // 4]:
                cache.pop(key, None)
        cache[digest] = (actor.user_id, version, now + CACHE_SECONDS)
    return actor
