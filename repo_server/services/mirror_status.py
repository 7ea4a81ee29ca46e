"""The sync status object of a downstream mirror, checked field by field.

The downstream sync script writes it to `<REPO_DATA_DIR>/sync/status.json` after every run
and POSTs the same object to its upstream (`POST /api/v1/mirrors/report`):

    {"name": "一小", "upstream": "rsync://county.example/repo", "serial": 41,
     "upstream_serial": 42, "result": "retry", "error": "connection timed out",
     "last_success_at": "2026-11-23T03:00:00Z", "last_attempt_at": "2026-11-24T03:00:00Z",
     "bytes": 1048576, "duration_s": 12.5, "chain": ["某市电教馆", "某县电教站"]}

A report comes from a machine at a school and ends up on an administrator's page, so every
value is checked for its type and bounded in length before anything is stored: text is NFC
plain text without control characters (names also without markup), numbers are whole and
not negative (booleans are not numbers), times are ISO 8601 with a time zone, `result` is
one of SYNC_RESULTS. Keys this version does not know are ignored, so a newer school script
can still report to an older county server. Every problem is collected, each with its
`field`, a `reason` and the values its explanation needs (as services/fields.py does);
echoed values are cut short, so a megabyte of junk is not sent back.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from repo_server.catalog.models import SYNC_RESULTS
from repo_server.errors import InvalidInput

from .fields import _MARKUP  # the one definition of "markup"

__all__ = ["SyncStatus", "STATUS_KEYS", "NAME_MAX", "UPSTREAM_MAX", "ERROR_MAX", "CHAIN_MAX",
           "parse_status", "iso"]

STATUS_KEYS = ("name", "upstream", "serial", "upstream_serial", "result", "error",
               "last_success_at", "last_attempt_at", "bytes", "duration_s", "chain")
NAME_MAX = 100          # a mirror's name, and each name in its chain (REPO_MIRROR_NAME)
UPSTREAM_MAX = 500      # rsync://host:port/module, user@host:path or a local path
ERROR_MAX = 2000        # the last error: a sentence or two of rsync's words, not a log
CHAIN_MAX = 16          # tiers from the origin down: three in practice
SERIAL_MAX = 2**31 - 1  # the catalog's integer column
BYTES_MAX = 2**63 - 1
DURATION_MAX = 10**7    # seconds: four months
_SHOWN = 60             # characters of a refused value echoed in the answer
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class SyncStatus:
    """A checked status object: times are aware UTC datetimes, `chain` a tuple of names."""

    name: str
    upstream: str
    serial: int | None
    upstream_serial: int | None
    result: str
    error: str | None
    last_success_at: datetime | None
    last_attempt_at: datetime
    bytes: int
    duration_s: float
    chain: tuple[str, ...]


def iso(value: datetime | None) -> str | None:
    """A UTC time as the status object writes it: 2026-11-24T03:00:00Z."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _text(field: str, value: Any, limit: int, *, name: bool = False, lines: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field, reason="not_text")
    if len(value) > limit * 4:   # before normalising a megabyte
        raise InvalidInput(f"{field} is {len(value)} characters long; the limit is {limit}",
                           field=field, reason="too_long", length=len(value), max_length=limit)
    text = unicodedata.normalize("NFC", value).strip()
    allowed = {"\n", "\t"} if lines else set()
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in text):
        raise InvalidInput(f"{field} contains control characters", field=field, reason="control_chars")
    if name and _MARKUP.search(text):
        raise InvalidInput(f"{field} contains markup; a name is plain text", field=field, reason="markup")
    if len(text) > limit:
        raise InvalidInput(f"{field} is {len(text)} characters long; the limit is {limit}",
                           field=field, reason="too_long", length=len(text), max_length=limit)
    return text


def _name(field: str, value: Any) -> str:
    text = _text(field, value, NAME_MAX, name=True)
    if not text:
        raise InvalidInput(f"{field} is empty", field=field, reason="mirror_name")
    return text


def _number(field: str, value: Any, maximum: int, *, whole: bool = True) -> Any:
    kinds = (int,) if whole else (int, float)
    if (isinstance(value, bool) or not isinstance(value, kinds)
            or (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= maximum):
        kind = "a whole number" if whole else "a number"
        raise InvalidInput(f"{field} must be {kind} from 0 to {maximum} (got {_shown(value)})",
                           field=field, reason="mirror_number", maximum=maximum, value=_shown(value))
    return value


def _time(field: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an ISO 8601 time as text", field=field, reason="not_text")
    try:
        if not _TIME.match(value):
            raise ValueError(value)
        # Python reads at most 6 decimals: cut nanoseconds to microseconds.
        moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time with a time zone, like "
                           f"2026-11-24T03:00:00Z (got {_shown(value)})", field=field,
                           reason="mirror_time", value=_shown(value)) from None
    return moment.astimezone(timezone.utc)


def _result(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field, reason="not_text")
    if value not in SYNC_RESULTS:
        raise InvalidInput(f"{field} must be one of {', '.join(SYNC_RESULTS)} (got {_shown(value)})",
                           field=field, reason="choice", value=_shown(value), choices=list(SYNC_RESULTS))
    return value


def _chain(field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > CHAIN_MAX:
        raise InvalidInput(f"{field} must be a list of at most {CHAIN_MAX} names", field=field,
                           reason="mirror_chain", maximum=CHAIN_MAX, max_length=NAME_MAX)
    return tuple(_name(field, item) for item in value)


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda field, value: None if value is None else check(field, value)


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _name,
    "upstream": lambda f, v: _text(f, v, UPSTREAM_MAX),
    "serial": _optional(lambda f, v: _number(f, v, SERIAL_MAX)),
    "upstream_serial": _optional(lambda f, v: _number(f, v, SERIAL_MAX)),
    "result": _result,
    "error": _optional(lambda f, v: _text(f, v, ERROR_MAX, lines=True) or None),
    "last_success_at": _optional(_time),
    "last_attempt_at": _time,
    "bytes": lambda f, v: _number(f, v, BYTES_MAX),
    "duration_s": lambda f, v: float(_number(f, v, DURATION_MAX, whole=False)),
    "chain": _chain,
}


def parse_status(raw: Any) -> SyncStatus:
    """The status object checked, or InvalidInput: the one problem, or reason "fields" with
    every problem in `errors`."""
    if not isinstance(raw, dict):
        raise InvalidInput("the status must be a JSON object with the keys " + ", ".join(STATUS_KEYS),
                           reason="json_object")
    values: dict[str, Any] = {}
    errors: list[InvalidInput] = []
    for key in STATUS_KEYS:
        if key not in raw:
            errors.append(InvalidInput(f"{key} is missing", field=key, reason="mirror_missing"))
            continue
        try:
            values[key] = _CHECKS[key](key, raw[key])
        except InvalidInput as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidInput(f"{len(errors)} fields are invalid: " + "; ".join(e.message for e in errors),
                           reason="fields", count=len(errors), errors=[e.as_dict() for e in errors])
    return SyncStatus(**values)
