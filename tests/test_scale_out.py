"""Scale-out on one machine: two app nodes and one media worker sharing what a cluster shares.

Shared: the PostgreSQL catalog, the S3 blob store (moto's server on loopback), the Redis job
queue (and with it the login counters), REPO_SECRET_KEY. Per node: REPO_DATA_DIR with the
node's own search index replica, fed from the change log, and its staging area. Every
process is real (`repo-server serve` under gunicorn, two workers per node; `repo-server
worker`), reached over HTTP on 127.0.0.1. Waits poll against deadlines; nothing is timed.

What it proves: an upload through node A is searchable, downloadable and previewable
through node B; the media job ran in the worker; the text was extracted once (one elected
extractor for the whole catalog, though both nodes run background work); a session made on
A is valid on B; each node keeps its own index, at the catalog's sequence; an edit on B
reaches A's search and a delete on A leaves B's; no log holds a traceback or a lock error.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from repo_server.catalog.models import BlobText, Change, MediaJob
from repo_server.services import Services
from repo_server.services.indexing import index_status
from repo_server.tasks import queue_name
from tests.support import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REPO_TEST_REDIS_URL_SCALE_OUT", "redis://127.0.0.1:6379/12")
SECRET = "scale-out-test-secret"
SEARCH_WAIT_S = 20        # an upload on A searchable on B: about a second when idle
MEDIA_WAIT_S = 45         # text extraction and the page preview of a one-page PDF
PDF = "multilang.pdf"     # one page; "你好世界" appears only inside the document
PHRASE = "你好世界"
# A log line that must never appear: a traceback, a lock the nodes fought over, work retried.
BAD_LOG = re.compile(r"Traceback|LockError|lock.*(?:timeout|busy)|lost the .* lease|failed; retrying", re.I)

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


@dataclasses.dataclass
class Node:
    name: str
    url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen

    def api(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def search(self, token: str, q: str) -> dict[str, Any]:
        response = self.api("GET", "/api/v1/search", token, params={"q": q})
        assert response.status_code == 200, response.text
        return response.json()


@dataclasses.dataclass
class Cluster:
    a: Node
    b: Node
    worker: subprocess.Popen
    worker_log: Path
    env: dict[str, str]

    def logs(self) -> dict[str, str]:
        return {path.name: path.read_text(errors="replace")
                for path in (self.a.log, self.b.log, self.worker_log)}


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed for the scale-out test and is not reachable at {REDIS_URL} "
                    f"({type(exc).__name__}: {exc}). Start redis-server or set "
                    "REPO_TEST_REDIS_URL_SCALE_OUT.", pytrace=False)
    return client


@pytest.fixture
def cluster(services: Services, world, moto_s3, tmp_path: Path) -> Iterator[Cluster]:
    redis = _redis()
    queue_keys = re.sub("[^A-Za-z0-9_]", "", queue_name(
        dataclasses.replace(services.settings, queue_url=REDIS_URL)))   # as huey names its keys
    assert not list(redis.scan_iter(match=f"*{queue_keys}*")), "another run left this catalog's queue in Redis"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env.update({
        "REPO_DATABASE_URL": services.settings.database_url, "REPO_SECRET_KEY": SECRET,
        "REPO_BLOBSTORE": "minio", "REPO_S3_ENDPOINT": moto_s3.endpoint,
        "REPO_S3_ACCESS_KEY": moto_s3.access_key, "REPO_S3_SECRET_KEY": moto_s3.secret_key,
        "REPO_S3_BUCKET": f"scale-out-{uuid.uuid4().hex[:12]}", "REPO_QUEUE_URL": REDIS_URL,
        "REPO_EMBEDDED_WORKER": "false", "REPO_WORKERS": "2", "REPO_THREADS": "4",
        "REPO_LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1",
    })
    started: list[subprocess.Popen] = []
    worker_log = tmp_path / "worker.log"
    try:
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen([sys.executable, "-m", "repo_server.cli", "worker"],
                                      env={**env, "REPO_DATA_DIR": str(tmp_path / "worker")}, cwd=ROOT,
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        started.append(worker)
        nodes = []
        for name in ("a", "b"):
            data_dir, log = tmp_path / f"node-{name}", tmp_path / f"node-{name}.log"
            process, url, _ = start_server({**env, "REPO_DATA_DIR": str(data_dir)}, log, timeout=40)
            started.append(process)
            nodes.append(Node(name, url, data_dir, log, process))
        yield Cluster(nodes[0], nodes[1], worker, worker_log, env)
    finally:
        for process in reversed(started):
            stop_server(process)
        for path in sorted(tmp_path.glob("*.log")):   # shown when the test fails
            print(f"--- {path.name} (last 4,000 characters) ---\n{path.read_text(errors='replace')[-4000:]}")
        keys = list(redis.scan_iter(match=f"*{queue_keys}*"))
        if keys:
            redis.delete(*keys)
        redis.close()


def _until(what: str, probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float,
           cluster: Cluster) -> Any:
    """Poll `probe()` every 0.2 s until `done(value)`; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            for name, process in (("node a", cluster.a.process), ("node b", cluster.b.process),
                                  ("worker", cluster.worker)):
                assert process.poll() is None, f"{name} died (exit {process.returncode})"
            pytest.fail(f"{what}: not within {timeout} s; last seen: {json.dumps(value, ensure_ascii=False)[:2000]}",
                        pytrace=False)
        time.sleep(0.2)


def _login(node: Node, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(node.url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = browser.post(node.url + "/login", data={"username": username, "password": password,
                                                     "csrf_token": token},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    return browser


def test_two_app_nodes_and_a_worker_serve_one_library(cluster: Cluster, services: Services, world,
                                                      corpus, tmp_path: Path) -> None:
    a, b = cluster.a, cluster.b
    token = world.tokens["school_editor"]
    pdf = tmp_path / "讲义.pdf"
    shutil.copy(corpus(PDF), pdf)
    payload = pdf.read_bytes()

    # -- upload through A, found through B ----------------------------------------------------
    created = a.api("POST", "/api/v1/resources", token, files={"file": ("多语言讲义.pdf", payload)},
                    data={"title": "扩展部署 多语言讲义", "subject": "语文"})
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    found = _until("the upload on A searchable on B", lambda: b.search(token, "扩展部署"),
                   lambda body: body["total"] == 1, SEARCH_WAIT_S, cluster)
    assert found["hits"][0]["id"] == rid

    download = b.api("GET", f"/api/v1/resources/{rid}/download", token)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert download.content == payload

    # -- media job by the worker, preview served by B ------------------------------------------
    view = _until("the page preview made by the worker", lambda: b.api("GET", f"/api/v1/resources/{rid}", token).json(),
                  lambda v: (v.get("media") or {}).get("status") in ("done", "failed"), MEDIA_WAIT_S, cluster)
    assert view["media"]["status"] == "done", view["media"]
    pages = next(d for d in view["derivatives"] if d["profile"] == "pages")
    assert pages["status"] == "done" and pages["page_urls"], pages
    image = b.api("GET", pages["page_urls"][0], token)
    assert image.status_code == 200 and image.headers["Content-Type"].startswith("image/"), image.headers
    assert len(image.content) > 1000
    with services.catalog.read() as session:
        job = session.scalar(select(MediaJob).where(MediaJob.source_sha256 == view["sha256"]))
    assert job.worker == f"{socket.gethostname()}:{cluster.worker.pid}", (
        f"the job ran in {job.worker}, not in the worker process {cluster.worker.pid}")

    # -- the text: extracted once for the whole cluster, searchable on both nodes ---------------
    for node in (b, a):
        hit = _until(f"the text inside the PDF searchable on {node.name}", lambda node=node: node.search(token, PHRASE),
                     lambda body: body["total"] == 1, MEDIA_WAIT_S, cluster)
        assert hit["hits"][0]["id"] == rid
    with services.catalog.read() as session:
        text = session.get(BlobText, view["sha256"])
        updates = session.scalars(select(Change.op).where(Change.resource_id == rid).order_by(Change.seq)).all()
    assert text.status == "done" and PHRASE in text.text
    assert updates == ["create", "update"], f"the text was stored {updates.count('update')} times: {updates}"
    elected = [line for text_ in cluster.logs().values() for line in text_.splitlines()
               if "extractor: elected" in line]
    assert len(elected) == 1, f"one extractor for the catalog, not one per node or worker: {elected}"

    # -- a session made on A is valid on B ------------------------------------------------------
    browser = _login(a, "school_editor", world.passwords["school_editor"])
    assert browser.get(b.url + "/account/tokens", allow_redirects=False, timeout=10).status_code == 200
    assert requests.get(b.url + "/account/tokens", allow_redirects=False, timeout=10).status_code in (302, 401)

    # -- an edit on B reaches A's search; a delete on A leaves B's ------------------------------
    edited = b.api("PATCH", f"/api/v1/resources/{rid}", token, json={"title": "扩展部署 勾股定理讲义"})
    assert edited.status_code == 200, edited.text
    _until("the title edited on B searchable on A", lambda: a.search(token, "勾股定理讲义"),
           lambda body: body["total"] == 1, SEARCH_WAIT_S, cluster)
    assert a.api("DELETE", f"/api/v1/resources/{rid}", token).status_code == 204
    _until("the resource deleted on A gone from B's search", lambda: b.search(token, "扩展部署"),
           lambda body: body["total"] == 0, SEARCH_WAIT_S, cluster)

    # -- each node its own index replica, at the catalog's sequence; nothing else per node ------
    for node in (a, b):
        assert not (node.data_dir / "catalog.sqlite3").exists() and not (node.data_dir / "queue.sqlite3").exists()
        assert not (node.data_dir / "blobs").exists(), "the blobs must be in S3, not on a node"
        generations = [g for g in (node.data_dir / "index" / "whoosh").glob("gen-*") if g.is_dir()]
        assert generations and any(f.stat().st_size > 0 for g in generations for f in g.iterdir()), generations
        node_services = Services.open(dataclasses.replace(services.settings, data_dir=node.data_dir))
        try:
            status = _until(f"node {node.name}'s index at the catalog's sequence",
                            lambda svc=node_services: index_status(svc),
                            lambda s: s["lag"] == 0, SEARCH_WAIT_S, cluster)
        finally:
            node_services.close()
        assert Path(status["root"]).resolve().is_relative_to(node.data_dir.resolve())
        assert status["seq"] == status["catalog_seq"] and status["documents"] == 0   # the one item is deleted

    # -- a resumable upload keeps its state on the node that created it: route them sticky ------
    piece = "分段续传 扩展部署说明。".encode() * 40
    tus = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}
    meta = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                    for key, value in {"filename": "续传说明.txt", "title": "续传说明"}.items())
    made = requests.post(a.url + "/api/v1/uploads/", timeout=10,
                         headers={**tus, "Upload-Length": str(len(piece)), "Upload-Metadata": meta})
    assert made.status_code == 201, made.text
    upload_path = urlsplit(made.headers["Location"]).path
    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert requests.patch(b.url + upload_path, headers=patch, data=piece, timeout=10).status_code == 404
    finished = requests.patch(a.url + upload_path, headers=patch, data=piece, timeout=30)
    assert finished.status_code == 204 and finished.headers["Upload-State"] == "done", finished.text
    filed = b.api("GET", urlsplit(finished.headers["Upload-Resource"]).path, token)
    assert filed.status_code == 200 and filed.json()["title"] == "续传说明"   # filed in the shared catalog

    for name, text_ in cluster.logs().items():
        bad = [line for line in text_.splitlines() if BAD_LOG.search(line)]
        assert not bad, f"{name}: {bad[:10]}"
