"""Content-addressed blob storage: one protocol, a local and an S3 (MinIO) backend.

`open_blobstore(settings)` picks the backend named by REPO_BLOBSTORE. Importing this package
connects to nothing; only `open_blobstore` with the 'minio' backend talks to the endpoint
(to create the bucket if missing).
"""

from __future__ import annotations

from repo_server.config import Settings

from .base import (BlobIntegrityError, BlobNotFound, BlobStat, BlobStore, BlobStoreError,
                   blob_key, check_sha256)
from .local_store import LocalBlobStore
from .minio_store import MinioBlobStore
from .staging import StagedFile, Staging

__all__ = [
    "BlobStore", "BlobStat", "BlobNotFound", "BlobStoreError", "BlobIntegrityError",
    "blob_key", "check_sha256", "Staging", "StagedFile", "LocalBlobStore", "MinioBlobStore",
    "open_blobstore",
]


def open_blobstore(settings: Settings) -> BlobStore:
    """The blob store the settings ask for: 'local' under blob_dir, or 'minio'.

    For 'minio' the bucket is created (private) when missing, so a misconfigured endpoint
    fails here, at startup, with a BlobStoreError naming endpoint and bucket.
    """
    if settings.blobstore == "minio":
        store = MinioBlobStore.from_settings(settings)
        store.ensure_bucket()
        return store
    return LocalBlobStore(settings.blob_dir)
