"""Uploads stream straight into the staging area while werkzeug parses the form.

`StagingRequest._get_file_stream` hands werkzeug's multipart parser a `StagedFile` (hashing
as it writes, on the same disk as the blob store) instead of a temporary file, so a multi-GB
upload is written once, hashed once, and never held in memory. Every staged file a request
created is discarded when the request ends unless a service adopted it; a dropped or
truncated upload therefore leaves nothing behind.
"""

from __future__ import annotations

from typing import IO

from flask import Request, current_app, g
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestEntityTooLarge

from repo_server.blobstore import StagedFile
from repo_server.errors import IncompleteUpload, InvalidInput, TooLarge

__all__ = ["StagingRequest", "received_file", "discard_staged_files"]


class StagingRequest(Request):
    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        services = current_app.extensions["repo"]
        staged = services.staging.new(max_bytes=services.settings.max_upload_bytes,
                                      filename=filename)
        g.setdefault("staged_files", []).append(staged)
        return staged  # type: ignore[return-value]


def received_file(request: Request, field: str = "file") -> tuple[StagedFile, str]:
    """The staged file and the client's file name for one upload field, or a clear error.

    Reading `request.files` runs the parser; parse failures become upload errors here.
    """
    try:
        files = request.files
    except RequestEntityTooLarge:
        raise TooLarge("the upload is larger than the limit of "
                       f"{request.max_content_length:,} bytes") from None
    except ClientDisconnected:
        raise IncompleteUpload("the upload ended before all of it arrived (connection dropped "
                               "or cancelled); nothing was stored, please send it again") from None
    except BadRequest as exc:
        raise InvalidInput(f"the upload could not be read: {exc.description}") from None
    storage: FileStorage | None = files.get(field)
    if storage is None or not isinstance(storage.stream, StagedFile):
        if any(not s.complete for s in g.get("staged_files", [])):
            raise IncompleteUpload("the upload ended before all of it arrived (connection "
                                   "dropped or cancelled); nothing was stored, please send it again")
        raise InvalidInput(f"no file: send it as the multipart field {field!r}", field=field)
    if not storage.filename:
        raise InvalidInput("no file was chosen", field=field)
    return storage.stream, storage.filename


def discard_staged_files(_exc: BaseException | None = None) -> None:
    """Request teardown: forget any staged bytes no service adopted."""
    for staged in g.pop("staged_files", []):
        staged.discard()
