"""The whole path with the MinIO (S3) blob store behind the app: upload, proxied download
with ranges, presigned redirect, and nothing left behind on refusal."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

import pytest
import requests

from repo_server.app import create_app
from repo_server.services import Services
from repo_server.services.api_tokens import create_token
from repo_server.services.consistency import check_consistency
from tests.support import filename_star, upload_form

PAYLOAD = b"%PDF-1.4\n" + bytes(range(256)) * 2000


@pytest.fixture(params=["proxy", "redirect"])
def s3_app(request, settings, moto_s3, world):
    s3_settings = replace(settings, blobstore="minio", s3_endpoint=moto_s3.endpoint,
                          s3_access_key=moto_s3.access_key, s3_secret_key=moto_s3.secret_key,
                          s3_bucket=f"repo-{uuid.uuid4().hex[:12]}", s3_download=request.param)
    services = Services.open(s3_settings)
    app = create_app(s3_settings, services)
    yield app, services
    services.close()


def test_upload_and_download_through_s3(s3_app) -> None:
    app, services = s3_app
    client = app.test_client()
    token = _token(services)
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/resources", headers=headers, content_type="multipart/form-data",
                          data=upload_form(PAYLOAD, "第2课 课文朗读.pdf"))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert services.blobs.exists(body["sha256"]) and body["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert list(services.settings.staging_dir.iterdir()) == []
    response = client.get(body["download_url"], headers=headers)
    if services.settings.s3_download == "redirect":
        assert response.status_code == 302
        fetched = requests.get(response.headers["Location"], timeout=10)
        assert fetched.content == PAYLOAD
        assert filename_star(fetched.headers["Content-Disposition"]) == "第2课 课文朗读.pdf"
        assert fetched.headers["Content-Disposition"].startswith("attachment")
        shown = client.get(body["download_url"] + "?inline=1", headers=headers)   # the page's viewer
        assert requests.get(shown.headers["Location"], timeout=10).headers[
            "Content-Disposition"].startswith("inline")
    else:
        assert response.status_code == 200 and response.data == PAYLOAD
        ranged = client.get(body["download_url"], headers={**headers, "Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.data == PAYLOAD[100:200]
    assert check_consistency(services).ok


def test_refused_upload_leaves_nothing_in_the_bucket(s3_app) -> None:
    app, services = s3_app
    response = app.test_client().post(
        "/api/v1/resources", headers={"Authorization": f"Bearer {_token(services)}"},
        content_type="multipart/form-data", data=upload_form(PAYLOAD, "a.pdf", subject="数字"))
    assert response.status_code == 422
    assert list(services.blobs.iter_sha256()) == []
    assert list(services.settings.staging_dir.iterdir()) == []


def _token(services: Services) -> str:
    return create_token(services, "school_editor", "s3 test")


def test_active_content_is_never_redirected(s3_app, corpus) -> None:
    app, services = s3_app
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(services)}"}
    body = client.post("/api/v1/resources", headers=headers, content_type="multipart/form-data",
                       data=upload_form(corpus("svgTestOne.svg"), "图.svg")).get_json()
    response = client.get(body["download_url"], headers=headers)
    assert response.status_code == 200  # proxied in both modes
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
