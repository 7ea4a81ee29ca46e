"""The OpenAPI description of the resumable upload endpoints (tus 1.0.0, web/resumable.py),
merged into /api/v1/openapi.json by openapi.py. The protocol itself is tus's
(https://tus.io/protocols/resumable-upload); this says which headers and answers we use."""

from __future__ import annotations

from typing import Any

__all__ = ["upload_paths"]


def _header(name: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": {"type": "string"}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def upload_paths() -> dict[str, Any]:
    tus = _header("Tus-Resumable", "Always `1.0.0`.")
    uid = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}
    state = {"type": "object", "properties": {
        "id": {"type": "string"}, "state": {"type": "string", "enum": ["receiving", "done", "failed"]},
        "offset": {"type": "integer"}, "length": {"type": "integer"},
        "filename": {"type": "string"}, "relative_path": {"type": "string"},
        "metadata": {"type": "object"}, "allow_duplicate": {"type": "boolean"},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "expires_at": {"type": "string"},
        "resource": {"oneOf": [{"$ref": "#/components/schemas/Resource"}, {"type": "null"}]},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}},
        "retry": {"type": "boolean", "description": "A refused file whose bytes are kept: "
                  "POST …/ingest with corrected fields files it."}}}
    return {
        "/api/v1/uploads/": {
            "post": {"summary": "Create a resumable upload (tus creation)",
                     "description": "Upload-Metadata carries `filename` (or `relative_path` for a "
                                    "file of a folder: its folders classify it as the bulk import "
                                    "does), `allow_duplicate` and any metadata field, each value "
                                    "base64-encoded UTF-8. Metadata is validated here, before "
                                    "any byte is sent.",
                     "parameters": [tus, _header("Upload-Length", "Size of the file in bytes."),
                                    _header("Upload-Metadata", "`key base64,key base64…`",
                                            required=False)],
                     "responses": {"201": {"description": "Created; Location is the upload's URL"},
                                   "400": _error("Malformed header"),
                                   "412": _error("Tus-Resumable missing or not 1.0.0"),
                                   "413": _error("Larger than REPO_MAX_UPLOAD_BYTES"),
                                   "415": _error("A program or script, by its name"),
                                   "422": _error("Invalid metadata (every problem in `errors`)"),
                                   "507": _error("Not enough free space on the server")}}},
        "/api/v1/uploads/{upload_id}": {
            "get": {"summary": "The upload's state: the resource once filed, or why it was refused",
                    "parameters": [uid],
                    "responses": {"200": {"description": "State", "content": {
                        "application/json": {"schema": state}}},
                        "404": _error("No such upload, someone else's, or expired")}},
            "patch": {"summary": "Append bytes at Upload-Offset (tus core); files the upload "
                                 "when its last byte arrives",
                      "parameters": [uid, tus, _header("Upload-Offset", "Where these bytes start."),
                                     _header("Upload-Checksum", "`sha1|sha256|md5 <base64>` of "
                                             "this body", required=False)],
                      "requestBody": {"required": True, "content": {
                          "application/offset+octet-stream": {"schema": {"type": "string",
                                                                          "format": "binary"}}}},
                      "responses": {"204": {"description": "Appended; Upload-Offset is the new "
                                                           "offset, Upload-State receiving, done "
                                                           "or failed"},
                                    "409": _error("Upload-Offset is not the upload's offset"),
                                    "413": _error("More bytes than the declared length"),
                                    "415": _error("Wrong Content-Type"),
                                    "423": _error("Another request is writing this upload"),
                                    "460": _error("Checksum mismatch; nothing appended")}},
            "delete": {"summary": "Terminate the upload (tus termination)",
                       "parameters": [uid, tus],
                       "responses": {"204": {"description": "Deleted"},
                                     "404": _error("No such upload")}},
        },
        "/api/v1/uploads/{upload_id}/ingest": {
            "post": {"summary": "File a refused upload again with changed fields",
                     "parameters": [uid],
                     "requestBody": {"content": {"application/json": {"schema": {
                         "type": "object", "description": "Fields to change (an empty value "
                                                          "removes one) and allow_duplicate."}}}},
                     "responses": {"201": {"description": "Filed", "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/Resource"}}}},
                         "409": _error("Not a refused upload with its bytes kept, or a duplicate"),
                         "422": _error("Invalid metadata")}}},
    }
