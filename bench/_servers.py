"""The two servers under test, started and stopped by the benchmarks themselves.

`RepoServerProcess` runs `repo-server serve` exactly as an operator would (fresh data dir,
`init`, an admin user, a token), waits for /healthz, and reads the memory of the gunicorn
master and its workers from /proc. `NginxProcess` runs Debian's nginx in the foreground
with a generated minimal config in a private directory: it never reads or writes
/etc/nginx, /var/log/nginx or /run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _common import free_port, run

__all__ = ["RepoServerProcess", "NginxProcess", "MemorySampler", "process_memory", "cpu_seconds"]

BENCH_USER = "bench"
_STATUS_FIELDS = ("VmHWM", "VmRSS")


def _wait_http(url: str, proc: subprocess.Popen, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {what} exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {what} did not answer {url} within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen, sig: int, grace_s: float) -> None:
    """Signal our own child by pid; kill its own process group only if it will not stop."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group was created for this child alone
        proc.wait(timeout=10)


def process_memory(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS (kB) from /proc/<pid>/status, Pss (kB) from smaps_rollup."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in _STATUS_FIELDS:
                found[key + "_kB"] = int(line.split()[1])
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    found["Pss_kB"] = int(line.split()[1])
    except OSError:
        pass
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (/proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return sorted(kids)


class RepoServerProcess:
    """One `repo-server serve` on a fresh data dir, on a free loopback port."""

    def __init__(self, exe: Path, data_dir: Path, *, workers: int = 2, log: Path) -> None:
        self.exe, self.data_dir, self.workers, self.log = exe, data_dir, workers, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.proc: subprocess.Popen | None = None
        # Only our settings: a REPO_* variable in the caller's shell must not change the run.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
        self.env.update(REPO_DATA_DIR=str(data_dir), REPO_WORKERS=str(workers))

    def initialise(self) -> None:
        """`repo-server init`, an admin user (password on stdin), a bearer token."""
        run([str(self.exe), "init"], env=self.env)
        run([str(self.exe), "user", "add", BENCH_USER, "--role", "admin"], env=self.env,
            input="bench-password-not-secret\n")
        self.token = run([str(self.exe), "token", "create", BENCH_USER], env=self.env).stdout.strip()

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.exe), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        _wait_http(self.url + "/healthz", self.proc, "repo-server serve")
        deadline = time.monotonic() + 30
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        return _children(self.proc.pid) if self.proc else []

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()] if self.proc else []

    def memory(self) -> dict[str, Any]:
        """Per process (master, workers) VmHWM/VmRSS/Pss in kB, plus max and sum."""
        assert self.proc is not None
        procs = {"master": process_memory(self.proc.pid)}
        for pid in self.worker_pids():
            try:
                procs[f"worker {pid}"] = process_memory(pid)
            except OSError:
                continue
        hwm = [p.get("VmHWM_kB", 0) for p in procs.values()]
        return {"processes": procs, "max_hwm_kB": max(hwm), "sum_hwm_kB": sum(hwm),
                "sum_pss_kB": sum(p.get("Pss_kB", 0) for p in procs.values())}

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, signal.SIGTERM, grace_s=40)  # gunicorn: graceful shutdown


class MemorySampler(threading.Thread):
    """Polls VmRSS of a server's processes while a transfer runs: peak of the sum over time.

    VmHWM already gives each process's own peak; this adds the peak of the total at one
    instant (the sum of per-process peaks can overstate it), and the staging file's growth
    (when the last byte of the upload reached the disk, before fsync and commit).
    """

    def __init__(self, server: RepoServerProcess, interval_s: float = 0.05,
                 staging_dir: Path | None = None, expected_size: int = 0) -> None:
        super().__init__(daemon=True)
        self.server, self.interval_s = server, interval_s
        self.staging_dir, self.expected_size = staging_dir, expected_size
        self.peak_sum_rss_kB = 0
        self.received_at: float | None = None
        self._halt = threading.Event()
        # Looked up once: scanning /proc on every sample would cost CPU the server needs.
        self._pids = [server.proc.pid, *server.worker_pids()]

    def _staged_size(self) -> int:
        if self.staging_dir is None:
            return 0
        try:
            return max((e.stat().st_size for e in self.staging_dir.iterdir()
                        if e.name.startswith("incoming-")), default=0)
        except OSError:
            return 0

    def run(self) -> None:
        while not self._halt.is_set():
            total = 0
            for pid in self._pids:
                try:
                    total += process_memory(pid).get("VmRSS_kB", 0)
                except OSError:
                    pass
            self.peak_sum_rss_kB = max(self.peak_sum_rss_kB, total)
            if (self.received_at is None and self.expected_size
                    and self._staged_size() >= self.expected_size):
                self.received_at = time.perf_counter()
            self._halt.wait(self.interval_s)

    def halt(self) -> None:
        self._halt.set()
        self.join(timeout=5)


_NGINX_CONF = """\
# Generated by bench/_servers.py for one benchmark run; nothing here touches /etc/nginx.
worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 5;
    default_type application/octet-stream;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


class NginxProcess:
    """Debian's nginx serving `root` (the blob tree) on a free loopback port."""

    def __init__(self, root: Path, conf_dir: Path, *, workers: int = 2) -> None:
        self.root, self.dir, self.workers = root, conf_dir, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = conf_dir / "nginx.conf"
        self.proc: subprocess.Popen | None = None

    def _argv(self, *extra: str) -> list[str]:
        return ["nginx", "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                "-c", str(self.conf), *extra]

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(_NGINX_CONF.format(workers=self.workers, dir=self.dir,
                                                port=self.port, root=self.root))
        run(self._argv("-t"))
        with open(self.dir / "stdout.log", "ab") as log:
            self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_http(self.url + "/", self.proc, "nginx")

    def pids(self) -> list[int]:
        return [self.proc.pid, *_children(self.proc.pid)] if self.proc else []

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, signal.SIGQUIT, grace_s=20)  # nginx: graceful shutdown
