"""`repo-server serve`: gunicorn with threaded workers, configured from Settings.

gthread workers because downloads to village schools are slow: each holds a thread for
minutes, and gthread's heartbeat runs beside them (the sync worker would be killed by its
timeout mid-download). Whole-file downloads leave through sendfile. Each worker builds its
own app after the fork, so no database connection is shared between processes.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from repo_server.app import create_app
from repo_server.services.background import BackgroundWork
from repo_server.config import Settings
from repo_server.logs import GunicornJsonLogger, configure_logging
from repo_server.web.metrics import prepare_multiprocess_dir, worker_exited

__all__ = ["RepoServer", "serve", "start_embedded_worker"]


class RepoServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Runs in each worker after the fork: the app, and its background work (only the
        worker that wins the locks actually writes the index or extracts texts)."""
        app = create_app(self.settings)
        if self.settings.background_work:
            # a mirror never extracts texts: they arrive with the sync (docs/mirrors.md)
            work = BackgroundWork(app.extensions["repo"], extract=not self.settings.is_mirror).start()
            atexit.register(work.stop)
        return app


def gunicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    options = {
        "bind": f"{host}:{port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "timeout": 120,           # heartbeat of the worker, not a limit on slow downloads
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level,
        # No "sendfile" key: in gunicorn, giving that setting any value *disables* sendfile.
        # We rely on the default (on) and a test checks it stays on.
        "forwarded_allow_ips": "127.0.0.1,::1",
        # gunicorn's control socket defaults to ~/.gunicorn/gunicorn.ctl, shared by every
        # server of the same user (a second instance takes it over); we do not use it.
        "control_socket_disable": True,
        "child_exit": worker_exited,   # a dead worker's live metric gauges stop counting
    }
    if settings.log_format == "json":  # gunicorn's log as JSON lines; the app logs each request
        options.update(logger_class=GunicornJsonLogger, accesslog=None)
    return options


def start_embedded_worker() -> subprocess.Popen:
    """`repo-server worker` as a child of this server: it stops when the server stops (and,
    through --exit-with, when the server dies without stopping it)."""
    worker = subprocess.Popen([sys.executable, "-m", "repo_server.cli", "worker",
                               "--exit-with", str(os.getpid())], stdin=subprocess.DEVNULL)

    def stop() -> None:
        worker.send_signal(signal.SIGINT)    # Huey's graceful stop: the running job is requeued
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()

    atexit.register(stop)
    return worker


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    configure_logging(settings)         # the master's own records, in the same format
    prepare_multiprocess_dir(settings)  # before any worker forks (web/metrics.py)
    if settings.embedded_worker:
        start_embedded_worker()
    RepoServer(settings, gunicorn_options(settings, host or settings.host,
                                          port or settings.port)).run()
