""""Download the whole lesson": one zip of every file of a lesson the asker may see.

The zip is built while it is sent (zipstream-ng): no temporary file, memory bounded by one
read chunk whatever the lesson weighs. Entries are *stored*, not deflated: courseware,
videos and PDFs are compressed already, so deflating would cost a village server's CPU for
nothing and would hide the final size. Stored entries make the size known up front, so the
response carries a Content-Length and the browser shows real progress. Each blob is opened
only when its entry is reached. Names are UTF-8 (the zip's language flag is set), inside one
folder named after the lesson; two files with the same name get " (2)", " (3)"….

Each file counts as a download of its resource (same counting rule as single downloads).
"""

from __future__ import annotations

from typing import Iterator

from flask import Blueprint, Response, current_app, request
from zipstream import ZIP_STORED, ZipStream

from repo_server.blobstore.disposition import content_disposition
from repo_server.errors import NotFound
from repo_server.services import lessons
from repo_server.services.downloads import record_download

from .auth import current_actor
from .files import STREAM_CHUNK

__all__ = ["bp"]

bp = Blueprint("lesson_zip", __name__)


def _chunks(svc, sha256: str) -> Iterator[bytes]:
    """A blob's bytes, opened when the zip reaches it and closed when done."""
    with svc.blobs.open(sha256) as stream:
        while chunk := stream.read(STREAM_CHUNK):
            yield chunk


def _safe_part(text: str) -> str:
    cleaned = "".join("_" if ch in '/\\:*?"<>|' or ord(ch) < 32 else ch for ch in text).strip(" .")
    return cleaned or "lesson"


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if dot else f"{stem} ({n})"
    taken.add(candidate.lower())
    return candidate


@bp.get("/r/<resource_id>/lesson.zip")
def lesson_zip(resource_id: str):
    svc = current_app.extensions["repo"]
    actor = current_actor()
    lesson = lessons.lesson_of(svc, actor, resource_id)
    if lesson is None:
        raise NotFound("this resource is not filed under a lesson (课)", reason="no_lesson")
    folder = _safe_part(lesson.name)
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    taken: set[str] = set()
    for target in lesson.files:
        archive.add(_chunks(svc, target.sha256), f"{folder}/{_unique(_safe_part(target.filename), taken)}",
                    size=target.size)
    response = Response(iter(archive), mimetype="application/zip")
    response.headers["Content-Length"] = str(len(archive))
    response.headers["Content-Disposition"] = content_disposition(f"{folder}.zip")
    response.headers["Cache-Control"] = "private, no-store"
    client, agent = request.remote_addr or "", request.headers.get("User-Agent", "")
    for target in lesson.files:
        record_download(svc, actor, target, client=client, user_agent=agent)
    return response
