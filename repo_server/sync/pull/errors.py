"""What a sync run can end in besides success, sorted by what the operator should do.

`SyncFailure.kind` maps to the script's exit code: "retry" (75: the network, a busy or
stalled upstream — cron simply runs again), "config" (78: bad credentials, an unknown
module, a refused option, a bad --only — a person must fix something), "failed" (1:
anything else, e.g. an object that keeps failing verification).
"""

from __future__ import annotations

__all__ = ["SyncFailure", "EXIT_CODES", "RESULTS"]

#: result → exit code of scripts/repo-sync
EXIT_CODES = {"ok": 0, "up_to_date": 0, "retry": 75, "config": 78, "failed": 1}
RESULTS = tuple(EXIT_CODES)


class SyncFailure(Exception):
    """A run that stops: `kind` is "retry", "config" or "failed"; `message` says why."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in ("retry", "config", "failed"), kind
        super().__init__(message)
        self.kind, self.message = kind, message
