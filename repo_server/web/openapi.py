"""The OpenAPI 3.1 description of /api/v1, built from the field declarations so that the
document and the validation can never disagree. Tests validate it with
openapi-spec-validator and check that every API route is described."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from repo_server import __version__
from repo_server.catalog.models import DERIVATIVE_STATES, JOB_STATES
from repo_server.services.fields import FIELDS
from repo_server.services.media_plan import DERIVATIVE_PROFILES

from .openapi_mirrors import mirrors_paths
from .openapi_stats import stats_paths
from .openapi_uploads import upload_paths

__all__ = ["openapi_document"]


def _field_schema(field) -> dict[str, Any]:
    if field.kind == "tags":
        return {"type": "array", "items": {"type": "string", "maxLength": field.max_length},
                "description": field.help}
    schema: dict[str, Any] = {"type": "string", "description": f"{field.label}. {field.help}"}
    if field.kind == "choice":
        schema["enum"] = list(field.choices)
    else:
        schema["maxLength"] = field.max_length
    return schema


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    metadata = {f.name: _field_schema(f) for f in FIELDS}
    term = {"type": ["object", "null"], "properties": {"code": {"type": "string"},
                                                      "name": {"type": "string"}}}
    resource_props: dict[str, Any] = {
        "id": {"type": "string"}, "sha256": {"type": "string"}, "size": {"type": "integer"},
        "mime": {"type": "string"}, "format": {"type": "string"}, "filename": {"type": "string"},
        "url": {"type": "string"}, "download_url": {"type": "string"}, "page_url": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "organisation": {"type": ["object", "null"]}, "owner_id": {"type": ["integer", "null"]},
        "download_count": {"type": "integer", "description": "Downloads by people (bots not counted)"},
        "derivatives": {"type": "array", "items": _ref("Derivative")},
        "media": {"oneOf": [_ref("MediaJob"), {"type": "null"}]},
    }
    for f in FIELDS:
        resource_props[f.name] = term if f.kind == "vocab" else _field_schema(f)
    rid = {"name": "resource_id", "in": "path", "required": True, "schema": {"type": "string"}}
    not_found = _error("No such resource, or not visible to you")
    return {
        "openapi": "3.1.0",
        "info": {"title": "repo-server API", "version": __version__,
                 "description": "District education-resource repository. Authenticate scripts "
                                "with `Authorization: Bearer <token>` (`repo-server token create`)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {}],
        "paths": {
            "/api/v1/resources": {
                "get": {"summary": "List resources visible to the caller, newest first",
                        "parameters": [
                            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                            {"name": "per_page", "in": "query",
                             "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                        "responses": {"200": {"description": "A page of resources", "content": {
                            "application/json": {"schema": _ref("ResourcePage")}}},
                            "422": _error("Bad paging parameters")}},
                "post": {"summary": "Upload a file with its metadata",
                         "requestBody": {"required": True, "content": {"multipart/form-data": {
                             "schema": {"type": "object", "required": ["file"], "properties": {
                                 "file": {"type": "string", "format": "binary"},
                                 "allow_duplicate": {"type": "boolean", "description":
                                     "File bytes already in the library again, with this metadata"},
                                 **metadata}},
                             "encoding": {"tags": {"style": "form", "explode": True}}}}},
                         "responses": {
                             "201": {"description": "Created", "content": {
                                 "application/json": {"schema": _ref("Resource")}}},
                             "400": _error("The upload was cut off"),
                             "401": _error("Not logged in"), "403": _error("Not an editor"),
                             "409": _error("Same bytes already in the library"),
                             "413": _error("Larger than REPO_MAX_UPLOAD_BYTES"),
                             "415": _error("Executable, unsupported, or the extension lies"),
                             "422": _error("Invalid metadata or empty file")}}},
            "/api/v1/resources/bulk": {
                "post": {"summary": "The same change to many resources (bulk edit, bulk tag, publish)",
                         "description": "Validated once, applied in one transaction to each listed "
                                        "resource the caller may change; the others are skipped and "
                                        "reported. At most 500 ids.",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"type": "object", "required": ["ids"], "properties": {
                                 "ids": {"type": "array", "items": {"type": "string"}, "maxItems": 500},
                                 "changes": {"type": "object", "properties": {
                                     k: v for k, v in metadata.items() if k != "tags"},
                                     "additionalProperties": False},
                                 "add_tags": {"type": "array", "items": {"type": "string"}},
                                 "remove_tags": {"type": "array", "items": {"type": "string"}}}}}}},
                         "responses": {"200": {"description": "What changed", "content": {
                             "application/json": {"schema": {"type": "object", "properties": {
                                 "changed": {"type": "array", "items": {"type": "string"}},
                                 "unchanged": {"type": "array", "items": {"type": "string"}},
                                 "skipped": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
                             "401": _error("Not logged in"), "403": _error("Not an editor"),
                             "422": _error("Invalid change; nothing was changed")}}},
            "/api/v1/resources/{resource_id}": {
                "parameters": [rid],
                "get": {"summary": "One resource",
                        "responses": {"200": {"description": "The resource", "content": {
                            "application/json": {"schema": _ref("Resource")}}}, "404": not_found}},
                "patch": {"summary": "Change metadata, visibility or status",
                          "requestBody": {"required": True, "content": {"application/json": {
                              "schema": {"type": "object", "properties": metadata,
                                         "additionalProperties": False}}}},
                          "responses": {"200": {"description": "Changed", "content": {
                              "application/json": {"schema": _ref("Resource")}}},
                              "403": _error("Not allowed"), "404": not_found,
                              "422": _error("Invalid metadata")}},
                "delete": {"summary": "Withdraw a resource",
                           "responses": {"204": {"description": "Withdrawn"},
                                         "403": _error("Not allowed"), "404": not_found}}},
            "/api/v1/resources/{resource_id}/download": {
                "parameters": [rid, {"name": "inline", "in": "query", "schema": {"type": "boolean"}}],
                "get": {"summary": "The original file (Range, ETag, If-None-Match, If-Range)",
                        "responses": {"200": {"description": "The file"},
                                      "206": {"description": "Part of the file"},
                                      "302": {"description": "Presigned S3 URL (redirect mode)"},
                                      "304": {"description": "Not modified"},
                                      "404": not_found,
                                      "416": {"description": "Range not satisfiable"}}}},
            "/api/v1/resources/{resource_id}/derivatives/{profile}": {
                "parameters": [rid, {"name": "profile", "in": "path", "required": True,
                                     "schema": {"type": "string", "enum": list(DERIVATIVE_PROFILES)}},
                               {"name": "download", "in": "query", "schema": {"type": "boolean"},
                                "description": "As an attachment (counted as a download for "
                                               "video and audio renditions); inline otherwise"}],
                "get": {"summary": "A rendition or preview file (Range, ETag), checked like the original",
                        "responses": {"200": {"description": "The file"},
                                      "206": {"description": "Part of the file"},
                                      "302": {"description": "Presigned S3 URL (redirect mode)"},
                                      "304": {"description": "Not modified"},
                                      "404": _error("No such resource or derivative, or not made yet"),
                                      "416": {"description": "Range not satisfiable"}}}},
            "/api/v1/resources/{resource_id}/derivatives/pages/{number}": {
                "parameters": [rid, {"name": "number", "in": "path", "required": True,
                                     "schema": {"type": "integer", "minimum": 1}}],
                "get": {"summary": "One page image of a document (WebP, or PNG)",
                        "responses": {"200": {"description": "The image"},
                                      "304": {"description": "Not modified"},
                                      "404": _error("No such page, or not made yet")}}},
            "/api/v1/resources/{resource_id}/derivatives/storyboard.vtt": {
                "parameters": [rid],
                "get": {"summary": "Seek previews: WebVTT cues into the storyboard sprite (#xywh=)",
                        "responses": {"200": {"description": "text/vtt"},
                                      "404": _error("No storyboard (yet)")}}},
            "/api/v1/resources/{resource_id}/media/{action}": {
                "parameters": [rid, {"name": "action", "in": "path", "required": True,
                                     "schema": {"type": "string", "enum": ["retry", "cancel"]}}],
                "post": {"summary": "Retry a failed media job, or cancel a queued or running one",
                         "responses": {"200": {"description": "The resource", "content": {
                             "application/json": {"schema": _ref("Resource")}}},
                             "403": _error("Not allowed to change this resource"),
                             "404": _error("No such resource, or it has no media job"),
                             "422": _error("The job is not in a state for this action")}}},
            "/api/v1/search": {
                "get": {"summary": "Full-text search with facets, permission-filtered",
                        "description": "Chinese full text over titles, descriptions, tags, "
                                       "classification and extracted text; pinyin (gougu, ggdl), "
                                       "traditional characters and vocabulary aliases work. "
                                       "Facet counts for a filtered field ignore that field's "
                                       "own filter. Only the first 10,000 results can be paged.",
                        "parameters": [
                            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                            *({"name": f, "in": "query", "style": "form", "explode": True,
                               "description": "Filter; repeat for any-of. Names, codes or aliases.",
                               "schema": {"type": "array", "items": {"type": "string"}}}
                              for f in ("stage", "grade", "subject", "edition", "volume", "type",
                                        "format", "org")),
                            {"name": "sort", "in": "query",
                             "schema": {"type": "string", "enum": ["relevance", "newest", "downloads"]}},
                            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                            {"name": "per_page", "in": "query",
                             "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                        "responses": {"200": {"description": "Results", "content": {
                            "application/json": {"schema": _ref("SearchResults")}}},
                            "400": _error("Query too long, unknown filter value, paging too deep")}}},
            "/api/v1/vocabularies": {
                "get": {"summary": "Controlled vocabularies with aliases",
                        "responses": {"200": {"description": "Schemes and their terms"}}}},
            "/api/v1/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
            **upload_paths(),
            **stats_paths(),
            **mirrors_paths(),
            "/healthz": {
                "get": {"summary": "Liveness and readiness",
                        "responses": {"200": {"description": "Healthy"},
                                      "503": {"description": "Catalog or blob store unreachable"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string", "description": "English"},
                    "field": {"type": "string"},
                    "reason": {"type": "string", "description": "What exactly was refused (too_long, "
                               "unknown_term …), with the values a translation needs beside it "
                               "(max_length, value, suggestions …)"},
                    "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"},
                               "description": "Every problem, when several fields are invalid"}}},
                "Resource": {"type": "object", "properties": resource_props},
                "Derivative": {"type": "object", "required": ["profile", "status"], "properties": {
                    "profile": {"type": "string", "enum": list(DERIVATIVE_PROFILES)},
                    "status": {"type": "string", "enum": list(DERIVATIVE_STATES)},
                    "message": {"type": "string"}, "url": {"type": ["string", "null"]},
                    "size": {"type": ["integer", "null"]}, "mime": {"type": ["string", "null"]},
                    "sha256": {"type": ["string", "null"]},
                    "duration": {"type": "number"}, "width": {"type": "integer"},
                    "height": {"type": "integer"}, "page_count": {"type": "integer"},
                    "page_urls": {"type": "array", "items": {"type": "string"}},
                    "vtt_url": {"type": "string"},
                    "entries": {"type": "array", "items": {"type": "object", "properties": {
                        "title": {"type": "string"}, "level": {"type": "integer"}}}}}},
                "MediaJob": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "kind": {"type": "string"},
                    "status": {"type": "string", "enum": list(JOB_STATES)},
                    "message": {"type": "string"}, "progress": {"type": "number"},
                    "attempts": {"type": "integer"}}},
                "SearchResults": {"type": "object", "properties": {
                    "query": {"type": "string"}, "total": {"type": "integer"},
                    "page": {"type": "integer"}, "per_page": {"type": "integer"},
                    "sort": {"type": "string"}, "relaxed": {"type": "boolean"},
                    "did_you_mean": {"type": ["string", "null"]},
                    "facets": {"type": "object", "additionalProperties": {
                        "type": "object", "additionalProperties": {"type": "integer"}}},
                    "hits": {"type": "array", "items": {"allOf": [_ref("Resource"), {
                        "type": "object", "properties": {
                            "title_html": {"type": "string"}, "snippet": {"type": "string"},
                            "download_count": {"type": "integer"}}}]}}}},
                "ResourcePage": {"type": "object", "properties": {
                    "total": {"type": "integer"}, "page": {"type": "integer"},
                    "per_page": {"type": "integer"},
                    "items": {"type": "array", "items": _ref("Resource")}}},
            },
        },
    }
