"""The BlobStore contract, run against every backend (local, moto S3, real MinIO if set).

Whatever a service does with a store must behave the same on each of them, including the
exceptions: BlobNotFound for missing or malformed keys, BlobStoreError for a dead backend.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import pytest

from repo_server.blobstore import (BlobNotFound, BlobStat, BlobStore, BlobStoreError,
                                   StagedFile)

from .conftest import MiB, TEST_PART_SIZE, Backend

Stage = Callable[[bytes], StagedFile]
DATA = bytes(range(256)) * 40 + "勾股定理".encode()  # 10,252 bytes
SHA = hashlib.sha256(DATA).hexdigest()
MISSING = hashlib.sha256(b"never stored").hexdigest()
BAD_KEYS = ["../etc/passwd", SHA.upper(), SHA[:63], SHA + "0", "", f"ab/cd/{SHA}", SHA[:-1] + "g"]


def read(store: BlobStore, sha256: str, start: int = 0, length: int | None = None) -> bytes:
    with store.open(sha256, start, length) as stream:
        return stream.read()


def test_implements_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)
    assert store.name in {"local", "minio"}


def test_add_new_then_duplicate(store: BlobStore, stage: Stage) -> None:
    assert store.add(stage(DATA)) is True
    assert store.add(stage(DATA)) is False
    assert list(store.iter_sha256()) == [SHA]
    assert read(store, SHA) == DATA


def test_staged_file_is_consumed(store: BlobStore, stage: Stage) -> None:
    first, second = stage(DATA), stage(DATA)
    store.add(first)
    assert not first.path.exists()
    assert store.add(second) is False
    assert not second.path.exists()
    assert list(first.path.parent.iterdir()) == []


def test_stat_and_exists(store: BlobStore, stage: Stage) -> None:
    assert store.exists(SHA) is False
    store.add(stage(DATA))
    assert store.exists(SHA) is True
    assert store.stat(SHA) == BlobStat(SHA, len(DATA))
    with pytest.raises(BlobNotFound):
        store.stat(MISSING)


def test_empty_blob(store: BlobStore, stage: Stage) -> None:
    empty = hashlib.sha256(b"").hexdigest()
    assert store.add(stage(b"")) is True
    assert store.stat(empty).size == 0
    assert read(store, empty) == b""
    assert read(store, empty, 0, 10) == b""


@pytest.mark.parametrize(("start", "length"), [
    (0, None), (0, 1), (100, 50), (100, None), (len(DATA) - 1, None), (len(DATA) - 5, 100),
    (5, 0), (len(DATA), None), (len(DATA) + 10, 3),
])
def test_ranged_reads(store: BlobStore, stage: Stage, start: int, length: int | None) -> None:
    store.add(stage(DATA))
    end = None if length is None else start + length
    assert read(store, SHA, start, length) == DATA[start:end]


def test_read_in_chunks(store: BlobStore, stage: Stage) -> None:
    store.add(stage(DATA))
    with store.open(SHA, 10, 5000) as stream:
        chunks = iter(lambda: stream.read(1000), b"")
        assert b"".join(chunks) == DATA[10:5010]


@pytest.mark.parametrize(("start", "length"), [(0, None), (10, 5), (0, 0)])
def test_missing_blob(store: BlobStore, start: int, length: int | None) -> None:
    with pytest.raises(BlobNotFound):
        store.open(MISSING, start, length)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_not_found(store: BlobStore, stage: Stage, key: str) -> None:
    store.add(stage(DATA))  # a real blob exists, so a lenient key check could find it
    with pytest.raises(BlobNotFound):
        store.open(key)
    with pytest.raises(BlobNotFound):
        store.stat(key)
    with pytest.raises(BlobNotFound):
        store.exists(key)
    with pytest.raises(BlobNotFound):
        store.delete(key)
    assert store.exists(SHA)


def test_delete_is_idempotent(store: BlobStore, stage: Stage) -> None:
    store.add(stage(DATA))
    store.delete(SHA)
    assert store.exists(SHA) is False
    with pytest.raises(BlobNotFound):
        store.open(SHA)
    store.delete(SHA)
    store.delete(MISSING)
    assert list(store.iter_sha256()) == []


def test_iter_lists_exactly_what_was_added(store: BlobStore, stage: Stage) -> None:
    blobs = [os.urandom(100 + i) for i in range(5)]
    for blob in blobs:
        store.add(stage(blob))
    expected = {hashlib.sha256(blob).hexdigest() for blob in blobs}
    listed = list(store.iter_sha256())
    assert len(listed) == 5 and set(listed) == expected
    store.delete(listed[0])
    assert set(store.iter_sha256()) == expected - {listed[0]}


def test_large_blob_round_trips(store: BlobStore, stage: Stage) -> None:
    data = os.urandom(2 * TEST_PART_SIZE + MiB + 7)  # three parts on S3
    sha = hashlib.sha256(data).hexdigest()
    staged = stage(data)
    assert store.add(staged) is True
    assert not staged.path.exists()
    assert store.stat(sha).size == len(data)
    digest = hashlib.sha256()
    with store.open(sha) as stream:
        while chunk := stream.read(MiB):
            digest.update(chunk)
    assert digest.hexdigest() == sha
    # a range across the first part boundary
    assert read(store, sha, TEST_PART_SIZE - 10, 20) == data[TEST_PART_SIZE - 10:TEST_PART_SIZE + 10]


def test_unreachable_backend_raises_store_error(backend: Backend, stage: Stage) -> None:
    broken = backend.make_broken()
    staged = stage(DATA)
    with pytest.raises(BlobStoreError) as info:
        broken.add(staged)
    assert not isinstance(info.value, BlobNotFound)
    assert not staged.path.exists()
    with pytest.raises(BlobStoreError):
        broken.stat(SHA)
    with pytest.raises(BlobStoreError):
        broken.open(SHA)
    with pytest.raises(BlobStoreError):
        broken.open(SHA, 3, 4)
