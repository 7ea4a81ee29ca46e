"""The one place that runs ffmpeg and ffprobe.

Everything else in this package builds argv lists with pure functions; this module executes
them: at low CPU priority (a web server shares the machine), in a process group of its own
that is killed as a whole when the time budget runs out, with stderr's tail kept for the
error message and ffmpeg's `-progress pipe:1` lines turned into a fraction done.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

__all__ = ["MediaError", "Cancelled", "RunResult", "run", "LOW_PRIORITY"]

LOW_PRIORITY = 10          # nice value of every media process
# The kernel kills the child when the thread that started it dies (a worker killed with
# SIGKILL): ffmpeg ignores SIGPIPE, so it would otherwise transcode on, orphaned, in its own
# session. setpriv (util-linux, on every Debian) sets that and execs: same pid, same group.
_DIE_WITH_US = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
_STDERR_TAIL = 4000
_STDOUT_LIMIT = 4 * 1024 * 1024


class MediaError(Exception):
    """A media step that failed, with a message for people. `transient` failures (a timeout,
    a killed process, a full disk) are worth retrying; the others (an unreadable file) are not."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class Cancelled(MediaError):
    """The job was cancelled while this step ran; its process was stopped."""

    def __init__(self) -> None:
        super().__init__("cancelled")


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: bytes
    stderr: str
    seconds: float


def _progress_reader(stream, total_s: float | None, on_progress: Callable[[float], None] | None,
                     keep: bytearray) -> None:
    """Read stdout: ffmpeg's `key=value` progress lines, or plain output (ffprobe's JSON)."""
    for line in iter(stream.readline, b""):
        if on_progress is None:
            if len(keep) < _STDOUT_LIMIT:
                keep.extend(line)
            continue
        key, _, value = line.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and total_s and value.strip().isdigit():
            on_progress(min(int(value) / 1e6 / total_s, 1.0))
        elif key == "progress" and value == "end":
            on_progress(1.0)


def _tail_reader(stream, keep: list[str]) -> None:
    tail = b""
    for chunk in iter(lambda: stream.read(4096), b""):
        tail = (tail + chunk)[-_STDERR_TAIL:]
    keep.append(tail.decode("utf-8", "replace"))


def run(argv: Sequence[str], *, timeout_s: float, total_s: float | None = None,
        on_progress: Callable[[float], None] | None = None,
        stop: threading.Event | None = None) -> RunResult:
    """Run `argv` to completion within `timeout_s`. Raises MediaError (transient) on timeout
    or when the program is missing, Cancelled as soon as `stop` is set; a non-zero exit is
    returned for the caller to judge."""
    started = time.monotonic()
    if shutil.which(argv[0]) is None:
        raise MediaError(f"{argv[0]} is not installed (needed for previews and renditions)",
                         transient=True)
    process = subprocess.Popen(_DIE_WITH_US + list(argv), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        os.setpriority(os.PRIO_PROCESS, process.pid, LOW_PRIORITY)
    except OSError:
        pass  # it may already have exited
    out, err = bytearray(), []
    readers = [threading.Thread(target=_progress_reader, args=(process.stdout, total_s, on_progress, out),
                                daemon=True),
               threading.Thread(target=_tail_reader, args=(process.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        returncode = _wait(process, started + timeout_s, stop)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise MediaError(f"{os.path.basename(argv[0])} took longer than {timeout_s:.0f} s and was "
                         "stopped", transient=True) from None
    except Cancelled:
        _kill_group(process)
        raise
    finally:
        for reader in readers:
            reader.join(5)
    if returncode < 0:
        raise MediaError(f"{os.path.basename(argv[0])} was killed by signal {-returncode}",
                         transient=True)
    return RunResult(returncode, bytes(out), err[0] if err else "", time.monotonic() - started)


def _wait(process: subprocess.Popen, deadline: float, stop: threading.Event | None) -> int:
    """The exit code; TimeoutExpired past the deadline, Cancelled when `stop` is set."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(process.args, 0)
        try:
            return process.wait(timeout=min(left, 0.5) if stop is not None else left)
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                raise Cancelled() from None


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
