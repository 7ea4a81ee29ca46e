"""Against the real production server (gunicorn gthread workers, sendfile), over sockets:
what the test client cannot show — dropped connections, size limits, streaming."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
import requests

from repo_server.services.consistency import check_consistency


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def multipart_head(boundary: str, filename: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n截断测试\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()


def test_dropped_upload_leaves_nothing(live_server, world, services) -> None:
    """The client promises 20 MB, sends 3 MB, and the link drops."""
    boundary = "----repotest"
    head = multipart_head(boundary, "断线.pdf")
    with socket.create_connection((live_server.host, live_server.port)) as sock:
        sock.sendall((f"POST /api/v1/resources HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {world.tokens['school_editor']}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {len(head) + 20_000_000}\r\n\r\n").encode() + head)
        sock.sendall(b"%PDF-1.4\n" + b"x" * 3_000_000)
        time.sleep(0.3)  # the server is now writing into a staged file
    staging = services.settings.staging_dir
    assert wait_until(lambda: not any(staging.iterdir())), list(staging.iterdir())
    report = check_consistency(services)
    assert report.ok and report.resources == 0 and report.blobs == 0
    # The server is still fine.
    assert requests.get(live_server.url + "/healthz", timeout=5).status_code == 200


@pytest.mark.server_env(REPO_MAX_UPLOAD_BYTES="1000000")
def test_upload_over_the_limit_is_refused_early(live_server, world, services) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['school_editor']}"}
    big = {"file": ("大视频.mp4", b"\x00" * 1_500_000)}
    response = requests.post(live_server.url + "/api/v1/resources", headers=headers, files=big,
                             timeout=30)
    assert response.status_code == 413 and response.json()["error"] == "too_large"

    def chunks():  # no Content-Length: the limit is enforced while streaming
        boundary = "----chunked"
        yield multipart_head(boundary, "大.pdf").replace(b"application/pdf", b"application/pdf")
        for _ in range(30):
            yield b"%PDF" + b"y" * 100_000
        yield f"\r\n--{boundary}--\r\n".encode()

    chunked = requests.post(live_server.url + "/api/v1/resources", data=chunks(), timeout=30,
                            headers={**headers, "Content-Type": "multipart/form-data; boundary=----chunked"})
    assert chunked.status_code == 413, chunked.text
    assert wait_until(lambda: not any(services.settings.staging_dir.iterdir()))
    assert check_consistency(services).blobs == 0


def test_streamed_upload_and_ranged_download(live_server, world, services) -> None:
    payload = b"%PDF-1.4\n" + bytes(range(256)) * 40_000  # ~10 MB
    headers = {"Authorization": f"Bearer {world.tokens['school_editor']}"}
    created = requests.post(live_server.url + "/api/v1/resources", headers=headers, timeout=60,
                            files={"file": ("第5课 视频讲解.pdf", payload)}, data={"title": "流式"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["sha256"] == hashlib.sha256(payload).hexdigest()
    url = live_server.url + body["download_url"]
    full = requests.get(url, timeout=30)
    assert full.status_code == 200 and full.content == payload
    tail = requests.get(url, headers={"Range": f"bytes={len(payload) - 1000}-"}, timeout=30)
    assert tail.status_code == 206 and tail.content == payload[-1000:]
    middle = requests.get(url, headers={"Range": "bytes=5000000-5000099"}, timeout=30)
    assert middle.content == payload[5_000_000:5_000_100]
    assert requests.head(url, timeout=30).headers["Content-Length"] == str(len(payload))
