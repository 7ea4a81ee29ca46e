"""Staging: uploads are hashed while written, bounded, sniffable, and leave no litter."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest

from repo_server.blobstore import Staging
from repo_server.blobstore.staging import HEAD_BYTES, WRITEBACK_EVERY
from repo_server.blobstore.writeback import start_writeback
from repo_server.errors import IncompleteUpload, TooLarge


def incoming(staging: Staging) -> list[Path]:
    return sorted(staging.directory.glob("incoming-*"))


def test_hash_and_size_match_hashlib(staging: Staging) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    staged = staging.new(filename="课件.pptx")
    for offset in range(0, len(data), 65536):
        staged.write(data[offset:offset + 65536])
    assert staged.sha256 is None and staged.tell() == len(data)
    sha = staged.finish()
    assert sha == hashlib.sha256(data).hexdigest() == staged.sha256
    assert staged.finish() == sha  # idempotent
    assert staged.size == len(data) and staged.complete
    assert staged.path.read_bytes() == data
    assert staged.filename == "课件.pptx"
    with pytest.raises(ValueError):
        staged.write(b"more")


def test_receive_copies_a_stream(staging: Staging) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    staged = staging.receive(io.BytesIO(data))
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.path.read_bytes() == data


def test_seek_marks_complete(staging: Staging) -> None:
    staged = staging.new()
    staged.write(b"abc")
    assert staged.complete is False
    staged.seek(0)
    assert staged.complete is True
    with pytest.raises(OSError):
        staged.read()


def test_too_large_removes_partial_file(staging: Staging) -> None:
    staged = staging.new(max_bytes=10)
    staged.write(b"12345678")
    assert staged.path.exists()
    with pytest.raises(TooLarge) as info:
        staged.write(b"901")
    assert info.value.details["limit"] == 10
    assert not staged.path.exists()
    assert incoming(staging) == []
    with pytest.raises(IncompleteUpload):
        staged.finish()


def test_exactly_max_bytes_is_accepted(staging: Staging) -> None:
    staged = staging.new(max_bytes=10)
    staged.write(b"1234567890")
    assert staged.finish() == hashlib.sha256(b"1234567890").hexdigest()


def test_receive_too_large_leaves_nothing(staging: Staging) -> None:
    with pytest.raises(TooLarge):
        staging.receive(io.BytesIO(b"x" * 5000), max_bytes=4096)
    assert incoming(staging) == []


def test_discard_is_idempotent(staging: Staging) -> None:
    staged = staging.new()
    staged.write(b"data")
    staged.discard()
    assert not staged.path.exists()
    staged.discard()
    assert not staged.path.exists()
    with pytest.raises(IncompleteUpload):
        staged.finish()


def test_context_manager_discards(staging: Staging) -> None:
    with staging.new() as staged:
        staged.write(b"data")
        assert staged.path.exists()
    assert not staged.path.exists()


def test_sweep_removes_only_old_incoming_files(staging: Staging) -> None:
    old = staging.new()
    old.finish()
    fresh = staging.new()
    other = staging.directory / "keep-me.txt"
    other.write_bytes(b"not ours")
    past = time.time() - 2 * 3600
    os.utime(old.path, (past, past))
    os.utime(other, (past, past))
    assert staging.sweep(older_than_s=3600) == 1
    assert not old.path.exists()
    assert fresh.path.exists() and other.exists()
    assert staging.sweep(older_than_s=3600) == 0


def test_sweep_removes_old_media_scratch_directories(staging: Staging) -> None:
    staging.directory.mkdir(parents=True, exist_ok=True)
    old, fresh = staging.directory / "media-old", staging.directory / "media-fresh"
    for scratch in (old, fresh):
        (scratch / "pages").mkdir(parents=True)
        (scratch / "pages" / "page-0001.webp").write_bytes(b"RIFF")
    past = time.time() - 2 * 3600
    os.utime(old, (past, past))
    assert staging.sweep(older_than_s=3600) == 1
    assert not old.exists() and fresh.exists()


def test_sweep_without_directory(tmp_path: Path) -> None:
    assert Staging(tmp_path / "absent").sweep() == 0


@pytest.mark.parametrize("size", [10, HEAD_BYTES, HEAD_BYTES + 1, 3 * HEAD_BYTES])
def test_head_keeps_first_bytes(staging: Staging, size: int) -> None:
    data = os.urandom(size)
    staged = staging.new()
    for offset in range(0, size, 100_000):  # chunks that straddle the head boundary
        staged.write(data[offset:offset + 100_000])
    assert staged.head == data[:HEAD_BYTES]
    assert len(staged.head) == min(size, HEAD_BYTES)


def test_large_files_are_written_back_while_received(tmp_path: Path) -> None:
    """Past WRITEBACK_EVERY the kernel is asked to start writing; the content is unchanged."""
    staged = Staging(tmp_path).new()
    chunk = bytes(range(256)) * 4096
    digest = hashlib.sha256()
    for _ in range(WRITEBACK_EVERY // len(chunk) + 3):
        staged.write(chunk)
        digest.update(chunk)
    assert staged._written_back >= WRITEBACK_EVERY
    assert staged.finish() == digest.hexdigest()
    assert staged.path.stat().st_size == staged.size
    with open(staged.path, "rb") as handle:
        assert start_writeback(handle.fileno(), 0, 4096) is True  # available on Linux
    staged.discard()
