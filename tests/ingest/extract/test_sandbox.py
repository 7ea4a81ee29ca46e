"""ExtractionSandbox: timeouts and real crashes end one task, never the caller or the pool.

The slow and crashing inputs are real PDFs: a page whose content stream holds millions of
no-op operators (PDFium parses for seconds) and one whose stream inflates to 100 MB (PDFium
aborts when its allocation fails under a small RLIMIT_AS).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from repo_server.ingest.extract import ExtractionSandbox

from .builders import deflated, write_pdf

PDF = "application/pdf"


@pytest.fixture(scope="module")
def sandbox():
    with ExtractionSandbox(max_workers=1, task_timeout_s=30) as box:
        yield box


@pytest.fixture(scope="module")
def slow_pdf(tmp_path_factory) -> Path:
    """≈3 s of PDFium parsing on a development machine, ≈300 KB on disk."""
    stream = deflated(b"BT /F1 12 Tf 72 700 Td (slow page) Tj ET\n", b"1 0 0 1 0 0 cm\n", 15_000_000)
    return write_pdf(tmp_path_factory.mktemp("slow") / "slow.pdf", [], raw_streams=[stream])


@pytest.fixture(scope="module")
def inflating_pdf(tmp_path_factory) -> Path:
    """A 100 KB PDF whose only page content inflates to 100 MB."""
    stream = deflated(b"BT /F1 12 Tf 72 700 Td (Hello) Tj ET\n", b" ", 100_000_000)
    return write_pdf(tmp_path_factory.mktemp("bomb") / "bomb.pdf", [], raw_streams=[stream])


def test_documents_are_extracted_in_the_worker_including_libreoffice(sandbox, corpus) -> None:
    pdf = sandbox.extract(corpus("multilang.pdf"), mime=PDF, extension="pdf")
    assert pdf.status == "done" and "你好世界" in pdf.text
    # LibreOffice runs inside the worker's 1 GiB address-space limit too
    ppt = sandbox.extract(corpus("52244.ppt"), mime="application/vnd.ms-powerpoint", extension="ppt")
    assert ppt.status == "done", ppt.message
    assert "请注意店名" in ppt.text
    capped = sandbox.extract(corpus("stress009.docx"), extension="docx", max_chars=50,
                             mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert capped.truncated and capped.chars <= 50


def test_a_task_over_the_timeout_fails_and_the_next_one_works(slow_pdf, corpus) -> None:
    with ExtractionSandbox(task_timeout_s=1.0) as box:
        warm = box.extract(corpus("issue2128r.pdf"), mime=PDF, extension="pdf")
        assert warm.status == "done"
        started = time.monotonic()
        slow = box.extract(slow_pdf, mime=PDF, extension="pdf")
        elapsed = time.monotonic() - started
        assert slow.status == "failed"
        assert slow.message == "extraction took longer than 1 s"
        assert 1.0 <= elapsed < 2.0
        after = box.extract(corpus("issue2128r.pdf"), mime=PDF, extension="pdf")
        assert after.status == "done" and "校长的魅力" in after.text


def test_a_crash_of_the_parser_fails_the_task_and_the_next_one_works(inflating_pdf, corpus) -> None:
    with ExtractionSandbox(memory_limit_bytes=256 * 2**20, task_timeout_s=30) as box:
        crashed = box.extract(inflating_pdf, mime=PDF, extension="pdf")
        assert crashed.status == "failed"
        # PDFium aborts when an allocation fails: SIGABRT with this build
        assert crashed.message.startswith("the extractor crashed (signal "), crashed.message
        after = box.extract(corpus("multilang.pdf"), mime=PDF, extension="pdf")
        assert after.status == "done" and "你好世界" in after.text


def test_the_same_file_is_read_without_the_small_memory_limit(sandbox, inflating_pdf) -> None:
    """The crash above is the memory limit at work, not a broken test file."""
    extraction = sandbox.extract(inflating_pdf, mime=PDF, extension="pdf")
    assert extraction.status == "done" and extraction.text == "Hello"


def test_libreoffice_gives_up_before_the_sandbox_has_to_kill_the_worker(corpus, tmp_path) -> None:
    """A LibreOffice that hangs (as it can on a hostile file) is stopped by the worker's own
    timeout, which expires before the sandbox's. A stand-in that never finishes makes this
    independent of how fast the machine converts documents."""
    hanging = tmp_path / "soffice"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    hanging.chmod(0o755)
    with ExtractionSandbox(task_timeout_s=4.0, soffice=str(hanging)) as box:
        assert box.soffice_timeout_s == 3.5
        extraction = box.extract(corpus("61490.doc"), mime="application/msword", extension="doc")
        assert extraction.message == "LibreOffice did not finish within 3.5 s"
        assert box.extract(corpus("multilang.pdf"), mime=PDF, extension="pdf").status == "done"


def test_concurrent_callers_share_the_workers(corpus) -> None:
    files = [("multilang.pdf", "你好世界"), ("issue2128r.pdf", "校长的魅力"),
             ("issue19360.pdf", "文化自信")] * 2
    results: dict[int, str] = {}

    def run(index: int, name: str) -> None:
        results[index] = sandbox.extract(corpus(name), mime=PDF, extension="pdf").text

    with ExtractionSandbox(max_workers=2, max_tasks_per_worker=2) as sandbox:
        threads = [threading.Thread(target=run, args=(i, name)) for i, (name, _) in enumerate(files)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert all(phrase in results[i] for i, (_, phrase) in enumerate(files))


def test_a_closed_sandbox_refuses_work_and_leaves_no_worker(corpus) -> None:
    before = set(multiprocessing.active_children())
    box = ExtractionSandbox()
    assert box.extract(corpus("multilang.pdf"), mime=PDF, extension="pdf").status == "done"
    workers = set(multiprocessing.active_children()) - before
    assert [worker.name for worker in workers] == ["repo-extract"]
    box.close()
    assert not workers & set(multiprocessing.active_children())
    with pytest.raises(RuntimeError):
        box.extract(corpus("multilang.pdf"), mime=PDF, extension="pdf")


def _start_sandbox_in_a_daemon(queue) -> None:
    try:
        ExtractionSandbox()
        queue.put("started")
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def test_a_daemonic_process_gets_a_clear_configuration_error() -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_start_sandbox_in_a_daemon, args=(queue,), daemon=True)
    process.start()
    answer = queue.get(timeout=30)
    process.join(10)
    assert answer.startswith("ConfigError: text extraction runs its own worker processes")
