"""`repo-server check`: does the catalog agree with the blob store?

Reports, never repairs on its own:
- missing: a blob row (used by a resource or derivative) with no bytes in the store: data loss;
- orphans: bytes in the store with no blob row (a crash between store and commit);
- unreferenced: blob rows no live resource or derivative (page images included) uses (left by deletions);
- size mismatches, and with `deep=True` content that no longer hashes to its key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select, union

from repo_server.blobstore import BlobNotFound
from repo_server.catalog.models import Blob, Derivative, DerivativePage, Resource

from .context import Services

__all__ = ["ConsistencyReport", "check_consistency"]


@dataclass
class ConsistencyReport:
    blobs: int = 0
    resources: int = 0
    missing: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)
    size_mismatch: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Unreferenced blobs are expected after deletions; everything else is a problem."""
        return not (self.missing or self.orphans or self.size_mismatch or self.corrupt)


def check_consistency(svc: Services, *, deep: bool = False) -> ConsistencyReport:
    report = ConsistencyReport()
    with svc.catalog.read() as session:
        sizes = dict(session.execute(select(Blob.sha256, Blob.size)).all())
        used = set(session.scalars(union(
            select(Resource.blob_sha256).where(Resource.deleted_at.is_(None)),
            select(Derivative.source_sha256),
            select(Derivative.blob_sha256).where(Derivative.blob_sha256.is_not(None)),
            select(DerivativePage.blob_sha256))))
        report.resources = session.query(Resource).filter(Resource.deleted_at.is_(None)).count()
    report.blobs = len(sizes)
    stored = set(svc.blobs.iter_sha256())
    report.orphans = sorted(stored - set(sizes))
    report.unreferenced = sorted(set(sizes) - used)
    for sha256, size in sorted(sizes.items()):
        if sha256 not in stored:
            report.missing.append(sha256)
            continue
        try:
            if svc.blobs.stat(sha256).size != size:
                report.size_mismatch.append(sha256)
            elif deep and _rehash(svc, sha256) != sha256:
                report.corrupt.append(sha256)
        except BlobNotFound:
            report.missing.append(sha256)
    return report


def _rehash(svc: Services, sha256: str) -> str:
    digest = hashlib.sha256()
    with svc.blobs.open(sha256) as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
