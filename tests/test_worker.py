"""The media queue end to end: uploads through the service, a REAL `repo-server worker`
subprocess consuming the queue (SqliteHuey in the data dir, or Redis), real ffmpeg.

Every worker is a subprocess with its own log file (printed when a test fails) and is killed
at teardown; every wait polls the catalog every 0.2 s against a deadline and fails with the
worker logs and the last state seen. Processes are found through /proc (Linux): ffmpeg runs
in a session of its own, so "the worker's ffmpeg" is an ffmpeg whose argv names a file of the
test's data dir (the blob it reads, or the job's scratch directory it writes to).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import shlex
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pytest
import requests
from sqlalchemy import select, update

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import MediaJob
from repo_server.config import Settings
from repo_server.services.media_jobs import STALE_AFTER
from repo_server.services.media_work import CANCEL_CHECK_S
from repo_server.services.resources import get_resource, ingest
from repo_server.tasks import MediaQueue, queue_name

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REPO_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
POLL_S = 0.2
DEADLINE_S = 90            # a whole job, on a 2-core machine shared with another test
# (width, height, seconds, times looped, x264 preset): a looped clip costs its first seconds only.
SHORT = (640, 360, 3, 1, "veryfast")     # ~3 s 360p with sound: a job of a few seconds
# 16 s of 720p at ~2.5 Mbit/s: its 360p step transcodes for seconds (time to stop it mid-
# ffmpeg), its 720p is a remux, so making the whole job again takes well under ten seconds.
LONG = (1280, 720, 4, 4, "veryfast")
# 20 s at ~6.5 Mbit/s: too rich to remux, so its 720p step transcodes for ~10 s.
HEAVY = (1280, 720, 4, 5, "ultrafast")
# 40 s of the same: a 720p step of 15+ s, longer than the CLI's start plus a heartbeat.
HEAVIER = (1280, 720, 4, 10, "ultrafast")
VIDEO_360 = {"poster", "thumbnail", "video-360p", "storyboard"}
VIDEO_720 = VIDEO_360 | {"video-720p"}
ENDED = ("done", "failed", "cancelled")

only_sqlite = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


# -- media files ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Callable[[tuple[int, int, int, int, str]], bytes]:
    """The bytes of an H.264/AAC MP4 from lavfi testsrc2 + a sine tone (see SHORT), made once
    per test process."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.fail("ffmpeg/ffprobe are not installed: the worker tests need them "
                    "(apt-get install ffmpeg)", pytrace=False)
    made: dict[tuple, Path] = {}

    def make(spec: tuple[int, int, int, int, str]) -> bytes:
        if spec not in made:
            width, height, seconds, loops, preset = spec
            folder = tmp_path_factory.mktemp("worker-clips")
            out = folder / "clip.mp4"
            subprocess.run(
                ["ffmpeg", "-v", "error", "-nostdin", "-y",
                 "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25:duration={seconds}",
                 "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
                 "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-shortest", str(out)], check=True, timeout=120, capture_output=True)
            if loops > 1:
                looped = folder / "looped.mp4"
                subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-stream_loop", str(loops - 1),
                                "-i", str(out), "-c", "copy", str(looped)],
                               check=True, timeout=120, capture_output=True)
                out = looped
            made[spec] = out
        return made[spec].read_bytes()
    return make


def png(width: int, height: int) -> bytes:
    """A small PNG, different for every size (identical uploads would be refused as duplicates)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (30, 120, 200))
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill=(250, 200, 0))
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# -- processes ------------------------------------------------------------------------------------
def _proc_table() -> dict[int, tuple[str, int, list[str]]]:
    """pid → (state, ppid, argv) of every process we can read."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        table[int(entry)] = (fields[0], int(fields[1]),
                             [a.decode("utf-8", "replace") for a in argv if a])
    return table


def is_alive(pid: int) -> bool:
    """Running (a zombie, or a pid without a process, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def media_processes(data_dir: Path) -> dict[int, list[str]]:
    """Live ffmpeg/ffprobe processes working on files of this data dir."""
    marker = str(data_dir)
    return {pid: argv for pid, (state, _, argv) in _proc_table().items()
            if state != "Z" and argv and os.path.basename(argv[0]) in ("ffmpeg", "ffprobe")
            and any(marker in arg for arg in argv)}


def rendering(data_dir: Path, output: str) -> dict[int, list[str]]:
    """The ffmpeg processes writing `output` (e.g. "video-360p.mp4") in a job's scratch dir
    (not the ffprobe that checks it afterwards)."""
    scratch = str(data_dir / "tmp" / "media-")
    return {pid: argv for pid, argv in media_processes(data_dir).items()
            if os.path.basename(argv[0]) == "ffmpeg"
            and any(arg.startswith(scratch) and arg.endswith("/" + output) for arg in argv)}


def require_transcode(procs: dict[int, list[str]]) -> None:
    """The premise of a test that needs a step lasting ~10 s: it encodes, it is not a remux."""
    for argv in procs.values():
        assert "libx264" in argv, ("this step is no longer a transcode (a remux takes a second); "
                                   f"the test needs a clip that is transcoded: {argv}")


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env.update({"REPO_DATA_DIR": str(settings.data_dir), "REPO_DATABASE_URL": settings.database_url,
                "REPO_SECRET_KEY": settings.secret_key, "REPO_QUEUE_URL": settings.queue_url,
                "REPO_LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1", **extra})
    return env


@dataclasses.dataclass
class Worker:
    number: int
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Workers:
    """`repo-server worker` subprocesses of one test, all killed at its teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Worker] = []
        self.data_dirs: set[Path] = set()

    def start(self, settings: Settings, *args: str, ready: bool = True) -> Worker:
        number = len(self.started) + 1
        log = self.tmp_path / f"worker-{number}.log"
        self.data_dirs.add(settings.data_dir)
        with open(log, "wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "repo_server.cli", "worker", *args],
                                       env=worker_env(settings), cwd=ROOT, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(number, process, log)
        self.started.append(worker)
        if ready:   # the start-up sweep has run and the consumer is about to start
            wait_until(f"worker {number} to start", lambda: worker.text(),
                       lambda text: "media worker: queue" in text, timeout=30, logs=self.logs,
                       watch=[worker])
        return worker

    def logs(self) -> str:
        parts = []
        for worker in self.started:
            state = "running" if worker.alive() else f"exited {worker.process.returncode}"
            parts.append(f"--- worker {worker.number} (pid {worker.pid}, {state}): {worker.log} "
                         f"(last 6,000 characters) ---\n{worker.text()[-6000:]}")
        return "\n".join(parts) or "(no worker started)"

    def close(self) -> None:
        """Kill what is still running (again: harmless)."""
        for worker in self.started:
            if worker.alive():
                worker.process.kill()
            try:
                worker.process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        # ffmpeg started by those workers that outlived them (see test_killed_worker_…).
        for data_dir in self.data_dirs:
            for pid in media_processes(data_dir):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        print(pool.logs())   # shown with the failure report
        pool.close()


def wait_until(what: str, probe: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float,
               logs: Callable[[], str], watch: Iterable[Worker] = ()) -> Any:
    """Poll `probe` every 0.2 s until `done(state)`; fail with the logs past `timeout` or as
    soon as a watched worker exits."""
    deadline = time.monotonic() + timeout
    while True:
        state = probe()
        if done(state):
            return state
        for worker in watch:
            if not worker.alive():
                pytest.fail(f"worker {worker.number} exited ({worker.process.returncode}) while waiting "
                            f"for {what}\nlast state: {_short(state)}\n{logs()}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\nlast state: {_short(state)}"
                        f"\n{logs()}", pytrace=False)
        time.sleep(POLL_S)


def _short(state: Any) -> str:
    text = repr(state)
    return text if len(text) < 3000 else text[:3000] + " …"


# -- the catalog ----------------------------------------------------------------------------------
def upload(services, world, stage, data: bytes, filename: str, title: str) -> dict[str, Any]:
    return ingest(services, world.school_editor, stage(data), filename, {"title": title})


def media_state(services, world, resource_id: str) -> dict[str, Any]:
    """The resource's job and its derivatives by profile, as the API shows them."""
    view = get_resource(services, world.school_editor, resource_id)
    return {"media": view["media"], "derivatives": {d["profile"]: d for d in view["derivatives"]}}


def job_row(services, job_id: int) -> MediaJob:
    with services.catalog.read() as session:
        return session.scalar(select(MediaJob).where(MediaJob.id == job_id))


def wait_for_job(services, world, resource_id: str, workers: Workers, *, watch=(),
                 timeout: float = DEADLINE_S) -> dict[str, Any]:
    """Wait until the resource's job has ended, and require it done."""
    state = wait_until(f"the media job of {resource_id} to end",
                       lambda: media_state(services, world, resource_id),
                       lambda s: s["media"]["status"] in ENDED, timeout=timeout, logs=workers.logs,
                       watch=watch)
    assert state["media"]["status"] == "done", f"{_short(state)}\n{workers.logs()}"
    return state


def assert_all_done(state: dict[str, Any], profiles: set[str]) -> None:
    derivatives = state["derivatives"]
    assert set(derivatives) == profiles, _short(state)
    for profile, d in derivatives.items():
        assert d["status"] == "done", (profile, d)
        assert d["message"] == "" and d["sha256"] and d["size"] > 0, (profile, d)
    assert state["media"]["progress"] == 1.0 and state["media"]["message"] == "", state["media"]


def assert_video_done(state: dict[str, Any], profiles: set[str], *, seconds: float, attempts: int) -> None:
    assert_all_done(state, profiles)
    assert state["media"]["kind"] == "video" and state["media"]["attempts"] == attempts, state["media"]
    rendition = state["derivatives"]["video-360p"]
    assert rendition["height"] == 360 and abs(rendition["duration"] - seconds) < 0.5, rendition
    if "video-720p" in profiles:
        assert state["derivatives"]["video-720p"]["height"] == 720


def assert_image_done(state: dict[str, Any]) -> None:
    assert_all_done(state, {"thumbnail"})
    assert state["media"]["kind"] == "image" and state["media"]["attempts"] == 1, state["media"]


def cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "repo_server.cli", *args], cwd=ROOT,
                            env=worker_env(settings, REPO_LOG_LEVEL="warning"), capture_output=True,
                            text=True, timeout=60)
    if check:
        assert result.returncode == 0, f"repo-server {' '.join(args)}: {result.returncode}\n" \
                                       f"{result.stdout}\n{result.stderr}"
    return result


def media_status(settings: Settings) -> dict[str, Any]:
    return json.loads(cli(settings, "media", "status", "--json").stdout)


def wait_running(services, world, resource_id: str, workers: Workers, worker: Worker,
                 output: str = "video-360p.mp4") -> dict[int, list[str]]:
    """Wait until the job runs and its ffmpeg writes `output`; those ffmpeg processes."""
    data_dir = services.settings.data_dir

    def probe():
        return media_state(services, world, resource_id)["media"], rendering(data_dir, output)

    _, procs = wait_until(f"the job of {resource_id} to run ffmpeg for {output}", probe,
                              lambda s: s[0]["status"] == "running" and bool(s[1]),
                              timeout=60, logs=workers.logs, watch=[worker])
    return procs


# -- 1. the embedded SQLite queue ------------------------------------------------------------------
def test_worker_makes_the_derivatives_of_uploads_from_the_sqlite_queue(
        services, world, stage, clip, workers) -> None:
    settings = services.settings
    assert settings.queue_url == ""
    services.enqueue = MediaQueue(settings, services).enqueue
    worker = workers.start(settings)
    assert f"queue {settings.queue_file}" in worker.text()

    video = upload(services, world, stage, clip(SHORT), "lesson.mp4", "一课 (video)")
    image = upload(services, world, stage, png(320, 200), "diagram.png", "示意图")
    assert video["media"]["status"] == "queued" and image["media"]["status"] == "queued"

    video_state = wait_for_job(services, world, video["id"], workers, watch=[worker])
    image_state = wait_for_job(services, world, image["id"], workers, watch=[worker])
    assert_video_done(video_state, VIDEO_360, seconds=3, attempts=1)   # no 720p from a 360p source
    assert_image_done(image_state)
    assert settings.queue_file.is_file()

    report = media_status(settings)
    assert report["counts"] == {"done": 2}, report
    assert sorted((j["resource_id"], j["kind"], j["status"]) for j in report["jobs"]) == sorted(
        [(video["id"], "video", "done"), (image["id"], "image", "done")]), report
    assert worker.alive()


# -- 2. Redis -----------------------------------------------------------------------------------
@pytest.fixture
def redis_queue(settings: Settings, workers: Workers) -> Iterator[tuple[Settings, Any, str]]:
    """(settings with REPO_QUEUE_URL, a Redis client, the queue's key in Redis); Redis is
    required: unreachable, the test fails. Every key of this catalog's queue is deleted after
    (once the workers are stopped, so that none writes one again)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed for the Redis-queue test and is not reachable at {REDIS_URL} "
                    f"({type(exc).__name__}: {exc}). Start redis-server or set REPO_TEST_REDIS_URL.",
                    pytrace=False)
    configured = dataclasses.replace(settings, queue_url=REDIS_URL)
    name = re.sub("[^A-Za-z0-9_]", "", queue_name(configured))   # as huey's RedisStorage names keys
    assert not list(client.scan_iter(match=f"*{name}*")), "another run left this catalog's queue in Redis"
    try:
        yield configured, client, f"huey.redis.{name}"
    finally:
        workers.close()
        keys = list(client.scan_iter(match=f"*{name}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_worker_makes_the_derivatives_of_uploads_from_a_redis_queue(
        services, world, stage, clip, workers, redis_queue) -> None:
    settings, client, queue_key = redis_queue
    queue = MediaQueue(settings, services)
    services.enqueue = queue.enqueue

    # Queued before any worker runs: the task waits in Redis.
    video = upload(services, world, stage, clip(SHORT), "lesson.mp4", "一课 (video)")
    assert client.llen(queue_key) == 1 and queue.pending() == 1
    worker = workers.start(settings)
    assert f"queue {REDIS_URL}" in worker.text()
    # And one while the worker waits on the queue.
    image = upload(services, world, stage, png(300, 180), "diagram.png", "示意图")

    assert_video_done(wait_for_job(services, world, video["id"], workers, watch=[worker]),
                      VIDEO_360, seconds=3, attempts=1)
    assert_image_done(wait_for_job(services, world, image["id"], workers, watch=[worker]))
    assert client.llen(queue_key) == 0
    assert not settings.queue_file.exists(), "the SQLite queue was used although REPO_QUEUE_URL is set"
    report = media_status(settings)
    assert report["counts"] == {"done": 2}, report


# -- 3. jobs queued while no worker ran -------------------------------------------------------------
def test_jobs_queued_while_no_worker_runs_are_processed_when_one_starts(
        services, world, stage, clip, workers) -> None:
    settings = services.settings
    queue = MediaQueue(settings, services)
    services.enqueue = queue.enqueue
    video = upload(services, world, stage, clip(SHORT), "lesson.mp4", "一课 (video)")
    assert job_row(services, video["media"]["id"]).enqueued_at is not None
    assert queue.pending() == 1       # persisted in the queue file, no worker yet

    def unreachable(job_ids: list[int]) -> None:
        raise ConnectionError("the queue is unreachable")

    services.enqueue = unreachable
    image = upload(services, world, stage, png(256, 160), "diagram.png", "示意图")   # still succeeds
    assert image["media"]["status"] == "queued"
    row = job_row(services, image["media"]["id"])
    assert row.status == "queued" and row.enqueued_at is None
    assert queue.pending() == 1

    worker = workers.start(settings)
    # The start-up sweep hands over the job the queue never got (and only that one: the
    # video's task is still in the queue).
    assert "1 job(s) picked up" in worker.text(), workers.logs()
    assert_video_done(wait_for_job(services, world, video["id"], workers, watch=[worker]),
                      VIDEO_360, seconds=3, attempts=1)
    assert_image_done(wait_for_job(services, world, image["id"], workers, watch=[worker]))
    assert job_row(services, image["media"]["id"]).enqueued_at is not None


# -- 4. a worker killed mid-job ---------------------------------------------------------------------
def test_job_of_a_killed_worker_is_picked_up_again_once_its_heartbeat_is_stale(
        services, world, stage, clip, workers) -> None:
    settings = services.settings
    services.enqueue = MediaQueue(settings, services).enqueue
    first = workers.start(settings)
    video = upload(services, world, stage, clip(LONG), "lecture.mp4", "一节课 (long)")
    job_id = video["media"]["id"]
    ffmpeg = wait_running(services, world, video["id"], workers, first)

    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    state = media_state(services, world, video["id"])
    assert state["media"]["status"] == "running" and state["media"]["attempts"] == 1, state["media"]
    # Whether that ffmpeg dies with its worker is test_killed_worker_leaves_no_ffmpeg_running's
    # question; here it must not slow down the next worker.
    for pid in ffmpeg:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)

    # While its last heartbeat is recent, a starting worker leaves the job alone (it may be
    # a live worker's) …
    second = workers.start(settings)
    assert "0 job(s) picked up" in second.text(), workers.logs()
    assert media_state(services, world, video["id"])["media"]["status"] == "running"
    second.process.send_signal(signal.SIGINT)
    second.process.wait(10)

    # … once it is older than STALE_AFTER, the start-up sweep hands it out again.
    stale = utcnow() - timedelta(minutes=2)
    assert utcnow() - stale > STALE_AFTER
    with services.catalog.write() as session:
        session.execute(update(MediaJob).where(MediaJob.id == job_id).values(heartbeat_at=stale))
    third = workers.start(settings)
    assert "1 job(s) picked up" in third.text(), workers.logs()
    state = wait_for_job(services, world, video["id"], workers, watch=[third])
    assert_video_done(state, VIDEO_720, seconds=LONG[2] * LONG[3], attempts=2)   # the killed run counted
    assert job_row(services, job_id).worker.endswith(f":{third.pid}")


@only_sqlite   # the process side only; the catalog side is the test above, on both backends
def test_killed_worker_leaves_no_ffmpeg_running(services, world, stage, clip, workers) -> None:
    settings = services.settings
    services.enqueue = MediaQueue(settings, services).enqueue
    worker = workers.start(settings)
    video = upload(services, world, stage, clip(HEAVY), "lecture.mp4", "一节课 (heavy)")
    # The 720p step transcodes for ~10 s (more on a busy machine): it cannot end on its own
    # within 3 s of the kill. (ffmpeg ignores SIGPIPE: a dead reader does not stop it.)
    ffmpeg = wait_running(services, world, video["id"], workers, worker, output="video-720p.mp4")
    require_transcode(ffmpeg)

    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(10)
    killed = time.monotonic()
    while any(is_alive(pid) for pid in ffmpeg) and time.monotonic() - killed < 3:
        time.sleep(POLL_S)
    left = {pid: argv for pid, argv in ffmpeg.items() if is_alive(pid)}
    print(f"ffmpeg {list(ffmpeg)} of the killed worker: {'still running' if left else 'gone'} "
          f"{time.monotonic() - killed:.1f} s after the kill")
    assert not left, f"ffmpeg of the killed worker still running 3 s later: {left}"


# -- 5. a graceful stop -------------------------------------------------------------------------------
@only_sqlite   # the worker's signal handling; one backend is enough, each run is a 720p job
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopped_worker_puts_its_running_job_back_in_the_queue(
        services, world, stage, clip, workers, signum) -> None:
    settings = services.settings
    services.enqueue = MediaQueue(settings, services).enqueue
    first = workers.start(settings)
    video = upload(services, world, stage, clip(LONG), "lecture.mp4", "一节课 (long)")
    job_id = video["media"]["id"]
    ffmpeg = wait_running(services, world, video["id"], workers, first)

    stopped = time.monotonic()
    first.process.send_signal(signum)
    try:
        first.process.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not exit within 10 s of {signum.name}\n{workers.logs()}", pytrace=False)
    took = time.monotonic() - stopped
    print(f"worker exited {took:.1f} s after {signum.name}")

    state = media_state(services, world, video["id"])
    media = state["media"]
    assert media["status"] == "queued", f"{signum.name}, exit after {took:.1f} s: {_short(state)}\n" \
                                        f"{workers.logs()}"
    assert media["attempts"] == 0, media          # refunded: the job did not fail
    assert "worker stopped" in media["message"], media
    print("after the stop:", {p: (d["status"], d["message"]) for p, d in state["derivatives"].items()})
    assert not [p for p, d in state["derivatives"].items() if d["status"] in ("running", "cancelled")], \
        state                                     # the interrupted step waits for the next worker
    assert not [pid for pid in ffmpeg if is_alive(pid)], f"its ffmpeg still runs: {ffmpeg}"

    second = workers.start(settings)
    state = wait_for_job(services, world, video["id"], workers, watch=[second])
    assert_video_done(state, VIDEO_720, seconds=LONG[2] * LONG[3], attempts=1)
    assert job_row(services, job_id).worker.endswith(f":{second.pid}")


# -- 6. cancel ---------------------------------------------------------------------------------------
@only_sqlite   # the default deployment; the heartbeat and stop paths run on PostgreSQL in test 4
def test_cancel_stops_the_running_job_and_the_worker_goes_on(
        services, world, stage, clip, workers) -> None:
    settings = services.settings
    services.enqueue = MediaQueue(settings, services).enqueue
    worker = workers.start(settings)
    video = upload(services, world, stage, clip(HEAVIER), "lecture.mp4", "一节课 (heavier)")
    job_id = video["media"]["id"]
    # A cancellation is noticed within CANCEL_CHECK_S, then ffmpeg is stopped within half a
    # second: the 720p step (15+ s) is still running by then. (Loaded CI machines: + 2 s.)
    ffmpeg = wait_running(services, world, video["id"], workers, worker, output="video-720p.mp4")
    require_transcode(ffmpeg)

    result = cli(settings, "media", "cancel", str(job_id))
    assert f"cancelled job {job_id}" in result.stdout
    cancelled = time.monotonic()

    def probe():
        return media_state(services, world, video["id"]), [pid for pid in ffmpeg if is_alive(pid)]

    wait_until("the cancelled job's ffmpeg to stop", probe,
               lambda s: s[0]["media"]["status"] == "cancelled" and not s[1],
               timeout=CANCEL_CHECK_S + 2.5, logs=workers.logs, watch=[worker])
    print(f"cancelled job's ffmpeg gone {time.monotonic() - cancelled:.1f} s after the CLI returned")
    # Settled: the worker's own bookkeeping after the stop must not undo the cancellation.
    wait_until("the worker to log the cancellation", worker.text,
               lambda text: f"media job {job_id}: cancelled" in text, timeout=10, logs=workers.logs,
               watch=[worker])
    state = media_state(services, world, video["id"])
    assert state["media"]["status"] == "cancelled", state
    derivatives = state["derivatives"]
    assert derivatives["video-720p"]["status"] == "cancelled", derivatives
    assert {derivatives[p]["status"] for p in VIDEO_360} == {"done"}, derivatives   # made before
    assert not [p for p, d in derivatives.items() if d["status"] in ("queued", "running")], derivatives
    assert cli(settings, "media", "cancel", str(job_id), check=False).returncode == 1   # already ended

    assert worker.alive()
    image = upload(services, world, stage, png(200, 120), "after.png", "取消之后")
    assert_image_done(wait_for_job(services, world, image["id"], workers, watch=[worker]))


# -- 7. the worker embedded in `repo-server serve` ------------------------------------------------------
def _serve_master(port: int) -> int:
    """The `repo-server serve` process this test session started on `port` (gunicorn's master)."""
    found = [pid for pid, (state, ppid, argv) in _proc_table().items()
             if ppid == os.getpid() and state != "Z" and "serve" in argv and str(port) in argv
             and "repo_server.cli" in argv]
    assert len(found) == 1, found
    return found[0]


def _embedded_worker(master: int) -> list[int]:
    return [pid for pid, (state, ppid, argv) in _proc_table().items()
            if state != "Z" and "worker" in argv and "--exit-with" in argv and str(master) in argv]


@pytest.mark.server_env(REPO_EMBEDDED_WORKER="true")   # live_server turns it off by default
def test_serve_runs_an_embedded_worker_that_stops_with_the_server(
        services, world, live_server) -> None:
    master = _serve_master(live_server.port)
    embedded = _embedded_worker(master)
    assert len(embedded) == 1, embedded
    worker_pid = embedded[0]
    environ = Path(f"/proc/{worker_pid}/environ").read_bytes().split(b"\0")
    assert f"REPO_DATA_DIR={services.settings.data_dir}".encode() in environ

    def logs() -> str:
        return f"--- {live_server.log} ---\n{live_server.log.read_text(errors='replace')[-6000:]}"

    headers = {"Authorization": f"Bearer {world.tokens['school_editor']}"}
    response = requests.post(live_server.url + "/api/v1/resources", headers=headers, timeout=30,
                             files={"file": ("diagram.png", png(240, 150))}, data={"title": "示意图"})
    assert response.status_code == 201, response.text
    resource_id = response.json()["id"]

    def probe() -> dict[str, Any]:
        return requests.get(f"{live_server.url}/api/v1/resources/{resource_id}", headers=headers,
                            timeout=10).json()

    view = wait_until("the embedded worker to make the thumbnail", probe,
                      lambda v: v["media"]["status"] in ENDED, timeout=60, logs=logs)
    assert view["media"]["status"] == "done", view
    assert [(d["profile"], d["status"]) for d in view["derivatives"]] == [("thumbnail", "done")], view

    # Stop the server as the fixture would (SIGTERM to gunicorn's master): its worker must go too.
    os.kill(master, signal.SIGTERM)
    try:
        wait_until("the embedded worker to exit with the server", lambda: is_alive(worker_pid),
                   lambda alive: not alive, timeout=20, logs=logs)
        wait_until("the server to exit", lambda: is_alive(master), lambda alive: not alive,
                   timeout=40, logs=logs)
        assert not _embedded_worker(master)
    finally:   # a worker that outlived its server: stop it here, it was found out above
        if is_alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


@only_sqlite   # no catalog involved
@pytest.mark.server_env(REPO_EMBEDDED_WORKER="false")
def test_serve_starts_no_worker_when_the_embedded_worker_is_off(live_server) -> None:
    master = _serve_master(live_server.port)
    assert not _embedded_worker(master)
    assert not [argv for pid, (state, ppid, argv) in _proc_table().items()
                if ppid == master and state != "Z" and "worker" in argv]


@only_sqlite   # no catalog involved
@pytest.mark.server_env(REPO_EMBEDDED_WORKER="true")
def test_embedded_worker_exits_when_the_server_dies_without_stopping_it(live_server) -> None:
    master = _serve_master(live_server.port)
    embedded = _embedded_worker(master)
    assert len(embedded) == 1, embedded
    web_workers = [pid for pid, (_, ppid, _) in _proc_table().items() if ppid == master
                   and pid not in embedded]

    def logs() -> str:
        return f"--- {live_server.log} ---\n{live_server.log.read_text(errors='replace')[-6000:]}"

    os.kill(master, signal.SIGKILL)      # no atexit: only --exit-with can stop the worker
    killed = time.monotonic()
    try:
        wait_until("the embedded worker to notice its server is gone", lambda: is_alive(embedded[0]),
                   lambda alive: not alive, timeout=20, logs=logs)
        print(f"embedded worker gone {time.monotonic() - killed:.1f} s after the server was killed")
        wait_until("gunicorn's web worker to exit", lambda: [p for p in web_workers if is_alive(p)],
                   lambda alive: not alive, timeout=20, logs=logs)
    finally:   # whatever this server started and left behind
        for pid in [*embedded, *web_workers]:
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- a stop signal while the consumer starts ---------------------------------------------------------
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_stop_signal_before_the_consumer_is_ready_stops_it_once_it_is(services) -> None:
    """Huey starts its threads before installing its signal handlers: a SIGINT in between used
    to raise KeyboardInterrupt in the main thread and leave the process hanging on the
    non-daemon threads (seen as an embedded worker outliving its killed server). Now the signal
    is kept and handled once the handlers are in place: run() stops gracefully and returns."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        consumer = MediaQueue(services.settings, services).consumer(1)
        try:
            os.kill(os.getpid(), signal.SIGINT)  # arrives before start()
            time.sleep(0.05)
        except KeyboardInterrupt:
            pytest.fail("a SIGINT before the consumer's handlers raised KeyboardInterrupt")
        consumer.run()                           # returns: the kept signal stopped it
        assert not [t for _, t in consumer.worker_threads if t.is_alive()]
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_an_orphaned_worker_with_sigint_ignored_still_exits(services, tmp_path: Path) -> None:
    """The embedded worker's parent is gone before the worker is ready, and SIGINT arrives
    ignored (a disposition inherited from whatever started the server: pytest-xdist's workers
    ignore it). --exit-with waits until the consumer handles stop signals, so its SIGINT is
    not lost and the worker exits instead of running on as an orphan."""
    log = tmp_path / "orphan.log"
    script = (f"{shlex.quote(sys.executable)} -m repo_server.cli worker --exit-with $$ "
              f">{shlex.quote(str(log))} 2>&1 </dev/null & echo $!")

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    shell = subprocess.run(["sh", "-c", script], env=worker_env(services.settings), cwd=ROOT,
                           capture_output=True, text=True, timeout=30, preexec_fn=ignore_sigint)
    pid = int(shell.stdout.strip())      # the shell (the worker's parent) has exited already
    try:
        wait_until("the orphaned worker to exit", lambda: is_alive(pid), lambda alive: not alive,
                   timeout=60, logs=lambda: log.read_text(errors="replace"))
        assert "media worker: queue" in log.read_text()      # it did start, then stopped
    finally:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)
