"""Derivatives over HTTP: the resource JSON after a media job, serving renditions, page
images and the storyboard's WebVTT (Range, ETag, permissions like originals), retry/cancel
of a resource's job, and which derivative downloads count.

Jobs run in-process with `run_job`, no worker: a 3 s 640×360 clip and one-page PDFs keep it
quick. Each test makes its own media (the catalog is fresh per test and per backend).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from repo_server.catalog.models import DownloadEvent, Resource
from repo_server.services.derivatives import set_state
from repo_server.services.media_work import run_job
from tests.support import filename_star, upload_form

MULTIPART = "multipart/form-data"
BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/124.0 Safari/537.36"}
CLIP_SECONDS = 3
PAGE_MIMES = {"image/webp", "image/png"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """A 3 s 640×360 H.264/AAC clip from ffmpeg's test sources (made once per module)."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed: the media tests need it", pytrace=False)
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={CLIP_SECONDS}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={CLIP_SECONDS}",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)],
                   check=True, timeout=120)
    return out.read_bytes()


@pytest.fixture(scope="module")
def three_page_pdf() -> bytes:
    """A 3-page PDF whose pages differ (red, green, blue), written by Pillow."""
    pages = [Image.new("RGB", (200, 280), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


# -- helpers --------------------------------------------------------------------------------------
def upload(api, data: bytes | Path, name: str, *, user: str = "school_editor", **metadata) -> dict:
    response = api(user).post("/api/v1/resources", data=upload_form(data, name, **metadata),
                              content_type=MULTIPART)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(api, body: dict, user: str = "school_editor") -> dict:
    response = api(user).get(body["url"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_profile(view: dict) -> dict[str, dict]:
    return {d["profile"]: d for d in view["derivatives"]}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_count(services, resource_id: str) -> int:
    with services.catalog.read() as session:
        return session.scalar(select(Resource.download_count).where(Resource.id == resource_id))


def download_events(services, resource_id: str) -> list[tuple[str, bool]]:
    with services.catalog.read() as session:
        rows = session.execute(select(DownloadEvent.profile, DownloadEvent.is_bot).where(
            DownloadEvent.resource_id == resource_id).order_by(DownloadEvent.id))
        return [tuple(row) for row in rows]


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, world, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": world.passwords[username],
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)


def media_url(body: dict, action: str) -> str:
    return f"{body['url']}/media/{action}"


def made_video(api, services, clip: bytes, **metadata) -> tuple[dict, dict]:
    """Upload the clip, run its job; (the upload's answer, the resource after the job)."""
    body = upload(api, clip, "第1课 勾股定理.mp4", title="勾股定理 课堂实录", **metadata)
    outcome = run_job(services, body["media"]["id"])
    assert outcome.status == "done", outcome
    return body, fetch(api, body)


def assert_not_found_json(response) -> None:
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not_found" and body["message"]


# -- the resource JSON ----------------------------------------------------------------------------
def test_video_job_fills_the_resource_json(api, client, services, clip) -> None:
    body = upload(api, clip, "第1课 勾股定理.mp4", title="勾股定理 课堂实录")
    rid = body["id"]
    assert body["media"]["status"] == "queued" and body["media"]["kind"] == "video"
    assert body["derivatives"] == []
    assert_not_found_json(client.get(f"/api/v1/resources/{rid}/derivatives/video-360p"))
    assert_not_found_json(client.get(f"/api/v1/resources/{rid}/derivatives/storyboard.vtt"))

    outcome = run_job(services, body["media"]["id"])
    assert outcome.status == "done", outcome
    view = fetch(api, body, "teacher")
    assert view["media"]["status"] == "done" and view["media"]["progress"] == 1.0
    assert view["media"]["message"] == "" and view["media"]["attempts"] == 1
    derivatives = by_profile(view)
    # 640×360 has no 720 lines, and the clip has a picture: no 720p, no audio-only rendition
    assert set(derivatives) == {"poster", "thumbnail", "video-360p", "storyboard"}
    base = f"/api/v1/resources/{rid}/derivatives"
    for profile, d in derivatives.items():
        assert d["status"] == "done" and d["message"] == "", d
        assert d["url"] == f"{base}/{profile}"
        assert re.fullmatch(r"[0-9a-f]{64}", d["sha256"]) and d["size"] > 0
    rendition = derivatives["video-360p"]
    assert rendition["mime"] == "video/mp4"
    assert abs(rendition["duration"] - CLIP_SECONDS) < 0.25, rendition
    assert (rendition["width"], rendition["height"]) == (640, 360)
    assert derivatives["poster"]["mime"] == "image/jpeg"
    assert derivatives["thumbnail"]["mime"] in PAGE_MIMES
    storyboard = derivatives["storyboard"]
    assert storyboard["mime"] == "image/jpeg" and storyboard["vtt_url"] == f"{base}/storyboard.vtt"
    assert storyboard["tiles"] == CLIP_SECONDS and storyboard["interval"] == 1.0
    assert "vtt_url" not in rendition and "page_urls" not in rendition
    assert len({d["sha256"] for d in derivatives.values()}) == 4       # four different files
    # the GET of the resource (owner included) shows the same; listings leave derivatives out
    assert by_profile(fetch(api, body))["video-360p"] == rendition
    listed = {item["id"]: item for item in api("teacher").get("/api/v1/resources").get_json()["items"]}
    assert "derivatives" not in listed[rid]

    # unknown profiles, and ones this video does not have, are JSON 404s like missing resources
    for missing in ("video-4k", "video-720p", "audio", "pages", "pages/1", "cover", "contents"):
        assert_not_found_json(client.get(f"{base}/{missing}"))
    nowhere = "/api/v1/resources/" + "0" * 32 + "/derivatives"
    assert_not_found_json(client.get(f"{nowhere}/video-360p"))
    assert_not_found_json(client.get(f"{nowhere}/storyboard.vtt"))
    assert_not_found_json(client.get(f"{nowhere}/pages/1"))

    # a derivative still being made is listed without a url, and is not served yet
    set_state(services, body["sha256"], "video-720p", "running")
    running = by_profile(fetch(api, body))["video-720p"]
    assert running["status"] == "running" and running["url"] is None and running["sha256"] is None
    assert_not_found_json(client.get(f"{base}/video-720p"))


def test_pdf_job_makes_page_images(api, client, services, corpus, three_page_pdf) -> None:
    body = upload(api, corpus("multilang.pdf"), "多语言.pdf")
    assert body["media"]["status"] == "queued" and body["derivatives"] == []
    assert run_job(services, body["media"]["id"]).status == "done"
    view = fetch(api, body, "teacher")
    derivatives = by_profile(view)
    assert set(derivatives) == {"pages", "thumbnail"} and view["media"]["status"] == "done"
    pages = derivatives["pages"]
    base = f"/api/v1/resources/{body['id']}/derivatives"
    assert pages["page_count"] == pages["pages"] == pages["rendered"] == 1
    assert pages["page_urls"] == [f"{base}/pages/1"] and pages["url"] == f"{base}/pages"
    assert pages["mime"] in PAGE_MIMES and "vtt_url" not in pages

    first = client.get(pages["page_urls"][0])
    assert first.status_code == 200 and first.mimetype == pages["mime"]
    assert sha256(first.data) == pages["sha256"]                 # its own blob is page 1
    assert first.headers["ETag"] == f'"{pages["sha256"]}"'
    assert first.headers["Content-Disposition"].startswith("inline;")
    assert Image.open(io.BytesIO(first.data)).width > 0
    assert client.get(pages["url"]).data == first.data
    for missing in ("pages/2", "pages/999", "pages/0", "storyboard.vtt", "poster", "video-4k"):
        assert_not_found_json(client.get(f"{base}/{missing}"))

    several = upload(api, three_page_pdf, "三页.pdf")
    assert run_job(services, several["media"]["id"]).status == "done"
    pages = by_profile(fetch(api, several))["pages"]
    assert pages["page_count"] == 3 and len(pages["page_urls"]) == 3
    assert pages["page_urls"][2] == f"/api/v1/resources/{several['id']}/derivatives/pages/3"
    bodies = [client.get(url) for url in pages["page_urls"]]
    assert all(r.status_code == 200 and r.mimetype == pages["mime"] for r in bodies)
    assert len({sha256(r.data) for r in bodies}) == 3                # three different pages
    assert {r.headers["ETag"] for r in bodies} == {f'"{sha256(r.data)}"' for r in bodies}
    colours = [Image.open(io.BytesIO(r.data)).convert("RGB").getpixel((20, 20)) for r in bodies]
    assert [max(range(3), key=c.__getitem__) for c in colours] == [0, 1, 2]   # red, green, blue
    assert_not_found_json(client.get(f"/api/v1/resources/{several['id']}/derivatives/pages/4"))


# -- serving --------------------------------------------------------------------------------------
def test_rendition_is_served_like_an_original(api, client, services, clip) -> None:
    _, view = made_video(api, services, clip)
    rendition = by_profile(view)["video-360p"]
    url, sha, size = rendition["url"], rendition["sha256"], rendition["size"]

    whole = client.get(url)
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    assert sha256(whole.data) == sha and len(whole.data) == size
    assert whole.headers["ETag"] == f'"{sha}"' and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Length"] == str(size)
    assert whole.headers["Content-Disposition"].startswith("inline;")
    assert whole.data != clip                                      # a derivative, not the upload

    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == whole.data[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == whole.data[-10:]
    assert client.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    assert client.get(url, headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200

    head = client.head(url)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(size) and head.headers["ETag"] == f'"{sha}"'

    attachment = client.get(url + "?download=1", headers=BROWSER)
    disposition = attachment.headers["Content-Disposition"]
    assert attachment.status_code == 200 and disposition.startswith("attachment;")
    assert filename_star(disposition) == "第1课 勾股定理-video-360p.mp4"

    for profile in ("poster", "storyboard", "thumbnail"):
        d = by_profile(view)[profile]
        image = client.get(d["url"])
        assert image.status_code == 200 and image.mimetype == d["mime"]
        assert sha256(image.data) == d["sha256"] and image.headers["ETag"] == f'"{d["sha256"]}"'
    poster = Image.open(io.BytesIO(client.get(by_profile(view)["poster"]["url"]).data))
    assert poster.format == "JPEG" and poster.size == (640, 360)


def test_storyboard_vtt_points_into_the_sprite(api, client, services, clip) -> None:
    _, view = made_video(api, services, clip)
    storyboard = by_profile(view)["storyboard"]
    response = client.get(storyboard["vtt_url"])
    assert response.status_code == 200 and response.mimetype == "text/vtt"
    text = response.get_data(as_text=True)
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(\S+)$", text, re.MULTILINE)
    assert len(cues) == storyboard["tiles"] == CLIP_SECONDS
    assert cues[0][:2] == ("00:00:00.000", "00:00:01.000")
    assert cues[1][:2] == ("00:00:01.000", "00:00:02.000")
    width, height = storyboard["tile_width"], storyboard["tile_height"]
    assert height == 90                                            # 160 wide at 16:9
    for n, (_, _, target) in enumerate(cues):
        assert target == f"{storyboard['url']}#xywh={n * width},0,{width},{height}"
    sprite = Image.open(io.BytesIO(client.get(storyboard["url"]).data))
    assert sprite.size == (storyboard["columns"] * width, storyboard["rows"] * height)
    assert client.head(storyboard["vtt_url"]).status_code == 200


# -- permissions ----------------------------------------------------------------------------------
def test_private_derivatives_are_hidden_like_the_original(api, client, services, clip, corpus) -> None:
    _, video = made_video(api, services, clip, visibility="private")
    pdf = upload(api, corpus("multilang.pdf"), "内部.pdf", visibility="private")
    assert run_job(services, pdf["media"]["id"]).status == "done"
    pdf_view = fetch(api, pdf)
    urls = [video["url"], video["download_url"]]
    urls += [d["url"] for d in video["derivatives"]] + [by_profile(video)["storyboard"]["vtt_url"]]
    urls += [pdf_view["url"], pdf_view["download_url"]]
    urls += [d["url"] for d in pdf_view["derivatives"]] + by_profile(pdf_view)["pages"]["page_urls"]
    assert len(urls) == 12 and None not in urls
    for url in urls:
        assert api("school_editor").get(url).status_code == 200, url   # the owner
        assert api("admin").get(url).status_code == 200, url
        for response in (client.get(url), api("other_teacher").get(url), api("teacher").get(url),
                         client.head(url)):
            assert response.status_code == 404, (url, response.status_code)
        assert api("other_teacher").get(url).get_json()["error"] == "not_found"
    # shared with the school: its teacher sees the files, the other school's does not
    assert api("school_editor").patch(video["url"], json={"visibility": "organisation"}).status_code == 200
    rendition = by_profile(video)["video-360p"]["url"]
    assert api("teacher").get(rendition).status_code == 200
    assert api("teacher").get(by_profile(video)["storyboard"]["vtt_url"]).status_code == 200
    assert api("other_teacher").get(rendition).status_code == 404
    assert client.get(rendition).status_code == 404


def test_only_editors_retry_or_cancel(api, client, world, services, corpus) -> None:
    body = upload(api, corpus("libreoffice-writer-password.pdf"), "加密.pdf")       # public
    assert run_job(services, body["media"]["id"]).status == "failed"
    private = upload(api, corpus("multilang.pdf"), "私有.pdf", visibility="private")
    for action in ("retry", "cancel"):
        refused = api("teacher").post(media_url(body, action))
        assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
        assert api("other_teacher").post(media_url(body, action)).status_code == 403
        assert api("other_teacher").post(media_url(private, action)).status_code == 404
        bad_token = client.post(media_url(body, action), headers={"Authorization": "Bearer rs_nope"})
        assert bad_token.status_code == 401
    assert client.post(media_url(body, "retry")).status_code == 400       # anonymous, no CSRF token
    anonymous = client.post(media_url(body, "retry"), headers={"X-CSRFToken": csrf_token(client)})
    assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "unauthenticated"
    assert fetch(api, body)["media"]["status"] == "failed"                # nothing changed
    assert fetch(api, private)["media"]["status"] == "queued"


def test_session_posts_need_the_csrf_token(api, client, world, services, corpus) -> None:
    body = upload(api, corpus("libreoffice-writer-password.pdf"), "加密.pdf")
    assert run_job(services, body["media"]["id"]).status == "failed"
    login(client, world, "school_editor")
    refused = client.post(media_url(body, "retry"))
    assert refused.status_code == 400
    assert fetch(api, body)["media"]["status"] == "failed"
    accepted = client.post(media_url(body, "retry"), headers={"X-CSRFToken": csrf_token(client, "/upload")})
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["media"]["status"] == "queued"


# -- retry and cancel -----------------------------------------------------------------------------
def test_password_pdf_fails_and_can_be_retried(api, client, services, corpus) -> None:
    original = corpus("libreoffice-writer-password.pdf").read_bytes()
    body = upload(api, original, "加密试卷.pdf")
    outcome = run_job(services, body["media"]["id"])
    assert outcome.status == "failed" and "password" in outcome.message
    view = fetch(api, body)
    assert view["media"]["status"] == "failed" and "password" in view["media"]["message"]
    derivatives = by_profile(view)
    assert set(derivatives) == {"pages", "thumbnail"}
    for d in derivatives.values():
        assert d["status"] == "failed" and "password" in d["message"]
        assert d["url"] is None and d["sha256"] is None and "page_urls" not in d
    assert_not_found_json(client.get(f"/api/v1/resources/{body['id']}/derivatives/pages"))
    download = client.get(view["download_url"])
    assert download.status_code == 200 and download.data == original

    editor = api("school_editor")
    retried = editor.post(media_url(body, "retry"))
    assert retried.status_code == 200, retried.get_json()
    answer = retried.get_json()
    assert answer["id"] == body["id"] and answer["url"] == body["url"]
    assert answer["media"]["status"] == "queued" and answer["media"]["message"] == ""
    assert answer["media"]["attempts"] == 0 and answer["derivatives"] == []   # failed ones go
    again = editor.post(media_url(body, "retry"))                 # queued: nothing to retry
    assert again.status_code == 422 and "queued" in again.get_json()["message"]

    outcome = run_job(services, body["media"]["id"])
    assert outcome.status == "failed" and "password" in outcome.message
    view = fetch(api, body)
    assert view["media"]["status"] == "failed" and view["media"]["attempts"] == 1
    ended = editor.post(media_url(body, "cancel"))
    assert ended.status_code == 422 and "already ended" in ended.get_json()["message"]
    assert ended.get_json()["error"] == "invalid"
    assert client.get(view["download_url"]).data == original

    unknown = editor.post(media_url(body, "restart"))
    assert unknown.status_code == 422 and "restart" in unknown.get_json()["message"]


def test_cancel_a_queued_job_and_retry_it(api, services, corpus) -> None:
    body = upload(api, corpus("multilang.pdf"), "教案.pdf")
    editor = api("school_editor")
    cancelled = editor.post(media_url(body, "cancel"))
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["media"]["status"] == "cancelled"
    assert cancelled.get_json()["derivatives"] == []
    assert run_job(services, body["media"]["id"]).status == "skipped"       # a worker leaves it
    assert fetch(api, body)["media"]["status"] == "cancelled"
    assert editor.post(media_url(body, "cancel")).status_code == 422

    retried = editor.post(media_url(body, "retry"))
    assert retried.status_code == 200 and retried.get_json()["media"]["status"] == "queued"
    assert run_job(services, body["media"]["id"]).status == "done"
    view = fetch(api, body)
    assert view["media"]["status"] == "done" and by_profile(view)["pages"]["url"]

    for action, word in (("cancel", "already ended"), ("retry", "only failed or cancelled")):
        refused = editor.post(media_url(body, action))
        assert refused.status_code == 422, action
        assert word in refused.get_json()["message"] and "done" in refused.get_json()["message"]
    assert fetch(api, body)["media"]["status"] == "done"


def test_resource_without_a_job_has_nothing_to_retry(api) -> None:
    body = upload(api, b"PK\x03\x04" + bytes(60), "archive.bin")  # no previews for this content
    assert body["media"] is None and body["derivatives"] == []
    response = api("school_editor").post(media_url(body, "retry"))
    assert_not_found_json(response)


# -- download counting ----------------------------------------------------------------------------
def test_only_real_rendition_downloads_count(api, client, services, clip) -> None:
    body, view = made_video(api, services, clip)
    rid, derivatives = body["id"], by_profile(view)
    rendition = derivatives["video-360p"]["url"]
    editor = api("school_editor")

    assert editor.get(rendition, headers=BROWSER).status_code == 200        # playing inline
    assert editor.get(rendition, headers={**BROWSER, "Range": "bytes=0-99"}).status_code == 206
    assert editor.head(rendition + "?download=1", headers=BROWSER).status_code == 200
    assert editor.get(rendition + "?download=1",
                      headers={**BROWSER, "Range": "bytes=100-"}).status_code == 206  # a later chunk
    for profile in ("poster", "thumbnail", "storyboard"):
        assert editor.get(derivatives[profile]["url"] + "?download=1", headers=BROWSER).status_code == 200
    assert editor.get(derivatives["storyboard"]["vtt_url"], headers=BROWSER).status_code == 200
    assert download_count(services, rid) == 0 and download_events(services, rid) == []

    assert editor.get(rendition + "?download=1", headers=BROWSER).status_code == 200
    assert download_count(services, rid) == 1
    assert download_events(services, rid) == [("video-360p", False)]
    editor.get(rendition + "?download=1", headers=BROWSER)                  # a repeat right after
    assert download_count(services, rid) == 1

    bot = api("teacher").get(rendition + "?download=1", headers={"User-Agent": "curl/8.5.0"})
    assert bot.status_code == 200
    assert download_count(services, rid) == 1                                # bots are flagged
    assert download_events(services, rid) == [("video-360p", False), ("video-360p", True)]
    # the teacher's own browser download right after is a repeat of that one (30 s window) …
    assert api("teacher").get(rendition + "?download=1", headers=BROWSER).status_code == 200
    assert download_count(services, rid) == 1
    # … another person's counts
    assert api("county_teacher").get(rendition + "?download=true", headers=BROWSER).status_code == 200
    assert download_count(services, rid) == 2


def test_page_images_never_count(api, services, corpus) -> None:
    body = upload(api, corpus("multilang.pdf"), "讲义.pdf")
    assert run_job(services, body["media"]["id"]).status == "done"
    pages = by_profile(fetch(api, body))["pages"]
    teacher = api("teacher")
    for url in (pages["page_urls"][0], pages["page_urls"][0] + "?download=1",
                pages["url"] + "?download=1", by_profile(fetch(api, body))["thumbnail"]["url"] + "?download=1"):
        assert teacher.get(url, headers=BROWSER).status_code == 200, url
    assert download_count(services, body["id"]) == 0 and download_events(services, body["id"]) == []
    assert teacher.get(body["download_url"], headers=BROWSER).status_code == 200   # the original does
    assert download_count(services, body["id"]) == 1
    assert download_events(services, body["id"]) == [("", False)]
