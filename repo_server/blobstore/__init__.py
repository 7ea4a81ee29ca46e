"""Content-addressed blob storage: one protocol, a local and an S3 (MinIO) backend.

`open_blobstore(settings)` picks the backend named by REPO_BLOBSTORE. Importing this package
connects to nothing and does not even import the `minio` client (a third of a second on a
small server); only `open_blobstore` with the 'minio' backend does, and talks to the endpoint
(to create the bucket if missing). Import MinioBlobStore from .minio_store.
"""

from __future__ import annotations

from repo_server.config import Settings

from .base import (BlobIntegrityError, BlobNotFound, BlobStat, BlobStore, BlobStoreError,
                   blob_key, check_sha256)
from .local_store import LocalBlobStore
from .staging import StagedFile, Staging

__all__ = [
    "BlobStore", "BlobStat", "BlobNotFound", "BlobStoreError", "BlobIntegrityError",
    "blob_key", "check_sha256", "Staging", "StagedFile", "LocalBlobStore",
    "open_blobstore",
]


def open_blobstore(settings: Settings) -> BlobStore:
    """The blob store the settings ask for: 'local' under blob_dir, or 'minio'.

    For 'minio' the bucket is created (private) when missing, so a misconfigured endpoint
    fails here, at startup, with a BlobStoreError naming endpoint and bucket.
    """
    if settings.blobstore == "minio":
        from .minio_store import MinioBlobStore  # only when configured: see module docstring

        store = MinioBlobStore.from_settings(settings)
        store.ensure_bucket()
        return store
    return LocalBlobStore(settings.blob_dir)
