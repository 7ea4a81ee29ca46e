"""`repo-server mirror …` as an operator runs it: output, files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sync.conftest import publisher_lock
from tests.test_cli import run

PDF = b"%PDF-1.4 a lesson for the mirror"


def library(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert run(data, "init").returncode == 0
    assert run(data, "user", "add", "admin", "--role", "admin", "--no-password").returncode == 0
    folder = tmp_path / "src" / "初中" / "八年级" / "数学"
    folder.mkdir(parents=True)
    (folder / "第1课 勾股定理.pdf").write_bytes(PDF)
    assert run(data, "import", str(tmp_path / "src")).returncode == 0
    return data


def test_publish_status_verify_and_gc(tmp_path: Path) -> None:
    data = library(tmp_path)
    first = run(data, "mirror", "publish")
    assert first.returncode == 0, first.output
    assert f"tree       {data / 'mirror'}" in first.stdout
    assert "serial     1 (was none): 1 new or changed" in first.stdout and "1 resources, 1 objects" in first.stdout
    again = run(data, "mirror", "publish", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["published"] is False
    status = run(data, "mirror", "status", "--json")
    assert json.loads(status.stdout)["serial"] == 1 and json.loads(status.stdout)["bytes"] == len(PDF)
    verified = run(data, "mirror", "verify", "--deep")
    assert verified.returncode == 0 and "OK" in verified.stdout
    next(p for p in (data / "mirror" / "objects").rglob("*") if p.is_file()).unlink()
    broken = run(data, "mirror", "verify")
    assert broken.returncode == 1 and "missing" in broken.stdout
    assert run(data, "mirror", "publish", "--full").returncode == 0       # re-exports it
    assert run(data, "mirror", "verify").returncode == 0
    assert "kept serials [1]" in run(data, "mirror", "gc").stdout


def test_busy_missing_blobs_and_empty_trees_have_their_exit_codes(tmp_path: Path) -> None:
    data = library(tmp_path)
    assert run(data, "mirror", "status").returncode == 1
    with publisher_lock(data / "mirror"):
        busy = run(data, "mirror", "publish")
    assert busy.returncode == 75 and "try again later" in busy.output
    for blob in (data / "blobs").rglob("*"):
        if blob.is_file():
            blob.unlink()
    missing = run(data, "mirror", "publish")
    assert missing.returncode == 1 and "Nothing was published" in missing.output
    assert not (data / "mirror" / "CURRENT").exists()


def test_school_accounts_and_the_rsyncd_conf(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "init").returncode == 0
    no_schools = run(data, "mirror", "rsyncd-conf")
    assert no_schools.returncode == 78 and "add-school" in no_schools.output
    added = run(data, "mirror", "add-school", "yixiao-0301")
    secret = added.stdout.strip()
    assert added.returncode == 0 and len(secret) >= 32
    assert (data / "rsyncd.secrets").read_text() == f"yixiao-0301:{secret}\n"
    assert oct((data / "rsyncd.secrets").stat().st_mode)[-3:] == "600"
    assert run(data, "mirror", "add-school", "yixiao-0301").returncode == 1
    assert run(data, "mirror", "add-school", "school one").returncode == 1
    conf = run(data, "mirror", "rsyncd-conf", "--port", "8873", "--module", "city",
               env={"REPO_RSYNC_HOSTS_ALLOW": "10.1.0.0/16"}).stdout
    for line in ("port = 8873", "[city]", f"path = {(data / 'mirror').resolve()}", "read only = yes",
                 "auth users = yixiao-0301", f"secrets file = {(data / 'rsyncd.secrets').resolve()}",
                 "hosts allow = 10.1.0.0/16", "max connections = 10", "use chroot = yes",
                 "refuse options = delete*", "timeout = 600", "log format = "):
        assert line in conf, line
    assert run(data, "mirror", "list-schools").stdout == "yixiao-0301\n"
    assert run(data, "mirror", "remove-school", "yixiao-0301").returncode == 0
    assert run(data, "mirror", "remove-school", "yixiao-0301").returncode == 1
