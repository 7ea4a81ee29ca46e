"""Resumable uploads (tus 1.0.0 under /api/v1/uploads/): the protocol with the Flask client,
and interruptions, restarts and a real tus client against the real gunicorn server."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from repo_server.services.consistency import check_consistency
from repo_server.services.upload_sessions import sweep_expired, uploads_dir
from tests.support import start_server, stop_server

OCTETS = "application/offset+octet-stream"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"   # ~100 KB, a PDF to libmagic


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class Tus:
    """The tus calls of one user, through the Flask test client."""

    def __init__(self, client, token: str | None = None, headers: dict | None = None) -> None:
        self.client = client
        self.headers = {"Tus-Resumable": "1.0.0", **(headers or {})}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, url: str, headers: dict | None = None, **kw):
        return self.client.open(url, method=method, headers={**self.headers, **(headers or {})}, **kw)

    def create(self, length: int, **meta: str):
        return self.call("POST", "/api/v1/uploads/", {"Upload-Length": str(length),
                                                      "Upload-Metadata": metadata(**meta)})

    def patch(self, url: str, offset: int, data: bytes, **headers: str):
        return self.call("PATCH", url, {"Upload-Offset": str(offset), "Content-Type": OCTETS,
                                        **headers}, data=data)

    def offset(self, url: str) -> int:
        response = self.call("HEAD", url)
        assert response.status_code == 200, response.status_code
        return int(response.headers["Upload-Offset"])

    def upload(self, data: bytes, chunk: int = 40_000, **meta: str) -> str:
        created = self.create(len(data), **meta)
        assert created.status_code == 201, created.get_json()
        url = created.headers["Location"]
        for start in range(0, len(data), chunk):
            answer = self.patch(url, start, data[start:start + chunk])
            assert answer.status_code == 204, answer.get_json()
            assert int(answer.headers["Upload-Offset"]) == min(start + chunk, len(data))
        return url


@pytest.fixture
def tus(client, world):
    return lambda username: Tus(client, world.tokens[username])


def _uploads(services) -> list[Path]:
    area = uploads_dir(services)
    return sorted(area.iterdir()) if area.is_dir() else []


def test_options_advertise_the_protocol(client) -> None:
    response = client.options("/api/v1/uploads/")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == response.headers["Tus-Version"] == "1.0.0"
    assert {"creation", "termination", "checksum", "expiration"} <= set(
        response.headers["Tus-Extension"].split(","))
    assert int(response.headers["Tus-Max-Size"]) == 8 * 1024**3


def test_an_upload_in_pieces_becomes_a_resource(tus, services) -> None:
    editor = tus("school_editor")
    url = editor.upload(PDF, filename="分段.pdf", title="分段上传", subject="数学", tags="公开课，几何")
    assert editor.offset(url) == len(PDF)
    state = editor.call("GET", url).get_json()
    assert state["state"] == "done" and state["errors"] == []
    resource = state["resource"]
    assert resource["sha256"] == hashlib.sha256(PDF).hexdigest() and resource["size"] == len(PDF)
    assert resource["title"] == "分段上传" and resource["subject"]["name"] == "数学"
    assert resource["tags"] == ["公开课", "几何"] and resource["url"].endswith(resource["id"])
    assert not (uploads_dir(services) / url.rsplit("/", 1)[1] / "data").exists()  # moved, not copied
    report = check_consistency(services)
    assert report.ok and report.resources == 1 and report.blobs == 1


def test_a_folder_upload_is_classified_by_its_path(tus, corpus) -> None:
    editor = tus("school_editor")
    path = "初中/数学/人教版/八年级/上册/第十一章 三角形/01 三角形的边.pptx"
    url = editor.upload(corpus("bug64693.pptx").read_bytes(), chunk=300_000, relative_path=path,
                        tags="校本")
    resource = editor.call("GET", url).get_json()["resource"]
    assert resource["title"] == "三角形的边" and resource["filename"] == "01 三角形的边.pptx"
    assert {k: resource[k]["name"] for k in ("stage", "subject", "edition", "grade", "volume", "type")} == {
        "stage": "初中", "subject": "数学", "edition": "人教版", "grade": "八年级", "volume": "上册",
        "type": "课件"}   # 课件 from the content, as the bulk import does
    assert resource["chapter"] == "第十一章 三角形" and resource["tags"] == ["校本"]


def test_typed_fields_win_over_the_path(tus) -> None:
    editor = tus("school_editor")
    url = editor.upload(PDF, relative_path="小学/语文/三年级/第2课 秋天.pdf", subject="数学",
                        visibility="private")
    resource = editor.call("GET", url).get_json()["resource"]
    assert resource["subject"]["name"] == "数学" and resource["grade"]["name"] == "三年级"
    assert resource["lesson"] == "第2课" and resource["visibility"] == "private"


def test_wrong_offsets_are_409_and_write_nothing(tus, services) -> None:
    editor = tus("school_editor")
    url = editor.create(len(PDF), filename="a.pdf").headers["Location"]
    assert editor.patch(url, 0, PDF[:1000]).status_code == 204
    for wrong in (0, 999, 1001, len(PDF)):
        answer = editor.patch(url, wrong, PDF[wrong:wrong + 500])
        assert answer.status_code == 409 and answer.headers["Upload-Offset"] == "1000"
        assert answer.get_json()["error"] == "offset_mismatch"
    assert editor.offset(url) == 1000
    data = uploads_dir(services) / url.rsplit("/", 1)[1] / "data"
    assert data.read_bytes() == PDF[:1000]


def test_uploads_belong_to_their_creator(tus, client, world) -> None:
    url = tus("school_editor").create(len(PDF), filename="a.pdf").headers["Location"]
    for other in ("county_editor", "admin"):   # even an administrator: uploads are private
        intruder = tus(other)
        assert intruder.call("HEAD", url).status_code == 404
        assert intruder.patch(url, 0, PDF).status_code == 404
        assert intruder.call("GET", url).status_code == 404
        assert intruder.call("DELETE", url).status_code == 404
    assert tus("teacher").create(10, filename="a.pdf").status_code == 403
    anonymous = Tus(client)
    assert anonymous.create(10, filename="a.pdf").status_code in (400, 401)   # no CSRF, no login
    assert tus("school_editor").offset(url) == 0


def test_protocol_errors_are_clear(tus) -> None:
    editor = tus("school_editor")
    cases = [
        (editor.call("POST", "/api/v1/uploads/", {"Upload-Metadata": metadata(filename="a.pdf")}),
         400, "Upload-Length"),
        (editor.call("POST", "/api/v1/uploads/", {"Upload-Length": "10", "Upload-Metadata": "filename ???"}),
         400, "base64"),
        (editor.call("POST", "/api/v1/uploads/", {"Upload-Length": "10", "Tus-Resumable": "0.2.2"}),
         412, "Tus-Resumable"),
        (editor.create(10, filename="setup.exe"), 415, "setup.exe"),
        (editor.create(0, filename="a.pdf"), 422, "empty"),
        (editor.create(10), 422, "no name"),
    ]
    url = editor.create(len(PDF), filename="a.pdf").headers["Location"]
    cases.append((editor.call("PATCH", url, {"Upload-Offset": "0", "Content-Type": "text/plain"},
                              data=b"x"), 415, "offset+octet-stream"))
    cases.append((editor.call("PATCH", url, {"Content-Type": OCTETS}, data=b"x"), 400, "Upload-Offset"))
    for response, status, words in cases:
        body = response.get_json()
        assert response.status_code == status, body
        assert words in body["message"], body
        assert response.headers["Tus-Resumable"] == "1.0.0"


def test_bad_metadata_is_refused_before_any_byte_is_sent(tus, services) -> None:
    answer = tus("school_editor").create(len(PDF), filename="a.pdf", subject="数字",
                                         title="<b>标题</b>", colour="红")
    assert answer.status_code == 422
    body = answer.get_json()
    assert {e["field"] for e in body["errors"]} == {"subject", "title", "colour"}
    assert _uploads(services) == []


@pytest.fixture
def small_limit(services):
    services.settings = dataclasses.replace(services.settings, max_upload_bytes=200_000)


def test_sizes_over_the_limit_or_the_declared_length_are_413(small_limit, tus, services) -> None:
    editor = tus("school_editor")
    assert editor.create(200_001, filename="big.mp4").status_code == 413
    url = editor.create(1000, filename="a.pdf").headers["Location"]
    assert editor.patch(url, 0, PDF[:600]).status_code == 204
    too_long = editor.patch(url, 600, PDF[600:1600])
    assert too_long.status_code == 413 and too_long.get_json()["error"] == "too_large"
    assert editor.offset(url) == 600   # the refused request added nothing


def test_no_space_is_507(services, tus) -> None:
    services.settings = dataclasses.replace(services.settings, max_upload_bytes=10**18)
    answer = tus("school_editor").create(10**17, filename="huge.mp4")
    assert answer.status_code == 507 and "free space" in answer.get_json()["message"]


def test_checksums_are_verified(tus) -> None:
    editor = tus("school_editor")
    url = editor.create(len(PDF), filename="a.pdf").headers["Location"]
    digest = base64.b64encode(hashlib.sha1(PDF[:5000]).digest()).decode()
    assert editor.patch(url, 0, PDF[:5000], **{"Upload-Checksum": f"sha1 {digest}"}).status_code == 204
    wrong = editor.patch(url, 5000, PDF[5000:9000], **{"Upload-Checksum": f"sha1 {digest}"})
    assert wrong.status_code == 460 and editor.offset(url) == 5000
    unknown = editor.patch(url, 5000, PDF[5000:9000], **{"Upload-Checksum": f"crc32 {digest}"})
    assert unknown.status_code == 400 and editor.offset(url) == 5000


def test_a_refused_upload_keeps_its_bytes_for_a_retry(tus, services) -> None:
    editor = tus("school_editor")
    first = editor.upload(PDF, filename="a.pdf", title="第一份")
    second = editor.upload(PDF, filename="b.pdf", title="同一个文件")
    state = editor.call("GET", second).get_json()
    assert state["state"] == "failed" and state["retry"] is True
    assert state["errors"][0]["error"] == "duplicate" and state["errors"][0]["existing"]["title"] == "第一份"
    bad = editor.call("POST", second + "/ingest", json={"subject": "数字"})
    assert bad.status_code == 422 and bad.get_json()["error"] == "unknown_term"
    filed = editor.call("POST", second + "/ingest", json={"allow_duplicate": True, "title": "第二份"})
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["title"] == "第二份" and filed.get_json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert editor.call("GET", second).get_json()["state"] == "done"
    assert editor.call("POST", second + "/ingest", json={}).status_code == 409
    assert editor.call("GET", first).get_json()["resource"]["title"] == "第一份"
    assert check_consistency(services).ok


def test_a_file_refused_for_its_content_is_dropped(tus, services) -> None:
    editor = tus("school_editor")
    url = editor.upload(b"just some words, not a video\n" * 10, filename="课堂实录.mp4")
    state = editor.call("GET", url).get_json()
    assert state["state"] == "failed" and state["retry"] is False
    assert state["errors"][0]["error"] == "extension_mismatch"
    assert not (uploads_dir(services) / url.rsplit("/", 1)[1] / "data").exists()
    assert editor.call("POST", url + "/ingest", json={}).status_code == 409


def test_delete_terminates_an_upload(tus, services) -> None:
    editor = tus("school_editor")
    url = editor.create(len(PDF), filename="a.pdf").headers["Location"]
    editor.patch(url, 0, PDF[:1000])
    assert editor.call("DELETE", url).status_code == 204
    assert editor.call("HEAD", url).status_code == 404
    assert editor.patch(url, 1000, PDF[1000:]).status_code == 404
    assert _uploads(services) == []


def test_expired_uploads_are_swept(tus, services) -> None:
    editor = tus("school_editor")
    stale = editor.create(len(PDF), filename="a.pdf").headers["Location"]
    editor.patch(stale, 0, PDF[:1000])
    fresh = editor.create(len(PDF), filename="b.pdf").headers["Location"]
    later = time.time() + 25 * 3600
    for item in _uploads(services):   # the stale one was last touched 25 hours ago
        if stale.endswith(item.name):
            for path in item.iterdir():
                os.utime(path, (time.time() - 25 * 3600,) * 2)
            info = (item / "info.json").read_text()
            (item / "info.json").write_text(re.sub(r'"updated_at": [0-9.]+',
                                                   f'"updated_at": {time.time() - 25 * 3600}', info))
    assert editor.call("HEAD", stale).status_code == 404   # expired: gone for the client at once
    assert sweep_expired(services) == 1
    assert [p.name for p in _uploads(services)] == [fresh.rsplit("/", 1)[1]]
    assert sweep_expired(services, now=later) == 1 and _uploads(services) == []


def test_a_browser_session_needs_the_csrf_header(client, world) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "school_editor", "csrf_token": token,
                                "password": world.passwords["school_editor"]})
    session = Tus(client)
    refused = session.create(len(PDF), filename="a.pdf")
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]
    page = client.get("/upload").get_data(as_text=True)   # the login rotated the session
    session.headers["X-CSRFToken"] = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = session.upload(PDF, filename="会话上传.pdf")
    assert session.call("GET", url).get_json()["resource"]["filename"] == "会话上传.pdf"


# -- against the real server ---------------------------------------------------------------------
def _raw_patch(server, token: str, url: str, offset: int, declared: int, sent: bytes) -> None:
    """A PATCH that promises `declared` bytes, sends `sent`, and drops the connection."""
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall((f"PATCH {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Tus-Resumable: 1.0.0\r\nContent-Type: {OCTETS}\r\n"
                      f"Upload-Offset: {offset}\r\nContent-Length: {declared}\r\n\r\n").encode())
        sock.sendall(sent)
        time.sleep(0.2)


def _head(base: str, headers: dict, url: str) -> int:
    response = requests.head(base + url, headers=headers, timeout=10)
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def _wait_for_offset(base: str, headers: dict, url: str, expected: int) -> int:
    deadline = time.monotonic() + 15
    while (offset := _head(base, headers, url)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return offset


def test_a_dropped_patch_resumes_where_it_stopped(live_server, world, services) -> None:
    payload = PDF + os.urandom(6_000_000)
    token = world.tokens["school_editor"]
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    created = requests.post(live_server.url + "/api/v1/uploads/", timeout=10, headers={
        **headers, "Upload-Length": str(len(payload)),
        "Upload-Metadata": metadata(filename="断点续传.pdf")})
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    _raw_patch(live_server, token, url, 0, len(payload), payload[:2_500_000])
    assert _wait_for_offset(live_server.url, headers, url, 2_500_000) == 2_500_000
    # Resume from what the server has, in two requests; the second one is cut off too.
    _raw_patch(live_server, token, url, 2_500_000, len(payload) - 2_500_000, payload[2_500_000:4_000_000])
    offset = _wait_for_offset(live_server.url, headers, url, 4_000_000)
    assert offset == 4_000_000
    done = requests.patch(live_server.url + url, data=payload[offset:], timeout=60, headers={
        **headers, "Upload-Offset": str(offset), "Content-Type": OCTETS})
    assert done.status_code == 204 and done.headers["Upload-State"] == "done", done.text
    resource = requests.get(live_server.url + url, headers=headers, timeout=10).json()["resource"]
    assert resource["size"] == len(payload)   # nothing doubled, nothing missing
    assert resource["sha256"] == hashlib.sha256(payload).hexdigest()
    download = requests.get(live_server.url + resource["download_url"], headers=headers, timeout=30)
    assert hashlib.sha256(download.content).hexdigest() == resource["sha256"]
    assert check_consistency(services, deep=True).ok


@pytest.mark.server_env(REPO_UPLOAD_STALL_SECONDS="2")
def test_a_stalled_patch_lets_go_of_the_upload(live_server, world) -> None:
    """The link dies without a word (no FIN): the request ends after the stall time, so the
    client's next try is not locked out; the upload continues from what was written."""
    token = world.tokens["school_editor"]
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    payload = PDF * 30
    url = requests.post(live_server.url + "/api/v1/uploads/", timeout=10, headers={
        **headers, "Upload-Length": str(len(payload)),
        "Upload-Metadata": metadata(filename="卡住.pdf")}).headers["Location"]
    with socket.create_connection((live_server.host, live_server.port)) as stalled:
        stalled.sendall((f"PATCH {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                         f"Tus-Resumable: 1.0.0\r\nContent-Type: {OCTETS}\r\nUpload-Offset: 0\r\n"
                         f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload[:50_000])
        time.sleep(0.3)
        started = time.monotonic()
        offset = _head(live_server.url, headers, url)
        retry = requests.patch(live_server.url + url, data=payload[offset:], timeout=30, headers={
            **headers, "Upload-Offset": str(offset), "Content-Type": OCTETS})
        assert retry.status_code in (204, 409), retry.text   # 409: the stalled one wrote first
        if retry.status_code == 409:
            offset = int(retry.headers["Upload-Offset"])
            retry = requests.patch(live_server.url + url, data=payload[offset:], timeout=30, headers={
                **headers, "Upload-Offset": str(offset), "Content-Type": OCTETS})
        assert retry.status_code == 204 and retry.headers["Upload-State"] == "done", retry.text
        assert time.monotonic() - started < 10
        stalled.settimeout(5)
        assert stalled.recv(100).startswith(b"HTTP/1.1 400")   # told, should it still listen
    state = requests.get(live_server.url + url, headers=headers, timeout=10).json()
    assert state["resource"]["sha256"] == hashlib.sha256(payload).hexdigest()


def _serve(settings, log: Path) -> tuple[subprocess.Popen, str]:
    process, url, _ = start_server({
        "REPO_DATA_DIR": str(settings.data_dir), "REPO_DATABASE_URL": settings.database_url,
        "REPO_SECRET_KEY": "test-secret", "REPO_WORKERS": "2", "REPO_THREADS": "2", "REPO_LOG_LEVEL": "warning",
        "REPO_EMBEDDED_WORKER": "false", "REPO_BACKGROUND_WORK": "false"}, log)
    return process, url



def test_an_upload_survives_a_server_restart(services, world, tmp_path) -> None:
    """Two gunicorn workers, a restart in the middle: the upload lives on disk, not in a worker."""
    from tusclient import client as tus_client

    payload = PDF + os.urandom(3_000_000)
    headers = {"Authorization": f"Bearer {world.tokens['school_editor']}"}
    process, base = _serve(services.settings, tmp_path / "server.log")
    try:
        uploader = tus_client.TusClient(base + "/api/v1/uploads/", headers=headers).uploader(
            file_stream=__import__("io").BytesIO(payload), chunk_size=512 * 1024, upload_checksum=True,
            metadata={"filename": "重启前后.pdf", "subject": "物理"})
        uploader.upload(stop_at=1_536 * 1024)   # three chunks, spread over both workers
        url = uploader.url
    finally:
        stop_server(process)
    process, base = _serve(services.settings, tmp_path / "server.log")
    try:
        tus_headers = {**headers, "Tus-Resumable": "1.0.0"}
        path = "/" + url.split("/", 3)[3]
        assert _head(base, tus_headers, path) == 1_536 * 1024
        resumed = tus_client.TusClient(base + "/api/v1/uploads/", headers=headers).uploader(
            file_stream=__import__("io").BytesIO(payload), chunk_size=512 * 1024,
            upload_checksum=True, url=base + path)
        resumed.upload()
        state = requests.get(base + path, headers=headers, timeout=10).json()
        assert state["state"] == "done", state
        assert state["resource"]["sha256"] == hashlib.sha256(payload).hexdigest()
        assert state["resource"]["subject"]["name"] == "物理"
    finally:
        stop_server(process)
    assert check_consistency(services).ok
