"""MinioBlobStore specifics, against moto's S3 server (and a real MinIO when configured):
presigned downloads with Chinese filenames, private buckets, multipart, settings."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from repo_server.blobstore.minio_store import MinioBlobStore
from repo_server.blobstore import (BlobStoreError, LocalBlobStore, StagedFile,
                                   blob_key, open_blobstore)
from repo_server.config import Settings
from repo_server.errors import ConfigError

from tests.support import filename_star

from .conftest import MiB, TEST_PART_SIZE, S3Server, free_port

Stage = Callable[[bytes], StagedFile]
DATA = "七年级 数学 第3课 勾股定理 课件".encode() * 50
SHA = hashlib.sha256(DATA).hexdigest()


def object_url(server: S3Server, bucket: str, key: str) -> str:
    return f"{'https' if server.secure else 'http'}://{server.endpoint}/{bucket}/{key}"


def settings_for(server: S3Server, tmp_path: Path, bucket: str) -> Settings:
    return Settings(data_dir=tmp_path, blobstore="minio", s3_endpoint=server.endpoint,
                    s3_access_key=server.access_key, s3_secret_key=server.secret_key,
                    s3_bucket=bucket, s3_secure=server.secure)


def test_presigned_url_downloads_with_filename(s3_store: MinioBlobStore, stage: Stage) -> None:
    s3_store.add(stage(DATA))
    name = "勾股定理 课件（第3课）.pptx"
    mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    url = s3_store.presigned_url(SHA, filename=name, mime=mime, expires_s=60)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["Content-Type"] == mime
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert filename_star(disposition) == name
    assert 'filename="(3).pptx"' in disposition  # ASCII fallback: what survives folding


def test_presigned_signature_covers_overrides(s3_store: MinioBlobStore, stage: Stage,
                                              request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["s3_store"] == "s3-moto":
        pytest.skip("moto does not verify presigned-URL signatures; needs REPO_TEST_MINIO_URL")
    s3_store.add(stage(DATA))
    url = s3_store.presigned_url(SHA, filename="a.pdf", mime="application/pdf", expires_s=60)
    assert requests.get(url, timeout=10).status_code == 200
    tampered = url.replace("attachment", "inline")
    assert tampered != url
    assert requests.get(tampered, timeout=10).status_code == 403


def test_bucket_is_private(s3_store: MinioBlobStore, s3_server: S3Server, stage: Stage) -> None:
    s3_store.add(stage(DATA))
    url = object_url(s3_server, s3_store.bucket, blob_key(SHA))
    assert requests.get(url, timeout=10).status_code == 403
    assert s3_store.is_private() is True
    assert s3_store.ensure_bucket() is False  # exists: left alone, still private
    assert s3_store.is_private() is True


def test_public_policy_is_detected(s3_store: MinioBlobStore, s3_server: S3Server, stage: Stage) -> None:
    """The privacy test above could fail: a public policy really opens the bucket."""
    s3_store.add(stage(DATA))
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{s3_store.bucket}/*"]}]}
    s3_store.client.set_bucket_policy(s3_store.bucket, json.dumps(policy))
    assert s3_store.is_private() is False
    response = requests.get(object_url(s3_server, s3_store.bucket, blob_key(SHA)), timeout=10)
    assert response.status_code == 200 and response.content == DATA


def test_large_upload_is_multipart(s3_store: MinioBlobStore, stage: Stage) -> None:
    data = os.urandom(2 * TEST_PART_SIZE + MiB)
    sha = hashlib.sha256(data).hexdigest()
    assert s3_store.add(stage(data)) is True
    obj = s3_store.client.stat_object(s3_store.bucket, blob_key(sha))
    assert obj.etag.endswith("-3")  # S3 multipart ETags end in -<number of parts>
    assert obj.content_type == "application/octet-stream"


def test_iter_ignores_keys_outside_the_layout(s3_store: MinioBlobStore, stage: Stage) -> None:
    s3_store.add(stage(DATA))
    other = hashlib.sha256(b"misplaced").hexdigest()
    for key in ["README", f"00/00/{other}", f"{blob_key(SHA)}.part", SHA.upper(),
                other, f"x/{blob_key(other)}"]:
        s3_store.client.put_object(s3_store.bucket, key, io.BytesIO(b"x"), 1)
    assert list(s3_store.iter_sha256()) == [SHA]


def test_stream_closes_and_releases(s3_store: MinioBlobStore, stage: Stage) -> None:
    s3_store.add(stage(DATA))
    for _ in range(15):  # abandoned half-read streams must not exhaust the pool
        stream = s3_store.open(SHA)
        assert stream.read(10) == DATA[:10]
        stream.close()
    assert stream.closed
    with pytest.raises(ValueError):
        stream.read()
    assert s3_store.open(SHA, 1, 4).read() == DATA[1:5]
    assert s3_store.local_path(SHA) is None


def test_open_blobstore_minio(s3_server: S3Server, tmp_path: Path, stage: Stage) -> None:
    bucket = f"{s3_server.bucket_prefix}-{uuid.uuid4().hex[:16]}"
    store = open_blobstore(settings_for(s3_server, tmp_path, bucket))
    try:
        assert isinstance(store, MinioBlobStore)
        assert store.client.bucket_exists(bucket)
        assert store.is_private()
        assert store.add(stage(DATA)) is True
        assert store.stat(SHA).size == len(DATA)
        store.delete(SHA)
    finally:
        s3_server.client().remove_bucket(bucket)


def test_open_blobstore_local(tmp_path: Path) -> None:
    store = open_blobstore(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"


def test_unreachable_endpoint_names_endpoint_and_bucket(tmp_path: Path) -> None:
    server = S3Server(f"127.0.0.1:{free_port()}", "k", "s", False, "t")
    with pytest.raises(BlobStoreError) as info:
        open_blobstore(settings_for(server, tmp_path, "district-files"))
    assert server.endpoint in info.value.message
    assert "district-files" in info.value.message


@pytest.mark.parametrize(("field", "value"), [("s3_bucket", "UPPER_case"),
                                              ("s3_endpoint", "http://127.0.0.1:9000/path")])
def test_bad_settings_are_config_errors(tmp_path: Path, field: str, value: str) -> None:
    settings = Settings(**{"data_dir": tmp_path, "blobstore": "minio", "s3_access_key": "k",
                           "s3_secret_key": "s", field: value})
    with pytest.raises(ConfigError):
        MinioBlobStore.from_settings(settings)
