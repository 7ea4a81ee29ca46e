"""Extracted text: which blobs still need it, running the extractor, recording the outcome.

Text belongs to a blob (identical uploads share it). Storing it records an "update" in the
change log for every live resource using that blob, so the search index re-indexes them
and mirrors ship the text. A failed extraction is recorded with its message and never
retried by itself (`repo-server index extract --retry-failed` does); the resource is
unaffected either way.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from repo_server.catalog.base import utcnow
from repo_server.catalog.changes import record_change
from repo_server.catalog.models import Blob, BlobText, Resource
from repo_server.ingest import extension_of
from repo_server.ingest.extract import Extraction

from .blob_files import local_copy
from .context import Services

__all__ = ["pending_texts", "store_text", "extract_pending", "retry_failed"]


def pending_texts(svc: Services, limit: int = 20) -> list[tuple[str, str, str]]:
    """(sha256, mime, a file name) of blobs used by live resources and not yet extracted."""
    with svc.catalog.read() as session:
        # NOT EXISTS: one primary-key probe per resource, never a pass over the stored texts.
        extracted = select(BlobText.sha256).where(BlobText.sha256 == Blob.sha256).exists()
        rows = session.execute(
            select(Blob.sha256, Blob.mime, Resource.filename)
            .join(Resource, Resource.blob_sha256 == Blob.sha256)
            .where(~extracted, Resource.deleted_at.is_(None))
            .order_by(Resource.created_at).limit(limit * 4)).all()
    seen: dict[str, tuple[str, str, str]] = {}
    for sha256, mime, filename in rows:
        seen.setdefault(sha256, (sha256, mime, filename))
    return list(seen.values())[:limit]


def store_text(svc: Services, sha256: str, result: Extraction) -> int:
    """Record an extraction; returns how many resources were marked changed."""
    with svc.catalog.write() as session:
        row = session.get(BlobText, sha256) or BlobText(sha256=sha256)
        row.status, row.text, row.chars = result.status, result.text, result.chars
        row.truncated, row.extractor, row.message = result.truncated, result.extractor, result.message
        row.extracted_at = utcnow()
        session.merge(row)
        ids = list(session.scalars(select(Resource.id).where(
            Resource.blob_sha256 == sha256, Resource.deleted_at.is_(None))))
        if result.status == "done":  # new searchable content: index and mirrors must hear
            for resource_id in ids:
                record_change(session, resource_id, "update", None)
        return len(ids)


def extract_pending(svc: Services, sandbox, *, limit: int = 20) -> int:
    """Extract up to `limit` pending blobs with `sandbox` (ExtractionSandbox); return the count."""
    done = 0
    for sha256, mime, filename in pending_texts(svc, limit):
        with local_copy(svc, sha256) as path:
            result = sandbox.extract(path, mime=mime, extension=extension_of(filename),
                                     max_chars=svc.settings.extract_max_chars)
        store_text(svc, sha256, result)
        done += 1
    return done


def retry_failed(svc: Services) -> int:
    """Forget failed extractions so they are tried again (after installing LibreOffice …)."""
    with svc.catalog.write() as session:
        return session.execute(delete(BlobText).where(BlobText.status == "failed")).rowcount
