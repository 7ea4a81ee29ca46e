"""Log lines for people or for a log collector (REPO_LOG_FORMAT=text|json).

`configure_logging(settings)` is called by `create_app` (web workers), `repo-server worker` and
`repo-server index run`; `GunicornJsonLogger` puts gunicorn's own error log in the same JSON
shape. A JSON line carries `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`,
`message`, the traceback as `exc_info` when there is one, and every field a caller passed
with `extra={"fields": {...}}` (the web layer's per-request line: request id, method,
endpoint, status, duration, user, client address; docs/operations.md).

Nothing here runs at import time.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from repo_server.config import Settings

__all__ = ["JsonFormatter", "configure_logging", "announce", "GunicornJsonLogger", "TEXT_FORMAT"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line; Chinese stays readable (no \\u escapes)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, timezone.utc)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings) -> None:
    """Give the root logger the configured level and one stderr handler in the configured
    format; like `logging.basicConfig`, leave handlers someone else installed (a test
    runner's) alone, and do nothing more when called again in the same process."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_formatter(settings))
        root.addHandler(handler)
    if settings.log_format == "json":
        logging.captureWarnings(True)   # Python's warnings too, instead of bare stderr text


def announce(settings: Settings, logger: str, message: str) -> None:
    """A long-running command's start-up line: as written on stderr for people, or as a log
    record (level info) when the log is JSON, so every line of the output parses."""
    if settings.log_format == "json":
        logging.getLogger(logger).info(message)
    else:
        print(message, file=sys.stderr, flush=True)


class GunicornJsonLogger(GunicornLogger):
    """gunicorn's logger with its error log (start, worker boot and exit, timeouts) as JSON
    lines; `repo-server serve` uses it when REPO_LOG_FORMAT=json (and then turns gunicorn's
    access log off: the app writes one richer JSON line per request)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
