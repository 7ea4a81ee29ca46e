"""The media pipeline as a service: uploads queue one job per content, `run_job` makes the
derivatives with real ffmpeg, LibreOffice, pdfium and Pillow, and bad input ends in a
failed state with a message while the original stays downloadable."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import Derivative, DerivativePage, MediaJob
from repo_server.errors import EmptyFile
from repo_server.services import Services
from repo_server.services.consistency import check_consistency
from repo_server.services.downloads import download_target
from repo_server.services.media_jobs import (MAX_ATTEMPTS, cancel_job, claim_job, jobs_to_enqueue,
                                             rebuild_jobs, retry_jobs)
from repo_server.services.media_work import run_job
from repo_server.services.resources import get_resource, ingest

SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def clip(path: Path, *, size: str = "1280x720", seconds: float = 3, audio: bool = True,
         extra: tuple[str, ...] = ()) -> Path:
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    subprocess.run([*argv, *extra, "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


def upload(services, world, path_or_bytes, name: str, **fields) -> dict:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    staged = services.staging.new()
    staged.write(data)
    return ingest(services, world.school_editor, staged, name, {"title": name, **fields})


def process(services, world, view: dict) -> dict:
    """Run the resource's job in-process; the resource as the API shows it afterwards."""
    assert view["media"] is not None, "no media job was queued"
    run_job(services, view["media"]["id"])
    return get_resource(services, world.school_editor, view["id"])


def derivatives(view: dict) -> dict[str, dict]:
    return {d["profile"]: d for d in view["derivatives"]}


def probe(services, sha256: str) -> dict:
    with services.blobs.open(sha256) as stream:
        data = stream.read()
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          "-"], input=data, capture_output=True, check=True, timeout=60).stdout
    return json.loads(out) | {"_bytes": data}


def assert_original_downloadable(services, world, view: dict, data: bytes) -> None:
    target = download_target(services, world.teacher, view["id"])
    with services.blobs.open(target.sha256) as stream:
        assert stream.read() == data


# -- queuing ---------------------------------------------------------------------------------------

def test_uploads_queue_one_job_per_content_in_the_upload_transaction(services, world, corpus) -> None:
    pdf = upload(services, world, corpus("multilang.pdf"), "多语言.pdf")
    assert pdf["media"]["status"] == "queued" and pdf["media"]["kind"] == "pdf"
    assert pdf["derivatives"] == []
    again = ingest(services, world.school_editor, _staged(services, corpus("multilang.pdf").read_bytes()),
                   "另一课.pdf", {"title": "另一课"}, allow_duplicate=True)
    assert again["media"]["id"] == pdf["media"]["id"]         # same bytes share one job
    text = upload(services, world, "教学反思：第一课".encode(), "反思.txt")
    assert text["media"] is None                              # nothing to preview beyond the text
    kinds = {name: upload(services, world, corpus(name), name)["media"]["kind"]
             for name in ("hopper.png", "52244.ppt", "lemo.epub", "testMP4AudioOnly.mp4")}
    # An .mp4 is a video container whatever it holds: the job's probe finds it is only sound.
    assert kinds == {"hopper.png": "image", "52244.ppt": "office", "lemo.epub": "epub",
                     "testMP4AudioOnly.mp4": "video"}
    with services.catalog.read() as session:
        assert session.scalar(select(func.count()).select_from(MediaJob)) == 5


def _staged(services, data: bytes):
    staged = services.staging.new()
    staged.write(data)
    return staged


def test_a_failing_queue_never_fails_the_upload(services, world, corpus) -> None:
    def unreachable(job_ids):
        raise ConnectionError("redis is down")

    services.enqueue = unreachable
    view = upload(services, world, corpus("hopper.png"), "hopper.png")
    assert view["id"] and view["media"]["status"] == "queued"
    # never handed over: the worker's sweep finds it
    assert jobs_to_enqueue(services, queue_is_empty=False) == [view["media"]["id"]]


def test_empty_files_are_refused_before_any_job(services, world) -> None:
    with pytest.raises(EmptyFile):
        upload(services, world, b"", "空.mp4")
    with services.catalog.read() as session:
        assert session.scalar(select(func.count()).select_from(MediaJob)) == 0


# -- video and audio -----------------------------------------------------------------------------

def test_a_720p_video_gets_poster_thumbnail_360p_720p_and_storyboard(services, world, tmp_path) -> None:
    # above the 720p bitrate cap, so both renditions are encoded (remuxing: tests/transcode)
    source = clip(tmp_path / "勾股定理.mp4", seconds=3, extra=("-c:v", "libx264", "-b:v", "4000k"))
    view = process(services, world, upload(services, world, source, "勾股定理.mp4"))
    made = derivatives(view)
    assert view["media"]["status"] == "done" and view["media"]["progress"] == 1.0
    assert set(made) == {"poster", "thumbnail", "video-360p", "storyboard", "video-720p"}
    assert all(d["status"] == "done" and d["message"] == "" for d in made.values())
    for profile, height in (("video-360p", 360), ("video-720p", 720)):
        facts = probe(services, made[profile]["sha256"])
        video = next(s for s in facts["streams"] if s["codec_type"] == "video")
        audio = next(s for s in facts["streams"] if s["codec_type"] == "audio")
        assert (video["codec_name"], video["height"], audio["codec_name"]) == ("h264", height, "aac")
        assert (audio["channels"], audio["sample_rate"]) == (2, "48000")
        assert abs(float(facts["format"]["duration"]) - 3) < 0.5
        data = facts["_bytes"]
        assert data.index(b"moov") < data.index(b"mdat")       # +faststart: plays while loading
        assert made[profile]["mime"] == "video/mp4" and made[profile]["size"] == len(data)
        assert made[profile]["height"] == height and not made[profile]["remuxed"]
    assert made["poster"]["mime"] == "image/jpeg" and made["poster"]["at"] == pytest.approx(0.3)
    assert made["thumbnail"]["width"] == 480
    assert (made["storyboard"]["tiles"], made["storyboard"]["interval"]) == (3, 1.0)
    assert check_consistency(services).ok


def test_a_360p_source_gets_no_720p_and_no_audio_stays_silent(services, world, tmp_path) -> None:
    source = clip(tmp_path / "无声.mp4", size="640x360", seconds=2, audio=False)
    made = derivatives(process(services, world, upload(services, world, source, "无声.mp4")))
    assert "video-720p" not in made and made["video-360p"]["status"] == "done"
    facts = probe(services, made["video-360p"]["sha256"])
    assert [s["codec_type"] for s in facts["streams"]] == ["video"]


def test_audio_only_uploads_get_an_aac_rendition(services, world, corpus) -> None:
    view = process(services, world, upload(services, world, corpus("testMP4AudioOnly.mp4"), "朗读.mp4"))
    made = derivatives(view)
    assert set(made) == {"audio"} and made["audio"]["mime"] == "audio/mp4"
    facts = probe(services, made["audio"]["sha256"])
    assert [s["codec_name"] for s in facts["streams"]] == ["aac"]


@SQLITE_ONLY
@pytest.mark.parametrize("name", ["testFLV.flv", "testWMV.wmv", "testMKV.mkv", "testWEBM.webm",
                                  "sample.mov", "stub_mjpeg.avi"])
def test_the_containers_schools_have_become_playable(services, world, corpus, name) -> None:
    view = process(services, world, upload(services, world, corpus(name), name))
    made = derivatives(view)
    assert view["media"]["status"] == "done", view["media"]["message"]
    assert made["video-360p"]["status"] == "done" and made["video-360p"]["mime"] == "video/mp4"


@SQLITE_ONLY
def test_interlaced_mpeg_becomes_progressive_360p(services, world, tmp_path) -> None:
    source = clip(tmp_path / "电视录像.mpg", size="720x576", seconds=2,
                  extra=("-c:v", "mpeg2video", "-b:v", "4000k", "-flags", "+ilme+ildct", "-top", "1",
                         "-c:a", "mp2"))
    view = process(services, world, upload(services, world, source, "电视录像.mpg"))
    assert view["media"]["status"] == "done", view["media"]["message"]
    facts = probe(services, derivatives(view)["video-360p"]["sha256"])
    video = next(s for s in facts["streams"] if s["codec_type"] == "video")
    assert video["height"] == 360 and video.get("field_order", "progressive") == "progressive"


def test_chinese_fonts_are_installed_so_slides_do_not_render_as_boxes() -> None:
    families = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                              timeout=30).stdout
    assert families.strip(), ("no font covers Chinese: LibreOffice would draw boxes in page previews "
                              "(apt-get install fonts-noto-cjk; scripts/bootstrap does it)")


@SQLITE_ONLY
def test_the_content_decides_not_the_extension(services, world, tmp_path) -> None:
    source = clip(tmp_path / "real.mp4", size="640x360", seconds=2)
    view = process(services, world, upload(services, world, source, "其实是MP4.avi"))
    assert view["mime"] == "video/mp4" and view["media"]["status"] == "done"
    assert derivatives(view)["video-360p"]["status"] == "done"


@SQLITE_ONLY
def test_a_truncated_video_fails_with_a_message_and_stays_downloadable(services, world, tmp_path) -> None:
    source = clip(tmp_path / "full.mp4", size="640x360", seconds=6, extra=("-movflags", "+faststart"))
    data = source.read_bytes()[: int(source.stat().st_size * 0.5)]   # the index says 6 s, half is there
    view = process(services, world, upload(services, world, data, "断了的视频.mp4"))
    made = derivatives(view)
    assert view["media"]["status"] == "failed"
    assert made["video-360p"]["status"] == "failed"
    assert "truncated or damaged" in made["video-360p"]["message"]
    assert "video-360p" in view["media"]["message"]
    assert_original_downloadable(services, world, view, data)


@SQLITE_ONLY
def test_unreadable_and_oversized_videos_fail_clearly(services, world, corpus, tmp_path) -> None:
    broken = process(services, world, upload(services, world, corpus("Matroska.mkv"), "坏.mkv"))
    assert broken["media"]["status"] == "failed"
    assert broken["media"]["message"].startswith("not a readable video or audio file")
    assert broken["derivatives"] == []
    huge = clip(tmp_path / "huge.avi", size="7700x4400", seconds=0.2, audio=False,
                extra=("-c:v", "mjpeg", "-q:v", "31"))
    view = process(services, world, upload(services, world, huge, "超大.avi"))
    assert view["media"]["status"] == "failed" and "larger than 8K" in view["media"]["message"]
    assert_original_downloadable(services, world, view, huge.read_bytes())


# -- documents, images, e-books ---------------------------------------------------------------------

def test_a_pdf_gets_page_images_a_page_count_and_a_thumbnail(services, world, corpus) -> None:
    view = process(services, world, upload(services, world, corpus("issue19360.pdf"), "试卷.pdf"))
    made = derivatives(view)
    assert view["media"]["status"] == "done"
    assert made["pages"]["page_count"] == made["pages"]["pages"] == made["pages"]["rendered"] >= 1
    assert made["pages"]["mime"] in ("image/webp", "image/png")
    assert made["thumbnail"]["height"] == 480
    with services.catalog.read() as session:
        pages = session.scalars(select(DerivativePage).join(Derivative)
                                .where(Derivative.profile == "pages")).all()
    assert len(pages) == made["pages"]["pages"] and services.blobs.exists(pages[0].blob_sha256)
    assert check_consistency(services).ok and not check_consistency(services).unreferenced


@SQLITE_ONLY
def test_office_files_are_rendered_through_libreoffice(services, world, corpus) -> None:
    view = process(services, world, upload(services, world, corpus("52244.ppt"), "课件.ppt"))
    made = derivatives(view)
    assert view["media"]["status"] == "done", view["media"]["message"]
    assert made["pages"]["page_count"] >= 1 and made["thumbnail"]["status"] == "done"


@SQLITE_ONLY
def test_macros_are_never_run_and_the_document_still_renders(services, world, corpus, tmp_path) -> None:
    docm = tmp_path / "带宏.docm"
    with zipfile.ZipFile(corpus("stress009.docx")) as source, zipfile.ZipFile(docm, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"wordprocessingml.document.main+xml",
                                    b"ms-word.document.macroEnabled.main+xml")
            out.writestr(item, data)
        out.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0" + os.urandom(2048))
    view = process(services, world, upload(services, world, docm, "带宏.docm"))
    assert view["media"]["status"] == "done", view["media"]["message"]
    assert derivatives(view)["pages"]["page_count"] >= 1


@SQLITE_ONLY
def test_a_document_that_hangs_libreoffice_fails_within_its_time_budget(services, world, corpus) -> None:
    slow = Services(settings=replace(services.settings, extract_timeout=1), catalog=services.catalog,
                    blobs=services.blobs, staging=services.staging)
    view = upload(services, world, corpus("stress009.docx"), "很慢.docx")
    started = time.monotonic()
    run_job(slow, view["media"]["id"])
    view = get_resource(services, world.school_editor, view["id"])
    assert time.monotonic() - started < 30
    assert view["media"]["status"] == "failed"
    assert "did not finish within 1 s" in view["media"]["message"]
    assert {d["status"] for d in view["derivatives"]} == {"failed"}


@SQLITE_ONLY
@pytest.mark.parametrize("name, expected", [
    ("libreoffice-writer-password.pdf", "password-protected"),
    ("REDHAT-1531897-0.pdf", "cannot be read"),
    ("testWORD_protected_passtika.docx", "LibreOffice could not open the file"),
    ("decompression_bomb.gif", "decompression bomb"),
])
def test_damaged_or_locked_files_fail_with_a_human_message(services, world, corpus, name, expected) -> None:
    data = corpus(name).read_bytes()
    view = process(services, world, upload(services, world, data, name))
    assert view["media"]["status"] == "failed"
    assert expected in view["media"]["message"]
    assert all(expected in d["message"] for d in view["derivatives"])
    assert_original_downloadable(services, world, view, data)


@pytest.mark.parametrize("name", ["hopper_orientation_6.jpg", "chi.gif"])
def test_images_get_thumbnails(services, world, corpus, name) -> None:
    """(EXIF orientation, CMYK, transparency and GIF frames: tests/transcode/test_images.py.)"""
    from PIL import Image

    made = derivatives(process(services, world, upload(services, world, corpus(name), name)))
    with services.blobs.open(made["thumbnail"]["sha256"]) as stream:
        image = Image.open(io.BytesIO(stream.read()))
        assert image.format in ("WEBP", "PNG") and max(image.size) <= 480
    assert (made["thumbnail"]["width"], made["thumbnail"]["height"]) == image.size


def test_epubs_get_cover_and_contents(services, world, corpus) -> None:
    made = derivatives(process(services, world, upload(services, world, corpus("testEPUB_multi-metadata-vals.epub"),
                                                       "电子书.epub")))
    assert made["cover"]["status"] == made["thumbnail"]["status"] == "done"
    entries = made["contents"]["entries"]
    assert len(entries) == 26 and {e["level"] for e in entries} == {1, 2}
    assert made["contents"]["sha256"] is None            # a list, no file


def test_media_jobs_work_with_the_s3_blob_store(services, world, corpus, moto_s3) -> None:
    import uuid

    s3 = Services.open(replace(services.settings, blobstore="minio", s3_endpoint=moto_s3.endpoint,
                               s3_access_key=moto_s3.access_key, s3_secret_key=moto_s3.secret_key,
                               s3_bucket=f"repo-{uuid.uuid4().hex[:12]}"))
    try:
        view = process(s3, world, upload(s3, world, corpus("multilang.pdf"), "多语言.pdf"))
        made = derivatives(view)
        assert view["media"]["status"] == "done"
        assert s3.blobs.local_path(made["thumbnail"]["sha256"]) is None and s3.blobs.exists(made["thumbnail"]["sha256"])
        assert list(s3.settings.staging_dir.iterdir()) == []      # the staged source copy is gone
    finally:
        s3.close()


# -- retries, stale workers, cancel, rebuild ----------------------------------------------------------

@SQLITE_ONLY
def test_transient_failures_are_retried_then_fail(services, world, corpus) -> None:
    missing = Services(settings=replace(services.settings, soffice="/nonexistent/soffice"),
                       catalog=services.catalog, blobs=services.blobs, staging=services.staging)
    view = upload(services, world, corpus("52244.ppt"), "课件.ppt")
    job_id = view["media"]["id"]
    for attempt in range(1, MAX_ATTEMPTS):
        outcome = run_job(missing, job_id)
        assert (outcome.status, outcome.delay_s > 0) == ("retry", True)
        media = get_resource(services, world.school_editor, view["id"])["media"]
        assert (media["status"], media["attempts"]) == ("queued", attempt)
        assert "not installed" in media["message"] and "trying again" in media["message"]
    assert run_job(missing, job_id).status == "failed"
    media = get_resource(services, world.school_editor, view["id"])["media"]
    assert media["status"] == "failed" and "not installed" in media["message"]


def test_a_job_whose_worker_died_is_handed_out_again(services, world, corpus) -> None:
    view = upload(services, world, corpus("hopper.png"), "hopper.png")
    job_id = view["media"]["id"]
    assert claim_job(services, job_id, worker="dead-host:1") is not None
    assert claim_job(services, job_id) is None                  # running: nobody else takes it
    assert job_id not in jobs_to_enqueue(services, queue_is_empty=True)
    with services.catalog.write() as session:
        session.execute(update(MediaJob).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    assert jobs_to_enqueue(services, queue_is_empty=False) == [job_id]
    media = get_resource(services, world.school_editor, view["id"])["media"]
    assert media["status"] == "queued" and "worker running it stopped" in media["message"]
    assert run_job(services, job_id).status == "done"


def test_queued_jobs_the_queue_lost_are_handed_out_only_when_it_is_empty(services, world, corpus) -> None:
    view = upload(services, world, corpus("hopper.png"), "hopper.png")
    with services.catalog.write() as session:
        session.execute(update(MediaJob).values(enqueued_at=utcnow() - timedelta(minutes=10)))
    assert jobs_to_enqueue(services, queue_is_empty=False) == []   # still waiting in the queue
    assert jobs_to_enqueue(services, queue_is_empty=True) == [view["media"]["id"]]


@SQLITE_ONLY
def test_cancel_stops_a_running_transcode_within_seconds(services, world, tmp_path) -> None:
    source = clip(tmp_path / "长.mp4", size="1280x720", seconds=30)
    view = upload(services, world, source, "长.mp4")
    job_id, outcome = view["media"]["id"], []
    worker = threading.Thread(target=lambda: outcome.append(run_job(services, job_id)))
    worker.start()
    deadline = time.monotonic() + 60
    while not _running_profile(services, "video-360p"):
        assert time.monotonic() < deadline, "the 360p step never started"
        time.sleep(0.1)
    assert cancel_job(services, job_id)
    cancelled_at = time.monotonic()
    worker.join(30)
    assert not worker.is_alive() and outcome[0].status == "cancelled"
    assert time.monotonic() - cancelled_at < 15
    view = get_resource(services, world.school_editor, view["id"])
    assert view["media"]["status"] == "cancelled"
    assert derivatives(view)["video-360p"]["status"] == "cancelled"
    assert derivatives(view)["poster"]["status"] == "done"           # made before the cancel stays
    assert not [p for p in _ffmpeg_cmdlines() if str(services.staging.directory) in p]
    assert not list(services.staging.directory.glob("media-*"))       # scratch directory removed


def _running_profile(services, profile: str) -> bool:
    with services.catalog.read() as session:
        return session.scalar(select(Derivative.status).where(Derivative.profile == profile)) == "running"


def _ffmpeg_cmdlines() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("ffmpeg"):
            found.append(cmdline)
    return found


@SQLITE_ONLY
def test_retry_keeps_what_was_made_and_rebuild_redoes_one_profile(services, world, corpus) -> None:
    view = process(services, world, upload(services, world, corpus("libreoffice-writer-password.pdf"), "锁.pdf"))
    assert view["media"]["status"] == "failed"
    assert retry_jobs(services) == [view["media"]["id"]]
    again = get_resource(services, world.school_editor, view["id"])
    assert again["media"]["status"] == "queued" and again["derivatives"] == []   # failed ones forgotten
    image = process(services, world, upload(services, world, corpus("hopper.png"), "hopper.png"))
    before = derivatives(image)["thumbnail"]
    assert rebuild_jobs(services, profile="video-720p") == []          # nothing has a 720p
    assert rebuild_jobs(services, profile="thumbnail") == [image["media"]["id"]]
    assert get_resource(services, world.school_editor, image["id"])["derivatives"] == []
    rebuilt = derivatives(process(services, world, image))["thumbnail"]
    assert rebuilt["sha256"] == before["sha256"] and rebuilt["status"] == "done"
