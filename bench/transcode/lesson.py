"""Upload → first playable rendition, end to end, with a real `repo-server worker` process.

A fresh data dir (SQLite catalog, local blobs, the embedded SqliteHuey queue) gets a running
`repo-server worker` (REPO_DATA_DIR pointing at it, every other setting at its default). Once the
worker is up and has idled for a while (as a production worker waits between uploads), the
lesson is ingested by this process the way an upload is (streamed into staging and hashed,
then `resources.ingest`, whose media job is handed to the queue after the commit, as the web
app does). This process then polls the catalog every 0.2 s until the job ends, noting when each
derivative became running and done, and samples the worker's and its ffmpeg's memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from _servers import _children
from pipeline import Library, ingest_file, job_argvs, source_info, timeout_for
from repo_server.catalog.models import Derivative, MediaJob
from repo_server.tasks import MediaQueue
from sqlalchemy import select
from timing import Meter, run_by_hand, wait_quiet

__all__ = ["run_lesson"]

_HZ = os.sysconf("SC_CLK_TCK")
_POLL_S = 0.2            # catalog poll (one read transaction, two small queries)
_SAMPLE_S = 1.0          # memory sampling: scanning /proc for the worker's children costs more


def _status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_s(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid` (its reaped children included)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _HZ


def _step(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except OSError:
        return "?"
    argv = [a.decode("utf-8", "replace") for a in argv if a]
    if argv and Path(argv[0]).name == "setpriv" and "--" in argv:   # runner's wrapper, before its exec
        argv = argv[argv.index("--") + 1:]
    if not argv:
        return "?"
    tool = Path(argv[0]).name
    if tool == "ffprobe":
        return "ffprobe"
    name = Path(argv[-1]).name
    return f"{tool} {name.rsplit('.', 1)[0]}" if name else tool


def _live_children_cpu(pid: int) -> float:
    return sum(_cpu_s(kid) for kid in _children(pid))


def _since(value: datetime | None, origin: datetime) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return round((value - origin).total_seconds(), 2)


def _start_worker(repo_server: Path, data_dir: Path, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env["REPO_DATA_DIR"] = str(data_dir)
    log = open(log_path, "wb")
    try:
        return subprocess.Popen([str(repo_server), "worker"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    finally:
        log.close()


def _stop_worker(process: subprocess.Popen) -> int | None:
    """SIGINT (the worker's graceful stop), then SIGKILL to its own process group if needed."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(10)


def run_lesson(workdir: Path, clip: dict[str, Any], repo_server: Path, *, idle_s: float,
               hand_peer: bool, quiet: dict[str, float], keep: bool,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    src = Path(clip["path"])
    duration = clip["facts"]["duration_s"]
    lib = Library(workdir / "lesson-data")
    lib.svc.enqueue = MediaQueue(lib.settings, lib.svc).enqueue     # as create_app wires it
    log_path = workdir / "lesson-worker.log"
    worker = _start_worker(repo_server, lib.root, log_path)
    result: dict[str, Any] = {"worker_log": str(log_path), "clip": clip["kind"], "duration_s": duration}
    try:
        started = time.monotonic()
        while b"media worker: queue" not in log_path.read_bytes():
            if worker.poll() is not None or time.monotonic() - started > 120:
                raise RuntimeError(f"repo-server worker did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        result["worker_start_s"] = round(time.monotonic() - started, 2)
        ready = time.monotonic()
        log(f"bench: worker {worker.pid} up in {result['worker_start_s']:.1f} s")

        if hand_peer:   # while the worker idles: the same first steps by hand, for the ratio
            info = source_info(src)
            out = workdir / "lesson-hand"
            out.mkdir(exist_ok=True)
            argvs = job_argvs(src, out, info)
            first = next(name for name in argvs if name.startswith("video-"))
            hand: dict[str, Any] = {}
            wait_quiet(**quiet, log=log)
            for name in ("poster", first):
                log(f"bench:   by hand: {name}")
                hand[name] = run_by_hand(argvs[name], timeout_s=timeout_for(duration)).as_dict()
            hand["first_playable_s"] = round(sum(hand[n]["wall_s"] for n in ("poster", first)), 2)
            hand["first_rendition"] = first
            result["by_hand"] = hand
            for path in out.iterdir():
                path.unlink()
            out.rmdir()
        left = idle_s - (time.monotonic() - ready)
        if left > 0:
            log(f"bench: letting the worker idle {left:.0f} s more (as between uploads)")
            time.sleep(left)
        result["worker_idle_before_upload_s"] = round(time.monotonic() - ready, 1)
        result["quiet_wait"] = wait_quiet(**quiet, log=log)

        log(f"bench: uploading the {duration / 60:.0f}-minute lesson; polling the catalog")
        origin = datetime.now(timezone.utc)
        seen: dict[str, float] = {}
        hwm: dict[str, int] = {}
        peak_sum_rss = 0
        with Meter(others_cpu=lambda: _cpu_s(worker.pid) + _live_children_cpu(worker.pid)) as meter:
            t0 = time.perf_counter()
            _view, job_id, ingest_times = ingest_file(lib, src, "勾股定理（第1课时）课堂实录")
            seen["ingested"] = time.perf_counter() - t0
            status, sampled = "queued", -_SAMPLE_S
            deadline = time.monotonic() + max(1800.0, duration * 10)
            while True:
                with lib.svc.catalog.read() as session:
                    job = session.get(MediaJob, job_id)
                    status = job.status
                    rows = [(d.profile, d.status) for d in session.scalars(
                        select(Derivative).where(Derivative.source_sha256 == job.source_sha256))]
                now = time.perf_counter() - t0
                seen.setdefault(f"job {status}", now)
                for profile, state in rows:
                    seen.setdefault(f"{profile} {state}", now)
                if now - sampled >= _SAMPLE_S:
                    sampled = now
                    rss = _status_kb(worker.pid, "VmRSS") or 0
                    for kid in _children(worker.pid):
                        step, kid_hwm = _step(kid), _status_kb(kid, "VmHWM")
                        if kid_hwm:
                            hwm[step] = max(hwm.get(step, 0), kid_hwm)
                        rss += _status_kb(kid, "VmRSS") or 0
                    peak_sum_rss = max(peak_sum_rss, rss)
                if status in ("done", "failed", "cancelled"):
                    break
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"the lesson job did not finish (status {status}); see {log_path}")
                time.sleep(_POLL_S)
        with lib.svc.catalog.read() as session:
            job = session.get(MediaJob, job_id)
            timeline = {"job created (upload committed)": _since(job.created_at, origin),
                        "job handed to the queue": _since(job.enqueued_at, origin),
                        "job claimed by the worker": _since(job.started_at, origin),
                        "job finished": _since(job.finished_at, origin)}
            for d in session.scalars(select(Derivative).where(Derivative.source_sha256 == job.source_sha256)):
                timeline[f"{d.profile} {d.status}"] = _since(d.updated_at, origin)
                meta = dict(d.meta or {})
                result.setdefault("derivatives", {})[d.profile] = {
                    "status": d.status, "message": d.message, "size": meta.get("size"),
                    **{k: meta[k] for k in ("width", "height", "bit_rate", "duration", "remuxed") if k in meta}}
            result["job"] = {"status": job.status, "message": job.message, "attempts": job.attempts}
        result["worker_peak_rss_kib"] = _status_kb(worker.pid, "VmHWM")
        result["worker_cpu_s"] = round(_cpu_s(worker.pid), 1)
        result["ffmpeg_peak_rss_kib"] = hwm
        result["peak_sum_rss_kib_sampled"] = peak_sum_rss
        result["polled_s"] = {k: round(v, 2) for k, v in sorted(seen.items(), key=lambda kv: kv[1])}
        result["db_timeline_s"] = {k: v for k, v in sorted(timeline.items(), key=lambda kv: (kv[1] is None, kv[1] or 0))}
        result["ingest"] = {k: round(v, 3) for k, v in ingest_times.items()}
        result["measured"] = meter.result.as_dict()
        first = next((p for p in ("video-360p", "video-720p") if f"{p} done" in seen), None)
        result["first_playable"] = first
        result["to_first_playable_s"] = round(seen[f"{first} done"], 2) if first else None
        result["to_job_done_s"] = round(seen.get("job done", seen.get(f"job {status}")), 2)
        result["status"] = status
    finally:
        result["worker_exit"] = _stop_worker(worker)
        lib.close(remove=not keep)
    return result
