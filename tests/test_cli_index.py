"""`repo-server index …` on a real data directory (in-process through click's runner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.fixture
def library(tmp_path: Path, corpus) -> Path:
    data = tmp_path / "data"
    assert run(data, "init").returncode == 0
    assert run(data, "user", "add", "admin", "--role", "admin", stdin="long-password\n").returncode == 0
    tree = tmp_path / "library" / "初中" / "八年级" / "数学"
    tree.mkdir(parents=True)
    shutil.copy(corpus("stress009.docx"), tree / "勾股定理 教学设计.docx")
    shutil.copy(corpus("61490.doc"), tree / "居中标题 教案.doc")
    shutil.copy(corpus("REDHAT-1531897-0.pdf"), tree / "损坏的课件.pdf")
    assert run(data, "import", str(tmp_path / "library")).returncode == 0
    return data


def test_catch_up_extracts_and_indexes_then_status_shows_no_lag(library: Path) -> None:
    before = json.loads(run(library, "index", "status", "--json").output)
    assert before["lag"] == 3 and before["documents"] == 0
    caught = run(library, "index", "catch-up")
    assert caught.returncode == 0 and "extracted 3 texts" in caught.output, caught.output
    after = json.loads(run(library, "index", "status", "--json").output)
    assert after["lag"] == 0 and after["documents"] == 3 and after["seq"] == after["catalog_seq"]
    text = run(library, "index", "status").output
    assert "lag 0 changes" in text and "documents   3" in text


def test_rebuild_and_retry_failed(library: Path) -> None:
    run(library, "index", "catch-up")
    rebuilt = run(library, "index", "rebuild")
    assert rebuilt.returncode == 0 and "3 documents" in rebuilt.output
    retried = run(library, "index", "retry-failed")
    assert retried.returncode == 0 and retried.output.startswith("1 failed extractions")  # the broken PDF
