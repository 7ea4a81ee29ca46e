"""HTTP responses for blobs: GET/HEAD, Range (206/416), ETag = sha256, If-None-Match,
If-Modified-Since, If-Range, Content-Disposition with the original Chinese name.

Why not `flask.send_file`: under gunicorn its Range support reads and discards every byte
before the start of the range (gunicorn's file wrapper is not seekable), so a video seek to
the end of a 2 GB lesson would read 2 GB. Here a range re-opens the blob at its offset, in
the local store and in S3 alike, and a whole local file goes out through gunicorn's
`wsgi.file_wrapper` (sendfile). Multi-range requests are answered with the whole file,
which RFC 9110 allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import BinaryIO, Callable

from flask import Response, request
from werkzeug.http import http_date, is_resource_modified, parse_if_range_header, parse_range_header
from werkzeug.wsgi import wrap_file

from repo_server.blobstore.disposition import content_disposition

__all__ = ["blob_response", "STREAM_CHUNK"]

STREAM_CHUNK = 1024 * 1024
Opener = Callable[[int, int | None], BinaryIO]


def _if_range_allows(etag: str, last_modified: datetime) -> bool:
    """Whether a Range may be honoured: no If-Range, or one that still matches."""
    header = request.headers.get("If-Range")
    if not header:
        return True
    if_range = parse_if_range_header(header)
    if if_range.etag is not None:
        return if_range.etag == etag  # strong comparison: a weak validator never matches
    if if_range.date is not None:
        return if_range.date == last_modified.replace(microsecond=0)
    return False


def _requested_span(size: int, etag: str, last_modified: datetime) -> tuple[int, int] | None | str:
    """(start, stop) for a satisfiable single range, None for the whole file,
    "unsatisfiable" for a 416."""
    header = request.headers.get("Range")
    if not header or not _if_range_allows(etag, last_modified):
        return None
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None  # malformed or multi-range: ignoring Range is allowed
    span = parsed.range_for_length(size)
    return span if span is not None else "unsatisfiable"


def blob_response(opener: Opener, *, sha256: str, size: int, mime: str, filename: str,
                  inline: bool, last_modified: datetime, active: bool) -> tuple[Response, int | None]:
    """The response for one blob, and the first byte it sends (None when it sends none).

    `opener(start, length)` returns a readable stream; it is called only when a body is sent.
    """
    headers = {
        "ETag": f'"{sha256}"',
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(last_modified),
        "Content-Disposition": content_disposition(filename, inline=inline and not active),
        # Permissions can change: clients revalidate (cheap 304) instead of trusting a copy.
        "Cache-Control": "private, no-cache",
    }
    if active:  # HTML/SVG: even if something renders it, it runs nothing
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if not is_resource_modified(request.environ, etag=sha256, last_modified=last_modified):
        return Response(status=304, headers=headers), None
    span = _requested_span(size, sha256, last_modified)
    if span == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status=416, headers=headers), None
    start, stop = span if span else (0, size)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    if request.method == "HEAD":
        body: object = []
    elif span:
        body = wrap_file(request.environ, opener(start, stop - start), STREAM_CHUNK)
    else:
        body = wrap_file(request.environ, opener(0, None), STREAM_CHUNK)
    response = Response(body, status=status, headers=headers, content_type=mime,
                        direct_passthrough=True)
    response.content_length = stop - start
    return response, (start if request.method != "HEAD" else None)
