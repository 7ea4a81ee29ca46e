"""Run `extract_text` in a child process, so a hostile file cannot take the caller down.

PDFium, lxml and LibreOffice are C and C++ code fed untrusted files: a crafted file can make
them crash (PDFium aborts when an allocation fails), run for minutes, or eat the machine's
memory. `ExtractionSandbox` keeps a small pool of worker processes that:
- start with the "spawn" method (a fresh interpreter; forking a threaded web server copies
  its locks in whatever state other threads left them);
- set RLIMIT_AS on themselves (inherited by the LibreOffice they start), so a memory bomb
  ends in a MemoryError or an abort inside the child, not in the OOM killer's choice;
- import the parsers before reporting ready, so a task's timeout never pays for start-up;
- are reused across tasks and replaced every `max_tasks_per_worker` tasks, which bounds
  leaks in the C libraries without paying interpreter start-up per file;
- are killed and replaced when a task exceeds `task_timeout_s` or the worker dies; the
  task then gets status "failed" with a message, and the next task gets a fresh worker.
Each worker has its own scratch directory as TMPDIR, removed with the worker, so a killed
worker leaves no temporary files. LibreOffice's own timeout inside the worker is kept
shorter than the task timeout, so it is normally the worker that stops LibreOffice (and its
whole process group) cleanly before the sandbox has to kill the worker.

`extract` is thread-safe: each call borrows one idle worker (waiting when all are busy).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import threading
from multiprocessing.connection import wait
from pathlib import Path

from repo_server.errors import ConfigError

from .result import OUT_OF_MEMORY, Extraction

__all__ = ["ExtractionSandbox"]

_START_TIMEOUT_S = 60.0
_WARM_IMPORTS = ("pypdfium2", "docx", "pptx", "openpyxl", "defusedxml.ElementTree")


def _worker_main(conn, memory_limit: int | None, scratch: str, soffice_timeout: float) -> None:
    """Body of a worker process: answer (path, mime, extension, max_chars, soffice) tasks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's business
    if memory_limit:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    tempfile.tempdir = scratch
    os.environ["TMPDIR"] = scratch
    from repo_server.ingest.extract import extract_text
    for module in _WARM_IMPORTS:
        importlib.import_module(module)
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return                                   # the parent went away
        if task is None:
            return
        path, mime, extension, max_chars, soffice = task
        try:
            result = extract_text(Path(path), mime=mime, extension=extension,
                                  max_chars=max_chars, timeout_s=soffice_timeout,
                                  soffice=soffice)
        except BaseException as exc:  # noqa: BLE001 - extract_text should not raise; stay alive
            result = Extraction.failed(f"the extractor failed unexpectedly ({type(exc).__name__})")
        conn.send(result)
        if result.message == OUT_OF_MEMORY:
            return          # after a MemoryError the heap may be fragmented: start afresh


class _Worker:
    """One child process, its pipe and its scratch directory."""

    def __init__(self, context, memory_limit: int | None, soffice_timeout: float) -> None:
        self.scratch = tempfile.mkdtemp(prefix="repo-extract-")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child_end, memory_limit, self.scratch, soffice_timeout),
            name="repo-extract", daemon=True)
        self.process.start()
        child_end.close()
        self.ready = False
        self.tasks = 0

    def wait_ready(self) -> str | None:
        """None once the worker has started, else why it did not."""
        if self.ready:
            return None
        if wait([self.conn, self.process.sentinel], _START_TIMEOUT_S):
            try:
                self.ready = self.conn.recv() == "ready"
            except (EOFError, OSError):
                pass
        if self.ready:
            return None
        return (f"the extraction worker did not start ({_describe_exit(self.process)}); "
                "is the memory limit too low?")

    def stop(self, graceful: bool) -> None:
        if graceful and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(5)
            except OSError:
                pass
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _describe_exit(process) -> str:
    process.join(1)
    code = process.exitcode
    if code is None:
        return "no answer"
    if code < 0:
        try:
            return f"signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class ExtractionSandbox:
    """A pool of `max_workers` extraction processes with memory and time limits."""

    def __init__(self, max_workers: int = 1, memory_limit_bytes: int | None = 1 << 30,
                 task_timeout_s: float = 150.0, *, max_tasks_per_worker: int = 200,
                 soffice: str = "soffice") -> None:
        if max_workers < 1 or task_timeout_s <= 0:
            raise ValueError("max_workers must be ≥ 1 and task_timeout_s > 0")
        if multiprocessing.current_process().daemon:
            # e.g. Huey's "process" worker type: daemonic processes may not have children.
            raise ConfigError("text extraction runs its own worker processes and cannot be "
                              "started from a daemonic process; use thread workers")
        self.task_timeout_s = task_timeout_s
        self.memory_limit_bytes = memory_limit_bytes
        self.max_tasks_per_worker = max_tasks_per_worker
        self.soffice = soffice
        # LibreOffice must give up first, so the worker can kill it and its process group
        # and still answer in time: at least half a second, at most ten, are left for that.
        margin = min(10.0, max(0.5, task_timeout_s * 0.1))
        self.soffice_timeout_s = max(task_timeout_s - margin, task_timeout_s / 2)
        self._context = multiprocessing.get_context("spawn")
        self._slots: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(max_workers):
            self._slots.put(None)                     # workers start on first use
        self._max_workers = max_workers
        self._closed = False
        self._close_lock = threading.Lock()

    def __enter__(self) -> ExtractionSandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def extract(self, path: Path, *, mime: str, extension: str,
                max_chars: int = 100_000) -> Extraction:
        """`extract_text` in a worker; timeouts and crashes come back as status "failed"."""
        worker = self._slots.get()
        try:
            if self._closed:
                raise RuntimeError("the extraction sandbox is closed")
            if worker is None or not worker.process.is_alive():
                worker = self._replace(worker)
            problem = worker.wait_ready()
            if problem:
                worker = self._replace(worker)
                return Extraction.failed(problem)
            result, worker = self._run(worker, (str(path), mime, extension, max_chars,
                                                self.soffice))
            return result
        finally:
            self._slots.put(worker)

    def _run(self, worker: _Worker, task: tuple) -> tuple[Extraction, _Worker]:
        try:
            worker.conn.send(task)
        except OSError:
            return Extraction.failed("the extraction worker stopped unexpectedly"), \
                self._replace(worker)
        ready = wait([worker.conn, worker.process.sentinel], self.task_timeout_s)
        if worker.conn in ready:
            try:
                result = worker.conn.recv()
            except (EOFError, OSError):
                result = None               # died mid-answer: treated as a crash below
            if result is not None:
                worker.tasks += 1
                if worker.tasks >= self.max_tasks_per_worker or result.message == OUT_OF_MEMORY:
                    worker = self._replace(worker, graceful=True)
                return result, worker
        if not ready:
            message = f"extraction took longer than {self.task_timeout_s:g} s"
        else:
            message = f"the extractor crashed ({_describe_exit(worker.process)})"
        return Extraction.failed(message), self._replace(worker)

    def _replace(self, worker: _Worker | None, graceful: bool = False) -> _Worker:
        if worker is not None:
            worker.stop(graceful)
        return _Worker(self._context, self.memory_limit_bytes, self.soffice_timeout_s)

    def close(self) -> None:
        """Stop every worker (waiting for tasks in progress); later calls to extract fail."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            for _ in range(self._max_workers):
                worker = self._slots.get()
                if worker is not None:
                    worker.stop(graceful=True)
                self._slots.put(None)
