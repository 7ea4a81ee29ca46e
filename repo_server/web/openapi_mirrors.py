"""The OpenAPI description of the mirror status endpoints, POST /api/v1/mirrors/report and
GET /api/v1/mirrors (merged into openapi.py's document). The limits come from the checks
themselves (services/mirror_status.py), so the document cannot drift from them."""

from __future__ import annotations

from typing import Any

from repo_server.catalog.models import SYNC_RESULTS
from repo_server.services.mirror_reports import STATUS_MAX_BYTES
from repo_server.services.mirror_status import (CHAIN_MAX, ERROR_MAX, NAME_MAX, STATUS_KEYS,
                                                UPSTREAM_MAX)

__all__ = ["mirrors_paths"]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a time zone, e.g. 2026-11-24T03:00:00Z"}
_NTIME = {**_TIME, "type": ["string", "null"]}
_COUNT = {"type": ["integer", "null"], "minimum": 0}

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": list(STATUS_KEYS),
    "description": "What the sync script writes to <REPO_DATA_DIR>/sync/status.json after each run. "
                   "Keys not listed here are ignored.",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX,
                 "description": "The mirror's REPO_MIRROR_NAME; plain text"},
        "upstream": {"type": "string", "maxLength": UPSTREAM_MAX,
                     "description": "rsync://host[:port]/module, user@host:path or a local path"},
        "serial": {**_COUNT, "description": "The upstream serial the mirror holds (null: none yet)"},
        "upstream_serial": {**_COUNT, "description": "The serial the upstream offered at the last attempt"},
        "result": {"type": "string", "enum": list(SYNC_RESULTS)},
        "error": {"type": ["string", "null"], "maxLength": ERROR_MAX},
        "last_success_at": _NTIME, "last_attempt_at": _TIME,
        "bytes": {"type": "integer", "minimum": 0, "description": "Bytes fetched by the last run"},
        "duration_s": {"type": "number", "minimum": 0},
        "chain": {"type": "array", "maxItems": CHAIN_MAX,
                  "items": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
                  "description": "Tier names, the origin first"},
    },
}

_LAG = {
    "behind": {"type": ["integer", "null"], "description": "Serials behind (null: unknown)"},
    "since_success_s": {"type": ["integer", "null"], "description": "Seconds since the last success"},
    "stale": {"type": "boolean", "description": "No success for longer than REPO_MIRROR_STALE_HOURS"},
}

MIRROR_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    **STATUS_SCHEMA["properties"],
    "username": {"type": "string", "description": "The account that reports under this name"},
    "organisation": {"type": ["string", "null"]},
    "reported_at": _TIME, "remote_addr": {"type": "string"}, **_LAG}}

LOCAL_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "This server's own status as a mirror (null: it is not one). When the status "
                   "file cannot be read, only readable=false, path and problem.",
    "properties": {**STATUS_SCHEMA["properties"], "readable": {"type": "boolean"},
                   "path": {"type": "string"}, "problem": {"type": "string"}, **_LAG}}


def mirrors_paths() -> dict[str, Any]:
    return {
        "/api/v1/mirrors/report": {"post": {
            "summary": "A downstream mirror reports how its last sync went",
            "description": "Needs an API token (any role: a school mirror uses a teacher account of "
                           "its school). The first account to report a name owns it; reports under "
                           "that name from other accounts are refused, except an administrator's. "
                           "Each report replaces the mirror's previous one.",
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": STATUS_SCHEMA}}},
            "responses": {
                "200": {"description": "What was stored, with the lag against this server's serial",
                        "content": {"application/json": {"schema": MIRROR_SCHEMA}}},
                "401": _error("No API token, or an invalid one (reason mirror_token, bad_token)"),
                "403": _error("The name belongs to another account (reason mirror_owned)"),
                "413": _error(f"Body larger than {STATUS_MAX_BYTES} bytes (reason report_too_large)"),
                "422": _error("Not a JSON object, a key missing or a value refused: reason, field, "
                              "and every problem in errors when several")}}},
        "/api/v1/mirrors": {"get": {
            "summary": "Downstream mirrors with their lag (editors: their subtree; admins: all)",
            "description": "Stale mirrors first, then the furthest behind. `behind` counts serials "
                           "behind published_serial, this server's CURRENT.",
            "responses": {
                "200": {"description": "The mirrors", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "published_serial": {"type": ["integer", "null"]},
                        "stale_hours": {"type": "integer"}, "now": _TIME,
                        "stale": {"type": "integer", "description": "How many are stale"},
                        "mirrors": {"type": "array", "items": MIRROR_SCHEMA},
                        "local": LOCAL_SCHEMA}}}}},
                "401": _error("Not logged in"), "403": _error("Not an editor or administrator")}}},
        "/api/v1/mirrors/{name}": {"delete": {
            "summary": "Forget a retired mirror (a closed school, one now syncing from elsewhere)",
            "description": "Editors remove mirrors of their subtree, administrators any. A mirror that "
                           "reports again reappears.",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "204": {"description": "Removed"},
                "401": _error("Not logged in"), "403": _error("Not an editor or administrator"),
                "404": _error("No such mirror among those the caller sees (reason no_mirror)")}}},
    }
