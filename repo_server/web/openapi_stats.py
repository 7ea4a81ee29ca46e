"""The OpenAPI description of GET /api/v1/stats (merged into openapi.py's document)."""

from __future__ import annotations

from typing import Any

from repo_server.services.statistics import PERIODS

__all__ = ["stats_paths"]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _rows(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "object", "properties": props}}


_INT, _STR = {"type": "integer"}, {"type": "string"}
_NSTR, _NINT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}

STATS_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "days": _INT, "first_day": {"type": "string", "format": "date"},
    "last_day": {"type": "string", "format": "date"},
    "scope": {"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["district", "organisation"]},
        "org_id": _NINT, "org_name": _NSTR}},
    "downloads": {"type": "integer", "description": "Downloads in the period, bots excluded"},
    "bot_downloads": {"type": "integer", "description": "Downloads by crawlers and scripts (not counted)"},
    "per_day": _rows(day={"type": "string", "format": "date"}, downloads=_INT),
    "per_subject": _rows(code=_NSTR, name=_NSTR, downloads=_INT),
    "per_organisation": _rows(id=_NINT, name=_NSTR, downloads=_INT, kind={
        "type": "string", "description": "city, county, school, other; visitor (not logged in); "
                                         "none (account without organisation)"}),
    "top_resources": _rows(id=_STR, title=_STR, downloads=_INT, all_time=_INT),
    "library": {"type": "object", "properties": {
        "resources": _INT, "downloads_all_time": _INT,
        "by_format": _rows(format=_STR, count=_INT),
        "by_type": _rows(code=_NSTR, name=_NSTR, count=_INT),
        "uploads_per_month": _rows(month={"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                   uploads=_INT)}},
}}


def stats_paths() -> dict[str, Any]:
    return {"/api/v1/stats": {"get": {
        "summary": "Download and library statistics (editors: their subtree; admins: the district)",
        "description": "Days are China Standard Time and zero-filled. Downloads are grouped by the "
                       "downloader's organisation at the time; editors see downloads by people of "
                       "their organisation and those below it, and the library counts of resources "
                       "belonging to it. Top resources list only what the caller may see.",
        "parameters": [{"name": "days", "in": "query",
                        "schema": {"type": "integer", "enum": list(PERIODS), "default": 30}}],
        "responses": {"200": {"description": "The numbers", "content": {
            "application/json": {"schema": STATS_SCHEMA}}},
            "401": _error("Not logged in"), "403": _error("Not an editor"),
            "422": _error("days is not one of 30, 90, 365")}}}}
