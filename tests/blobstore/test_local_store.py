"""LocalBlobStore specifics: on-disk layout, read-only files, tolerance of stray files."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from repo_server.blobstore import LocalBlobStore, StagedFile

Stage = Callable[[bytes], StagedFile]
DATA = "第3课 勾股定理 教案".encode() * 100
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_layout_is_sharded_by_sha(local: LocalBlobStore, stage: Stage) -> None:
    local.add(stage(DATA))
    expected = local.root / SHA[:2] / SHA[2:4] / SHA
    assert expected.read_bytes() == DATA
    assert local.local_path(SHA) == expected
    assert [p.name for p in local.root.iterdir()] == [SHA[:2]]


def test_stored_file_is_read_only(local: LocalBlobStore, stage: Stage) -> None:
    local.add(stage(DATA))
    mode = local.local_path(SHA).stat().st_mode  # type: ignore[union-attr]
    assert stat.S_IMODE(mode) & 0o222 == 0
    assert stat.S_IMODE(mode) & 0o444 == 0o444


def test_adoption_is_a_rename_from_staging(local: LocalBlobStore, stage: Stage) -> None:
    staged = stage(DATA)
    inode = staged.path.stat().st_ino
    local.add(staged)
    assert local.local_path(SHA).stat().st_ino == inode  # type: ignore[union-attr]


def test_no_presigned_urls(local: LocalBlobStore, stage: Stage) -> None:
    local.add(stage(DATA))
    assert local.presigned_url(SHA, filename="a.pdf", mime="application/pdf") is None


def test_stray_files_are_ignored(local: LocalBlobStore, stage: Stage) -> None:
    local.add(stage(DATA))
    shard = local.root / SHA[:2] / SHA[2:4]
    (shard / f"{SHA}.part").write_bytes(b"x")
    (shard / SHA.upper()).write_bytes(b"x")
    (shard / ".DS_Store").write_bytes(b"x")
    (local.root / "README").write_text("not a blob")
    (local.root / "lost+found").mkdir()
    (local.root / "abc").mkdir()
    (local.root / "abc" / SHA).write_bytes(b"x")
    assert list(local.iter_sha256()) == [SHA]


def test_iter_on_missing_root(tmp_path: Path) -> None:
    assert list(LocalBlobStore(tmp_path / "absent").iter_sha256()) == []


def test_stray_file_at_second_level_is_ignored(local: LocalBlobStore, stage: Stage) -> None:
    local.add(stage(DATA))
    (local.root / SHA[:2] / "Thumbs.db").write_bytes(b"x")
    assert list(local.iter_sha256()) == [SHA]


def test_blob_under_the_wrong_shard_is_not_listed(local: LocalBlobStore, stage: Stage) -> None:
    local.add(stage(DATA))
    wrong = local.root / "00" / "00"
    wrong.mkdir(parents=True)
    (wrong / SHA).write_bytes(DATA)  # a valid name in a place blob_key never uses
    assert list(local.iter_sha256()) == [SHA]
