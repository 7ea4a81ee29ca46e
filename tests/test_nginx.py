"""nginx in front of `repo-server serve`, running the shipped deploy/nginx/repo-server.conf.

Debian's nginx runs as a child of the test (foreground, private prefix, pid and logs, a free
loopback port) with the production file, only its placeholders replaced (ports, data dir,
log dir), in front of the real gunicorn server with REPO_ACCEL_REDIRECT and REPO_PROXY_HOPS=1
set. What is checked is what a teacher's browser sees through nginx: the bytes (sha256),
Range and If-Range answered by nginx from the blob file, HEAD and 304 by the app, the Chinese
file name, one download event, hidden files staying hidden, the internal location closed
to the outside, uploads streamed through, cache headers and compression.
"""

from __future__ import annotations

import grp
import gzip
import hashlib
import io
import os
import pwd
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from repo_server.catalog.models import DownloadEvent
from repo_server.config import Settings
from repo_server.errors import ConfigError
from repo_server.services.media_work import run_job
from repo_server.web.files import accel_location
from tests.support import filename_star, free_port, nginx_main_conf, nginx_production_conf

ACCEL = "/_repo_blobs/"
CONTENT = b"%PDF-1.4\n" + random.Random(20261123).randbytes(3 * 1024 * 1024)   # a 3 MiB "PDF"
SHA = hashlib.sha256(CONTENT).hexdigest()
NAME = "第3课 勾股定理（教学设计）.pdf"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36"}

pytestmark = pytest.mark.server_env(REPO_ACCEL_REDIRECT=ACCEL, REPO_PROXY_HOPS="1")

@dataclass
class Front:
    url: str        # nginx
    app: str        # gunicorn, directly
    dir: Path

    def access_log(self) -> str:
        return (self.dir / "repo-server.access.log").read_text()


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        pytest.fail("nginx is not installed: `apt-get install -y nginx-light` (tests/test_nginx.py "
                    "runs the shipped deploy/nginx/repo-server.conf)", pytrace=False)
    return found


@pytest.fixture
def front(live_server, services, tmp_path: Path) -> Iterator[Front]:
    """Debian's nginx with the production config in front of `live_server`."""
    nginx = _nginx()
    conf_dir = tmp_path / "nginx"
    conf_dir.mkdir()
    port = free_port()
    (conf_dir / "repo-server.conf").write_text(nginx_production_conf(
        nginx_port=port, app_port=live_server.port, data_dir=services.settings.data_dir, log_dir=conf_dir))
    user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};\n"
    (conf_dir / "nginx.conf").write_text(nginx_main_conf(conf_dir, top=user))
    argv = [nginx, "-p", str(conf_dir), "-e", str(conf_dir / "error.log"), "-c", str(conf_dir / "nginx.conf")]
    checked = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, f"nginx -t refused the shipped config:\n{checked.stderr}"
    with open(conf_dir / "stdout.log", "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not come up:\n{(conf_dir / 'error.log').read_text()}", pytrace=False)
            time.sleep(0.1)
        yield Front(url=url, app=live_server.url, dir=conf_dir)
    finally:
        print(f"--- nginx error.log ---\n{(conf_dir / 'error.log').read_text()[-5000:]}")
        process.send_signal(signal.SIGQUIT)     # graceful stop of our own child, by pid
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- helpers --------------------------------------------------------------------------------------
def bearer(world, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[user]}"}


def upload(front: Front, world, data: bytes, name: str, *, user: str = "school_editor", **fields) -> dict:
    """POST /api/v1/resources through nginx with a bearer token."""
    answer = requests.post(front.url + "/api/v1/resources", headers=bearer(world, user),
                           files={"file": (name, data)}, data=fields, timeout=60)
    assert answer.status_code == 201, answer.text
    return answer.json()


def events(services) -> list[DownloadEvent]:
    with services.catalog.read() as session:
        return list(session.scalars(select(DownloadEvent).order_by(DownloadEvent.id)))


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={**BROWSER, **headers}, timeout=30)


# -- settings and the URI ------------------------------------------------------------------------
def test_the_setting_is_checked(tmp_path: Path) -> None:
    for bad in ("_repo_blobs/", "/_repo_blobs", "/a b/", "/x?y/"):
        with pytest.raises(ConfigError, match="REPO_ACCEL_REDIRECT"):
            Settings(data_dir=tmp_path, accel_redirect=bad)
    assert Settings(data_dir=tmp_path, accel_redirect=ACCEL).accel_redirect == ACCEL
    root = tmp_path / "blobs"
    assert accel_location(ACCEL, root / "ab" / "cd" / ("ab" * 32), root) == ACCEL + "ab/cd/" + "ab" * 32
    assert accel_location("", root / "ab", root) is None          # off
    assert accel_location(ACCEL, None, root) is None               # MinIO: no local file
    assert accel_location(ACCEL, tmp_path / "elsewhere", root) is None


# -- downloads through nginx ---------------------------------------------------------------------
def test_download_through_x_accel(front: Front, world, services) -> None:
    body = upload(front, world, CONTENT, NAME, title="勾股定理 教学设计")
    url = front.url + body["download_url"]

    # Counting as today: HEAD, a later chunk and a 304 are no downloads; the first chunk is one,
    # and the whole file right after is the same download (30 s repeat window).
    head = requests.head(url, headers=BROWSER, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(CONTENT))
    later = get(url, Range="bytes=5000-5999")
    assert later.status_code == 206 and later.content == CONTENT[5000:6000]
    assert get(url, **{"If-None-Match": f'"{SHA}"'}).status_code == 304
    assert events(services) == []
    first = get(url, Range="bytes=0-99", **{"X-Forwarded-For": "10.66.66.66"})   # a spoofed address
    assert first.status_code == 206 and first.content == CONTENT[:100]
    whole = get(url)
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == SHA
    recorded = events(services)
    assert len(recorded) == 1 and recorded[0].client == "127.0.0.1" and not recorded[0].is_bot

    # The app answers with the redirect and no bytes; nginx never shows the header.
    direct = requests.get(front.app + body["download_url"], timeout=30)
    assert direct.status_code == 200 and direct.content == b""
    assert direct.headers["X-Accel-Redirect"] == f"{ACCEL}{SHA[:2]}/{SHA[2:4]}/{SHA}"

    # Headers of the whole file: the app's, kept by nginx.
    h = whole.headers
    assert "X-Accel-Redirect" not in h
    assert h["ETag"] == f'"{SHA}"' and h["Content-Type"] == "application/pdf"
    assert h["Content-Length"] == str(len(CONTENT)) and "Content-Encoding" not in h   # never gzipped
    assert h["Last-Modified"] == head.headers["Last-Modified"] == direct.headers["Last-Modified"]
    assert h["Cache-Control"] == "private, no-cache" and h["X-Content-Type-Options"] == "nosniff"
    assert h["Accept-Ranges"] == "bytes"
    assert h["Content-Disposition"].startswith("attachment;") and filename_star(h["Content-Disposition"]) == NAME

    # Range and If-Range, by nginx against the app's validators.
    middle = get(url, Range="bytes=1000000-1999999")
    assert middle.status_code == 206 and middle.content == CONTENT[1000000:2000000]
    assert middle.headers["Content-Range"] == f"bytes 1000000-1999999/{len(CONTENT)}"
    suffix = get(url, Range="bytes=-10")
    assert suffix.status_code == 206 and suffix.content == CONTENT[-10:]
    same = get(url, Range="bytes=10-19", **{"If-Range": f'"{SHA}"'})
    assert same.status_code == 206 and same.content == CONTENT[10:20]
    stale = get(url, Range="bytes=10-19", **{"If-Range": '"an-older-version"'})
    assert stale.status_code == 200 and stale.content == CONTENT
    by_date = get(url, Range="bytes=10-19", **{"If-Range": h["Last-Modified"]})
    assert by_date.status_code == 206 and by_date.content == CONTENT[10:20]
    multi = get(url, Range="bytes=0-1,5-6")                     # as without nginx: the whole file
    assert multi.status_code == 200 and multi.content == CONTENT
    beyond = get(url, Range=f"bytes={len(CONTENT)}-")
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(CONTENT)}"
    assert get(url, **{"If-Modified-Since": h["Last-Modified"]}).status_code == 304

    # The page's inline link goes the same way.
    inline = get(front.url + f"/r/{body['id']}/file")
    assert inline.status_code == 200 and inline.content == CONTENT
    assert inline.headers["Content-Disposition"].startswith("inline;")
    assert len(events(services)) == 1


def test_headers_are_not_doubled(front: Front, world) -> None:
    """Raw response: one ETag, one Last-Modified, one Cache-Control (nginx adds none of its own)."""
    body = upload(front, world, CONTENT, NAME)
    raw = requests.get(front.url + body["download_url"], headers=BROWSER, timeout=30, stream=True)
    raw.close()
    for header in ("ETag", "Last-Modified", "Cache-Control", "Content-Type", "X-Content-Type-Options",
                   "Accept-Ranges", "Content-Disposition", "Content-Length"):
        assert len(raw.raw.headers.getlist(header)) == 1, (header, raw.raw.headers)


def test_hidden_files_and_the_internal_location(front: Front, world) -> None:
    secret = b"%PDF-1.4\n" + random.Random(1).randbytes(200_000)
    private = upload(front, world, secret, "私有.pdf", visibility="private")
    draft = upload(front, world, b"%PDF-1.4\n" + random.Random(2).randbytes(200_000), "草稿.pdf",
                   status="draft")
    public = upload(front, world, CONTENT, NAME)
    for hidden in (private, draft):
        assert get(front.url + hidden["download_url"]).status_code == 404             # anonymous
        assert requests.get(front.url + hidden["download_url"], headers=bearer(world, "other_teacher"),
                            timeout=30).status_code == 404
        assert get(front.url + f"/r/{hidden['id']}/file").status_code == 404
    owner = requests.get(front.url + private["download_url"], headers=bearer(world, "school_editor"), timeout=30)
    assert owner.status_code == 200 and owner.content == secret
    # The internal location answers nothing from outside, whatever the path.
    assert public["id"]
    for sha in (hashlib.sha256(secret).hexdigest(), SHA):
        for path in (f"{ACCEL}{sha[:2]}/{sha[2:4]}/{sha}", f"{ACCEL}", f"{ACCEL}../catalog.sqlite3"):
            answer = get(front.url + path)
            assert answer.status_code == 404 and secret not in answer.content and CONTENT not in answer.content


def test_active_content_keeps_the_sandbox(front: Front, world, corpus) -> None:
    body = upload(front, world, corpus("svgTestOne.svg").read_bytes(), "图.svg")
    assert requests.get(front.app + body["download_url"], timeout=30).headers.get("X-Accel-Redirect")
    for path in (body["download_url"] + "?inline=1", f"/r/{body['id']}/file"):
        answer = get(front.url + path)
        assert answer.status_code == 200 and answer.content == corpus("svgTestOne.svg").read_bytes()
        assert answer.headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_previews_static_files_and_compression(front: Front, world, services) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (800, 600), "teal").save(picture, format="PNG")
    body = upload(front, world, picture.getvalue(), "示意图.png")
    assert run_job(services, body["media"]["id"]).status == "done"
    view = requests.get(front.url + body["url"], headers=bearer(world, "school_editor"), timeout=30).json()
    thumbnail = next(d for d in view["derivatives"] if d["profile"] == "thumbnail")
    assert requests.get(front.app + thumbnail["url"], timeout=30).headers.get("X-Accel-Redirect")
    answer = get(front.url + thumbnail["url"])
    assert answer.status_code == 200 and hashlib.sha256(answer.content).hexdigest() == thumbnail["sha256"]
    assert answer.headers["Cache-Control"] == "private, max-age=86400"
    assert answer.headers["ETag"] == f'"{thumbnail["sha256"]}"'
    assert answer.headers["Content-Type"].startswith("image/")
    assert get(front.url + thumbnail["url"], **{"If-None-Match": answer.headers["ETag"]}).status_code == 304
    # The original is a download: revalidated every time.
    assert get(front.url + body["download_url"]).headers["Cache-Control"] == "private, no-cache"

    css = requests.get(front.url + "/static/app.css", headers={"Accept-Encoding": "gzip"}, timeout=30, stream=True)
    compressed = css.raw.read()
    assert css.status_code == 200 and css.headers["Content-Encoding"] == "gzip"
    assert b"{" in gzip.decompress(compressed)
    assert css.headers["Cache-Control"] == "max-age=3600" and "Expires" in css.headers
    vocab = requests.get(front.url + "/api/v1/vocabularies", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert vocab.status_code == 200 and vocab.headers["Content-Encoding"] == "gzip" and vocab.json()


def test_request_ids_reach_the_log(front: Front) -> None:
    assert requests.get(front.url + "/healthz", timeout=10).status_code == 200
    assert requests.get(front.url + "/api/v1/vocabularies", headers={"X-Request-ID": "school-7f3a9c01"},
                        timeout=10).status_code == 200
    requests.get(front.url + "/api/v1/vocabularies", headers={"X-Request-ID": "bad id\"x"}, timeout=10)
    # nginx writes the line after the answer has left: the client may be reading it first.
    deadline = time.monotonic() + 10
    while front.access_log().count("rid=") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = front.access_log()
    assert "rid=school-7f3a9c01" in log
    assert "bad id" not in log and log.count("rid=") == 2        # /healthz is not logged
    generated = [line.split("rid=")[1].split()[0] for line in log.splitlines()][-1]
    assert len(generated) == 32 and int(generated, 16) >= 0     # nginx's own $request_id


@pytest.mark.server_env(REPO_MAX_UPLOAD_BYTES="1000000", REPO_PROXY_HOPS="1")
def test_the_apps_upload_limit_answers_through_nginx(front: Front, world) -> None:
    answer = requests.post(front.url + "/api/v1/resources", headers=bearer(world, "school_editor"),
                           files={"file": ("大视频.mp4", b"\x00" * 1_500_000)}, timeout=60)
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"


@pytest.mark.server_env(REPO_PROXY_HOPS="1")
def test_without_the_setting_the_app_sends_the_bytes(front: Front, world, services) -> None:
    body = upload(front, world, CONTENT, NAME)
    direct = requests.get(front.app + body["download_url"], headers=BROWSER, timeout=30)
    assert "X-Accel-Redirect" not in direct.headers and direct.content == CONTENT
    url = front.url + body["download_url"]
    whole = get(url)
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == SHA
    assert whole.headers["ETag"] == f'"{SHA}"' and filename_star(whole.headers["Content-Disposition"]) == NAME
    assert "Content-Encoding" not in whole.headers
    ranged = get(url, Range="bytes=1000000-1999999")
    assert ranged.status_code == 206 and ranged.content == CONTENT[1000000:2000000]
    assert get(url, **{"If-None-Match": f'"{SHA}"'}).status_code == 304
    assert len(events(services)) == 1
