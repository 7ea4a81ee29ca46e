"""The product side of the benchmark: a throw-away library, the real ingest, the real run_job,
and the same ffmpeg argvs the job runs, built by the product's own functions, for the peer.

Runs in the project's virtualenv (it imports repo_server). Nothing in repo_server is changed:
`instrumented()` only wraps names in the media_work module with timers for the duration of one
run_job call, to say where the pipeline's time goes besides ffmpeg.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from repo_server.catalog.models import Derivative, MediaJob
from repo_server.config import Settings
from repo_server.services import Actor, Services, accounts, media_work
from repo_server.services.maintenance import initialise
from repo_server.services.resources import ingest
from repo_server.tasks import MediaQueue  # noqa: F401  (imported now: see below)
from repo_server.transcode import runner, video
from repo_server.transcode.probe import MediaInfo, probe
from repo_server.transcode.profiles import video_profiles_for
from sqlalchemy import select

# Everything the benchmark runs is imported here, when it starts: others edit repo_server while
# a long run goes on, and a module imported halfway through could come from a newer version
# than the ones already loaded (run.py also records a fingerprint of the code at the start and
# the end). The worker subprocess of the lesson part reads the code when it starts.

__all__ = ["Library", "derivatives", "ingest_file", "instrumented", "job_argvs", "rendition_argvs",
           "run_job_timed", "run_with_runner", "source_info", "timeout_for"]


class Library:
    """A fresh data dir (SQLite catalog + local blob store) with one school editor."""

    def __init__(self, root: Path) -> None:
        shutil.rmtree(root, ignore_errors=True)
        self.root = root
        self.settings = Settings(data_dir=root, secret_key="bench-transcode")
        self.svc = Services.open(self.settings)
        initialise(self.svc)                      # = `repo-server init`: migrations, vocabularies
        accounts.add_org(self.svc, "示例市", "city")
        accounts.add_org(self.svc, "示例县", "county", "示例市")
        accounts.add_org(self.svc, "一小", "school", "示例市/示例县")
        self.editor: Actor = accounts.add_user(self.svc, "bench-editor", "editor", org="一小")

    def close(self, *, remove: bool = True) -> None:
        self.svc.close()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def ingest_file(lib: Library, path: Path, title: str) -> tuple[dict[str, Any], int, dict[str, float]]:
    """Upload `path` the way the web app does after the request body arrived: stream it into
    staging (hashing as it goes), then `resources.ingest` (sniff, catalog rows, blob adopted,
    media job queued, handed to the queue if one is wired). Returns (view, job id, timings)."""
    t0 = time.perf_counter()
    with open(path, "rb") as stream:
        staged = lib.svc.staging.receive(stream, filename=path.name)
    t1 = time.perf_counter()
    view = ingest(lib.svc, lib.editor, staged, path.name, {"title": title})
    t2 = time.perf_counter()
    with lib.svc.catalog.read() as session:
        job_id = session.scalar(select(MediaJob.id).order_by(MediaJob.id.desc()).limit(1))
    if job_id is None:
        raise RuntimeError(f"ingesting {path.name} queued no media job (not accepted as video?)")
    return view, job_id, {"stage_s": t1 - t0, "ingest_s": t2 - t1}


def timeout_for(duration: float) -> float:
    """The time budget run_job gives a video step (media_work._Job.ffmpeg)."""
    return 300 + Settings().media_timeout_factor * duration


def rendition_argvs(src: Path, out_dir: Path, info: MediaInfo) -> dict[str, list[str]]:
    """rendition_argv of each profile that applies, writing into `out_dir` (never a remux:
    the × realtime measurement is about transcoding)."""
    return {p.name: video.rendition_argv(src, out_dir / f"{p.name}.mp4", info, p)
            for p in video_profiles_for(info)}


def job_argvs(src: Path, out_dir: Path, info: MediaInfo) -> dict[str, list[str]]:
    """Every ffmpeg argv run_job runs for this video, in run_job's order (poster, 360p,
    storyboard, 720p), with run_job's own choice of remux vs transcode."""
    profiles = video_profiles_for(info)
    argvs = {"poster": video.poster_argv(src, out_dir / "poster.jpg", info)}

    def rendition(p) -> list[str]:
        dst = out_dir / f"{p.name}.mp4"
        return video.remux_argv(src, dst, info, p) if video.can_remux(info, p) else \
            video.rendition_argv(src, dst, info, p)

    argvs[profiles[0].name] = rendition(profiles[0])
    argvs["storyboard"] = video.storyboard_argv(src, out_dir / "storyboard.jpg", video.storyboard_plan(info))
    for p in profiles[1:]:
        argvs[p.name] = rendition(p)
    return argvs


def run_with_runner(argv: list[str], duration: float):
    """runner.run exactly as media_work._Job.ffmpeg calls it (progress parsed, no stop event)."""
    return runner.run(argv, timeout_s=timeout_for(duration), total_s=duration, on_progress=lambda _f: None)


def source_info(path: Path) -> MediaInfo:
    return probe(path)


def _step_of(argv: list[str]) -> str:
    name = Path(argv[-1]).name
    return name.rsplit(".", 1)[0] if "." in name else name


@contextmanager
def instrumented() -> Iterator[dict[str, Any]]:
    """Wrap the functions run_job calls (in repo_server.services.media_work's namespace) with
    timers; yields the accumulator: {"calls": {name: [seconds, …]}, "ffmpeg": {step: seconds},
    "heartbeat": [seconds, …] (a background thread, not on the job's path)}."""
    acc: dict[str, Any] = {"calls": defaultdict(list), "ffmpeg": {}, "heartbeat": []}
    lock = threading.Lock()
    names = ["probe", "thumbnail", "store_output", "set_state", "drop_derivative", "claim_job",
             "finish_job", "done_profiles", "local_copy", "run", "heartbeat", "still_running"]
    background = {"heartbeat", "still_running"}       # the heartbeat thread's catalog calls
    originals = {name: getattr(media_work, name) for name in names if hasattr(media_work, name)}

    def timed(name, func):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                with lock:
                    if name == "run":
                        acc["ffmpeg"][_step_of(list(args[0]))] = elapsed
                    elif name in background:
                        acc["heartbeat"].append(elapsed)
                    else:
                        acc["calls"][name].append(elapsed)
        return wrapper

    @contextmanager
    def timed_local_copy(svc, sha256):
        t0 = time.perf_counter()
        with originals["local_copy"](svc, sha256) as path:
            with lock:
                acc["calls"]["local_copy"].append(time.perf_counter() - t0)
            yield path

    try:
        for name, func in originals.items():
            setattr(media_work, name, timed_local_copy if name == "local_copy" else timed(name, func))
        yield acc
    finally:
        for name, func in originals.items():
            setattr(media_work, name, func)


def run_job_timed(lib: Library, job_id: int) -> tuple[Any, dict[str, Any]]:
    """run_job on one job with the timers in place; (outcome, breakdown in seconds)."""
    with instrumented() as acc:
        outcome = media_work.run_job(lib.svc, job_id)
    calls = {name: {"n": len(v), "s": round(sum(v), 4)} for name, v in acc["calls"].items()}
    return outcome, {"ffmpeg": {k: round(v, 3) for k, v in acc["ffmpeg"].items()}, "calls": calls,
                     "heartbeats": {"n": len(acc["heartbeat"]), "s": round(sum(acc["heartbeat"]), 4)}}


def derivatives(lib: Library) -> dict[str, dict[str, Any]]:
    with lib.svc.catalog.read() as session:
        return {d.profile: {"status": d.status, "message": d.message, **(d.meta or {})}
                for d in session.scalars(select(Derivative))}
