"""`repo-server media …` for operators, on a real data directory (in-process through click's
runner; the jobs run in-process with run_job, the worker itself is tested in test_worker.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repo_server.config import Settings
from repo_server.services import Services
from repo_server.services.media_work import run_job
from repo_server.tasks import MediaQueue
from tests.test_cli import run


@pytest.fixture
def library(tmp_path: Path, corpus) -> Path:
    """Three uploads: a PDF and an image that work, a password-protected PDF that cannot."""
    data = tmp_path / "data"
    assert run(data, "init").returncode == 0
    assert run(data, "user", "add", "admin", "--role", "admin", stdin="long-password\n").returncode == 0
    tree = tmp_path / "library" / "初中" / "数学"
    tree.mkdir(parents=True)
    shutil.copy(corpus("multilang.pdf"), tree / "试卷.pdf")
    shutil.copy(corpus("hopper.png"), tree / "插图.png")
    shutil.copy(corpus("libreoffice-writer-password.pdf"), tree / "加密的试卷.pdf")
    assert run(data, "import", str(tmp_path / "library")).returncode == 0
    return data


def _status(data: Path, *args: str) -> dict:
    result = run(data, "media", "status", "--json", *args)
    assert result.returncode == 0, result.output
    return json.loads(result.output)


def _run_queued(data: Path) -> None:
    services = Services.open(Settings(data_dir=data))
    try:
        for job in _status(data, "--status", "queued")["jobs"]:
            run_job(services, job["id"])
    finally:
        services.close()


def test_imports_queue_jobs_on_the_embedded_queue(library: Path) -> None:
    report = _status(library)
    assert report["counts"] == {"queued": 3}
    assert {j["title"] for j in report["jobs"]} == {"试卷", "插图", "加密的试卷"}
    queue = MediaQueue(Settings(data_dir=library))
    assert queue.pending() == 3                      # handed to the queue after each commit
    assert all(j["status"] == "queued" for j in report["jobs"])


def test_status_retry_rebuild_and_cancel(library: Path) -> None:
    _run_queued(library)
    text = run(library, "media", "status").output
    assert text.splitlines()[0] == "queued 0  running 0  done 2  failed 1  cancelled 0"
    assert "password-protected" in text and "加密的试卷" in text
    failed = _status(library, "--status", "failed")["jobs"]
    assert [j["title"] for j in failed] == ["加密的试卷"]

    retried = run(library, "media", "retry")
    assert retried.returncode == 0 and retried.output.strip() == "queued 1 job(s) again"
    assert _status(library)["counts"] == {"done": 2, "queued": 1}
    cancelled = run(library, "media", "cancel", str(failed[0]["id"]))
    assert cancelled.returncode == 0 and _status(library)["counts"] == {"done": 2, "cancelled": 1}
    again = run(library, "media", "cancel", str(failed[0]["id"]))
    assert again.returncode == 1 and "is not queued or running" in again.output

    rebuilt = run(library, "media", "rebuild", "--profile", "pages")
    assert rebuilt.returncode == 0 and rebuilt.output.startswith("queued 1 job(s) to rebuild pages")
    assert _status(library)["counts"] == {"done": 1, "queued": 1, "cancelled": 1}
    _run_queued(library)
    assert _status(library)["counts"] == {"done": 2, "cancelled": 1}
    everything = run(library, "media", "rebuild")
    assert everything.returncode == 0 and "queued 3 job(s) to rebuild every derivative" in everything.output
    assert run(library, "media", "rebuild", "--profile", "nonsense").returncode == 2   # usage error
