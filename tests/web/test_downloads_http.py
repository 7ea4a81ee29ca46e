"""Downloads over HTTP: Range, conditional requests, names, active content, counting."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from repo_server.catalog.models import DownloadEvent
from tests.support import filename_star, upload_form

DATA = bytes(range(256)) * 4096 + b"%END"   # ~1 MiB, every offset distinguishable
SHA = hashlib.sha256(b"%PDF-1.4\n" + DATA).hexdigest()


@pytest.fixture
def url(api) -> str:
    body = api("school_editor").post(
        "/api/v1/resources", data=upload_form(b"%PDF-1.4\n" + DATA, "第1课 勾股定理.pdf"),
        content_type="multipart/form-data").get_json()
    return body["download_url"]


@pytest.fixture
def content() -> bytes:
    return b"%PDF-1.4\n" + DATA


def events(services) -> int:
    with services.catalog.read() as session:
        return session.scalar(select(func.count()).select_from(DownloadEvent))


def test_full_download_headers(client, url, content) -> None:
    r = client.get(url)
    assert r.status_code == 200 and r.data == content
    assert r.headers["ETag"] == f'"{SHA}"' and r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Length"] == str(len(content))
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="1 .pdf"; ')  # ASCII fallback
    assert filename_star(disposition) == "第1课 勾股定理.pdf"


@pytest.mark.parametrize(("header", "start", "stop"), [
    ("bytes=0-99", 0, 100),
    ("bytes=1000-", 1000, None),
    ("bytes=-10", -10, None),
    ("bytes=100-999999999", 100, None),       # end past EOF is clipped
])
def test_ranges(client, url, content, header, start, stop) -> None:
    r = client.get(url, headers={"Range": header})
    expected = content[start:stop]
    first = start if start >= 0 else len(content) + start
    assert r.status_code == 206 and r.data == expected
    assert r.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
    assert r.headers["Content-Length"] == str(len(expected))


def test_unsatisfiable_and_ignored_ranges(client, url, content) -> None:
    r = client.get(url, headers={"Range": f"bytes={len(content)}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(content)}"
    multi = client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and multi.data == content      # whole file instead
    garbage = client.get(url, headers={"Range": "pages=1-2"})
    assert garbage.status_code == 200 and garbage.data == content


def test_conditional_requests(client, url, content) -> None:
    assert client.get(url, headers={"If-None-Match": f'"{SHA}"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    r = client.get(url, headers={"Range": "bytes=10-19", "If-Range": f'"{SHA}"'})
    assert r.status_code == 206 and r.data == content[10:20]
    stale = client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"old-version"'})
    assert stale.status_code == 200 and stale.data == content
    last_modified = client.get(url).headers["Last-Modified"]
    by_date = client.get(url, headers={"Range": "bytes=10-19", "If-Range": last_modified})
    assert by_date.status_code == 206
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304


def test_head_sends_headers_only(client, url, content) -> None:
    r = client.head(url)
    assert r.status_code == 200 and r.data == b""
    assert r.headers["Content-Length"] == str(len(content))


def test_one_event_per_real_download(client, url, services) -> None:
    client.head(url)
    client.get(url, headers={"Range": "bytes=5000-6000"})        # a later chunk: not counted
    assert events(services) == 0
    client.get(url, headers={"Range": "bytes=0-4999"})           # the first chunk counts
    client.get(url)                                               # repeat within the window
    client.get(url, headers={"If-None-Match": f'"{SHA}"'})      # 304: not a download
    assert events(services) == 1


def test_hidden_resources_cannot_be_downloaded(api, client) -> None:
    body = api("school_editor").post(
        "/api/v1/resources", data=upload_form(b"%PDF-1.4 secret", "s.pdf", visibility="private"),
        content_type="multipart/form-data").get_json()
    assert api("other_teacher").get(body["download_url"]).status_code == 404
    assert client.get(body["download_url"]).status_code == 404
    assert client.get(f"/r/{body['id']}/file").status_code == 404
    assert api("school_editor").get(body["download_url"]).status_code == 200


def test_active_content_is_always_an_attachment(api, client, corpus) -> None:
    body = api("school_editor").post(
        "/api/v1/resources", data=upload_form(corpus("svgTestOne.svg"), "图.svg"),
        content_type="multipart/form-data").get_json()
    for path in (body["download_url"] + "?inline=1", f"/r/{body['id']}/file"):
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_inline_for_safe_types(api, client, corpus) -> None:
    body = api("school_editor").post(
        "/api/v1/resources", data=upload_form(corpus("hopper.png"), "图.png"),
        content_type="multipart/form-data").get_json()
    r = client.get(f"/r/{body['id']}/file")
    assert r.headers["Content-Disposition"].startswith("inline;") and r.mimetype == "image/png"
