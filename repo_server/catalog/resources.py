"""Resources, the blobs they point at, their free tags and their derivatives.

Field names follow Dublin Core where one exists (title, description, creator, publisher,
language, rights→license, date) so OAI-PMH/LOM export is a mapping, not a migration. The
classification follows the national smart-education catalog tree: 学段 → 学科 → 教材版本 →
年级 → 册次 → 单元/章 → 课.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, new_id, utcnow
from .people import Organisation, User
from .terms import VocabTerm

__all__ = ["Blob", "BlobText", "Resource", "ResourceTag", "Derivative", "VISIBILITIES", "STATUSES",
           "DERIVATIVE_STATES", "TEXT_STATES", "CLASSIFICATION_SCHEMES"]

VISIBILITIES = ("public", "organisation", "private")
STATUSES = ("draft", "published")
DERIVATIVE_STATES = ("queued", "running", "done", "failed", "cancelled")
TEXT_STATES = ("done", "empty", "failed", "unsupported")
# resource attribute → vocabulary scheme
CLASSIFICATION_SCHEMES = {
    "stage": "stage", "grade": "grade", "subject": "subject",
    "edition": "edition", "volume": "volume", "type": "type",
}


class Blob(Base):
    """Immutable content, keyed by its sha256. Stored once however often it is uploaded."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(127))  # sniffed from the content
    original_filename: Mapped[str] = mapped_column(String(255), default="")  # first name seen
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BlobText(Base):
    """The text extracted from a blob for search, capped, shipped to mirrors with the
    resource so a school server never needs LibreOffice. One row per blob: identical
    uploads share it. A failure is recorded here (status, message), never fatal."""

    __tablename__ = "blob_texts"
    __table_args__ = (CheckConstraint(f"status IN {TEXT_STATES!r}", name="status"),)

    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text, default="")
    chars: Mapped[int] = mapped_column(Integer, default=0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    extractor: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    extracted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Resource(Base):
    __tablename__ = "resources"
    __table_args__ = (
        CheckConstraint(f"visibility IN {VISIBILITIES!r}", name="visibility"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        Index("ix_resources_listing", "deleted_at", "status", "created_at"),
        Index("ix_resources_popular", "download_count", "created_at"),  # home page: most downloaded
        Index("ix_resources_lesson", "lesson", "subject_id", "grade_id"),  # a lesson's resources
        Index("ix_resources_classification", "stage_id", "subject_id", "edition_id", "grade_id",
              "volume_id", "created_at"),                                 # the catalog tree's counts
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Dublin Core
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    creator: Mapped[str] = mapped_column(String(200), default="")
    publisher: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(35), default="zh-CN")
    license: Mapped[str] = mapped_column(String(200), default="")
    date: Mapped[str] = mapped_column(String(10), default="")  # ISO 8601: YYYY, YYYY-MM or YYYY-MM-DD
    # Classification
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("vocab_terms.id"), index=True)
    grade_id: Mapped[int | None] = mapped_column(ForeignKey("vocab_terms.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("vocab_terms.id"), index=True)
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("vocab_terms.id"), index=True)
    volume_id: Mapped[int | None] = mapped_column(ForeignKey("vocab_terms.id"), index=True)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("vocab_terms.id"), index=True)
    chapter: Mapped[str] = mapped_column(String(200), default="")  # 单元/章
    lesson: Mapped[str] = mapped_column(String(200), default="")   # 课
    # Access
    visibility: Mapped[str] = mapped_column(String(12), default="public")
    status: Mapped[str] = mapped_column(String(12), default="published")
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Content
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(20), default="")  # family: document, video, …
    download_count: Mapped[int] = mapped_column(Integer, default=0)  # real downloads, bots excluded
    # Lifecycle
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    blob: Mapped[Blob] = relationship(lazy="joined")
    org: Mapped[Organisation | None] = relationship(lazy="joined")
    owner: Mapped[User | None] = relationship()
    stage: Mapped[VocabTerm | None] = relationship(foreign_keys=[stage_id], lazy="joined")
    grade: Mapped[VocabTerm | None] = relationship(foreign_keys=[grade_id], lazy="joined")
    subject: Mapped[VocabTerm | None] = relationship(foreign_keys=[subject_id], lazy="joined")
    edition: Mapped[VocabTerm | None] = relationship(foreign_keys=[edition_id], lazy="joined")
    volume: Mapped[VocabTerm | None] = relationship(foreign_keys=[volume_id], lazy="joined")
    type: Mapped[VocabTerm | None] = relationship(foreign_keys=[type_id], lazy="joined")
    tag_rows: Mapped[list["ResourceTag"]] = relationship(
        cascade="all, delete-orphan", order_by="ResourceTag.tag", lazy="selectin")

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]


class ResourceTag(Base):
    __tablename__ = "resource_tags"

    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class Derivative(Base):
    """Something computed from a blob (rendition, poster, page images), keyed by
    (source sha256, profile) so identical uploads share their derivatives. `blob_sha256` is
    the file (for `pages`, the first page; every page is a DerivativePage); `meta` holds what
    the player or viewer needs (duration, size, page count, storyboard grid, contents)."""

    __tablename__ = "derivatives"
    __table_args__ = (
        UniqueConstraint("source_sha256", "profile", name="uq_derivatives_source_profile"),
        CheckConstraint(f"status IN {DERIVATIVE_STATES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    profile: Mapped[str] = mapped_column(String(40))
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    message: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
