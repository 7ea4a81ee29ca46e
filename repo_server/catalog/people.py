"""Organisations (city → county → school), users with roles, and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

__all__ = ["Organisation", "User", "ApiToken", "ROLES", "ORG_KINDS", "ALLOWED_PARENTS", "placement_error"]

ROLES = ("admin", "editor", "teacher")
ORG_KINDS = ("city", "county", "school", "other")
# The district's levels: a city bureau at the top, counties under cities, schools under a
# county (or directly under the city: 市直学校); "other" (电教馆, 教研室 …) sits under a city
# or county and has nothing below it. None = at the top of the tree.
ALLOWED_PARENTS: dict[str, tuple[str | None, ...]] = {
    "city": (None,), "county": ("city",), "school": ("city", "county"), "other": ("city", "county"),
}


def placement_error(kind: str, parent_kind: str | None) -> str | None:
    """Why an organisation of `kind` may not sit under a parent of `parent_kind`, or None."""
    if parent_kind in ALLOWED_PARENTS.get(kind, ()):
        return None
    if parent_kind is None:
        return f"a {kind} must sit under a " + " or ".join(k or "" for k in ALLOWED_PARENTS[kind])
    return f"a {kind} cannot sit under a {parent_kind}"


class Organisation(Base):
    """A node of the district tree. `path` is the materialised chain of ids ("/1/4/9/"), so
    "this organisation and everything under it" is one indexed prefix query."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(f"kind IN {ORG_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped["Organisation | None"] = relationship(remote_side=[id])

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this organisation."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # None for accounts that only use API tokens (downstream mirrors, scripts).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change: sessions carry it and stop working when it moves.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Organisation | None] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token. Only its sha256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
