"""Fixtures for the blob store tests: real backends only.

S3 runs against moto's standalone S3 server, started once per session on 127.0.0.1 (a
real HTTP server speaking the S3 protocol, not an in-process patch), and against a real
MinIO when REPO_TEST_MINIO_URL is set. Every test gets a fresh bucket or directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.support import REGION, S3Server, free_port
from repo_server.blobstore.minio_store import MinioBlobStore
from repo_server.blobstore import BlobStore, LocalBlobStore, StagedFile, Staging

MiB = 1024 * 1024
TEST_PART_SIZE = 5 * MiB  # the S3 minimum, so an 11 MiB blob needs three parts

S3_BACKENDS = ["s3-moto"] + (["minio-real"] if os.environ.get("REPO_TEST_MINIO_URL") else [])
BACKENDS = ["local", *S3_BACKENDS]


@pytest.fixture(scope="session")
def minio_real() -> S3Server:
    """A real MinIO from REPO_TEST_MINIO_URL=http://ACCESS:SECRET@host:port/bucket.

    Use https:// for TLS. The bucket part is a name prefix: each test creates and then
    removes its own `<bucket>-<random>` bucket, so the keys need bucket create/delete rights.
    """
    url = urlsplit(os.environ["REPO_TEST_MINIO_URL"])
    prefix = url.path.strip("/") or "repo-test"
    return S3Server(f"{url.hostname}:{url.port or (443 if url.scheme == 'https' else 80)}",
                    unquote(url.username or ""), unquote(url.password or ""),
                    url.scheme == "https", prefix)


def _server_for(request: pytest.FixtureRequest, kind: str) -> S3Server:
    return request.getfixturevalue("moto_s3" if kind == "s3-moto" else "minio_real")


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    """A staging area over a temp dir (beside the local blob root, like in production)."""
    return Staging(tmp_path / "tmp")


@pytest.fixture
def stage(staging: Staging) -> Callable[[bytes], StagedFile]:
    """Turn bytes into a finished-able StagedFile, written in 1 MiB chunks like an upload."""
    def _stage(data: bytes) -> StagedFile:
        staged = staging.new()
        for offset in range(0, len(data), MiB):
            staged.write(data[offset:offset + MiB])
        return staged
    return _stage


@dataclass
class Backend:
    """One blob store backend under test: makes a working and an unreachable store."""

    kind: str
    store: BlobStore
    make_broken: Callable[[], BlobStore]


def _fresh_bucket(server: S3Server) -> tuple[MinioBlobStore, Callable[[], None]]:
    client = server.client()
    bucket = f"{server.bucket_prefix}-{uuid.uuid4().hex[:16]}"
    store = MinioBlobStore(client, bucket, region=REGION, part_size=TEST_PART_SIZE)
    store.ensure_bucket()

    def cleanup() -> None:
        for obj in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, obj.object_name)
        client.remove_bucket(bucket)
    return store, cleanup


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every backend in turn; S3 ones get a fresh private bucket, removed afterwards."""
    kind = request.param
    if kind == "local":
        def broken_local() -> BlobStore:
            # Tests run as root, so permissions cannot make a directory unusable; a regular
            # file where the root directory should be fails every operation.
            root = tmp_path / "not-a-directory"
            root.write_bytes(b"")
            return LocalBlobStore(root)
        yield Backend(kind, LocalBlobStore(tmp_path / "blobs"), broken_local)
        return
    server = _server_for(request, kind)
    store, cleanup = _fresh_bucket(server)

    def broken_s3() -> BlobStore:
        closed = S3Server(f"127.0.0.1:{free_port()}", "testing", "testing", False, "t")
        return MinioBlobStore(closed.client(retries=False), "unreachable", region=REGION,
                              part_size=TEST_PART_SIZE)
    try:
        yield Backend(kind, store, broken_s3)
    finally:
        cleanup()


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    """A fresh, empty blob store of each backend kind."""
    return backend.store


@pytest.fixture(params=S3_BACKENDS)
def s3_store(request: pytest.FixtureRequest) -> Iterator[MinioBlobStore]:
    """A MinioBlobStore with a fresh private bucket, on moto and (if configured) real MinIO."""
    store, cleanup = _fresh_bucket(_server_for(request, request.param))
    try:
        yield store
    finally:
        cleanup()


@pytest.fixture
def s3_server(s3_store: MinioBlobStore, request: pytest.FixtureRequest) -> S3Server:
    """The server behind `s3_store` (for anonymous requests and settings-built stores)."""
    return _server_for(request, request.node.callspec.params["s3_store"])
