"""`repo-server doctor` against real failure conditions: a PostgreSQL port nobody listens on,
S3 keys a real (auth-enforcing) S3 server refuses, Redis on a closed port, a PATH without
ffmpeg, less free disk than one upload may need, a broken mirror status — each must show
its FAIL line with the fix, and exit 1; a healthy installation exits 0."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.support import S3Server, free_port
from tests.test_cli import run

QUIET = {"REPO_OAI_ADMIN_EMAIL": "it@example.edu.cn"}   # the placeholder address warns


def doctor(data_dir: Path, *args: str, **env: str):
    result = run(data_dir, "doctor", *args, env={**QUIET, **env})
    lines = result.stdout.splitlines()
    return result, {line.split()[1]: line for line in lines if line.split()[:1] in (["ok"], ["WARN"], ["FAIL"])}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    assert run(path, "init").returncode == 0
    return path


def test_a_healthy_installation_passes(data_dir: Path) -> None:
    result, lines = doctor(data_dir)
    assert lines["index"].startswith("WARN") and "no search index yet" in lines["index"]
    assert "`repo-server index rebuild` builds it now" in lines["index"] and result.returncode == 0
    assert run(data_dir, "index", "catch-up", "--no-extract").returncode == 0
    result, lines = doctor(data_dir)
    assert result.returncode == 0, result.stdout
    for name in ("settings", "catalog", "blob", "queue", "disk", "ffmpeg", "ffprobe", "soffice", "rsync",
                 "index", "jobs"):
        assert lines[name].startswith("ok"), result.stdout
    assert "probe written, read back, deleted" in lines["blob"]
    assert "ffmpeg version" in lines["ffmpeg"] and "rsync" in lines["rsync"]
    assert not [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]   # the probe is gone
    report = json.loads(run(data_dir, "doctor", "--json", env=QUIET).stdout)
    assert report["ok"] is True and {c["name"] for c in report["checks"]} >= {"catalog", "blob store", "disk"}


def test_an_unreachable_postgresql(tmp_path: Path) -> None:
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/repo"
    result, lines = doctor(tmp_path / "data", REPO_DATABASE_URL=url)
    assert result.returncode == 1
    assert lines["catalog"].startswith("FAIL") and "cannot connect to" in lines["catalog"]
    assert "fix: start the database server, or fix REPO_DATABASE_URL" in lines["catalog"]
    assert "secret" not in result.stdout                      # the password is not shown
    assert "not checked: index, jobs, mirror" in result.stdout


def test_a_catalog_never_initialised(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalog.sqlite3").touch()
    result, lines = doctor(data)
    assert result.returncode == 1
    assert lines["catalog"].startswith("FAIL") and "has no repo-server schema" in lines["catalog"]
    assert "fix: run `repo-server init`" in lines["catalog"]


def test_a_postgresql_catalog_shared_by_nodes_warns_about_coherence(tmp_path: Path, postgres_database: str) -> None:
    result, lines = doctor(tmp_path / "data", REPO_DATABASE_URL=postgres_database)
    assert result.returncode == 0, result.stdout                 # warnings only
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARN  settings")]
    assert any("REPO_SECRET_KEY is empty" in w and "same REPO_SECRET_KEY on every node" in w for w in warnings)
    assert any("SQLite job queue" in w and "REPO_QUEUE_URL=redis://" in w for w in warnings)
    assert lines["catalog"].startswith("ok")


@pytest.fixture
def strict_s3() -> Iterator[S3Server]:
    """moto's S3 server in its own process with authentication on: unknown keys are refused,
    as by a real S3 or MinIO (the session's moto server accepts any keys)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's server did not start (pip install 'moto[server]')", pytrace=False)
                time.sleep(0.1)
        yield S3Server(f"127.0.0.1:{port}", "AKIAWRONGWRONGWRONG1", "wrong-secret", False, "t")
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_s3_keys_the_server_refuses(data_dir: Path, strict_s3: S3Server) -> None:
    result, lines = doctor(data_dir, REPO_BLOBSTORE="minio", REPO_S3_ENDPOINT=strict_s3.endpoint,
                           REPO_S3_ACCESS_KEY=strict_s3.access_key, REPO_S3_SECRET_KEY=strict_s3.secret_key,
                           REPO_S3_BUCKET="doctor-probe")
    assert result.returncode == 1
    assert lines["blob"].startswith("FAIL") and "InvalidAccessKeyId" in lines["blob"], result.stdout
    assert "fix: check REPO_S3_ACCESS_KEY and REPO_S3_SECRET_KEY" in lines["blob"]


def test_a_working_s3_store_gets_the_probe(data_dir: Path, moto_s3: S3Server) -> None:
    result, lines = doctor(data_dir, REPO_BLOBSTORE="minio", REPO_S3_ENDPOINT=moto_s3.endpoint,
                           REPO_S3_ACCESS_KEY=moto_s3.access_key, REPO_S3_SECRET_KEY=moto_s3.secret_key,
                           REPO_S3_BUCKET=f"{moto_s3.bucket_prefix}-doctor-ok")
    assert lines["blob"].startswith("ok") and "probe written, read back, deleted" in lines["blob"], result.stdout
    assert not list(moto_s3.client().list_objects(f"{moto_s3.bucket_prefix}-doctor-ok", recursive=True))


def test_redis_on_a_closed_port(data_dir: Path) -> None:
    result, lines = doctor(data_dir, REPO_QUEUE_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert result.returncode == 1
    assert lines["queue"].startswith("FAIL") and "cannot reach the job queue" in lines["queue"]
    assert "fix: start Redis, or fix REPO_QUEUE_URL" in lines["queue"] and "hunter2" not in result.stdout


def test_a_path_without_ffmpeg(data_dir: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("rsync", "soffice"):      # everything but ffmpeg and ffprobe
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        assert found, f"{tool} is missing on this machine (scripts/bootstrap installs it)"
        (bin_dir / tool).symlink_to(found)
    result, lines = doctor(data_dir, PATH=str(bin_dir))
    assert result.returncode == 1
    assert lines["ffmpeg"].startswith("FAIL") and "no video and audio renditions" in lines["ffmpeg"]
    assert "fix: apt-get install ffmpeg" in lines["ffmpeg"] and lines["ffprobe"].startswith("FAIL")
    assert lines["rsync"].startswith("ok") and lines["soffice"].startswith("ok")


def test_less_free_space_than_one_upload(data_dir: Path) -> None:
    # The threshold is the largest upload, so an upload limit above the disk's free space is
    # an honest "this disk cannot take one more upload of the allowed size".
    result, lines = doctor(data_dir, REPO_MAX_UPLOAD_BYTES=str(10**18))
    assert result.returncode == 1
    assert lines["disk"].startswith("FAIL") and "less than one upload of REPO_MAX_UPLOAD_BYTES" in lines["disk"]
    assert "fix: free space or move REPO_DATA_DIR to a larger disk" in lines["disk"]


def test_settings_that_do_not_parse(tmp_path: Path) -> None:
    result, lines = doctor(tmp_path / "data", REPO_METRICS_ALLOW="10.0.0.0/33")
    assert result.returncode == 1
    assert lines["settings"].startswith("FAIL") and "REPO_METRICS_ALLOW" in lines["settings"]


def test_a_mirror_whose_status_cannot_be_read(data_dir: Path) -> None:
    (data_dir / "sync").mkdir()
    (data_dir / "sync" / "status.json").write_text("{cut off")
    result, lines = doctor(data_dir)
    assert result.returncode == 1
    assert lines["mirror"].startswith("FAIL") and "not a JSON status object" in lines["mirror"]
    assert "fix: run scripts/repo-sync again" in lines["mirror"]
