"""The job queue: Huey, embedded (SqliteHuey, no broker) or over Redis (REPO_QUEUE_URL).

Tasks carry only a job id and call services; the catalog holds each job's state, so the
queue can lose nothing that matters (services/media_jobs.py). Two tasks:

- `media.process(job_id)`: run one media job; a transient failure schedules the next
  attempt itself, after a growing delay (only transient failures are retried);
- `media.sweep` (every minute, and when a worker starts): hand over jobs the queue never
  got (the web process could not reach Redis), jobs whose worker died mid-run, and queued
  jobs the queue has lost.

The web app and the CLI only enqueue; `repo-server worker` consumes, one job at a time by
default (transcoding already uses every core, at low priority).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from repo_server.config import Settings
from repo_server.services import Services
from repo_server.services.media_jobs import jobs_to_enqueue, mark_enqueued
from repo_server.services.media_work import run_job

__all__ = ["MediaQueue", "queue_name"]

log = logging.getLogger(__name__)


def queue_name(settings: Settings) -> str:
    """One queue per catalog: two installations sharing a Redis never run each other's jobs."""
    return "repo-server-" + hashlib.sha256(settings.catalog_url.encode()).hexdigest()[:12]


def _make_huey(settings: Settings) -> Huey:
    if settings.queue_url:
        return RedisHuey(queue_name(settings), url=settings.queue_url, results=False, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(queue_name(settings), filename=str(settings.queue_file), results=False,
                      utc=True, timeout=30)


class MediaQueue:
    """The media queue of one installation, for enqueuing (web, CLI) and consuming (worker)."""

    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        self.settings = settings
        self.huey = _make_huey(settings)
        self._services = services
        self._lock = threading.Lock()
        self.shutdown = threading.Event()   # set when the worker stops: running jobs requeue
        self.process = self.huey.task(name="media.process")(self._process)
        self.periodic_sweep = self.huey.periodic_task(crontab(minute="*"), name="media.sweep")(self.sweep)

    # -- producing -------------------------------------------------------------------------
    def enqueue(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.process(job_id)

    def pending(self) -> int:
        return self.huey.pending_count() + self.huey.scheduled_count()

    # -- consuming -------------------------------------------------------------------------
    def services(self) -> Services:
        with self._lock:
            if self._services is None:
                self._services = Services.open(self.settings)
                self._services.enqueue = self.enqueue
            return self._services

    def _process(self, job_id: int) -> None:
        outcome = run_job(self.services(), job_id, self.shutdown)
        log.info("media job %s: %s %s", job_id, outcome.status, outcome.message)
        if outcome.status == "retry":
            self.process.schedule(args=(job_id,), delay=outcome.delay_s)

    def sweep(self) -> list[int]:
        """Hand over every job the queue should hold but does not; returns their ids."""
        svc = self.services()
        ids = jobs_to_enqueue(svc, queue_is_empty=self.pending() == 0)
        if ids:
            log.info("media: handing %d job(s) to the queue: %s", len(ids), ids[:20])
            self.enqueue(ids)
            mark_enqueued(svc, ids)
        return ids

    def consumer(self, workers: int = 1) -> "_Consumer":
        """A Huey consumer running the media tasks in `workers` threads, with the sweep."""
        # max_delay: an idle worker looks at the queue every 2 s (Huey's default backs off to
        # 10 s), so a teacher's upload starts converting within about 2 s.
        return _Consumer(self, self.huey, workers=workers, periodic=True, worker_type="thread",
                         check_worker_health=True, max_delay=2.0)


class _Consumer(Consumer):
    """Huey's consumer, plus: a stop signal (SIGINT or SIGTERM) first stops the running jobs
    (their ffmpeg is killed and they go back to the queue), then stops gracefully, so a stop
    takes seconds, not the rest of a two-hour transcode.

    Huey starts its worker and scheduler threads *before* it installs its signal handlers: a
    stop signal in between (a server killed while its embedded worker starts, systemd
    stopping a unit that just started) would raise KeyboardInterrupt in the main thread and
    leave the process hanging on those non-daemon threads. So a stop signal that arrives
    before Huey's handlers are in place is kept and handled as soon as they are."""

    def __init__(self, queue: MediaQueue, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._queue = queue
        self._pending: int | None = None
        self.ready = threading.Event()     # set once the stop signals reach _handle_signal
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self._keep_for_later)

    def _keep_for_later(self, signum, frame) -> None:
        self._pending = signum

    def _set_signal_handlers(self) -> None:
        super()._set_signal_handlers()
        self.ready.set()
        if self._pending is not None:
            self._handle_signal(self._pending, None)

    def _handle_signal(self, signum, frame) -> None:  # Huey's hook for SIGINT/SIGTERM/SIGHUP
        if signum in (signal.SIGINT, signal.SIGTERM):   # SIGHUP restarts: jobs may go on
            self._queue.shutdown.set()
            # Both stop gracefully (systemd sends SIGTERM): Huey's immediate stop would exit
            # with the job thread still running, leaving the job "running" and ffmpeg behind.
            signum = self._graceful_sig
        super()._handle_signal(signum, frame)
