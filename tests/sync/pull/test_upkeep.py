"""What keeps a mirror healthy over many runs: garbage collection one version late behind a
max-delete guard, an orphan rsync of a killed run ended by the next, a report that cannot
reach the upstream never failing a sync, and a mirror whose catalog is PostgreSQL and whose
blob store is S3 (MinIO)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from repo_server.services.resources import delete_resource, update_resource
from repo_server.sync import publish
from repo_server.sync.pull.rsync import _alive
from tests.conftest import PG_URL
from tests.support import free_port

from .conftest import FAST, SCRIPT, repo_sync, status, trace

pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]


def _objects(school) -> set[str]:
    return set(school.open().blobs.iter_sha256())


def test_gc_runs_one_version_late_and_the_guard_refuses_a_mass_delete(services, world, library, schools) -> None:
    docs = [library.pdf(f"第{n}课.pdf") for n in range(25)]
    publish(services)
    school = schools()
    assert repo_sync(school.data_dir, services.settings.mirror_dir).returncode == 0
    v1 = _objects(school)
    assert len(v1) == 25

    for doc in docs[1:]:                       # 24 of 25 withdrawn upstream
        delete_resource(services, world.school_editor, doc["id"])
    publish(services)
    second = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert second.returncode == 0, second.stdout + second.stderr
    school.close()
    assert set(school.live()) == {docs[0]["id"]}
    assert _objects(school) == v1              # one version late: v1's files stay for now
    assert trace(school.data_dir)[-1]["gc_deleted"] == 0

    update_resource(services, world.school_editor, docs[0]["id"], {"title": "第0课（修订）"})
    publish(services)
    third = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert third.returncode == 0, third.stdout + third.stderr    # the sync itself succeeded
    assert "gc refused to delete 24 of 25 objects (more than 20 %): run with --force" in third.stdout
    assert trace(school.data_dir)[-1]["gc_refused"] == 24
    assert _objects(school) == v1

    forced = repo_sync(school.data_dir, services.settings.mirror_dir, "--force")   # nothing new upstream
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "up to date" in forced.stdout and "gc deleted 24 objects" in forced.stdout
    school.close()
    assert _objects(school) == {school.live()[docs[0]["id"]].blob_sha256}


def test_an_orphan_rsync_of_a_killed_run_is_ended_by_the_next(services, library, schools) -> None:
    big = library.file(b"%PDF-1.4\n" + os.urandom(3_000_000), "大文件.pdf")
    publish(services)
    school = schools()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    environ.update({"REPO_SECRET_KEY": "test-secret", "REPO_MIRROR_NAME": "school"})
    slow = subprocess.Popen([str(SCRIPT), "--upstream", str(services.settings.mirror_dir), "--data-dir",
                             str(school.data_dir), *FAST, "--stall-timeout", "60", "--bwlimit", "100"],
                            env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pgid_file = school.data_dir / "sync" / "rsync.pgid"
    staging = school.data_dir / "sync" / "staging"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:           # the big object is on its way
        if pgid_file.is_file() and any(p.is_file() and p.stat().st_size > 50_000 for p in staging.rglob("*")):
            break
        time.sleep(0.1)
    else:
        slow.kill()
        pytest.fail("the slow transfer never started")
    orphan = int(pgid_file.read_text())
    os.kill(slow.pid, signal.SIGKILL)           # the script dies; its rsync (own group) writes on
    slow.wait(10)
    assert _alive(orphan)

    try:
        run = repo_sync(school.data_dir, services.settings.mirror_dir)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "ended an rsync left running by a killed earlier run" in run.stderr
        assert not _alive(orphan)
        assert set(school.live()) == {big["id"]}
        assert not pgid_file.exists()
    finally:
        if _alive(orphan):
            os.killpg(orphan, signal.SIGKILL)


def test_an_unreachable_report_url_does_not_fail_the_sync(services, library, schools, tmp_path: Path) -> None:
    library.pdf()
    publish(services)
    token = tmp_path / "token"
    token.write_text("not-a-real-token\n")
    school = schools()
    run = repo_sync(school.data_dir, services.settings.mirror_dir, "--report-url",
                    f"http://127.0.0.1:{free_port()}/api/v1/mirrors/report", "--token-file", str(token))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "reporting to http://127.0.0.1" in run.stderr and "failed" in run.stderr
    assert status(school.data_dir)["result"] == "ok"


@pytest.fixture
def school_database() -> str:
    """An empty PostgreSQL database for a mirror (repo-sync migrates and seeds it)."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"repo_test_mirror_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_mirror_on_postgresql_and_s3(services, world, library, schools, school_database, moto_s3) -> None:
    first, second = library.pdf("第1课.pdf"), library.pdf("第2课.pdf", subject="语文")
    publish(services)
    env = {"REPO_DATABASE_URL": school_database, "REPO_BLOBSTORE": "minio", "REPO_S3_ENDPOINT": moto_s3.endpoint,
           "REPO_S3_ACCESS_KEY": moto_s3.access_key, "REPO_S3_SECRET_KEY": moto_s3.secret_key,
           "REPO_S3_SECURE": "false", "REPO_S3_BUCKET": f"school-{uuid.uuid4().hex[:12]}"}
    school = schools()
    full = repo_sync(school.data_dir, services.settings.mirror_dir, env=env)
    assert full.returncode == 0, full.stdout + full.stderr
    assert not (school.data_dir / "catalog.sqlite3").exists()

    update_resource(services, world.school_editor, first["id"], {"title": "第1课（修订）"})
    delete_resource(services, world.school_editor, second["id"])
    third = library.pdf("第3课.pdf")
    publish(services)
    step = repo_sync(school.data_dir, services.settings.mirror_dir, env=env)
    assert step.returncode == 0, step.stdout + step.stderr
    assert trace(school.data_dir)[-1]["manifest_from"] == "delta" and trace(school.data_dir)[-1]["objects"] == 1

    from dataclasses import replace

    from repo_server.config import Settings
    from repo_server.services import Services
    mirror = Services.open(replace(Settings(data_dir=school.data_dir, secret_key="test-secret"),
                                   database_url=school_database, blobstore="minio", s3_endpoint=moto_s3.endpoint,
                                   s3_access_key=moto_s3.access_key, s3_secret_key=moto_s3.secret_key,
                                   s3_secure=False, s3_bucket=env["REPO_S3_BUCKET"]))
    try:
        school.services = mirror
        live = school.live()
        assert set(live) == {first["id"], third["id"]} and live[first["id"]].title == "第1课（修订）"
        assert all(mirror.blobs.exists(r.blob_sha256) for r in live.values())
        # search on a PostgreSQL mirror: the catalog snapshot (REPEATABLE READ) matches the index
        from repo_server.services.actor import OPERATOR
        from repo_server.services.searching import SearchParams, search
        assert mirror.settings.is_mirror
        found = search(mirror, OPERATOR, SearchParams(q="修订"))
        assert [h["id"] for h in found["hits"]] == [first["id"]] and found["total"] == 1
        assert not list((school.data_dir / "blobs").rglob("*")) if (school.data_dir / "blobs").exists() else True
    finally:
        school.close()
