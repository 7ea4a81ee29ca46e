"""The resource page's previews (video with a quality switch, page images, e-book cover and
contents, image zoom), the job box with retry and cancel, and the media jobs page."""

from __future__ import annotations

import re
import subprocess

import pytest

from repo_server.services.media_work import run_job
from repo_server.services.resources import ingest
from tests.web.test_ui_auth import csrf_token, login


def _upload(services, world, data: bytes, name: str, **fields) -> dict:
    staged = services.staging.new()
    staged.write(data)
    return ingest(services, world.school_editor, staged, name, {"title": name, **fields})


def _made(services, world, data: bytes, name: str, **fields) -> dict:
    view = _upload(services, world, data, name, **fields)
    run_job(services, view["media"]["id"])
    return view


def _preview(html: str) -> str:
    return html[html.index('<div class="preview">'):html.index('<dl class="fields">')]


@pytest.fixture(scope="module")
def lesson_720p(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clips") / "lesson.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=2",
                    "-f", "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-b:v", "4000k",
                    "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path.read_bytes()


def test_a_video_plays_its_360p_with_a_switch_to_720p(client, services, world, lesson_720p) -> None:
    view = _made(services, world, lesson_720p, "勾股定理 微课.mp4")
    page = _preview(client.get(f"/r/{view['id']}").get_data(as_text=True))
    base = f"/api/v1/resources/{view['id']}/derivatives"
    assert f'<video id="player" controls preload="metadata" playsinline src="{base}/video-360p"' in page
    assert f'poster="{base}/poster"' in page and f'src="{base}/storyboard.vtt"' in page
    assert re.search(rf'href="\?q=720p" data-src="{base}/video-720p" class="switch"', page)
    assert "下载高清版" in page and f'href="{base}/video-720p?download=1"' in page
    chosen = _preview(client.get(f"/r/{view['id']}?q=720p").get_data(as_text=True))   # without JavaScript
    assert f'src="{base}/video-720p"' in chosen.split("<p class")[0]
    assert client.get("/static/player.js").status_code == 200


def test_documents_show_lazy_page_images_and_their_page_count(client, services, world, corpus) -> None:
    view = _made(services, world, corpus("52244.ppt").read_bytes(), "课件.ppt")
    html = client.get(f"/r/{view['id']}").get_data(as_text=True)
    pages = re.findall(r'<img src="(/api/v1/resources/\w+/derivatives/pages/\d+)" alt="第 \d+ 页" loading="lazy"',
                       _preview(html))
    assert len(pages) == 2 and "共 2 页" in html and "<dt>页数</dt><dd>2</dd>" in html
    assert client.get(pages[1]).status_code == 200


def test_ebooks_show_cover_and_contents_and_images_zoom(client, services, world, corpus) -> None:
    book = _made(services, world, corpus("testEPUB_multi-metadata-vals.epub").read_bytes(), "书.epub")
    page = _preview(client.get(f"/r/{book['id']}").get_data(as_text=True))
    assert 'alt="封面" class="cover"' in page and page.count('<li class="level-2">') == 19
    image = _made(services, world, corpus("hopper.png").read_bytes(), "hopper.png")
    page = _preview(client.get(f"/r/{image['id']}").get_data(as_text=True))
    assert f'<a href="#zoom"><img src="/api/v1/resources/{image["id"]}/derivatives/thumbnail"' in page
    assert 'id="zoom" class="zoom"' in page and f'src="/r/{image["id"]}/file"' in page


def test_a_failed_job_shows_why_keeps_the_download_and_editors_can_retry(client, services, world, corpus) -> None:
    view = _made(services, world, corpus("libreoffice-writer-password.pdf").read_bytes(), "锁.pdf")
    rid = view["id"]
    login(client, world, "teacher")
    html = client.get(f"/r/{rid}").get_data(as_text=True)
    assert "预览生成失败" in html and "password-protected" in html and "原文件仍可下载" in html
    assert f'href="/api/v1/resources/{rid}/download"' in html
    assert "/media/retry" not in html                                 # teachers get no buttons
    assert client.post(f"/r/{rid}/media/retry", data={"csrf_token": csrf_token(client, "/")}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(client, world, "school_editor")
    html = client.get(f"/r/{rid}").get_data(as_text=True)
    assert f'action="/r/{rid}/media/retry"' in html and "/media/cancel" not in html
    assert client.post(f"/r/{rid}/media/retry").status_code == 400   # no CSRF token
    answer = client.post(f"/r/{rid}/media/retry", data={"csrf_token": csrf_token(client, "/")})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/r/{rid}")
    html = client.get(f"/r/{rid}").get_data(as_text=True)
    assert "预览正在排队生成" in html and f'action="/r/{rid}/media/cancel"' in html
    evil = client.post(f"/r/{rid}/media/cancel",
                       data={"csrf_token": csrf_token(client, "/"), "next": "//evil.example/"})
    assert evil.status_code == 303 and "evil" not in evil.headers["Location"]
    assert "预览生成已取消" in client.get(f"/r/{rid}").get_data(as_text=True)


def test_the_media_jobs_page_lists_jobs_for_editors_only(client, services, world, corpus) -> None:
    _made(services, world, corpus("libreoffice-writer-password.pdf").read_bytes(), "锁住的试卷.pdf")
    _upload(services, world, corpus("hopper.png").read_bytes(), "等待中的图片.png")
    assert client.get("/admin/media").status_code == 302               # log in first
    login(client, world, "teacher")
    assert client.get("/admin/media").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, world, "county_editor")
    html = client.get("/admin/media").get_data(as_text=True)
    assert "锁住的试卷.pdf" in html and "等待中的图片.png" in html and "password-protected" in html
    assert "失败 1" in html and "排队中 1" in html
    failed = client.get("/admin/media?status=failed").get_data(as_text=True)
    assert "锁住的试卷.pdf" in failed and "等待中的图片.png" not in failed
