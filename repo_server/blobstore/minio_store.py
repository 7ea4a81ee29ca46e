"""MinioBlobStore: blobs as objects `ab/cd/<sha256>` in a private bucket of MinIO or any S3.

For installations whose files outgrow one disk or live on a storage server. Uploads go
straight to the final key: an S3 PUT (or a completed multipart upload) becomes visible only
when it is whole, so no temporary key is needed. Objects are stored as
application/octet-stream; the real type and the Chinese filename live in the catalog and are
sent per download, either by the app (proxy) or as response overrides in a presigned URL.

Every minio/urllib3 failure leaves this module as BlobNotFound (missing key) or
BlobStoreError (everything else, naming endpoint and bucket), exactly like LocalBlobStore.
"""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from minio.helpers import MIN_PART_SIZE, check_bucket_name

from repo_server.config import Settings
from repo_server.errors import ConfigError

from .disposition import content_disposition
from .base import BlobNotFound, BlobStat, BlobStoreError, blob_key, check_sha256
from .staging import StagedFile

__all__ = ["MinioBlobStore", "DEFAULT_PART_SIZE"]

# Each multipart upload holds up to (parallel uploads + 1) parts in memory, so the part size
# is a memory budget per concurrent upload: 16 MiB x 3 ≈ 48 MiB. S3 allows 10,000 parts, so
# objects up to ~160 GB still fit (REPO_MAX_UPLOAD_BYTES defaults to 8 GiB).
DEFAULT_PART_SIZE = 16 * 1024 * 1024
_PARALLEL_UPLOADS = 2
_CONTENT_TYPE = "application/octet-stream"
_MISSING = frozenset({"NoSuchKey"})
_CAUGHT = (MinioException, urllib3.exceptions.HTTPError, OSError)


class MinioBlobStore:
    """Content-addressed objects in one private S3 bucket, through the `minio` client."""

    name = "minio"

    def __init__(self, client: Minio, bucket: str, *, region: str = "us-east-1",
                 part_size: int = DEFAULT_PART_SIZE) -> None:
        try:
            check_bucket_name(bucket, strict=True)
        except ValueError as exc:
            raise ConfigError(f"REPO_S3_BUCKET: {exc}") from None
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3 minimum)")
        self.client = client
        self.bucket = bucket
        self.region = region
        self.part_size = part_size
        base_url = getattr(client, "_base_url", None)  # only for error messages
        self.where = f"s3 endpoint {getattr(base_url, 'host', '?')}, bucket {bucket}"

    @classmethod
    def from_settings(cls, settings: Settings, *, part_size: int = DEFAULT_PART_SIZE) -> "MinioBlobStore":
        """Build the client from REPO_S3_* settings. Connects to nothing yet.

        The HTTP pool replaces minio's defaults (5-minute connect timeout, 5 retries), which
        would hold a web thread for many minutes when the endpoint is down. TLS uses the
        system trust store, so an internal CA installed on the server works.
        """
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            maxsize=max(10, settings.threads),
            cert_reqs="CERT_REQUIRED",
            retries=urllib3.Retry(total=3, backoff_factor=0.2,
                                  status_forcelist=[500, 502, 503, 504]),
        )
        try:
            client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key,
                           secret_key=settings.s3_secret_key, secure=settings.s3_secure,
                           region=settings.s3_region, http_client=http)
        except ValueError as exc:
            raise ConfigError(f"REPO_S3_ENDPOINT {settings.s3_endpoint!r}: {exc}") from None
        return cls(client, settings.s3_bucket, region=settings.s3_region, part_size=part_size)

    # -- bucket ----------------------------------------------------------------------------
    def ensure_bucket(self) -> bool:
        """Create the bucket if missing (private: no policy is ever set). True if created."""
        with self._errors("create bucket"):
            if self.client.bucket_exists(self.bucket):
                return False
            try:
                self.client.make_bucket(self.bucket, location=self.region)
            except S3Error as exc:
                if exc.code != "BucketAlreadyOwnedByYou":  # another worker won the race
                    raise
                return False
        return True

    def is_private(self) -> bool:
        """False when the bucket policy allows anything to anonymous principals.

        MinIO has no ACLs, so the policy is the only way a bucket becomes public there.
        """
        try:
            with self._errors("read bucket policy", passthrough={"NoSuchBucketPolicy"}):
                text = self.client.get_bucket_policy(self.bucket)
        except S3Error:  # only NoSuchBucketPolicy gets here
            return True
        statements = json.loads(text or "{}").get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        return not any(st.get("Effect") == "Allow" and _anonymous(st.get("Principal"))
                       for st in statements)

    # -- the BlobStore protocol --------------------------------------------------------------
    def add(self, staged: StagedFile) -> bool:
        try:
            sha256 = staged.finish()
            key = blob_key(sha256)
            if self._exists_key(key, sha256):
                return False
            with self._errors(f"upload blob {sha256}"):
                self.client.fput_object(self.bucket, key, str(staged.path),
                                        content_type=_CONTENT_TYPE, part_size=self.part_size,
                                        num_parallel_uploads=_PARALLEL_UPLOADS)
            return True
        finally:
            staged.discard()  # consumed either way: uploaded, duplicate, or failed

    def exists(self, sha256: str) -> bool:
        return self._exists_key(blob_key(sha256), sha256)

    def stat(self, sha256: str) -> BlobStat:
        key = blob_key(sha256)
        with self._errors(f"stat blob {sha256}", sha256):
            obj = self.client.stat_object(self.bucket, key)
        return BlobStat(sha256, int(obj.size or 0))

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        key = blob_key(sha256)
        if start < 0 or (length is not None and length < 0):
            raise ValueError("start and length must not be negative")
        if length == 0:  # minio reads length=0 as "to the end"; still report missing blobs
            self.stat(sha256)
            return io.BytesIO(b"")
        try:
            with self._errors(f"read blob {sha256}", sha256, passthrough={"InvalidRange"}):
                response = self.client.get_object(self.bucket, key, offset=start, length=length or 0)
        except S3Error:
            # S3 answers 416 for a start at or past the end; a file read there is just empty.
            self.stat(sha256)
            return io.BytesIO(b"")
        return _S3Stream(response, f"read blob {sha256} from {self.where}")  # type: ignore[return-value]

    def delete(self, sha256: str) -> None:
        key = blob_key(sha256)
        with self._errors(f"delete blob {sha256}"):
            self.client.remove_object(self.bucket, key)  # S3 DELETE of a missing key is a 204

    def iter_sha256(self) -> Iterator[str]:
        """Keys in the `ab/cd/<sha256>` layout; anything else in the bucket is ignored."""
        with self._errors("list blobs"):
            for obj in self.client.list_objects(self.bucket, recursive=True):
                name = obj.object_name or ""
                try:
                    sha256 = check_sha256(name.rsplit("/", 1)[-1])
                except BlobNotFound:
                    continue
                if name == blob_key(sha256):
                    yield sha256

    def local_path(self, sha256: str) -> Path | None:
        return None

    def presigned_url(self, sha256: str, *, filename: str, mime: str, inline: bool = False,
                      expires_s: int = 300) -> str:
        """A GET URL valid `expires_s` seconds that serves `filename` with type `mime`, as an
        attachment or (`inline`) for the page's player and images.

        Signing is local (no request) because the region is known. The client must be able
        to reach the endpoint itself (REPO_S3_DOWNLOAD=redirect).
        """
        key = blob_key(sha256)
        headers = {"response-content-disposition": content_disposition(filename, inline=inline),
                   "response-content-type": mime}
        with self._errors(f"sign URL for blob {sha256}"):
            return self.client.presigned_get_object(
                self.bucket, key, expires=timedelta(seconds=expires_s), response_headers=headers)

    # -- helpers ---------------------------------------------------------------------------
    def _exists_key(self, key: str, sha256: str) -> bool:
        try:
            with self._errors(f"stat blob {sha256}", sha256):
                self.client.stat_object(self.bucket, key)
        except BlobNotFound:
            return False
        return True

    @contextmanager
    def _errors(self, action: str, sha256: str | None = None,
                passthrough: frozenset[str] | set[str] = frozenset()) -> Iterator[None]:
        """Translate minio/urllib3/OS errors into BlobNotFound or BlobStoreError.

        S3 error codes in `passthrough` escape unchanged, for callers that expect them.
        """
        try:
            yield
        except S3Error as exc:
            if exc.code in passthrough:
                raise
            if sha256 is not None and exc.code in _MISSING:
                raise BlobNotFound(f"blob {sha256} is not in the store") from None
            raise BlobStoreError(f"{action} failed on {self.where}: {exc.code}: {exc.message}") from exc
        except _CAUGHT as exc:
            raise BlobStoreError(f"{action} failed on {self.where}: {exc}") from exc


class _S3Stream(io.RawIOBase):
    """An object body: reads like a file; close() returns the connection to the pool."""

    def __init__(self, response: Any, what: str) -> None:
        self._response = response
        self._what = what

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed blob stream")
        try:
            if size is None or size < 0:
                return self._response.read()
            return self._response.read(size)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # connection dropped mid-body
            raise BlobStoreError(f"{self._what} failed: {exc}") from exc

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._response.close()
                self._response.release_conn()
            finally:
                super().close()


def _anonymous(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


