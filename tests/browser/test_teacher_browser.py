"""A teacher's day, in a real browser: log in, search in Chinese, narrow by facets, watch the
video lesson, page through the courseware, download a file and the whole lesson; and a
teacher of another school who cannot find a school's private resource.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from repo_server.services.media_work import run_job
from repo_server.services.resources import ingest
from tests.browser.conftest import log_in, sqlite_only

LESSON = {"stage": "初中", "subject": "数学", "edition": "人教版", "grade": "八年级", "volume": "下册",
          "chapter": "第十七章 勾股定理", "lesson": "17.1 勾股定理"}


@pytest.fixture
def library(services, world, corpus, tmp_path: Path) -> dict[str, str]:
    """A lesson with a video (previews made), courseware (page images made) and a lesson plan;
    another subject's resource; a private one of 一小."""
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3",
                    "-f", "lavfi", "-i", "sine=duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    str(clip)], check=True, timeout=60)

    def add(path: Path, name: str, uploader: str = "school_editor", made: bool = False, **fields) -> str:
        staged = services.staging.new()
        staged.write(path.read_bytes())
        view = ingest(services, getattr(world, uploader), staged, name, fields, allow_duplicate=True)
        if made:
            run_job(services, view["media"]["id"])
        return view["id"]

    return {
        "video": add(clip, "勾股定理微课.mp4", made=True, title="勾股定理 微课", type="微课", **LESSON),
        "slides": add(corpus("52244.ppt"), "勾股定理.ppt", made=True, title="勾股定理 课件", type="课件", **LESSON),
        "plan": add(corpus("hopper.png"), "勾股定理 板书.png", title="勾股定理 板书设计", type="素材", **LESSON),
        "other": add(corpus("hopper.png"), "光合作用.png", title="光合作用 示意图", stage="初中", subject="生物学"),
        "private": add(corpus("hopper.png"), "校本.png", title="勾股定理 校本作业", visibility="private", **LESSON),
    }


@sqlite_only
def test_a_teacher_finds_watches_pages_through_and_downloads(page, world, library, tmp_path: Path) -> None:
    log_in(page, world, "teacher")
    page.get_by_role("searchbox", name="搜索").fill("勾股定理")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search?q=*")
    hits = page.locator("ol.hits > li")
    assert hits.count() == 3                                   # not the private one, not 光合作用
    assert page.locator("ol.hits mark").first.inner_text() in ("勾股", "勾股定理")

    page.locator("aside.facets").get_by_role("link", name="微课").click()
    page.wait_for_url("**type=*")
    assert hits.locator("a.title").all_inner_texts() == ["勾股定理 微课"]
    hits.first.locator("a.title").click()
    page.wait_for_url("**/r/*")

    video = page.locator("video#player")
    assert "/derivatives/video-360p" in video.get_attribute("src")
    duration = video.evaluate("""v => new Promise((ok, fail) => {
        if (v.readyState >= 1) return ok(v.duration);
        v.addEventListener('loadedmetadata', () => ok(v.duration));
        v.addEventListener('error', () => fail(new Error('video error ' + (v.error && v.error.code))));
    })""")
    assert 2.5 < duration < 3.5

    page.get_by_role("link", name="勾股定理 课件").click()     # "more for this lesson"
    first_page = page.locator(".pages img").first
    first_page.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first_page.element_handle())
    assert page.locator(".pages img").count() == 2

    with page.expect_download() as download:
        page.get_by_role("link", name="下载 勾股定理.ppt").click()
    saved = tmp_path / "got.ppt"
    download.value.save_as(saved)
    assert saved.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # an OLE2 (PowerPoint 97) file
    assert download.value.suggested_filename == "勾股定理.ppt"

    with page.expect_download() as lesson_zip:
        page.get_by_role("link", name="下载整课（3 个文件）").click()
    zipped = tmp_path / "lesson.zip"
    lesson_zip.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(n.rsplit("/", 1)[1] for n in archive.namelist()) == sorted(
            ["勾股定理.ppt", "勾股定理微课.mp4", "勾股定理 板书.png"])


@sqlite_only
def test_a_teacher_of_another_school_cannot_see_a_private_resource(page, world, library, live_server) -> None:
    log_in(page, world, "other_teacher")
    page.goto("/search?q=校本作业")
    assert page.locator("ol.hits > li").count() == 0
    assert "共 0 个结果" in page.locator(".summary").inner_text()
    response = page.goto(f"/r/{library['private']}")
    assert response.status == 404 and "找不到这个页面" in page.content()
    assert page.goto(f"/r/{library['private']}/lesson.zip").status == 404
    page.goto("/browse?stage=初中&subject=数学&edition=人教版&grade=八年级&volume=下册&chapter=第十七章 勾股定理")
    assert "17.1 勾股定理" in page.content() and page.locator(".chips .count").first.inner_text() == "3"
