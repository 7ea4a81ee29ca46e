"""The restore drill: back up a running server's library, restore it into fresh storage, and
prove it is the same library — on SQLite + the local store and on PostgreSQL + S3 (moto).

Every step goes through the `repo-server` command as an operator would run it; the servers
are real `repo-server serve` processes (gunicorn) on loopback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from repo_server.blobstore import blob_key, open_blobstore
from repo_server.catalog.changes import last_seq
from repo_server.config import Settings
from repo_server.ingest.extract import Extraction
from repo_server.locks import FileLock
from repo_server.services import Services
from repo_server.services.backup import backup
from repo_server.services.backup_format import BackupError
from repo_server.services.media_work import run_job
from repo_server.services.resources import delete_resource
from repo_server.services.texts import store_text
from repo_server.sync import publish
from tests.conftest import PG_URL
from tests.support import start_server, stop_server
from tests.sync.conftest import Library, env_of


# -- the two stacks -----------------------------------------------------------------------------
@pytest.fixture
def settings(settings: Settings, request) -> Settings:
    """The root fixture's catalogs, each with its own blob store: SQLite with the local store
    and a generated secret key in the data dir; PostgreSQL with S3 (moto)."""
    if not settings.database_url:
        return replace(settings, secret_key="")
    s3 = request.getfixturevalue("moto_s3")
    return replace(settings, blobstore="minio", s3_endpoint=s3.endpoint, s3_access_key=s3.access_key,
                   s3_secret_key=s3.secret_key, s3_bucket=f"source-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def fresh_target(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Where a restore goes: a data dir that does not exist yet, and for PostgreSQL a new
    empty database and a new bucket (dropped at the end)."""
    data_dir = tmp_path / "restored"
    if not settings.database_url:
        yield Settings(data_dir=data_dir)
        return
    name = f"repo_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield replace(settings, data_dir=data_dir, database_url=url, s3_bucket=f"restored-{uuid.uuid4().hex[:12]}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def env(settings: Settings) -> dict[str, str]:
    return {**env_of(settings), "REPO_SECRET_KEY": settings.secret_key, "REPO_WORKERS": "1",
            "REPO_THREADS": "4", "REPO_LOG_LEVEL": "warning", "REPO_EMBEDDED_WORKER": "false"}


def repo_server(settings: Settings, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **env(settings)}
    if path is not None:
        environ["PATH"] = path
    return subprocess.run([sys.executable, "-m", "repo_server.cli", *args], env=environ,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator:
    """start(settings) → base URL of a `repo-server serve` on loopback; all stopped at the end."""
    started = []

    def start(settings: Settings) -> str:
        process, url, _ = start_server(env(settings), tmp_path / f"server-{len(started)}.log")
        started.append(process)
        return url
    yield start
    for process in started:
        stop_server(process)


def build_library(services: Services, world, corpus) -> dict[str, dict]:
    """Resources with distinct words, a thumbnail derivative, an extracted text, a withdrawn
    item, and a published mirror serial."""
    library = Library(services, world)
    items = {
        "pythagoras": library.pdf("第3课 勾股定理.pdf"),
        "photosynthesis": library.pdf("光合作用 教案.pdf", subject="生物学", grade="七年级"),
        "picture": library.file(corpus("hopper.png").read_bytes(), "课堂 素材图片.png", type="素材"),
        "withdrawn": library.pdf("撤回的 课件.pdf"),
    }
    assert run_job(services, items["picture"]["media"]["id"]).status == "done"
    words = "欧几里得几何原本中的证明"
    store_text(services, items["pythagoras"]["sha256"], Extraction("done", words, len(words), False, "pdfium", ""))
    delete_resource(services, world.admin, items["withdrawn"]["id"])
    assert publish(services).serial == 1
    return items


def blob_bytes(services: Services, sha256: str) -> bytes:
    with services.blobs.open(sha256) as stream:
        return stream.read()


def login(url: str, username: str, password: str) -> int:
    with requests.Session() as session:
        page = session.get(f"{url}/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return session.post(f"{url}/login", data={"username": username, "password": password,
                                                  "csrf_token": token},
                            allow_redirects=False, timeout=30).status_code


# -- the drill ---------------------------------------------------------------------------------
def test_restore_drill(services, world, corpus, servers, fresh_target, tmp_path) -> None:
    source = services.settings
    items = build_library(services, world, corpus)
    url = servers(source)
    admin = {"Authorization": f"Bearer {world.tokens['admin']}"}
    during = requests.post(f"{url}/api/v1/resources", headers=admin, timeout=60,
                           files={"file": ("第5课 三角形全等.pdf", b"%PDF-1.4 uploaded while running")},
                           data={"subject": "数学", "grade": "八年级"})
    assert during.status_code == 201, during.text
    items["uploaded"] = during.json()

    dest = tmp_path / "backup"
    first = repo_server(source, "backup", str(dest), "--json")     # while the server runs
    assert first.returncode == 0, first.stderr
    manifest = json.loads((dest / "MANIFEST.json").read_text())
    assert manifest == json.loads(first.stdout)
    with services.catalog.read() as session:
        blobs_now, seq_now = session.execute(text("SELECT count(*), sum(size) FROM blobs")).one(), last_seq(session)
    assert manifest["counts"]["blobs"] == blobs_now[0] >= 6 and manifest["counts"]["blob_bytes"] == blobs_now[1]
    assert manifest["blobs"]["copied"] == blobs_now[0] and manifest["blobs"]["already_present"] == 0
    assert (manifest["counts"]["resources"], manifest["counts"]["deleted_resources"]) == (4, 1)
    assert manifest["counts"]["last_change"] == seq_now and manifest["counts"]["texts"] >= 1
    assert manifest["catalog"]["engine"] == ("sqlite" if not source.database_url else "postgresql")
    assert manifest["files"].keys() >= {"mirror/manifests/1.json"}
    assert ("secret_key" in manifest["files"]) == (not source.secret_key)

    # a second backup into the same place copies only what is new
    items["later"] = Library(services, world).pdf("第6课 相似三角形.pdf")
    second = repo_server(source, "backup", str(dest), "--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["blobs"]["copied"], again["blobs"]["already_present"]) == (1, blobs_now[0])
    assert again["blobs"]["copied_bytes"] == items["later"]["size"]

    restored = repo_server(fresh_target, "restore", str(dest))
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "index      rebuilt: 5 documents" in restored.stdout
    check = repo_server(fresh_target, "check", "--deep")
    assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
    if not source.secret_key:
        assert (fresh_target.data_dir / "secret_key").read_text() == (source.data_dir / "secret_key").read_text()
        assert oct((fresh_target.data_dir / "secret_key").stat().st_mode & 0o777) == "0o600"

    target = Services.open(fresh_target)
    try:
        new_url = servers(fresh_target)
        for name, item in items.items():     # the same bytes, through the restored server
            response = requests.get(f"{new_url}/api/v1/resources/{item['id']}/download", headers=admin, timeout=60)
            if name == "withdrawn":
                assert response.status_code == 404
            else:
                assert response.status_code == 200, (name, response.text)
                assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
                assert response.content == blob_bytes(services, item["sha256"])
        with services.catalog.read() as session:
            all_blobs = list(session.execute(text("SELECT sha256 FROM blobs")).scalars())
        with target.catalog.read() as session:
            renditions = list(session.execute(text("SELECT blob_sha256 FROM derivatives WHERE status = 'done'")).scalars())
        assert renditions and set(renditions) <= set(all_blobs)      # the thumbnail came along
        for sha256 in all_blobs:
            assert blob_bytes(target, sha256) == blob_bytes(services, sha256)

        for query, expected in (("勾股定理", "pythagoras"), ("光合作用", "photosynthesis"), ("欧几里得", "pythagoras"),
                                ("三角形全等", "uploaded"), ("相似三角形", "later"), ("撤回", None)):
            hits = requests.get(f"{new_url}/api/v1/search", params={"q": query}, headers=admin, timeout=30).json()["hits"]
            assert [h["id"] for h in hits] == ([items[expected]["id"]] if expected else []), query

        assert login(new_url, "teacher", world.passwords["teacher"]) == 302
        assert login(new_url, "teacher", "wrong password") != 302

        with target.catalog.read() as session:
            restored_seq = last_seq(session)
        assert restored_seq == again["counts"]["last_change"]
        after = requests.post(f"{new_url}/api/v1/resources", headers=admin, timeout=60,
                              files={"file": ("第7课 圆.pdf", b"%PDF-1.4 after the restore")},
                              data={"subject": "数学", "grade": "九年级"})
        assert after.status_code == 201, after.text
        with target.catalog.read() as session:
            assert last_seq(session) > restored_seq

        report = publish(target)     # the mirror goes on with the next serial, never reuses one
        assert report.published and report.serial == 2
    finally:
        target.close()


# -- refusals -----------------------------------------------------------------------------------
def _target_is_untouched(target: Settings) -> None:
    assert not target.data_dir.exists() or [p.name for p in target.data_dir.iterdir()] == ["keep.txt"]
    if target.database_url:
        engine = create_engine(target.catalog_url)
        try:
            with engine.connect() as conn:
                tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        finally:
            engine.dispose()
        assert tables <= {"precious"}


def test_damaged_backups_and_full_targets_are_refused(services, world, fresh_target, tmp_path) -> None:
    item = Library(services, world).pdf("第1课 认识数字.pdf")
    good = tmp_path / "good"
    backup(services, good)
    assert repo_server(fresh_target, "restore", "--verify-only", str(good)).returncode == 0

    wrong_bytes = tmp_path / "wrong-bytes"
    shutil.copytree(good, wrong_bytes)
    blob = wrong_bytes / "blobs" / blob_key(item["sha256"])
    blob.chmod(0o644)
    blob.write_bytes(b"X" * item["size"])             # same size, other bytes
    refused = repo_server(fresh_target, "restore", str(wrong_bytes))
    assert refused.returncode == 1 and f"blob {item['sha256']} in the backup is damaged" in refused.stderr
    _target_is_untouched(fresh_target)
    quick = repo_server(fresh_target, "restore", "--quick", str(wrong_bytes))   # caught while copying
    assert quick.returncode == 1 and "is damaged" in quick.stderr and "partial restore" in quick.stderr
    shutil.rmtree(fresh_target.data_dir)
    if fresh_target.database_url:
        return   # the half-restored database is the fixture's to drop; the rest is checked on SQLite

    incomplete = tmp_path / "incomplete"
    shutil.copytree(good, incomplete)
    (incomplete / "MANIFEST.json").unlink()
    refused = repo_server(fresh_target, "restore", str(incomplete))
    assert refused.returncode == 1 and "has no MANIFEST.json: the backup did not finish" in refused.stderr
    _target_is_untouched(fresh_target)

    fresh_target.data_dir.mkdir()
    (fresh_target.data_dir / "keep.txt").write_text("someone's data")
    refused = repo_server(fresh_target, "restore", str(good))
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    _target_is_untouched(fresh_target)
    assert (fresh_target.data_dir / "keep.txt").read_text() == "someone's data"


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_a_database_or_bucket_with_data_is_refused_untouched(services, world, fresh_target, tmp_path) -> None:
    Library(services, world).pdf("第2课.pdf")
    good = tmp_path / "good"
    backup(services, good)
    engine = create_engine(fresh_target.catalog_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE precious (v text)"))
        conn.execute(text("INSERT INTO precious VALUES ('keep')"))
    refused = repo_server(fresh_target, "restore", str(good))
    assert refused.returncode == 1 and "already has 1 tables" in refused.stderr
    _target_is_untouched(fresh_target)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT v FROM precious")).scalar() == "keep"
        conn.execute(text("DROP TABLE precious"))
    engine.dispose()

    bucket = open_blobstore(fresh_target)
    staged = services.staging.new()
    staged.write(b"somebody else's object")
    bucket.add(staged)
    refused = repo_server(fresh_target, "restore", str(good))
    assert refused.returncode == 1 and f"the bucket {fresh_target.s3_bucket} already holds blobs" in refused.stderr
    _target_is_untouched(fresh_target)
    assert len(list(bucket.iter_sha256())) == 1


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_missing_postgresql_tools_fail_clearly(services, tmp_path) -> None:
    no_tools = str(Path(sys.executable).parent)      # the venv's bin: python, no pg_dump
    result = repo_server(services.settings, "backup", str(tmp_path / "b"), path=no_tools)
    assert result.returncode == 1
    assert "pg_dump is not installed" in result.stderr and "postgresql-client" in result.stderr
    assert not (tmp_path / "b" / "MANIFEST.json").exists()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_one_backup_at_a_time_into_a_directory(services, world, tmp_path) -> None:
    Library(services, world).pdf("第1课.pdf")
    dest = tmp_path / "b"
    dest.mkdir()
    lock = FileLock.try_acquire(dest / ".backup.lock")      # as a running backup holds it
    try:
        with pytest.raises(BackupError, match="another backup is writing to"):
            backup(services, dest)
    finally:
        lock.release()
    assert backup(services, dest)["blobs"]["copied"] == 1
    assert (dest / "MANIFEST.json").is_file() and oct(dest.stat().st_mode & 0o777) == "0o700"
