"""Claiming a blob row under a lock, the heart of safe, deduplicated ingest.

`claim_blob` inserts the row if missing (INSERT … ON CONFLICT DO NOTHING) and then locks it
(SELECT … FOR UPDATE). Two uploads of the same bytes therefore queue on that row: the second
waits until the first commits or rolls back, so a failed ingest may delete a blob it created
without pulling it from under a concurrent one. SQLite serialises writers anyway (BEGIN
IMMEDIATE), PostgreSQL does it per sha256.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .base import utcnow
from .resources import Blob

__all__ = ["claim_blob"]


def claim_blob(session: Session, sha256: str, *, size: int, mime: str, filename: str) -> Blob:
    """The locked Blob row for `sha256`, created with these facts if it did not exist."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Blob).values(sha256=sha256, size=size, mime=mime, original_filename=filename,
                            created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["sha256"]))
    return session.execute(
        select(Blob).where(Blob.sha256 == sha256).with_for_update()
        .execution_options(populate_existing=True)).scalar_one()
