"""Append-only records: the change log, download events and the bulk-import journal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

__all__ = ["Change", "ChangeCounter", "DownloadEvent", "ImportRecord", "CHANGE_OPS"]

CHANGE_OPS = ("create", "update", "delete", "visibility")


class ChangeCounter(Base):
    """One row holding the last change sequence number.

    Writers increment it inside their transaction; the row lock makes sequence order equal
    commit order, so a consumer reading "seq > last seen" can never skip a change that
    commits late (which a plain autoincrement allows under PostgreSQL concurrency).
    """

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Change(Base):
    """One create/update/delete/visibility change of a resource. Consumers (search index,
    mirror publisher) read the resource's current state; the row says *that* and *when*."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    resource_id: Mapped[str] = mapped_column(String(32), index=True)
    op: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DownloadEvent(Base):
    """One real download (not one per Range chunk) of an original or a derivative."""

    __tablename__ = "download_events"
    __table_args__ = (Index("ix_download_events_resource_at", "resource_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    profile: Mapped[str] = mapped_column(String(40), default="")  # "" = the original file
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)


class ImportRecord(Base):
    """What `repo-server import` did with one source file, so a re-run skips it without
    reading it again (250 GB libraries). `source_key` is the sha256 of the path bytes."""

    __tablename__ = "import_records"

    source_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(20))  # imported | duplicate
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
