"""Running one media job: from the source blob to stored derivatives, step by step.

A job is a list of steps, one per derivative profile, made in the order that lets a teacher
preview soonest (poster and 360p before the storyboard and 720p). Each step either stores
its output or records why it failed, and the job goes on with the next: a video whose
storyboard fails still plays. A step that failed for good (a damaged file) never fails the
original's download; a transient failure (a timeout, a killed process, a full disk) stops
the job and sends it back to the queue for a later attempt, keeping what is already made.

While a job runs, a heartbeat thread records its progress every few seconds and notices a
cancellation within a second; the running ffmpeg is then stopped within half a second more.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from repo_server.ingest.extract.legacy import convert_with_libreoffice
from repo_server.ingest.extract.result import ExtractionFailed
from repo_server.transcode import Cancelled, MediaError
from repo_server.transcode import video as argv
from repo_server.transcode.ebook import epub_contents, epub_cover
from repo_server.transcode.images import image_format, thumbnail
from repo_server.transcode.pages import render_pages
from repo_server.transcode.probe import MediaInfo, probe
from repo_server.transcode.profiles import video_profiles_for
from repo_server.transcode.runner import run

from .context import Services
from .derivatives import Output, done_profiles, drop_derivative, set_state, store_output
from .media_jobs import (HEARTBEAT_S, MAX_ATTEMPTS, ClaimedJob, claim_job, finish_job, heartbeat,
                         requeue_later, retry_delay, still_running)
from .blob_files import local_copy

__all__ = ["run_job", "JobOutcome", "MAX_VIDEO_PIXELS"]

log = logging.getLogger(__name__)

MAX_VIDEO_PIXELS = 7680 * 4320     # 8K; larger pictures are refused, not ground through for hours
CANCEL_CHECK_S = 1.0
_BASE_TIMEOUT_S = 300


@dataclass(frozen=True)
class JobOutcome:
    status: str                 # done, failed, retry (after `delay_s`), cancelled, skipped
    message: str = ""
    delay_s: int = 0


class _Job:
    """A claimed job at work: its scratch directory, its steps' progress, its stop signal."""

    def __init__(self, svc: Services, claimed: ClaimedJob, work: Path,
                 shutdown: threading.Event | None) -> None:
        self.svc, self.claimed, self.work = svc, claimed, work
        self.stop = threading.Event()
        self.shutdown = shutdown or threading.Event()
        self.done = done_profiles(svc, claimed.source_sha256)
        self.failures: dict[str, str] = {}   # profile → why it failed
        self.ended: set[str] = set()     # planned steps that reached done, failed or cancelled
        self._weights: dict[str, float] = {}
        self._finished = 0.0
        self._current = (0.0, 0.0)   # (weight of the running step, its fraction done)
        self.beaten = time.monotonic()  # last heartbeat (claiming counts as one)

    # -- progress --------------------------------------------------------------------------
    def plan(self, weights: dict[str, float]) -> None:
        """The steps this job will run, weighted by their expected cost; all queued."""
        self._weights = {p: w for p, w in weights.items() if p not in self.done}
        for profile in self._weights:
            set_state(self.svc, self.claimed.source_sha256, profile, "queued")

    @property
    def progress(self) -> float:
        total = sum(self._weights.values()) or 1.0
        weight, fraction = self._current
        return min((self._finished + weight * fraction) / total, 1.0)

    def on_progress(self, fraction: float) -> None:
        self._current = (self._current[0], fraction)

    # -- steps -----------------------------------------------------------------------------
    def step(self, profile: str, make: Callable[[], Output | None]) -> Output | None:
        """Run one planned step; its output, or None when skipped, failed for good, or when
        there was nothing to make (`make` returned None: an e-book without a cover)."""
        if profile not in self._weights:
            return None
        if self.stop.is_set():
            raise Cancelled()
        sha = self.claimed.source_sha256
        self._current = (self._weights[profile], 0.0)
        set_state(self.svc, sha, profile, "running")
        try:
            output = make()
            if self.stop.is_set():       # cancelled while the last bytes were written
                raise Cancelled()
        except MediaError as exc:
            if exc.transient or (isinstance(exc, Cancelled) and self.shutdown.is_set()):
                set_state(self.svc, sha, profile, "queued", exc.message if exc.transient else "")
                raise
            if isinstance(exc, Cancelled):
                set_state(self.svc, sha, profile, "cancelled", exc.message)
                raise
            self.fail(profile, exc.message)
            return None
        finally:
            self._finished += self._current[0]
            self._current = (0.0, 0.0)
        if output is None:
            self.skip(profile)
            return None
        store_output(self.svc, sha, profile, output)
        self.ended.add(profile)
        return output

    def skip(self, profile: str) -> None:
        """A planned step that turned out not to apply."""
        drop_derivative(self.svc, self.claimed.source_sha256, profile)
        self.ended.add(profile)

    def fail(self, profile: str, message: str) -> None:
        set_state(self.svc, self.claimed.source_sha256, profile, "failed", message)
        self.failures[profile] = message
        self.ended.add(profile)

    def fail_rest(self, message: str) -> None:
        """The job cannot go on (the file is unreadable): every step not yet ended fails."""
        for profile in sorted(self._weights.keys() - self.ended):
            self.fail(profile, message)

    @property
    def message(self) -> str:
        """What failed and why, each reason once: "pages, thumbnail: the PDF is damaged"."""
        by_reason: dict[str, list[str]] = {}
        for profile, reason in self.failures.items():
            by_reason.setdefault(reason, []).append(profile)
        return "; ".join(f"{', '.join(profiles)}: {reason}" if all(profiles) else reason
                         for reason, profiles in by_reason.items())

    def ffmpeg(self, command: list[str], expected_s: float) -> None:
        """Run an ffmpeg argv within the video's time budget; MediaError on failure."""
        timeout = _BASE_TIMEOUT_S + self.svc.settings.media_timeout_factor * expected_s
        result = run(command, timeout_s=timeout, total_s=expected_s, on_progress=self.on_progress,
                     stop=self.stop)
        if result.returncode != 0:
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise MediaError(f"ffmpeg could not convert the file ({lines[-1] if lines else 'no details'})")


# -- the kinds of job ---------------------------------------------------------------------------

def _probe_output(path: Path, expected_s: float) -> MediaInfo:
    """Check a rendition really holds the whole input (ffmpeg exits 0 on truncated input)."""
    info = probe(path)
    if not argv.duration_matches(expected_s, info.duration):
        raise MediaError(f"the result lasts {info.duration:.1f} s but the upload {expected_s:.1f} s: "
                         "the file is truncated or damaged")
    return info


def _av_job(job: _Job, src: Path) -> None:
    info = probe(src)
    if info.video is None:
        job.plan({"audio": 1.0})
        job.step("audio", lambda: _audio(job, src, info))
        return
    width, height = info.video.display_size
    if width * height > MAX_VIDEO_PIXELS:
        raise MediaError(f"the picture is {width}×{height}, larger than 8K: no renditions are made")
    profiles = video_profiles_for(info)
    job.plan({"poster": 0.02, "thumbnail": 0.01, **{p.name: 1.0 * p.height / 360 for p in profiles},
              "storyboard": 0.15})
    poster = job.step("poster", lambda: _poster(job, src, info))
    job.step("thumbnail", lambda: _thumbnail(job, poster.path if poster else _poster(job, src, info).path))
    job.step(profiles[0].name, lambda: _rendition(job, src, info, profiles[0]))
    job.step("storyboard", lambda: _storyboard(job, src, info))
    for profile in profiles[1:]:
        job.step(profile.name, lambda profile=profile: _rendition(job, src, info, profile))


def _rendition(job: _Job, src: Path, info: MediaInfo, profile) -> Output:
    dst = job.work / f"{profile.name}.mp4"
    remux = argv.can_remux(info, profile)
    job.ffmpeg(argv.remux_argv(src, dst, info, profile) if remux else argv.rendition_argv(src, dst, info, profile),
               info.duration)
    out = _probe_output(dst, info.duration)
    meta = {"duration": round(out.duration, 3), "bit_rate": out.bit_rate, "remuxed": remux}
    if out.video is not None:
        meta["width"], meta["height"] = out.video.display_size
    return Output(dst, "video/mp4", meta)


def _audio(job: _Job, src: Path, info: MediaInfo) -> Output:
    dst = job.work / "audio.m4a"
    job.ffmpeg(argv.audio_argv(src, dst), info.duration)
    out = _probe_output(dst, info.duration)
    return Output(dst, "audio/mp4", {"duration": round(out.duration, 3), "bit_rate": out.bit_rate})


def _poster(job: _Job, src: Path, info: MediaInfo) -> Output:
    dst = job.work / "poster.jpg"
    job.ffmpeg(argv.poster_argv(src, dst, info), 10.0)
    if not dst.is_file() or dst.stat().st_size == 0:
        raise MediaError("no frame could be read at 10 % of the video")
    return Output(dst, "image/jpeg", {"at": argv.poster_time(info)})


def _storyboard(job: _Job, src: Path, info: MediaInfo) -> Output:
    plan = argv.storyboard_plan(info)
    dst = job.work / "storyboard.jpg"
    job.ffmpeg(argv.storyboard_argv(src, dst, plan), info.duration)
    if not dst.is_file() or dst.stat().st_size == 0:
        raise MediaError("the video's frames could not be read for the seek preview")
    return Output(dst, "image/jpeg", plan.as_meta())


def _thumbnail(job: _Job, src: Path) -> Output:
    path, (width, height) = thumbnail(src, job.work / "thumbnail")
    return Output(path, image_format()[2], {"width": width, "height": height})


def _pdf_pages(job: _Job, pdf: Path) -> None:
    """Page images, and the first page as thumbnail."""
    rendered = job.step("pages", lambda: _pages(pdf, job.work / "pages"))
    if "pages" in job.failures:       # the same reason stops the thumbnail: do not try twice
        job.fail("thumbnail", job.failures["pages"])
        return
    job.step("thumbnail", lambda: _thumbnail(job, rendered.pages[0] if rendered else
                                             _pages(pdf, job.work / "first", max_pages=1).pages[0]))


def _pages(pdf: Path, out: Path, max_pages: int | None = None) -> Output:
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_pages(pdf, out, **({"max_pages": max_pages} if max_pages else {}))
    return Output(None, image_format()[2], {"page_count": rendered.page_count,
                                            "rendered": len(rendered.images)}, pages=rendered.images)


def _pdf_job(job: _Job, src: Path) -> None:
    job.plan({"pages": 1.0, "thumbnail": 0.05})
    _pdf_pages(job, src)


def _office_job(job: _Job, src: Path) -> None:
    job.plan({"pages": 1.0, "thumbnail": 0.05})
    settings = job.svc.settings
    try:
        with convert_with_libreoffice(src, source_suffix=job.claimed.source_suffix or "bin", target="pdf",
                                      timeout_s=settings.extract_timeout, soffice=settings.soffice) as pdf:
            _pdf_pages(job, pdf)
    except ExtractionFailed as exc:
        missing = "not installed" in str(exc)    # installing LibreOffice fixes it: retry later
        raise MediaError(f"page previews: {exc}", transient=missing) from None


def _image_job(job: _Job, src: Path) -> None:
    job.plan({"thumbnail": 1.0})
    job.step("thumbnail", lambda: _thumbnail(job, src))


def _epub_job(job: _Job, src: Path) -> None:
    job.plan({"cover": 0.5, "thumbnail": 0.2, "contents": 0.3})

    def cover() -> Output | None:
        path = epub_cover(src, job.work / "cover")
        return Output(path, image_format()[2]) if path is not None else None

    made = job.step("cover", cover)
    if made is not None or "cover" in job.done:
        job.step("thumbnail", lambda: _thumbnail(job, made.path if made else cover().path))
    else:
        job.skip("thumbnail")    # no cover, nothing to show
    job.step("contents", lambda: Output(None, meta={"entries": [
        {"title": e.title, "level": e.level} for e in epub_contents(src)]}))


_KINDS: dict[str, Callable[[_Job, Path], None]] = {
    "video": _av_job, "audio": _av_job, "pdf": _pdf_job, "office": _office_job,
    "image": _image_job, "epub": _epub_job,
}


# -- the job as a whole ------------------------------------------------------------------------

def _beat(job: _Job, finished: threading.Event) -> None:
    """Every CANCEL_CHECK_S: stop when the worker shuts down or the job was cancelled (one
    cheap read); every HEARTBEAT_S: record that the job is alive, and its progress."""
    while not finished.wait(CANCEL_CHECK_S):
        if job.shutdown.is_set():
            job.stop.set()
        try:
            if time.monotonic() - job.beaten >= HEARTBEAT_S:
                job.beaten = time.monotonic()
                alive = heartbeat(job.svc, job.claimed.id, job.progress)
            else:
                alive = still_running(job.svc, job.claimed.id)
        except Exception:  # a catalog hiccup: the next round tries again
            log.exception("media job %s: heartbeat failed", job.claimed.id)
            continue
        if not alive:
            job.stop.set()  # cancelled, or taken over by another worker
            return


def run_job(svc: Services, job_id: int, shutdown: threading.Event | None = None) -> JobOutcome:
    """Claim and run one job to its end; the outcome tells the queue what to do next. Setting
    `shutdown` (the worker is stopping) stops the job within a second and queues it again."""
    claimed = claim_job(svc, job_id)
    if claimed is None:
        return JobOutcome("skipped", "not queued (already done, cancelled or running elsewhere)")
    svc.staging.directory.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="media-", dir=svc.staging.directory))
    job, finished = _Job(svc, claimed, work, shutdown), threading.Event()
    beat = threading.Thread(target=_beat, args=(job, finished), name=f"media-beat-{job_id}", daemon=True)
    beat.start()
    try:
        with local_copy(svc, claimed.source_sha256) as src:
            _KINDS[claimed.kind](job, src)
    except Cancelled:
        if job.shutdown.is_set():
            requeue_later(svc, job_id, "the worker stopped; the job starts again with the next one",
                          refund=True)
            return JobOutcome("retry", "worker stopped", 0)
        return JobOutcome("cancelled", "cancelled")
    except MediaError as exc:
        if exc.transient and claimed.attempts < MAX_ATTEMPTS:
            delay = retry_delay(claimed.attempts)
            requeue_later(svc, job_id, f"{exc.message} (attempt {claimed.attempts} of {MAX_ATTEMPTS}; "
                                       f"trying again in {delay // 60} min)")
            return JobOutcome("retry", exc.message, delay)
        job.fail_rest(exc.message)
        if exc.message not in job.failures.values():  # it failed before any step was planned
            job.failures[""] = exc.message
    except OSError as exc:  # a full disk, a vanished scratch directory: worth another try
        reason = f"could not write the results ({exc.strerror or exc})"
        if claimed.attempts < MAX_ATTEMPTS:
            requeue_later(svc, job_id, reason)
            return JobOutcome("retry", reason, retry_delay(claimed.attempts))
        job.fail_rest(reason)
    except Exception as exc:  # a bug: recorded on the job, the worker goes on with the next
        log.exception("media job %s failed", job_id)
        job.fail_rest(f"internal error: {type(exc).__name__}: {exc}")
    finally:
        finished.set()
        beat.join(HEARTBEAT_S + 1)
        shutil.rmtree(work, ignore_errors=True)
    if job.stop.is_set() and not job.shutdown.is_set():
        return JobOutcome("cancelled", "cancelled")   # its last step ended as it was cancelled
    if job.failures:
        finish_job(svc, job_id, "failed", job.message)
        return JobOutcome("failed", job.message)
    finish_job(svc, job_id, "done")
    return JobOutcome("done")
