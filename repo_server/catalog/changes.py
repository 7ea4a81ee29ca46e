"""Appending to and reading the change log (see events.ChangeCounter for the ordering rule)."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .base import utcnow
from .events import CHANGE_OPS, Change, ChangeCounter

__all__ = ["record_change", "record_changes", "changes_since", "last_seq"]


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


def record_changes(session: Session, resource_ids: Sequence[str], op: str,
                   actor_id: int | None) -> int:
    """Append one change per resource in the caller's transaction, with one counter update
    (a renamed vocabulary term or a moved organisation touches thousands of resources).
    Returns how many were appended."""
    if op not in CHANGE_OPS:
        raise ValueError(f"unknown change op {op!r}")
    ids = list(dict.fromkeys(resource_ids))
    if not ids:
        return 0
    end = session.execute(
        update(ChangeCounter).where(ChangeCounter.id == 1)
        .values(value=ChangeCounter.value + len(ids)).returning(ChangeCounter.value)
    ).scalar_one_or_none()
    if end is None:  # first change ever in a database created without the seed row
        session.add(ChangeCounter(id=1, value=len(ids)))
        session.flush()
        end = len(ids)
    start, now = end - len(ids) + 1, utcnow()
    session.execute(insert(Change), [
        {"seq": start + i, "resource_id": rid, "op": op, "at": now, "actor_id": actor_id}
        for i, rid in enumerate(ids)])
    return len(ids)


def changes_since(session: Session, seq: int, limit: int = 1000) -> list[Change]:
    """Changes with a sequence above `seq`, oldest first."""
    return list(session.scalars(
        select(Change).where(Change.seq > seq).order_by(Change.seq).limit(limit)))


def last_seq(session: Session) -> int:
    return session.scalar(select(ChangeCounter.value).where(ChangeCounter.id == 1)) or 0
