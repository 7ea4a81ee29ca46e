"""What a publish reads from the catalog: which resources to recompute, and their entries.

The change log says which resources changed after the sequence the last serial included.
Finishing a media job writes no change-log row (renditions belong to content, not to a
resource), so the resources whose job *ended* since the last run are added, with an
overlap of MEDIA_OVERLAP for jobs whose commit came late; recomputing a resource that did
not change costs one catalog read and produces the same line, so the overlap is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from repo_server.catalog import Catalog
from repo_server.catalog.changes import changes_since
from repo_server.catalog.models import MediaJob, Resource

from .entries import EntryBuilder, eligible_ids

__all__ = ["changed_ids", "entries_of", "all_entries", "MEDIA_OVERLAP", "BATCH"]

MEDIA_OVERLAP = timedelta(minutes=10)
BATCH = 200                        # resources per catalog read (texts make rows large)
_ENDED = ("done", "failed", "cancelled")


def changed_ids(session: Session, after_seq: int, up_to_seq: int, media_since: datetime | None) -> set[str]:
    """Resources named in the change log in (after_seq, up_to_seq], and those whose media
    job ended at or after `media_since` - MEDIA_OVERLAP (every ended job when None)."""
    ids: set[str] = set()
    after = after_seq
    while after < up_to_seq:
        changes = changes_since(session, after, limit=5000)
        if not changes:
            break
        ids.update(c.resource_id for c in changes if c.seq <= up_to_seq)
        after = changes[-1].seq
    ended = select(MediaJob.source_sha256).where(MediaJob.status.in_(_ENDED))
    if media_since is not None:
        ended = ended.where(MediaJob.updated_at >= media_since - MEDIA_OVERLAP)
    ids.update(session.scalars(select(Resource.id).where(Resource.blob_sha256.in_(ended))))
    return ids


# Each batch is read in a session of its own and handed on after that session closed: the
# consumer exports objects between batches, and a failure there must not leave a
# transaction open (on PostgreSQL it would block every later TRUNCATE, VACUUM or migration).
def entries_of(catalog: Catalog, builder: EntryBuilder, ids: list[str]
               ) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(id, entry or None) for `ids` (sorted), in batches."""
    for start in range(0, len(ids), BATCH):
        with catalog.read() as session:
            batch = list(builder.entries(session, ids[start:start + BATCH]))
        yield from batch


def all_entries(catalog: Catalog, builder: EntryBuilder) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(id, entry) of every mirrored resource, in id order, in batches."""
    after = ""
    while True:
        with catalog.read() as session:
            ids = eligible_ids(session, after, BATCH)
            batch = list(builder.entries(session, ids)) if ids else []
        if not batch:
            return
        yield from batch
        after = ids[-1]
