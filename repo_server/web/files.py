"""HTTP responses for blobs: GET/HEAD, Range (206/416), ETag = sha256, If-None-Match,
If-Modified-Since, If-Range, Content-Disposition with the original Chinese name.

Why not `flask.send_file`: under gunicorn its Range support reads and discards every byte
before the start of the range (gunicorn's file wrapper is not seekable), so a video seek to
the end of a 2 GB lesson would read 2 GB. Here a range re-opens the blob at its offset, in
the local store and in S3 alike, and a whole local file goes out through gunicorn's
`wsgi.file_wrapper` (sendfile). Multi-range requests are answered with the whole file,
which RFC 9110 allows.

Behind nginx (REPO_ACCEL_REDIRECT), a GET that will send bytes from the local store is
answered with `X-Accel-Redirect: <prefix>ab/cd/<sha256>` and no body, after every check the
app makes (permissions before this module, 304 and 416 here): nginx's `internal` location
sends the file with sendfile and applies Range/If-Range itself, against the ETag and
Last-Modified it copies from this answer (deploy/nginx/repo-server.conf). HEAD, 304 and 416
stay here: they send no bytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable

from flask import Response, request
from werkzeug.http import http_date, is_resource_modified, parse_if_range_header, parse_range_header
from werkzeug.wsgi import wrap_file

from repo_server.blobstore.disposition import content_disposition

__all__ = ["blob_response", "accel_location", "STREAM_CHUNK", "REVALIDATE", "PREVIEW_CACHE"]

STREAM_CHUNK = 1024 * 1024
# Permissions can change: clients revalidate (cheap 304) instead of trusting a copy.
REVALIDATE = "private, no-cache"
# Previews and renditions belong to content (sha256 + profile) and never change: a browser may
# keep them a day without asking (a list of 20 thumbnails costs no round trips on a slow link).
PREVIEW_CACHE = "private, max-age=86400"
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


def accel_location(prefix: str, path: Path | None, root: Path) -> str | None:
    """The X-Accel-Redirect URI of a blob file under `root` (the blobs dir), or None when
    the setting is off or the store has no local file (MinIO) outside `root`."""
    if not prefix or path is None:
        return None
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    return prefix + relative.as_posix()


def blob_response(opener: Opener, *, sha256: str, size: int, mime: str, filename: str,
                  inline: bool, last_modified: datetime, active: bool, accel: str | None = None,
                  cache_control: str = REVALIDATE) -> tuple[Response, int | None]:
    """The response for one blob, and the first byte it sends (None when it sends none).

    `opener(start, length)` returns a readable stream; it is called only when a body is sent.
    With `accel` (an X-Accel-Redirect URI) a GET that sends bytes answers with that header
    instead of a body; the first byte reported is the one nginx will start from, so download
    counting stays the same.
    """
    headers = {
        "ETag": f'"{sha256}"',
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(last_modified),
        "Content-Disposition": content_disposition(filename, inline=inline and not active),
        "Cache-Control": cache_control,
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
    if accel and request.method == "GET":
        # nginx answers 200 or 206 itself (its range filter reads the same Range/If-Range).
        del headers["Accept-Ranges"]
        headers["X-Accel-Redirect"] = accel
        return Response(status=200, headers=headers, content_type=mime), start
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
