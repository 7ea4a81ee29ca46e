"""Downstream mirrors as their last status report told this server (issue 6, "upstream
visibility"): one row per mirror name, replaced by each report, so the table stays as small
as the number of schools whatever their sync frequency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .people import User

__all__ = ["MirrorReport", "SYNC_RESULTS"]

#: What a sync run can end in (the downstream script's status.json `result`): ok (a new
#: serial applied), up_to_date (nothing new upstream), retry (a transient failure: the
#: upstream unreachable, busy or stalled), config (fix the configuration: bad credentials,
#: a wrong path), failed (anything else).
SYNC_RESULTS = ("ok", "up_to_date", "retry", "config", "failed")


class MirrorReport(Base):
    """The latest report of one downstream mirror. `user_id` is the account that first
    reported under this name: only it (or an administrator) may update the row, and
    editors see the mirrors whose account belongs to their part of the district."""

    __tablename__ = "mirror_reports"
    __table_args__ = (CheckConstraint(f"result IN {SYNC_RESULTS!r}", name="result"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    upstream: Mapped[str] = mapped_column(String(500))
    serial: Mapped[int | None] = mapped_column(Integer)             # the upstream serial it holds
    upstream_serial: Mapped[int | None] = mapped_column(Integer)    # what the upstream offered then
    result: Mapped[str] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    chain: Mapped[str] = mapped_column(Text, default="[]")           # JSON list of tier names
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship(lazy="joined")
