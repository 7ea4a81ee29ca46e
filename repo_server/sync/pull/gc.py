"""Garbage collection of a mirror's local objects, one version late, with a guard.

After version S is applied, an object stays when version S or the version before it
references it (`referenced.txt` of each, state.py): a teacher who opened a page of the
previous version a minute ago still gets its files, and nothing is deleted while a sync is
half done (the live blob store only loses objects after CURRENT moved). A collection that
would delete more than `max_percent` % of the store (and more than FLOOR objects) is
refused without `force`: a mistyped --only must not wipe a school's disk in one night.
"""

from __future__ import annotations

from dataclasses import dataclass

from repo_server.blobstore import BlobNotFound, BlobStore

__all__ = ["LocalGc", "collect_local", "FLOOR"]

FLOOR = 20


@dataclass
class LocalGc:
    deleted: int = 0
    refused: int = 0          # would have deleted this many: the guard stopped it
    total: int = 0


def collect_local(blobs: BlobStore, keep: set[str], *, max_percent: float, force: bool) -> LocalGc:
    stored = list(blobs.iter_sha256())
    doomed = [sha for sha in stored if sha not in keep]
    report = LocalGc(total=len(stored))
    if not force and len(doomed) > FLOOR and len(doomed) > len(stored) * max_percent / 100:
        report.refused = len(doomed)
        return report
    for sha256 in doomed:
        try:
            blobs.delete(sha256)
        except BlobNotFound:
            continue
        report.deleted += 1
    return report
