"""Running rsync: its own process group, a no-progress watchdog, and what its messages mean.

Facts measured on these machines (DESIGN.md §4) shape this module:

- rsync's own `--timeout` did not fire on a stalled but open connection within 90 s, so a
  watchdog here stops rsync when nothing moved — no output on stdout (`--info=progress2`
  prints as bytes arrive) and no file growing under the destination — for `stall_s`;
- it stops rsync with SIGTERM, which keeps the partial file in `--partial-dir` (SIGKILL
  loses it) and only then, after a grace period, SIGKILL;
- exit code 5 means both "max connections" (retry) and "auth failed" (fix it), a refused
  option shows as 10: the kind of failure comes from the messages, the code only breaks ties;
- a killed script can leave an orphan rsync writing into the staging area: rsync runs in a
  process group of its own whose id is recorded in a file, and the next run (under the
  lock) ends that group before starting (`end_orphan`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import SyncFailure

__all__ = ["RsyncResult", "Rsync", "classify", "parse_stats", "end_orphan"]

_CONFIG_MESSAGES = (
    "auth failed", "unknown module", "access denied", "configured to refuse", "unknown option",
    "password file", "permission denied (publickey", "host key verification failed",
    "could not resolve hostname", "name or service not known", "invalid user",
)
_RETRY_MESSAGES = (
    "max connections", "connection refused", "connection timed out", "timed out",
    "connection reset", "no route to host", "network is unreachable", "broken pipe",
    "connection unexpectedly closed", "error in socket io", "stalled",
)
# rsync exit codes that say "the transport failed": socket I/O, protocol stream, timeouts,
# killed by a signal (our watchdog), vanished or partial transfer.
_RETRY_CODES = {10, 11, 12, 20, 23, 24, 30, 35, 255}
_STAT = re.compile(r"^Total bytes (sent|received):\s*([\d,.]+)", re.M)


@dataclass
class RsyncResult:
    code: int
    stderr: str
    sent: int = 0
    received: int = 0
    stalled: bool = False
    seconds: float = 0.0


def parse_stats(stdout: str) -> tuple[int, int]:
    """(bytes sent, bytes received) from rsync's --stats: what went over the wire."""
    found = {kind: int(re.sub(r"[,.]", "", value)) for kind, value in _STAT.findall(stdout)}
    return found.get("sent", 0), found.get("received", 0)


def classify(result: RsyncResult) -> SyncFailure:
    """The SyncFailure a failed rsync run stands for, from its messages first."""
    text = result.stderr.lower()
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    # rsync's own words first ("@ERROR: auth failed…", "rsync: failed to connect…: Connection
    # refused"), then its closing "rsync error: … (code N)" line
    said = [line for line in lines if line.lower().startswith(("@error", "rsync:", "ssh:")) or "denied" in line.lower()]
    detail = "; ".join(dict.fromkeys(said[:2] + [line for line in lines if "error" in line.lower()][-1:]))[:400] \
        or "; ".join(lines[-3:])[:400] or f"rsync exit code {result.code}"
    if result.stalled:
        return SyncFailure("retry", f"the transfer stalled (no progress) and was stopped: {detail}")
    if any(message in text for message in _CONFIG_MESSAGES):
        return SyncFailure("config", f"rsync refused: {detail} (exit {result.code})")
    if any(message in text for message in _RETRY_MESSAGES) or result.code in _RETRY_CODES:
        return SyncFailure("retry", f"rsync could not finish: {detail} (exit {result.code})")
    if "no such file or directory" in text and result.code == 23:
        return SyncFailure("retry", f"a file vanished upstream: {detail}")
    if result.code == 5:   # a daemon refusal we do not recognise: a person should look
        return SyncFailure("config", f"the rsync daemon refused: {detail}")
    return SyncFailure("failed", f"rsync failed: {detail} (exit {result.code})")


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_rsync(pid: int) -> bool:
    try:
        return b"rsync" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def end_orphan(pgid_file: Path, grace_s: float = 10.0) -> bool:
    """End the rsync a killed previous run left behind (its process group id is in
    `pgid_file`); True when there was one. Call under the sync lock."""
    try:
        pgid = int(pgid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    found = False
    if pgid > 1 and _alive(pgid) and _is_rsync(pgid):
        found = True
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    pgid_file.unlink(missing_ok=True)
    return found


def _tree_bytes(root: Path) -> int:
    """Bytes of every file under `root` (the staging area of one batch: small)."""
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


class Rsync:
    """Runs one rsync at a time with a watchdog. `pgid_file` records the running group."""

    def __init__(self, *, rsync: str, pgid_file: Path, stall_s: float, run_timeout_s: float,
                 env: dict[str, str] | None = None, grace_s: float = 10.0,
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.rsync, self.pgid_file, self.stall_s = rsync, pgid_file, stall_s
        self.run_timeout_s, self.env, self.grace_s, self.log = run_timeout_s, env, grace_s, log

    def run(self, options: list[str], sources: list[str], dest: Path) -> RsyncResult:
        argv = [self.rsync, "--stats", "--info=progress2", *options, *sources, str(dest)]
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=self.env)
        self.pgid_file.write_text(f"{process.pid}\n")
        progress = {"at": time.monotonic()}
        out, err = bytearray(), bytearray()

        def pump(stream, sink: bytearray, moves: bool) -> None:
            while chunk := stream.read1(65536):
                sink.extend(chunk)
                if moves:
                    progress["at"] = time.monotonic()

        threads = [threading.Thread(target=pump, args=(process.stdout, out, True), daemon=True),
                   threading.Thread(target=pump, args=(process.stderr, err, False), daemon=True)]
        for thread in threads:
            thread.start()
        stalled, size = False, None
        try:
            while True:
                try:
                    process.wait(0.2)       # returns as soon as rsync ends: no poll interval per batch
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if now - progress["at"] > self.stall_s / 4:
                    # the progress output is silent: do the files grow? (a walk of the staging
                    # tree, only now — walking it every 0.2 s cost 3 s per 5,000 objects)
                    grown = _tree_bytes(dest) if dest.is_dir() else 0
                    if size is not None and grown != size:
                        progress["at"] = now
                    size = grown
                if now - progress["at"] > self.stall_s or now - started > self.run_timeout_s:
                    stalled = True
                    self.log(f"no progress for {now - progress['at']:.0f} s: stopping rsync (SIGTERM)")
                    self._stop(process)
                    break
        finally:
            if process.poll() is None:
                self._stop(process)
            for thread in threads:
                thread.join(10)
            self.pgid_file.unlink(missing_ok=True)
        stdout = out.decode(errors="replace")
        sent, received = parse_stats(stdout)
        return RsyncResult(process.returncode, err.decode(errors="replace"), sent, received, stalled,
                           time.monotonic() - started)

    def _stop(self, process: subprocess.Popen) -> None:
        """SIGTERM the group (rsync keeps the partial file), SIGKILL after the grace period."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(self.grace_s)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(10)
