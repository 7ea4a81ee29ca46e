"""repo_server.durable: a replaced file holds the old bytes or the new ones, never a temp left over."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from repo_server.durable import write_atomic


def test_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "CURRENT"
    write_atomic(target, "gen-1")
    write_atomic(target, b"gen-2")
    assert target.read_text() == "gen-2"
    assert [p.name for p in tmp_path.iterdir()] == ["CURRENT"]


def test_secret_files_are_created_private(tmp_path: Path) -> None:
    target = tmp_path / "rsyncd.secrets"
    write_atomic(target, "school-1:s3cret\n", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_replace_keeps_the_old_version_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.mkdir()                      # os.replace of a file over a non-empty directory fails
    (target / "old").write_text("kept")
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert (target / "old").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
