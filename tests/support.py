"""Small helpers shared by test modules (fixtures live in conftest.py files)."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import urllib3
from minio import Minio

__all__ = ["filename_star", "upload_form", "free_port", "start_server", "stop_server", "S3Server", "REGION",
           "SHIPPED_NGINX_CONF", "nginx_production_conf", "nginx_main_conf"]

REGION = "us-east-1"
SHIPPED_NGINX_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "repo-server.conf"
# The shipped nginx file's placeholders (docs/deploy.md) and what a test-time copy puts there.
_NGINX_PLACEHOLDERS = ("listen 80;", "listen [::]:80;", "server 127.0.0.1:8080;", "/srv/repo-server/",
                       "/var/log/nginx/")


def filename_star(header: str) -> str:
    """The decoded RFC 5987 `filename*` of a Content-Disposition header."""
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert match, header
    return unquote(match.group(1))


def upload_form(data: bytes | Path, filename: str, **metadata) -> dict:
    """A multipart form for POST /api/v1/resources (pass to the test client with
    content_type="multipart/form-data")."""
    payload = data.read_bytes() if isinstance(data, Path) else data
    return {"file": (io.BytesIO(payload), filename), **metadata}


def free_port() -> int:
    """A TCP port nothing listens on right now (also used as a 'closed port')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str], log: Path, *, timeout: float = 20) -> tuple[subprocess.Popen, str, int]:
    """`repo-server serve` on a free loopback port with `env` (added to this process's),
    output appended to `log`; returns once /healthz answers, or fails the test with the log."""
    import pytest
    import requests

    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "repo_server.cli", "serve", "--host", "127.0.0.1",
                                    "--port", str(port)], env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url, port
        except requests.RequestException:  # refused, or accepted by a worker still booting
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"repo-server serve did not start:\n{log.read_text()}", pytrace=False)
        time.sleep(0.1)


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), SIGKILL after 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class S3Server:
    """Where an S3 endpoint is and how to log in; `bucket_prefix` names per-test buckets."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    bucket_prefix: str

    def client(self, *, retries: int | bool = 2) -> Minio:
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30), retries=retries)
        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
                     secure=self.secure, region=REGION, http_client=http)


def nginx_production_conf(*, nginx_port: int, app_port: int, data_dir: Path, log_dir: Path) -> str:
    """deploy/nginx/repo-server.conf as shipped, only its placeholders replaced: loopback ports,
    this data dir, a private log dir (tests/test_nginx.py and bench/load run exactly this).
    Raises ValueError when a placeholder went missing from the file."""
    text = SHIPPED_NGINX_CONF.read_text(encoding="utf-8")
    for placeholder in _NGINX_PLACEHOLDERS:
        if placeholder not in text:
            raise ValueError(f"{SHIPPED_NGINX_CONF} no longer contains {placeholder!r}: update "
                             "tests/support.py's templating along with it")
    return (text.replace("listen [::]:80;", "")
            .replace("listen 80;", f"listen 127.0.0.1:{nginx_port};")
            .replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{app_port};")
            .replace("/srv/repo-server/", f"{data_dir.resolve()}/")
            .replace("/var/log/nginx/", f"{log_dir}/"))


def nginx_main_conf(directory: Path, *, top: str = "", workers: str = "1", connections: int = 256,
                    log_level: str = "info", http_extra: str = "") -> str:
    """A private nginx.conf around the templated repo-server.conf in `directory`: the http
    block Debian's nginx.conf gives, every pid, log and temp path inside `directory` (nothing
    touches /etc/nginx, /var/log/nginx or /run), nginx in the foreground. `top` adds main-context
    lines (e.g. `user`), `http_extra` more server blocks (the load benchmark's plain peer)."""
    d = directory
    return f"""\
# Generated: a private prefix, Debian's http defaults, the shipped repo-server.conf.
{top}worker_processes {workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log {log_level};
events {{ worker_connections {connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/repo-server.conf;
{http_extra}}}
"""
