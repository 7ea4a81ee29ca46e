"""Appending to and reading the change log (see events.ChangeCounter for the ordering rule)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .events import CHANGE_OPS, Change, ChangeCounter

__all__ = ["record_change", "changes_since", "last_seq"]


def record_change(session: Session, resource_id: str, op: str, actor_id: int | None) -> int:
    """Append one change in the caller's transaction and return its sequence number."""
    if op not in CHANGE_OPS:
        raise ValueError(f"unknown change op {op!r}")
    # UPDATE … RETURNING takes the counter row lock until commit: sequence = commit order.
    seq = session.execute(
        update(ChangeCounter).where(ChangeCounter.id == 1)
        .values(value=ChangeCounter.value + 1).returning(ChangeCounter.value)
    ).scalar_one_or_none()
    if seq is None:  # first change ever in a database created without the seed row
        session.add(ChangeCounter(id=1, value=1))
        session.flush()
        seq = 1
    session.add(Change(seq=seq, resource_id=resource_id, op=op, actor_id=actor_id))
    return seq


def changes_since(session: Session, seq: int, limit: int = 1000) -> list[Change]:
    """Changes with a sequence above `seq`, oldest first."""
    return list(session.scalars(
        select(Change).where(Change.seq > seq).order_by(Change.seq).limit(limit)))


def last_seq(session: Session) -> int:
    return session.scalar(select(ChangeCounter.value).where(ChangeCounter.id == 1)) or 0
