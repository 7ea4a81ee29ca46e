"""The production front for the load benchmark: Debian's nginx running the shipped
deploy/nginx/repo-server.conf (placeholders replaced, as tests/test_nginx.py does), plus one
plain static server block on a second port that serves the same blob files directly — the
peer downloads are compared with. One nginx process, the same workers for both.

Nothing here touches /etc/nginx, /var/log/nginx or /run: prefix, pid, logs and temp files
live in the work directory, and nginx runs in the foreground as our child.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from _common import REPO_ROOT, free_port, run
from _servers import _children, _stop, _wait_http

sys.path.insert(0, str(REPO_ROOT))
from tests.support import (SHIPPED_NGINX_CONF as SHIPPED_CONF, nginx_main_conf,  # noqa: E402  (the test's templating)
                           nginx_production_conf)

__all__ = ["NginxFront", "SHIPPED_CONF"]


# The peer: the same blob files, no app, no checks (what nginx alone can do).
_PEER = """
    server {{
        listen 127.0.0.1:{peer_port};
        access_log off;
        location /blobs/ {{ alias {blobs}/; }}
    }}
"""


class NginxFront:
    """nginx with the production config in front of the app on `app_port`, and the peer."""

    def __init__(self, conf_dir: Path, data_dir: Path, app_port: int) -> None:
        self.dir, self.data_dir, self.app_port = conf_dir, data_dir, app_port
        self.port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.peer_url = f"http://127.0.0.1:{self.peer_port}"
        self.proc: subprocess.Popen | None = None

    def _argv(self, *extra: str) -> list[str]:
        return ["nginx", "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                "-c", str(self.dir / "nginx.conf"), *extra]

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "repo-server.conf").write_text(nginx_production_conf(
            nginx_port=self.port, app_port=self.app_port, data_dir=self.data_dir, log_dir=self.dir),
            encoding="utf-8")
        peer = _PEER.format(peer_port=self.peer_port, blobs=(self.data_dir / "blobs").resolve())
        (self.dir / "nginx.conf").write_text(nginx_main_conf(
            self.dir, workers="auto", connections=1024, log_level="warn", http_extra=peer), encoding="utf-8")
        run(self._argv("-t"))
        with open(self.dir / "stdout.log", "ab") as log:
            self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_http(self.url + "/healthz", self.proc, "nginx (production config)")

    def pids(self) -> list[int]:
        return [self.proc.pid, *_children(self.proc.pid)] if self.proc else []

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, signal.SIGQUIT, grace_s=20)
