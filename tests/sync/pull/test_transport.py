"""Against a real rsync daemon on 127.0.0.1: credentials, unknown module and a dead
upstream give the right exit codes; a stalled connection (a loopback proxy that stops
forwarding) is stopped by the watchdog, retried, and the partial file resumes; a corrupted
object is fetched again; city → county → school chain."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from repo_server.blobstore import blob_key
from repo_server.sync import publish
from repo_server.sync.rsyncd import add_school
from tests.support import free_port
from tests.sync.test_rsyncd import Daemon

from .conftest import ROOT, repo_sync, status, trace

pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]


@pytest.fixture
def daemon(services, tmp_path):
    server = Daemon(services, tmp_path)
    server.secret = add_school(services.settings.rsync_secrets, "yixiao")
    server.start()
    yield server
    server.stop()


def _url(daemon, user="yixiao", port=None, module="repo") -> str:
    return f"rsync://{user}@127.0.0.1:{port or daemon.port}/{module}"


def test_a_daemon_sync_with_the_secret_and_the_failures_that_say_what_to_do(services, library, daemon, schools) -> None:
    doc = library.pdf()
    publish(services)
    school = schools()
    good = repo_sync(school.data_dir, _url(daemon), "--password-file", str(daemon.password_file(daemon.secret)))
    assert good.returncode == 0, good.stderr
    assert set(school.live()) == {doc["id"]} and status(school.data_dir)["bytes"] > 0

    wrong = repo_sync(schools("b").data_dir, _url(daemon), "--password-file", str(daemon.password_file("nope")))
    assert wrong.returncode == 78 and "auth failed" in wrong.stdout
    assert status(schools("b").data_dir)["result"] == "config"

    env = {"RSYNC_PASSWORD": daemon.secret}
    unknown = repo_sync(schools("c").data_dir, _url(daemon, module="nosuch"), env=env)
    assert unknown.returncode == 78 and "unknown module" in unknown.stdout.lower()

    down = repo_sync(schools("d").data_dir, _url(daemon, port=free_port()), env=env)
    assert down.returncode == 75 and "refused" in down.stdout.lower()
    assert status(schools("d").data_dir)["result"] == "retry"


class StallingProxy:
    """Forwards 127.0.0.1:port to the daemon; after `limit` bytes towards the client on one
    connection it stops forwarding and keeps the connection open — a stalled line."""

    def __init__(self, target: int, limit: int) -> None:
        self.target, self.limit, self.port = target, limit, free_port()
        self.closed = threading.Event()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.limit), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := source.recv(16384):
                if limit is not None and sent + len(data) > limit:
                    self.closed.wait(120)          # stall: hold everything open, forward nothing
                    return
                sink.sendall(data)
                sent += len(data)
        except OSError:
            return

    def close(self) -> None:
        self.closed.set()
        self.server.close()
        for s in self.sockets:
            s.close()


def test_texts_and_the_manifest_travel_compressed_from_a_daemon(services, library, daemon, schools) -> None:
    from repo_server.catalog.models import BlobText

    lesson = "勾股定理：直角三角形两条直角边的平方和等于斜边的平方。本节课通过拼图活动探索定理的证明。\n"
    docs = [library.pdf(f"第{n}课 讲义.pdf") for n in range(3)]
    with services.catalog.write() as session:
        session.add_all(BlobText(sha256=d["sha256"], status="done", text=lesson * 3000 + str(n), chars=len(lesson) * 3000,
                                 extractor="pdfium") for n, d in enumerate(docs))
    publish(services)
    school = schools()
    run = repo_sync(school.data_dir, _url(daemon), env={"RSYNC_PASSWORD": daemon.secret})
    assert run.returncode == 0, run.stdout + run.stderr
    line = trace(school.data_dir)[-1]
    assert line["object_bytes"] > 250_000                     # three texts, cut at the extraction limit
    assert line["bytes"] < line["object_bytes"] / 4, line     # texts and manifest went compressed
    assert "斜边的平方" in school.open().catalog.engine.connect().exec_driver_sql(
        "SELECT text FROM blob_texts LIMIT 1").scalar()


def test_a_stalled_transfer_is_stopped_retried_and_resumes_without_resending(services, library, daemon, schools) -> None:
    size = 3_000_000
    big = library.file(b"%PDF-1.4 " + os.urandom(size), "大文件.pdf")
    publish(services)
    school = schools()
    env = {"RSYNC_PASSWORD": daemon.secret}
    proxy = StallingProxy(daemon.port, limit=1_200_000)
    try:
        started = time.monotonic()
        stalled = repo_sync(school.data_dir, _url(daemon, port=proxy.port), "--stall-timeout", "3",
                            "--retries", "1", "--bwlimit", "2000", env=env, timeout=90)
        assert time.monotonic() - started < 60
    finally:
        proxy.close()
    assert stalled.returncode == 75, stalled.stdout + stalled.stderr
    assert "stalled" in status(school.data_dir)["error"]
    assert "trying again" in stalled.stderr                      # retried once, with backoff
    partial = list((school.data_dir / "sync" / "staging").rglob(".rsync-partial/*"))
    assert partial and partial[0].stat().st_size > 200_000       # SIGTERM kept the partial file
    assert not (school.data_dir / "sync" / "rsync.pgid").exists()

    resumed = repo_sync(school.data_dir, _url(daemon), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert set(school.live()) == {big["id"]}
    line = trace(school.data_dir)[-1]
    # what crossed the wire is the rest of the file, not all of it again
    assert line["bytes"] < size - partial[0].stat().st_size // 2 if partial[0].exists() else line["bytes"] < size * 0.9


def test_a_corrupted_object_is_fetched_again_and_a_damaged_upstream_fails(services, library, schools) -> None:
    doc = library.pdf()
    publish(services)
    upstream = services.settings.mirror_dir
    source = upstream / "objects" / blob_key(doc["sha256"])
    school = schools()
    # a leftover staging file of the right size and time but wrong bytes: rsync would skip it
    planted = school.data_dir / "sync" / "staging" / doc["sha256"]
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"X" * source.stat().st_size)
    os.utime(planted, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns))
    run = repo_sync(school.data_dir, upstream)
    assert run.returncode == 0, run.stderr
    assert "fetching them again" in run.stderr
    with school.open().blobs.open(doc["sha256"]) as stream:
        assert stream.read().startswith(b"%PDF-1.4 lesson")

    source.chmod(0o644)
    source.write_bytes(b"Y" * source.stat().st_size)     # the upstream's tree is damaged
    other = repo_sync(schools("other").data_dir, upstream)
    assert other.returncode == 1 and "still do not hash" in other.stdout
    assert status(schools("other").data_dir)["result"] == "failed"
    assert not (schools("other").data_dir / "sync" / "CURRENT").exists()


def test_city_county_school_chain_and_the_county_re_exports(services, library, schools) -> None:
    doc = library.pdf()
    publish(services)
    county, school = schools("county"), schools("school")
    assert repo_sync(county.data_dir, services.settings.mirror_dir).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env.update(REPO_DATA_DIR=str(county.data_dir), REPO_MIRROR_NAME="某县电教站", REPO_SECRET_KEY="t")
    published = subprocess.run([str(ROOT / ".venv" / "bin" / "repo-server"), "mirror", "publish"], env=env,
                               capture_output=True, text=True, timeout=120)
    assert published.returncode == 0, published.stderr
    run = repo_sync(school.data_dir, county.data_dir / "mirror")
    assert run.returncode == 0, run.stderr
    assert set(school.live()) == {doc["id"]}
    chain = status(school.data_dir)["chain"]
    assert len(chain) == 3 and chain[1:] == ["某县电教站", "school"]
    live = school.live()[doc["id"]]
    assert live.created_at.isoformat().startswith(doc["created_at"][:19])
