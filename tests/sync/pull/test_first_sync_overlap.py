"""A first sync prepares its stage 2 while stage 1 still transfers (sync/pull/overlap.py):
the catalog transaction is written and the index generation built once the texts are in,
both invisible until the objects are all there, verified and durable; a failed transfer
rolls both back and loses nothing already fetched."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from repo_server.catalog.models import BlobText
from repo_server.errors import StorageError
from repo_server.indexer import SearchIndex
from repo_server.services import Services
from repo_server.services.actor import OPERATOR
from repo_server.services.searching import SearchParams, search
from repo_server.sync import publish
from repo_server.sync.pull import SyncOptions, run_sync

from .conftest import FAST, SCRIPT, School, repo_sync, status, sync_environ, trace

pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]

TEXT = "勾股定理 直角三角形两条直角边的平方和等于斜边的平方"


def _library_with_texts(services, library, n: int = 3) -> list[dict]:
    docs = [library.pdf(f"第{i}课 讲义.pdf") for i in range(n)]
    with services.catalog.write() as session:
        session.add_all(BlobText(sha256=d["sha256"], status="done", text=f"{TEXT} 第{i}节", chars=30, extractor="pdfium")
                        for i, d in enumerate(docs))
    publish(services)
    return docs


def _gated_rsync(tmp_path: Path) -> tuple[Path, Path]:
    """An rsync whose object batches after the first (the texts) wait until `gate/go`
    exists, or fail as a dropped connection when `gate/fail` does."""
    gate = tmp_path / "gate"
    gate.mkdir()
    script = tmp_path / "gated-rsync"
    script.write_text(f"""#!/bin/sh
case " $* " in *--files-from=*)
    n=$(( $(cat {gate}/count 2>/dev/null || echo 0) + 1 )); echo $n > {gate}/count
    if [ $n -gt 1 ]; then
        while [ ! -e {gate}/go ] && [ ! -e {gate}/fail ]; do sleep 0.05; done
        if [ -e {gate}/fail ]; then
            echo "rsync: connection unexpectedly closed (0 bytes received so far) [receiver]" >&2
            echo "rsync error: error in rsync protocol data stream (code 12) at io.c(231)" >&2
            exit 12
        fi
    fi;;
esac
exec rsync "$@"
""")
    script.chmod(0o755)
    return script, gate


def _start(school: School, upstream: Path, rsync: Path) -> tuple[subprocess.Popen, SearchIndex]:
    """repo-sync started in the background on `school`, and the school's search index."""
    process = subprocess.Popen([str(SCRIPT), "--upstream", str(upstream), "--data-dir", str(school.data_dir), *FAST,
                                "--stall-timeout", "60", "--rsync", str(rsync)],
                               env=sync_environ(school.data_dir, {"REPO_SEARCH_ENGINE": school.search_engine}),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, SearchIndex(school.settings.index_dir, school.search_engine)


def _prepared_generation(index: SearchIndex) -> Path | None:
    """A complete generation that is not live (yet): the one the open transaction built."""
    live = index.store.current()
    for generation in index.store.generations():
        if generation != live and index.store.read_meta(generation).seq > 0:
            return generation
    return None


def _wait_for(condition, what: str, process: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process.poll() is not None:
            pytest.fail(f"repo-sync ended before {what}: {process.stdout.read()} {process.stderr.read()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_the_catalog_and_index_are_ready_before_the_objects_and_shown_only_after(
        services, library, schools, tmp_path, engine) -> None:
    docs = _library_with_texts(services, library)
    school = schools(search_engine=engine)    # a county mirror of a big library runs Tantivy
    rsync, gate = _gated_rsync(tmp_path)
    process, index = _start(school, services.settings.mirror_dir, rsync)
    try:
        prepared = _wait_for(lambda: _prepared_generation(index), "the index generation was built", process)
        assert (gate / "count").read_text().strip() == "2"      # …while the objects' batch is held
        # the whole stage 2 is written, and nobody sees it: no live resource, no live index
        assert school.live() == {}
        assert index.store.current() != prepared
        assert search(school.open(), OPERATOR, SearchParams(q="斜边"))["total"] == 0
        assert not (school.data_dir / "sync" / "CURRENT").exists()
        (gate / "go").touch()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + err
    school.close()
    assert set(school.live()) == {d["id"] for d in docs}
    assert index.store.current() == prepared              # the prepared generation went live as it was
    found = search(school.open(), OPERATOR, SearchParams(q="斜边"))
    assert found["total"] == 3 and {h["id"] for h in found["hits"]} == {d["id"] for d in docs}
    line = trace(school.data_dir)[-1]
    assert line["overlap"] is True and line["index"].startswith("index built: 3 documents"), line
    assert line["created"] == 3 and line["objects"] == 6          # three files and three texts


def test_a_failed_transfer_rolls_the_prepared_stage_2_back(services, library, schools, tmp_path) -> None:
    docs = _library_with_texts(services, library)
    school = schools()
    rsync, gate = _gated_rsync(tmp_path)
    process, index = _start(school, services.settings.mirror_dir, rsync)
    try:
        prepared = _wait_for(lambda: _prepared_generation(index), "the index generation was built", process)
        (gate / "fail").touch()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 75, out + err               # retry later: the line dropped
    assert "connection unexpectedly closed" in status(school.data_dir)["error"]
    assert school.live() == {}
    assert not prepared.exists()                          # the generation went with the transaction
    assert not (school.data_dir / "sync" / "CURRENT").exists()

    school.close()
    (gate / "fail").unlink()
    (gate / "go").touch()
    again = repo_sync(school.data_dir, services.settings.mirror_dir, "--rsync", str(rsync))
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(school.live()) == {d["id"] for d in docs}
    assert search(school.open(), OPERATOR, SearchParams(q="斜边"))["total"] == 3


def test_a_failing_stage_2_keeps_the_fetched_objects_and_commits_nothing(services, library, schools) -> None:
    docs = _library_with_texts(services, library, n=2)
    school = schools()
    settings = school.settings
    opened: list[Services] = []

    def wiring() -> Services:
        from repo_server.services.maintenance import initialise

        opened.append(Services.open(settings))
        initialise(opened[-1])
        return opened[-1]

    def broken_index(session) -> None:
        raise StorageError("no space left on device (the index)")

    options = SyncOptions(upstream=str(services.settings.mirror_dir), data_dir=school.data_dir)
    try:
        outcome = run_sync(options, wiring, name="school", prepare_index=broken_index)
        assert outcome.status["result"] == "retry" and "no space left" in outcome.status["error"]
        assert outcome.trace["overlap"] is True
        blobs = opened[0].blobs
        assert all(blobs.exists(d["sha256"]) for d in docs)        # stage 1 finished and kept its work
    finally:
        for svc in opened:
            svc.close()
    assert school.live() == {}
    assert not (school.data_dir / "sync" / "CURRENT").exists()
    # the next run fetches only the texts again: the files are held already
    run = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    assert trace(school.data_dir)[-1]["objects"] == 2 and set(school.live()) == {d["id"] for d in docs}
