"""Teachers' favourites: a resource kept for later, per user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

__all__ = ["Favourite"]


class Favourite(Base):
    """One user's mark on one resource. Both sides cascade: a user or resource row removed
    takes its marks with it (resources are tombstoned, so a withdrawn favourite stays
    hidden by the permission rule rather than vanishing)."""

    __tablename__ = "favourites"
    __table_args__ = (Index("ix_favourites_user_created", "user_id", "created_at"),)

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(32), ForeignKey("resources.id", ondelete="CASCADE"),
                                             primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
