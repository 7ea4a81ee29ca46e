"""Plain-dict views of catalog rows, the shape the API returns (the web layer adds URLs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repo_server.catalog.models import BlobText, MediaJob, Resource

from .derivatives import derivative_views
from .fields import VOCAB_FIELDS
from .media_jobs import job_view


def text_state(session: Session, sha256: str) -> dict:
    """The extraction state shown with a resource: pending, done, empty, failed, unsupported."""
    row = session.get(BlobText, sha256)
    if row is None:
        return {"status": "pending"}
    return {"status": row.status, "chars": row.chars, "truncated": row.truncated,
            "message": row.message}

__all__ = ["resource_view", "text_state"]


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def resource_view(session: Session, r: Resource, *, with_derivatives: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": r.id,
        "title": r.title,
        "description": r.description,
        "creator": r.creator,
        "publisher": r.publisher,
        "language": r.language,
        "license": r.license,
        "date": r.date,
    }
    for name in VOCAB_FIELDS:
        term = getattr(r, name)
        view[name] = term.as_dict() if term is not None else None
    view.update({
        "chapter": r.chapter,
        "lesson": r.lesson,
        "tags": sorted(r.tags),
        "visibility": r.visibility,
        "status": r.status,
        "organisation": {"id": r.org.id, "name": r.org.name} if r.org else None,
        "owner_id": r.owner_id,
        "filename": r.filename,
        "sha256": r.blob_sha256,
        "size": r.blob.size,
        "mime": r.blob.mime,
        "format": r.format,
        "download_count": r.download_count,
        "created_at": _iso(r.created_at),
        "updated_at": _iso(r.updated_at),
    })
    if with_derivatives:
        view["text"] = text_state(session, r.blob_sha256)
        job = session.scalar(select(MediaJob).where(MediaJob.source_sha256 == r.blob_sha256))
        view["media"] = job_view(job) if job is not None else None
        view["derivatives"] = derivative_views(session, r.blob_sha256)
    return view
