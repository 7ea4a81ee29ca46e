"""/metrics (web/metrics.py, services/monitoring.py): Prometheus text that a real parser reads,
figures that match the catalog, bounded labels, the cache, and access only from the
addresses in REPO_METRICS_ALLOW — in-process on SQLite and PostgreSQL, then against a real
`repo-server serve` with two gunicorn workers (multiprocess mode, the child_exit hook)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import Blob, MediaJob
from repo_server.services.mirror_reports import record_report
from repo_server.services.mirror_status import iso
from repo_server.services.monitoring import MonitoringFigures
from repo_server.services.resources import ingest

FAMILIES = {
    "repo_http_request_duration_seconds", "repo_http_requests_in_flight", "repo_media_jobs",
    "repo_queue_pending", "repo_index_applied_seq", "repo_catalog_change_seq",
    "repo_index_lag_changes", "repo_index_lag_seconds", "repo_blobs", "repo_blob_bytes",
    "repo_resources", "repo_data_dir_free_bytes", "repo_data_dir_size_bytes",
    "repo_downstream_mirrors", "repo_metrics_group_up",
}


def parse(text: str) -> dict[str, list]:
    """family name → its samples, read by prometheus_client's own parser."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(families: dict[str, list], sample: str, **labels: str) -> float:
    family = sample.removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    matches = [s.value for s in families[family] if s.name == sample
               and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (sample, labels, families[family])
    return matches[0]


def counted(text: str, endpoint: str) -> float:
    """Requests to `endpoint` the histogram has seen (0 before the first)."""
    return sum(s.value for s in parse(text).get("repo_http_request_duration_seconds", [])
               if s.name.endswith("_count") and s.labels["endpoint"] == endpoint)


def upload(services, world, stage, payloads: list[bytes]) -> None:
    for n, data in enumerate(payloads):
        ingest(services, world.school_editor, stage(data), f"讲义{n}.txt",
               {"title": f"讲义 {n}", "status": "published"})


# -- in-process ---------------------------------------------------------------------------------
def test_metrics_parse_and_match_the_catalog(client, services, world, stage) -> None:
    payloads = [b"first lesson notes " * 10, b"second " * 300, "第三份 讲义".encode() * 50]
    upload(services, world, stage, payloads)
    with services.catalog.write() as session:   # a media job that ended badly
        sha256 = session.scalars(select(Blob.sha256).limit(1)).one()
        session.add(MediaJob(source_sha256=sha256, kind="image", status="failed", message="damaged"))
    # The request histogram belongs to this test process, which other tests' apps share:
    # count what these requests add.
    before = counted(client.get("/metrics").get_data(as_text=True), "api.vocabularies")
    for _ in range(3):
        assert client.get("/api/v1/vocabularies").status_code == 200
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain; version=")
    families = parse(answer.get_data(as_text=True))
    assert FAMILIES <= set(families), FAMILIES - set(families)
    assert value(families, "repo_blobs") == 3
    assert value(families, "repo_blob_bytes") == sum(len(p) for p in payloads)
    assert value(families, "repo_resources", status="published") == 3
    assert counted(answer.get_data(as_text=True), "api.vocabularies") == before + 3
    # nothing indexed in this catalog: every change is lag
    assert value(families, "repo_index_lag_changes") == value(families, "repo_catalog_change_seq") >= 3
    assert value(families, "repo_index_lag_seconds") >= 0
    assert all(s.value == 1 for s in families["repo_metrics_group_up"]), families["repo_metrics_group_up"]
    assert value(families, "repo_data_dir_free_bytes") > 0
    assert value(families, "repo_media_jobs", state="failed") == 1
    assert value(families, "repo_media_jobs", state="queued") == 0


def test_paths_never_become_labels(client) -> None:
    for n in range(5):
        assert client.get(f"/no-such-page/{n}").status_code == 404
    assert client.get("/api/v1/resources/0123456789abcdef0123456789abcdef").status_code == 404
    families = parse(client.get("/metrics").get_data(as_text=True))
    assert value(families, "repo_http_request_duration_seconds_count", endpoint="unmatched",
                 status="4xx") >= 5
    endpoints = {s.labels["endpoint"] for s in families["repo_http_request_duration_seconds"]}
    assert not any("/" in e for e in endpoints), endpoints
    assert "api.resource" in endpoints


def test_metrics_are_refused_to_other_addresses(client, app) -> None:
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert answer.status_code == 403 and b"REPO_METRICS_ALLOW" in answer.data
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_the_reading_is_cached_and_the_totals_longer(services, world, stage) -> None:
    now = [1000.0]
    figures = MonitoringFigures(services, ttl_s=15, clock=lambda: now[0])

    def read(name: str) -> float:
        return next(f.samples[0][1] for f in figures.figures() if f.name == name)

    assert read("repo_blobs") == 0 and read("repo_catalog_change_seq") == 0
    upload(services, world, stage, [b"a lesson plan"])
    now[0] += 14
    assert read("repo_catalog_change_seq") == 0     # still the reading of 14 s ago
    now[0] += 1
    assert read("repo_catalog_change_seq") == 1     # 15 s: read again
    assert read("repo_blobs") == 0                  # the totals: 20 x 15 s
    now[0] += 285
    assert read("repo_blobs") == 1


def test_downstream_mirrors_get_a_label_each(client, services, world) -> None:
    now = utcnow()
    for name, hours in (("一小镜像", 2), ("二小镜像", 100)):
        record_report(services, world.teacher if name == "一小镜像" else world.other_teacher, {
            "name": name, "upstream": "rsync://county.example/repo", "serial": 1, "upstream_serial": 1,
            "result": "ok", "error": None, "last_success_at": iso(now - timedelta(hours=hours)),
            "last_attempt_at": iso(now), "bytes": 10, "duration_s": 1.0, "chain": []}, "10.0.0.5")
    families = parse(client.get("/metrics").get_data(as_text=True))
    assert value(families, "repo_downstream_mirrors", state="stale") == 1   # 100 h > 48 h
    assert value(families, "repo_downstream_mirrors", state="fresh") == 1
    success = value(families, "repo_downstream_mirror_last_success_timestamp_seconds", mirror="一小镜像")
    assert abs(success - (now.timestamp() - 2 * 3600)) < 5


# -- a real server, two workers -------------------------------------------------------------------
def scrape(live_server) -> dict[str, list]:
    answer = requests.get(live_server.url + "/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


@pytest.mark.server_env(REPO_WORKERS="2", REPO_BACKGROUND_WORK="false", REPO_METRICS_CACHE_SECONDS="0")
def test_two_workers_add_up_and_the_index_lag_closes(live_server, services, world) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['school_editor']}"}
    payloads = [f"第{n}课 教学设计 ".encode() * (n + 1) * 40 for n in range(3)]
    for n, data in enumerate(payloads):
        created = requests.post(live_server.url + "/api/v1/resources", headers=headers, timeout=30,
                                files={"file": (f"教案{n}.txt", data)}, data={"title": f"教案 {n}"})
        assert created.status_code == 201, created.text
    for n in range(40):   # a new connection each: gunicorn hands them to both workers
        assert requests.get(f"{live_server.url}/no-such-page/{n}", timeout=10).status_code == 404
    metrics_dir = Path(services.settings.data_dir) / "run" / "metrics"
    workers = live_server.worker_pids()
    assert len(workers) == 2
    assert {f.name for f in metrics_dir.iterdir()} >= {f"histogram_{pid}.db" for pid in workers}

    families = scrape(live_server)
    assert FAMILIES <= set(families), FAMILIES - set(families)
    assert value(families, "repo_http_request_duration_seconds_count", endpoint="unmatched",
                 method="GET", status="4xx") == 40
    assert value(families, "repo_http_request_duration_seconds_count", endpoint="api.create_resource",
                 method="POST", status="2xx") == 3
    # In flight: this scrape itself, once the server has closed the earlier responses (it
    # does so just after their last byte left).
    deadline = time.monotonic() + 10
    while value(families, "repo_http_requests_in_flight") != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        families = scrape(live_server)
    assert value(families, "repo_http_requests_in_flight") == 1
    assert value(families, "repo_blob_bytes") == sum(len(p) for p in payloads)
    assert value(families, "repo_blobs") == 3
    lag = value(families, "repo_index_lag_changes")
    assert lag == value(families, "repo_catalog_change_seq") >= 3       # nobody indexes yet

    env = {**os.environ, "REPO_DATA_DIR": str(services.settings.data_dir),
           "REPO_DATABASE_URL": services.settings.database_url}
    done = subprocess.run([sys.executable, "-m", "repo_server.cli", "index", "catch-up", "--no-extract"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    families = scrape(live_server)
    assert value(families, "repo_index_lag_changes") == 0
    assert value(families, "repo_index_lag_seconds") == 0
    assert value(families, "repo_index_applied_seq") == value(families, "repo_catalog_change_seq")


@pytest.mark.server_env(REPO_WORKERS="2")
def test_a_dead_workers_live_gauge_is_dropped(live_server, services) -> None:
    metrics_dir = Path(services.settings.data_dir) / "run" / "metrics"
    victim = live_server.worker_pids()[0]
    assert (metrics_dir / f"gauge_livesum_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (metrics_dir / f"gauge_livesum_{victim}.db").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (metrics_dir / f"gauge_livesum_{victim}.db").exists(), "child_exit did not mark it dead"
    scrape(live_server)   # the replacement worker and the survivor still answer


@pytest.mark.server_env(REPO_METRICS_ALLOW="10.9.9.0/24")
def test_a_real_server_refuses_addresses_not_allowed(live_server) -> None:
    answer = requests.get(live_server.url + "/metrics", timeout=10)
    assert answer.status_code == 403 and "REPO_METRICS_ALLOW" in answer.text


@pytest.mark.server_env(REPO_PROXY_HOPS="1", REPO_METRICS_ALLOW="10.9.9.0/24")
def test_the_real_client_address_counts_behind_a_proxy(live_server) -> None:
    allowed = requests.get(live_server.url + "/metrics", headers={"X-Forwarded-For": "10.9.9.7"}, timeout=10)
    assert allowed.status_code == 200 and "repo_blobs" in allowed.text
    refused = requests.get(live_server.url + "/metrics", headers={"X-Forwarded-For": "192.0.2.1"}, timeout=10)
    assert refused.status_code == 403


def test_openmetrics_when_the_scraper_asks_for_it(client) -> None:
    answer = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert answer.status_code == 200 and answer.content_type.startswith("application/openmetrics-text")
    assert answer.get_data(as_text=True).rstrip().endswith("# EOF")
