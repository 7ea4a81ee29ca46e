"""Media jobs (the work of turning one blob into previews and renditions) and page images.

A MediaJob is written in the same transaction as the upload that needs it (an outbox): the
queue only carries its id, so a job lost by the queue, or by a worker that died, is still in
the catalog and is handed out again (see services/media_jobs.py). One job per source blob,
because derivatives belong to content: identical uploads share them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

__all__ = ["MediaJob", "DerivativePage", "JOB_STATES", "JOB_KINDS"]

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
JOB_KINDS = ("video", "audio", "pdf", "office", "image", "epub")


class MediaJob(Base):
    __tablename__ = "media_jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATES!r}", name="status"),
        CheckConstraint(f"kind IN {JOB_KINDS!r}", name="kind"),
        Index("ix_media_jobs_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_sha256: Mapped[str] = mapped_column(
        ForeignKey("blobs.sha256", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    source_suffix: Mapped[str] = mapped_column(String(12), default="")  # for LibreOffice
    status: Mapped[str] = mapped_column(String(12), default="queued")
    message: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str] = mapped_column(String(100), default="")
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # handed to the queue
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DerivativePage(Base):
    """One page image of a `pages` derivative (a document's first MAX_PAGES pages)."""

    __tablename__ = "derivative_pages"

    derivative_id: Mapped[int] = mapped_column(
        ForeignKey("derivatives.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)   # 1-based
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
