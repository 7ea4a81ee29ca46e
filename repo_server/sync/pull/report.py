"""Telling the upstream how this mirror is doing: POST the status JSON to its
`/api/v1/mirrors/report` with a bearer token. Best effort: a failure to report is logged
and never fails the sync (the upstream may be the very thing that is down)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Callable

__all__ = ["post_status"]


def post_status(url: str, token: str, status: dict[str, Any], *, timeout_s: float = 15.0,
                log: Callable[[str], None] = lambda _: None) -> bool:
    request = urllib.request.Request(
        url, data=json.dumps(status, ensure_ascii=False).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read(65536)
        return True
    except urllib.error.HTTPError as exc:
        log(f"reporting to {url} failed: HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log(f"reporting to {url} failed: {getattr(exc, 'reason', exc)}")
    return False
